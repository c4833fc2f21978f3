"""Package a training checkpoint as ``voxclean/enhance/neural/weights/NAME.pt`` (+ ``NAME.onnx``, ``NAME_log.csv``).

    .venv/bin/python scripts/package_weights.py out/train_neural_v5/last.pt neural_v5 --pre-wiener-db 6

Keeps the model weights, its config and the step/epoch/minutes of the run (drops the optimizer
state), optionally sets ``pre_wiener_db`` (the causal Wiener pre-gain of
:mod:`voxclean.enhance.neural.prefilter`, applied at inference to weights trained without it), copies
the run's ``log.csv`` and exports the ONNX graph (as ``voxclean export`` does; checked against PyTorch).
Refuses to overwrite an existing packaged file.
"""
from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

import numpy as np
import torch

from voxclean.enhance.neural.enhancer import WEIGHTS_DIR, load_model
from voxclean.enhance.neural.export import check_onnx, export_onnx


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("checkpoint", type=Path)
    ap.add_argument("name")
    ap.add_argument("--pre-wiener-db", type=float, default=None)
    args = ap.parse_args(argv)
    dst = WEIGHTS_DIR / f"{args.name}.pt"
    if dst.exists():
        sys.exit(f"{dst} exists; remove it first")
    ck = torch.load(args.checkpoint, map_location="cpu", weights_only=False)
    cfg = dict(ck["model_config"])
    if args.pre_wiener_db is not None:
        cfg["pre_wiener_db"] = args.pre_wiener_db
    torch.save({"model": ck["model"], "model_config": cfg, "step": ck.get("step"), "epoch": ck.get("epoch"),
                "minutes": ck.get("minutes")}, dst)
    log = args.checkpoint.parent / "log.csv"
    if log.is_file():
        shutil.copy(log, WEIGHTS_DIR / f"{args.name}_log.csv")
    model = load_model(args.name)
    onnx = export_onnx(model, WEIGHTS_DIR / f"{args.name}.onnx")
    d = check_onnx(model, onnx, (0.05 * np.random.default_rng(0).standard_normal(32000)).astype(np.float32))
    print(f"wrote {dst} (step {ck.get('step')}, model {cfg}) and {onnx.name}: onnxruntime vs PyTorch "
          f"max |diff| {d['max_abs_diff_spec']:.2e} (spectrum), {d['max_abs_diff_vad']:.2e} (VAD)")


if __name__ == "__main__":
    main()
