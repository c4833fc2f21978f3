"""Additive noise at a target signal-to-noise ratio.

Mixing rule: ``y = x + g n`` with

    g = sqrt( P_x / (P_n * 10^(SNR/10)) ),    P_s = mean_{t in T} s[t]^2

where ``n`` is a segment of a recorded noise file (resampled to ``sr`` with soxr, looped when shorter than
``x``, starting at a random offset) and ``T`` is either every sample (SNR over the whole utterance) or the
speech-active samples only (``active_only=True``): the 20 ms frames whose energy is within
``threshold_db`` of the loudest frame of ``x`` -- a plain energy detector, the same frames for ``P_x`` and
``P_n`` so that the SNR measured over them is exactly the target. (Active-speech levels in the spirit of
ITU-T P.56, without its hangover and margin.) The SNR is relative to the signal entering this step, so
after reverberation it is the SNR of the reverberant speech, as in the DNS Challenge synthesiser.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from voxclean.audio.io import AUDIO_SUFFIXES, find_audio, load
from voxclean.degrade.base import DEGRADATIONS
from voxclean.degrade.op import Op, as_float32
from voxclean.degrade.params import Choice, rand


def list_audio(path: str | list[str] | tuple, what: str) -> list[str]:
    """Absolute paths of the audio files in ``path`` (a file, a folder, or a list of them). A ``.txt`` file
    is a list of audio files, one per line (relative to the list's folder; blank lines and ``#`` comments
    skipped), e.g. the speech selected by ``scripts/score_speech_dnsmos.py``. Raises a clear error for a
    missing path, a listed file that is missing, or a folder without audio."""
    paths = [path] if isinstance(path, (str, Path)) else list(path)
    if not paths or any(str(p) == "" for p in paths):
        raise ValueError(f"{what}: no file or folder given (set path=...)")
    return list(_list_audio_cached(tuple(str(p) for p in paths), what))


@functools.lru_cache(maxsize=64)
def _list_audio_cached(paths: tuple[str, ...], what: str) -> tuple[str, ...]:
    out: list[str] = []
    for p in map(Path, paths):
        if not p.exists():
            raise FileNotFoundError(f"{what}: {p}: no such file or folder")
        is_list = p.suffix.lower() == ".txt"
        found = _read_list(p, what) if is_list else find_audio(p.resolve())
        if not found:
            raise ValueError(f"{what}: {p}: {'list' if is_list else 'folder'} holds no audio files "
                             f"(looked for {', '.join(sorted(AUDIO_SUFFIXES))})")
        out.extend(str(f) for f in found)
    return tuple(dict.fromkeys(out))


def _read_list(p: Path, what: str) -> list[Path]:
    out = []
    for n, line in enumerate(p.read_text().splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        f = (p.parent / line).resolve()
        if not f.is_file():
            raise FileNotFoundError(f"{what}: {p}, line {n}: {f}: no such file")
        out.append(f)
    return out


@functools.lru_cache(maxsize=32)
def load_mono(path: str, sr: int) -> np.ndarray:
    """A file as read-only mono float32 at ``sr`` (downmixed, soxr-resampled); cached."""
    x, _ = load(path, sr=sr, channels="downmix")
    x = np.ascontiguousarray(x, dtype=np.float32)
    x.flags.writeable = False
    return x


def activity_mask(x: np.ndarray, sr: int, threshold_db: float = 40.0, frame_ms: float = 20.0) -> np.ndarray:
    """Boolean per sample: inside a ``frame_ms`` frame whose energy is within ``threshold_db`` dB of the
    loudest frame. ``x``: (samples,) or (channels, samples) -- channels are pooled."""
    e = np.asarray(x, dtype=np.float64) ** 2
    if e.ndim > 1:
        e = e.mean(axis=0)
    hop = max(int(round(frame_ms * sr / 1000)), 1)
    n_frames = -(-len(e) // hop)
    frame_e = np.add.reduceat(e, np.arange(0, n_frames * hop, hop)[:n_frames]) / hop
    peak = frame_e.max()
    active = frame_e >= peak * 10 ** (-threshold_db / 10) if peak > 0 else np.ones(n_frames, bool)
    return np.repeat(active, hop)[: len(e)]


def loop_segment(n: np.ndarray, offset: int, length: int) -> np.ndarray:
    """``length`` samples of ``n`` starting at ``offset``, wrapping around to loop a short recording."""
    return n[(offset + np.arange(length)) % len(n)]


def snr_gain(x: np.ndarray, n: np.ndarray, snr_db: float, mask: np.ndarray | None = None) -> float:
    """``g`` such that ``10 log10(P_x / P_{g n}) == snr_db`` over the samples in ``mask`` (all if None)."""
    xs, ns = np.asarray(x, np.float64), np.asarray(n, np.float64)
    if mask is not None:
        xs, ns = xs[..., mask], ns[..., mask]
    p_x, p_n = float(np.mean(xs ** 2)), float(np.mean(ns ** 2))
    if p_x <= 0:
        raise ValueError("noise: the speech signal is silent, so its SNR is undefined")
    if p_n <= 0:
        raise ValueError("noise: the noise segment is silent, so no gain reaches the SNR")
    return float(np.sqrt(p_x / (p_n * 10 ** (snr_db / 10))))


@DEGRADATIONS.register("noise", "add recorded noise (file/folder, random looped segment) at a target SNR")
@dataclass
class Noise(Op):
    """``path``: noise file, folder or list; ``snr`` dB (value or range); ``active_only``: SNR over
    speech-active frames. Resolved: ``file`` and ``offset`` (in samples at the speech rate)."""
    name = "noise"
    path: Any = ""
    snr: Any = rand(10.0)
    active_only: bool = False
    threshold_db: float = 40.0
    file: str | None = None
    offset: int | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        if isinstance(self.path, Choice):
            self.path = list(self.path.options)
        if isinstance(self.path, tuple):
            self.path = list(self.path)

    def resolve(self, x: np.ndarray, sr: int, rng: np.random.Generator) -> "Noise":
        op = self._sample_fields(rng)
        file = op.file
        if file is None:
            files = list_audio(op.path, "noise")
            file = files[int(rng.integers(len(files)))]
        offset = op.offset
        if offset is None:
            n_len, length = len(load_mono(file, sr)), x.shape[-1]
            offset = int(rng.integers(0, n_len - length + 1)) if n_len >= length else int(rng.integers(0, n_len))
        op.file, op.offset = file, offset
        return op

    def noise_segment(self, length: int, sr: int) -> np.ndarray:
        return loop_segment(load_mono(self.file, sr), self.offset, length)

    def render(self, x: np.ndarray, sr: int) -> tuple[np.ndarray, dict]:
        seg = self.noise_segment(x.shape[-1], sr)
        mask = activity_mask(x, sr, self.threshold_db) if self.active_only else None
        try:
            g = snr_gain(x, seg, float(self.snr), mask)
        except ValueError as exc:
            raise ValueError(f"{exc} (noise file {self.file}, offset {self.offset})") from None
        y = np.asarray(x, np.float64) + g * seg.astype(np.float64)
        info = {"gain": g, "looped": bool(len(load_mono(self.file, sr)) < x.shape[-1])}
        if mask is not None:
            info["active_fraction"] = float(mask.mean())
        return as_float32(y), info
