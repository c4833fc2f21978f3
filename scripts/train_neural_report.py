"""Measure the trained `neural` enhancer: parameters, MAC/s, single-thread CPU real-time factor
(offline, 10 ms streaming, ONNX frame by frame), and the quality cost of int8 dynamic quantisation.

    .venv/bin/python scripts/train_neural_report.py [--weights neural_small] [--pairs out/devset16k] [--n 20]

RTF = CPU seconds (time.process_time, one thread) / audio seconds, on 20 s of a real dev mixture.
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--weights", default="neural_small")
    ap.add_argument("--pairs", default="out/devset16k")
    ap.add_argument("--n", type=int, default=20)
    args = ap.parse_args()

    import torch
    torch.set_num_threads(1)
    from voxclean.audio.stft import StftStream
    from voxclean.enhance.neural.enhancer import NeuralEnhancer
    from voxclean.enhance.neural.export import OnnxStreamProcessor, export_onnx, quantize_int8
    from voxclean.enhance.neural.model import HOP, N_FFT, SR
    from voxclean.enhance.neural.train import load_valid
    from voxclean.metrics import score_pair

    enh = NeuralEnhancer(weights=args.weights, backend="torch")
    m = enh.model
    pairs = load_valid(args.pairs, args.n)
    x = np.concatenate([p[1] for p in pairs])[: 20 * SR]
    dur = len(x) / SR
    rep = {"params": m.n_params(), "mmac_per_s": m.macs_per_frame() * SR / HOP / 1e6,
           "latency_ms": (N_FFT - HOP + HOP) / SR * 1000}

    def cpu(fn):
        fn()  # warm-up
        t = time.process_time()
        fn()
        return (time.process_time() - t) / dur

    rep["rtf_offline"] = cpu(lambda: enh.enhance(x, SR))

    def streamed():
        s = enh.stream(SR)
        for i in range(0, len(x), HOP):
            s.push(x[i:i + HOP])
        s.flush()
    rep["rtf_stream_10ms"] = cpu(streamed)

    with tempfile.TemporaryDirectory() as tmp:
        f32 = export_onnx(m, Path(tmp) / "m.onnx")
        i8 = quantize_int8(f32, Path(tmp) / "m8.onnx")
        rep["onnx_mb"], rep["onnx_int8_mb"] = f32.stat().st_size / 1e6, i8.stat().st_size / 1e6

        def run_onnx(path, sig):
            st = StftStream(OnnxStreamProcessor(path, threads=1), N_FFT, HOP)
            return np.concatenate([st.push(sig), st.flush()])
        rep["rtf_onnx_frame_by_frame"] = cpu(lambda: run_onnx(f32, x))
        rep["rtf_onnx_int8_frame_by_frame"] = cpu(lambda: run_onnx(i8, x))
        scores = {"noisy": [], "torch": [], "onnx_fp32": [], "onnx_int8": []}
        for clean, noisy in pairs:
            for key, y in (("noisy", noisy), ("torch", enh.enhance(noisy, SR)),
                           ("onnx_fp32", run_onnx(f32, noisy)), ("onnx_int8", run_onnx(i8, noisy))):
                scores[key].append(score_pair(clean, y, SR, metrics=["pesq_wb", "stoi", "si_sdr"]))
    rep["dev_pairs"] = len(pairs)
    for key, rows in scores.items():
        rep[key] = {k: round(float(np.mean([r[k] for r in rows])), 4) for k in rows[0]}
    print(json.dumps(rep, indent=2))


if __name__ == "__main__":
    main()
