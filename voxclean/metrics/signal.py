"""Signal-level measures written here: SI-SDR, segmental SNR, log-spectral distance, mel-cepstral
distance. All at the signals' own rate, float64 inside.

SI-SDR (Le Roux, Wisdom, Erdogan & Hershey 2019, "SDR - half-baked or well done?", ICASSP, Eqs. 3-4),
both signals made zero-mean first::

    alpha = <s_hat, s> / ||s||^2,   e = s_hat - alpha s,   SI-SDR = 10 log10(||alpha s||^2 / ||e||^2)

segSNR: mean over 30 ms frames of the frame SNR clamped to [-10, 35] dB, exactly as in Loizou's
``composite.m`` (:func:`voxclean.metrics.loizou.segsnr_frames`).

LSD (the bandwidth-extension convention of Kuleshov, Enam & Ermon 2017, "Audio super resolution
using neural networks", used by NU-Wave and AudioSR), with ``P = |STFT|^2`` (Hann, 2048 points, hop
512, centred) and log10 (not dB)::

    LSD = 1/T sum_t sqrt( 1/K sum_k ( log10(P[t,k] + 1e-8) - log10(P_hat[t,k] + 1e-8) )^2 )

MCD (mel-cepstral distortion, Kubichek 1993, in its MFCC-style form): 25 ms Hann frames, hop 10 ms,
40 triangular mel bands (HTK mel scale, 0 to sr/2) of the power spectrum, log mel *amplitudes*
``ln(sqrt(E_m))``, real cepstrum on the mel axis ``c_d = (2/M) sum_m ln A_m cos(pi d (m + 1/2) / M)``
(DCT-II / M), d = 1..12 (c0, the level, excluded); per frame ``10 sqrt(2) / ln 10 * sqrt(sum_d
(c_d - c'_d)^2)`` dB, averaged over the frames whose reference energy is within 40 dB of the loudest
(silence excluded, as STOI does). No time warping: the pair is assumed aligned.
"""
from __future__ import annotations

import numpy as np
from scipy.fft import dct

from voxclean.metrics import loizou
from voxclean.metrics.base import METRICS, is_silent, nan_with_warning

_EPS = 1e-8


def si_sdr(ref: np.ndarray, est: np.ndarray) -> float:
    """Scale-invariant SDR in dB (Le Roux et al. 2019), zero-mean signals."""
    s = np.asarray(ref, dtype=np.float64) - np.mean(ref)
    y = np.asarray(est, dtype=np.float64) - np.mean(est)
    alpha = np.dot(y, s) / (np.dot(s, s) + _EPS)
    target = alpha * s
    noise = y - target
    return float(10.0 * np.log10((np.dot(target, target) + _EPS) / (np.dot(noise, noise) + _EPS)))


def _stft_power(x: np.ndarray, n_fft: int, hop: int) -> np.ndarray:
    """|STFT|^2, (frames, n_fft//2 + 1), Hann window, centred with zero padding."""
    x = np.pad(np.asarray(x, dtype=np.float64), (n_fft // 2, n_fft // 2))
    if len(x) < n_fft:
        x = np.pad(x, (0, n_fft - len(x)))
    n = 1 + (len(x) - n_fft) // hop
    idx = np.arange(n_fft)[None, :] + hop * np.arange(n)[:, None]
    return np.abs(np.fft.rfft(x[idx] * np.hanning(n_fft + 1)[:-1], axis=1)) ** 2


def lsd(ref: np.ndarray, est: np.ndarray, n_fft: int = 2048, hop: int = 512) -> float:
    """Log-spectral distance (log10 power units, see the module docstring)."""
    d = np.log10(_stft_power(ref, n_fft, hop) + _EPS) - np.log10(_stft_power(est, n_fft, hop) + _EPS)
    return float(np.mean(np.sqrt(np.mean(d ** 2, axis=1))))


def mel_filterbank(sr: int, n_fft: int, n_mels: int = 40) -> np.ndarray:
    """Triangular filters on the HTK mel scale ``2595 log10(1 + f/700)``, 0 to sr/2, (n_mels, n_fft//2+1)."""
    mel = lambda f: 2595.0 * np.log10(1.0 + f / 700.0)  # noqa: E731
    hz = 700.0 * (10.0 ** (np.linspace(0.0, mel(sr / 2.0), n_mels + 2) / 2595.0) - 1.0)
    f = np.linspace(0.0, sr / 2.0, n_fft // 2 + 1)
    lo, ce, hi = hz[:-2, None], hz[1:-1, None], hz[2:, None]
    return np.maximum(0.0, np.minimum((f - lo) / (ce - lo), (hi - f) / (hi - ce)))


def mel_cepstra(x: np.ndarray, sr: int, n_ceps: int = 13, n_mels: int = 40) -> tuple[np.ndarray, np.ndarray]:
    """(cepstra c_0..c_{n_ceps-1} per frame, frame energy) as defined in the module docstring."""
    win = int(round(0.025 * sr))
    hop = int(round(0.010 * sr))
    n_fft = 1 << int(np.ceil(np.log2(win)))
    x = np.asarray(x, dtype=np.float64)
    n = max(1 + (len(x) - win) // hop, 1)
    x = np.pad(x, (0, max(0, (n - 1) * hop + win - len(x))))
    fr = x[np.arange(win)[None, :] + hop * np.arange(n)[:, None]] * np.hanning(win + 2)[1:-1]
    p = np.abs(np.fft.rfft(fr, n_fft, axis=1)) ** 2
    e = p @ mel_filterbank(sr, n_fft, n_mels).T
    log_amp = 0.5 * np.log(np.maximum(e, 1e-10))
    return dct(log_amp, type=2, axis=1)[:, :n_ceps] / n_mels, np.sum(fr ** 2, axis=1)


def mcd(ref: np.ndarray, est: np.ndarray, sr: int, floor_db: float = 40.0) -> float:
    """Mel-cepstral distortion in dB over the reference's active frames (module docstring)."""
    cr, er = mel_cepstra(ref, sr)
    ce, _ = mel_cepstra(est, sr)
    active = 10.0 * np.log10(er + 1e-20) > 10.0 * np.log10(er.max() + 1e-20) - floor_db
    d = np.sqrt(np.sum((cr[active, 1:] - ce[active, 1:]) ** 2, axis=1))
    return float(10.0 * np.sqrt(2.0) / np.log(10.0) * np.mean(d))


@METRICS.register("si_sdr", "scale-invariant signal-to-distortion ratio, dB (Le Roux et al. 2019)")
class SISDR:
    name = "si_sdr"
    intrusive = True
    higher_is_better = True
    outputs = ("si_sdr",)

    def score(self, ref, est, sr):
        if is_silent(ref) or is_silent(est):
            which = "reference" if is_silent(ref) else "estimate"
            return nan_with_warning(self.outputs, f"si_sdr undefined: the {which} is silent (0/0); NaN")
        return {"si_sdr": si_sdr(ref, est)}


@METRICS.register("segsnr", "segmental SNR, 30 ms frames clamped to [-10, 35] dB (Loizou's composite.m)")
class SegSNR:
    name = "segsnr"
    intrusive = True
    higher_is_better = True
    outputs = ("segsnr",)

    def score(self, ref, est, sr):
        try:
            return {"segsnr": float(np.mean(loizou.segsnr_frames(ref, est, sr)))}
        except loizou.TooShortError as exc:
            return nan_with_warning(self.outputs, f"segsnr undefined: {exc}; NaN")


@METRICS.register("lsd", "log-spectral distance, log10 power, 2048-point STFT (Kuleshov et al. 2017)")
class LSD:
    name = "lsd"
    intrusive = True
    higher_is_better = False
    outputs = ("lsd",)

    def score(self, ref, est, sr):
        return {"lsd": lsd(ref, est)}


@METRICS.register("mcd", "mel-cepstral distortion, 12 mel cepstra without c0, dB (Kubichek 1993)")
class MCD:
    name = "mcd"
    intrusive = True
    higher_is_better = False
    outputs = ("mcd",)

    def score(self, ref, est, sr):
        if is_silent(ref):
            return nan_with_warning(self.outputs, "mcd undefined: the reference is silent; NaN")
        return {"mcd": mcd(ref, est, sr)}
