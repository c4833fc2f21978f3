"""Spectral subtraction: Berouti's over-subtraction (``specsub``) and Kamath & Loizou's multi-band
variant (``specsub-multiband``). Both are causal and stream through :class:`StftStream`.

Notation per STFT frame ``l`` and bin ``k``: noisy DFT ``Y``, noise PSD ``lambda`` (expected noise
periodogram) from the MMSE/SPP tracker of :mod:`voxclean.enhance.classic.noise_psd` (``noise="mmse"``)
or from the seed-002 VAD (``noise="vad"``, :class:`voxclean.enhance.classic.vad.VadNoisePsd`).

``specsub`` -- M. Berouti, R. Schwartz, J. Makhoul, "Enhancement of speech corrupted by acoustic
noise", ICASSP 1979, with the exponent ``gamma`` = 1 (magnitude) or 2 (power):

    Ybar^gamma = a Ybar^gamma(l-1) + (1 - a) |Y|^gamma          musical-noise remedy: causal magnitude
                                                                 averaging (Boll 1979, §IV), a = exp(-T/tau_avg)
    D          = lambda^(gamma/2)                                 noise spectrum in the same exponent
    SNR_l      = 10 log10( sum_k |Y|^2 / sum_k lambda )           segmental SNR of the frame
    alpha      = alpha_0 - s * SNR_l  for -5 <= SNR_l <= 20 dB  (alpha_0, s) = (4, 3/20) power, (3, 2/20) magnitude;
                 4.75 (power) or 4 (magnitude) below -5 dB, 1 above 20 dB       Berouti's over-subtraction rule
    S^gamma    = Ybar^gamma - alpha D    if that exceeds beta D,   else  beta D        (spectral floor beta)
    G          = min(1, (S^gamma / Ybar^gamma)^(1/gamma)) ,   output  G Y   (noisy phase)

``specsub-multiband`` -- S. Kamath, P. Loizou, "A multi-band spectral subtraction method for
enhancing speech corrupted by colored noise", ICASSP 2002. The spectrum is split into ``n_bands``
linearly spaced bands ``i``; in each,

    |Ybar|     = sum_{j=0}^{M} W_j |Y(l-j)| / sum W_j,  W = (0.32, 0.25, 0.09)        pre-averaging (the
                 paper's 5-frame window [0.09 0.25 0.32 0.25 0.09] made causal: current and past frames)
    SNR_i      = 10 log10( sum_{k in i} |Ybar|^2 / sum_{k in i} lambda )
    alpha_i    = 4.75 (SNR_i < -5),  4 - 3/20 SNR_i (-5..20 dB),  1 (SNR_i > 20)      band over-subtraction
    delta_i    = 1 (f_i <= 1 kHz),  2.5 (1 kHz < f_i <= fs/2 - 2 kHz),  1.5 (above)  band weights, f_i the
                                                                                       band's upper edge
    |S|^2      = |Ybar|^2 - alpha_i delta_i lambda   if > 0,  else  beta |Ybar|^2      (beta = 0.002)
    |S|^2     += eta |Ybar|^2                                 a little noisy spectrum added back to mask
                                                               remaining musical noise (eta = 0.05)
    G          = min(1, |S| / |Ybar|),   output  G Y

Defaults were chosen on training mixtures (LibriSpeech train-clean-100 + UrbanSound8K/Hu100 noise at
8 kHz) with ``scripts/tune_iterative_wiener.py``; nothing was tuned on NOIZEUS.
"""
from __future__ import annotations

import numpy as np

from voxclean.enhance.base import ENHANCERS, SpectralEnhancer
from voxclean.enhance.classic.noise_psd import MmseNoiseTracker
from voxclean.enhance.classic.vad import VadNoisePsd


class NoiseEstimate:
    """Per-frame noise PSD for a block of frames, from the MMSE/SPP tracker or the seed VAD."""

    def __init__(self, kind: str, sr: int, n_fft: int, hop: int, tau_noise: float = 0.5):
        if kind not in ("mmse", "vad"):
            raise ValueError(f"noise must be 'mmse' or 'vad', not {kind!r}")
        self.kind = kind
        if kind == "mmse":
            self.tracker = MmseNoiseTracker(n_fft // 2 + 1, hop / sr)
        else:
            self.tracker = VadNoisePsd(sr, n_fft, hop, tau_noise)

    def update(self, spec: np.ndarray, power: np.ndarray) -> np.ndarray:
        if self.kind == "vad":
            return self.tracker.update(spec, power)
        # copy: the tracker updates its estimate in place during its first frames
        return np.array([self.tracker.update(p).copy() for p in power]).reshape(power.shape)


def berouti_alpha(snr_db: np.ndarray, exponent: float) -> np.ndarray:
    """Berouti's over-subtraction factor for a segmental SNR (dB), as in Loizou's reference code
    (Speech Enhancement: Theory and Practice, 2nd ed., ch. 5): power subtraction ``4 - 3/20 SNR`` on
    -5..20 dB, 4.75 below, 1 above; magnitude subtraction ``3 - 2/20 SNR`` on -5..20 dB, 4 below, 1 above."""
    snr_db = np.asarray(snr_db, dtype=np.float64)
    if exponent >= 1.5:
        a0, slope, low = 4.0, 3.0 / 20.0, 4.75
    else:
        a0, slope, low = 3.0, 2.0 / 20.0, 4.0
    return np.where(snr_db < -5.0, low, np.where(snr_db > 20.0, 1.0, a0 - slope * snr_db))


class SpecSubProcessor:
    def __init__(self, sr: int, n_fft: int, hop: int, exponent: float, alpha: float | None, beta: float,
                 tau_avg: float, noise: str):
        self.exponent, self.alpha, self.beta = exponent, alpha, beta
        self.avg = float(np.exp(-(hop / sr) / tau_avg)) if tau_avg > 0 else 0.0
        self.noise = NoiseEstimate(noise, sr, n_fft, hop)
        self.prev: np.ndarray | None = None

    def process(self, spec: np.ndarray) -> np.ndarray:
        if len(spec) == 0:
            return spec
        power = spec.real ** 2 + spec.imag ** 2
        noise = self.noise.update(spec, power)
        g = self.exponent
        mag_g = power if g == 2 else power ** (g / 2)
        smooth = np.empty_like(mag_g)
        prev = mag_g[0] if self.prev is None else self.prev
        for i in range(len(mag_g)):               # causal magnitude averaging (musical-noise remedy)
            prev = self.avg * prev + (1.0 - self.avg) * mag_g[i]
            smooth[i] = prev
        self.prev = prev
        d = noise if g == 2 else noise ** (g / 2)
        if self.alpha is None:
            snr = 10 * np.log10(power.sum(axis=1) / noise.sum(axis=1) + 1e-12)
            alpha = berouti_alpha(snr, g)[:, None]
        else:
            alpha = self.alpha
        est = np.maximum(smooth - alpha * d, self.beta * d)
        gain = np.minimum(1.0, (est / np.maximum(smooth, 1e-30)) ** (1.0 / g))
        return gain * spec


@ENHANCERS.register("specsub", "Spectral subtraction, Berouti over-subtraction + floor, magnitude or power (causal, any rate)")
class SpecSub(SpectralEnhancer):
    """Berouti spectral subtraction.

    ``exponent``: 1 magnitude or 2 power subtraction; ``alpha``: fixed over-subtraction factor, or
    None for Berouti's SNR-dependent rule; ``beta``: spectral floor (None: 0.02 for power, 0.1 for
    magnitude subtraction); ``tau_avg``: time constant (s)
    of the causal magnitude averaging against musical noise (0 disables); ``noise``: "mmse" or "vad".
    """

    name = "specsub"

    def __init__(self, exponent: float = 2.0, alpha: float | None = None, beta: float | None = None,
                 tau_avg: float = 0.02, noise: str = "mmse", frame_ms: float = 64.0, overlap: int = 4):
        if exponent not in (1, 2, 1.0, 2.0):
            raise ValueError(f"exponent must be 1 (magnitude) or 2 (power), not {exponent!r}")
        if noise not in ("mmse", "vad"):
            raise ValueError(f"noise must be 'mmse' or 'vad', not {noise!r}")
        self.exponent, self.alpha = float(exponent), alpha
        self.beta = beta if beta is not None else (0.02 if self.exponent == 2 else 0.1)
        self.tau_avg, self.noise = tau_avg, noise
        self.frame_ms, self.overlap = frame_ms, overlap

    def make_processor(self, sr: int, n_fft: int, hop: int) -> SpecSubProcessor:
        return SpecSubProcessor(sr, n_fft, hop, self.exponent, self.alpha, self.beta, self.tau_avg, self.noise)


def band_edges(sr: int, n_fft: int, n_bands: int, spacing: str = "linear") -> list[tuple[int, int]]:
    """Bin ranges ``[lo, hi)`` of ``n_bands`` bands spanning 0..fs/2, linearly or log spaced."""
    n_bins = n_fft // 2 + 1
    if spacing == "linear":
        edges = np.linspace(0, n_bins, n_bands + 1)
    elif spacing == "log":
        edges = np.concatenate([[0], np.geomspace(max(1.0, 100 * n_fft / sr), n_bins, n_bands)])
    else:
        raise ValueError(f"spacing must be 'linear' or 'log', not {spacing!r}")
    edges = np.unique(np.round(edges).astype(int))
    return [(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:])]


def band_weight(f_hi: float, sr: int) -> float:
    """Kamath & Loizou's delta_i for a band whose upper edge is ``f_hi`` Hz."""
    if f_hi <= 1000.0:
        return 1.0
    if f_hi <= sr / 2 - 2000.0:
        return 2.5
    return 1.5


class MultibandProcessor:
    WEIGHTS = np.array([0.32, 0.25, 0.09])

    def __init__(self, sr: int, n_fft: int, hop: int, n_bands: int, spacing: str, beta: float, eta: float,
                 noise: str):
        self.bands = band_edges(sr, n_fft, n_bands, spacing)
        self.band_of = np.concatenate([np.full(b - a, i) for i, (a, b) in enumerate(self.bands)])
        self.onehot = (self.band_of[:, None] == np.arange(len(self.bands))[None]).astype(np.float64)
        self.delta = np.array([band_weight(b * sr / n_fft, sr) for _, b in self.bands])
        self.beta, self.eta = beta, eta
        self.noise = NoiseEstimate(noise, sr, n_fft, hop)
        self.history = np.zeros((len(self.WEIGHTS) - 1, n_fft // 2 + 1))
        self.seen = 0

    def process(self, spec: np.ndarray) -> np.ndarray:
        if len(spec) == 0:
            return spec
        power = spec.real ** 2 + spec.imag ** 2
        noise = self.noise.update(spec, power)
        mag = np.sqrt(power)
        m = len(self.WEIGHTS)
        ext = np.concatenate([self.history, mag])            # past frames first
        w = self.WEIGHTS
        # frame i uses ext rows i+m-1 (current), i+m-2, ..., i; missing history at the start is renormalised
        avg = sum(w[j] * ext[m - 1 - j: m - 1 - j + len(mag)] for j in range(m))
        avail = np.minimum(self.seen + np.arange(len(mag)), m - 1)   # past frames that exist
        norm = np.cumsum(w)[avail]
        ybar2 = (avg / norm[:, None]) ** 2
        self.history = ext[-(m - 1):]
        self.seen += len(mag)
        sig, nz = ybar2 @ self.onehot, noise @ self.onehot
        snr = 10 * np.log10(sig / np.maximum(nz, 1e-30) + 1e-12)
        alpha = 4.0 - 0.15 * np.clip(snr, -5.0, 20.0)
        alpha = np.where(snr < -5.0, 4.75, alpha)
        factor = (alpha * self.delta)[:, self.band_of]
        est = ybar2 - factor * noise
        est = np.where(est > 0, est, self.beta * ybar2) + self.eta * ybar2
        gain = np.minimum(1.0, np.sqrt(est / np.maximum(ybar2, 1e-30)))
        return gain * spec


@ENHANCERS.register("specsub-multiband", "Multi-band spectral subtraction (Kamath & Loizou 2002), per-band over-subtraction (causal, any rate)")
class SpecSubMultiband(SpectralEnhancer):
    """Kamath & Loizou multi-band spectral subtraction.

    ``n_bands`` bands (``spacing`` "linear" as in the paper, or "log"); ``beta``: spectral floor;
    ``eta``: share of the noisy spectrum added back; ``noise``: "mmse" or "vad".
    """

    name = "specsub-multiband"

    def __init__(self, n_bands: int = 4, spacing: str = "linear", beta: float = 0.002, eta: float = 0.05,
                 noise: str = "mmse", frame_ms: float = 64.0, overlap: int = 4):
        if n_bands < 1:
            raise ValueError(f"n_bands must be >= 1, got {n_bands}")
        if noise not in ("mmse", "vad"):
            raise ValueError(f"noise must be 'mmse' or 'vad', not {noise!r}")
        self.n_bands, self.spacing, self.beta, self.eta, self.noise = n_bands, spacing, beta, eta, noise
        self.frame_ms, self.overlap = frame_ms, overlap

    def make_processor(self, sr: int, n_fft: int, hop: int) -> MultibandProcessor:
        return MultibandProcessor(sr, n_fft, hop, self.n_bands, self.spacing, self.beta, self.eta, self.noise)
