"""Tune the classical single-channel enhancers on TRAINING mixtures only (never NOIZEUS or dev data).

Mixtures: LibriSpeech train-clean-100 utterances (cut to <= 4 s) + UrbanSound8K / Hu100 noise clips,
resampled to 8 kHz (the NOIZEUS rate), mixed at the global SNRs given (default 0 and 5 dB), seeded.
``--babble F`` replaces the noise of a fraction F of the mixtures by synthetic babble: the sum of 3-8
other train-clean-100 utterances at random levels (the training noise folders hold no babble, the
hardest NOIZEUS noises are babble-like). Each configuration is scored by the mean NB-PESQ improvement
over the noisy input.

    .venv/bin/python scripts/tune_mmse.py --n 40 \
        'wiener' 'logmmse' 'logmmse:{"alpha_dd": 0.95}' 'mmse-stsa:{"spu": false}'
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
from pesq import pesq

from voxclean.audio.io import load
from voxclean.audio.resample import resample
from voxclean.enhance import ENHANCERS

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def babble(speech: list, n: int, sr: int, rng: np.random.Generator) -> np.ndarray:
    """Sum of 3-8 training utterances, each at unit RMS times a random -6..0 dB, looped to ``n``."""
    out = np.zeros(n)
    for _ in range(int(rng.integers(3, 9))):
        x, xsr = load(speech[rng.integers(len(speech))])
        x = np.resize(resample(x, xsr, sr).astype(np.float64), n)
        out += x / (np.sqrt(np.mean(x ** 2)) + 1e-9) * 10 ** (rng.uniform(-6, 0) / 20)
    return out


def mixtures(n: int, snrs: list[float], sr: int = 8000, seed: int = 0, p_babble: float = 0.0):
    rng = np.random.default_rng(seed)
    speech = sorted((DATA / "speech" / "librispeech_train_clean_100").glob("*.flac"))
    noises = sorted((DATA / "noise" / "urbansound8k").rglob("*.flac")) + sorted((DATA / "noise" / "hu100").glob("*.flac"))
    out = []
    for i in range(n):
        s, ssr = load(speech[rng.integers(len(speech))])
        s = resample(s, ssr, sr)
        L = min(len(s), 4 * sr)
        start = rng.integers(0, len(s) - L + 1)
        s = s[start:start + L]
        nz, nsr = load(noises[rng.integers(len(noises))], channels="downmix", allow_silent=True)
        nz = resample(nz, nsr, sr)
        nz = np.resize(nz, L) if len(nz) < L else nz[rng.integers(0, len(nz) - L + 1):][:L]
        if p_babble and i % round(1 / p_babble) == 0:
            nz = babble(speech, L, sr, rng)
        snr = snrs[i % len(snrs)]
        g = np.sqrt(np.mean(s ** 2) / (np.mean(nz ** 2) * 10 ** (snr / 10) + 1e-20))
        x = s + g * nz
        peak = max(np.abs(x).max(), 1e-9)
        scale = min(1.0, 0.95 / peak)
        out.append(((s * scale).astype(np.float32), (x * scale).astype(np.float32), snr))
    return out


def nb_pesq(ref, deg, sr):
    try:
        return pesq(sr, ref, deg, "nb")
    except Exception:
        return float("nan")


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("configs", nargs="+", help="NAME or NAME:{json kwargs}")
    ap.add_argument("--n", type=int, default=40)
    ap.add_argument("--snr", default="0,5")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--babble", type=float, default=0.0, help="fraction of mixtures with babble noise")
    args = ap.parse_args(argv)
    snrs = [float(v) for v in args.snr.split(",")]
    mix = mixtures(args.n, snrs, seed=args.seed, p_babble=args.babble)
    base = np.array([nb_pesq(c, x, 8000) for c, x, _ in mix])
    print(f"noisy NB-PESQ {np.nanmean(base):.3f}  ({len(mix)} training mixtures, SNR {snrs})")
    for cfg in args.configs:
        name, _, kw = cfg.partition(":")
        enh = ENHANCERS.get(name, **(json.loads(kw) if kw else {}))
        t = time.perf_counter()
        ys = [enh.enhance(x, 8000) for _, x, _ in mix]
        dt = time.perf_counter() - t
        sc = np.array([nb_pesq(c, y, 8000) for (c, _, _), y in zip(mix, ys)])
        d = sc - base
        per = "  ".join(f"{s:g}dB {np.nanmean(d[[m[2] == s for m in mix]]):+.3f}" for s in snrs)
        rtf = dt / sum(len(x) for _, x, _ in mix) * 8000
        print(f"{cfg:60s} dPESQ {np.nanmean(d):+.3f}  [{per}]  rtf {rtf:.4f}")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
