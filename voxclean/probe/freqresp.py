"""Frequency response and harmonic distortion of a black-box system by exponential sine sweep
(Farina, "Simultaneous measurement of impulse response and distortion with a swept-sine technique",
AES 108th Convention, 2000; seed 003 Sec. 6, Figure 3).

Excitation (Farina eq. 4), from ``f1 = 20 Hz`` to ``f2 = sr/2`` in ``T`` seconds::

    s(t) = sin( 2 pi f1 L (exp(t / L) - 1) ),    L = T / ln(f2 / f1)                       (1)

with 50 ms / 5 ms raised-cosine fades, ``lead`` s of silence before and ``tail`` s after, played at
peak amplitudes ``A`` = 10^(level/20) for each level (default -30, -12, -3 dBFS).

Deconvolution: the output ``y = f(A s)`` is convolved with the inverse filter of ``s``. We use the
Kirkeby-regularised inverse of the excitation's own spectrum, which is what Farina's time-reversed sweep
with its +6 dB/octave envelope approximates::

    h = IFFT( Y(w) S*(w) / (A (|S(w)|^2 + eps(w))) )                                       (2)

with ``eps = 1e-8 max|S|^2`` from ``f1`` up and ``1e-2 max|S|^2`` below ``f1/2`` (raised-cosine step between:
a sharp step would ring into the harmonic windows).

A nonlinearity turns ``s`` into harmonics ``sin(k phi(t))`` = the sweep advanced by ``dt_k = L ln k``
(Farina eq. 7), so in ``h`` (circular, length ``N``) the linear impulse response sits at ``t = 0`` and the
``k``-th harmonic's at ``t = -L ln k``. Each is cut out with a window reaching half way to its
neighbours, and its spectrum gives:

* the linear magnitude response ``|H_1(f)|`` in dB (0 dB = unity gain), raw and 1/3-octave smoothed
  (power average over ``[f 2^-1/6, f 2^1/6]``);
* the ``k``-th harmonic level relative to the fundamental for a sine at ``f``::

      D_k(f) = 20 log10( |H_k(k f)| / |H_1(f)| ),   THD(f) = 10 log10( sum_k |H_k(k f)|^2 / |H_1(f)|^2 )   (3)

  reported where ``k f <= 0.85 sr/2``. Limits: above ``f = sr / (2 (k+1))`` the (k+1)-th harmonic aliases
  and can leak into window ``k`` of a strongly nonlinear system; the method's own floor (identity system,
  2 s sweep) is about -60 dB at 20 Hz, -70 dB at 50 Hz and below -100 dB above 200 Hz. For codecs, whose
  errors are mostly noise-like rather than harmonic, the harmonic windows also collect that noise: read
  (3) as distortion + noise.

Results are JSON-ready dicts on a log-spaced grid (24 points per octave) from ``f1`` to Nyquist.
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
from scipy.fft import irfft, next_fast_len, rfft

LEVELS_DBFS = (-30.0, -12.0, -3.0)
F1 = 20.0
POINTS_PER_OCTAVE = 24
FLOOR_DB = -150.0


def sweep(sr: int, seconds: float = 2.0, f1: float = F1, f2: float | None = None,
          fade_in_s: float = 0.05, fade_out_s: float = 0.005) -> np.ndarray:
    """Eq. (1), unit peak, float64 ``(round(seconds * sr),)``; ``f2`` defaults to ``sr / 2``."""
    f2 = sr / 2 if f2 is None else float(f2)
    if not 0 < f1 < f2 <= sr / 2:
        raise ValueError(f"sweep needs 0 < f1 < f2 <= sr/2, got f1={f1}, f2={f2}, sr={sr}")
    n = int(round(seconds * sr))
    t = np.arange(n) / sr
    L = seconds / np.log(f2 / f1)
    s = np.sin(2 * np.pi * f1 * L * (np.exp(t / L) - 1.0))
    for m, sl in ((int(fade_in_s * sr), slice(None)), (int(fade_out_s * sr), slice(None, None, -1))):
        if m > 1:
            w = 0.5 - 0.5 * np.cos(np.pi * np.arange(m) / m)
            s[sl][:m] *= w
    return s


def _log_grid(f1: float, f2: float, ppo: int = POINTS_PER_OCTAVE) -> np.ndarray:
    n = int(np.floor(np.log2(f2 / f1) * ppo)) + 1
    return f1 * 2.0 ** (np.arange(n) / ppo)


def _db(p: np.ndarray) -> np.ndarray:
    """Power to dB with a floor."""
    return np.maximum(10 * np.log10(np.maximum(p, 1e-300)), FLOOR_DB)


def smooth_fraction_octave(freqs: np.ndarray, power: np.ndarray, centres: np.ndarray,
                           fraction: float = 3.0) -> np.ndarray:
    """Mean of ``power`` over ``[fc 2^(-1/(2 fraction)), fc 2^(1/(2 fraction))]`` for each centre
    (nearest bin where the band holds none)."""
    half = 2.0 ** (1.0 / (2 * fraction))
    c = np.concatenate([[0.0], np.cumsum(power)])
    lo = np.searchsorted(freqs, centres / half, side="left")
    hi = np.searchsorted(freqs, centres * half, side="right")
    out = np.empty(len(centres))
    for i, (a, b) in enumerate(zip(lo, hi)):
        if b > a:
            out[i] = (c[b] - c[a]) / (b - a)
        else:
            out[i] = power[min(int(np.searchsorted(freqs, centres[i])), len(power) - 1)]
    return out


def _circular(h: np.ndarray, start: int, stop: int) -> np.ndarray:
    """``h[start:stop]`` with negative indices wrapping around (circular deconvolution result)."""
    return np.take(h, np.arange(start, stop), mode="wrap")


def _taper(n: int, fade: int) -> np.ndarray:
    w = np.ones(n)
    fade = min(fade, n // 2)
    if fade > 1:
        ramp = 0.5 - 0.5 * np.cos(np.pi * np.arange(fade) / fade)
        w[:fade] = ramp
        w[-fade:] = ramp[::-1]
    return w


def measure_level(system, sr: int, level_dbfs: float, seconds: float = 2.0, f1: float = F1,
                  lead_s: float = 0.1, tail_s: float = 0.5, n_harmonics: int = 5) -> dict:
    """One sweep at peak ``level_dbfs`` through ``system``; see the module docstring."""
    f2 = sr / 2
    s = sweep(sr, seconds, f1, f2)
    lead, tail = int(lead_s * sr), int(tail_s * sr)
    excitation = np.concatenate([np.zeros(lead), s, np.zeros(tail)])
    amp = 10 ** (level_dbfs / 20)
    y = np.asarray(system.process((amp * excitation).astype(np.float32), sr), np.float64)
    if y.shape != excitation.shape:
        raise ValueError(f"{system.name}: returned shape {y.shape} for input {excitation.shape}")

    # eq. (2): regularised inverse of the excitation spectrum, circular over N >= 2 x the signal
    n_fft = next_fast_len(2 * len(excitation))
    S, Y = rfft(excitation, n_fft), rfft(y, n_fft)
    f = np.fft.rfftfreq(n_fft, 1 / sr)
    band = (f >= f1) & (f <= f2)
    p_max = float(np.max(np.abs(S[band]) ** 2))
    # raised-cosine step (in log f, over the octave below f1) from 1e-2 to 1e-8: a sharp edge would ring
    u = np.clip(np.log2(np.maximum(f, 1e-9) / (f1 / 2)), 0.0, 1.0)
    eps = p_max * (1e-8 + (1e-2 - 1e-8) * 0.5 * (1 + np.cos(np.pi * u)))
    h = irfft(Y * np.conj(S) / (amp * (np.abs(S) ** 2 + eps)), n_fft)

    # windows: linear IR at 0, harmonic k at -L ln k, each reaching half way to its neighbours
    L = seconds / np.log(f2 / f1)
    t_k = [0.0] + [L * np.log(k) for k in range(2, n_harmonics + 2)]       # delays of k = 1..n+1
    edges = [(t_k[i] + t_k[i + 1]) / 2 for i in range(len(t_k) - 1)]       # boundary between k and k+1
    after = min(tail_s, edges[0])
    n_win = int(round((edges[0] + after) * sr))
    n_spec = max(next_fast_len(n_win), next_fast_len(sr))                 # <= 1 Hz bins
    fade = int(0.005 * sr)
    h1 = _circular(h, -int(round(edges[0] * sr)), int(round(after * sr)))
    H1 = np.abs(rfft(h1 * _taper(len(h1), fade), n_spec)) ** 2            # |.| ignores where t = 0 sits
    fs = np.fft.rfftfreq(n_spec, 1 / sr)

    grid = _log_grid(f1, f2)
    mag = smooth_fraction_octave(fs, H1, grid)
    harm: dict[int, list] = {}
    thd_power = np.zeros(len(grid))
    h1_at = np.interp(grid, fs, H1)
    valid_any = np.zeros(len(grid), bool)
    for k in range(2, n_harmonics + 1):
        a = -int(round(edges[k - 1] * sr))                                  # earlier edge (towards k+1)
        b = -int(round(edges[k - 2] * sr))                                  # later edge (towards k-1)
        Hk = np.abs(rfft(_circular(h, a, b) * _taper(b - a, fade), n_spec)) ** 2
        valid = grid * k <= 0.85 * f2                                       # clear of aliasing at Nyquist
        ratio = np.full(len(grid), np.nan)
        ratio[valid] = np.interp(grid[valid] * k, fs, Hk) / np.maximum(h1_at[valid], 1e-300)
        harm[k] = [None if not np.isfinite(v) else float(10 * np.log10(max(v, 1e-30))) for v in ratio]
        thd_power[valid] += ratio[valid]
        valid_any |= valid
    thd = np.where(valid_any, 10 * np.log10(np.maximum(thd_power, 1e-30)), np.nan)
    return {
        "level_dbfs": float(level_dbfs),
        "magnitude_db": [float(v) for v in _db(mag)],
        "harmonics_db": {str(k): v for k, v in harm.items()},
        "thd_db": [None if not np.isfinite(v) else float(v) for v in thd],
        "thd_percent": [None if not np.isfinite(v) else float(100 * 10 ** (v / 20)) for v in thd],
        "raw": {"freqs": fs, "power": H1},   # unsmoothed |H_1|^2 at ~1 Hz spacing (dropped from JSON)
    }


def upper_edge_hz(freqs: Sequence[float], magnitude_db: Sequence[float], drop_db: float = 10.0) -> float:
    """Highest frequency whose response is within ``drop_db`` of the 300-3000 Hz median (bandwidth)."""
    freqs, mag = np.asarray(freqs), np.asarray(magnitude_db)
    ref = float(np.median(mag[(freqs >= 300) & (freqs <= 3000)]))
    ok = np.nonzero(mag >= ref - drop_db)[0]
    return float(freqs[ok[-1]]) if ok.size else float("nan")


def measure(system, sr: int, levels_dbfs: Sequence[float] = LEVELS_DBFS, seconds: float = 2.0,
            f1: float = F1, n_harmonics: int = 5, keep_raw: bool = False) -> dict:
    """Frequency response of ``system`` (an object or a spec string) at each level.

    Returns ``{"system", "sr", "f1", "f2", "sweep_s", "freqs", "levels": [{"level_dbfs",
    "magnitude_db", "harmonics_db": {"2": [...], ...}, "thd_db", "thd_percent", "upper_edge_hz"}]}``
    (None where a harmonic lies above Nyquist). ``keep_raw`` keeps the unsmoothed response
    (numpy arrays) under ``"raw"``.
    """
    from voxclean.probe.systems import resolve_system
    system = resolve_system(system)
    grid = _log_grid(f1, sr / 2)
    levels = []
    for lv in levels_dbfs:
        r = measure_level(system, sr, lv, seconds, f1, n_harmonics=n_harmonics)
        raw = r.pop("raw")
        r["upper_edge_hz"] = upper_edge_hz(grid, r["magnitude_db"])
        if keep_raw:
            r["raw"] = raw
        levels.append(r)
    return {"system": system.name, "sr": int(sr), "f1": float(f1), "f2": float(sr / 2), "sweep_s": float(seconds),
            "smoothing": "1/3 octave", "freqs": [float(v) for v in grid], "levels": levels}


def plot_freqresp(results: dict | Sequence[dict], path) -> Path:
    """Magnitude response (left) and THD (right) vs frequency on a log axis: one colour per system,
    one line style per level. ``results``: one :func:`measure` dict or a list of them."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from voxclean.probe.linearity import save_figure

    runs = [results] if isinstance(results, dict) else list(results)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    styles = ["-", "--", ":", "-."]
    fig, (ax_m, ax_d) = plt.subplots(1, 2, figsize=(13, 4.5))
    lo = 0.0
    for i, r in enumerate(runs):
        c = colors[i % len(colors)]
        for j, lv in enumerate(r["levels"]):
            label = f"{r['system']} {lv['level_dbfs']:g} dBFS"
            mag = np.asarray(lv["magnitude_db"], float)
            lo = min(lo, float(np.percentile(mag, 5)))
            ax_m.semilogx(r["freqs"], mag, styles[j % len(styles)], color=c, lw=1.2, label=label)
            thd = np.array([np.nan if v is None else v for v in lv["thd_db"]], float)
            ax_d.semilogx(r["freqs"], thd, styles[j % len(styles)], color=c, lw=1.2, label=label)
    ax_m.set_ylim(max(lo - 5, -80), 12)
    ax_m.set_ylabel("magnitude (dB re unity gain, 1/3-octave smoothed)")
    ax_m.set_title("frequency response (exponential sine sweep)")
    ax_d.set_ylabel("THD + noise in harmonic windows (dB re fundamental)")
    ax_d.set_title("harmonic distortion, k = 2..5")
    for ax in (ax_m, ax_d):
        ax.set_xlabel("frequency (Hz)")
        ax.grid(True, which="both", alpha=0.3)
        ax.set_xlim(runs[0]["f1"], max(r["f2"] for r in runs))
    ax_m.legend(fontsize=7)
    fig.tight_layout()
    out = save_figure(fig, path)
    plt.close(fig)
    return out
