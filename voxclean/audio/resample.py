"""Sample-rate conversion with soxr (very-high-quality polyphase), for mono or ``(channels, samples)``."""
from __future__ import annotations

import numpy as np
import soxr


def resample(x: np.ndarray, sr_in: int, sr_out: int) -> np.ndarray:
    """Resample ``x`` from ``sr_in`` to ``sr_out`` Hz. Shape ``(samples,)`` or ``(channels, samples)``;
    the output keeps the layout and has ``round(len * sr_out / sr_in)`` samples."""
    if sr_in == sr_out:
        return np.asarray(x, dtype=np.float32)
    x = np.asarray(x, dtype=np.float32)
    if x.ndim == 1:
        return soxr.resample(x, sr_in, sr_out, quality="VHQ").astype(np.float32)
    return np.ascontiguousarray(soxr.resample(x.T, sr_in, sr_out, quality="VHQ").T, dtype=np.float32)


class StreamResampler:
    """Chunk-by-chunk resampler whose concatenated output equals :func:`resample` up to soxr's
    streaming tolerance; used when long files are processed in blocks."""

    def __init__(self, sr_in: int, sr_out: int, channels: int = 1):
        self.identity = sr_in == sr_out
        if not self.identity:
            self._r = soxr.ResampleStream(sr_in, sr_out, channels, dtype="float32", quality="VHQ")

    def push(self, x: np.ndarray, last: bool = False) -> np.ndarray:
        """x: (samples,) or (channels, samples)."""
        if self.identity:
            return np.asarray(x, dtype=np.float32)
        x = np.asarray(x, dtype=np.float32)
        if x.ndim == 1:
            return self._r.resample_chunk(x, last=last)
        return np.ascontiguousarray(self._r.resample_chunk(np.ascontiguousarray(x.T), last=last).T)
