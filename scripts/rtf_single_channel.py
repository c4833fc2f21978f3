"""Single-thread real-time factors of the single-channel classical enhancers (process time / audio time).

    .venv/bin/python scripts/rtf_single_channel.py [--sr 16000] [--seconds 20] [NAME[:KEY=VALUE...] ...]

Input: LibriSpeech train-clean-100 speech + white noise at 5 dB, resampled to ``--sr``. BLAS and
OpenMP pools are limited to one thread; each method runs once to warm up, then the best of three runs
is reported (other processes on the machine only ever make it slower).
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from voxclean.audio.io import load
from voxclean.audio.resample import resample
from voxclean.bench.runner import parse_method
from voxclean.enhance import ENHANCERS

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
DEFAULT = ["wiener", "mmse-stsa", "logmmse", "logmmse:declick=true:highpass=auto", "logmmse:noise_init=bidirectional",
           "declick", "dewind", "wpe", "wpe-online"]


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("names", nargs="*", default=DEFAULT)
    ap.add_argument("--sr", type=int, default=16000)
    ap.add_argument("--seconds", type=float, default=20.0)
    args = ap.parse_args(argv)
    files = sorted((DATA / "speech" / "librispeech_train_clean_100").glob("*.flac"))
    parts, total = [], 0
    for f in files:
        x, sr = load(f)
        parts.append(resample(x, sr, args.sr))
        total += len(parts[-1])
        if total >= args.seconds * args.sr:
            break
    x = np.concatenate(parts)[: int(args.seconds * args.sr)]
    rng = np.random.default_rng(0)
    x = (x + rng.standard_normal(len(x)) * np.sqrt(np.mean(x ** 2) / 10 ** 0.5)).astype(np.float32)
    dur = len(x) / args.sr
    print(f"| method | RTF at {args.sr} Hz (1 thread) | x real time |\n|---|---|---|")
    with threadpool_limits(1):
        for spec in args.names:
            name, kw = parse_method(spec)
            enh = ENHANCERS.get(name, **kw)
            enh.enhance(x[: args.sr], args.sr)
            best = min(_timed(enh, x, args.sr) for _ in range(3))
            print(f"| {spec} | {best / dur:.4f} | {dur / best:.0f} |", flush=True)


def _timed(enh, x, sr) -> float:
    t = time.process_time()
    enh.enhance(x, sr)
    return time.process_time() - t


if __name__ == "__main__":
    main()
