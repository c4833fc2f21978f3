"""Find the (clean, noisy) pairs of a benchmark set and the condition of each noisy file.

A set is a folder with ``clean/`` and ``noisy/`` (searched recursively). A noisy file is matched to
the clean file with, in order of preference:

1. the same relative path without extension (``noisy/a/b.wav`` -> ``clean/a/b.flac``);
2. the same file stem anywhere under ``clean/`` (``voxclean mix`` sets: ``noisy/<name>.wav``);
3. the NOIZEUS naming ``<utt>_<noise>_sn<snr>`` -> ``clean/<utt>``
   (``noisy/babble_5dB/sp01_babble_sn5.flac`` -> ``clean/sp01.flac``).

Condition tags, used to group results, come from a parent folder named ``<noise>_<snr>dB``, else
from the NOIZEUS file name, and from ``SET/manifest.jsonl`` when it has a line for the file (numeric
``snr``/``snr_db`` and string ``noise``/``noise_file``/``rir`` fields are read, whatever else the
line holds; the line is found by its ``noisy``/``name``/``file``/... field).
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from voxclean.audio.io import find_audio

NOIZEUS_RE = re.compile(r"^(?P<utt>.+?)_(?P<noise>[A-Za-z]+)_sn(?P<snr>-?\d+(?:\.\d+)?)$")
CONDITION_DIR_RE = re.compile(r"^(?P<noise>[^/]+?)_(?P<snr>-?\d+(?:\.\d+)?)dB$")
NAME_KEYS = ("noisy", "name", "file", "path", "out", "output", "id")


@dataclass(frozen=True)
class Pair:
    name: str                      # noisy path relative to SET/noisy, POSIX, with extension
    clean: Path
    noisy: Path
    tags: dict = field(default_factory=dict)


def _number(s: str) -> float | int:
    v = float(s)
    return int(v) if v.is_integer() else v


def _manifest_tags(set_dir: Path) -> dict[str, dict]:
    """Map noisy file stems and relative paths to condition tags read from manifest.jsonl."""
    path = set_dir / "manifest.jsonl"
    if not path.is_file():
        return {}
    out: dict[str, dict] = {}
    for i, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path}: line {i} is not JSON ({exc})") from exc
        tags = {}
        for key in ("snr", "snr_db"):
            if isinstance(rec.get(key), (int, float)):
                tags["snr"] = rec[key]
        for key in ("noise", "noise_file"):
            if isinstance(rec.get(key), str):
                tags["noise"] = Path(rec[key]).stem
        if isinstance(rec.get("rir"), str):
            tags["rir"] = Path(rec["rir"]).stem
        for key in NAME_KEYS:
            if isinstance(rec.get(key), str):
                p = Path(rec[key])
                out[p.stem] = tags
                out[p.with_suffix("").as_posix()] = tags
    return out


def discover_pairs(set_dir: str | Path) -> tuple[list[Pair], list[str]]:
    """Return ``(pairs, problems)``; ``problems`` names noisy files with no (or an ambiguous) clean
    file. Raises ``FileNotFoundError`` if ``clean/`` or ``noisy/`` is missing or holds no audio."""
    set_dir = Path(set_dir)
    clean_dir, noisy_dir = set_dir / "clean", set_dir / "noisy"
    for d in (clean_dir, noisy_dir):
        if not d.is_dir():
            raise FileNotFoundError(f"{d}: folder not found; a benchmark set needs clean/ and noisy/")
    cleans, noisies = find_audio(clean_dir), find_audio(noisy_dir)
    if not cleans or not noisies:
        raise FileNotFoundError(f"{clean_dir if not cleans else noisy_dir}: no audio files found")
    by_rel = {c.relative_to(clean_dir).with_suffix("").as_posix(): c for c in cleans}
    by_stem: dict[str, Path | None] = {}
    for c in cleans:
        by_stem[c.stem] = None if c.stem in by_stem else c   # None marks an ambiguous stem
    manifest = _manifest_tags(set_dir)

    pairs, problems = [], []
    for n in noisies:
        rel = n.relative_to(noisy_dir)
        key = rel.with_suffix("").as_posix()
        m = NOIZEUS_RE.match(n.stem)
        clean = by_rel.get(key) or by_stem.get(n.stem)
        if clean is None and m:
            clean = by_stem.get(m["utt"])
        if clean is None:
            why = "ambiguous (several clean files share its name)" if n.stem in by_stem else "no clean file"
            problems.append(f"{n}: {why} in {clean_dir}")
            continue
        tags: dict = {}
        cond = CONDITION_DIR_RE.match(n.parent.name) if n.parent != noisy_dir else None
        if cond:
            tags = {"noise": cond["noise"], "snr": _number(cond["snr"])}
        elif m:
            tags = {"noise": m["noise"], "snr": _number(m["snr"])}
        tags.update(manifest.get(key) or manifest.get(n.stem) or {})
        pairs.append(Pair(rel.as_posix(), clean, n, tags))
    return pairs, problems


def subsample(pairs: list[Pair], limit: int | None, seed: int = 0) -> list[Pair]:
    """``limit`` pairs drawn round-robin over the condition groups (same tags, else same folder) so
    a quick run covers as many conditions as it can: groups and the files within each are visited
    in a seeded random order. Returned in the set's order. ``None``: all pairs."""
    if not limit or limit >= len(pairs):
        return list(pairs)
    rng = np.random.default_rng(seed)
    groups: dict[str, list[int]] = {}
    for i, p in enumerate(pairs):
        key = repr(sorted(p.tags.items())) if p.tags else str(Path(p.name).parent)
        groups.setdefault(key, []).append(i)
    queues = [list(rng.permutation(g)) for g in groups.values()]
    queues = [queues[i] for i in rng.permutation(len(queues))]
    picked: list[int] = []
    while len(picked) < limit:
        for q in queues:
            if q and len(picked) < limit:
                picked.append(int(q.pop(0)))
    return [pairs[i] for i in sorted(picked)]
