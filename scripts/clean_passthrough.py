"""How much an enhancer harms speech that holds no noise at all: clean in, compare out with in.

    .venv/bin/python scripts/clean_passthrough.py ../shared/data/benchmarks/noizeus/clean \
        -m neural,rnnoise,deepfilternet3 [--sr 8000] [--limit 30]

Every file of the folder is read at ``--sr`` (resampled with soxr if stored at another rate), enhanced
through :func:`voxclean.enhance.apply.enhance_signal` (so a 16 kHz model meets 8 kHz input as users'
files do: upsampled, the band above 4 kHz digitally empty) and compared with its own input:

* ``SI-SDR(x, y)`` (dB): distortion of any kind; a transparent enhancer gives a large value;
* level change ``10 log10(sum y^2 / sum x^2)`` (dB): speech the enhancer mistook for noise and removed.

The mean, the worst file and the file names below ``--flag`` dB are printed per method. A TTS
data-cleaning user runs mostly clean audio through the enhancer; this is the number that says whether it
is safe to. Results in docs/benchmarks.md 4-i-j.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np


def passthrough(method: str, files: list[Path], sr: int | None = None) -> list[tuple[str, float, float]]:
    """(file name, SI-SDR dB, level change dB) of ``method`` on each clean file, read at ``sr``
    (None: the file's own rate)."""
    from voxclean.audio.io import info
    from voxclean.bench.runner import parse_method
    from voxclean.degrade.noise import load_mono
    from voxclean.enhance import ENHANCERS
    from voxclean.enhance.apply import enhance_signal
    from voxclean.metrics.signal import si_sdr
    name, opts = parse_method(method)
    enh = ENHANCERS.get(name, **opts)
    out = []
    for f in files:
        rate = sr or info(f).sample_rate
        x = load_mono(str(f), rate)
        y = enhance_signal(enh, x, rate)
        level = 10 * np.log10(np.sum(np.square(y, dtype=np.float64)) / np.sum(np.square(x, dtype=np.float64)))
        out.append((f.name, float(si_sdr(x, y)), float(level)))
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folder", type=Path, help="clean speech (searched recursively)")
    ap.add_argument("-m", "--methods", default="neural", help="comma-separated methods, as in voxclean bench")
    ap.add_argument("--sr", type=int, default=None, help="read the files at this rate (default: their own)")
    ap.add_argument("--limit", type=int, default=None, help="first N files only")
    ap.add_argument("--flag", type=float, default=15.0, help="list files whose SI-SDR is below this (dB)")
    a = ap.parse_args(argv)
    from voxclean.audio.io import find_audio
    files = find_audio(a.folder)[: a.limit]
    if not files:
        ap.error(f"{a.folder}: no audio files")
    print(f"{len(files)} clean files from {a.folder}, at {a.sr or 'their own rate'} Hz")
    for m in a.methods.split(","):
        rows = passthrough(m, files, a.sr)
        s, g = np.array([r[1] for r in rows]), np.array([r[2] for r in rows])
        bad = [f"{r[0]} ({r[1]:.1f} dB, {r[2]:+.1f} dB level)" for r in rows if r[1] < a.flag]
        print(f"{m:>36}: SI-SDR mean {s.mean():5.2f} dB, worst {s.min():5.2f} | level change mean {g.mean():+.2f} dB, "
              f"worst {g.min():+.2f} | below {a.flag:g} dB: {', '.join(bad) if bad else 'none'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
