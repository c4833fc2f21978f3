"""``voxclean vad``: the seed-002 voice activity detector on a file -> speech segments or per-frame decisions."""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Optional

import typer


def _write_atomic(path: Path, text: str, overwrite: bool) -> None:
    if path.exists() and not overwrite:
        raise typer.BadParameter(f"{path}: exists; pass --overwrite to replace it")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def register(app: typer.Typer) -> None:
    @app.command("vad")
    def vad_command(
        src: Path = typer.Argument(..., help="Input audio file (multichannel input is averaged to mono)."),
        out: Optional[Path] = typer.Option(None, "--out", "-o",
                                           help="Write per-frame results: .csv/.tsv (time_s, ratio, speech) or .json."),
        frames: bool = typer.Option(False, "--frames", help="Print every frame instead of the speech segments."),
        overwrite: bool = typer.Option(False, "--overwrite", help="Replace --out if it exists."),
        frame_ms: float = typer.Option(32.0, help="Analysis frame length in ms (hop = frame / overlap)."),
        overlap: int = typer.Option(2, help="Frames per frame length (2 = 50 % overlap)."),
        tau_up: float = typer.Option(10.0, help="Noise-floor rise time constant tau_up (s)."),
        tau_down: float = typer.Option(0.05, help="Noise-floor fall time constant tau_down (s)."),
        t_up: float = typer.Option(2.0, help="Speech-onset threshold T_up on L/L_min."),
        t_down: float = typer.Option(1.15, help="Speech-offset threshold T_down on L/L_min."),
    ) -> None:
        """Seed-002 VAD: weighted frame level L, noise floor L_min (tau_up/tau_down), hysteresis (T_up/T_down)."""
        from rich.console import Console
        from rich.table import Table

        from voxclean.audio.io import AudioError, load
        from voxclean.enhance.classic.vad import segments, vad

        console = Console()
        if out is not None and out.resolve() == src.resolve():
            raise typer.BadParameter(f"--out {out} is the input file; choose another path")
        try:
            x, sr = load(src, channels="downmix")
            times, ratio, dec = vad(x, sr, frame_ms=frame_ms, overlap=overlap, tau_up=tau_up,
                                    tau_down=tau_down, t_up=t_up, t_down=t_down)
        except (AudioError, ValueError) as exc:
            console.print(f"[red]error:[/red] {exc}", markup=True, highlight=False)
            raise typer.Exit(2)
        hop_s = float(times[1] - times[0]) if len(times) > 1 else len(x) / sr
        if out is not None:
            if out.suffix.lower() == ".json":
                text = json.dumps({"file": str(src), "sample_rate": sr, "hop_s": hop_s,
                                   "time_s": [round(float(t), 6) for t in times],
                                   "ratio": [round(float(r), 5) for r in ratio],
                                   "speech": [int(d) for d in dec]})
            else:
                sep = "\t" if out.suffix.lower() == ".tsv" else ","
                rows = [sep.join(["time_s", "ratio", "speech"])]
                rows += [f"{t:.4f}{sep}{r:.5f}{sep}{int(d)}" for t, r, d in zip(times, ratio, dec)]
                text = "\n".join(rows) + "\n"
            _write_atomic(out, text, overwrite)
        if frames:
            table = Table(title=f"{src.name}: per-frame VAD", box=None)
            for col in ("time (s)", "L/L_min", "speech"):
                table.add_column(col, justify="right")
            for t, r, d in zip(times, ratio, dec):
                table.add_row(f"{t:.3f}", f"{r:.3f}", str(int(d)))
        else:
            segs = segments(times, dec, hop_s)
            table = Table(title=f"{src.name}: speech segments", box=None)
            for col in ("start (s)", "end (s)", "length (s)"):
                table.add_column(col, justify="right")
            for a, b in segs:
                table.add_row(f"{a:.3f}", f"{b:.3f}", f"{b - a:.3f}")
        console.print(table)
        console.print(f"{len(dec)} frames of {hop_s * 1000:.0f} ms, speech in {100 * float(dec.mean()):.1f} %"
                      + (f"; per-frame results written to {out}" if out is not None else ""))
