"""Measure (never tune) single-channel enhancers on NOIZEUS: mean NB-PESQ per SNR, and the gain over noisy.

    .venv/bin/python scripts/noizeus_eval.py wiener mmse-stsa logmmse [--snr 0,5,10,15]

NB-PESQ is ITU-T P.862 + P.862.1 at 8 kHz (the ``pesq`` package), clean sentence vs enhanced file,
averaged over the 30 sentences x 8 noises at each SNR. The real-time factor is the single-thread
process time per second of audio.
"""
from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402
from pesq import pesq  # noqa: E402

from voxclean.audio.io import load  # noqa: E402
from voxclean.enhance import ENHANCERS  # noqa: E402

ROOT = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "benchmarks" / "noizeus"


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("configs", nargs="+", help="NAME or NAME:{json kwargs}")
    ap.add_argument("--snr", default="0,5,10,15")
    args = ap.parse_args(argv)
    snrs = [int(s) for s in args.snr.split(",")]
    clean = {p.stem: load(p)[0] for p in sorted((ROOT / "clean").glob("*.flac"))}
    files = {s: sorted((ROOT / "noisy").glob(f"*_{s}dB/*.flac")) for s in snrs}
    rows = {"noisy": {}}
    enhs = {cfg: ENHANCERS.get(cfg.partition(":")[0], **json.loads(cfg.partition(":")[2] or "{}"))
            for cfg in args.configs}
    rtf = {cfg: [0.0, 0.0] for cfg in enhs}
    for s in snrs:
        scores = {k: [] for k in ["noisy", *enhs]}
        for f in files[s]:
            x, sr = load(f)
            ref = clean[f.stem.split("_")[0]]
            n = min(len(ref), len(x))
            scores["noisy"].append(pesq(sr, ref[:n], x[:n], "nb"))
            for cfg, enh in enhs.items():
                t = time.process_time()
                y = enh.enhance(x, sr)
                rtf[cfg][0] += time.process_time() - t
                rtf[cfg][1] += len(x) / sr
                scores[cfg].append(pesq(sr, ref[:n], y[:n], "nb"))
        for k, v in scores.items():
            rows.setdefault(k, {})[s] = float(np.mean(v))
    head = " | ".join(f"{s} dB" for s in snrs)
    print(f"| method | {head} | mean 0+5 dB gain | RTF (1 thread) |")
    print("|---|" + "---|" * (len(snrs) + 2))
    for k, r in rows.items():
        gain = np.mean([r[s] - rows["noisy"][s] for s in (0, 5) if s in r])
        cells = " | ".join(f"{r[s]:.3f}" for s in snrs)
        rt = f"{rtf[k][0] / rtf[k][1]:.4f}" if k in rtf else "-"
        print(f"| {k} | {cells} | {gain:+.3f} | {rt} |")
    print(f"\n{len(files[snrs[0]])} files per SNR; command: scripts/noizeus_eval.py {' '.join(args.configs)}")


if __name__ == "__main__":
    main()
