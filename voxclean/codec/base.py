"""The Codec protocol and its registry.

A codec compresses speech to a payload (bytes, or integer tokens for neural codecs) and decodes it
back. ``roundtrip`` is what robustness probes call: same rate and length as the input, delay removed.
Bitrate is *measured*: payload bits divided by the input duration. For token codecs the nominal rate
is ``R = f_N * k * log2(C)`` (frames per second x codebooks x bits per code; seed 003, eq. 1).
"""
from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np

from voxclean.registry import Registry


@runtime_checkable
class Codec(Protocol):
    name: str
    sample_rate: int | None       # native rate, None = any

    def encode(self, x: np.ndarray, sr: int) -> bytes | np.ndarray: ...

    def decode(self, payload: bytes | np.ndarray, sr: int, n_samples: int) -> np.ndarray: ...

    def roundtrip(self, x: np.ndarray, sr: int) -> tuple[np.ndarray, float]:
        """Decoded audio (same rate and length as ``x``) and the measured bitrate in bit/s."""


CODECS = Registry("codec", modules=["voxclean.codec.ffmpeg"])
