"""Multichannel STFT helpers shared by WPE and the beamformers.

The framing, windows and latency compensation are those of :class:`voxclean.audio.stft.StftStream`
(square-root Hann analysis, the matching synthesis window, frames starting ``n_fft - hop`` samples
before the signal), extended to ``(channels, samples)``:

* :func:`stft_mc` / :func:`istft_mc` -- whole-signal analysis ``(C, S) -> (C, T, F)`` and synthesis
  back to ``(C, S)``; ``istft_mc(stft_mc(x))`` reconstructs ``x`` to float precision.
* :class:`MultiStftStream` -- samples in, samples out for a causal processor that maps
  ``(C_in, n_frames, F) -> (C_out, n_frames, F)``; pushing a whole signal once equals pushing it in
  any blocks. With one channel it computes exactly what ``StftStream`` computes.
* :class:`BufferedStream` -- the stream of a non-causal method: it keeps everything and answers at
  ``flush`` (latency = the whole signal), so every enhancer has a ``stream``.
"""
from __future__ import annotations

from typing import Callable, Protocol

import numpy as np

from voxclean.audio.stft import sqrt_hann, stft, synthesis_window


class MultiFrameProcessor(Protocol):
    def process(self, spec: np.ndarray) -> np.ndarray:
        """spec: complex (C_in, n_frames, n_bins) -> complex (C_out, n_frames, n_bins)."""


def stft_mc(x: np.ndarray, n_fft: int, hop: int) -> np.ndarray:
    """(channels, samples) -> complex (channels, frames, n_fft // 2 + 1); frames as in ``StftStream``."""
    x = np.atleast_2d(np.asarray(x, dtype=np.float64))
    return np.stack([stft(ch, n_fft, hop) for ch in x])


def istft_mc(spec: np.ndarray, n_fft: int, hop: int, length: int) -> np.ndarray:
    """Weighted overlap-add of (channels, frames, bins) back to (channels, length) float32."""
    spec = np.asarray(spec)
    if spec.ndim == 2:
        spec = spec[None]
    win_s = synthesis_window(sqrt_hann(n_fft), hop)
    frames = np.fft.irfft(spec, n=n_fft, axis=-1) * win_s
    c, t, _ = frames.shape
    out = np.zeros((c, (t - 1) * hop + n_fft))
    for r in range(n_fft // hop):                    # hop-sized slices of every frame, vectorised
        seg = frames[:, :, r * hop:(r + 1) * hop]
        out[:, r * hop:r * hop + t * hop] += seg.reshape(c, -1)
    lat = n_fft - hop
    y = out[:, lat:lat + length]
    if y.shape[1] < length:
        y = np.pad(y, ((0, 0), (0, length - y.shape[1])))
    return y.astype(np.float32)


class MultiStftStream:
    """:class:`~voxclean.audio.stft.StftStream` for (channels, samples) blocks."""

    def __init__(self, processor: MultiFrameProcessor, n_fft: int, hop: int, channels: int):
        if n_fft % hop:
            raise ValueError(f"n_fft ({n_fft}) must be a multiple of hop ({hop})")
        self.processor, self.n_fft, self.hop, self.channels = processor, n_fft, hop, channels
        self.ratio = n_fft // hop
        self.win_a = sqrt_hann(n_fft)
        self.win_s = synthesis_window(self.win_a, hop)
        self.latency = n_fft - hop
        self._inbuf = np.zeros((channels, n_fft - hop))
        self._pending: np.ndarray | None = None         # (C_out, ratio - 1, hop)
        self._to_drop = self.latency
        self._n_in = self._n_out = 0
        self._done = False

    def _run_frames(self) -> np.ndarray | None:
        n, h = self.n_fft, self.hop
        length = self._inbuf.shape[1]
        n_frames = 1 + (length - n) // h if length >= n else 0
        if n_frames <= 0:
            return None
        frames = np.lib.stride_tricks.sliding_window_view(self._inbuf, n, axis=1)[:, ::h][:, :n_frames]
        spec = np.fft.rfft(frames * self.win_a, axis=-1)
        out = np.fft.irfft(self.processor.process(spec), n=n, axis=-1) * self.win_s
        c_out = out.shape[0]
        if self._pending is None:
            self._pending = np.zeros((c_out, self.ratio - 1, h))
        acc = np.zeros((c_out, n_frames + self.ratio - 1, h))
        acc[:, : self.ratio - 1] += self._pending
        for r in range(self.ratio):
            acc[:, r:r + n_frames] += out[:, :, r * h:(r + 1) * h]
        self._pending = acc[:, n_frames:].copy()
        self._inbuf = self._inbuf[:, n_frames * h:]
        y = acc[:, :n_frames].reshape(c_out, -1)
        if self._to_drop:
            k = min(self._to_drop, y.shape[1])
            y, self._to_drop = y[:, k:], self._to_drop - k
        return y

    def push(self, x: np.ndarray) -> np.ndarray:
        if self._done:
            raise RuntimeError("stream already flushed; create a new one")
        x = np.asarray(x, dtype=np.float64)
        x = x.reshape(1, -1) if x.ndim == 1 else x
        if x.shape[0] != self.channels:
            raise ValueError(f"stream expects {self.channels} channels, got {x.shape[0]}")
        self._n_in += x.shape[1]
        self._inbuf = np.concatenate([self._inbuf, x], axis=1)
        y = self._run_frames()
        if y is None:
            return np.zeros((0 if self._pending is None else self._pending.shape[0], 0), np.float32)
        self._n_out += y.shape[1]
        return y.astype(np.float32)

    def flush(self) -> np.ndarray:
        need = self._n_in - self._n_out
        self._inbuf = np.concatenate([self._inbuf, np.zeros((self.channels, self.n_fft + self.hop))], axis=1)
        y = self._run_frames()
        y = y[:, :need]
        self._n_out += y.shape[1]
        self._done = True
        return y.astype(np.float32)


class MonoAdapter:
    """Presents a (1-channel) :class:`MultiStftStream` with the mono ``push``/``flush`` interface."""

    def __init__(self, stream: MultiStftStream):
        self.stream = stream
        self.latency = stream.latency

    def push(self, x: np.ndarray) -> np.ndarray:
        y = self.stream.push(np.asarray(x).reshape(1, -1))
        return y[0] if y.shape[0] else np.zeros(0, np.float32)

    def flush(self) -> np.ndarray:
        return self.stream.flush()[0]


class BufferedStream:
    """Stream for a non-causal method: ``push`` stores and returns nothing; ``flush`` runs ``fn`` on
    everything pushed and returns the whole output (its latency is the whole signal)."""

    latency = -1                                   # unbounded

    def __init__(self, fn: Callable[[np.ndarray], np.ndarray]):
        self.fn = fn
        self._parts: list[np.ndarray] = []

    def push(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float32)
        self._parts.append(x)
        return np.zeros(x.shape[:-1] + (0,), np.float32)

    def flush(self) -> np.ndarray:
        if not self._parts:
            return np.zeros(0, np.float32)
        return self.fn(np.concatenate(self._parts, axis=-1))
