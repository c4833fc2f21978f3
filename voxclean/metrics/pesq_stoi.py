"""PESQ (ITU-T P.862 / P.862.2) and STOI / ESTOI, through the reference implementations.

PESQ
----
``pesq`` (pip) wraps the ITU-T P.862 reference C code. It returns MOS-LQO: narrow band through the
P.862.1 mapping of the raw P.862 score, wide band through the P.862.2 mapping::

    P.862.1:  MOS-LQO = 0.999 + 4 / (1 + exp(-1.4945 * raw + 4.6607))
    P.862.2:  MOS-LQO = 0.999 + 4 / (1 + exp(-1.3669 * raw + 3.8224))

:func:`mos_lqo_to_raw` inverts them (the composite measures and the P.862 conformance lists use raw
scores). ``scripts/validate_pesq.py`` checks this path against the ITU-T conformance vectors
(results in ``docs/pesq_validation.md``).

Sample-rate policy (P.862 runs at 8 or 16 kHz only):

* ``pesq_wb`` (P.862.2) always runs at 16 kHz; other rates are resampled (an 8 kHz pair is
  upsampled, so both sides lack the upper band).
* ``pesq_nb`` (P.862 + P.862.1) runs at 16 kHz when the signal has at least 16 kHz, else at 8 kHz.
  P.862 is specified at both rates (the ITU ``voipref_16k`` list is narrow-band P.862 at 16 kHz) and
  that is how the common tools compute it (``pesq(16000, ref, deg, 'nb')``); down-sampling a 16 kHz
  pair to 8 kHz first changes the score by a few hundredths (0.058 on ``conformance/pesq_pair``).
  ``PesqNB(rate=8000)`` forces 8 kHz.

A pair P.862 cannot score (no utterance found in a silent or near-silent signal, a buffer shorter
than P.862 needs) gives NaN and a warning, never an exception.

STOI / ESTOI
------------
``pystoi`` (Taal et al. 2011, "An algorithm for intelligibility prediction of time-frequency weighted
noisy speech", IEEE TASLP 19(7); Jensen & Taal 2016, "An algorithm for predicting the
intelligibility of speech masked by modulated noise maskers", IEEE TASLP 24(11)). It resamples to
10 kHz itself and drops frames more than 40 dB below the loudest reference frame.
"""
from __future__ import annotations

import hashlib
import math
from collections import OrderedDict

import numpy as np

from voxclean.audio.resample import resample
from voxclean.metrics.base import METRICS, is_silent, nan_with_warning, warn_nan

# (offset, scale, slope, intercept) of MOS-LQO = offset + scale / (1 + exp(-slope * raw + intercept))
MAPPINGS = {"p862.1": (0.999, 4.0, 1.4945, 4.6607), "p862.2": (0.999, 4.0, 1.3669, 3.8224)}


def raw_to_mos_lqo(raw: float, mapping: str = "p862.1") -> float:
    """Map a raw P.862 score to MOS-LQO (P.862.1 narrow band, P.862.2 wide band)."""
    a, b, s, c = MAPPINGS[mapping]
    return a + b / (1.0 + math.exp(-s * raw + c))


def mos_lqo_to_raw(mos: float, mapping: str = "p862.1") -> float:
    """Inverse of :func:`raw_to_mos_lqo`: ``raw = (c - ln(b / (mos - a) - 1)) / s``; NaN outside
    the mapping's open range (a, a + b)."""
    a, b, s, c = MAPPINGS[mapping]
    if not (a < mos < a + b):
        return float("nan")
    return (c - math.log(b / (mos - a) - 1.0)) / s


def nb_rate(sr: int) -> int:
    """Rate at which narrow-band P.862 runs for a signal at ``sr`` (see the module docstring)."""
    return 16000 if sr >= 16000 else 8000


_CACHE: OrderedDict[tuple, float] = OrderedDict()  # recent PESQ results: composite reuses pesq_nb's


def _digest(x: np.ndarray) -> bytes:
    return hashlib.blake2b(np.ascontiguousarray(x, dtype=np.float32).tobytes(), digest_size=16).digest()


def pesq_mos(ref: np.ndarray, est: np.ndarray, sr: int, mode: str, rate: int | None = None) -> float:
    """P.862 MOS-LQO of ``est`` against ``ref`` (mono, equal length, at ``sr``).

    ``mode`` is ``"wb"`` (P.862.2, at 16 kHz) or ``"nb"`` (P.862 + P.862.1, at ``rate`` or
    :func:`nb_rate`). Returns NaN with a warning when P.862 cannot score the pair."""
    from pesq import BufferTooShortError, NoUtterancesError, pesq

    fs = 16000 if mode == "wb" else (rate or nb_rate(sr))
    if fs not in (8000, 16000):
        raise ValueError(f"PESQ runs at 8000 or 16000 Hz, not {fs}")
    if is_silent(ref) or is_silent(est):
        which = "reference" if is_silent(ref) else "estimate"
        return warn_nan(f"PESQ ({mode}) undefined: the {which} is silent; NaN")
    r = resample(ref, sr, fs).astype(np.float64)
    e = resample(est, sr, fs).astype(np.float64)
    key = (_digest(r), _digest(e), fs, mode)
    if key in _CACHE:
        _CACHE.move_to_end(key)
        return _CACHE[key]
    try:
        value = float(pesq(fs, r, e, mode))
    except (NoUtterancesError, BufferTooShortError) as exc:
        return warn_nan(f"PESQ ({mode}) could not score the pair ({type(exc).__name__}: {exc}); NaN")
    _CACHE[key] = value
    while len(_CACHE) > 16:
        _CACHE.popitem(last=False)
    return value


@METRICS.register("pesq_wb", "wide-band PESQ, ITU-T P.862.2 MOS-LQO at 16 kHz (1.04-4.64)")
class PesqWB:
    name = "pesq_wb"
    intrusive = True
    higher_is_better = True
    outputs = ("pesq_wb",)

    def score(self, ref, est, sr):
        return {"pesq_wb": pesq_mos(ref, est, sr, "wb")}


@METRICS.register("pesq_nb", "narrow-band PESQ, ITU-T P.862 + P.862.1 MOS-LQO at 16 kHz (8 kHz below that)")
class PesqNB:
    name = "pesq_nb"
    intrusive = True
    higher_is_better = True
    outputs = ("pesq_nb",)

    def __init__(self, rate: int | None = None):
        self.rate = rate

    def score(self, ref, est, sr):
        return {"pesq_nb": pesq_mos(ref, est, sr, "nb", self.rate)}


def _stoi(ref, est, sr, extended: bool, name: str) -> dict[str, float]:
    """pystoi, with its failure modes made NaN + warning: a signal too short to frame (it raises) or
    fewer than 30 non-silent 25.6 ms frames (it warns and returns 1e-5)."""
    import warnings

    from pystoi import stoi

    if is_silent(ref):
        return nan_with_warning((name,), f"{name} undefined: the reference is silent; NaN")
    failed = None
    with warnings.catch_warnings(record=True) as caught, np.errstate(invalid="ignore", divide="ignore"):
        warnings.simplefilter("always")
        try:
            v = float(stoi(ref.astype(np.float64), est.astype(np.float64), sr, extended=extended))
        except (ValueError, IndexError) as exc:        # numpy AxisError is both
            failed = exc
    if failed is not None:
        return nan_with_warning((name,), f"{name} undefined: signal too short ({failed}); NaN")
    if any("Not enough STFT frames" in str(w.message) for w in caught):
        return nan_with_warning((name,), f"{name} undefined: under 30 non-silent frames (384 ms); NaN")
    return {name: v}


@METRICS.register("stoi", "short-time objective intelligibility (Taal et al. 2011), 0-1")
class STOI:
    name = "stoi"
    intrusive = True
    higher_is_better = True
    outputs = ("stoi",)

    def score(self, ref, est, sr):
        return _stoi(ref, est, sr, False, "stoi")


@METRICS.register("estoi", "extended STOI (Jensen & Taal 2016), robust to modulated noise, 0-1")
class ESTOI:
    name = "estoi"
    intrusive = True
    higher_is_better = True
    outputs = ("estoi",)

    def score(self, ref, est, sr):
        return _stoi(ref, est, sr, True, "estoi")
