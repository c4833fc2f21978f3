"""Summaries of benchmark rows, and the markdown report.

For each method and metric over ``n`` files with values ``v_i``::

    mean = (1/n) sum v_i,   ci95 = 1.96 * s / sqrt(n)    (s: sample standard deviation)

``ci95`` is the normal-approximation half-width of a 95 % confidence interval of the mean (files
from the same speaker or sentence are not independent, so read it as a guide, not a test).
Speed is pooled over files rather than averaged per file::

    RTF = sum(processing seconds) / sum(audio seconds),      × real time = 1 / RTF
"""
from __future__ import annotations

import math
from collections import defaultdict
from typing import Iterable

import numpy as np

NOT_METRICS = {"file", "method", "duration_s", "time_s", "cpu_s", "rtf", "setup_s", "tags"}
BIN_DB = 5.0   # numeric tags with many distinct values (e.g. random SNRs) are grouped in 5 dB bins
MAX_LEVELS = 8


def metric_names(rows: Iterable[dict]) -> list[str]:
    """Metric columns in order of first appearance."""
    names: dict[str, None] = {}
    for r in rows:
        for k, v in r.items():
            if k not in NOT_METRICS and isinstance(v, (int, float)) and not isinstance(v, bool):
                names.setdefault(k)
    return list(names)


def stats(rows: list[dict], metrics: list[str]) -> dict:
    out: dict = {"n": len(rows)}
    for m in metrics:
        v = np.array([r[m] for r in rows if isinstance(r.get(m), (int, float))
                      and math.isfinite(r[m])], dtype=np.float64)
        if len(v):
            sd = float(v.std(ddof=1)) if len(v) > 1 else 0.0
            out[m] = {"mean": float(v.mean()), "std": sd, "ci95": 1.96 * sd / math.sqrt(len(v)),
                      "n": int(len(v))}
    timed = [r for r in rows if r.get("time_s") is not None]
    if timed:
        dur = sum(r["duration_s"] for r in timed)
        t, c = sum(r["time_s"] for r in timed), sum(r["cpu_s"] for r in timed)
        out["rtf"], out["rtf_cpu"] = t / dur, c / dur
        out["x_realtime"] = dur / t if t > 0 else math.inf
        out["setup_s_per_file"] = sum(r.get("setup_s") or 0.0 for r in timed) / len(timed)
    return out


def group_levels(rows: list[dict], key: str) -> dict[str, str]:
    """Map each row's tag value to a group label; numeric tags with more than ``MAX_LEVELS``
    distinct values are put in ``BIN_DB``-wide bins labelled ``[lo, hi)``."""
    values = {r["tags"].get(key) for r in rows if key in r.get("tags", {})}
    numeric = all(isinstance(v, (int, float)) for v in values)
    if numeric and len(values) > MAX_LEVELS:
        def label(v):
            lo = math.floor(v / BIN_DB) * BIN_DB
            return f"[{lo:g}, {lo + BIN_DB:g})"
        return {str(v): label(v) for v in values}
    return {str(v): str(v) for v in values}


def _sort_key(label: str):
    try:
        return (0, float(label.strip("[").split(",")[0]))
    except ValueError:
        return (1, label)


def summarize(rows: list[dict], methods: list[str], group_by: Iterable[str] = ()) -> dict:
    """``{"metrics": [...], "overall": {method: stats}, "groups": {key: {label: {method: stats}}}}``."""
    metrics = metric_names(rows)
    by_method: dict[str, list[dict]] = defaultdict(list)
    for r in rows:
        by_method[r["method"]].append(r)
    summary = {"metrics": metrics,
               "overall": {m: stats(by_method[m], metrics) for m in methods if by_method[m]},
               "groups": {}}
    for key in group_by:
        parts = key.split("+")                      # "noise+snr": one cell per combination
        levels = [group_levels(rows, k) for k in parts]
        if not all(levels):
            continue
        cells: dict[tuple, dict[str, list[dict]]] = defaultdict(lambda: defaultdict(list))
        for r in rows:
            tags = r.get("tags", {})
            if all(k in tags for k in parts):
                cell = tuple(lv[str(tags[k])] for k, lv in zip(parts, levels))
                cells[cell][r["method"]].append(r)
        order = sorted(cells, key=lambda c: tuple(_sort_key(x) for x in c))
        summary["groups"][key] = {
            " ".join(c): {m: stats(cells[c][m], metrics) for m in methods if cells[c][m]} for c in order}
    return summary


def decimals(summary: dict) -> dict[str, int]:
    """Decimals per metric column: 3 when every mean is below 1.5 in magnitude (STOI, LSD...), else 2."""
    out = {}
    for m in summary["metrics"]:
        means = [s[m]["mean"] for s in summary["overall"].values() if m in s]
        out[m] = 3 if means and max(abs(v) for v in means) < 1.5 else 2
    return out


def _cell(s: dict, m: str, ci: bool, dec: dict[str, int]) -> str:
    if m not in s:
        return "–"
    d = dec.get(m, 2)
    return f"{s[m]['mean']:.{d}f} ± {s[m]['ci95']:.{d}f}" if ci else f"{s[m]['mean']:.{d}f}"


def _speed(s: dict) -> list[str]:
    if "rtf" not in s:
        return ["–", "–", "–"]
    return [f"{s['rtf']:.4f}", f"{s['rtf_cpu']:.4f}", f"{s['x_realtime']:.0f}×"]


def markdown(result: dict) -> str:
    """The report: the overall table (mean ± ci95, speed) and one table per metric per group key."""
    st, summ = result["settings"], result["summary"]
    metrics, methods = summ["metrics"], [m for m in st["methods"] if m in summ["overall"]]
    dec = decimals(summ)
    lines = [f"# Benchmark: `{st['set_dir']}`", "",
             f"{result['n_pairs']} files, {st['n_audio_s'] / 60:.1f} min of audio; metrics: "
             f"{', '.join(st['metrics'] or ['default'])}; align={st['align']}; "
             f"threads={st['threads']}; {result['created']}; {result['environment']['cpu']}.", "",
             "Values: mean ± 95 % CI half-width over files. RTF = processing time / audio duration "
             "(wall clock, and CPU time), model loading excluded; one thread.", "",
             "| method | " + " | ".join(metrics) + " | RTF | RTF (CPU) | × real time |",
             "|---" * (len(metrics) + 4) + "|"]
    for m in methods:
        s = summ["overall"][m]
        lines.append(f"| {m} | " + " | ".join(_cell(s, k, True, dec) for k in metrics) + " | "
                     + " | ".join(_speed(s)) + " |")
    for key, levels in summ["groups"].items():
        labels = list(levels)
        lines += ["", f"## By {key}", ""]
        for k in metrics:
            if len(labels) <= MAX_LEVELS:   # methods down, conditions across
                lines += [f"**{k}**", "", f"| method | " + " | ".join(labels) + " | all |",
                          "|---" * (len(labels) + 2) + "|"]
                for m in methods:
                    lines.append(f"| {m} | " + " | ".join(_cell(levels[lab].get(m, {}), k, False, dec)
                                                           for lab in labels)
                                 + f" | {_cell(summ['overall'][m], k, False, dec)} |")
            else:                           # many conditions: the classic layout, conditions down
                lines += [f"**{k}**", "", f"| {key} | " + " | ".join(methods) + " |",
                          "|---" * (len(methods) + 1) + "|"]
                for lab in labels:
                    lines.append(f"| {lab} | " + " | ".join(_cell(levels[lab].get(m, {}), k, False, dec)
                                                             for m in methods) + " |")
                lines.append(f"| all | " + " | ".join(_cell(summ["overall"][m], k, False, dec)
                                                      for m in methods) + " |")
            lines.append("")
    if result.get("errors"):
        lines += ["", f"## Errors ({len(result['errors'])})", ""]
        lines += [f"- {e}" for e in result["errors"]]
    return "\n".join(lines).rstrip() + "\n"
