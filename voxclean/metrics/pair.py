"""Scoring one reference/estimate pair: lengths, delay and sample rates reconciled, metrics by name.

Length policy: the estimate is trimmed or zero-padded at its end to the reference's length.

Delay policy: off by default (the pair is taken as aligned, which enhancement outputs of the same
length are). With ``align=True`` the integer lag that maximises the magnitude of the cross-correlation
within +/- ``max_lag_s`` (default 0.25 s) is removed before scoring::

    r[l] = sum_n est[n + l] ref[n],     D = argmax_{|l| <= L} |r[l]|

(computed with FFTs, no circular wrap; ``|r|`` so a polarity-inverted output still aligns). A
positive ``D`` means the estimate is late: its first ``D`` samples are dropped; a negative one pads
its start with zeros. PESQ and STOI do not need this (P.862 aligns internally, but only within its
own search range); SI-SDR, segSNR, LSD, MCD and the composite's frame measures are ruined by even a
few samples of delay, so align whenever the system under test may add latency.

Sample rates: both signals at ``sr``; each metric resamples internally to the rate it is defined at
(16 kHz for wide-band PESQ, 16 or 8 kHz for narrow-band PESQ and the composite, 16 kHz for DNSMOS,
10 kHz inside STOI); SI-SDR, segSNR, LSD and MCD use ``sr`` itself.
"""
from __future__ import annotations

import numpy as np
from scipy.signal import correlate, correlation_lags

from voxclean.metrics.base import METRICS

DEFAULT_METRICS = ["pesq_wb", "pesq_nb", "stoi", "estoi", "si_sdr", "segsnr", "lsd", "mcd", "composite"]

_instances: dict[str, object] = {}


def get_metric(name: str):
    """A shared instance of the registered metric ``name`` (DNSMOS loads its models once)."""
    if name not in _instances:
        _instances[name] = METRICS.get(name)
    return _instances[name]


def outputs_of(names: list[str]) -> list[str]:
    """The value names that ``score_pair(..., metrics=names)`` returns, in order."""
    return [k for n in names for k in METRICS.get(n).outputs]


def _mono(x: np.ndarray, what: str) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    if x.ndim == 2 and 1 in x.shape:
        x = x.reshape(-1)
    if x.ndim != 1:
        raise ValueError(f"{what}: expected a mono signal (samples,), got shape {x.shape}; "
                         "downmix or pick a channel first")
    if x.size == 0:
        raise ValueError(f"{what}: empty signal")
    if not np.isfinite(x).all():
        raise ValueError(f"{what}: contains NaN or infinite samples")
    return x


def fit_length(x: np.ndarray, n: int) -> np.ndarray:
    """Trim or zero-pad ``x`` at its end to ``n`` samples."""
    return x[:n] if len(x) >= n else np.pad(x, (0, n - len(x)))


def estimate_lag(ref: np.ndarray, est: np.ndarray, max_lag: int) -> int:
    """Lag (samples) of ``est`` behind ``ref`` within ``+/- max_lag``; positive when ``est`` is late."""
    r = correlate(np.asarray(est, np.float64), np.asarray(ref, np.float64), mode="full", method="fft")
    lags = correlation_lags(len(est), len(ref), mode="full")
    sel = np.abs(lags) <= max_lag
    return int(lags[sel][np.argmax(np.abs(r[sel]))])


def align_delay(ref: np.ndarray, est: np.ndarray, sr: int, max_lag_s: float = 0.25) -> tuple[np.ndarray, int]:
    """``(est shifted onto ref and fitted to its length, lag in samples)``; see the module docstring."""
    lag = estimate_lag(ref, est, int(round(max_lag_s * sr)))
    shifted = est[lag:] if lag >= 0 else np.concatenate([np.zeros(-lag, dtype=est.dtype), est])
    return fit_length(shifted, len(ref)), lag


def score_pair(ref: np.ndarray, est: np.ndarray, sr: int, metrics: list[str] | None = None,
               align: bool = False, max_lag_s: float = 0.25) -> dict[str, float]:
    """Score ``est`` against ``ref`` (mono float at ``sr``) with the named metrics.

    Returns ``{value name: float}``, e.g. ``{"pesq_wb": 3.1, "csig": 3.6, ...}``. A value a metric
    cannot compute on this pair (PESQ finding no utterance in a silent estimate, for instance) is NaN
    with a warning. Unknown metric names raise ``KeyError`` listing the available ones."""
    ref = _mono(ref, "reference")
    est = _mono(est, "estimate")
    names = list(DEFAULT_METRICS if metrics is None else metrics)
    objs = [get_metric(n) for n in names]          # fail on a bad name before computing anything
    if align:
        est, _ = align_delay(ref, est, sr, max_lag_s)
    else:
        est = fit_length(est, len(ref))
    out: dict[str, float] = {}
    for m in objs:
        out.update(m.score(ref if m.intrusive else None, est, sr))
    return out

