"""Build a teacher cache for ``train.teacher`` (knowledge distillation): training mixtures drawn by a
config's ``data`` section, each also enhanced by a teacher enhancer (default DeepFilterNet3).

    python scripts/make_teacher_cache.py configs/neural_v27a.yaml out/teacher_dfn3.npz --batches 150

The cache holds ``noisy``, ``target`` and ``teacher`` arrays of shape (batches, batch, samples), 16 kHz
float32. The mixtures use ``--seed`` (default 1000 + the config's seed), not the training seed, so the
cached examples are not the ones the on-the-fly sampler draws. Only training folders should be in the
config's ``data`` section: the teacher sees only what the student trains on.
``--shard i/n`` builds every n-th batch starting at i (run n of them in parallel, then ``--merge``).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np


def build(config: str, out: Path, batches: int, seed: int | None, teacher: str, shard: tuple[int, int]) -> None:
    from voxclean.enhance import ENHANCERS
    from voxclean.enhance.apply import enhance_signal
    from voxclean.enhance.neural.train import load_config, make_sampler
    cfg = load_config(config)
    size = int(cfg["train"].get("batch", 32))
    seed = int(cfg["train"].get("seed", 0)) + 1000 if seed is None else seed
    sampler = make_sampler(cfg["data"], seed)
    enh = ENHANCERS.get(teacher)
    idx = list(range(shard[0], batches, shard[1]))
    noisy, target, taught = [], [], []
    t0 = time.time()
    for k, b in enumerate(idx):
        x, s = sampler.batch(b, size)
        noisy.append(x.astype(np.float32))
        target.append(s.astype(np.float32))
        taught.append(np.stack([enhance_signal(enh, row.astype(np.float32), 16000) for row in x]).astype(np.float32))
        print(f"batch {k + 1}/{len(idx)}  {time.time() - t0:.0f} s", file=sys.stderr, flush=True)
    np.savez(out, noisy=np.stack(noisy), target=np.stack(target), teacher=np.stack(taught),
             index=np.asarray(idx), seed=seed, teacher_name=teacher)


def merge(parts: list[Path], out: Path) -> None:
    zs = [np.load(p) for p in parts]
    order = np.argsort(np.concatenate([z["index"] for z in zs]))
    cat = {k: np.concatenate([z[k] for z in zs])[order] for k in ("noisy", "target", "teacher")}
    np.savez(out, **cat, index=np.sort(np.concatenate([z["index"] for z in zs])), seed=zs[0]["seed"],
             teacher_name=zs[0]["teacher_name"])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("config", nargs="?")
    ap.add_argument("out", type=Path)
    ap.add_argument("--batches", type=int, default=150)
    ap.add_argument("--seed", type=int)
    ap.add_argument("--teacher", default="deepfilternet3")
    ap.add_argument("--shard", default="0/1", help="i/n: build batches i, i+n, i+2n, ...")
    ap.add_argument("--merge", nargs="+", type=Path, help="merge these shard files into OUT instead")
    a = ap.parse_args()
    if a.merge:
        merge(a.merge, a.out)
        return
    if not a.config:
        ap.error("a config is needed unless --merge is given")
    i, n = (int(v) for v in a.shard.split("/"))
    build(a.config, a.out, a.batches, a.seed, a.teacher, (i, n))


if __name__ == "__main__":
    main()
