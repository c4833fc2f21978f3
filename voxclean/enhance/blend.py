"""Maximum suppression and dry/wet mix for any enhancer (``voxclean enhance --atten-lim-db --mix``).

With ``x`` the input and ``y`` the enhancer's (time-aligned) output::

    y'  = y + lim (x - y),       lim = 10^(-atten_lim_db / 20)   (0 when no limit is set)
    y'' = mix y' + (1 - mix) x

``atten_lim_db`` is DeepFilterNet's convention: where the enhancer removes everything, the output keeps
the input attenuated by ``atten_lim_db`` dB, so noise is never pushed further down than that and the
speech it masks is not over-suppressed. Both maps are linear, so applying them to the waveform equals
applying them to every STFT frame of an STFT-domain method (the synthesis is linear). Streams keep a
FIFO of input samples so that each output sample is blended with the input sample it belongs to; the
streamed result equals the offline one.
"""
from __future__ import annotations

import numpy as np


def blend_weights(atten_lim_db: float | None, mix: float) -> tuple[float, float]:
    """(weight of the enhanced signal, weight of the input): ``y'' = a y + b x``."""
    if not 0.0 <= float(mix) <= 1.0:
        raise ValueError(f"mix must be in [0, 1], got {mix}")
    if atten_lim_db is not None and float(atten_lim_db) < 0:
        raise ValueError(f"atten_lim_db must be >= 0 (a maximum suppression in dB), got {atten_lim_db}")
    lim = 0.0 if atten_lim_db is None else 10 ** (-float(atten_lim_db) / 20)
    a = float(mix) * (1.0 - lim)
    return a, 1.0 - a


class BlendStream:
    def __init__(self, inner, a: float, b: float):
        self.inner, self.a, self.b = inner, a, b
        self.latency = getattr(inner, "latency", 0)
        self._fifo = np.zeros(0, np.float32)

    def _blend(self, y: np.ndarray) -> np.ndarray:
        x, self._fifo = self._fifo[: len(y)], self._fifo[len(y):]
        x = np.pad(x, (0, len(y) - len(x)))
        return (self.a * y + self.b * x).astype(np.float32)

    def push(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, np.float32)
        self._fifo = np.concatenate([self._fifo, x])
        return self._blend(np.asarray(self.inner.push(x), np.float32))

    def flush(self) -> np.ndarray:
        return self._blend(np.asarray(self.inner.flush(), np.float32))

    def __getattr__(self, name):          # e.g. the neural stream's ``vad``
        return getattr(self.inner, name)


class Blended:
    """``inner`` with its output blended with its input (see the module docstring)."""

    def __init__(self, inner, atten_lim_db: float | None = None, mix: float = 1.0):
        self.inner = inner
        self.atten_lim_db, self.mix = atten_lim_db, float(mix)
        self.a, self.b = blend_weights(atten_lim_db, mix)
        self.name = inner.name
        self.sample_rate = getattr(inner, "sample_rate", None)
        self.causal = getattr(inner, "causal", True)

    def enhance(self, x: np.ndarray, sr: int) -> np.ndarray:
        x = np.asarray(x, np.float32)
        y = np.asarray(self.inner.enhance(x, sr), np.float32)
        return (self.a * y + self.b * x).astype(np.float32)

    def stream(self, sr: int) -> BlendStream:
        return BlendStream(self.inner.stream(sr), self.a, self.b)

    def enhance_multichannel(self, x: np.ndarray, sr: int) -> np.ndarray:
        y = np.asarray(self.inner.enhance_multichannel(x, sr), np.float32)
        if y.shape != np.shape(x):
            raise ValueError(f"{self.name}: --atten-lim-db/--mix need an output shaped like the input; "
                             f"this method maps {np.shape(x)[0]} channels to {y.shape[0]}")
        return (self.a * y + self.b * np.asarray(x, np.float32)).astype(np.float32)

    def __getattr__(self, name):
        return getattr(self.inner, name)


def with_blend(enh, atten_lim_db: float | None = None, mix: float = 1.0):
    """``enh`` itself when nothing is to be blended, else :class:`Blended` around it."""
    if atten_lim_db is None and float(mix) == 1.0:
        return enh
    return Blended(enh, atten_lim_db, mix)
