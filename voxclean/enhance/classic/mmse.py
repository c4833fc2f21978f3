"""MMSE-STSA and log-MMSE (Ephraim & Malah) with speech-presence uncertainty: ``mmse-stsa``, ``logmmse``.

Per STFT frame l and bin k, with noisy coefficients ``Y``, the noise PSD ``lambda_N`` from the
MMSE/SPP tracker (:class:`~voxclean.enhance.classic.noise_psd.MmseNoiseTracker`)::

    gamma = |Y|^2 / lambda_N                                              a-posteriori SNR
    xi    = max(a G_H1(l-1)^2 gamma(l-1) + (1 - a) max(gamma - 1, 0), xi_min)
                                              decision-directed a-priori SNR (E&M 1984, eq. 51),
                                              conditional on speech presence (Cohen 2001, eq. 32)
    v     = xi / (1 + xi) * gamma

MMSE short-time spectral amplitude (Ephraim & Malah 1984, IEEE TASSP 32(6), eq. 7), written with the
exponentially scaled Bessel functions ``i0e(x) = exp(-x) I0(x)`` so that it never overflows::

    G_STSA = sqrt(pi)/2 * sqrt(v)/gamma * [(1 + v) i0e(v/2) + v i1e(v/2)]

MMSE log-spectral amplitude (Ephraim & Malah 1985, IEEE TASSP 33(2), eq. 20), ``E1`` = exponential
integral::

    G_LSA = xi / (1 + xi) * exp(E1(v) / 2)

Speech-presence uncertainty. With the a-priori probability of speech absence ``q`` the posterior
speech-presence probability is (E&M 1984 eq. 30; Cohen & Berdugo 2001, eq. 16)::

    p = 1 / (1 + q / (1 - q) * (1 + xi) * exp(-v))

and the final gains are

    mmse-stsa:  G = max(p * G_STSA, G_min)                (E&M 1984 eq. 32, "multiplicative" SPU)
    logmmse:    G = G_LSA^p * G_min^(1 - p)                (OM-LSA, Cohen & Berdugo 2001, eq. 35)

``q`` is, by default, a fixed 0.3 (E&M 1984 used a fixed ``q``; 0.2-0.5 all did about equally well
on training data, 0.3 best). ``q="cohen"`` estimates it per bin and frame with :class:`SapEstimator`
(Cohen & Berdugo 2001, section III: recursively averaged a-priori SNR, local/global/frame presence
indicators), and ``q="tracker"`` takes ``p`` directly from the noise tracker's fixed-prior SPP
(Gerkmann et al. 2008); on the training mixtures both were 0.005-0.01 NB-PESQ below the fixed ``q``.
``spu=False`` gives the plain estimators (``p = 1``) with the same floor ``G_min``. The speech-present
gain ``G_H1`` is capped at 1.

Noise PSD: ``noise="mmse"`` (default, Gerkmann & Hendriks 2012) or ``noise="mcra"``
(:mod:`~voxclean.enhance.classic.mcra`, Cohen & Berdugo 2002). On the training mixtures MCRA followed
the non-stationary UrbanSound8K noise less well (+4.3 dB mean over-estimate against +0.6 dB) and the
NB-PESQ gain fell from +0.174 to +0.098; it is kept as the second, independent tracker.

Hard noise: ``highpass="auto"`` (adaptive wind/rumble high-pass) or a fixed cut-off in Hz applies
:class:`~voxclean.enhance.classic.hard_noise.DewindGain` before noise tracking, and ``declick=True``
runs the AR click remover (:class:`~voxclean.enhance.classic.hard_noise.DeclickStream`) as a time-domain
pre-stage. Both are causal (the declicker adds a fixed look-ahead), so streaming still equals offline.

Offline: ``noise_init="file"`` starts the MMSE tracker from the quietest 20 % of the frames of the whole
input (two passes, non-causal; :class:`~voxclean.enhance.base.SpectralEnhancer`). On 160 training
mixtures at 0/5 dB (8 kHz, two seeds of ``scripts/tune_mmse.py``'s set) it raised the NB-PESQ gain of
logmmse from +0.203/+0.209 to +0.235/+0.232, mostly on mixtures that start with speech.
``noise_init="bidirectional"`` runs the tracker forward and backward over the whole input and uses the
mean of the two estimates (:func:`~voxclean.enhance.classic.noise_psd.bidirectional_noise_psd`; offline,
two passes): on 80 training mixtures at 0/5 dB, a third of them babble, logmmse's gain rose from
+0.114/+0.130 to +0.145/+0.164 (two seeds); on NOIZEUS at 0/5 dB (measured after the choice) from
+0.234 to +0.258. It is the best offline classical setting; the causal default is unchanged.

Defaults (``a = 0.95``, ``G_min = -18 dB``, ``xi_min = -25 dB``, ``q = 0.3``, 64 ms frames with 75 %
overlap) were chosen on *training* mixtures only (LibriSpeech train-clean-100 + UrbanSound8K/Hu100 noise
at 8 kHz, 0 and 5 dB; ``scripts/tune_mmse.py``), never on NOIZEUS or development folders. On 120 such
mixtures the NB-PESQ gain over noisy was +0.174 (logmmse), +0.166 (mmse-stsa), +0.168 (wiener);
``a = 0.98``, ``G_min = -22 dB`` and 32 ms frames were each 0.01-0.02 lower. The gains are evaluated
through tables (:class:`_LogTable`, relative error < 1e-6) to stay above 100x real time on one core.
"""
from __future__ import annotations

import numpy as np
from scipy.special import exp1, i0e, i1e

from voxclean.enhance.base import ENHANCERS, SpectralEnhancer
# importing hard_noise also registers the standalone ``declick`` and ``dewind`` enhancers
from voxclean.enhance.classic.hard_noise import ChainStream, DeclickStream, DewindGain
from voxclean.enhance.classic.mcra import McraNoiseTracker
from voxclean.enhance.classic.noise_psd import MmseNoiseTracker

_SQRT_PI_2 = float(np.sqrt(np.pi) / 2)


class _LogTable:
    """Linear interpolation of a smooth function of ``log(v)`` on a uniform grid (a direct index
    computation, several times faster per frame than ``np.interp``'s binary search). Both tabulated
    functions tend to 1 for large ``v``; above ``v_max`` the last value (1 to within 1e-9) is held."""

    def __init__(self, fn, v_min: float, v_max: float, n: int = 8192):
        self.lo, self.hi = np.log(v_min), np.log(v_max)
        self.step = (self.hi - self.lo) / (n - 1)
        tab = fn(np.exp(np.linspace(self.lo, self.hi, n)))
        self.tab = np.append(tab, tab[-1])           # guard entry for i + 1 at the top
        self.n = n

    def __call__(self, v: np.ndarray) -> np.ndarray:
        pos = (np.log(v) - self.lo) / self.step
        np.clip(pos, 0.0, self.n - 1, out=pos)
        i = pos.astype(np.intp)
        frac = pos - i
        return self.tab[i] * (1.0 - frac) + self.tab[i + 1] * frac


# H(v) = sqrt(pi)/2 sqrt(v) [(1 + v) i0e(v/2) + v i1e(v/2)] tabulated as H(v) / (v + 1/4) on a log grid
# (the asymptote for large v is v + 1/4); relative error < 1e-6 against the Bessel-function form.


def _stsa_h(v: np.ndarray) -> np.ndarray:
    return _SQRT_PI_2 * np.sqrt(v) * ((1.0 + v) * i0e(v / 2) + v * i1e(v / 2))


_STSA_TAB = _LogTable(lambda v: _stsa_h(v) / (v + 0.25), 1e-10, 1e5)


def stsa_gain(xi: np.ndarray, gamma: np.ndarray, exact: bool = False) -> np.ndarray:
    """Ephraim-Malah 1984 MMSE-STSA gain (eq. 7) for a-priori ``xi`` and a-posteriori ``gamma``;
    ``exact`` evaluates the Bessel functions directly instead of the table."""
    gamma = np.maximum(gamma, 1e-10)
    v = np.maximum(xi / (1.0 + xi) * gamma, 1e-10)
    if exact:
        return _stsa_h(v) / gamma
    return (v + 0.25) * _STSA_TAB(v) / gamma


# exp(E1(v)/2) tabulated on a log grid: linear interpolation in log(v) is within 1e-6 (relative) of
# scipy.special.exp1 and ~8x faster per frame; beyond the table E1(v) < 1e-23 and the factor is 1.
_LSA_TAB = _LogTable(lambda v: np.exp(0.5 * exp1(v)), 1e-10, 60.0)


def lsa_gain(xi: np.ndarray, gamma: np.ndarray, exact: bool = False) -> np.ndarray:
    """Ephraim-Malah 1985 log-spectral amplitude gain (eq. 20); ``exact`` calls ``exp1`` directly."""
    v = np.maximum(xi / (1.0 + xi) * gamma, 1e-10)
    if exact:
        return xi / (1.0 + xi) * np.exp(0.5 * exp1(v))
    return xi / (1.0 + xi) * _LSA_TAB(v)


def presence_probability(xi: np.ndarray, gamma: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Posterior speech-presence probability ``p = 1 / (1 + q/(1-q) (1+xi) exp(-v))``."""
    v = xi / (1.0 + xi) * gamma
    ratio = q / (1.0 - q) * (1.0 + xi) * np.exp(-np.minimum(v, 500.0))
    return 1.0 / (1.0 + ratio)


def _hann_kernel(half_width: int) -> np.ndarray:
    w = np.hanning(2 * half_width + 3)[1:-1]
    return w / w.sum()


def _smooth_freq(x: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """Normalised Hann-window smoothing across frequency (Cohen & Berdugo 2001, eq. 25), edges held."""
    h = len(kernel) // 2
    padded = np.concatenate([np.full(h, x[0]), x, np.full(h, x[-1])])
    return np.convolve(padded, kernel, mode="valid")


class SapEstimator:
    """A-priori speech-absence probability ``q`` per bin (Cohen & Berdugo 2001, section III).

    ``zeta = beta zeta + (1 - beta) xi(l-1)`` is smoothed across frequency with a local (3 bins) and
    a global (31 bins) window; each is mapped to a presence indicator between ``zeta_min`` and
    ``zeta_max`` on a log scale (eq. 27). A frame indicator (eqs. 28-30) follows the frame-mean
    ``zeta`` relative to its last peak. ``q = min(1 - P_local P_global P_frame, q_max)`` (eq. 31).
    Window widths are given in Hz (the paper's 1 and 15 bins at 8 kHz / 256-point frames).
    """

    def __init__(self, n_bins: int, sr: int, beta: float = 0.7, local_hz: float = 31.25,
                 global_hz: float = 470.0, zeta_min_db: float = -10.0, zeta_max_db: float = -5.0,
                 peak_min_db: float = 0.0, peak_max_db: float = 10.0, q_max: float = 0.95):
        bin_hz = sr / 2 / max(n_bins - 1, 1)
        self.k_local = _hann_kernel(max(int(round(local_hz / bin_hz)), 1))
        self.k_global = _hann_kernel(max(int(round(global_hz / bin_hz)), 1))
        self.beta, self.q_max = beta, q_max
        self.zmin, self.zmax = 10 ** (zeta_min_db / 10), 10 ** (zeta_max_db / 10)
        self.pmin, self.pmax = 10 ** (peak_min_db / 10), 10 ** (peak_max_db / 10)
        self.zeta = np.zeros(n_bins)
        self.prev_frame = 0.0
        self.peak = self.pmin

    def _indicator(self, z: np.ndarray | float, lo: float, hi: float) -> np.ndarray:
        return np.clip(np.log(np.maximum(z, 1e-20) / lo) / np.log(hi / lo), 0.0, 1.0)

    def update(self, xi_prev: np.ndarray) -> np.ndarray:
        """Feed the previous frame's a-priori SNR; returns ``q`` for the current frame."""
        self.zeta = self.beta * self.zeta + (1.0 - self.beta) * xi_prev
        p_local = self._indicator(_smooth_freq(self.zeta, self.k_local), self.zmin, self.zmax)
        p_global = self._indicator(_smooth_freq(self.zeta, self.k_global), self.zmin, self.zmax)
        z_frame = float(self.zeta.mean())
        if z_frame <= self.zmin:
            p_frame = 0.0
        elif z_frame > self.prev_frame:
            self.peak = min(max(z_frame, self.pmin), self.pmax)
            p_frame = 1.0
        else:
            p_frame = float(self._indicator(z_frame, self.peak * self.zmin, self.peak * self.zmax))
        self.prev_frame = z_frame
        return np.minimum(1.0 - p_local * p_global * p_frame, self.q_max)


class CepstralSnr:
    """A-priori SNR by selective temporal cepstrum smoothing (TCS; Breithaupt, Gerkmann & Martin,
    "A novel a priori SNR estimation approach based on selective cepstro-temporal smoothing",
    ICASSP 2008). Per frame::

        lam_ml = max(|Y|^2 - lambda_N, xi_min lambda_N)             ML speech PSD
        c      = IDFT(log lam_ml)                                    cepstrum, quefrency q
        a(q)   = beta a(q) + (1 - beta) a_const(q)                   a_const: a_env below env_ms,
                                                                     a_pitch around the cepstral pitch
                                                                     peak (f0 in 70..400 Hz, if c > thr),
                                                                     a_fine elsewhere
        c_s    = a c_s + (1 - a) c
        xi     = exp(DFT(c_s) + bias) / lambda_N

    Fine spectral structure (noise) is smoothed heavily, the envelope and the pitch harmonics little,
    so speech onsets and harmonics survive while musical noise does not.
    """

    def __init__(self, n_bins: int, sr: int, xi_min: float, a_env: float = 0.5, a_pitch: float = 0.2,
                 a_fine: float = 0.97, beta: float = 0.96, env_ms: float = 1.0, pitch_thr: float = 0.2,
                 f0_range: tuple[float, float] = (70.0, 400.0), bias: float = 0.5772):
        self.n_fft = 2 * (n_bins - 1)
        q = np.minimum(np.arange(self.n_fft), self.n_fft - np.arange(self.n_fft))   # symmetric quefrency
        self.q = q
        self.a_const = np.where(q < max(int(round(env_ms * 1e-3 * sr)), 1), a_env, a_fine)
        self.q_lo = int(np.floor(sr / f0_range[1]))
        self.q_hi = min(int(np.ceil(sr / f0_range[0])), self.n_fft // 2)
        self.a_pitch, self.pitch_thr, self.beta = a_pitch, pitch_thr, beta
        self.xi_min, self.bias = xi_min, bias
        self.alpha = self.a_const.copy()
        self.c_s = None

    def update(self, power: np.ndarray, noise: np.ndarray) -> np.ndarray:
        lam = np.maximum(power - noise, self.xi_min * noise)
        c = np.fft.irfft(np.log(lam), n=self.n_fft)
        a_const = self.a_const
        if self.q_hi > self.q_lo:
            seg = c[self.q_lo:self.q_hi + 1]
            k = int(np.argmax(seg))
            if seg[k] > self.pitch_thr:
                qp = self.q_lo + k
                a_const = a_const.copy()
                a_const[np.abs(self.q - qp) <= 2] = self.a_pitch
        self.alpha = self.beta * self.alpha + (1.0 - self.beta) * a_const
        self.c_s = c if self.c_s is None else self.alpha * self.c_s + (1.0 - self.alpha) * c
        return np.maximum(np.exp(np.fft.rfft(self.c_s).real + self.bias) / noise, self.xi_min)


class MmseProcessor:
    """Per-frame MMSE-STSA / log-MMSE with decision-directed SNR and speech-presence uncertainty."""

    def __init__(self, kind: str, n_bins: int, sr: int, hop_s: float, alpha_dd: float, xi_min: float,
                 gain_min: float, spu: bool, q_fixed: float | str, pre_gain=None,
                 tracker_kw: dict | None = None, snr: str = "dd", tcs_kw: dict | None = None,
                 noise: str = "mmse"):
        if kind not in ("stsa", "lsa"):
            raise ValueError(f"kind must be 'stsa' or 'lsa', not {kind!r}")
        self.kind = kind
        if noise == "mmse":
            self.tracker = MmseNoiseTracker(n_bins, hop_s, **(tracker_kw or {}))
        elif noise == "mcra":
            self.tracker = McraNoiseTracker(n_bins, hop_s)
        else:
            raise ValueError(f"noise must be 'mmse' (Gerkmann-Hendriks SPP tracker) or 'mcra', not {noise!r}")
        self.sap = SapEstimator(n_bins, sr) if spu and q_fixed == "cohen" else None
        self.q_fixed = q_fixed if spu else None
        self.spu = spu
        self.alpha_dd, self.xi_min, self.gain_min = alpha_dd, xi_min, gain_min
        self.pre_gain = pre_gain
        self.prev_h1_power = None            # |G_H1 Y|^2 of the previous frame
        self.prev_xi = np.zeros(n_bins)
        if snr not in ("dd", "tcs"):
            raise ValueError(f"snr must be 'dd' (decision-directed) or 'tcs' (cepstral smoothing), not {snr!r}")
        self.tcs = CepstralSnr(n_bins, sr, xi_min, **(tcs_kw or {})) if snr == "tcs" else None

    def process(self, spec: np.ndarray) -> np.ndarray:
        out = np.empty_like(spec)
        for i in range(spec.shape[0]):
            frame = spec[i]
            if self.pre_gain is not None:
                frame = frame * self.pre_gain.gain(frame)
            power = frame.real ** 2 + frame.imag ** 2
            noise = self.tracker.update(power)
            gamma = power / noise
            ml = np.maximum(gamma - 1.0, 0.0)
            if self.tcs is not None:
                xi = self.tcs.update(power, noise)
            elif self.prev_h1_power is None:
                xi = ml
            else:
                xi = self.alpha_dd * self.prev_h1_power / noise + (1.0 - self.alpha_dd) * ml
            xi = np.maximum(xi, self.xi_min)
            g_h1 = stsa_gain(xi, gamma) if self.kind == "stsa" else lsa_gain(xi, gamma)
            g_h1 = np.minimum(g_h1, 1.0)
            if self.spu:
                if self.q_fixed == "tracker":
                    p = self.tracker.spp
                else:
                    q = self.sap.update(self.prev_xi) if self.sap is not None else self.q_fixed
                    p = presence_probability(xi, gamma, q)
                if self.kind == "stsa":
                    gain = np.maximum(p * g_h1, self.gain_min)
                else:
                    gain = g_h1 ** p * self.gain_min ** (1.0 - p)
            else:
                gain = np.maximum(g_h1, self.gain_min)
            self.prev_h1_power = g_h1 * g_h1 * power
            self.prev_xi = xi
            out[i] = gain * frame
        return out


class _MmseBase(SpectralEnhancer):
    kind = "stsa"

    def __init__(self, alpha_dd: float = 0.95, xi_min_db: float = -25.0, atten_lim_db: float = 18.0,
                 spu: bool = True, q: float | str = 0.3, frame_ms: float = 64.0, overlap: int = 4,
                 declick: bool = False, highpass: str | float | None = None,
                 noise_xi_h1_db: float = 15.0, noise_tau_s: float = 0.0717, snr: str = "dd",
                 tcs: dict | None = None, noise: str = "mmse", noise_init: str = "frames"):
        self.noise_init = self._check_noise_init(noise_init)
        if noise_init != "frames" and (declick or noise != "mmse"):
            raise ValueError(f"{self.name}: noise_init={noise_init!r} works with the MMSE tracker and without declick")
        self.alpha_dd = alpha_dd
        self.xi_min = 10 ** (xi_min_db / 10)
        self.gain_min = 10 ** (-atten_lim_db / 20)
        if not (q in ("cohen", "tracker") or (isinstance(q, (int, float)) and 0.0 <= q < 1.0)):
            raise ValueError(f"q must be a probability in [0, 1), 'cohen' or 'tracker', not {q!r}")
        self.spu, self.q = spu, q
        self.frame_ms, self.overlap = frame_ms, overlap
        self.declick = declick
        self.tracker_kw = {"xi_h1_db": noise_xi_h1_db, "tau_s": noise_tau_s}
        if snr not in ("dd", "tcs"):
            raise ValueError(f"snr must be 'dd' (decision-directed) or 'tcs' (cepstral smoothing), not {snr!r}")
        if noise not in ("mmse", "mcra"):
            raise ValueError(f"noise must be 'mmse' (Gerkmann-Hendriks SPP tracker) or 'mcra', not {noise!r}")
        self.snr, self.tcs_kw, self.noise = snr, tcs, noise
        if highpass is not None and highpass != "auto" and not isinstance(highpass, (int, float)):
            raise ValueError(f"highpass must be None, 'auto' or a cut-off in Hz, not {highpass!r}")
        self.highpass = highpass

    def make_processor(self, sr: int, n_fft: int, hop: int) -> MmseProcessor:
        pre = None
        if self.highpass is not None:
            pre = DewindGain(n_fft, sr, hop, cutoff=None if self.highpass == "auto" else float(self.highpass))
        return MmseProcessor(self.kind, n_fft // 2 + 1, sr, hop / sr, self.alpha_dd, self.xi_min,
                             self.gain_min, self.spu, self.q, pre, self.tracker_kw, self.snr, self.tcs_kw,
                             self.noise)

    def stream(self, sr: int):
        st = super().stream(sr)
        if not self.declick or not self.causal:
            return st
        return ChainStream([DeclickStream(sr), st])


@ENHANCERS.register("mmse-stsa", "MMSE short-time spectral amplitude (Ephraim-Malah 1984) + speech-presence "
                                 "uncertainty (causal, any rate)")
class MmseStsa(_MmseBase):
    """Ephraim-Malah MMSE-STSA with decision-directed SNR, SPU gain and the MMSE/SPP noise tracker."""

    name = "mmse-stsa"
    kind = "stsa"


@ENHANCERS.register("logmmse", "log-MMSE / OM-LSA (Ephraim-Malah 1985, Cohen 2001) with speech-presence "
                               "uncertainty (causal, any rate)")
class LogMmse(_MmseBase):
    """Ephraim-Malah log-spectral amplitude estimator with OM-LSA speech-presence weighting."""

    name = "logmmse"
    kind = "lsa"
