"""Figures laid out like seed 003's: Figure 1 (robustness), and Figures 2-3 through the probe's own
linearity and frequency-response modules.

Figure 1 (:func:`plot_robustness`): one row per kind of damage (ambient noise, white noise, simulated and
measured reverberation), one column per measure (mel distance, PESQ, STOI, WER, EER, speaker cosine
similarity, DNSMOS OVRL); the x axis runs from ``clean`` through the levels from mild to severe; one line
per system and the *oracle* (the damaged input itself, black dashed) as the topline. A measure with no
value anywhere (no recogniser, no speaker set) drops its column. WER above 120 % (a recogniser looping
on heavily damaged input) is drawn at 120 % with a ^ marker; the tables keep the true value.

PNGs are written at 80 dpi, atomically, and :func:`shrink_png` palettes them for committing.
"""
from __future__ import annotations

import math
import os
import tempfile
from pathlib import Path
from typing import Sequence

import numpy as np

from voxclean.probe import robustness

COLUMNS = (("mel", "mel distance", True), ("pesq_wb", "PESQ (wb)", False), ("stoi", "STOI", False),
           ("wer", "WER", True), ("eer", "EER", True), ("cos_clean", "speaker cos. sim.", False),
           ("dnsmos_ovrl", "DNSMOS OVRL", False))
ORACLE_STYLE = {"color": "black", "linestyle": "--", "marker": "o", "linewidth": 1.6, "markersize": 3.5}
CLIP = {"wer": 1.2}   # WER has no upper bound (insertions); points above are drawn at the top edge as ^


def _isnan(v) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v))


def save_figure(fig, path: str | Path, dpi: int = 80) -> Path:
    """``fig.savefig`` to a temporary file beside ``path``, renamed over it when complete."""
    import matplotlib.pyplot as plt
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".png", dir=path.parent)
    os.close(fd)
    try:
        fig.savefig(tmp, dpi=dpi, format="png", metadata={"Software": None})
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    finally:
        plt.close(fig)
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def shrink_png(path: str | Path, colors: int = 64) -> Path:
    """Rewrite a line-plot PNG with an adaptive ``colors``-entry palette (no dithering), atomically:
    about a quarter of the size, indistinguishable for line plots -- small enough to commit."""
    from PIL import Image
    path = Path(path)
    img = Image.open(path).convert("RGB").quantize(colors=colors, method=Image.Quantize.MEDIANCUT,
                                                   dither=Image.Dither.NONE)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".png", dir=path.parent)
    os.close(fd)
    try:
        img.save(tmp, format="PNG", optimize=True)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def _tick(row: dict) -> str:
    if row["kind"] == "clean":
        return "clean"
    if row["kind"] == "reverb_real":
        return f"{row['level']:+.0f}"
    return f"{row['level']:g}"


def plot_robustness(table: Sequence[dict], systems: Sequence[str], path: str | Path,
                    oracle: str = "oracle", title: str | None = None) -> Path:
    """Figure 1 of seed 003 from the study table (:func:`voxclean.probe.runner.aggregate` rows)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    kinds = [k for k in robustness.KINDS if any(r["kind"] == k for r in table)]
    cols = [c for c in COLUMNS if any(not _isnan(r.get(c[0])) for r in table)]
    if not kinds or not cols:
        raise ValueError("plot_robustness: the table has no damaged conditions or no measures to plot")
    clean = {r["system"]: r for r in table if r["kind"] == "clean"}
    fig, axes = plt.subplots(len(kinds), len(cols), figsize=(2.45 * len(cols), 2.05 * len(kinds) + 0.6),
                             squeeze=False)
    palette = plt.get_cmap("tab10").colors
    others = [s for s in systems if s != oracle]
    handles = {}
    for i, kind in enumerate(kinds):
        for j, (metric, name, lower) in enumerate(cols):
            ax = axes[i][j]
            for s in [oracle] + others:
                rows = [r for r in table if r["system"] == s and r["kind"] == kind]
                if s in clean:
                    rows = [clean[s]] + rows
                if not rows:
                    continue
                ys = np.array([np.nan if _isnan(r.get(metric)) else float(r[metric]) for r in rows])
                style = ORACLE_STYLE if s == oracle else {
                    "color": palette[others.index(s) % len(palette)], "marker": ".", "linewidth": 1.2}
                top = CLIP.get(metric)
                if top is not None and np.nanmax(np.r_[ys, -np.inf]) > top:
                    over = ys > top
                    ys = np.minimum(ys, top)
                    ax.plot(np.arange(len(rows))[over], ys[over], linestyle="none", marker="^", markersize=6,
                            color=style["color"])
                (h,) = ax.plot(np.arange(len(rows)), ys, label=s, **style)
                handles.setdefault(s, h)
                ticks = [_tick(r) for r in rows]
            ax.set_xticks(np.arange(len(ticks)))
            ax.set_xticklabels(ticks, fontsize=6.5, rotation=45 if kind == "reverb_real" else 0)
            ax.tick_params(axis="y", labelsize=6.5)
            ax.grid(alpha=0.3, linewidth=0.5)
            if i == 0:
                ax.set_title(f"{name} {'↓' if lower else '↑'}", fontsize=8.5)
            if j == 0:
                ax.set_ylabel(robustness.TITLES[kind].replace(" (", "\n("), fontsize=7.5)
            ax.set_xlabel(robustness.AXES[kind], fontsize=6.5, labelpad=1)
    order = [oracle] + others
    fig.legend([handles[s] for s in order if s in handles], [s for s in order if s in handles],
               loc="upper center", ncol=min(len(handles), 8), fontsize=8, frameon=False)
    if title:
        fig.suptitle(title, y=0.995, fontsize=9, va="top")
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.45 / (2.05 * len(kinds) + 0.6)), h_pad=0.6, w_pad=0.4)
    return save_figure(fig, path)
