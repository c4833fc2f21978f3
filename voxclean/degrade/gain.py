"""Gain: ``y = 10^(db/20) x``. Values past full scale are kept (a later ``clip`` or the 16-bit writer
limits them), so a chain decides where saturation happens."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from voxclean.degrade.base import DEGRADATIONS
from voxclean.degrade.op import Op, as_float32
from voxclean.degrade.params import rand


@DEGRADATIONS.register("gain", "multiply by a gain in dB (value or range)")
@dataclass
class Gain(Op):
    """``db``: gain in decibels."""
    name = "gain"
    db: Any = rand(0.0)

    def render(self, x: np.ndarray, sr: int) -> tuple[np.ndarray, dict]:
        g = 10.0 ** (float(self.db) / 20.0)
        y = np.asarray(x, np.float64) * g
        return as_float32(y), {"peak": float(np.max(np.abs(y))) if y.size else 0.0}
