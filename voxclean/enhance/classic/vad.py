"""The seed-002 voice activity detector: weighted frame level, dual-time-constant noise floor, hysteresis.

Seed 002 (Colbois & Desarzens, "Speech enhancement by Wiener filtering", EPFL 2018-19, §3.2), per
analysis frame ``n`` with K-point DFT ``Y_k^(n)``:

    L^(n)     = sqrt( (1/K) sum_{k=0}^{K-1} (W_k |Y_k^(n)|)^2 )                  §3.2.1 weighted level

    L_min^(n) = (1 - T/tau_up)   L_min^(n-1) + T/tau_up   L^(n)   if L^(n) >  L_min^(n-1)
                (1 - T/tau_down) L_min^(n-1) + T/tau_down L^(n)   if L^(n) <= L_min^(n-1)   §3.2.2

    V^(n) = 0         if L^(n) / L_min^(n) < T_down
            1         if L^(n) / L_min^(n) > T_up                                   §3.2.3 hysteresis
            V^(n-1)   otherwise

Parameters keep the seed's names: ``T`` is the frame period (the STFT hop, in seconds), ``tau_up``
(slow: the floor creeps up while speech or louder noise is present) and ``tau_down`` (fast: it falls
at once to a quieter noise) in seconds, and the amplitude-ratio thresholds ``t_up > t_down``.
``T / tau`` is clipped to 1 so a time constant shorter than a frame means "follow the level".

The weighting ``W_k`` is the seed's suggestion made concrete: a high-pass (noise energy sits low in
the spectrum) and a gentle low-pass that keep the speech band, as the magnitude response of
second-order Butterworth sections, ``W(f) = 1/sqrt(1 + (f_lo/f)^4) * 1/sqrt(1 + (f/f_hi)^4)``.
The sum runs over the full circle of ``K`` bins (the negative-frequency half mirrors the positive
one).

Undefined in the seed, fixed here: ``L_min`` starts as the running mean of the levels of the first
``init_s`` seconds of frames, which are declared noise (V = 0); ``V^(-1) = 0``. The defaults
(``tau_up = 10 s``, ``tau_down = 50 ms``, ``T_up = 2``, ``T_down = 1.15``, band 300-3400 Hz) were chosen
on training mixtures only (LibriSpeech train-clean-100 + UrbanSound8K/Hu100 noise, 0-15 dB, 8 kHz) by
the NB-PESQ of the iterative Wiener filter this VAD feeds, with frame accuracy against labels from the
clean speech as a check (``scripts/tune_iterative_wiener.py``). A slow ``tau_up`` matters most: with
``tau_up = 1-2 s`` the floor climbs into long utterances and speech gets labelled noise. The seed itself
notes (§3.2.4) that this detector works well at high SNR and degrades at low SNR.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from voxclean.audio.stft import frame_sizes, stft
from voxclean.enhance.classic.lpc import full_circle_mean


def band_weights(sr: int, n_fft: int, f_lo: float = 300.0, f_hi: float = 3400.0) -> np.ndarray:
    """``W_k`` on the rfft grid: Butterworth (order 2) high-pass at ``f_lo`` times low-pass at ``f_hi``."""
    f = np.fft.rfftfreq(n_fft, 1.0 / sr)
    with np.errstate(divide="ignore"):
        hp = 1.0 / np.sqrt(1.0 + (f_lo / np.maximum(f, 1e-9)) ** 4) if f_lo > 0 else np.ones_like(f)
    lp = 1.0 / np.sqrt(1.0 + (f / f_hi) ** 4) if f_hi < sr / 2 else np.ones_like(f)
    return hp * lp


def floor_track(level: np.ndarray, prev: float, t_over_tau_up: float, t_over_tau_down: float) -> np.ndarray:
    """Seed §3.2.2 dual-time-constant integrator over a sequence of levels, starting from ``prev``."""
    out = np.empty(len(level))
    cu, cd = min(t_over_tau_up, 1.0), min(t_over_tau_down, 1.0)
    for n, lv in enumerate(level.tolist()):
        c = cu if lv > prev else cd
        prev = (1.0 - c) * prev + c * lv
        out[n] = prev
    return out


def hysteresis(ratio: np.ndarray, t_up: float, t_down: float, prev: int = 0) -> np.ndarray:
    """Seed §3.2.3: 0 below ``t_down``, 1 above ``t_up``, otherwise the previous decision."""
    out = np.empty(len(ratio), dtype=np.int8)
    for n, q in enumerate(ratio.tolist()):
        if q < t_down:
            prev = 0
        elif q > t_up:
            prev = 1
        out[n] = prev
    return out


@dataclass
class VadFrames:
    """Per-frame outputs of :class:`SeedVad` (all arrays of length n_frames)."""
    level: np.ndarray      # L^(n)
    floor: np.ndarray      # L_min^(n)
    decision: np.ndarray   # V^(n) in {0, 1}

    @property
    def ratio(self) -> np.ndarray:
        return self.level / np.maximum(self.floor, 1e-20)


class SeedVad:
    """Frame-wise, causal seed-002 VAD; state (``L_min``, ``V``) is carried between :meth:`update` calls,
    so feeding the frames in any grouping gives the same decisions."""

    def __init__(self, sr: int, n_fft: int, hop: int, tau_up: float = 10.0, tau_down: float = 0.05,
                 t_up: float = 2.0, t_down: float = 1.15, f_lo: float = 300.0, f_hi: float = 3400.0,
                 init_s: float = 0.1):
        if not t_up >= t_down > 0:
            raise ValueError(f"need t_up >= t_down > 0, got t_up={t_up}, t_down={t_down}")
        if tau_up <= 0 or tau_down <= 0:
            raise ValueError(f"time constants must be positive, got tau_up={tau_up}, tau_down={tau_down}")
        self.sr, self.n_fft, self.hop = sr, n_fft, hop
        self.T = hop / sr
        self.tau_up, self.tau_down, self.t_up, self.t_down = tau_up, tau_down, t_up, t_down
        self.weights = band_weights(sr, n_fft, f_lo, f_hi)
        self.init_frames = max(1, int(round(init_s / self.T)))
        self.floor = 0.0
        self.decision = 0
        self._seen = 0

    def level(self, spec: np.ndarray) -> np.ndarray:
        """Seed §3.2.1 weighted level of each frame: spec (n_frames, n_bins) complex -> (n_frames,)."""
        wp = (self.weights ** 2) * (spec.real ** 2 + spec.imag ** 2)
        return np.sqrt(full_circle_mean(wp, self.n_fft))

    def update(self, spec: np.ndarray) -> VadFrames:
        """Run consecutive frames (n_frames, n_bins) through the detector, carrying state."""
        lv = self.level(spec)
        n = len(lv)
        floor = np.empty(n)
        dec = np.zeros(n, dtype=np.int8)
        i = 0
        while i < n and self._seen < self.init_frames:   # initial frames: floor = running mean, V = 0
            self._seen += 1
            self.floor += (lv[i] - self.floor) / self._seen
            floor[i] = self.floor
            i += 1
        if i < n:
            floor[i:] = floor_track(lv[i:], self.floor, self.T / self.tau_up, self.T / self.tau_down)
            self.floor = float(floor[-1])
            ratio = lv[i:] / np.maximum(floor[i:], 1e-20)
            dec[i:] = hysteresis(ratio, self.t_up, self.t_down, self.decision)
            self.decision = int(dec[-1])
        return VadFrames(lv, floor, dec)


class VadNoisePsd:
    """Noise PSD from the seed-002 VAD (seed §3.3): a causal recursive average of the periodograms of
    the frames the VAD calls noise,

        lambda_k(n) = a lambda_k(n-1) + (1 - a) |Y_k(n)|^2   if V(n) = 0,   else lambda_k(n-1),

    with ``a = exp(-T / tau_noise)``, replaced by ``1 - 1/m`` over the first ``m`` noise frames (a
    running mean, so the first estimate is not biased towards zero). The first frame always counts
    as noise. ``decision`` holds the last block's VAD decisions."""

    def __init__(self, sr: int, n_fft: int, hop: int, tau_noise: float = 0.5, **vad_params):
        self.vad = SeedVad(sr, n_fft, hop, **vad_params)
        self.alpha = float(np.exp(-(hop / sr) / tau_noise))
        self.psd = np.zeros(n_fft // 2 + 1)
        self.count = 0
        self.decision = np.zeros(0, dtype=np.int8)

    def update(self, spec: np.ndarray, power: np.ndarray | None = None) -> np.ndarray:
        """spec (n_frames, n_bins) complex -> noise PSD used for each frame (n_frames, n_bins)."""
        power = spec.real ** 2 + spec.imag ** 2 if power is None else power
        self.decision = self.vad.update(spec).decision
        out = np.empty(power.shape)
        for i in range(len(power)):
            if self.decision[i] == 0 or self.count == 0:
                self.count += 1
                a = min(self.alpha, 1.0 - 1.0 / self.count)
                self.psd = a * self.psd + (1.0 - a) * power[i]
            out[i] = self.psd
        return np.maximum(out, 1e-20)


def vad(x: np.ndarray, sr: int, frame_ms: float = 32.0, overlap: int = 2,
        **params) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Seed-002 VAD on a whole mono signal.

    Returns ``(times, ratio, decision)``: frame-centre times in seconds, the level-to-floor ratio
    ``L/L_min`` (the detector's soft output) and the speech decision ``V`` (0/1), one per frame of
    the voxclean STFT (square-root-Hann frames of ``frame_ms``, hop ``n_fft // overlap``).
    ``params`` go to :class:`SeedVad` (``tau_up``, ``tau_down``, ``t_up``, ``t_down``, ``f_lo``, ``f_hi``).
    """
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 1:
        raise ValueError(f"vad expects mono (samples,), got shape {x.shape}")
    n_fft, hop = frame_sizes(sr, frame_ms, overlap)
    spec = stft(x, n_fft, hop)
    n_frames = max(1, -(-len(x) // hop))   # frames whose last hop ends inside the signal
    spec = spec[:n_frames]
    frames = SeedVad(sr, n_fft, hop, **params).update(spec)
    # frame l spans samples [l*hop - (n_fft - hop), l*hop + hop): centre at l*hop + hop - n_fft/2
    times = (np.arange(n_frames) * hop + hop - n_fft / 2) / sr
    return np.maximum(times, 0.0), frames.ratio, frames.decision


def segments(times: np.ndarray, decision: np.ndarray, hop_s: float) -> list[tuple[float, float]]:
    """Speech segments ``[(start_s, end_s), ...]`` from per-frame decisions; each frame stands for the
    ``hop_s`` seconds centred on its time."""
    d = np.concatenate([[0], np.asarray(decision, dtype=np.int8), [0]])
    starts = np.flatnonzero(np.diff(d) == 1)
    ends = np.flatnonzero(np.diff(d) == -1) - 1
    return [(max(0.0, float(times[a]) - hop_s / 2), float(times[b]) + hop_s / 2) for a, b in zip(starts, ends)]
