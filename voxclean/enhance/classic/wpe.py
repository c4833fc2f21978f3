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

import numpy as np
from nara_wpe.wpe import OnlineWPE, wpe_v8 as nara_wpe_offline
from threadpoolctl import threadpool_limits

from voxclean.audio.stft import frame_sizes
from voxclean.enhance.base import ENHANCERS
from voxclean.enhance.classic.multichannel import (BufferedStream, MonoAdapter, MultiStftStream, istft_mc,
                                                   stft_mc)


class _OnlineWPE(OnlineWPE):
    """nara_wpe's OnlineWPE with the inverse-covariance update written as a rank-one outer product,
    ``P <- (P - k (w^H P)) / alpha``, instead of a three-operand ``einsum(..., optimize='optimal')``
    whose contraction path was re-planned every frame (half of the online run time). Same result to
    float rounding (checked in tests/test_wpe.py)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.inv_cov = self.inv_cov.astype(np.complex128)       # updated in place below

    def _update_inv_cov(self, window):
        u = np.einsum("fj,fjm->fm", np.conjugate(window), self.inv_cov)
        self.inv_cov -= self.kalman_gain[:, :, None] * u[:, None, :]
        self.inv_cov /= self.alpha


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
