"""Where an enhancer leaves noise and where it cuts speech: per-band levels on a pairs folder.

    .venv/bin/voxclean bench out/devset16k -m neural,rnnoise --metrics pesq_wb --save-audio --out out/ana
    .venv/bin/python scripts/residual_levels.py out/devset16k out/ana/audio/neural out/ana/audio/rnnoise \
        [--oracle-gate 20] [--every 2]

For each file the clean target's 512-point STFT frames (32 ms, 50 % overlap) are split by frame energy
``e`` into *speech-active* (``e > max e - 30 dB``) and *speech-absent* (``e < max e - 50 dB``) frames, and
per band (0-250-500-1k-2k-3k-4k-6k-8k Hz) two level ratios are printed, each the median over files:

* speech-active ``10 log10(sum |Y|^2 / sum |S|^2)``: how much of the speech (plus residual noise) the output
  keeps; 0 dB is perfect, the noisy input sits above 0;
* speech-absent ``10 log10(sum |Y|^2 / sum |X|^2)``: how far the noise alone is suppressed in speech pauses.

``--oracle-gate D`` also reports, for the first folder, WB-PESQ and DNSMOS before and after multiplying
its output by ``10^(-D/20)`` in the frames where the clean target is more than 40 dB below its peak (20 ms
frames, 3-frame smoothing): the most that extra suppression in speech pauses could buy, measured with an
oracle VAD. Results are in docs/benchmarks.md §4-i-g.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import scipy.signal as ss
import soundfile as sf

EDGES = (0, 250, 500, 1000, 2000, 3000, 4000, 6000, 8001)


def power_spectra(*signals: np.ndarray, sr: int) -> tuple[np.ndarray, ...]:
    """Band centre frequencies, then |STFT|^2 of each signal (512-point frames, 50 % overlap)."""
    f = ss.stft(signals[0], sr, nperseg=512)[0]
    return (f, *(np.abs(ss.stft(x, sr, nperseg=512)[2]) ** 2 for x in signals))


def band_levels(f: np.ndarray, p_s: np.ndarray, p_x: np.ndarray, p_y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(speech-active out/clean dB, speech-absent out/noisy dB) per band from the clean, noisy and output
    power spectra (module docstring)."""
    e = 10 * np.log10(p_s.sum(0) + 1e-12)
    active, absent = e > e.max() - 30, e < e.max() - 50
    act, ina = [], []
    for lo, hi in zip(EDGES[:-1], EDGES[1:]):
        k = (f >= lo) & (f < hi)
        act.append(10 * np.log10(p_y[k][:, active].sum() / (p_s[k][:, active].sum() + 1e-12) + 1e-12))
        ina.append(10 * np.log10(p_y[k][:, absent].sum() / (p_x[k][:, absent].sum() + 1e-12) + 1e-12)
                   if absent.sum() > 3 else np.nan)
    return np.array(act), np.array(ina)


def oracle_gate(clean: np.ndarray, out: np.ndarray, sr: int, depth_db: float) -> np.ndarray:
    """``out`` attenuated by ``depth_db`` in the clean target's pauses (module docstring)."""
    _, _, c = ss.stft(clean, sr, nperseg=320, noverlap=160)
    _, _, y = ss.stft(out, sr, nperseg=320, noverlap=160)
    e = 10 * np.log10((np.abs(c) ** 2).sum(0) + 1e-12)
    g = np.convolve(np.where(e < e.max() - 40, 10 ** (-depth_db / 20), 1.0), np.ones(3) / 3, mode="same")
    return ss.istft(y * g, sr, nperseg=320, noverlap=160)[1][: len(out)]


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("pairs", type=Path)
    ap.add_argument("outputs", type=Path, nargs="+", help="folders of enhanced files named as the pairs")
    ap.add_argument("--oracle-gate", type=float, default=None, metavar="DB")
    ap.add_argument("--every", type=int, default=1, help="use every N-th pair")
    args = ap.parse_args(argv)
    pairs = [json.loads(line) for line in open(args.pairs / "manifest.jsonl")][:: args.every]
    rows: dict[str, dict[str, list]] = {}
    gate: list[list[float]] = []
    for e in pairs:
        clean, sr = sf.read(args.pairs / e["clean"])
        noisy, _ = sf.read(args.pairs / e["noisy"])
        f, p_s, p_x = power_spectra(clean, noisy, sr=sr)
        for folder in [None, *args.outputs]:
            name = "noisy" if folder is None else folder.name
            y = noisy if folder is None else sf.read(folder / Path(e["name"]).with_suffix(".wav"))[0]
            act, ina = band_levels(f, p_s, p_x, p_x if folder is None else power_spectra(y, sr=sr)[1])
            rows.setdefault(name, {"act": [], "ina": []})
            rows[name]["act"].append(act)
            rows[name]["ina"].append(ina)
            if args.oracle_gate is not None and folder == args.outputs[0]:
                gate.append(_scores(clean, y, sr) + _scores(clean, oracle_gate(clean, y, sr, args.oracle_gate), sr))
    bands = " ".join(f"{lo}-{hi if hi < 8001 else 8000}" for lo, hi in zip(EDGES[:-1], EDGES[1:]))
    print(f"{len(pairs)} pairs; bands (Hz): {bands}; median over files, dB")
    for name, r in rows.items():
        print(f"{name:>24} speech-active out/clean  " + " ".join(f"{v:6.2f}" for v in np.nanmedian(r["act"], 0)))
        print(f"{name:>24} speech-absent out/noisy  " + " ".join(f"{v:6.2f}" for v in np.nanmedian(r["ina"], 0)))
    if gate:
        m = np.mean(gate, 0)
        print(f"oracle pause gate {args.oracle_gate:g} dB on {args.outputs[0].name}: WB-PESQ {m[0]:.3f} -> {m[4]:.3f}, "
              f"DNSMOS SIG {m[1]:.3f} -> {m[5]:.3f}, BAK {m[2]:.3f} -> {m[6]:.3f}, OVRL {m[3]:.3f} -> {m[7]:.3f}")


def _scores(clean: np.ndarray, y: np.ndarray, sr: int) -> list[float]:
    from voxclean.metrics import score_pair
    r = score_pair(clean, y, sr, metrics=["pesq_wb", "dnsmos"])
    return [r["pesq_wb"], r["dnsmos_sig"], r["dnsmos_bak"], r["dnsmos_ovrl"]]


if __name__ == "__main__":
    main()
