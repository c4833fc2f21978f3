"""Sweep an inference-time change of the neural enhancer over a pairs folder, paired against the plain model.

    .venv/bin/python scripts/neural_inference_sweep.py PAIRS --kind pf  --values 0 0.02 0.05 0.1 [--n 40]
    .venv/bin/python scripts/neural_inference_sweep.py PAIRS --kind vad --values 0 3 6 10
    .venv/bin/python scripts/neural_inference_sweep.py PAIRS --kind lim --values none 50 45 40 35

PAIRS is a folder made by ``voxclean pairs`` (``manifest.jsonl``, ``clean/``, ``noisy/``), at 16 kHz.
The first value is the reference each other value is paired against (WB-PESQ and STOI per file; mean
and 95 % interval of the difference). Kinds:

* ``pf`` β: DeepFilterNet2's post-filter (PercepNet, Valin et al. 2020) on the ERB gains,
  g' = (1 + β) g / (1 + β (g / (g sin(π g / 2)))²); β = 0 is the plain model.
* ``vad`` D dB: extra suppression gated by the model's voice-activity output,
  Y' = Y (a + (1 − a) v_t), a = 10^(−D/20); D = 0 is the plain model.
* ``lim`` L dB: the enhancer's ``atten_lim_db`` (``none``: unlimited, the default).

One thread, torch backend; measured in docs/benchmarks.md §4-i-f.
"""
from __future__ import annotations

import argparse
import copy
import json
from pathlib import Path

import numpy as np
import soundfile as sf
import torch
from pesq import pesq
from pystoi import stoi

from voxclean.enhance.neural.enhancer import DEFAULT_WEIGHTS, NeuralEnhancer


class PostFilteredGain(torch.nn.Module):
    """The gain head with the post-filter applied: returns logits whose sigmoid is g'."""

    def __init__(self, head: torch.nn.Module, beta: float):
        super().__init__()
        self.head, self.beta = head, beta

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        g = torch.sigmoid(self.head(z))
        g_sin = g * torch.sin(np.pi * g / 2)
        g_pf = (1 + self.beta) * g / (1 + self.beta * (g / g_sin.clamp_min(1e-12)) ** 2)
        return torch.logit(g_pf.clamp(1e-6, 1 - 1e-6))


def enhancer_for(kind: str, value: str, weights: str) -> NeuralEnhancer:
    if kind == "lim":
        return NeuralEnhancer(weights, backend="torch", atten_lim_db=None if value == "none" else float(value))
    enh = NeuralEnhancer(weights, backend="torch")
    enh.model = copy.deepcopy(enh.model)          # loaded models are cached and shared: patch a copy
    v = float(value)
    if v and kind == "pf":
        enh.model.gain = PostFilteredGain(enh.model.gain, v)
    elif v and kind == "vad":
        a, forward = 10 ** (-v / 20), enh.model.forward

        def gated(spec, h, hist, noise=None):
            out, vad, h, hist = forward(spec, h, hist, noise)
            return out * (a + (1 - a) * vad)[..., None, None], vad, h, hist
        enh.model.forward = gated
    return enh


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("pairs", type=Path)
    ap.add_argument("--kind", choices=("pf", "vad", "lim"), required=True)
    ap.add_argument("--values", nargs="+", required=True)
    ap.add_argument("--n", type=int, default=100, help="first N pairs of the manifest")
    ap.add_argument("--weights", default=DEFAULT_WEIGHTS)
    args = ap.parse_args()
    torch.set_num_threads(1)
    enhancers = {v: enhancer_for(args.kind, v, args.weights) for v in args.values}
    rows = [json.loads(line) for line in (args.pairs / "manifest.jsonl").read_text().splitlines()][: args.n]
    scores = {v: [] for v in args.values}
    for i, m in enumerate(rows, 1):
        clean, sr = sf.read(args.pairs / m["clean"], dtype="float32")
        noisy, _ = sf.read(args.pairs / m["noisy"], dtype="float32")
        if sr != 16000:
            raise SystemExit(f"{args.pairs}: WB-PESQ needs 16 kHz pairs, got {sr} Hz")
        for v, enh in enhancers.items():
            y = enh.enhance(noisy, sr)
            scores[v].append((pesq(sr, clean, y, "wb"), stoi(clean, y, sr)))
        print(f"\r{i}/{len(rows)}", end="", flush=True)
    print()
    ref = np.array(scores[args.values[0]])
    for v in args.values:
        s = np.array(scores[v])
        d = s - ref
        half = 1.96 * d[:, 0].std() / np.sqrt(len(d))
        print(f"{args.kind} {v:>5}: WB-PESQ {s[:, 0].mean():.3f} STOI {s[:, 1].mean():.4f}   paired: "
              f"{d[:, 0].mean():+.3f} ± {half:.3f} WB-PESQ, {d[:, 1].mean():+.4f} STOI")


if __name__ == "__main__":
    main()
