"""Frame-level measures of Loizou's ``composite.m``: segmental SNR, LLR and WSS.

Re-implemented (vectorised over frames) from ``composite.m`` of Hu & Loizou, whose ``wss``, ``llr``
and ``snr`` functions are by B. Pellom and J. H. L. Hansen; the definitions are in Hansen & Pellom
1998, "An effective quality evaluation protocol for speech enhancement algorithms", ICSLP, and
Quackenbush, Barnwell & Clements 1988, *Objective Measures of Speech Quality*.

Framing (all three): ``W = round(0.030 * sr)`` samples, hop ``H = floor(W / 4)``,
``floor((L - W) / H)`` frames, window ``w[n] = 0.5 (1 - cos(2 pi n / (W + 1)))``, n = 1..W.

* segSNR, per frame: ``10 log10(sum s^2 / (sum (s - y)^2 + eps) + eps)`` clamped to [-10, 35] dB.
* LLR, per frame: ``ln((a_y R_s a_y^T) / (a_s R_s a_s^T))`` with ``a`` the LPC polynomials
  ``[1, -a_1 .. -a_P]`` (Levinson-Durbin, P = 10 below 10 kHz, else 16) and ``R_s`` the Toeplitz
  autocorrelation matrix of the clean frame.
* WSS (Klatt 1982), per frame: 25 Gaussian critical-band filters (50 Hz - 3.6 kHz) on the
  ``2^nextpow2(2W)``-point power spectrum, band energies in dB, slopes ``dB[i+1] - dB[i]``, weights
  ``W_i = K/(K + dBmax - dB_i) * Kl/(Kl + dBlocmax_i - dB_i)`` (K = 20, Kl = 1) averaged between the
  two signals, ``sum W (slope_s - slope_y)^2 / sum W``. The nearest-peak search keeps
  ``composite.m``'s indexing (the peak to the right is taken one band early) so the numbers match it.
"""
from __future__ import annotations

import numpy as np

EPS = np.finfo(np.float64).eps


class TooShortError(ValueError):
    """The signal does not hold one 30 ms frame plus a hop."""


def frames(x: np.ndarray, sr: int) -> np.ndarray:
    """Hann-windowed 30 ms frames with 75 % overlap, ``(n_frames, W)`` float64."""
    w = int(round(0.030 * sr))
    hop = w // 4
    n = max(int(np.floor((len(x) - w) / hop)), 0)
    if n == 0:
        raise TooShortError(f"signal of {len(x)} samples is shorter than one 30 ms frame plus a hop at {sr} Hz")
    idx = np.arange(w)[None, :] + hop * np.arange(n)[:, None]
    win = 0.5 * (1.0 - np.cos(2.0 * np.pi * np.arange(1, w + 1) / (w + 1)))
    return np.asarray(x, dtype=np.float64)[idx] * win


def segsnr_frames(clean: np.ndarray, proc: np.ndarray, sr: int) -> np.ndarray:
    """Per-frame SNR (dB) clamped to [-10, 35]."""
    c, p = frames(clean, sr), frames(proc, sr)
    sig = np.sum(c ** 2, axis=1)
    noise = np.sum((c - p) ** 2, axis=1)
    return np.clip(10.0 * np.log10(sig / (noise + EPS) + EPS), -10.0, 35.0)


def _lpc(fr: np.ndarray, order: int) -> tuple[np.ndarray, np.ndarray]:
    """Autocorrelation ``R`` (n, P+1) and LPC polynomial ``A = [1, -a]`` (n, P+1), Levinson-Durbin
    over all frames at once."""
    n, w = fr.shape
    r = np.stack([np.sum(fr[:, : w - k] * fr[:, k:], axis=1) for k in range(order + 1)], axis=1)
    a = np.zeros((n, order))
    e = r[:, 0].copy()
    with np.errstate(divide="ignore", invalid="ignore"):
        for i in range(order):
            acc = r[:, i + 1] - np.sum(a[:, :i] * r[:, i:0:-1], axis=1) if i else r[:, 1].copy()
            k = np.where(e > 0, acc / e, 0.0)
            prev = a[:, :i].copy()
            a[:, i] = k
            a[:, :i] = prev - k[:, None] * prev[:, ::-1]
            e = (1.0 - k * k) * e
    return r, np.concatenate([np.ones((n, 1)), -a], axis=1)


def llr_frames(clean: np.ndarray, proc: np.ndarray, sr: int) -> np.ndarray:
    """Per-frame log-likelihood ratio (NaN where a frame is degenerate)."""
    order = 10 if sr < 10000 else 16
    rc, ac = _lpc(frames(clean, sr), order)
    _, ap = _lpc(frames(proc, sr), order)
    idx = np.abs(np.arange(order + 1)[:, None] - np.arange(order + 1)[None, :])
    toe = rc[:, idx]                                   # (n, P+1, P+1) Toeplitz of the clean frame
    num = np.einsum("ni,nij,nj->n", ap, toe, ap)
    den = np.einsum("ni,nij,nj->n", ac, toe, ac)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.log(num / den)


_CENT = np.array([50.0, 120, 190, 260, 330, 400, 470, 540, 617.372, 703.378, 798.717, 904.128, 1020.38,
                  1148.30, 1288.72, 1442.54, 1610.70, 1794.16, 1993.93, 2211.08, 2446.71, 2701.97,
                  2978.04, 3276.17, 3597.63])
_BW = np.array([70.0, 70, 70, 70, 70, 70, 70, 77.3724, 86.0056, 95.3398, 105.411, 116.256, 127.914,
                140.423, 153.823, 168.154, 183.457, 199.776, 217.153, 235.631, 255.255, 276.072,
                298.126, 321.465, 346.136])


def _crit_filters(sr: int, n_half: int) -> np.ndarray:
    f0 = np.floor(_CENT / (sr / 2) * n_half)
    bw = _BW / (sr / 2) * n_half
    norm = np.log(_BW[0]) - np.log(_BW)
    j = np.arange(n_half)
    f = np.exp(-11.0 * ((j[None, :] - f0[:, None]) / bw[:, None]) ** 2 + norm[:, None])
    return f * (f > np.exp(-30.0 / (2.0 * 2.303)))


def _local_peaks(energy: np.ndarray, slope: np.ndarray) -> np.ndarray:
    """Energy of the nearest spectral peak for each of the first 24 bands, as ``composite.m`` finds it."""
    nb = slope.shape[1]                                # 24
    right = np.empty(slope.shape, dtype=int)          # first band >= i with slope <= 0 (else 24)
    nxt = np.full(slope.shape[0], nb)
    for i in range(nb - 1, -1, -1):
        nxt = np.where(slope[:, i] <= 0, i, nxt)
        right[:, i] = nxt
    left = np.empty(slope.shape, dtype=int)           # last band <= i with slope > 0 (else -1)
    prv = np.full(slope.shape[0], -1)
    for i in range(nb):
        prv = np.where(slope[:, i] > 0, i, prv)
        left[:, i] = prv
    pick = np.where(slope > 0, right - 1, left + 1)
    return np.take_along_axis(energy, pick, axis=1)


def wss_frames(clean: np.ndarray, proc: np.ndarray, sr: int) -> np.ndarray:
    """Per-frame weighted spectral slope distance."""
    c, p = frames(clean, sr), frames(proc, sr)
    n_fft = 1 << int(np.ceil(np.log2(2 * c.shape[1])))
    half = n_fft // 2
    filt = _crit_filters(sr, half)

    def band_db(fr):
        spec = np.abs(np.fft.rfft(fr, n_fft, axis=1)[:, :half]) ** 2
        return 10.0 * np.log10(np.maximum(spec @ filt.T, 1e-10))

    ec, ep = band_db(c), band_db(p)
    sc, sp = np.diff(ec, axis=1), np.diff(ep, axis=1)
    pc, pp = _local_peaks(ec, sc), _local_peaks(ep, sp)
    kmax, klocmax = 20.0, 1.0
    wc = kmax / (kmax + ec.max(axis=1, keepdims=True) - ec[:, :-1]) * klocmax / (klocmax + pc - ec[:, :-1])
    wp = kmax / (kmax + ep.max(axis=1, keepdims=True) - ep[:, :-1]) * klocmax / (klocmax + pp - ep[:, :-1])
    w = (wc + wp) / 2.0
    return np.sum(w * (sc - sp) ** 2, axis=1) / np.sum(w, axis=1)


def trimmed_mean(v: np.ndarray, keep: float = 0.95) -> float:
    """Mean of the lowest ``round(keep * n)`` finite values (``composite.m`` drops the worst 5 %)."""
    v = np.sort(v[np.isfinite(v)])
    k = int(np.floor(len(v) * keep + 0.5))
    return float(np.mean(v[:k])) if k else float("nan")
