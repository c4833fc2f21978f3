"""The Metric protocol and its registry.

Intrusive metrics compare an estimate with a reference: ``score(ref, est, sr) -> dict[str, float]``.
Non-intrusive ones (DNSMOS) ignore ``ref`` (``intrusive = False``). A metric may return several
named values (DNSMOS gives SIG/BAK/OVRL/P808; composite gives CSIG/CBAK/COVL); ``outputs`` lists
them in order, so reports know their columns before anything is computed.
"""
from __future__ import annotations

import warnings
from typing import Protocol, runtime_checkable

import numpy as np

from voxclean.registry import Registry


@runtime_checkable
class Metric(Protocol):
    name: str
    intrusive: bool
    higher_is_better: bool
    outputs: tuple[str, ...]

    def score(self, ref: np.ndarray | None, est: np.ndarray, sr: int) -> dict[str, float]:
        """Mono float32 signals of equal length at ``sr``; returns named values."""


METRICS = Registry("metric", modules=["voxclean.metrics.pesq_stoi", "voxclean.metrics.signal",
                                      "voxclean.metrics.composite", "voxclean.metrics.dnsmos"])


def warn_nan(why: str) -> float:
    """NaN for a value that cannot be computed on this pair, with a warning saying why (batch
    evaluation carries on; summaries skip NaN and count them)."""
    warnings.warn(why, RuntimeWarning, stacklevel=3)
    return float("nan")


def nan_with_warning(outputs: tuple[str, ...], why: str) -> dict[str, float]:
    """Every output of a metric NaN, with one warning."""
    warnings.warn(why, RuntimeWarning, stacklevel=3)
    return {k: float("nan") for k in outputs}


def is_silent(x: np.ndarray, peak: float = 1e-6) -> bool:
    """True when ``x`` has no sample above ``peak`` (-120 dBFS), the threshold of ``audio.io``."""
    return x.size == 0 or float(np.max(np.abs(x))) < peak
