"""Perceptual envelope post-filter on the network's effective band gains (``neural:post_filter=BETA``).

PercepNet's post-filter (Valin et al. 2020, "A perceptually-motivated approach for low-complexity, real-time
enhancement of fullband speech", section 4.3), in the form DeepFilterNet2/3 applies to its ERB gains
(Schröter et al. 2022, ``Mask.post_filter``): a band gain ``g`` in [0, 1] is warped to

    g_sin = g sin(pi g / 2)
    g_pf  = (1 + beta) g / (1 + beta (g / g_sin)^2) = (1 + beta) g / (1 + beta / sin^2(pi g / 2))

which leaves ``g = 1`` unchanged and pushes small gains further down (g = 0.5 -> 0.49, 0.2 -> 0.17, 0.1 -> 0.06
with beta = 0.02): bands the network judged noise-dominated are suppressed harder, also inside speech,
while the speech-dominated ones keep their level.

Our network also has a deep filter (complex taps on the low bins), so its gain is not a single number per band.
The post-filter therefore works on the *effective* band gain of each frame, measured from the input ``X`` and
the network's output ``Y`` over the same 32 ERB bands (:mod:`.erb`)::

    g_t[b] = min(1, sqrt( sum_k F[b,k] |Y_t[k]|^2 / sum_k F[b,k] |X_t[k]|^2 ))
    Y'_t[k] = Y_t[k] * sum_b E[k,b] (g_pf_t[b] / g_t[b])

It is memoryless (frame by frame), so it adds no latency and the stream still equals the offline output;
it runs on the torch and ONNX backends alike, outside the network.
"""
from __future__ import annotations

import functools

import numpy as np

from voxclean.enhance.neural.erb import erb_matrices

_EPS = 1e-12


def warp_gain(g: np.ndarray, beta: float) -> np.ndarray:
    """PercepNet/DeepFilterNet gain warping ``(1 + beta) g / (1 + beta / sin^2(pi g / 2))`` for g in [0, 1]."""
    g = np.clip(g, 0.0, 1.0)
    s2 = np.sin(0.5 * np.pi * g) ** 2
    return (1.0 + beta) * g / (1.0 + beta / np.maximum(s2, _EPS))


@functools.lru_cache(maxsize=4)
def _bands(n_bins: int, n_bands: int) -> tuple[np.ndarray, np.ndarray]:
    fwd, exp = erb_matrices(n_bins, n_bands)
    return fwd.T.astype(np.float64), exp.T.astype(np.float64)     # (bins, bands), (bands, bins)


def post_filter(x: np.ndarray, y: np.ndarray, beta: float, n_bands: int = 32) -> np.ndarray:
    """Input frames ``x`` and enhanced frames ``y`` (T, K) complex -> post-filtered ``y`` (module docstring)."""
    if beta < 0:
        raise ValueError(f"post_filter beta must be >= 0, got {beta}")
    if beta == 0:
        return y
    fwd, exp = _bands(x.shape[-1], n_bands)
    ex = (np.abs(x) ** 2) @ fwd
    ey = (np.abs(y) ** 2) @ fwd
    g = np.minimum(np.sqrt(ey / np.maximum(ex, _EPS)), 1.0)
    ratio = np.where(g > _EPS, warp_gain(g, beta) / np.maximum(g, _EPS), 0.0)
    return y * (ratio @ exp)
