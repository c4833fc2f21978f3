"""A tiny name -> constructor registry, shared by enhancers, degradations, codecs and metrics.

Each kind of processor owns one :class:`Registry`; modules register their constructors on import, and
the CLI, the benchmark and the probe reach every processor through the same names.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any, Callable, Iterable


@dataclass(frozen=True)
class Entry:
    name: str
    factory: Callable[..., Any]
    summary: str


class Registry:
    """Maps names to constructors. ``modules`` are imported lazily before the first look-up so that
    everything registers itself without import-order surprises."""

    def __init__(self, kind: str, modules: Iterable[str] = ()):
        self.kind = kind
        self._modules = list(modules)
        self._loaded = False
        self._entries: dict[str, Entry] = {}

    def register(self, name: str, summary: str = "") -> Callable:
        def deco(factory: Callable) -> Callable:
            if name in self._entries and self._entries[name].factory is not factory:
                raise ValueError(f"{self.kind} {name!r} is registered twice")
            doc = summary or ((factory.__doc__ or "").strip().splitlines() or [""])[0]
            self._entries[name] = Entry(name, factory, doc)
            return factory
        return deco

    def _load(self) -> None:
        if not self._loaded:
            self._loaded = True
            for mod in self._modules:
                try:
                    importlib.import_module(mod)
                except ModuleNotFoundError as exc:  # an optional module not present in this install
                    if exc.name != mod:
                        raise

    def names(self) -> list[str]:
        self._load()
        return sorted(self._entries)

    def entries(self) -> list[Entry]:
        self._load()
        return [self._entries[n] for n in sorted(self._entries)]

    def get(self, name: str, **kwargs: Any) -> Any:
        self._load()
        if name not in self._entries:
            known = ", ".join(sorted(self._entries)) or "none"
            raise KeyError(f"unknown {self.kind} {name!r}; available: {known}")
        return self._entries[name].factory(**kwargs)

    def __contains__(self, name: str) -> bool:
        self._load()
        return name in self._entries


def parse_options(pairs, what: str = "option") -> dict:
    """``["q=0.3", "highpass=auto", "mic_positions=[[0,0.1],[0,0],[0,0]]"]`` -> keyword arguments; values
    are read as YAML scalars/lists (numbers, true/false, strings, lists), ``-`` in keys becomes ``_``.
    Raises ValueError naming ``what`` for an entry that is not KEY=VALUE."""
    import yaml
    opts = {}
    for pair in pairs:
        key, sep, value = str(pair).partition("=")
        if not sep or not key.strip():
            raise ValueError(f"{what} expects KEY=VALUE, got {pair!r}")
        opts[key.strip().replace("-", "_")] = yaml.safe_load(value)
    return opts
