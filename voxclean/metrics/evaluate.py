"""Folder evaluation: pair files by stem, score each pair, summarise with 95 % confidence intervals.

Pairing: every audio file under ``ref_dir`` and ``est_dir`` (recursive). A file is matched first by
its relative path without suffix (``a/b.wav`` <-> ``a/b.flac``), then by its bare stem when that stem
is unique in both trees, then (for corpora such as NOIZEUS) an estimate whose stem is a reference's
stem followed by ``_``, ``-`` or ``.`` and a tag (``sp01`` <-> ``sp01_babble_sn5``), when that is the
only such estimate for that reference; whatever is left is reported as unmatched.

Loading: multichannel files are downmixed; an estimate at another rate than its reference is
resampled to the reference's rate; a silent estimate is scored (its PESQ is NaN), a silent or broken
reference is an error for that pair. A bad pair never stops the batch: its row carries ``error`` and
the summary lists it.

Summary, per value: ``n`` finite values, ``mean``, sample ``std``, and the half-width of the 95 %
confidence interval of the mean from Student's t, ``ci95 = t_{0.975, n-1} * std / sqrt(n)``.
"""
from __future__ import annotations

import csv
import io
import json
import math
import os
import tempfile
import warnings
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy import stats

from voxclean.audio.io import find_audio, load
from voxclean.audio.resample import resample
from voxclean.metrics.pair import DEFAULT_METRICS, align_delay, fit_length, get_metric, outputs_of, score_pair


@dataclass
class Pairing:
    pairs: list[tuple[str, Path, Path]] = field(default_factory=list)   # (key, ref, est)
    unmatched_ref: list[Path] = field(default_factory=list)
    unmatched_est: list[Path] = field(default_factory=list)


def pair_files(ref_dir: str | os.PathLike, est_dir: str | os.PathLike) -> Pairing:
    """Match reference and estimate files (see the module docstring)."""
    ref_root, est_root = Path(ref_dir), Path(est_dir)
    for root in (ref_root, est_root):
        if not root.is_dir():
            raise NotADirectoryError(f"{root}: not a folder")
    refs, ests = find_audio(ref_root), find_audio(est_root)

    def rel_key(p: Path, root: Path) -> str:
        return p.relative_to(root).with_suffix("").as_posix()

    est_by_rel = {rel_key(p, est_root): p for p in ests}
    used: set[Path] = set()
    out = Pairing()
    left: list[Path] = []
    for r in refs:
        e = est_by_rel.get(rel_key(r, ref_root))
        if e is not None and e not in used:
            used.add(e)
            out.pairs.append((rel_key(r, ref_root), r, e))
        else:
            left.append(r)
    stems_ref = _unique_stems(left)
    stems_est = _unique_stems([p for p in ests if p not in used])
    still: list[Path] = []
    for r in left:
        e = stems_est.get(r.stem) if r.stem in stems_ref else None
        if e is not None:
            used.add(e)
            out.pairs.append((rel_key(r, ref_root), r, e))
        else:
            still.append(r)
    tagged = _tagged_matches(still, [p for p in ests if p not in used])
    for r in still:
        e = tagged.get(r)
        if e is not None:
            used.add(e)
            out.pairs.append((rel_key(r, ref_root), r, e))
        else:
            out.unmatched_ref.append(r)
    out.unmatched_est = [p for p in ests if p not in used]
    out.pairs.sort(key=lambda t: t[0])
    return out


def _tagged_matches(refs: list[Path], ests: list[Path]) -> dict[Path, Path]:
    """reference -> the one estimate named ``<ref stem><_|-|.><tag>``; the longest reference stem
    wins when several are prefixes; references claimed by several estimates get none."""
    by_stem = _unique_stems(refs)
    claims: dict[Path, list[Path]] = {}
    for e in ests:
        best = None
        for i, ch in enumerate(e.stem):
            if ch in "_-." and e.stem[:i] in by_stem:
                best = by_stem[e.stem[:i]]
        if best is not None:
            claims.setdefault(best, []).append(e)
    return {r: es[0] for r, es in claims.items() if len(es) == 1}


def _unique_stems(paths: list[Path]) -> dict[str, Path]:
    seen: dict[str, list[Path]] = {}
    for p in paths:
        seen.setdefault(p.stem, []).append(p)
    return {s: ps[0] for s, ps in seen.items() if len(ps) == 1}


def score_files(ref_path: Path, est_path: Path, metrics: list[str], align: bool = False,
                max_lag_s: float = 0.25) -> dict:
    """One row: ``sr``, ``delay_ms`` (when aligning) and the metric values for one pair of files."""
    ref, sr = load(ref_path, channels="downmix")
    est, sr_est = load(est_path, channels="downmix", allow_silent=True)
    if sr_est != sr:
        est = resample(est, sr_est, sr)
    row: dict = {"sr": sr}
    if align:
        est, lag = align_delay(ref, est, sr, max_lag_s)
        row["delay_ms"] = 1000.0 * lag / sr
    else:
        est = fit_length(est, len(ref))
    row.update(score_pair(ref, est, sr, metrics=metrics))
    return row


def _job(args):
    key, ref_path, est_path, metrics, align, max_lag_s = args
    base = {"file": key, "ref": str(ref_path), "est": str(est_path)}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            row = score_files(ref_path, est_path, metrics, align, max_lag_s)
            base.update(row)
            base["error"] = ""
        except Exception as exc:  # one bad pair must not stop the batch; it is reported
            base["error"] = f"{type(exc).__name__}: {exc}"
    base["warnings"] = "; ".join(sorted({str(w.message) for w in caught}))
    return base


def evaluate_dirs(ref_dir: str | os.PathLike, est_dir: str | os.PathLike, metrics: list[str] | None = None,
                  align: bool = False, max_lag_s: float = 0.25, jobs: int = 1,
                  progress: bool = True) -> tuple[list[dict], dict]:
    """Score every matched pair of ``ref_dir`` / ``est_dir``. Returns ``(rows, summary)``: one dict
    per pair (``file, ref, est, sr, [delay_ms], <values>, error, warnings``) and the summary of
    :func:`summarize` plus the pairing report."""
    names = list(DEFAULT_METRICS if metrics is None else metrics)
    for n in names:
        get_metric(n)                                 # unknown names fail here, before any work
    pairing = pair_files(ref_dir, est_dir)
    tasks = [(k, r, e, names, align, max_lag_s) for k, r, e in pairing.pairs]
    rows: list[dict] = []
    with _progress(progress, len(tasks)) as advance:
        if jobs > 1 and len(tasks) > 1:
            with ProcessPoolExecutor(max_workers=jobs) as pool:
                for row in pool.map(_job, tasks):
                    rows.append(row)
                    advance()
        else:
            for t in tasks:
                rows.append(_job(t))
                advance()
    values = outputs_of(names)
    summary = {"metrics": summarize(rows, values), "n_pairs": len(rows),
               "failed": [{"file": r["file"], "error": r["error"]} for r in rows if r["error"]],
               "unmatched_ref": [str(p) for p in pairing.unmatched_ref],
               "unmatched_est": [str(p) for p in pairing.unmatched_est],
               "align": align, "max_lag_s": max_lag_s if align else None,
               "ref_dir": str(ref_dir), "est_dir": str(est_dir)}
    return rows, summary


class _progress:
    """A rich progress bar on stderr (or nothing); used as ``with _progress(on, n) as advance``."""

    def __init__(self, on: bool, total: int):
        self.on, self.total = on, total

    def __enter__(self):
        if not self.on:
            return lambda: None
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
        self.p = Progress(TextColumn("scoring"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                          console=Console(stderr=True), transient=True)
        self.p.__enter__()
        task = self.p.add_task("scoring", total=self.total)
        return lambda: self.p.advance(task)

    def __exit__(self, *exc):
        if self.on:
            self.p.__exit__(*exc)
        return False


def summarize(rows: list[dict], values: list[str]) -> dict[str, dict[str, float]]:
    """Per value: ``n`` (finite), ``mean``, ``std`` (ddof 1), ``ci95`` (t-interval half-width),
    ``low``/``high`` (mean -/+ ci95). NaN where there are no values; ci95 NaN below two."""
    out = {}
    for k in values:
        v = np.array([r[k] for r in rows if isinstance(r.get(k), (int, float)) and math.isfinite(r[k])],
                     dtype=np.float64)
        n = len(v)
        mean = float(v.mean()) if n else float("nan")
        std = float(v.std(ddof=1)) if n > 1 else float("nan")
        ci = float(stats.t.ppf(0.975, n - 1) * std / math.sqrt(n)) if n > 1 else float("nan")
        out[k] = {"n": n, "mean": mean, "std": std, "ci95": ci, "low": mean - ci, "high": mean + ci}
    return out


def _atomic_text(path: str | os.PathLike, text: str) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def write_csv(rows: list[dict], path: str | os.PathLike) -> Path:
    """Per-pair CSV, written atomically; NaN as an empty cell."""
    cols: list[str] = []
    for r in rows:
        cols += [k for k in r if k not in cols]
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=cols, lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({k: ("" if isinstance(v, float) and not math.isfinite(v) else v) for k, v in r.items()})
    return _atomic_text(path, buf.getvalue())


def _json_safe(x):
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if isinstance(x, dict):
        return {k: _json_safe(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_json_safe(v) for v in x]
    if isinstance(x, np.generic):
        return _json_safe(x.item())
    return x


def write_json(rows: list[dict], summary: dict, path: str | os.PathLike) -> Path:
    """``{"summary": ..., "rows": [...]}``, written atomically; NaN as null."""
    return _atomic_text(path, json.dumps(_json_safe({"summary": summary, "rows": rows}), indent=1) + "\n")
