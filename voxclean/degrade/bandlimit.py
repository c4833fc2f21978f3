"""Band-limiting: a zero-phase Butterworth high-pass at ``low`` Hz and/or low-pass at ``high`` Hz.

The filter is an ``order``-th order Butterworth in second-order sections run forwards and backwards
(``scipy.signal.sosfiltfilt``), so the magnitude response is squared (-6 dB at the cut-off, roll-off of
``12 * order`` dB/octave) and there is no delay. ``high=3400, low=300`` is the classic telephone band;
``high=4000`` mimics 8 kHz sampling. A cut-off at or above Nyquist is skipped.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.signal import butter, sosfiltfilt

from voxclean.degrade.base import DEGRADATIONS
from voxclean.degrade.op import Op, as_float32
from voxclean.degrade.params import rand


@DEGRADATIONS.register("bandlimit", "zero-phase Butterworth low-pass/high-pass/band-pass (e.g. telephone band)")
@dataclass
class BandLimit(Op):
    """``high``: low-pass cut-off Hz (None: none); ``low``: high-pass cut-off Hz (None: none)."""
    name = "bandlimit"
    high: Any = rand(4000.0)
    low: Any = rand(None)
    order: int = 8

    def render(self, x: np.ndarray, sr: int) -> tuple[np.ndarray, dict]:
        nyq = sr / 2
        hi = float(self.high) if self.high is not None and float(self.high) < nyq * 0.999 else None
        lo = float(self.low) if self.low is not None and float(self.low) > 0 else None
        if lo is not None and lo >= nyq:
            raise ValueError(f"bandlimit: high-pass cut-off {lo} Hz is at or above Nyquist ({nyq} Hz)")
        if hi is not None and lo is not None and lo >= hi:
            raise ValueError(f"bandlimit: low={lo} Hz must be below high={hi} Hz")
        if hi is None and lo is None:
            return as_float32(x), {"filter": "none"}
        if hi is not None and lo is not None:
            sos, kind = butter(self.order, [lo, hi], btype="bandpass", fs=sr, output="sos"), "bandpass"
        elif hi is not None:
            sos, kind = butter(self.order, hi, btype="lowpass", fs=sr, output="sos"), "lowpass"
        else:
            sos, kind = butter(self.order, lo, btype="highpass", fs=sr, output="sos"), "highpass"
        y = sosfiltfilt(sos, np.asarray(x, np.float64), axis=-1)
        return as_float32(y), {"filter": kind}
