"""Paired noisy/clean datasets: ``OUT/clean/NAME.wav``, ``OUT/noisy/NAME.wav`` and ``OUT/manifest.jsonl``.

Pair ``i`` depends only on ``(seed, i)`` and the sorted file lists: its clean utterance is
``clean_files[perm[i % len(clean_files)]]`` with ``perm`` a permutation drawn from ``seed`` (every
utterance is used once before any repeats), and its degradation chain (optional reverberation with
a direct-path target, then noise at an SNR drawn from ``snr``) runs with ``pair_seed`` derived from
``SeedSequence([seed, i])``. The manifest line records every resolved parameter -- noise file, offset,
SNR, gain, RIR or room, the final peak-protection ``scale`` -- and :func:`regenerate` rebuilds the pair
from that line alone, bit for bit before 16-bit quantisation.

Levels: the clean file keeps its level and rate; if the noisy (or target) peak would exceed 0.99 both
are scaled by the same ``scale = 0.99 / peak`` so that writing 16-bit PCM never clips.
"""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any, Callable

import numpy as np

from voxclean.audio.io import load, save
from voxclean.degrade.chain import Chain
from voxclean.degrade.noise import Noise, list_audio
from voxclean.degrade.reverb import Reverb

PEAK = 0.99


def _range(v: float | tuple[float, float] | list[float]) -> float | tuple[float, float]:
    if isinstance(v, (list, tuple)):
        lo, hi = float(v[0]), float(v[1])
        return lo if lo == hi else (lo, hi)
    return float(v)


def _check_out(out: Path, inputs: list[Path], overwrite: bool) -> None:
    o = out.resolve()
    for p in inputs:
        r = p.resolve()
        if o == r or r in o.parents or o in r.parents:
            raise ValueError(f"{out}: output folder overlaps the input {p}; choose a separate folder "
                             "(inputs are never written to)")
    if out.exists() and not out.is_dir():
        raise FileExistsError(f"{out}: exists and is not a folder")
    if out.is_dir() and any(out.iterdir()) and not overwrite:
        raise FileExistsError(f"{out}: folder exists and is not empty; pass overwrite=True (CLI: --overwrite) "
                              "to replace its pairs")


def pair_seed(seed: int, i: int) -> int:
    return int(np.random.SeedSequence([seed, i]).generate_state(1)[0])


def _finish(y: np.ndarray, t: np.ndarray, scale: float) -> tuple[np.ndarray, np.ndarray]:
    return (t * np.float32(scale)).astype(np.float32), (y * np.float32(scale)).astype(np.float32)


def make_pairs(clean_dir: str | os.PathLike, noise_dir: str | os.PathLike | list, out_dir: str | os.PathLike,
               n: int, snr: float | tuple[float, float] = (-5.0, 15.0), seed: int = 0,
               rir_dir: str | os.PathLike | None = None, active_only: bool = False, overwrite: bool = False,
               progress: Callable[[int, int], None] | None = None) -> list[dict[str, Any]]:
    """Write ``n`` pairs under ``out_dir`` (see the module docstring); returns the manifest lines."""
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    if seed < 0:
        raise ValueError(f"seed must be >= 0, got {seed}")
    clean_files = list_audio(str(clean_dir), "clean")
    noise_paths = [str(p) for p in noise_dir] if isinstance(noise_dir, (list, tuple)) else str(noise_dir)
    list_audio(noise_paths, "noise")  # fail early on a missing or empty noise folder
    inputs = [Path(clean_dir)] + [Path(p) for p in ([noise_paths] if isinstance(noise_paths, str) else noise_paths)]
    if rir_dir is not None:
        list_audio(str(rir_dir), "reverb")
        inputs.append(Path(rir_dir))
    out = Path(out_dir)
    _check_out(out, inputs, overwrite)
    old = _read_names(out / "manifest.jsonl") if overwrite else set()

    perm = np.random.default_rng(seed).permutation(len(clean_files))
    ops: list[Any] = []
    if rir_dir is not None:
        ops.append(Reverb(path=str(Path(rir_dir).resolve()), direct_path_target=True))
    noise_abs = ([str(Path(p).resolve()) for p in noise_paths] if isinstance(noise_paths, list)
                 else str(Path(noise_paths).resolve()))
    ops.append(Noise(path=noise_abs, snr=_range(snr), active_only=active_only))

    out.mkdir(parents=True, exist_ok=True)
    lines: list[dict[str, Any]] = []
    fd, tmp = tempfile.mkstemp(prefix=".manifest.", suffix=".part", dir=out)
    try:
        with os.fdopen(fd, "w") as mf:
            for i in range(n):
                src = clean_files[int(perm[i % len(clean_files)])]
                x, sr = load(src, channels="downmix")
                ps = pair_seed(seed, i)
                y, t, record = Chain(ops, ps).run(x, sr)
                peak = float(max(np.max(np.abs(y)), np.max(np.abs(t))))
                scale = PEAK / peak if peak > PEAK else 1.0
                clean, noisy = _finish(y, t, scale)
                name = f"{i:05d}_{Path(src).stem}.wav"
                save(out / "clean" / name, clean, sr, overwrite=overwrite)
                save(out / "noisy" / name, noisy, sr, overwrite=overwrite)
                line = _manifest_line(i, name, src, sr, len(x), seed, ps, scale, record)
                mf.write(json.dumps(line) + "\n")
                lines.append(line)
                if progress:
                    progress(i + 1, n)
        os.replace(tmp, out / "manifest.jsonl")
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    for stale in old - {ln["name"] for ln in lines}:  # pairs of an earlier, larger run in the same folder
        for sub in ("clean", "noisy"):
            (out / sub / stale).unlink(missing_ok=True)
    return lines


def _manifest_line(i: int, name: str, src: str, sr: int, samples: int, seed: int, ps: int, scale: float,
                   record: dict[str, Any]) -> dict[str, Any]:
    steps = {s["op"]["name"]: s for s in record["steps"]}
    noise = steps["noise"]
    line: dict[str, Any] = {
        "id": i, "name": name, "clean": f"clean/{name}", "noisy": f"noisy/{name}", "source": src,
        "sr": sr, "samples": samples, "seed": seed, "pair_seed": ps,
        "snr": noise["op"]["snr"], "active_only": noise["op"]["active_only"],
        "noise_file": noise["op"]["file"], "noise_offset": noise["op"]["offset"], "noise_gain": noise["info"]["gain"],
        "rir": None, "scale": scale,
    }
    if "reverb" in steps:
        rv = steps["reverb"]["op"]
        line["rir"] = rv["file"] or {k: rv[k] for k in ("rt60", "room", "source", "mic")}
    line["chain"] = record
    return line


def _read_names(manifest: Path) -> set[str]:
    if not manifest.is_file():
        return set()
    names = set()
    for raw in manifest.read_text().splitlines():
        try:
            names.add(json.loads(raw)["name"])
        except (ValueError, KeyError, TypeError):
            continue
    return names


def read_manifest(path: str | os.PathLike) -> list[dict[str, Any]]:
    """The lines of a ``manifest.jsonl`` (a file, or the dataset folder holding it)."""
    p = Path(path)
    if p.is_dir():
        p = p / "manifest.jsonl"
    if not p.is_file():
        raise FileNotFoundError(f"{p}: no manifest here")
    out = []
    for k, raw in enumerate(p.read_text().splitlines(), 1):
        if raw.strip():
            try:
                out.append(json.loads(raw))
            except ValueError as exc:
                raise ValueError(f"{p}:{k}: not a JSON line ({exc})") from None
    return out


def regenerate(line: dict[str, Any] | str) -> tuple[np.ndarray, np.ndarray, int]:
    """``(clean, noisy, sr)`` of one manifest line, recomputed from its source file and resolved
    parameters alone (no random draws), exactly as :func:`make_pairs` computed them before writing."""
    if isinstance(line, str):
        line = json.loads(line)
    x, sr = load(line["source"], channels="downmix")
    if sr != line["sr"] or x.shape[-1] != line["samples"]:
        raise ValueError(f"{line['source']}: now {x.shape[-1]} samples at {sr} Hz, but the manifest recorded "
                         f"{line['samples']} at {line['sr']} Hz; the source file has changed")
    y, t, _ = Chain.from_record(line["chain"]).run(x, sr)
    clean, noisy = _finish(y, t, float(line["scale"]))
    return clean, noisy, sr
