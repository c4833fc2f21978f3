"""Content-addressed cache of probe results under ``REPORT_DIR/.cache``.

A result is stored as JSON under ``sha256(canonical JSON of its key)``; the key holds everything the
result depends on -- the input file's content digest, the crop, the condition and its seed, the system's
name and parameters, the metrics asked for and :data:`CACHE_VERSION` (bumped whenever a metric or the
degradation recipe changes). Re-running a study therefore recomputes only what changed, and two runs with
the same seed read back identical numbers. Writes are atomic (temporary file + rename), so parallel
workers and interrupted runs never leave a half-written entry; a corrupt entry is treated as missing.
"""
from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

CACHE_VERSION = 1


def digest_key(key: Any) -> str:
    """sha256 hex digest of ``key`` as canonical JSON (sorted keys, no spaces)."""
    text = json.dumps(key, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


@functools.lru_cache(maxsize=4096)
def file_digest(path: str) -> str:
    """sha1 of a file's bytes (inputs are small; the result is memoised per process)."""
    h = hashlib.sha1()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


@functools.lru_cache(maxsize=256)
def source_digest(path: str | None) -> str | None:
    """Digest of a noise/RIR source: a file's bytes, or a folder's sorted (relative name, size, digest)."""
    if path is None:
        return None
    p = Path(path)
    if p.is_file():
        return file_digest(str(p))
    if p.is_dir():
        items = sorted((str(f.relative_to(p)), file_digest(str(f))) for f in p.rglob("*") if f.is_file())
        return digest_key(items)
    return f"missing:{path}"


def atomic_write_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; results are meant to be read by others
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


class Cache:
    """``get``/``put`` JSON results by key; ``root=None`` disables caching (every ``get`` misses)."""

    def __init__(self, root: str | Path | None):
        self.root = Path(root) if root is not None else None

    def path(self, key: Any, suffix: str = ".json") -> Path:
        if self.root is None:
            raise RuntimeError("cache is disabled")
        h = digest_key([CACHE_VERSION, key])
        return self.root / h[:2] / f"{h}{suffix}"

    def get(self, key: Any) -> dict | None:
        if self.root is None:
            return None
        p = self.path(key)
        try:
            return json.loads(p.read_text())
        except (FileNotFoundError, json.JSONDecodeError, UnicodeDecodeError):
            return None

    def put(self, key: Any, value: dict) -> None:
        if self.root is not None:
            atomic_write_text(self.path(key), json.dumps(value, allow_nan=True))
