"""The Metric protocol and its registry.

Intrusive metrics compare an estimate with a reference: ``score(ref, est, sr) -> dict[str, float]``.
Non-intrusive ones (DNSMOS) ignore ``ref`` (``intrusive = False``). A metric may return several
named values (DNSMOS gives SIG/BAK/OVRL/P808; composite gives CSIG/CBAK/COVL).
"""
from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np

from voxclean.registry import Registry


@runtime_checkable
class Metric(Protocol):
    name: str
    intrusive: bool
    higher_is_better: bool

    def score(self, ref: np.ndarray | None, est: np.ndarray, sr: int) -> dict[str, float]:
        """Mono float32 signals of equal length at ``sr``; returns named values."""


METRICS = Registry("metric", modules=["voxclean.metrics.intrusive", "voxclean.metrics.dnsmos"])
