"""Pack the training data of a config into a small folder that can travel to a remote GPU machine.

    .venv/bin/python scripts/gpu_pack.py configs/neural_v10_gpu.yaml .gpu/pack

A remote machine with a GPU sees neither ``../shared/data`` nor this project's Python packages, and what
travels is size-limited (64 MiB here). This script writes, under ``DEST``:

* ``speech/`` and ``noise/``: every training file of the config's ``data.speech`` / ``data.noise`` folders,
  resampled to 16 kHz mono and stored as Ogg/Opus at ``--opus-level`` (libsndfile's compression level;
  0.9 gives about 31 kbit/s). Measured on 5 LibriSpeech training utterances: WB-PESQ of the decoded file
  against the original 4.45-4.58 (lossless: 4.64), zero delay. Training targets therefore carry a faint
  codec colouring, far below the errors of the model being trained (development-set WB-PESQ ~1.8).
* ``rir/``: the measured RIRs of ``data.rir`` (16 kHz mono float WAV) plus the ``n_sim_rooms`` shoebox
  rooms :class:`~voxclean.enhance.neural.data.MixtureSampler` would simulate with pyroomacoustics (same
  seed, same rooms), so that the remote run needs no pyroomacoustics: set ``p_sim_room: 0`` there and the
  sampler draws uniformly among measured and simulated RIRs.

The file names keep the source's relative path (``/`` -> ``__``) so the pack can be checked against its
source. Refuses to write into a non-empty ``DEST``.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import soundfile as sf

from voxclean.degrade.noise import list_audio, load_mono
from voxclean.enhance.neural.data import SR, simulate_rooms
from voxclean.enhance.neural.train import load_config


def _flat_name(path: str, roots: list[str]) -> str:
    p = Path(path)
    for r in roots:
        try:
            return "__".join(p.relative_to(Path(r).resolve()).with_suffix("").parts)
        except ValueError:
            continue
    return p.stem


def pack_folder(kind: str, roots: list[str], dest: Path, level: float) -> tuple[int, float]:
    dest.mkdir(parents=True)
    files = list_audio(roots, kind)
    seconds = 0.0
    for i, f in enumerate(files):
        x = load_mono(f, SR)
        peak = float(np.max(np.abs(x))) if len(x) else 0.0
        if peak > 0.999:                          # Opus must not clip on decode
            x = x * (0.999 / peak)
        sf.write(dest / f"{_flat_name(f, roots)}.ogg", x, SR, format="OGG", subtype="OPUS",
                 compression_level=level)
        seconds += len(x) / SR
        if (i + 1) % 100 == 0:
            print(f"  {kind}: {i + 1}/{len(files)}", flush=True)
    return len(files), seconds


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("config")
    ap.add_argument("dest", type=Path)
    ap.add_argument("--opus-level", type=float, default=0.9)
    args = ap.parse_args(argv)
    if args.dest.exists() and any(args.dest.iterdir()):
        sys.exit(f"{args.dest} is not empty; remove it first")
    cfg = load_config(args.config)
    dc, seed = cfg["data"], int(cfg["train"].get("seed", 0))
    for kind in ("speech", "noise"):
        n, sec = pack_folder(kind, list(dc[kind]), args.dest / kind, args.opus_level)
        print(f"{kind}: {n} files, {sec / 60:.1f} min")
    rir = args.dest / "rir"
    rir.mkdir(parents=True)
    roots = list(dc.get("rir") or [])
    for f in list_audio(roots, "reverb") if roots else []:
        sf.write(rir / f"{_flat_name(f, roots)}.wav", load_mono(f, SR), SR, subtype="FLOAT")
    for k, h in enumerate(simulate_rooms(seed, int(dc.get("n_sim_rooms", 16)))):
        sf.write(rir / f"sim_room_{k:02d}.wav", np.asarray(h, np.float32), SR, subtype="FLOAT")
    total = sum(p.stat().st_size for p in args.dest.rglob("*") if p.is_file())
    print(f"rir: {len(list(rir.iterdir()))} files; pack {total / 2**20:.1f} MiB in {args.dest}")


if __name__ == "__main__":
    main()
