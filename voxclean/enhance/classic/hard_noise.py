"""Hard noise types (seed 001, section 22): impulsive clicks and wind/rumble. Enhancers ``declick``, ``dewind``.

Both also serve as pre-stages of ``mmse-stsa`` / ``logmmse`` (``declick=True``, ``highpass="auto"``).

Declicking (:class:`Declicker`) -- detection by the residual of a short-time autoregressive model and
least-squares AR interpolation (Vaseghi & Rayner, "Detection and suppression of impulsive noise in
speech communication systems", IEE Proc. I 137(1), 1990; Godsill & Rayner, *Digital Audio Restoration*,
1998, ch. 5). Per window of ``x``:

    a      = argmin sum_n (x[n] - sum_k a_k x[n-k])^2          order-p AR fit (autocorrelation method)
    e[n]   = x[n] - sum_{k=1..p} a_k x[n-k]                     prediction residual
    click  : |e[n]| > K * 1.4826 * median|e|                    robust (MAD) threshold, K = ``threshold``
    x_u    = -(A_u^T A_u)^{-1} A_u^T A_k x_k                    LSAR: the flagged samples x_u minimise
                                                                the excitation energy ||A x||^2 given the
                                                                known samples x_k (A: convolution by [1, -a])

Detection and interpolation run twice (the AR model is refitted on the first restoration, so a click
does not bias its own detector). Runs of flagged samples longer than ``max_click_ms`` are left alone:
they are speech events (plosive onsets), not clicks. Processing is on a fixed grid of blocks with
``context`` samples on both sides, so the streaming output equals the offline output exactly; the
look-ahead (latency) is ``block + context`` samples.

Wind and rumble (:class:`DewindGain`) -- an adaptive high-pass applied as a per-frame STFT gain::

    L(l)    = a L(l-1) + (1 - a) mean_{300..3000 Hz} |Y|^2       long-term speech-band level, 2 s
    lam(f)  = noise PSD below 2 kHz (MMSE/SPP tracker)          wind is persistent, speech is not
    f_t     = max { f in [40, 400] Hz : lam(f) > L * 10^(T/10) } low-frequency noise above speech
                                                                level, T = 6 dB
    fc      = clip(f_t, 60, 300) smoothed in log-frequency, 50 ms attack / 500 ms release
    H(f)    = 1 / sqrt(1 + (fc / f)^(2 n))                       order-n Butterworth magnitude

so clean speech keeps a 60 Hz rumble filter and wind raises the cut-off smoothly towards 300 Hz.
``cutoff=`` fixes it instead. The gain is real and per frame: causal, no extra latency.
"""
from __future__ import annotations

import functools

import numpy as np
from scipy.linalg import solve_toeplitz
from scipy.signal import lfilter

from voxclean.enhance.base import ENHANCERS, SpectralEnhancer
from voxclean.enhance.classic.noise_psd import MmseNoiseTracker


# ---------------------------------------------------------------------------------------- declick
@functools.lru_cache(maxsize=8)
def _hann(n: int) -> np.ndarray:
    return np.hanning(n)


def ar_fit(x: np.ndarray, order: int) -> np.ndarray:
    """AR coefficients ``a_1..a_p`` (x[n] ~ sum a_k x[n-k]) by the autocorrelation method on a
    Hann-weighted copy of ``x``, with a tiny diagonal load for silent windows."""
    w = x * _hann(len(x))
    n = len(w)
    spec = np.fft.rfft(w, 2 * n)
    r = np.fft.irfft(spec.real ** 2 + spec.imag ** 2)[: order + 1]
    r[0] = r[0] * (1 + 1e-6) + 1e-12
    return solve_toeplitz(r[:order], r[1:order + 1])


def lsar_interpolate(x: np.ndarray, a: np.ndarray, unknown: np.ndarray) -> np.ndarray:
    """Least-squares AR interpolation of ``x[unknown]`` (sorted indices, each at least ``p`` samples
    from both ends of ``x``). With ``c = [1, -a]`` and its autocorrelation ``r_c``, every row of
    ``A^T A`` that belongs to an unknown sample is the Toeplitz row ``r_c(|i - j|)``, so the normal
    equations are ``R_uu x_u = -(R_uk x_k)`` with ``(R_uk x_k)[i] = sum_d r_c(|d|) x_k[i + d]``."""
    p = len(a)
    c = np.concatenate([[1.0], -a])
    r = np.correlate(c, c, mode="full")               # r_c(-p..p), symmetric
    known = x.copy()
    known[unknown] = 0.0
    rhs = np.convolve(known, r, mode="same")[unknown]
    d = np.abs(unknown[:, None] - unknown[None, :])
    R = np.where(d <= p, r[p + np.minimum(d, p)], 0.0)
    y = x.copy()
    y[unknown] = -np.linalg.solve(R + 1e-9 * r[p] * np.eye(len(unknown)), rhs)
    return y


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """[start, stop) of each run of True in ``mask``."""
    d = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(d == 1), np.flatnonzero(d == -1)))


class Declicker:
    """Detect and interpolate clicks in one window (see the module docstring)."""

    def __init__(self, sr: int, order: int | None = None, threshold: float = 6.0, max_click_ms: float = 4.0,
                 passes: int = 2):
        self.order = order or int(round(sr / 1000)) + 4
        self.threshold, self.passes = threshold, passes
        self.max_len = max(int(max_click_ms * 1e-3 * sr), 1)
        self.sub = max(int(round(2.5e-3 * sr)), 8)     # 2.5 ms pieces for the local scale,
        self.spread = 2                                # taken over +-5 ms
        self.merge = max(int(round(1e-3 * sr)), 2)     # join flags up to 1 ms apart
        self.widen = max(int(round(0.25e-3 * sr)), 1)  # and widen each run by 0.25 ms

    def local_scale(self, e: np.ndarray) -> np.ndarray:
        """Robust residual scale per sample: the MAD-based sigma of each ``sub``-sample piece, then the
        maximum over the neighbouring ``2 * spread + 1`` pieces (voiced speech raises its own scale)."""
        n, sub = len(e), self.sub
        m = -(-n // sub)
        med = np.median(np.pad(np.abs(e), (0, m * sub - n), mode="edge").reshape(m, sub), axis=1)
        k = self.spread
        padded = np.concatenate([np.full(k, -np.inf), med, np.full(k, -np.inf)])
        wide = np.lib.stride_tricks.sliding_window_view(padded, 2 * k + 1).max(axis=1)
        floor = np.median(np.abs(e)) * 0.5 + 1e-9
        return np.repeat(1.4826 * np.maximum(wide, floor), sub)[:n]

    def detect(self, x: np.ndarray, a: np.ndarray) -> np.ndarray:
        p = len(a)
        e = lfilter(np.concatenate([[1.0], -a]), [1.0], x)
        e[:p] = 0.0                               # warm-up of the predictor
        flag = np.abs(e) > self.threshold * self.local_scale(e)
        # a click's residual shows its onset and its end (a smooth tail in between is predictable):
        # join flags less than ``merge`` samples apart, then widen each run by ``widen`` samples
        idx = np.flatnonzero(flag)
        if len(idx) > 1:
            for s, t in zip(idx[:-1], idx[1:]):
                if 1 < t - s <= self.merge:
                    flag[s:t] = True
        if self.widen and flag.any():
            k = self.widen
            grown = np.convolve(flag.astype(np.int8), np.ones(2 * k + 1, np.int8), mode="same") > 0
            flag = grown
        return flag

    def restore(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Returns the restored window and the mask of interpolated samples."""
        x = np.asarray(x, dtype=np.float64)
        y, p = x.copy(), self.order
        done = np.zeros(len(x), bool)
        if len(x) < 4 * p or not np.any(x):
            return y, done
        for _ in range(self.passes):
            a = ar_fit(y, p)
            flag = self.detect(x, a)
            runs = [(s, e) for s, e in _runs(flag) if e - s <= self.max_len and s >= p and e <= len(x) - p]
            if not runs:
                break
            y = x.copy()
            done[:] = False
            # clusters of runs closer than p samples are interpolated jointly
            i = 0
            while i < len(runs):
                j = i
                while j + 1 < len(runs) and runs[j + 1][0] - runs[j][1] < p:
                    j += 1
                lo, hi = runs[i][0] - p, runs[j][1] + p
                if lo >= 0 and hi <= len(x):
                    unknown = np.concatenate([np.arange(s, e) for s, e in runs[i:j + 1]]) - lo
                    y[lo:hi] = lsar_interpolate(y[lo:hi], a, unknown)
                    for s, e in runs[i:j + 1]:
                        done[s:e] = True
                i = j + 1
        return y, done


class DeclickStream:
    """Fixed-grid block processing of :class:`Declicker`: block ``k`` of ``block`` samples is restored
    from the window ``[k*block - context, (k+1)*block + context)`` (zeros outside the signal), so the
    output is the same whatever the push sizes. Output is aligned with input; ``flush`` completes it."""

    def __init__(self, sr: int, block_ms: float = 64.0, context_ms: float = 8.0, **kwargs):
        self.declicker = Declicker(sr, **kwargs)
        self.block = int(round(block_ms * 1e-3 * sr))
        self.context = max(int(round(context_ms * 1e-3 * sr)), 2 * self.declicker.order + self.declicker.max_len)
        self.latency = self.block + self.context
        self._buf = np.zeros(self.context)          # zero history
        self._n_in = self._n_out = 0
        self._done = False

    def _run(self) -> np.ndarray:
        out = []
        span = self.block + 2 * self.context
        while len(self._buf) >= span:
            y, _ = self.declicker.restore(self._buf[:span])
            out.append(y[self.context:self.context + self.block])
            self._buf = self._buf[self.block:]
        return np.concatenate(out) if out else np.zeros(0)

    def push(self, x: np.ndarray) -> np.ndarray:
        if self._done:
            raise RuntimeError("stream already flushed; create a new one")
        x = np.asarray(x, dtype=np.float64).reshape(-1)
        self._n_in += len(x)
        self._buf = np.concatenate([self._buf, x])
        y = self._run()
        self._n_out += len(y)
        return y.astype(np.float32)

    def flush(self) -> np.ndarray:
        need = self._n_in - self._n_out
        self._buf = np.concatenate([self._buf, np.zeros(self.block + 2 * self.context)])
        y = self._run()[:need]
        self._n_out += len(y)
        self._done = True
        return y.astype(np.float32)


class ChainStream:
    """Streams in series; each stage's output is time-aligned with its input, so the chain's is too."""

    def __init__(self, stages: list):
        self.stages = stages
        self.latency = sum(int(getattr(s, "latency", 0)) for s in stages)

    def push(self, x: np.ndarray) -> np.ndarray:
        for s in self.stages:
            x = s.push(x)
        return x

    def flush(self) -> np.ndarray:
        y = np.zeros(0, np.float32)
        for s in self.stages:
            y = np.concatenate([s.push(y), s.flush()]) if len(y) else s.flush()
        return y


@ENHANCERS.register("declick", "impulsive-noise remover: AR-residual click detection + least-squares AR "
                               "interpolation (causal, 72 ms look-ahead, any rate)")
class Declick:
    """Removes clicks and pops; everything else passes unchanged."""

    name = "declick"
    sample_rate = None
    causal = True

    def __init__(self, threshold: float = 6.0, order: int | None = None, max_click_ms: float = 4.0,
                 block_ms: float = 64.0):
        self.kw = dict(threshold=threshold, order=order, max_click_ms=max_click_ms)
        self.block_ms = block_ms

    def stream(self, sr: int) -> DeclickStream:
        return DeclickStream(sr, block_ms=self.block_ms, **self.kw)

    def enhance(self, x: np.ndarray, sr: int) -> np.ndarray:
        x = np.asarray(x, dtype=np.float32)
        if x.ndim != 1:
            raise ValueError("declick.enhance expects mono (samples,); use enhance_signal for multichannel input")
        s = self.stream(sr)
        return np.concatenate([s.push(x), s.flush()])


# ----------------------------------------------------------------------------------------- dewind
class DewindGain:
    """Adaptive high-pass as a per-frame real gain (see the module docstring)."""

    def __init__(self, n_fft: int, sr: int, hop: int, cutoff: float | None = None, f_min: float = 60.0,
                 f_max: float = 300.0, order: int = 4, threshold_db: float = 6.0, attack_s: float = 0.05,
                 release_s: float = 0.5, level_tau_s: float = 2.0):
        self.freqs = np.fft.rfftfreq(n_fft, 1.0 / sr)
        self.fixed = cutoff
        self.f_min, self.f_max, self.order = f_min, f_max, order
        self.k_max = int(np.searchsorted(self.freqs, min(2000.0, sr / 2)))
        self.tracker = MmseNoiseTracker(self.k_max, hop / sr)
        self.speech_band = (self.freqs >= 300) & (self.freqs < min(3000.0, sr / 2))
        self.cand = np.flatnonzero((self.freqs >= 40) & (self.freqs <= 400))
        self.thr = 10 ** (threshold_db / 10)
        self.a_att = np.exp(-hop / sr / attack_s)
        self.a_rel = np.exp(-hop / sr / release_s)
        self.a_lvl = np.exp(-hop / sr / level_tau_s)
        self.n_lvl = int(np.ceil(level_tau_s * sr / hop))
        self.level = 0.0
        self._frames = 0
        self.log_fc = np.log(f_min)
        self.fc = f_min if cutoff is None else float(cutoff)
        with np.errstate(divide="ignore"):
            self._inv_f = np.where(self.freqs > 0, 1.0 / np.maximum(self.freqs, 1e-9), np.inf)

    def _target(self, power: np.ndarray) -> float:
        noise = self.tracker.update(power[: self.k_max])
        m = float(np.mean(power[self.speech_band])) if self.speech_band.any() else 0.0
        self._frames += 1
        if self._frames <= self.n_lvl:               # running mean until the recursion has memory
            self.level += (m - self.level) / self._frames
        else:
            self.level = self.a_lvl * self.level + (1 - self.a_lvl) * m
        above = self.cand[noise[self.cand] > self.thr * self.level]
        return float(np.clip(self.freqs[above[-1]], self.f_min, self.f_max)) if len(above) else self.f_min

    def gain(self, frame: np.ndarray) -> np.ndarray:
        if self.fixed is None:
            target = np.log(self._target(frame.real ** 2 + frame.imag ** 2))
            a = self.a_att if target > self.log_fc else self.a_rel
            self.log_fc = a * self.log_fc + (1 - a) * target
            self.fc = float(np.exp(self.log_fc))
        return 1.0 / np.sqrt(1.0 + (self.fc * self._inv_f) ** (2 * self.order))


class DewindProcessor:
    def __init__(self, gain: DewindGain):
        self.g = gain
        self.cutoffs: list[float] = []

    def process(self, spec: np.ndarray) -> np.ndarray:
        out = np.empty_like(spec)
        for i in range(spec.shape[0]):
            out[i] = spec[i] * self.g.gain(spec[i])
            self.cutoffs.append(self.g.fc)
        return out


@ENHANCERS.register("dewind", "wind/rumble remover: adaptive high-pass 60-300 Hz driven by the low-frequency "
                              "noise floor (causal, any rate)")
class Dewind(SpectralEnhancer):
    """Adaptive high-pass: the cut-off rises while low-frequency noise dominates, else stays at 60 Hz."""

    name = "dewind"

    def __init__(self, cutoff: float | None = None, f_min: float = 60.0, f_max: float = 300.0, order: int = 4,
                 threshold_db: float = 6.0, frame_ms: float = 64.0, overlap: int = 4):
        self.kw = dict(cutoff=cutoff, f_min=f_min, f_max=f_max, order=order, threshold_db=threshold_db)
        self.frame_ms, self.overlap = frame_ms, overlap

    def make_processor(self, sr: int, n_fft: int, hop: int) -> DewindProcessor:
        return DewindProcessor(DewindGain(n_fft, sr, hop, **self.kw))
