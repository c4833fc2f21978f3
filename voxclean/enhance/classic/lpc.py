"""Linear prediction (all-pole modelling) for many frames at once.

The autocorrelation method: for a frame ``s[0..N-1]`` with autocorrelation ``r[m] = sum_n s[n] s[n+m]``
the order-``p`` predictor ``A(z) = 1 + sum_{k=1}^p a_k z^{-k}`` minimises the prediction error energy
``sum_n (sum_{k=0}^p a_k s[n-k])^2`` and solves the Toeplitz normal equations

    sum_{k=1}^p a_k r[|i - k|] = -r[i],     i = 1..p                                  (Yule-Walker)

which the Levinson-Durbin recursion solves in O(p^2) (Makhoul, "Linear prediction: a tutorial
review", Proc. IEEE 63(4), 1975, eqs. 38-40):

    E_0 = r[0]
    k_i = -(r[i] + sum_{j=1}^{i-1} a_j^{(i-1)} r[i-j]) / E_{i-1}                   reflection coeff.
    a_i^{(i)} = k_i ;  a_j^{(i)} = a_j^{(i-1)} + k_i a_{i-j}^{(i-1)}  (1 <= j < i)
    E_i = (1 - k_i^2) E_{i-1}

Sign convention: seed 002 writes the model as ``1 - sum a_k e^{-jk w}``; here ``A`` carries the
``+`` sign (``a_k^{here} = -a_k^{seed}``), the form scipy and most codecs use.

Every function works on a batch of frames (leading axes) so per-frame loops stay out of Python.
"""
from __future__ import annotations

import numpy as np
import scipy.linalg


def autocorr_from_power(power: np.ndarray, order: int) -> np.ndarray:
    """Autocorrelation lags ``0..order`` from one-sided power spectra ``|X_k|^2`` (Wiener-Khinchin).

    power: (..., n_fft//2 + 1) -> (..., order + 1). This is the *circular* autocorrelation of the
    length-``n_fft`` frame; for tapered (windowed) frames and ``order << n_fft`` it equals the linear
    one up to the negligible products of the two window tails.
    """
    return np.fft.irfft(power, axis=-1)[..., : order + 1]


SMALL_BATCH = 4


def _levinson_rows(r: np.ndarray, order: int, lag0_boost: float) -> tuple[np.ndarray, np.ndarray]:
    flat = r.reshape(-1, r.shape[-1])
    a = np.zeros((len(flat), order + 1))
    a[:, 0] = 1.0
    err = np.zeros(len(flat))
    for i, row in enumerate(flat):
        r0 = row[0] * (1.0 + lag0_boost)
        if r0 <= 0:
            continue
        col = np.concatenate([[r0], row[1:order]])
        a[i, 1:] = scipy.linalg.solve_toeplitz(col, -row[1:order + 1])
        err[i] = max(r0 + row[1:order + 1] @ a[i, 1:], 0.0)
    return a.reshape(r.shape[:-1] + (order + 1,)), err.reshape(r.shape[:-1])


def levinson(r: np.ndarray, order: int, lag0_boost: float = 1e-9) -> tuple[np.ndarray, np.ndarray]:
    """Levinson-Durbin recursion on a batch of autocorrelation sequences.

    r: (..., >= order + 1) -> ``a`` (..., order + 1) with ``a[..., 0] = 1`` and the final prediction
    error energy ``E_p`` (...,). ``lag0_boost`` multiplies ``r[0]`` by ``1 + lag0_boost`` (a tiny
    white-noise correction) so that silent or perfectly predictable frames stay well conditioned;
    all-zero frames return ``A = 1``, ``E = 0``.

    Batches of at most ``SMALL_BATCH`` frames (streaming: one or two frames per call) go row by row
    through scipy's compiled Levinson solver (:func:`scipy.linalg.solve_toeplitz`), ~6x faster there
    than the vectorised recursion below; both solve the same normal equations, so the two paths agree
    to rounding (~1e-12 relative).
    """
    r = np.asarray(r, dtype=np.float64)
    shape = r.shape[:-1]
    if 0 < int(np.prod(shape)) <= SMALL_BATCH:
        return _levinson_rows(r, order, lag0_boost)
    a = np.zeros(shape + (order + 1,))
    a[..., 0] = 1.0
    err = r[..., 0] * (1.0 + lag0_boost)
    safe = np.where(err > 0, err, 1.0)
    for i in range(1, order + 1):
        acc = r[..., i] + np.einsum("...j,...j->...", a[..., 1:i], r[..., i - 1:0:-1])
        k = np.where(err > 0, -acc / safe, 0.0)
        a[..., 1:i] = a[..., 1:i] + k[..., None] * a[..., i - 1:0:-1]
        a[..., i] = k
        err = err * (1.0 - k * k)
        safe = np.where(err > 0, err, 1.0)
    return a, np.maximum(err, 0.0)


def inverse_power_response(a: np.ndarray, n_fft: int) -> np.ndarray:
    """``1 / |A(e^{j w_k})|^2`` on the rfft grid ``w_k = 2 pi k / n_fft``: (..., p+1) -> (..., n_fft//2+1)."""
    spec = np.fft.rfft(a, n=n_fft, axis=-1)
    return 1.0 / np.maximum(spec.real ** 2 + spec.imag ** 2, 1e-12)


def full_circle_mean(half: np.ndarray, n_fft: int) -> np.ndarray:
    """Mean over all ``n_fft`` DFT bins of a real-signal spectrum given by its rfft half (..., n_fft//2+1),
    i.e. ``(1/2pi) * integral_{-pi}^{pi}`` on the DFT grid (DC and Nyquist counted once, others twice)."""
    w = np.full(half.shape[-1], 2.0)
    w[0] = 1.0
    if n_fft % 2 == 0:
        w[-1] = 1.0
    return half @ w / n_fft
