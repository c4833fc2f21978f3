"""Clipping: the waveform is limited at a level ``c``.

Hard clipping ``y = min(max(x, -c), c)``; soft clipping ``y = c tanh(x / c)`` (a smooth saturating
amplifier). ``c = threshold * max|x|`` when ``relative`` (the default, so the damage does not depend on the
recording level), else ``c = threshold`` in full-scale units (use ``gain`` before it to model an
overdriven input stage: ``gain:db=12|clip:threshold=1,relative=false``).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from voxclean.degrade.base import DEGRADATIONS
from voxclean.degrade.op import Op, as_float32
from voxclean.degrade.params import rand


@DEGRADATIONS.register("clip", "hard or soft (tanh) clipping at a fraction of the peak or an absolute level")
@dataclass
class Clip(Op):
    """``threshold``: clip level (fraction of the peak if ``relative``, else absolute); ``soft``: tanh."""
    name = "clip"
    threshold: Any = rand(0.3)
    relative: bool = True
    soft: bool = False

    def render(self, x: np.ndarray, sr: int) -> tuple[np.ndarray, dict]:
        t = float(self.threshold)
        if t <= 0:
            raise ValueError(f"clip: threshold must be positive, got {t}")
        c = t * float(np.max(np.abs(x))) if self.relative else t
        if c <= 0:
            return as_float32(x), {"level": 0.0, "clipped_fraction": 0.0}
        y = c * np.tanh(np.asarray(x, np.float64) / c) if self.soft else np.clip(x, -c, c)
        return as_float32(y), {"level": c, "clipped_fraction": float(np.mean(np.abs(x) > c))}
