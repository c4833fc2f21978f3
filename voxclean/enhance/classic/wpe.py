"""Weighted prediction error (WPE) dereverberation through ``nara_wpe``: ``wpe`` (offline), ``wpe-online``.

Model (Nakatani et al., "Speech dereverberation based on variance-normalized delayed linear
prediction", IEEE TASLP 18(7), 2010; Yoshioka & Nakatani, IEEE TASLP 20(10), 2012). In each frequency
bin the late reverberation of channel d is predicted from ``taps`` past frames of all D channels,
skipping the ``delay`` most recent ones (which hold the direct sound and early reflections)::

    x_d(t) = y_d(t) - sum_{tau=delay}^{delay+taps-1} g_{d,tau}^H y(t - tau)

Offline (``nara_wpe.wpe.wpe_v8``: the same solution as ``nara_wpe.wpe.wpe``, looping over frequencies,
2-3x faster), the filters minimise sum_t |x_d(t)|^2 / lambda(t), alternating with the speech power
``lambda(t) = mean_d |x_d(t)|^2`` for ``iterations`` rounds (the time-varying Gaussian model).
Online (``nara_wpe.wpe.OnlineWPE``), recursive least squares updates the filters frame by frame with
forgetting factor ``alpha`` and the observation power over the last ``taps + delay + 1`` frames; it is
causal, so ``wpe-online`` (or ``wpe`` with ``online=True``) streams, and its stream gives the same
output as its whole-signal call whatever the block sizes. Measured on 11 s of speech convolved with
real RIRs (SI-SDR against the direct path + 50 ms, second half of the signal), online WPE improved a
reverberant room (``rir/real/rir1``: 4.0 -> 6.8 dB; offline 6.1) but needs seconds to converge and
distorts nearly dry input (``rir2``: 27.6 -> 18.4 dB; offline 26.6): prefer offline WPE when latency
allows.

Both work on one channel or many: ``enhance(x, sr)`` is single-channel, ``enhance_multichannel(x, sr)``
takes ``(channels, samples)`` and returns all channels dereverberated (MIMO), ready for a beamformer.
Defaults are nara_wpe's (``taps=10``, ``delay=3``, 3 iterations; online ``alpha=0.9999``) with its
16 kHz framing (512-point frames, hop 128), kept at other rates through ``frame_ms=32``, ``overlap=4``.
"""
from __future__ import annotations

import numba
import numpy as np
from nara_wpe.wpe import OnlineWPE, wpe_v8 as nara_wpe_offline
from threadpoolctl import threadpool_limits

from voxclean.audio.stft import frame_sizes
from voxclean.enhance.base import ENHANCERS
from voxclean.enhance.classic.multichannel import (BufferedStream, MonoAdapter, MultiStftStream, istft_mc,
                                                   stft_mc)


@numba.njit(cache=True, fastmath=True)
def _rls_step(p_s, g_conj, window, obs, power, alpha, scale):  # pragma: no cover - compiled
    """One frame of the RLS recursion of :class:`_OnlineWPE` for every bin, compiled; P_s and conj(G)
    are updated in place; returns the prediction (F, D). The denominator is floored at 1e-10 times its
    maximum over bins, as nara_wpe's ``_stable_positive_inverse`` does."""
    n_bins, k, d_ch = g_conj.shape
    pred = np.empty((n_bins, d_ch), np.complex128)
    pw = np.empty((n_bins, k), np.complex128)
    den = np.empty(n_bins)
    for f in range(n_bins):
        for d in range(d_ch):
            acc = obs[f, d]
            for i in range(k):
                acc -= window[f, i] * g_conj[f, i, d]
            pred[f, d] = acc
        q = 0.0
        for i in range(k):
            a = 0j
            for j in range(k):
                a += p_s[f, i, j] * window[f, j]
            pw[f, i] = a
            q += (window[f, i].conjugate() * a).real
        den[f] = alpha * power[f] + scale * q
    eps = 1e-10 * den.max()
    for f in range(n_bins):
        inv = scale / max(den[f], eps) if eps > 0 else scale
        for i in range(k):
            gi = pw[f, i] * inv
            for j in range(k):
                p_s[f, i, j] -= gi * pw[f, j].conjugate()
            gic = gi.conjugate()
            for d in range(d_ch):
                g_conj[f, i, d] += gic * pred[f, d]
    return pred


class _OnlineWPE(OnlineWPE):
    """nara_wpe's ``OnlineWPE`` (same state initialisation, same recursion, same output to float
    rounding: checked in tests/test_wpe.py) with a compiled (numba) frame step that does about a third
    of nara_wpe's arithmetic.

    nara_wpe's step, per bin f, with window w (the ``taps`` delayed frames of all channels, K = D taps),
    inverse covariance P (K x K, Hermitian), power lambda (mean |y|^2 over the ``taps + delay + 1``
    buffered frames), filter G (K x D)::

        e = y_t - G^H w                          (prediction = output)
        k = P w / (alpha lambda + w^H P w)       (Kalman gain)
        P <- (P - k w^H P) / alpha
        G <- G + k e^H

    Three rewrites, exact in real arithmetic: (1) ``w^H P = (P w)^H`` because P is Hermitian, so the
    second K x K product is the first one conjugated; (2) P is stored as ``c P_s`` with a scalar c, so
    the division by alpha (a full pass over P every frame) becomes ``c <- c / alpha`` (renormalised
    when c exceeds 1e6); (3) the (taps + delay + 1)-frame buffer is a doubled ring buffer instead of an
    ``np.roll`` per frame, and the power is its mean. The per-bin K x K work runs in one numba loop
    (:func:`_rls_step`) instead of a dozen numpy passes over (F, K, K) arrays. Measured 31x -> see
    docs/benchmarks.md for the real-time factor."""

    def __init__(self, taps, delay, alpha, power_estimate=None, channel=8, frequency_bins=257):
        super().__init__(taps, delay, alpha, power_estimate, channel, frequency_bins)
        self._len = taps + delay + 1
        self._ring = np.zeros((frequency_bins, channel, 2 * self._len), np.complex128)
        self._pos = 0                                   # buffer = _ring[:, :, _pos:_pos + _len]
        self._p_s = self.inv_cov.astype(np.complex128)  # P = _scale * _p_s
        self._scale = 1.0
        self._g_conj = np.zeros((frequency_bins, channel * taps, channel), np.complex128)  # conj(G)
        self._pow = np.zeros((frequency_bins, 2 * self._len))    # mean_d |y_d|^2 of the ring's frames

    @property
    def inv_cov_now(self) -> np.ndarray:
        return self._scale * self._p_s

    def step_frame(self, frame):
        """frame (F, D) -> prediction (F, D); or a first block (taps + delay + 1, F, D) -> its last frame."""
        F, D = frame.shape[-2:]
        n, p = self._len, self._pos
        window = self._ring[:, :, p:p + self.taps].reshape(F, D * self.taps).copy()
        obs = frame if frame.ndim == 2 else frame[-1]
        if frame.ndim == 3:
            self._ring[:, :, :n] = frame.transpose(1, 2, 0)
            self._ring[:, :, n:] = self._ring[:, :, :n]
            self._pow[:, :n] = (frame.real ** 2 + frame.imag ** 2).mean(axis=2).T
            self._pow[:, n:] = self._pow[:, :n]
            self._pos = p = 0
        else:
            self._ring[:, :, p] = frame
            self._ring[:, :, p + n] = frame
            self._pow[:, p] = self._pow[:, p + n] = (frame.real ** 2 + frame.imag ** 2).mean(axis=1)
            self._pos = p = (p + 1) % n
        power = self._pow[:, p:p + n].mean(axis=1)
        pred = _rls_step(self._p_s, self._g_conj, window, np.ascontiguousarray(obs, np.complex128), power,
                         float(self.alpha), float(self._scale))
        self._scale /= self.alpha
        if self._scale > 1e6:
            self._p_s *= self._scale
            self._scale = 1.0
        return pred


class OnlineWpeProcessor:
    """Feeds frames one at a time to ``nara_wpe.wpe.OnlineWPE``; (D, T, F) -> (D, T, F).

    As in nara_wpe's online example, the first call is a whole ``taps + delay + 1``-frame block, so the
    power estimate (the mean over that buffer) starts from real frames; the frames before it pass
    unchanged (the filters start at zero). Starting instead from an all-zero buffer makes the early
    Kalman gains explode: on the AMI recording the output of the first frames was 2-3x louder than the
    input and the error still showed 10 % after 300 frames."""

    def __init__(self, channels: int, n_bins: int, taps: int, delay: int, alpha: float):
        self.wpe = _OnlineWPE(taps=taps, delay=delay, alpha=alpha, channel=channels, frequency_bins=n_bins)
        self.warmup: list[np.ndarray] | None = []
        self.block = taps + delay + 1

    def _step(self, frame: np.ndarray) -> np.ndarray:
        """frame (F, D) -> dereverberated (F, D)."""
        if self.warmup is None:
            return self.wpe.step_frame(frame)
        self.warmup.append(frame)
        if len(self.warmup) < self.block:
            return frame
        block, self.warmup = np.stack(self.warmup), None
        return self.wpe.step_frame(block)

    def process(self, spec: np.ndarray) -> np.ndarray:
        out = np.empty_like(spec)
        with threadpool_limits(1):          # per-bin matrices are small: BLAS threads only contend
            for t in range(spec.shape[1]):
                out[:, t, :] = self._step(spec[:, t, :].T).T             # OnlineWPE works on (F, D)
        return out


class _Wpe:
    name = "wpe"
    sample_rate: int | None = None
    multichannel = True
    online = False

    def __init__(self, taps: int = 10, delay: int = 3, iterations: int = 3, psd_context: int = 0,
                 alpha: float = 0.9999, frame_ms: float = 32.0, overlap: int = 4, online: bool | None = None):
        if online is not None:
            self.online = bool(online)
        self.taps, self.iterations, self.psd_context, self.alpha = taps, iterations, psd_context, alpha
        self.delay = delay
        self.frame_ms, self.overlap = frame_ms, overlap

    @property
    def causal(self) -> bool:
        return self.online

    def _sizes(self, sr: int) -> tuple[int, int]:
        return frame_sizes(sr, self.frame_ms, self.overlap)

    def enhance_multichannel(self, x: np.ndarray, sr: int) -> np.ndarray:
        """(channels, samples) -> (channels, samples), every channel dereverberated."""
        x = np.atleast_2d(np.asarray(x, dtype=np.float32))
        if self.online:
            st = self.stream_multichannel(sr, x.shape[0])
            return np.concatenate([st.push(x), st.flush()], axis=1)
        n_fft, hop = self._sizes(sr)
        Y = stft_mc(x, n_fft, hop).transpose(2, 0, 1)                  # (F, D, T) for nara_wpe
        with threadpool_limits(1):          # 3-4x faster than letting BLAS threads fight per bin
            Z = nara_wpe_offline(Y, taps=self.taps, delay=self.delay, iterations=self.iterations,
                                 psd_context=self.psd_context, statistics_mode="full")
        return istft_mc(Z.transpose(1, 2, 0), n_fft, hop, x.shape[1])

    def enhance(self, x: np.ndarray, sr: int) -> np.ndarray:
        x = np.asarray(x, dtype=np.float32)
        if x.ndim != 1:
            raise ValueError(f"{self.name}.enhance expects mono (samples,); use enhance_multichannel "
                             "for (channels, samples)")
        return self.enhance_multichannel(x[None], sr)[0]

    def stream_multichannel(self, sr: int, channels: int):
        """Push (channels, n) blocks, get (channels, n') back; offline WPE answers at ``flush``."""
        if not self.online:
            return BufferedStream(lambda x: self.enhance_multichannel(x, sr))
        n_fft, hop = self._sizes(sr)
        proc = OnlineWpeProcessor(channels, n_fft // 2 + 1, self.taps, self.delay, self.alpha)
        return MultiStftStream(proc, n_fft, hop, channels)

    def stream(self, sr: int):
        if not self.online:
            return BufferedStream(lambda x: self.enhance(x, sr))
        return MonoAdapter(self.stream_multichannel(sr, 1))


@ENHANCERS.register("wpe", "WPE dereverberation (nara_wpe), offline (online=True: RLS, causal), single- or "
                           "multichannel (any rate)")
class Wpe(_Wpe):
    """Iterative WPE (variance-normalised delayed linear prediction) via nara_wpe; ``online=True``
    switches to the recursive version (same as ``wpe-online``)."""

    name = "wpe"
    online = False


@ENHANCERS.register("wpe-online", "online (RLS) WPE dereverberation (nara_wpe), causal, single- or "
                                  "multichannel (any rate)")
class WpeOnline(_Wpe):
    """Frame-recursive WPE via nara_wpe's OnlineWPE; causal and streaming."""

    name = "wpe-online"
    online = True
