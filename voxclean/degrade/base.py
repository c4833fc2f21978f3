"""The Degradation protocol and its registry.

A degradation is a seeded, serialisable transform ``y = d(x, sr, rng)``: same parameters and same seed
give the same output, and ``to_dict()`` / ``from_dict()`` round-trip it through JSON.
"""
from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import numpy as np

from voxclean.registry import Registry


@runtime_checkable
class Degradation(Protocol):
    name: str

    def apply(self, x: np.ndarray, sr: int, rng: np.random.Generator) -> np.ndarray:
        """Degrade ``x`` ((samples,) or (channels, samples)) at ``sr``; returns the same length and layout."""

    def to_dict(self) -> dict[str, Any]:
        """Every parameter, with ``{"name": ...}``, so ``DEGRADATIONS.get(**d)`` rebuilds it."""


# Implementations derive from voxclean.degrade.op.Op, which splits ``apply`` into ``resolve(x, sr, rng)``
# (draw every random parameter: the result is what a manifest records) and a deterministic ``render``.


DEGRADATIONS = Registry("degradation", modules=[
    "voxclean.degrade.noise", "voxclean.degrade.reverb", "voxclean.degrade.clipping",
    "voxclean.degrade.bandlimit", "voxclean.degrade.codec", "voxclean.degrade.packet_loss",
    "voxclean.degrade.gain",
])
