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


class _PowerRecorder:
    def __init__(self):
        self.frames: list[np.ndarray] = []

    def process(self, spec: np.ndarray) -> np.ndarray:
        self.frames.append(spec.real ** 2 + spec.imag ** 2)
        return spec


class SpectralEnhancer:
    """Base for causal STFT-domain enhancers: subclasses implement :meth:`make_processor`.

    ``noise_init = "file"`` (for processors with a noise ``tracker``) makes the method offline and
    two-pass: the tracker starts from :func:`~voxclean.enhance.classic.noise_psd.quiet_frames_psd` of
    the whole input instead of its first frames; ``causal`` is then False and ``stream`` buffers."""

    name = "spectral"
    sample_rate: int | None = None
    frame_ms = 32.0
    overlap = 2
    noise_init = "frames"

    @property
    def causal(self) -> bool:
        return self.noise_init != "file"

    def _check_noise_init(self, noise_init: str) -> str:
        if noise_init not in ("frames", "file"):
            raise ValueError(f"{self.name}: noise_init must be 'frames' (causal, first frames) or 'file' "
                             f"(offline, quietest frames of the whole input), not {noise_init!r}")
        return noise_init

    def _stft_stream(self, sr: int) -> StftStream:
        n_fft, hop = frame_sizes(sr, self.frame_ms, self.overlap)
        return StftStream(self.make_processor(sr, n_fft, hop), n_fft, hop)

    def _file_initialised_stream(self, x: np.ndarray, sr: int) -> StftStream:
        from voxclean.enhance.classic.noise_psd import quiet_frames_psd
        n_fft, hop = frame_sizes(sr, self.frame_ms, self.overlap)
        rec = _PowerRecorder()
        first = StftStream(rec, n_fft, hop)
        first.push(x)
        first.flush()
        st = self._stft_stream(sr)
        st.processor.tracker.preset(quiet_frames_psd(np.concatenate(rec.frames)))
        return st

    def make_processor(self, sr: int, n_fft: int, hop: int) -> FrameProcessor:
        raise NotImplementedError

    def stream(self, sr: int):
        if self.noise_init == "file":
            from voxclean.enhance.classic.multichannel import BufferedStream
            return BufferedStream(lambda x: self.enhance(x, sr))
        return self._stft_stream(sr)

    def enhance(self, x: np.ndarray, sr: int) -> np.ndarray:
        x = np.asarray(x, dtype=np.float32)
        if x.ndim != 1:
            raise ValueError(f"{self.name}.enhance expects mono (samples,); use "
                             "voxclean.enhance.apply.enhance_signal for multichannel input")
        s = self._file_initialised_stream(x, sr) if self.noise_init == "file" else self.stream(sr)
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
    "voxclean.enhance.neural.arch_enhancer",
])
DEFAULT_METHOD = "wiener"
