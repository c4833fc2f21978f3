"""`voxclean enhance` and `voxclean methods`."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.progress import (BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn)
from rich.table import Table

from voxclean.audio.io import AudioError, find_audio, info
from voxclean.enhance import DEFAULT_METHOD, ENHANCERS
from voxclean.enhance.apply import CHANNEL_POLICIES, enhance_file
from voxclean.enhance.blend import with_blend
from voxclean.registry import parse_options

console = Console(stderr=True)


def plan_outputs(src: Path, dst: Path) -> list[tuple[Path, Path]]:
    """(input, output) pairs: a file maps to ``dst`` (or ``dst/<stem>.wav`` if ``dst`` is a folder);
    a folder maps recursively to the same relative layout under ``dst``, with ``.wav`` outputs."""
    if not src.exists():
        raise typer.BadParameter(f"{src}: no such file or folder")
    if src.is_file():
        out = dst / f"{src.stem}.wav" if dst.is_dir() else dst
        return [(src, out)]
    files = find_audio(src)
    if not files:
        raise typer.BadParameter(f"{src}: no audio files found (looked for .wav .flac .ogg .mp3 ... recursively)")
    if dst.exists() and dst.is_file():
        raise typer.BadParameter(f"{dst}: input is a folder, so the output must be a folder too")
    return [(f, dst / f.relative_to(src).with_suffix(".wav")) for f in files]


def register(app: typer.Typer) -> None:
    @app.command("enhance")
    def enhance(
        src: Path = typer.Argument(..., help="Input audio file or folder (searched recursively)."),
        dst: Path = typer.Argument(..., help="Output file, or folder mirroring the input layout (.wav)."),
        method: str = typer.Option(DEFAULT_METHOD, "--method", "-m", help="Enhancement method (see `voxclean methods`)."),
        overwrite: bool = typer.Option(False, "--overwrite", help="Replace outputs that already exist."),
        channels: str = typer.Option("per-channel", help=f"Multichannel policy: {' or '.join(CHANNEL_POLICIES)}."),
        block_seconds: float = typer.Option(20.0, help="Block size for long files (memory stays bounded)."),
        opt: list[str] = typer.Option([], "--opt", "-o", help="Method option KEY=VALUE (repeatable), e.g. "
                                      "-o atten_lim_db=12 -o highpass=auto."),
        atten_lim_db: Optional[float] = typer.Option(None, "--atten-lim-db", help="Maximum suppression in dB "
                                                     "(output >= input attenuated by this much), any method."),
        mix: float = typer.Option(1.0, "--mix", min=0.0, max=1.0, help="Dry/wet: 1 = enhanced only, 0 = input only."),
    ) -> None:
        """Enhance a file or a whole folder. Keeps sample rate, length and channel count by default;
        never overwrites an input; a bad file is reported at the end (exit status 1) while the rest run."""
        if channels not in CHANNEL_POLICIES:
            raise typer.BadParameter(f"--channels must be one of {CHANNEL_POLICIES}")
        try:
            enh = with_blend(ENHANCERS.get(method, **parse_options(opt, "--opt")), atten_lim_db, mix)
        except KeyError as exc:
            raise typer.BadParameter(str(exc.args[0])) from exc
        except TypeError as exc:  # an option the method does not take
            raise typer.BadParameter(f"{method}: {exc}") from exc
        except ValueError as exc:
            raise typer.BadParameter(str(exc)) from exc
        pairs = plan_outputs(src, dst)
        inputs = {p.resolve() for p, _ in pairs}
        failures: list[tuple[Path, str]] = []
        todo: list[tuple[Path, Path, float]] = []
        narrowband = 0
        for s, d in pairs:
            if d.resolve() in inputs:
                failures.append((s, f"output {d} would overwrite an input file; choose another output"))
            elif d.exists() and not overwrite:
                failures.append((s, f"output {d} exists; pass --overwrite to replace it"))
            else:
                try:
                    meta = info(s)
                    todo.append((s, d, meta.duration))
                    narrowband += meta.sample_rate <= 8000
                except AudioError as exc:
                    failures.append((s, exc.problem))
        if narrowband and enh.name == "neural":
            console.print(f"note: {narrowband} input(s) at 8 kHz or less; on 8 kHz telephone speech (NOIZEUS) "
                          "`-m logmmse` scored higher than the neural model (docs/benchmarks.md, section 4-i-f)")
        n_skipped = len(failures)
        total = sum(t for *_, t in todo)
        columns = [TextColumn("[bold]{task.description}"), BarColumn(),
                   TextColumn("{task.completed:.0f}/{task.total:.0f} s audio"), TimeElapsedColumn(),
                   TextColumn("ETA"), TimeRemainingColumn()]
        with Progress(*columns, console=console, transient=False) as progress:
            task = progress.add_task(f"{enh.name}", total=max(total, 1e-9))
            for i, (s, d, dur) in enumerate(todo, 1):
                progress.update(task, description=f"{enh.name} [{i}/{len(todo)}] {s.name}")
                try:
                    enhance_file(enh, s, d, overwrite=overwrite, channels=channels, block_seconds=block_seconds,
                                 on_progress=lambda sec: progress.advance(task, sec))
                except (AudioError, FileExistsError, ValueError, RuntimeError) as exc:
                    failures.append((s, getattr(exc, "problem", str(exc))))
                progress.update(task, completed=sum(t for *_, t in todo[:i]))
        ok = len(todo) - (len(failures) - n_skipped)
        console.print(f"[green]{ok} file(s) enhanced[/green] with {enh.name} -> {dst}")
        if failures:  # plain lines, one per file, so logs stay greppable
            console.print(f"[red]{len(failures)} file(s) failed:[/red]")
            for s, why in failures:
                console.print(f"  FAILED {s}: {why}", markup=False, highlight=False, soft_wrap=True)
            raise typer.Exit(1)

    @app.command("methods")
    def methods() -> None:
        """List the enhancement methods, one line each (the default is marked *)."""
        table = Table(show_header=True, box=None)
        table.add_column("method")
        table.add_column("what it is")
        for e in ENHANCERS.entries():
            mark = " *" if e.name == DEFAULT_METHOD else ""
            table.add_row(f"{e.name}{mark}", e.summary)
        Console().print(table)
