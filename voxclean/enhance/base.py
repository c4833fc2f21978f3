"""The Enhancer protocol, its streaming counterpart, and the registry of methods.

An enhancer maps degraded speech to cleaner speech at the same sample rate and length::

    y = enh.enhance(x, sr)                      # offline, x: (samples,) float32
    s = enh.stream(sr); y = [s.push(b) for b in blocks] + [s.flush()]   # streaming, same output

Causal STFT-domain methods derive from :class:`SpectralEnhancer` and only write a per-frame
processor; the shared :class:`voxclean.audio.stft.StftStream` gives them both modes.

Multichannel methods (WPE, beamformers) also set ``multichannel = True`` and provide
``enhance_multichannel(x, sr)`` with ``x`` of shape ``(channels, samples)``, returning
``(channels_out, samples)``, and ``stream_multichannel(sr, channels)``;
:func:`voxclean.enhance.apply.enhance_signal` routes multichannel input to them. Non-causal methods
set ``causal = False``; their ``stream`` (if any) buffers and is not real-time.
"""
from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np

from voxclean.audio.stft import FrameProcessor, StftStream, frame_sizes
from voxclean.registry import Registry


@runtime_checkable
class Stream(Protocol):
    latency: int

    def push(self, x: np.ndarray) -> np.ndarray: ...

    def flush(self) -> np.ndarray: ...


@runtime_checkable
class Enhancer(Protocol):
    name: str
    sample_rate: int | None   # native rate, None = any rate
    causal: bool

    def enhance(self, x: np.ndarray, sr: int) -> np.ndarray: ...

    def stream(self, sr: int) -> Stream: ...


class SpectralEnhancer:
    """Base for causal STFT-domain enhancers: subclasses implement :meth:`make_processor`."""

    name = "spectral"
    sample_rate: int | None = None
    causal = True
    frame_ms = 32.0
    overlap = 2

    def make_processor(self, sr: int, n_fft: int, hop: int) -> FrameProcessor:
        raise NotImplementedError

    def stream(self, sr: int) -> StftStream:
        n_fft, hop = frame_sizes(sr, self.frame_ms, self.overlap)
        return StftStream(self.make_processor(sr, n_fft, hop), n_fft, hop)

    def enhance(self, x: np.ndarray, sr: int) -> np.ndarray:
        x = np.asarray(x, dtype=np.float32)
        if x.ndim != 1:
            raise ValueError(f"{self.name}.enhance expects mono (samples,); use "
                             "voxclean.enhance.apply.enhance_signal for multichannel input")
        s = self.stream(sr)
        return np.concatenate([s.push(x), s.flush()])


ENHANCERS = Registry("enhancement method", modules=[
    "voxclean.enhance.classic.wiener",
    "voxclean.enhance.classic.specsub",
    "voxclean.enhance.classic.iterative_wiener",
    "voxclean.enhance.classic.mmse",
    "voxclean.enhance.classic.hard_noise",
    "voxclean.enhance.classic.wpe",
    "voxclean.enhance.classic.beamform",
    "voxclean.bench.peers",
    "voxclean.enhance.neural.enhancer",
])
DEFAULT_METHOD = "wiener"
