"""Delay removal for black-box systems (codecs, external commands): lag estimation and a calibration signal.

A codec adds a delay (encoder look-ahead, MDCT overlap, priming samples the container does not
cancel, resampler group delay). For a system ``y = f(x)`` we estimate the integer lag

    lag* = argmax_{|lag| <= L} sum_t x[t] y[t + lag]                                    (1)

(cross-correlation, computed by FFT) and return ``y[t + lag*]``, trimmed or zero-padded to ``len(x)``.

Two policies use (1):

* **fixed** -- the lag is measured once per (system, sample rate) on :func:`calibration_signal`, a
  deterministic speech-like signal, and then applied to every input. A fixed lag keeps the system
  time-invariant, which the linearity probe needs (``f(x)``, ``f(y)`` and ``f(x + y)`` must share
  one alignment, else the additivity error would measure the aligner, not the codec).
* **xcorr** -- (1) on each input signal, the way a listener would line the output up.
"""
from __future__ import annotations

import functools

import numpy as np
from scipy.signal import correlate, correlation_lags, lfilter

MAX_DELAY_MS = 100.0


def fit_length(y: np.ndarray, n: int) -> np.ndarray:
    """Trim or zero-pad the last axis to ``n`` samples."""
    if y.shape[-1] >= n:
        return y[..., :n]
    pad = [(0, 0)] * (y.ndim - 1) + [(0, n - y.shape[-1])]
    return np.pad(y, pad)


def estimate_lag(x: np.ndarray, y: np.ndarray, max_lag: int) -> int:
    """Lag (samples) in ``[-max_lag, max_lag]`` maximising ``sum_t x[t] y[t + lag]`` (eq. 1);
    positive when ``y`` is late. 0 when either signal is all zero."""
    if not np.any(x) or not np.any(y):
        return 0
    c = correlate(y.astype(np.float64), x.astype(np.float64), mode="full", method="fft")
    lags = correlation_lags(len(y), len(x), mode="full")
    keep = np.abs(lags) <= max_lag
    return int(lags[keep][np.argmax(c[keep])])


def shift(y: np.ndarray, lag: int, n: int) -> np.ndarray:
    """``y[t + lag]`` for ``t = 0..n-1`` (zeros outside ``y``): undoes a delay of ``lag`` samples."""
    if lag >= 0:
        return fit_length(y[lag:], n)
    return fit_length(np.concatenate([np.zeros(-lag, y.dtype), y]), n)


def max_lag(sr: int, max_delay_ms: float = MAX_DELAY_MS) -> int:
    return int(round(max_delay_ms * sr / 1000.0))


def _resonator(f: float, bw: float, sr: int) -> tuple[np.ndarray, np.ndarray]:
    """Two-pole resonance at ``f`` Hz with bandwidth ``bw`` Hz: ``1 / (1 - 2r cos(w) z^-1 + r^2 z^-2)``."""
    r = np.exp(-np.pi * bw / sr)
    return np.array([1.0 - r]), np.array([1.0, -2.0 * r * np.cos(2 * np.pi * f / sr), r * r])


@functools.lru_cache(maxsize=16)
def calibration_signal(sr: int, seconds: float = 2.0, seed: int = 0) -> np.ndarray:
    """A deterministic speech-like test signal, peak 0.5 (-6 dBFS), shape ``(samples,)`` float32.

    Eight 250 ms syllables: a glottal pulse train (f0 gliding 95..190 Hz) through three formant
    resonators (vowels /a/, /i/, /u/, /e/ in turn), under a raised-cosine syllable envelope, with a
    band-passed noise burst (a fricative, 2.5..5 kHz or up to 0.45 sr) between syllables. Speech codecs
    (CELP, vocoders) code it as speech, so its cross-correlation (eq. 1) finds their delay.
    Read-only: the cached array is shared.
    """
    rng = np.random.default_rng(seed)
    n = int(round(seconds * sr))
    t = np.arange(n) / sr
    f0 = 140.0 + 45.0 * np.sin(2 * np.pi * 0.6 * t) + 5.0 * rng.standard_normal(n).cumsum() / np.sqrt(sr)
    phase = np.cumsum(f0 / sr)
    pulses = np.diff(np.floor(phase), prepend=0.0)            # one unit impulse per glottal period
    glottal = lfilter([1.0], [1.0, -0.9], pulses)              # spectral tilt of the glottal source
    vowels = [(730, 1090, 2440), (270, 2290, 3010), (300, 870, 2240), (530, 1840, 2480)]
    syl = int(0.25 * sr)
    voiced = np.zeros(n)
    for i, start in enumerate(range(0, n, syl)):
        seg = glottal[start:start + syl]
        for f in vowels[i % len(vowels)]:
            b, a = _resonator(min(f, 0.45 * sr), 80.0 + 0.05 * f, sr)
            seg = lfilter(b, a, seg)
        voiced[start:start + syl] = seg
    env = np.sin(np.pi * ((t % 0.25) / 0.25)) ** 2
    hi = min(5000.0, 0.45 * sr)
    noise = rng.standard_normal(n)
    for f in (0.5 * hi + 1250.0 if hi > 2500 else 0.3 * hi, 0.9 * hi):
        b, a = _resonator(f, 600.0, sr)
        noise = lfilter(b, a, noise)
    gaps = np.cos(np.pi * ((t % 0.25) / 0.25)) ** 8
    x = voiced / (np.max(np.abs(voiced)) + 1e-12) * env + 0.3 * noise / (np.max(np.abs(noise)) + 1e-12) * gaps
    x = (0.5 * x / np.max(np.abs(x))).astype(np.float32)
    x.setflags(write=False)
    return x
