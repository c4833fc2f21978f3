"""Chains of degradations: seeded, serialisable, and recorded well enough to regenerate their output.

``Chain(ops, seed).run(x, sr)`` resolves step ``i`` with ``np.random.default_rng([seed, i])`` (so
adding a step never changes what earlier steps draw), renders it, and returns the degraded signal, the
clean target (changed only by steps such as reverberation with a direct-path target) and a *record*::

    {"seed": 0, "sr": 16000, "steps": [{"op": {...resolved parameters...}, "info": {...}}, ...]}

``Chain.from_record(record)`` rebuilds the resolved ops; running it reproduces the output exactly.

Text forms
  JSON:     ``{"seed": 0, "steps": [{"name": "noise", "snr": [-5, 15], "path": "noise/"}, ...]}``
            (or just the list of steps); ``[lo, hi]`` is a uniform range, ``{"choice": [...]}`` a choice.
  compact:  ``noise:snr=5,path=DIR|reverb:rt60=0.3:0.8|codec:name=opus,bitrate=12k``
            steps separated by ``|``; ``op:key=value,key=value``; ``lo:hi`` is a uniform range,
            ``a;b;c`` a choice, ``12k`` = 12000, true/false, none.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from voxclean.degrade.base import DEGRADATIONS
from voxclean.degrade.op import Op
from voxclean.degrade.params import parse_value

# compact-syntax spellings accepted for parameters whose field name differs
KEY_ALIASES = {"codec": {"name": "codec", "bitrate_bps": "bitrate"}}


def make_op(spec: dict[str, Any] | Op) -> Op:
    """An op from ``{"name": ..., **params}`` (a JSON step) with a clear error for unknown names/keys."""
    if isinstance(spec, Op):
        return spec
    if not isinstance(spec, dict) or "name" not in spec:
        raise ValueError(f"a chain step must be an object with a 'name', got {spec!r}")
    params = dict(spec)
    name = params.pop("name")
    if name not in DEGRADATIONS:
        raise ValueError(f"unknown degradation {name!r}; available: {', '.join(DEGRADATIONS.names())}")
    factory = next(e.factory for e in DEGRADATIONS.entries() if e.name == name)
    allowed = factory.param_names() if hasattr(factory, "param_names") else None
    if allowed is not None:
        bad = [k for k in params if k not in allowed]
        if bad:
            raise ValueError(f"{name}: unknown parameter(s) {', '.join(map(repr, bad))}; "
                             f"parameters: {', '.join(allowed)}")
    return DEGRADATIONS.get(name, **params)


def parse_compact(spec: str) -> list[Op]:
    """``"noise:snr=-5:15,path=DIR|codec:name=opus,bitrate=12k"`` -> ops (see the module docstring)."""
    ops = []
    for part in (p.strip() for p in spec.split("|")):
        if not part:
            continue
        name, _, rest = part.partition(":")
        name = name.strip()
        aliases = KEY_ALIASES.get(name, {})
        params: dict[str, Any] = {}
        for item in (i for i in rest.split(",") if i.strip()):
            key, eq, value = item.partition("=")
            if not eq:
                raise ValueError(f"chain step {part!r}: expected key=value, got {item!r}")
            key = aliases.get(key.strip(), key.strip())
            params[key] = parse_value(value.strip())
        ops.append(make_op({"name": name, **params}))
    if not ops:
        raise ValueError(f"empty chain spec {spec!r}")
    return ops


class Chain:
    def __init__(self, ops: Sequence[Op | dict], seed: int = 0):
        self.ops = [make_op(o) for o in ops]
        self.seed = int(seed)
        if self.seed < 0:
            raise ValueError(f"seed must be >= 0, got {seed}")

    def __repr__(self) -> str:
        return f"Chain({[o.name for o in self.ops]}, seed={self.seed})"

    # -- running ----------------------------------------------------------------------------------------
    def run(self, x: np.ndarray, sr: int, seed: int | None = None
            ) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
        """``(y, target, record)``; ``seed`` overrides the chain's seed for this call."""
        seed = self.seed if seed is None else int(seed)
        y = np.asarray(x, dtype=np.float32)
        t = y
        steps = []
        for i, op in enumerate(self.ops):
            concrete = op.resolve(y, sr, np.random.default_rng([seed, i]))
            y_next, info = concrete.render(y, sr)
            t = concrete.target(t, sr)
            y = y_next
            steps.append({"op": concrete.to_dict(), "info": info})
        return y, t, {"seed": seed, "sr": int(sr), "steps": steps}

    def apply(self, x: np.ndarray, sr: int, seed: int | None = None) -> tuple[np.ndarray, dict[str, Any]]:
        y, _, record = self.run(x, sr, seed)
        return y, record

    # -- serialisation ----------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {"seed": self.seed, "steps": [o.to_dict() for o in self.ops]}

    def to_json(self, **kw: Any) -> str:
        return json.dumps(self.to_dict(), **kw)

    @classmethod
    def from_dict(cls, d: dict[str, Any] | list, seed: int | None = None) -> "Chain":
        if isinstance(d, list):
            d = {"steps": d}
        s = d.get("seed", 0) if seed is None else seed
        return cls(d["steps"], s)

    @classmethod
    def from_json(cls, text: str, seed: int | None = None) -> "Chain":
        return cls.from_dict(json.loads(text), seed)

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> "Chain":
        """The resolved chain of a record: every random choice fixed to what was drawn."""
        return cls([s["op"] for s in record["steps"]], record.get("seed", 0))

    @classmethod
    def from_spec(cls, spec: str, seed: int | None = None) -> "Chain":
        """A JSON file path, a JSON string, or the compact syntax."""
        text = spec.strip()
        p = Path(text)
        if text.endswith(".json") or (len(text) < 4096 and p.is_file()):
            if not p.is_file():
                raise FileNotFoundError(f"chain file {p} not found")
            try:
                return cls.from_json(p.read_text(), seed)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{p}: not valid JSON ({exc})") from None
        if text.startswith(("{", "[")):
            return cls.from_json(text, seed)
        return cls(parse_compact(text), 0 if seed is None else seed)
