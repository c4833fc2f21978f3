"""Delay between two signals by cross-correlation, used to measure and check the peers' delays.

For a reference ``x`` and a processed ``y ≈ g · x[n - D]``, the delay is the lag that maximises the
cross-correlation (Knapp & Carter 1976, "The generalized correlation method for estimation of time
delay", with unit weighting)::

    r[l] = sum_n y[n + l] x[n],        D = argmax_{|l| <= L} r[l]

computed with FFTs of size >= len(x) + len(y) so there is no circular wrap-around.
A positive ``D`` means ``y`` lags ``x``.
"""
from __future__ import annotations

import numpy as np


def xcorr(x: np.ndarray, y: np.ndarray, max_lag: int) -> tuple[np.ndarray, np.ndarray]:
    """Cross-correlation ``r[l] = sum_n y[n + l] x[n]`` for ``l`` in ``[-max_lag, max_lag]``.

    Returns ``(lags, r)``; both mono float arrays of any lengths."""
    x = np.asarray(x, dtype=np.float64).reshape(-1)
    y = np.asarray(y, dtype=np.float64).reshape(-1)
    n = 1 << int(np.ceil(np.log2(len(x) + len(y) + 1)))
    r = np.fft.irfft(np.fft.rfft(y, n) * np.conj(np.fft.rfft(x, n)), n)
    max_lag = int(min(max_lag, n // 2 - 1))
    lags = np.arange(-max_lag, max_lag + 1)
    return lags, r[lags % n]


def estimate_delay(x: np.ndarray, y: np.ndarray, max_lag: int) -> int:
    """Lag (samples) at which ``y`` best matches ``x``; positive when ``y`` is late."""
    lags, r = xcorr(x, y, max_lag)
    return int(lags[int(np.argmax(r))])
