"""Noise-robustness sweeps (seed 003 Sec. 4, Figure 1): which damage, at which levels, applied how.

Four kinds of damage, each at five or more levels, plus the undamaged ``clean`` condition:

* ``ambient``     -- real recorded noise (default: ``shared/data/noise/dev``), a random looped segment of a
  random file, added at SNR 20 ... -5 dB (``voxclean.degrade`` ``noise`` op, SNR over the whole utterance).
* ``white``       -- white Gaussian noise ``n ~ N(0, 1)`` scaled to the SNR: ``y = x + g n`` with
  ``g = sqrt(P_x / (P_n 10^(SNR/10)))`` (``voxclean.degrade.noise.snr_gain``).
* ``reverb``      -- a simulated shoebox room (pyroomacoustics image sources, Sabine absorption) at
  RT60 0.2 ... 1.0 s (``reverb`` op); the room, source and microphone are drawn once per utterance, so
  only the wall absorption changes along the sweep.
* ``reverb_real`` -- measured impulse responses (default: ``shared/data/rir/real``), ordered by their
  direct-to-reverberant ratio ``DRR = 10 log10(E_direct / E_tail)`` (direct path: +-2.5 ms around the
  peak), from dry to wet; the level is that DRR in dB.

The RIR is aligned on its main peak and scaled to unit energy (the ``reverb`` op's defaults); the clean
reference of every metric is the dry utterance. A mixture whose peak would exceed 0.999 (loud speech at
low SNR) is scaled down to that peak, and the record says by how much (``scaled_by``) so that the
reference can be scaled alike: the damage stays pure noise or reverberation, never clipping. Randomness: each (utterance, kind) gets its own seed
``sha256(seed, utterance id, kind)``, so the same noise segment (or room) is used at every level of a
sweep and curves change only through the level; the same seed gives bit-identical inputs.
"""
from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

KINDS = ("ambient", "white", "reverb", "reverb_real")
TITLES = {"clean": "clean", "ambient": "ambient noise (recorded)", "white": "white noise",
          "reverb": "reverberation (simulated rooms)", "reverb_real": "reverberation (measured IRs)"}
AXES = {"ambient": "SNR (dB)", "white": "SNR (dB)", "reverb": "RT60 (s)", "reverb_real": "DRR (dB)"}

SNR_QUICK = (20.0, 10.0, 5.0, 0.0, -5.0)
SNR_FULL = (30.0, 20.0, 15.0, 10.0, 5.0, 0.0, -5.0)
RT60_QUICK = (0.2, 0.4, 0.6, 0.8, 1.0)
RT60_FULL = (0.2, 0.3, 0.45, 0.6, 0.8, 1.0)
MEASURED_QUICK = 5
PEAK_LIMIT = 0.999  # a mixture that would clip is scaled down to this peak (recorded in the record)


@dataclass(frozen=True)
class Condition:
    """One point of a sweep: ``kind`` ("clean" or one of :data:`KINDS`), its ``level`` (SNR in dB,
    RT60 in s, or DRR in dB) and ``source`` (noise folder, or the measured RIR file)."""
    kind: str
    level: float | None = None
    source: str | None = None

    @property
    def label(self) -> str:
        if self.kind == "clean":
            return "clean"
        if self.kind == "reverb_real":
            return f"{Path(self.source).stem} ({self.level:+.0f} dB)"
        unit = " dB" if self.kind in ("ambient", "white") else " s"
        return f"{self.level:g}{unit}"

    @property
    def key(self) -> str:
        """Stable text used in cache keys and table rows."""
        src = Path(self.source).name if self.source else ""
        return f"{self.kind}:{'' if self.level is None else repr(float(self.level))}:{src}"

    def to_dict(self) -> dict:
        return {"kind": self.kind, "level": self.level, "source": self.source, "label": self.label}


def drr_db(h: np.ndarray, sr: int, direct_ms: float = 2.5) -> float:
    """Direct-to-reverberant ratio of an impulse response (module docstring)."""
    from voxclean.degrade.reverb import direct_window
    h = np.asarray(h, dtype=np.float64)
    _, a, b = direct_window(h, sr, direct_ms)
    e_direct = float(np.sum(h[a:b] ** 2))
    e_tail = float(np.sum(h ** 2)) - e_direct
    return float(10 * np.log10(max(e_direct, 1e-20) / max(e_tail, 1e-20)))


@functools.lru_cache(maxsize=8)
def measured_rirs(rir_dir: str, sr: int = 16000) -> tuple[tuple[str, float], ...]:
    """``(file, DRR dB)`` of every impulse response under ``rir_dir``, driest (highest DRR) first."""
    from voxclean.audio.io import find_audio, load
    out = []
    for f in find_audio(rir_dir):
        h, _ = load(f, sr=sr, channels=0)
        out.append((str(f), round(drr_db(h, sr), 2)))
    if not out:
        raise ValueError(f"{rir_dir}: no impulse responses (audio files) found")
    return tuple(sorted(out, key=lambda t: (-t[1], t[0])))


def spread(items: list, n: int) -> list:
    """``n`` items evenly spread over ``items`` (first and last included), order kept."""
    if n >= len(items):
        return list(items)
    idx = np.unique(np.round(np.linspace(0, len(items) - 1, n)).astype(int))
    return [items[i] for i in idx]


def sweep(quick: bool = False, noise_dir: str | Path | None = None, rir_dir: str | Path | None = None,
          kinds: tuple[str, ...] = KINDS, sr: int = 16000, max_levels: int | None = None) -> list[Condition]:
    """The conditions of a study: ``clean`` then each kind from mild to severe. A kind whose data
    folder is ``None`` is left out (ambient needs ``noise_dir``, reverb_real needs ``rir_dir``);
    ``max_levels`` keeps that many levels of each kind, evenly spread, mildest and severest included."""
    bad = [k for k in kinds if k not in KINDS]
    if bad:
        raise ValueError(f"unknown noise kind(s) {bad}; known: {', '.join(KINDS)}")
    def cap(items: list) -> list:
        return spread(items, max_levels) if max_levels is not None else items

    snrs = cap(list(SNR_QUICK if quick else SNR_FULL))
    conds = [Condition("clean")]
    if "ambient" in kinds and noise_dir is not None:
        conds += [Condition("ambient", s, str(noise_dir)) for s in snrs]
    if "white" in kinds:
        conds += [Condition("white", s) for s in snrs]
    if "reverb" in kinds:
        conds += [Condition("reverb", t) for t in cap(list(RT60_QUICK if quick else RT60_FULL))]
    if "reverb_real" in kinds and rir_dir is not None:
        rirs = list(measured_rirs(str(rir_dir), sr))
        conds += [Condition("reverb_real", d, f) for f, d in cap(spread(rirs, MEASURED_QUICK) if quick else rirs)]
    return conds


def condition_seed(seed: int, utt_id: str, kind: str) -> int:
    """Seed of one utterance's sweep of one kind: the same at every level (module docstring)."""
    h = hashlib.sha256(f"{int(seed)}|{utt_id}|{kind}".encode()).digest()
    return int.from_bytes(h[:4], "little")


def degrade(cond: Condition, x: np.ndarray, sr: int, seed: int) -> tuple[np.ndarray, dict]:
    """Apply ``cond`` to mono ``x``; ``seed`` from :func:`condition_seed`. Returns ``(y, record)``
    where ``record`` holds every resolved parameter (noise file and offset, room geometry, ...)."""
    x = np.asarray(x, dtype=np.float32)
    if cond.kind == "clean":
        return x.copy(), {"kind": "clean"}
    if cond.kind == "white":
        from voxclean.degrade.noise import snr_gain
        n = np.random.default_rng([seed, 0xC0FFEE]).standard_normal(len(x))
        y = x.astype(np.float64) + snr_gain(x, n, float(cond.level)) * n
        record = {"kind": "white", "snr": float(cond.level), "seed": seed}
    else:
        from voxclean.degrade import Chain
        if cond.kind == "ambient":
            step = {"name": "noise", "path": cond.source, "snr": float(cond.level)}
        elif cond.kind == "reverb":
            step = {"name": "reverb", "rt60": float(cond.level), "size": [4.0, 8.0], "height": 3.0,
                    "distance": [1.0, 2.5], "direct_path_target": False}
        elif cond.kind == "reverb_real":
            step = {"name": "reverb", "path": cond.source, "direct_path_target": False}
        else:
            raise ValueError(f"unknown condition kind {cond.kind!r}; known: clean, {', '.join(KINDS)}")
        y, record = Chain([step], seed=seed).apply(x, sr)
        record = {"kind": cond.kind, **record}
    y = np.asarray(y, dtype=np.float64)
    peak = float(np.max(np.abs(y))) if y.size else 0.0
    if peak > PEAK_LIMIT:
        y *= PEAK_LIMIT / peak
        record["scaled_by"] = PEAK_LIMIT / peak
    return y.astype(np.float32), record
