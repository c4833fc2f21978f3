"""Short-time Fourier analysis/synthesis as a *stream*: samples in, samples out, state carried.

Every STFT-domain enhancer in voxclean runs through :class:`StftStream`, offline included
(offline = one ``push`` of the whole signal + ``flush``), so streaming and offline outputs are the
same computation and agree to float precision whatever the block sizes.

Analysis/synthesis (weighted overlap-add)::

    Y_l[k] = sum_n  w_a[n] x[n + l*H - (N - H)] e^{-2j pi k n / N}       frame l, hop H, size N
    y[n]   = sum_l  w_s[n - l*H + (N - H)] IDFT(G_l * Y_l)[n - l*H + (N - H)]

with a periodic square-root Hann analysis window ``w_a`` and the synthesis window
``w_s[n] = w_a[n] / sum_m w_a[n + mH]^2`` so that identity processing reconstructs ``x`` exactly
(Griffin & Lim 1984). Frames start ``N - H`` samples before the signal (zero history), so the
output is available with an algorithmic latency of ``N - H`` samples; the stream removes that delay
so its output is time-aligned with its input and, after :meth:`StftStream.flush`, of equal length.
"""
from __future__ import annotations

from typing import Protocol

import numpy as np


class FrameProcessor(Protocol):
    """Processes consecutive STFT frames in order, carrying its own state between calls."""

    def process(self, spec: np.ndarray) -> np.ndarray:
        """spec: complex (n_frames, n_bins) -> complex (n_frames, n_bins)."""


def frame_sizes(sr: int, frame_ms: float = 32.0, overlap: int = 2) -> tuple[int, int]:
    """FFT size (power of two nearest ``frame_ms``) and hop ``n_fft // overlap`` for a rate."""
    n_fft = int(2 ** round(np.log2(frame_ms * 1e-3 * sr)))
    return n_fft, n_fft // overlap


def sqrt_hann(n_fft: int) -> np.ndarray:
    return np.sqrt(0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n_fft) / n_fft)).astype(np.float64)


def synthesis_window(analysis: np.ndarray, hop: int) -> np.ndarray:
    n_fft = len(analysis)
    norm = np.zeros(n_fft)
    for shift in range(0, n_fft, hop):
        norm += np.roll(analysis ** 2, shift)
    return analysis / np.maximum(norm, 1e-12)


class StftStream:
    """Streaming STFT -> processor -> inverse STFT with overlap-add.

    ``push(x)`` accepts any number of samples and returns every output sample that is complete,
    aligned with the input (the first ``latency`` samples are delayed, not lost); ``flush()``
    returns the rest so that the total output length equals the total input length.
    """

    def __init__(self, processor: FrameProcessor, n_fft: int, hop: int):
        if n_fft % hop:
            raise ValueError(f"n_fft ({n_fft}) must be a multiple of hop ({hop})")
        self.processor, self.n_fft, self.hop = processor, n_fft, hop
        self.ratio = n_fft // hop
        self.win_a = sqrt_hann(n_fft)
        self.win_s = synthesis_window(self.win_a, hop)
        self.latency = n_fft - hop
        self._inbuf = np.zeros(n_fft - hop)          # zero history before the first sample
        self._pending = np.zeros((self.ratio - 1, hop))  # overlap-add tail not yet complete
        self._to_drop = self.latency                 # output samples that precede time 0
        self._n_in = 0
        self._n_out = 0
        self._done = False

    def _run_frames(self) -> np.ndarray:
        n, h = self.n_fft, self.hop
        n_frames = 1 + (len(self._inbuf) - n) // h if len(self._inbuf) >= n else 0
        if n_frames <= 0:
            return np.zeros(0)
        frames = np.lib.stride_tricks.sliding_window_view(self._inbuf, n)[::h][:n_frames]
        spec = np.fft.rfft(frames * self.win_a, axis=1)
        out = np.fft.irfft(self.processor.process(spec), n=n, axis=1) * self.win_s
        # overlap-add: hop-sized slices of each frame land in consecutive output hops
        acc = np.zeros((n_frames + self.ratio - 1, h))
        acc[: self.ratio - 1] += self._pending
        for r in range(self.ratio):
            acc[r:r + n_frames] += out[:, r * h:(r + 1) * h]
        self._pending = acc[n_frames:].copy()
        self._inbuf = self._inbuf[n_frames * h:]
        y = acc[:n_frames].reshape(-1)
        if self._to_drop:
            k = min(self._to_drop, len(y))
            y, self._to_drop = y[k:], self._to_drop - k
        return y

    def push(self, x: np.ndarray) -> np.ndarray:
        if self._done:
            raise RuntimeError("stream already flushed; create a new one")
        x = np.asarray(x, dtype=np.float64).reshape(-1)
        self._n_in += len(x)
        self._inbuf = np.concatenate([self._inbuf, x])
        y = self._run_frames()
        self._n_out += len(y)
        return y.astype(np.float32)

    def flush(self) -> np.ndarray:
        """Process the zero-padded tail and return the remaining aligned samples."""
        need = self._n_in - self._n_out
        self._inbuf = np.concatenate([self._inbuf, np.zeros(self.n_fft + self.hop)])
        y = self._run_frames()[:need]
        self._n_out += len(y)
        self._done = True
        return y.astype(np.float32)


def stft(x: np.ndarray, n_fft: int, hop: int) -> np.ndarray:
    """Analysis frames of :class:`StftStream` for a whole signal: complex (n_frames, n_fft//2+1)."""
    buf = np.concatenate([np.zeros(n_fft - hop), np.asarray(x, dtype=np.float64), np.zeros(n_fft)])
    frames = np.lib.stride_tricks.sliding_window_view(buf, n_fft)[::hop]
    return np.fft.rfft(frames * sqrt_hann(n_fft), axis=1)
