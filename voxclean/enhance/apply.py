"""Apply any enhancer to arrays and files: channel policy, native-rate resampling, bounded memory.

Channel policy (``channels=``):
  * ``"per-channel"`` (default): each channel is enhanced independently (its own state); the output
    keeps the channel count. Enhancers with ``multichannel = True`` (WPE, beamformers) receive all
    channels at once instead and may return fewer.
  * ``"downmix"``: channels are averaged to mono first; the output is mono.

Sample rate: an enhancer with a native rate (``enh.sample_rate``) gets its input resampled with soxr
and its output resampled back, so the caller always gets the input's rate and length.

Long files: :func:`enhance_file` never holds the whole file. Causal enhancers run through their
streams (one per channel) block by block; others process overlapping windows of ``block_seconds``
with ``overlap_seconds`` of extra context that is cross-faded linearly into the next window.
"""
from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Callable

import numpy as np

from voxclean.audio.io import AudioError, atomic_writer, info, read_blocks, validate
from voxclean.audio.resample import StreamResampler, resample
from voxclean.enhance.base import Enhancer

CHANNEL_POLICIES = ("per-channel", "downmix")


def _fit_length(y: np.ndarray, n: int) -> np.ndarray:
    if y.shape[-1] >= n:
        return y[..., :n]
    pad = [(0, 0)] * (y.ndim - 1) + [(0, n - y.shape[-1])]
    return np.pad(y, pad)


def _mono(enh: Enhancer, x: np.ndarray, sr: int) -> np.ndarray:
    native = getattr(enh, "sample_rate", None)
    if native and native != sr:
        y = resample(enh.enhance(resample(x, sr, native), native), native, sr)
    else:
        y = enh.enhance(x, sr)
    return _fit_length(np.asarray(y, dtype=np.float32), len(x))


def enhance_signal(enh: Enhancer, x: np.ndarray, sr: int, channels: str = "per-channel") -> np.ndarray:
    """Enhance ``x`` ((samples,) or (channels, samples)) at ``sr``; same rate and length back."""
    if channels not in CHANNEL_POLICIES:
        raise ValueError(f"channels must be one of {CHANNEL_POLICIES}, not {channels!r}")
    x = np.asarray(x, dtype=np.float32)
    validate(x, allow_silent=True)
    if x.ndim == 1:
        return _mono(enh, x, sr)
    if channels == "downmix":
        return _mono(enh, x.mean(axis=0), sr)
    if getattr(enh, "multichannel", False):
        return _fit_length(np.asarray(enh.enhance_multichannel(x, sr), dtype=np.float32), x.shape[1])
    return np.stack([_mono(enh, ch, sr) for ch in x])


class _StreamingRunner:
    """Per-channel streams, with streaming resamplers around enhancers that have a native rate."""

    def __init__(self, enh: Enhancer, sr: int, n_channels: int):
        native = getattr(enh, "sample_rate", None) or sr
        self.streams = [enh.stream(native) for _ in range(n_channels)]
        self.rs_in = [StreamResampler(sr, native) for _ in range(n_channels)]
        self.rs_out = [StreamResampler(native, sr) for _ in range(n_channels)]

    def _run(self, blocks, last: bool) -> np.ndarray:
        outs = []
        for c, b in enumerate(blocks):
            z = self.rs_in[c].push(b, last=last)
            y = self.streams[c].push(z)
            if last:
                y = np.concatenate([y, self.streams[c].flush()])
            outs.append(self.rs_out[c].push(y, last=last))
        n = min(len(o) for o in outs)
        return np.stack([o[:n] for o in outs])

    def push(self, block: np.ndarray) -> np.ndarray:
        return self._run(block, last=False)

    def flush(self) -> np.ndarray:
        return self._run([np.zeros(0, np.float32)] * len(self.streams), last=True)


class _OverlapRunner:
    """Windows of ``block`` samples plus ``overlap`` samples of look-ahead, cross-faded."""

    def __init__(self, enh: Enhancer, sr: int, channels: str, block: int, overlap: int):
        self.enh, self.sr, self.channels = enh, sr, channels
        self.block, self.overlap = block, overlap
        self.buf: np.ndarray | None = None
        self.tail: np.ndarray | None = None

    def _process(self, window: np.ndarray, emit: int) -> np.ndarray:
        y = enhance_signal(self.enh, window if len(window) > 1 else window[0], self.sr, self.channels)
        y = y if y.ndim == 2 else y[None]
        if self.tail is not None:
            k = min(self.tail.shape[1], y.shape[1])
            ramp = np.linspace(0.0, 1.0, k, dtype=np.float32)
            y[:, :k] = self.tail[:, :k] * (1 - ramp) + y[:, :k] * ramp
        self.tail = y[:, emit:emit + self.overlap].copy()
        return y[:, :emit]

    def push(self, block: np.ndarray) -> np.ndarray:
        self.buf = block if self.buf is None else np.concatenate([self.buf, block], axis=1)
        outs = []
        while self.buf.shape[1] >= self.block + self.overlap:
            outs.append(self._process(self.buf[:, :self.block + self.overlap], self.block))
            self.buf = self.buf[:, self.block:]
        return np.concatenate(outs, axis=1) if outs else np.zeros((0, 0), np.float32)

    def flush(self) -> np.ndarray:
        if self.buf is None or self.buf.shape[1] == 0:
            return np.zeros((0, 0), np.float32)
        return self._process(self.buf, self.buf.shape[1])


def _out_subtype(in_subtype: str) -> str:
    return {"PCM_24": "PCM_24", "PCM_32": "PCM_32", "FLOAT": "FLOAT", "DOUBLE": "FLOAT"}.get(in_subtype, "PCM_16")


def enhance_file(enh: Enhancer, src: str | os.PathLike, dst: str | os.PathLike, *, overwrite: bool = False,
                 channels: str = "per-channel", block_seconds: float = 20.0, overlap_seconds: float = 1.0,
                 on_progress: Callable[[float], None] | None = None) -> Path:
    """Enhance one file into ``dst`` (written atomically) with bounded memory.

    Keeps the input's sample rate and length; keeps its channel count under the ``per-channel``
    policy. ``on_progress(seconds)`` is called with the input seconds just processed.
    Raises :class:`AudioError` for unreadable or invalid input and ``FileExistsError`` if ``dst``
    exists and ``overwrite`` is false; refuses to write over ``src`` in any case.
    """
    src, dst = Path(src), Path(dst)
    if dst.exists() and dst.resolve() == src.resolve():
        raise AudioError(src, "output path is the input file; voxclean never overwrites its input")
    meta = info(src)
    sr = meta.sample_rate
    multichannel = getattr(enh, "multichannel", False)
    streaming = getattr(enh, "causal", False) and not multichannel
    runner = (_StreamingRunner(enh, sr, 1 if channels == "downmix" else meta.channels) if streaming
              else _OverlapRunner(enh, sr, channels, int(block_seconds * sr), int(overlap_seconds * sr)))
    n_in, written, peak = 0, 0, 0.0
    with contextlib.ExitStack() as stack:
        f = None

        def write(y: np.ndarray) -> None:
            nonlocal written, f
            y = y[:, : max(n_in - written, 0)]
            if y.size == 0:
                return
            if f is None:  # opened at the first output: multichannel methods decide the channel count
                f = stack.enter_context(atomic_writer(dst, sr, y.shape[0], subtype=_out_subtype(meta.subtype),
                                                      overwrite=overwrite))
            elif y.shape[0] != f.channels:
                raise AudioError(src, f"{enh.name} changed its channel count mid-file")
            f.write(np.clip(y.T, -1.0, 1.0) if f.subtype.startswith("PCM") else y.T)
            written += y.shape[1]

        for block in read_blocks(src, block_seconds):
            if channels == "downmix":
                block = block.mean(axis=0, keepdims=True)
            n_in += block.shape[1]
            peak = max(peak, float(np.max(np.abs(block))))
            write(runner.push(block))
            if on_progress:
                on_progress(block.shape[1] / sr)
        if n_in == 0:
            raise AudioError(src, "contains no audio samples (zero length)")
        if peak < 1e-6:
            raise AudioError(src, "is all silent (peak below -120 dBFS); nothing to process")
        write(runner.flush())
        if f is None:
            raise AudioError(src, f"{enh.name} produced no output")
        if written < n_in:
            f.write(np.zeros((n_in - written, f.channels), np.float32))
    return dst
