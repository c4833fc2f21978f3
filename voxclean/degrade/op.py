"""The shared base of every degradation: resolve random parameters, then render deterministically.

Applying a degradation is two steps::

    concrete = op.resolve(x, sr, rng)   # sample every range/choice, pick files, offsets, lost packets...
    y, info = concrete.render(x, sr)    # deterministic: same concrete op + same x -> same y

``concrete.to_dict()`` is what a manifest records; rebuilding it with ``DEGRADATIONS.get(**d)`` and
rendering again reproduces ``y`` exactly. ``info`` holds derived numbers worth recording (noise gain,
codec delay, ...) that are *not* needed to regenerate the output. A concrete op resolves to itself.

Ops that change what the *clean target* should be (reverberation with a direct-path target) override
:meth:`Op.target`; the others leave the target alone.
"""
from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any, ClassVar

import numpy as np

from voxclean.degrade.params import as_param, is_random, sample, to_json


@dataclass
class Op:
    name: ClassVar[str] = ""

    def __post_init__(self) -> None:
        for f in fields(self):
            if f.metadata.get("random"):
                object.__setattr__(self, f.name, as_param(getattr(self, f.name)))

    # -- randomness -------------------------------------------------------------------------------------
    def _sample_fields(self, rng: np.random.Generator, skip: tuple[str, ...] = ()) -> "Op":
        """Copy with every random field (in declaration order) replaced by a sample from ``rng``."""
        changes = {f.name: sample(getattr(self, f.name), rng) for f in fields(self)
                   if f.name not in skip and is_random(getattr(self, f.name))}
        return replace(self, **changes)  # always a copy: resolve() may fill more fields in

    def resolve(self, x: np.ndarray, sr: int, rng: np.random.Generator) -> "Op":
        """A concrete copy: no ranges or choices left, every random decision fixed."""
        return self._sample_fields(rng)

    @property
    def is_concrete(self) -> bool:
        return not any(is_random(getattr(self, f.name)) for f in fields(self))

    # -- processing -------------------------------------------------------------------------------------
    def render(self, x: np.ndarray, sr: int) -> tuple[np.ndarray, dict[str, Any]]:
        """Apply a concrete op: ``(samples,)`` or ``(channels, samples)`` in, same shape out, plus info."""
        raise NotImplementedError

    def target(self, t: np.ndarray, sr: int) -> np.ndarray:
        """How the clean target changes under this (concrete) op; most ops leave it as it is."""
        return t

    def apply(self, x: np.ndarray, sr: int, rng: np.random.Generator) -> np.ndarray:
        """The :class:`~voxclean.degrade.base.Degradation` protocol: resolve with ``rng`` and render."""
        return self.resolve(x, sr, rng).render(x, sr)[0]

    # -- serialisation ----------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, **{f.name: to_json(getattr(self, f.name)) for f in fields(self)}}

    @classmethod
    def param_names(cls) -> list[str]:
        return [f.name for f in fields(cls)]


def as_float32(y: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(y, dtype=np.float32)


def fit_length(y: np.ndarray, n: int) -> np.ndarray:
    """Trim or zero-pad the last axis to ``n`` samples."""
    if y.shape[-1] >= n:
        return y[..., :n]
    pad = [(0, 0)] * (y.ndim - 1) + [(0, n - y.shape[-1])]
    return np.pad(y, pad)
