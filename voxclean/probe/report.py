"""The self-contained HTML report of a probe study.

One file, no external references: figures are embedded as base64 PNG (``<img src="data:image/png...">``)
and audio examples as base64 FLAC in ``<audio controls>`` players (FLAC plays in current Chrome, Firefox,
Safari and Edge, at about half the size of WAV). Sections: how the study was run, a summary table (each
system on clean input, its mean over the damaged conditions, and its mean gap to the oracle), Figure 1
and whichever of Figures 2-3 were made, the full tables per kind of damage, the audio examples, and the
notes (recogniser used, emotion accuracy not measured, failures).
"""
from __future__ import annotations

import base64
import html
import io
import math
from pathlib import Path
from typing import Sequence

import numpy as np

from voxclean.probe import robustness
from voxclean.probe.cache import atomic_write_text
from voxclean.probe.figures import COLUMNS

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px auto;max-width:1500px;color:#222;
     padding:0 16px;line-height:1.4}
h1{font-size:1.5em;margin-bottom:.2em} h2{font-size:1.2em;margin-top:1.6em;border-bottom:1px solid #ddd}
h3{font-size:1.0em;margin:1em 0 .3em}
table{border-collapse:collapse;font-size:12.5px;margin:.4em 0 1em}
th,td{border:1px solid #ddd;padding:3px 7px;text-align:right;white-space:nowrap}
th{background:#f4f4f4} td.l,th.l{text-align:left}
tr.oracle td{background:#fafafa;font-style:italic}
img.fig{max-width:100%;border:1px solid #eee}
code,pre{background:#f6f6f6;padding:1px 4px;border-radius:3px;font-size:12px}
pre{padding:8px;white-space:pre-wrap}
audio{width:190px;height:32px}
.note{background:#fff8e1;border-left:4px solid #f0c000;padding:6px 10px;margin:.6em 0}
.err{background:#fdecea;border-left:4px solid #d33;padding:6px 10px}
td.best{font-weight:bold}
table.settings td{white-space:normal;word-break:break-word;text-align:left}
.scroll{overflow-x:auto;max-width:100%}
"""



def _fmt_gap(gap: float, metric: str, unit: str = "") -> str:
    """A system-minus-oracle gap: WER/EER in percentage points (with ``unit``), others to 3 decimals."""
    if math.isnan(gap):
        return "–"
    return f"{100 * gap:+.1f}{unit}" if metric in ("wer", "eer") else f"{gap:+.3f}"

def _esc(s) -> str:
    return html.escape(str(s))


def _fmt(v, metric: str = "") -> str:
    if v is None or (isinstance(v, float) and (math.isnan(v) or math.isinf(v))):
        return "–"
    if metric in ("wer", "eer"):
        return f"{100 * v:.1f}%"
    return f"{v:.3f}" if abs(v) < 10 else f"{v:.1f}"


def png_data_uri(path: str | Path) -> str:
    return "data:image/png;base64," + base64.b64encode(Path(path).read_bytes()).decode()


def audio_data_uri(path: str | Path) -> str:
    """A WAV/FLAC file re-encoded as 16-bit FLAC, as a data URI."""
    import soundfile as sf
    x, sr = sf.read(str(path), dtype="float32")
    buf = io.BytesIO()
    sf.write(buf, np.clip(x, -1, 1), sr, format="FLAC", subtype="PCM_16")
    return "data:audio/flac;base64," + base64.b64encode(buf.getvalue()).decode()


def _nanmean(vals) -> float:
    v = [float(x) for x in vals if x is not None and not (isinstance(x, float) and math.isnan(x))]
    return float(np.mean(v)) if v else float("nan")


def summary_rows(table: Sequence[dict], systems: Sequence[str], oracle: str = "oracle") -> list[dict]:
    """Per system and measure: the clean value, the mean over damaged conditions, and the mean of
    (system - oracle) over damaged conditions (how much the system adds to the damage)."""
    metrics = [c[0] for c in COLUMNS]
    idx = {(r["system"], r["cond"]): r for r in table}
    damaged = sorted({r["cond"] for r in table if r["kind"] != "clean"})
    out = []
    for s in systems:
        row: dict = {"system": s}
        for m in metrics:
            clean = [r.get(m) for r in table if r["system"] == s and r["kind"] == "clean"]
            row[f"{m}:clean"] = clean[0] if clean else float("nan")
            row[f"{m}:noisy"] = _nanmean(idx[(s, c)].get(m) for c in damaged if (s, c) in idx)
            gaps = []
            for c in damaged:
                if (s, c) in idx and (oracle, c) in idx:
                    a, b = idx[(s, c)].get(m), idx[(oracle, c)].get(m)
                    if a is not None and b is not None and not (math.isnan(a) or math.isnan(b)):
                        gaps.append(a - b)
            row[f"{m}:gap"] = float(np.mean(gaps)) if gaps else float("nan")
        out.append(row)
    return out


def _summary_html(table, systems, oracle) -> str:
    rows = summary_rows(table, systems, oracle)
    metrics = [c for c in COLUMNS if any(not math.isnan(r.get(f"{c[0]}:clean", float("nan"))) or
                                         not math.isnan(r.get(f"{c[0]}:noisy", float("nan"))) for r in rows)]
    h = ["<table><tr><th class=l rowspan=2>system</th>"]
    h += [f"<th colspan=3>{_esc(name)} {'↓' if lower else '↑'}</th>" for _, name, lower in metrics]
    h.append("</tr><tr>" + "".join("<th>clean</th><th>damaged</th><th>vs oracle</th>" for _ in metrics) + "</tr>")
    for r in rows:
        cls = " class=oracle" if r["system"] == oracle else ""
        cells = []
        for m, _, _ in metrics:
            gap = r[f"{m}:gap"]
            gap_s = "" if r["system"] == oracle else _fmt_gap(gap, m, " pt")
            cells.append(f"<td>{_fmt(r[f'{m}:clean'], m)}</td><td>{_fmt(r[f'{m}:noisy'], m)}</td><td>{gap_s}</td>")
        h.append(f"<tr{cls}><td class=l>{_esc(r['system'])}</td>{''.join(cells)}</tr>")
    h.append("</table>")
    return "".join(h)


def _kind_tables_html(table, systems, oracle) -> str:
    out = []
    kinds = [k for k in robustness.KINDS if any(r["kind"] == k for r in table)]
    for kind in kinds:
        conds = []
        for r in table:
            if r["kind"] in ("clean", kind) and r["cond"] not in [c[0] for c in conds]:
                conds.append((r["cond"], r["label"]))
        out.append(f"<details><summary><b>{_esc(robustness.TITLES[kind])}</b> — every measure at every level"
                   f"</summary>")
        idx = {(r["system"], r["cond"]): r for r in table}
        for m, name, lower in COLUMNS:
            if all(idx.get((s, c), {}).get(m) is None or math.isnan(idx[(s, c)][m]) for s in systems for c, _ in conds):
                continue
            out.append(f"<h3>{_esc(name)} {'↓' if lower else '↑'} — {_esc(robustness.AXES[kind])}</h3><div class=scroll><table><tr>"
                       f"<th class=l>system</th>" + "".join(f"<th>{_esc(lbl)}</th>" for _, lbl in conds) + "</tr>")
            for s in systems:
                cls = " class=oracle" if s == oracle else ""
                vals = "".join(f"<td>{_fmt(idx.get((s, c), {}).get(m), m)}</td>" for c, _ in conds)
                out.append(f"<tr{cls}><td class=l>{_esc(s)}</td>{vals}</tr>")
            out.append("</table></div>")
        out.append("</details>")
    return "".join(out)


def _examples_html(examples: dict[str, str], conditions, systems, oracle) -> str:
    if not examples:
        return "<p>No audio examples were requested.</p>"
    label = {c.key: (c.kind, c.label) for c in conditions}
    h = ["<table><tr><th class=l>condition</th><th>clean reference</th>"]
    h += [f"<th>{_esc('damaged input (oracle)' if s == oracle else s)}</th>" for s in systems]
    h.append("</tr>")
    for key, folder in examples.items():
        kind, lbl = label.get(key, ("?", key))
        folder = Path(folder)
        cells = []
        for name in ["clean"] + list(systems):
            f = folder / f"{_safe(name)}.wav"
            cells.append(f"<td><audio controls preload=metadata src=\"{audio_data_uri(f)}\"></audio></td>" if f.exists()
                         else "<td>–</td>")
        h.append(f"<tr><td class=l>{_esc(robustness.TITLES.get(kind, kind))}<br><small>{_esc(lbl)} · "
                 f"{_esc(folder.parent.name)}</small></td>{''.join(cells)}</tr>")
    h.append("</table>")
    return "".join(h)


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)


def write_report(path: str | Path, *, table: Sequence[dict], systems: Sequence[str], conditions,
                 figures: dict[str, str | Path], examples: dict[str, str], notes: Sequence[str],
                 settings: dict[str, str], errors: Sequence[dict] = (), oracle: str = "oracle",
                 title: str = "voxclean probe: noise robustness of speech systems") -> Path:
    """Write the report (module docstring). ``figures``: caption -> PNG path, in display order;
    ``settings``: name -> value shown at the top; ``notes``: sentences shown at the end."""
    parts = [f"<!DOCTYPE html><html lang=en><head><meta charset=utf-8><title>{_esc(title)}</title>"
             f"<style>{CSS}</style></head><body><h1>{_esc(title)}</h1>"]
    parts.append("<table class=settings>" + "".join(f"<tr><th class=l>{_esc(k)}</th><td>{_esc(v)}</td></tr>"
                                                    for k, v in settings.items()) + "</table>")
    parts.append("<h2>Summary</h2><p>Each measure on clean input, its mean over all damaged conditions, and the "
                 "mean difference from the <i>oracle</i> (the damaged input, not processed: seed 003's topline). "
                 "A system that adds nothing to the damage has a zero gap; for ↓ measures a positive gap is worse, "
                 "for ↑ measures a negative one.</p>")
    parts.append(f"<div class=scroll>{_summary_html(table, systems, oracle)}</div>")
    parts.append("<h2>Figures</h2>")
    for caption, png in figures.items():
        parts.append(f"<figure><img class=fig alt=\"{_esc(caption)}\" src=\"{png_data_uri(png)}\">"
                     f"<figcaption>{_esc(caption)}</figcaption></figure>")
    parts.append("<h2>Tables</h2>" + _kind_tables_html(table, systems, oracle))
    parts.append("<h2>Audio examples</h2><p>One utterance under clean input and the middle level of each kind "
                 "of damage; the oracle column is the damaged input itself.</p>")
    parts.append(f"<div class=scroll>{_examples_html(examples, conditions, systems, oracle)}</div>")
    parts.append("<h2>Notes</h2>" + "".join(f"<p class=note>{_esc(n)}</p>" for n in notes))
    if errors:
        parts.append("<div class=err><b>Failures</b> (left out of the means):<ul>" + "".join(
            f"<li>{_esc(e.get('system'))} · {_esc(e.get('utt'))} · {_esc(e.get('label'))}: {_esc(e.get('error'))}</li>"
            for e in errors[:50]) + (f"<li>… {len(errors) - 50} more</li>" if len(errors) > 50 else "") + "</ul></div>")
    parts.append("</body></html>")
    path = Path(path)
    atomic_write_text(path, "\n".join(parts))
    return path


def make_report(res, out: str | Path, command: str = "") -> dict[str, Path]:
    """Figures 1-3 (PNG, under ``out/figures``) and ``out/report.html`` from a
    :class:`voxclean.probe.runner.StudyResult`. Returns the paths written."""
    from voxclean.metrics.downstream.emotion import emotion_status
    from voxclean.probe.figures import plot_robustness
    out = Path(out)
    fig_dir = out / "figures"
    paths: dict[str, Path] = {}
    figures: dict[str, Path] = {}
    if any(r["kind"] != "clean" for r in res.table):
        paths["robustness"] = plot_robustness(res.table, res.systems, fig_dir / "robustness.png")
        figures["Figure 1 — each measure against the damage level, one row per kind of damage; the oracle "
                "(black, dashed) is the damaged input itself."] = paths["robustness"]
    if res.linearity and res.linearity.get("systems"):
        from voxclean.probe.linearity import plot_linearity
        paths["linearity"] = plot_linearity(res.linearity, fig_dir / "linearity.png")
        figures["Figure 2 — linearity: additivity f(x+y) vs f(x)+f(y) (speech+speech, speech+noise) and "
                "homogeneity f(a x) vs a f(x) across input gains."] = paths["linearity"]
    if res.freqresp:
        from voxclean.probe.freqresp import plot_freqresp
        paths["freqresp"] = plot_freqresp(res.freqresp, fig_dir / "freqresp.png")
        figures["Figure 3 — frequency response (exponential sine sweep) and harmonic distortion at three "
                "levels."] = paths["freqresp"]
    from voxclean.probe.figures import shrink_png
    for key in ("robustness", "linearity", "freqresp"):
        if key in paths:
            shrink_png(paths[key])
    n_test = sum(1 for u in res.utterances if u.test)
    n_asr = sum(1 for u in res.utterances if u.test and u.transcript is not None)
    n_spk = sum(1 for u in res.utterances if u.test and u.speaker is not None)
    n_enr = sum(1 for u in res.utterances if u.speaker is not None)
    trials = next((r.get("trials") for r in res.table if r.get("trials")), None)
    settings = {
        "command": command or "(Python API)",
        "systems": ", ".join(res.systems),
        "sets": ", ".join(res.config.get("sets", [])),
        "utterances": f"{n_test} processed ({n_asr} with transcripts for WER, {n_spk} speaker test utterances), "
                      f"{n_enr} clean enrolment utterances" + (f", {trials} verification trials" if trials else ""),
        "conditions": f"{len(res.conditions)} (" + ", ".join(
            f"{robustness.TITLES[k]}: {sum(c.kind == k for c in res.conditions)}"
            for k in ("clean",) + robustness.KINDS if any(c.kind == k for c in res.conditions)) + ")",
        "recogniser": res.asr or "none (WER not measured)",
        "speaker embeddings": "Resemblyzer d-vectors (cosine scoring)" if res.config.get("speaker") else "off",
        "seed": str(res.config.get("seed")),
        "quick": str(bool(res.config.get("quick"))),
        "wall time": f"{res.seconds:.0f} s for this run" + (" (results already in the cache were reused)"
                                                             if res.config.get("cache") else ""),
    }
    notes = [emotion_status(),
             f"WER is the corpus word error rate of {res.asr or 'no recogniser'} on normalised words (lower case, "
             "no punctuation); EER pools the verification trials of clean enrolment utterances against processed "
             "test utterances; the speaker cosine similarity compares each processed test utterance with its own "
             "clean version.",
             "Mel distance: mean |log10 mel magnitude difference| (80 bands, 16 kHz); PESQ: ITU-T P.862.2 wide-band; "
             "STOI: Taal et al. 2011; DNSMOS: P.835 OVRL (on the utterances marked for it).",
             "The oracle is the damaged input, not processed, as in seed 003: the gap to it is what the system adds."]
    paths["markdown"] = out / "results.md"
    atomic_write_text(paths["markdown"], markdown_tables(res.table, res.systems))
    paths["html"] = write_report(out / "report.html", table=res.table, systems=res.systems,
                                 conditions=res.conditions, figures=figures, examples=res.examples, notes=notes,
                                 settings=settings, errors=res.errors)
    return paths


def markdown_tables(table: Sequence[dict], systems: Sequence[str], oracle: str = "oracle") -> str:
    """The summary (clean / mean over damaged / gap to oracle) and one table per kind of damage, as
    GitHub markdown -- what ``docs/`` quotes."""
    rows = summary_rows(table, systems, oracle)
    metrics = [c for c in COLUMNS if any(not math.isnan(r[f"{c[0]}:clean"]) for r in rows)]
    out = ["| system | " + " | ".join(f"{name} {'↓' if lo else '↑'} clean / damaged / gap" for _, name, lo in metrics) + " |",
           "|---|" + "---|" * len(metrics)]
    for r in rows:
        cells = []
        for m, _, _ in metrics:
            gap = r[f"{m}:gap"]
            g = "" if r["system"] == oracle else f" / {_fmt_gap(gap, m)}"
            cells.append(f"{_fmt(r[f'{m}:clean'], m)} / {_fmt(r[f'{m}:noisy'], m)}{g}")
        out.append(f"| {r['system']} | " + " | ".join(cells) + " |")
    idx = {(r["system"], r["cond"]): r for r in table}
    for kind in [k for k in robustness.KINDS if any(r["kind"] == k for r in table)]:
        conds = []
        for r in table:
            if r["kind"] in ("clean", kind) and (r["cond"], r["label"]) not in conds:
                conds.append((r["cond"], r["label"]))
        out.append(f"\n**{robustness.TITLES[kind]}** ({robustness.AXES[kind]})\n")
        out.append("| measure | system | " + " | ".join(lbl for _, lbl in conds) + " |")
        out.append("|---|---|" + "---|" * len(conds))
        for m, name, lo in metrics:
            for s in systems:
                vals = " | ".join(_fmt(idx.get((s, c), {}).get(m), m) for c, _ in conds)
                out.append(f"| {name} {'↓' if lo else '↑'} | {s} | {vals} |")
    return "\n".join(out) + "\n"
