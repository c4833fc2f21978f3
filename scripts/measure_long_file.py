"""Make a 1-hour 16 kHz noisy speech file, enhance it with `voxclean enhance`, report wall time and peak RSS.

    .venv/bin/python scripts/measure_long_file.py [--method wiener] [--minutes 60]

The file is built from real speech (../shared/data/speech/librispeech_test_other, looped) plus white
noise at 10 dB, written in blocks so that making it does not itself need the memory being measured.
Peak RSS is that of the `voxclean enhance` child process (resource.getrusage RUSAGE_CHILDREN).
"""
from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--method", default="wiener")
    ap.add_argument("--minutes", type=float, default=60.0)
    args = ap.parse_args()
    speech_dir = ROOT.parent / "shared" / "data" / "speech" / "librispeech_test_other"
    files = sorted(speech_dir.rglob("*.flac"))
    sr = 16000
    total = int(args.minutes * 60 * sr)
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        src, dst = Path(tmp) / "long.wav", Path(tmp) / "long_enhanced.wav"
        with sf.SoundFile(src, "w", samplerate=sr, channels=1, subtype="PCM_16") as f:
            written, i = 0, 0
            while written < total:
                x, _ = sf.read(files[i % len(files)], dtype="float32") if files else (rng.standard_normal(sr * 10) * 0.1, sr)
                x = x[: total - written]
                noise = rng.standard_normal(len(x)) * np.sqrt(np.mean(x ** 2) / 10)
                f.write(np.clip(x + noise, -1, 1))
                written += len(x)
                i += 1
        cmd = [str(ROOT / ".venv" / "bin" / "voxclean"), "enhance", str(src), str(dst), "--method", args.method]
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wall = time.perf_counter() - t0
        peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        out = sf.info(dst)
        print(f"input: {args.minutes:.0f} min at {sr} Hz ({src.stat().st_size / 1e6:.0f} MB on disk); "
              f"output frames {out.frames} (input {total})")
        print(f"method={args.method} wall={wall:.1f} s  real-time factor={wall / (total / sr):.4f}  "
              f"peak RSS={peak_mb:.0f} MB")


if __name__ == "__main__":
    sys.exit(main())
