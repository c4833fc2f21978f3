"""Linearity of a black-box system (seed 003 Sec. 5, Figure 2): additivity and homogeneity, in dB.

A system ``f`` is linear when, for signals ``x``, ``y`` and gains ``alpha`` (seed 003 Sec. 5):

    additivity    f(x + y)     = f(x) + f(y)                                               (1)
    homogeneity   f(alpha x)   = alpha f(x)                                                (2)

We score how far ``f`` is from each property as a signal-to-error ratio in dB (higher: more linear)::

    A(x, y)   = 10 log10( sum f(x+y)^2        / sum (f(x+y) - f(x) - f(y))^2 )             (3)
    H(alpha)  = 10 log10( sum (alpha f(x))^2  / sum (f(alpha x) - alpha f(x))^2 )          (4)
    G(alpha)  = 10 log10( sum f(alpha x)^2    / sum (alpha f(x))^2 )                       (5)

The *error* of (1)/(2) in dB is the negative of (3)/(4): ``-20 dB`` means the deviation has 1 % of the
output energy. (5) is the gain error: 0 dB when scaling the input scales the output by exactly ``alpha``;
it shows the "uneven amplification at extreme gains" of seed 003. Scores are capped at
:data:`MAX_DB` (a bit-exact system, e.g. the identity, scores exactly ``MAX_DB``).

Levels: for additivity the second signal is scaled to ``snr_db`` below/above the first (default 0 dB,
equal power), then both by one common gain so the loudest of ``x``, ``y`` and ``x + y`` peaks at
``peak_dbfs`` (default -6 dBFS); for homogeneity ``x`` peaks at ``-9 dBFS``, so the largest default
gain (+6 dB) stays below full scale. Gains sweep -30 ... +6 dB in 3 dB steps.

Cost per system: 3 calls of ``f`` per additivity pair, ``1 + len(gains_db)`` per homogeneity signal.
"""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

MAX_DB = 100.0
GAINS_DB = tuple(float(g) for g in np.arange(-30, 7, 3))   # -30, -27, ..., +6
ADD_PEAK_DBFS = -6.0
HOM_PEAK_DBFS = -9.0


def ratio_db(signal: np.ndarray, error: np.ndarray) -> float:
    """``10 log10(sum signal^2 / sum error^2)``, capped at :data:`MAX_DB` (and at ``-MAX_DB``)."""
    s = float(np.sum(np.asarray(signal, np.float64) ** 2))
    e = float(np.sum(np.asarray(error, np.float64) ** 2))
    if e <= s * 10 ** (-MAX_DB / 10):
        return MAX_DB
    if s <= e * 10 ** (-MAX_DB / 10):
        return -MAX_DB
    return float(10 * np.log10(s / e))


def _peak(x: np.ndarray) -> float:
    return float(np.max(np.abs(x))) if x.size else 0.0


def scale_pair(x: np.ndarray, y: np.ndarray, snr_db: float = 0.0,
               peak_dbfs: float = ADD_PEAK_DBFS) -> tuple[np.ndarray, np.ndarray]:
    """``y`` trimmed/looped to ``len(x)`` and scaled to ``snr_db`` (power of x over power of y), then
    both scaled so the loudest of ``x``, ``y``, ``x + y`` peaks at ``peak_dbfs``."""
    x = np.asarray(x, np.float64)
    y = np.resize(np.asarray(y, np.float64), len(x))   # loops a short y
    px, py = np.mean(x ** 2), np.mean(y ** 2)
    if px <= 0 or py <= 0:
        raise ValueError(f"additivity needs two signals that are not all zero (power {px:.3g} and {py:.3g})")
    y = y * np.sqrt(px / (py * 10 ** (snr_db / 10)))
    g = 10 ** (peak_dbfs / 20) / max(_peak(x), _peak(y), _peak(x + y))
    return (g * x).astype(np.float32), (g * y).astype(np.float32)


def additivity(system, x: np.ndarray, y: np.ndarray, sr: int) -> dict:
    """Eq. (3) for one pair, as given (no rescaling): ``{"additivity_db", "error_db"}``."""
    x, y = np.asarray(x, np.float32), np.asarray(y, np.float32)
    fx = np.asarray(system.process(x, sr), np.float64)
    fy = np.asarray(system.process(y, sr), np.float64)
    fxy = np.asarray(system.process((x + y).astype(np.float32), sr), np.float64)
    a = ratio_db(fxy, fxy - fx - fy)
    return {"additivity_db": a, "error_db": -a}


def homogeneity(system, x: np.ndarray, sr: int, gains_db: Sequence[float] = GAINS_DB) -> dict:
    """Eqs. (4) and (5) at each gain, ``x`` as given: ``{"gains_db", "homogeneity_db", "gain_error_db"}``."""
    x = np.asarray(x, np.float32)
    fx = np.asarray(system.process(x, sr), np.float64)
    hom, gerr = [], []
    for g_db in gains_db:
        alpha = 10 ** (g_db / 20)
        fax = np.asarray(system.process((alpha * x).astype(np.float32), sr), np.float64)
        ref = alpha * fx
        hom.append(ratio_db(ref, fax - ref))
        e_ref = float(np.sum(ref ** 2))
        gerr.append(float(10 * np.log10(max(float(np.sum(fax ** 2)), 1e-30) / e_ref)) if e_ref > 0 else float("nan"))
    return {"gains_db": [float(g) for g in gains_db], "homogeneity_db": hom, "gain_error_db": gerr}


def save_figure(fig, path) -> Path:
    """Save a matplotlib figure atomically (temp file beside ``path``, then rename); format from the suffix."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=path.suffix or ".png", dir=path.parent)
    os.close(fd)
    try:
        fig.savefig(tmp, dpi=120, format=(path.suffix.lstrip(".") or "png"))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _jsonable(v):
    if isinstance(v, dict):
        return {str(k): _jsonable(e) for k, e in v.items()}
    if isinstance(v, (list, tuple)):
        return [_jsonable(e) for e in v]
    if isinstance(v, np.ndarray):
        return _jsonable(v.tolist())
    if isinstance(v, (float, np.floating)):
        return float(v) if np.isfinite(v) else None
    if isinstance(v, np.integer):
        return int(v)
    return v


def write_json(obj, path) -> Path:
    """Write probe results as JSON atomically; NaN and infinities become ``null``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as fh:
            json.dump(_jsonable(obj), fh, indent=1, allow_nan=False)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _mean(v: Iterable[float]) -> float:
    v = [float(e) for e in v]
    return float(np.mean(v)) if v else float("nan")


def probe_system(system, speech: Sequence[np.ndarray], sr: int, noise: Sequence[np.ndarray] = (),
                 gains_db: Sequence[float] = GAINS_DB, snr_db: float = 0.0,
                 peak_dbfs: float = ADD_PEAK_DBFS, hom_peak_dbfs: float = HOM_PEAK_DBFS) -> dict:
    """All linearity scores of one system on mono float32 signals at ``sr``.

    * speech + speech: consecutive pairs ``(speech[i], speech[i+1])`` (needs two or more utterances);
    * speech + noise: ``(speech[i], noise[i % len(noise)])``;
    * homogeneity: every ``speech[i]`` at ``hom_peak_dbfs``, each gain in ``gains_db``.

    Returns a JSON-ready dict: per-pair scores, their means, and the per-gain means.
    """
    speech = [np.asarray(s, np.float32) for s in speech]
    if not speech:
        raise ValueError("linearity probe needs at least one speech signal")
    ss = [additivity(system, *scale_pair(speech[i], speech[i + 1], snr_db, peak_dbfs), sr)["additivity_db"]
          for i in range(len(speech) - 1)]
    sn = [additivity(system, *scale_pair(s, noise[i % len(noise)], snr_db, peak_dbfs), sr)["additivity_db"]
          for i, s in enumerate(speech)] if len(noise) else []
    homs = [homogeneity(system, s * np.float32(10 ** (hom_peak_dbfs / 20) / _peak(s)), sr, gains_db)
            for s in speech]
    return {
        "system": system.name,
        "bitrate": getattr(system, "bitrate", None),
        "additivity_speech_db": _mean(ss), "additivity_noise_db": _mean(sn),
        "additivity_speech_pairs_db": ss, "additivity_noise_pairs_db": sn,
        "gains_db": [float(g) for g in gains_db],
        "homogeneity_db": [_mean(h["homogeneity_db"][k] for h in homs) for k in range(len(gains_db))],
        "gain_error_db": [_mean(h["gain_error_db"][k] for h in homs) for k in range(len(gains_db))],
    }


def probe(systems: Sequence, speech: Sequence[np.ndarray], sr: int, noise: Sequence[np.ndarray] = (),
          gains_db: Sequence[float] = GAINS_DB, snr_db: float = 0.0, progress=None) -> dict:
    """:func:`probe_system` for each system (objects or spec strings, see
    :func:`voxclean.probe.systems.resolve_system`); ``progress(name)`` is called before each.
    Returns ``{"sr", "snr_db", "n_speech", "n_noise", "definitions", "systems": [...]}``."""
    from voxclean.probe.systems import resolve_system
    rows = []
    for ref in systems:
        system = resolve_system(ref)
        if progress is not None:
            progress(system.name)
        rows.append(probe_system(system, speech, sr, noise, gains_db, snr_db))
    return {"sr": int(sr), "snr_db": float(snr_db), "n_speech": len(speech), "n_noise": len(noise),
            "max_db": MAX_DB,
            "definitions": {"additivity_db": "10 log10(|f(x+y)|^2 / |f(x+y) - f(x) - f(y)|^2)",
                            "homogeneity_db": "10 log10(|a f(x)|^2 / |f(a x) - a f(x)|^2)",
                            "gain_error_db": "10 log10(|f(a x)|^2 / |a f(x)|^2)"},
            "systems": rows}


def _num(v) -> float:
    return float("nan") if v is None else float(v)


def plot_linearity(results: dict, path) -> Path:
    """Three panels (seed 003 Figure 2 style): additivity vs bit rate (codec families as lines, other
    systems as horizontal lines), homogeneity vs gain, gain error vs gain. Written atomically (PNG/SVG/PDF)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = results["systems"]
    vals = [_num(v) for r in rows for v in (r["additivity_speech_db"], r["additivity_noise_db"], *r["homogeneity_db"])]
    top = min(MAX_DB, max([5.0] + [v for v in vals if np.isfinite(v)]) + 5)
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    families: dict[str, list[dict]] = {}
    others = []
    for r in rows:
        (families.setdefault(r["system"].split(":")[0], []) if r.get("bitrate") else others).append(r)
    ax = axes[0]
    ci = 0
    for fam, rs in families.items():
        rs = sorted(rs, key=lambda r: r["bitrate"])
        br = [r["bitrate"] / 1000 for r in rs]
        c = colors[ci % len(colors)]
        ci += 1
        ax.plot(br, [_num(r["additivity_speech_db"]) for r in rs], "o-", color=c, label=f"{fam} speech+speech")
        if any(np.isfinite(_num(r["additivity_noise_db"])) for r in rs):
            ax.plot(br, [_num(r["additivity_noise_db"]) for r in rs], "s--", color=c, label=f"{fam} speech+noise")
    for r in others:
        c = colors[ci % len(colors)]
        ci += 1
        if np.isfinite(_num(r["additivity_speech_db"])):
            ax.axhline(min(_num(r["additivity_speech_db"]), top), color=c, lw=1.2, label=f"{r['system']} speech+speech")
        if np.isfinite(_num(r["additivity_noise_db"])):
            ax.axhline(min(_num(r["additivity_noise_db"]), top), color=c, lw=1.2, ls="--",
                       label=f"{r['system']} speech+noise")
    if families:
        ax.set_xscale("log")
    ax.set_xlabel("bit rate (kbit/s)")
    ax.set_ylabel("additivity (dB, higher = more additive)")
    ax.set_title("additivity: f(x+y) vs f(x)+f(y)")
    for k, (key, label) in enumerate([("homogeneity_db", "homogeneity (dB, higher = more homogeneous)"),
                                      ("gain_error_db", "gain error (dB)")], start=1):
        ax = axes[k]
        for i, r in enumerate(rows):
            v = np.array([_num(e) for e in r[key]])
            ax.plot(r["gains_db"], np.minimum(v, top) if key == "homogeneity_db" else v, "o-", ms=3,
                    color=colors[i % len(colors)], label=r["system"])
        ax.set_xlabel("input gain alpha (dB)")
        ax.set_ylabel(label)
        ax.set_title("homogeneity: f(a x) vs a f(x)" if k == 1 else "gain error: |f(a x)| / |a f(x)|")
    axes[0].set_ylim(top=top + 2)
    axes[1].set_ylim(top=top + 2)
    for ax in (axes[0], axes[2]):
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7)
    for ax in axes:
        ax.grid(True, alpha=0.3)
    fig.suptitle(f"Linearity at {results['sr']} Hz ({results['n_speech']} speech, {results['n_noise']} noise signals; "
                 f"scores capped at {MAX_DB:g} dB)", fontsize=10)
    fig.tight_layout()
    out = save_figure(fig, path)
    plt.close(fig)
    return out
