"""Tune the seed-002 VAD, the iterative Wiener filter and spectral subtraction on TRAINING mixtures only.

Mixtures come from ``scripts/tune_mmse.py`` (LibriSpeech train-clean-100 + UrbanSound8K/Hu100 noise at
8 kHz, seeded) with 0.3 s of noise-only lead-in added, as in most recordings. NOIZEUS and the dev
folders are never touched here.

    .venv/bin/python scripts/tune_iterative_wiener.py --n 48 --snr 0,5,10,15 vad '{"tau_up": 4}'
    .venv/bin/python scripts/tune_iterative_wiener.py --n 48 enh 'iterative-wiener:{"iterations": 2}'

``vad`` configurations are scored by frame accuracy (and speech/noise recall) against labels from
the clean speech (frame level within 30 dB of the utterance's loudest frames); ``enh`` configurations by
the mean NB-PESQ change over the noisy input.
"""
from __future__ import annotations

import argparse
import json
import pickle
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from tune_mmse import mixtures, nb_pesq  # noqa: E402

from voxclean.audio.stft import frame_sizes, stft  # noqa: E402
from voxclean.enhance import ENHANCERS  # noqa: E402
from voxclean.enhance.classic.vad import vad  # noqa: E402

SR = 8000
LEAD_S = 0.3


def training_set(n: int, snrs: list[float], seed: int) -> list[tuple[np.ndarray, np.ndarray, float]]:
    cache = Path(f"/tmp/voxclean_iw_train_{n}_{'_'.join(map(str, snrs))}_{seed}.pkl")
    if cache.exists():
        return pickle.loads(cache.read_bytes())
    out = []
    rng = np.random.default_rng(seed + 1)
    for c, x, snr in mixtures(n, snrs, sr=SR, seed=seed):
        lead = int(LEAD_S * SR)
        noise = x - c
        # lead-in: noise continued (a different stretch of the same noise) before the speech
        pre = noise[rng.integers(0, max(1, len(noise) - lead)):][:lead]
        pre = np.resize(pre, lead) if len(pre) < lead else pre
        out.append((np.concatenate([np.zeros(lead, np.float32), c]),
                    np.concatenate([pre, x]).astype(np.float32), snr))
    cache.write_bytes(pickle.dumps(out))
    return out


def speech_labels(clean: np.ndarray, n_frames: int, frame_ms: float = 32.0, overlap: int = 2) -> np.ndarray:
    n_fft, hop = frame_sizes(SR, frame_ms, overlap)
    e = np.sum(np.abs(stft(clean, n_fft, hop)[:n_frames]) ** 2, axis=1)
    db = 10 * np.log10(e + 1e-12)
    return (db > np.percentile(db, 95) - 30).astype(np.int8)


def score_vad(data, params: dict) -> str:
    acc, rs, rn, pn = [], [], [], []
    for c, x, _ in data:
        _, _, d = vad(x, SR, **params)
        lab = speech_labels(c, len(d))
        acc.append(np.mean(d == lab))
        rs.append(np.mean(d[lab == 1] == 1))
        rn.append(np.mean(d[lab == 0] == 0))
        pn.append(np.mean(lab[d == 0] == 0) if np.any(d == 0) else np.nan)
    return (f"acc {np.mean(acc):.3f}  speech-recall {np.mean(rs):.3f}  noise-recall {np.mean(rn):.3f}"
            f"  noise-precision {np.nanmean(pn):.3f}")


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["vad", "enh"])
    ap.add_argument("configs", nargs="+")
    ap.add_argument("--n", type=int, default=48)
    ap.add_argument("--snr", default="0,5,10,15")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    snrs = [float(v) for v in args.snr.split(",")]
    data = training_set(args.n, snrs, args.seed)
    if args.mode == "vad":
        for cfg in args.configs:
            print(f"{cfg:60s} {score_vad(data, json.loads(cfg))}", flush=True)
        return
    base = np.array([nb_pesq(c, x, SR) for c, x, _ in data])
    print(f"noisy NB-PESQ {np.nanmean(base):.3f}  ({len(data)} training mixtures, SNR {snrs})")
    for cfg in args.configs:
        name, _, kw = cfg.partition(":")
        enh = ENHANCERS.get(name, **(json.loads(kw) if kw else {}))
        t = time.perf_counter()
        ys = [enh.enhance(x, SR) for _, x, _ in data]
        dt = time.perf_counter() - t
        d = np.array([nb_pesq(c, y, SR) for (c, _, _), y in zip(data, ys)]) - base
        per = "  ".join(f"{s:g}dB {np.nanmean(d[[m[2] == s for m in data]]):+.3f}" for s in snrs)
        rt = sum(len(x) for _, x, _ in data) / SR / dt
        print(f"{cfg:70s} dPESQ {np.nanmean(d):+.3f}  [{per}]  {rt:.0f}x RT", flush=True)


if __name__ == "__main__":
    main()
