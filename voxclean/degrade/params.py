"""Random parameters and the compact text form of their values.

A degradation parameter is either a fixed value or a distribution that is sampled once per application:

* :class:`Uniform` ``(lo, hi)`` -- uniform on ``[lo, hi]``; written ``[lo, hi]`` in JSON and ``lo:hi`` in the
  compact chain syntax (``snr=-5:15``).
* :class:`Choice` ``(a, b, ...)`` -- one option, each equally likely; written ``{"choice": [a, b]}`` in JSON
  and ``a;b`` in the compact syntax (``codec=opus;mp3``).

Sampled values are plain Python ``float``/``int``/``str`` so that ``json.dumps`` writes them exactly
(``repr`` of a float round-trips), which is what makes a manifest line regenerate its output bit for bit.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Uniform:
    lo: float
    hi: float

    def __post_init__(self) -> None:
        if self.hi < self.lo:
            raise ValueError(f"range {self.lo}:{self.hi} has its upper end below its lower end")

    def sample(self, rng: np.random.Generator) -> float:
        return float(rng.uniform(self.lo, self.hi)) if self.hi > self.lo else float(self.lo)


@dataclass(frozen=True)
class Choice:
    options: tuple

    def __post_init__(self) -> None:
        if not self.options:
            raise ValueError("a choice needs at least one option")

    def sample(self, rng: np.random.Generator) -> Any:
        v = self.options[int(rng.integers(len(self.options)))]
        return v.item() if isinstance(v, np.generic) else v


def rand(default: Any) -> Any:
    """Dataclass field that may hold a :class:`Uniform`/:class:`Choice` (or a ``(lo, hi)`` tuple)."""
    return field(default=default, metadata={"random": True})


def _is_num(v: Any) -> bool:
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)


def as_param(v: Any) -> Any:
    """Normalise user input: ``(lo, hi)``/``[lo, hi]`` of numbers -> Uniform, ``{"choice": [...]}`` or a
    longer list -> Choice, anything else unchanged."""
    if isinstance(v, (Uniform, Choice)):
        return v
    if isinstance(v, dict) and set(v) == {"choice"}:
        return Choice(tuple(v["choice"]))
    if isinstance(v, dict) and set(v) == {"uniform"}:
        return Uniform(*map(float, v["uniform"]))
    if isinstance(v, (list, tuple)):
        if len(v) == 2 and all(_is_num(e) for e in v):
            return Uniform(float(v[0]), float(v[1]))
        return Choice(tuple(v))
    return v


def is_random(v: Any) -> bool:
    return isinstance(v, (Uniform, Choice))


def sample(v: Any, rng: np.random.Generator) -> Any:
    return v.sample(rng) if is_random(v) else v


def to_json(v: Any) -> Any:
    """JSON form of a parameter value (the inverse of :func:`as_param` for random fields)."""
    if isinstance(v, Uniform):
        return [v.lo, v.hi]
    if isinstance(v, Choice):
        return {"choice": [to_json(o) for o in v.options]}
    if isinstance(v, tuple):
        return [to_json(o) for o in v]
    if isinstance(v, list):
        return [to_json(o) for o in v]
    if isinstance(v, np.generic):
        return v.item()
    return v


_NUM = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?[kK]?$")


def parse_scalar(s: str) -> Any:
    """``"12k"`` -> 12000, ``"0.5"`` -> 0.5, ``"true"`` -> True, ``"none"`` -> None, else the string."""
    t = s.strip()
    low = t.lower()
    if low in ("true", "yes", "on"):
        return True
    if low in ("false", "no", "off"):
        return False
    if low in ("none", "null"):
        return None
    if _NUM.match(t):
        k = t[-1] in "kK"
        num = float(t[:-1] if k else t) * (1000 if k else 1)
        return int(num) if num.is_integer() and ("." not in t and "e" not in low or k) else num
    return t


def parse_value(s: str) -> Any:
    """Compact value syntax: ``a;b;c`` is a choice, ``lo:hi`` (two numbers) a uniform range, else a scalar."""
    if ";" in s:
        return Choice(tuple(parse_scalar(p) for p in s.split(";") if p.strip()))
    if ":" in s:
        lo, _, hi = s.partition(":")
        a, b = parse_scalar(lo), parse_scalar(hi)
        if _is_num(a) and _is_num(b):
            return Uniform(float(a), float(b))
    return parse_scalar(s)
