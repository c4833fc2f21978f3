"""Reverberation: convolution with a measured room impulse response, or one simulated for a shoebox room.

``y = (h * x)[t + p]`` for ``t = 0 .. len(x)-1``: the RIR ``h`` is convolved with the speech and the
result is read from the RIR's main peak ``p`` on, so the direct sound stays time-aligned with the dry
input (no propagation delay) and the tail beyond ``len(x)`` is cut.

* Measured RIRs (``path``: file, folder or list) are resampled to ``sr`` with soxr; ``channel`` picks one
  channel of a multichannel response.
* Simulated rooms (``path`` unset) use the image-source method of pyroomacoustics (Allen and Berkley,
  1979) in a shoebox whose wall absorption comes from Sabine's formula for the drawn RT60
  (``pra.inverse_sabine``); RT60, room length/width (``size``), height and source-microphone
  ``distance`` are drawn from ranges. The reflection order is capped at ``max_order`` to keep it fast
  (60 reaches about -60 dB for RT60 <= 0.8 s in rooms of a few metres).

Normalisation (``normalize``): ``"energy"`` (default) scales the RIR to unit energy ``sum h^2 = 1``, so
the reverberant speech keeps roughly the dry loudness whatever the room; ``"direct"`` gives the direct
path -- the window of ``direct_ms`` (2.5 ms) either side of the peak -- unit energy instead, so the
direct-path speech keeps the dry level and the reverberant speech grows with the reverberant energy
(by ``-DRR`` dB: +18 dB for a hall with DRR -18 dB, which then clips unless the level is lowered).
``direct_path_target=True`` makes the clean target ``(h_d * x)`` with ``h_d`` that window of the same
scaled RIR (the convention of the DNS Challenge and of most dereverberation work); otherwise the target
stays dry. ``info`` records the direct-to-reverberant ratio ``DRR = 10 log10(E_direct / E_rest)``.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.signal import fftconvolve

from voxclean.audio.io import load
from voxclean.degrade.base import DEGRADATIONS
from voxclean.degrade.noise import list_audio
from voxclean.degrade.op import Op, as_float32
from voxclean.degrade.params import Choice, rand

WALL_MARGIN = 0.5  # metres between a source/microphone and any wall


@functools.lru_cache(maxsize=32)
def _load_rir(path: str, sr: int, channel: int) -> np.ndarray:
    h, _ = load(path, sr=sr, channels=channel)
    h = np.ascontiguousarray(h, dtype=np.float64)
    h.flags.writeable = False
    return h


def simulate_rir(room: list[float], source: list[float], mic: list[float], rt60: float, sr: int,
                 max_order: int = 60) -> np.ndarray:
    """Image-source RIR of a shoebox ``room`` (L, W, H metres) whose absorption gives ``rt60`` by Sabine."""
    import pyroomacoustics as pra

    try:
        e_abs, order = pra.inverse_sabine(rt60, room)
    except ValueError as exc:
        raise ValueError(f"reverb: RT60 {rt60:.3f} s is not reachable in a {room} m room ({exc})") from None
    shoebox = pra.ShoeBox(room, fs=sr, materials=pra.Material(e_abs), max_order=min(order, max_order))
    shoebox.add_source(source)
    shoebox.add_microphone(mic)
    shoebox.compute_rir()
    return np.asarray(shoebox.rir[0][0], dtype=np.float64)


def min_rt60(room: list[float]) -> float:
    """Shortest RT60 Sabine allows in ``room`` (all walls fully absorbing): 0.161 V / S."""
    l, w, h = room
    return 0.161 * l * w * h / (2 * (l * w + l * h + w * h))


def direct_window(h: np.ndarray, sr: int, direct_ms: float) -> tuple[int, int, int]:
    """(peak, start, stop) of the direct-path window ``peak +- direct_ms``."""
    peak = int(np.argmax(np.abs(h)))
    w = int(round(direct_ms * sr / 1000))
    return peak, max(peak - w, 0), min(peak + w + 1, len(h))


def convolve_aligned(x: np.ndarray, h: np.ndarray, lag: int) -> np.ndarray:
    """``(h * x)[t + lag]`` for t in 0..len(x)-1 (x: (samples,) or (channels, samples))."""
    hh = h if x.ndim == 1 else h[None, :]
    full = fftconvolve(np.asarray(x, np.float64), hh, axes=-1)
    return full[..., lag: lag + x.shape[-1]]


@DEGRADATIONS.register("reverb", "convolve with a measured RIR, or a pyroomacoustics shoebox room (RT60/size/distance)")
@dataclass
class Reverb(Op):
    """``path``: RIR file/folder (else simulate); ``rt60``, ``size`` (length and width), ``height``,
    ``distance``: ranges for simulated rooms; ``direct_path_target``: target = direct-path speech.
    Resolved: ``file``, or ``rt60``, ``room``, ``source`` and ``mic``."""
    name = "reverb"
    path: Any = None
    rt60: Any = rand((0.2, 0.8))
    size: Any = rand((3.0, 10.0))
    height: Any = rand((2.5, 3.5))
    distance: Any = rand((0.5, 3.0))
    direct_path_target: bool = True
    direct_ms: float = 2.5
    channel: int = 0
    max_order: int = 60
    normalize: str = "energy"
    file: str | None = None
    room: list[float] | None = None
    source: list[float] | None = None
    mic: list[float] | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        if isinstance(self.path, Choice):
            self.path = list(self.path.options)

    @property
    def simulated(self) -> bool:
        return self.file is None and not self.path

    def resolve(self, x: np.ndarray, sr: int, rng: np.random.Generator) -> "Reverb":
        if not self.simulated:
            op = self._sample_fields(rng, skip=("rt60", "size", "height", "distance"))
            op.rt60 = op.size = op.height = op.distance = None  # room parameters do not apply to a measured RIR
            if op.file is None:
                files = list_audio(op.path, "reverb")
                op.file = files[int(rng.integers(len(files)))]
            return op
        if self.room is not None:
            return self._sample_fields(rng)  # geometry already fixed
        op = self._sample_fields(rng, skip=("size",))
        room = [op.size.sample(rng) if hasattr(op.size, "sample") else float(op.size) for _ in range(2)]
        room.append(float(op.height))
        op.size = float(max(room[0], room[1]))
        op.room = room
        op.rt60 = max(float(op.rt60), 1.05 * min_rt60(room))
        op.mic, op.source, op.distance = _place(room, float(op.distance), rng)
        return op

    def rir(self, sr: int) -> np.ndarray:
        if self.file is not None:
            return _load_rir(self.file, sr, self.channel)
        return simulate_rir(self.room, self.source, self.mic, float(self.rt60), sr, self.max_order)

    def _parts(self, sr: int) -> tuple[np.ndarray, int, int, int]:
        if self.normalize not in ("energy", "direct"):
            raise ValueError(f"reverb: normalize must be 'energy' or 'direct', got {self.normalize!r}")
        h = self.rir(sr)
        peak, a, b = direct_window(h, sr, self.direct_ms)
        e = float(np.sum(h[a:b] ** 2)) if self.normalize == "direct" else float(np.sum(h ** 2))
        if e <= 0:
            raise ValueError(f"reverb: impulse response {self.file or 'simulated'} is silent")
        return h / np.sqrt(e), peak, a, b

    def render(self, x: np.ndarray, sr: int) -> tuple[np.ndarray, dict]:
        h, peak, a, b = self._parts(sr)
        y = convolve_aligned(x, h, peak)
        e_direct = float(np.sum(h[a:b] ** 2))
        drr = 10 * np.log10(e_direct / max(float(np.sum(h ** 2)) - e_direct, 1e-12))
        return as_float32(y), {"rir_samples": int(len(h)), "rir_peak": peak, "drr_db": float(drr)}

    def target(self, t: np.ndarray, sr: int) -> np.ndarray:
        if not self.direct_path_target:
            return t
        h, peak, a, b = self._parts(sr)
        return as_float32(convolve_aligned(t, h[a:b], peak - a))


def _place(room: list[float], distance: float, rng: np.random.Generator
           ) -> tuple[list[float], list[float], float]:
    """Microphone uniformly in the room (WALL_MARGIN from walls, 1-2 m high) and a source ``distance``
    away at the same height in a random horizontal direction; the distance shrinks if it cannot fit."""
    l, w, h = room
    mic = [float(rng.uniform(WALL_MARGIN, l - WALL_MARGIN)), float(rng.uniform(WALL_MARGIN, w - WALL_MARGIN)),
           float(rng.uniform(1.0, min(2.0, h - WALL_MARGIN)))]
    d = distance
    for _ in range(200):
        theta = float(rng.uniform(0, 2 * np.pi))
        sx, sy = mic[0] + d * np.cos(theta), mic[1] + d * np.sin(theta)
        if WALL_MARGIN <= sx <= l - WALL_MARGIN and WALL_MARGIN <= sy <= w - WALL_MARGIN:
            return mic, [float(sx), float(sy), mic[2]], float(d)
        d *= 0.98
    return mic, [mic[0], mic[1] + 0.1, mic[2]], 0.1
