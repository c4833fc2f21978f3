"""Delay-and-sum and MVDR beamformers with a single-channel post-filter: ``delay-and-sum``, ``mvdr``.

Signal model per STFT bin (seed 001, section 19): ``y(t, f) = d(f) s(t, f) + n(t, f)`` for M microphones,
``d`` the relative transfer function normalised to the reference microphone (``d_ref = 1``), and the
output ``z(t, f) = w(f)^H y(t, f)``.

Steering ``d``
  * given geometry (``mic_positions`` (3, M) in metres and ``doa``: azimuth in degrees, (azimuth,
    elevation), or a 3-vector towards the source), far field::

        tau_m = -(r_m - r_ref) . u / c        d_m(f) = exp(-2j pi f tau_m)

  * blind (no geometry): the relative transfer function by covariance whitening, ``d ~ Phi_nn v`` with
    ``v`` the principal generalised eigenvector of ``(Phi_ss, Phi_nn)`` (Markovich-Golan & Gannot 2015),
    normalised to the reference microphone (reverberation included, unlike the far-field model).

Covariances from time-frequency masks. The speech-presence probability ``p(t, f)`` of the MMSE/SPP
noise tracker (Gerkmann & Hendriks 2012), averaged over the microphones, is the speech mask; ``1 - p``
the noise mask::

    Phi_ss(f) = sum_t p y y^H / sum_t p          Phi_nn(f) = sum_t (1 - p) y y^H / sum_t (1 - p)

with diagonal loading ``1e-3 tr(Phi) / M`` for stability.

Weights
  * delay-and-sum:   w = d / (d^H d)                                   (w^H d = 1)
  * MVDR, steered:   w = Phi_nn^-1 d / (d^H Phi_nn^-1 d)               (Capon 1969)
  * MVDR, blind:     w = Phi_nn^-1 Phi_ss u_ref / tr(Phi_nn^-1 Phi_ss)  (Souden, Benesty & Affes,
                                                                       IEEE TASLP 18(2), 2010, eq. 18)

Both are distortionless towards the reference microphone's speech image, so outputs compare directly
with that microphone. The beamformed signal then goes through a single-channel post-filter
(``postfilter="logmmse"`` by default, any registered mono enhancer, or ``None``). The covariances are
estimated over the whole signal, so the beamformers are offline (their ``stream`` answers at flush).
With a single channel there is nothing to steer: ``enhance`` applies only the post-filter.
"""
from __future__ import annotations

import numpy as np

from voxclean.audio.stft import frame_sizes
from voxclean.enhance.base import ENHANCERS
from voxclean.enhance.classic.multichannel import BufferedStream, istft_mc, stft_mc
from voxclean.enhance.classic.noise_psd import MmseNoiseTracker

SPEED_OF_SOUND = 343.0


def doa_vector(doa) -> np.ndarray:
    """Unit vector towards the source from azimuth (deg), (azimuth, elevation) (deg) or a 3-vector."""
    d = np.atleast_1d(np.asarray(doa, dtype=np.float64))
    if d.size == 3:
        return d / np.linalg.norm(d)
    az = np.deg2rad(d[0])
    el = np.deg2rad(d[1]) if d.size > 1 else 0.0
    return np.array([np.cos(el) * np.cos(az), np.cos(el) * np.sin(az), np.sin(el)])


def steering_vector(mic_positions: np.ndarray, doa, freqs: np.ndarray, ref: int = 0,
                    c: float = SPEED_OF_SOUND) -> np.ndarray:
    """Far-field relative transfer functions (F, M): ``exp(-2j pi f tau_m)``, ``tau_m`` the arrival
    time at microphone m minus that at the reference (negative when m is nearer the source)."""
    pos = np.asarray(mic_positions, dtype=np.float64)
    if pos.ndim != 2 or pos.shape[0] not in (2, 3):
        raise ValueError(f"mic_positions must be (3, M) (or (2, M)) metres, got shape {pos.shape}")
    if pos.shape[0] == 2:
        pos = np.vstack([pos, np.zeros(pos.shape[1])])
    u = doa_vector(doa)
    tau = -((pos - pos[:, [ref]]).T @ u) / c
    return np.exp(-2j * np.pi * np.outer(freqs, tau))


def speech_mask(Y: np.ndarray, hop_s: float) -> np.ndarray:
    """Speech-presence probability (T, F) from the MMSE/SPP tracker on each channel, averaged."""
    m, t, f = Y.shape
    power = Y.real ** 2 + Y.imag ** 2
    p = np.zeros((t, f))
    for ch in range(m):
        tr = MmseNoiseTracker(f, hop_s)
        for i in range(t):
            tr.update(power[ch, i])
            p[i] += tr.spp
    return p / m


def covariance(Y: np.ndarray, weight: np.ndarray, loading: float = 1e-3) -> np.ndarray:
    """Weighted spatial covariance (F, M, M) of Y (M, T, F) with weights (T, F), diagonally loaded."""
    w = weight / np.maximum(weight.sum(axis=0, keepdims=True), 1e-10)
    phi = np.einsum("mtf,ntf,tf->fmn", Y, Y.conj(), w)
    m = Y.shape[0]
    tr = np.real(np.trace(phi, axis1=1, axis2=2)) / m
    return phi + (loading * tr + 1e-12)[:, None, None] * np.eye(m)


def principal_rtf(phi_ss: np.ndarray, phi_nn: np.ndarray | None = None, ref: int = 0) -> np.ndarray:
    """Relative transfer function (F, M) normalised so that its ``ref`` entry is 1.

    Without ``phi_nn``: the principal eigenvector of ``phi_ss``. With it, covariance whitening
    (Markovich-Golan & Gannot, ICASSP 2015): the principal generalised eigenvector ``v`` of
    ``(phi_ss, phi_nn)`` gives ``d ~ phi_nn v``, which is exact when the speech image is rank one,
    however strong a directional noise is."""
    if phi_nn is None:
        _, vec = np.linalg.eigh(phi_ss)
        d = vec[..., -1]
    else:
        val, vec = np.linalg.eig(np.linalg.solve(phi_nn, phi_ss))
        k = np.argmax(val.real, axis=-1)
        v = np.take_along_axis(vec, k[:, None, None], axis=-1)[..., 0]
        d = np.einsum("fmn,fn->fm", phi_nn, v)
    r = d[:, [ref]]
    return d / np.where(np.abs(r) > 1e-8, r, 1e-8)


def das_weights(d: np.ndarray) -> np.ndarray:
    return d / np.sum(np.abs(d) ** 2, axis=1, keepdims=True)


def mvdr_weights(d: np.ndarray, phi_nn: np.ndarray) -> np.ndarray:
    """Capon/MVDR: Phi_nn^-1 d / (d^H Phi_nn^-1 d); d (F, M), phi_nn (F, M, M)."""
    num = np.linalg.solve(phi_nn, d[..., None])[..., 0]
    den = np.einsum("fm,fm->f", d.conj(), num)
    return num / den[:, None]


def mvdr_souden(phi_ss: np.ndarray, phi_nn: np.ndarray, ref: int = 0) -> np.ndarray:
    """Souden MVDR: Phi_nn^-1 Phi_ss u_ref / tr(Phi_nn^-1 Phi_ss)."""
    a = np.linalg.solve(phi_nn, phi_ss)
    return a[..., ref] / np.real(np.trace(a, axis1=1, axis2=2))[:, None]


def apply_weights(w: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """z(t, f) = w(f)^H y(t, f): w (F, M), Y (M, T, F) -> (T, F)."""
    return np.einsum("fm,mtf->tf", w.conj(), Y)


class _Beamformer:
    name = "beamformer"
    sample_rate: int | None = None
    causal = False
    multichannel = True
    kind = "das"

    def __init__(self, mic_positions=None, doa=None, ref_channel: int = 0, postfilter: str | None = "logmmse",
                 frame_ms: float = 64.0, overlap: int = 4, loading: float = 1e-3):
        if (mic_positions is None) != (doa is None):
            raise ValueError("give both mic_positions and doa for geometric steering, or neither for blind "
                             "(mask-based) steering")
        self.mic_positions = None if mic_positions is None else np.asarray(mic_positions, dtype=np.float64)
        self.doa = doa
        self.ref = ref_channel
        self.postfilter = postfilter
        self.frame_ms, self.overlap, self.loading = frame_ms, overlap, loading
        self._post = ENHANCERS.get(postfilter) if postfilter else None

    def weights(self, Y: np.ndarray, sr: int, n_fft: int, hop: int) -> np.ndarray:
        m = Y.shape[0]
        freqs = np.fft.rfftfreq(n_fft, 1.0 / sr)
        if self.mic_positions is not None:
            if self.mic_positions.shape[-1] != m:
                raise ValueError(f"{self.name}: mic_positions has {self.mic_positions.shape[-1]} microphones "
                                 f"but the signal has {m} channels")
            d = steering_vector(self.mic_positions, self.doa, freqs, self.ref)
            if self.kind == "das":
                return das_weights(d)
            p = speech_mask(Y, hop / sr)
            return mvdr_weights(d, covariance(Y, 1.0 - p, self.loading))
        p = speech_mask(Y, hop / sr)
        phi_ss = covariance(Y, p, self.loading)
        phi_nn = covariance(Y, 1.0 - p, self.loading)
        if self.kind == "das":
            return das_weights(principal_rtf(phi_ss, phi_nn, self.ref))
        return mvdr_souden(phi_ss, phi_nn, self.ref)

    def beamform(self, x: np.ndarray, sr: int) -> np.ndarray:
        """(channels, samples) -> beamformed (samples,), before the post-filter."""
        x = np.atleast_2d(np.asarray(x, dtype=np.float32))
        if not 0 <= self.ref < x.shape[0]:
            raise ValueError(f"{self.name}: reference channel {self.ref} but the signal has {x.shape[0]} channels")
        n_fft, hop = frame_sizes(sr, self.frame_ms, self.overlap)
        Y = stft_mc(x, n_fft, hop)
        z = apply_weights(self.weights(Y, sr, n_fft, hop), Y)
        return istft_mc(z[None], n_fft, hop, x.shape[1])[0]

    def enhance_multichannel(self, x: np.ndarray, sr: int) -> np.ndarray:
        """(channels, samples) -> (1, samples): beamformer, then the post-filter."""
        x = np.atleast_2d(np.asarray(x, dtype=np.float32))
        z = self.beamform(x, sr) if x.shape[0] > 1 else x[0]
        if self._post is not None:
            z = self._post.enhance(z, sr)
        return np.asarray(z, dtype=np.float32)[None]

    def enhance(self, x: np.ndarray, sr: int) -> np.ndarray:
        x = np.asarray(x, dtype=np.float32)
        if x.ndim != 1:
            raise ValueError(f"{self.name}.enhance expects mono (samples,); use enhance_multichannel")
        return self.enhance_multichannel(x[None], sr)[0]

    def stream(self, sr: int) -> BufferedStream:
        return BufferedStream(lambda x: self.enhance(x, sr))

    def stream_multichannel(self, sr: int, channels: int) -> BufferedStream:
        return BufferedStream(lambda x: self.enhance_multichannel(x, sr))


@ENHANCERS.register("delay-and-sum", "delay-and-sum beamformer (geometric or blind eigenvector steering) + "
                                     "log-MMSE post-filter (multichannel, offline)")
class DelayAndSum(_Beamformer):
    """Delay-and-sum: steer to ``doa`` with ``mic_positions``, or blindly to the dominant speech RTF."""

    name = "delay-and-sum"
    kind = "das"


@ENHANCERS.register("mvdr", "MVDR beamformer (steered, or Souden mask-based) + log-MMSE post-filter "
                            "(multichannel, offline)")
class Mvdr(_Beamformer):
    """MVDR: Capon with a steering vector, or Souden's RTF-free form from mask-based covariances."""

    name = "mvdr"
    kind = "mvdr"
