"""ERB-rate band layout shared by the network (:mod:`.model`) and the post-filter (:mod:`.postfilter`), numpy only.

Bands are equally spaced on the ERB-rate scale (Glasberg & Moore 1990: ERB-rate(f) = 21.4 log10(1 + 0.00437 f)),
each at least two bins wide; ``F`` averages the bins of a band, ``E`` interpolates band gains linearly between
band centres.
"""
from __future__ import annotations

import numpy as np

SR = 16000


def erb_edges(n_bins: int, n_bands: int, sr: int = SR, min_width: int = 2) -> np.ndarray:
    """Bin indices of ``n_bands + 1`` band edges, equally spaced on the ERB-rate scale."""
    f_max = sr / 2
    erb = lambda f: 21.4 * np.log10(1 + 0.00437 * f)
    inv = lambda e: (10 ** (e / 21.4) - 1) / 0.00437
    freqs = inv(np.linspace(0, erb(f_max), n_bands + 1))
    edges = np.round(freqs / f_max * (n_bins - 1)).astype(int)
    edges[-1] = n_bins
    for i in range(1, n_bands + 1):       # at least min_width bins per band, pushed upwards
        edges[i] = max(edges[i], edges[i - 1] + min_width)
    if edges[-1] > n_bins:                # ... and pulled back from the top if that overshoots
        edges[-1] = n_bins
        for i in range(n_bands - 1, 0, -1):
            edges[i] = min(edges[i], edges[i + 1] - 1)
    return edges


def erb_matrices(n_bins: int, n_bands: int) -> tuple[np.ndarray, np.ndarray]:
    """(F, E): band-averaging (bands x bins) and linear gain interpolation (bins x bands)."""
    edges = erb_edges(n_bins, n_bands)
    fwd = np.zeros((n_bands, n_bins), np.float32)
    for b in range(n_bands):
        fwd[b, edges[b]:edges[b + 1]] = 1.0 / (edges[b + 1] - edges[b])
    centres = 0.5 * (edges[:-1] + edges[1:] - 1)
    exp = np.zeros((n_bins, n_bands), np.float32)
    for k in range(n_bins):
        j = int(np.searchsorted(centres, k))
        if j == 0:
            exp[k, 0] = 1
        elif j == n_bands:
            exp[k, -1] = 1
        else:
            w = (k - centres[j - 1]) / (centres[j] - centres[j - 1])
            exp[k, j - 1], exp[k, j] = 1 - w, w
    return fwd, exp
