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

    Two offline, two-pass options for processors with a noise ``tracker`` (``causal`` is then False and
    ``stream`` buffers the whole input):

    - ``noise_init = "file"``: the tracker starts from
      :func:`~voxclean.enhance.classic.noise_psd.quiet_frames_psd` of the whole input instead of its
      first frames;
    - ``noise_init = "bidirectional"``: the tracker runs forward and backward over the whole input and
      the processor gets the mean of the two estimates
      (:func:`~voxclean.enhance.classic.noise_psd.bidirectional_noise_psd`)."""

    name = "spectral"
    sample_rate: int | None = None
    frame_ms = 32.0
    overlap = 2
    noise_init = "frames"

    @property
    def causal(self) -> bool:
        return self.noise_init == "frames"

    def _check_noise_init(self, noise_init: str) -> str:
        if noise_init not in ("frames", "file", "bidirectional"):
            raise ValueError(f"{self.name}: noise_init must be 'frames' (causal, first frames), 'file' "
                             f"(offline, quietest frames of the whole input) or 'bidirectional' (offline, "
                             f"forward-backward tracking), not {noise_init!r}")
        return noise_init

    def _stft_stream(self, sr: int) -> StftStream:
        n_fft, hop = frame_sizes(sr, self.frame_ms, self.overlap)
        return StftStream(self.make_processor(sr, n_fft, hop), n_fft, hop)

    def _two_pass_stream(self, x: np.ndarray, sr: int) -> StftStream:
        """A fresh stream whose processor's noise tracker is primed (``file``) or replaced
        (``bidirectional``) from a first pass over the periodograms of the whole input."""
        from copy import deepcopy

        from voxclean.enhance.classic.noise_psd import ReplayNoise, bidirectional_noise_psd, quiet_frames_psd
        n_fft, hop = frame_sizes(sr, self.frame_ms, self.overlap)
        rec = _PowerRecorder()
        first = StftStream(rec, n_fft, hop)
        first.push(x)
        first.flush()
        power = np.concatenate(rec.frames)
        st = self._stft_stream(sr)
        if self.noise_init == "file":
            st.processor.tracker.preset(quiet_frames_psd(power))
        else:
            fresh = st.processor.tracker
            st.processor.tracker = ReplayNoise(*bidirectional_noise_psd(power, lambda: deepcopy(fresh)))
        return st

    def make_processor(self, sr: int, n_fft: int, hop: int) -> FrameProcessor:
        raise NotImplementedError

    def stream(self, sr: int):
        if not self.causal:
            from voxclean.enhance.classic.multichannel import BufferedStream
            return BufferedStream(lambda x: self.enhance(x, sr))
        return self._stft_stream(sr)

    def enhance(self, x: np.ndarray, sr: int) -> np.ndarray:
        x = np.asarray(x, dtype=np.float32)
        if x.ndim != 1:
            raise ValueError(f"{self.name}.enhance expects mono (samples,); use "
                             "voxclean.enhance.apply.enhance_signal for multichannel input")
        s = self.stream(sr) if self.causal else self._two_pass_stream(x, sr)
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
DEFAULT_METHOD = "neural"
