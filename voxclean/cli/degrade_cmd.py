"""``voxclean degrade``, ``voxclean mix`` and ``voxclean degradations``: thin wrappers over voxclean.degrade."""
from __future__ import annotations

import json
import time
import zlib
from pathlib import Path
from typing import Optional

import typer

CHAIN_HELP = (
    "Degradation chain: a JSON file, a JSON string, or the compact form "
    "'noise:snr=5,path=DIR|reverb:rt60=0.3:0.8|codec:name=opus,bitrate=12k'. Steps are separated by '|', "
    "each is 'op:key=value,...'; 'lo:hi' is a uniform range, 'a;b' a random choice, '12k' = 12000. "
    "Ops: noise (path, snr, active_only), reverb (path or rt60/size/height/distance, direct_path_target), "
    "clip (threshold, relative, soft), bandlimit (low, high), codec (name, bitrate), "
    "packet_loss (p, packet_ms, conceal=zero|repeat, burst), gain (db). See `voxclean degradations`."
)


def parse_snr(text: str) -> float | tuple[float, float]:
    """``"5"`` -> 5.0; ``"-5:15"`` -> (-5.0, 15.0)."""
    parts = text.strip().split(":")
    try:
        if len(parts) == 1:
            return float(parts[0])
        if len(parts) == 2 and float(parts[0]) <= float(parts[1]):
            return (float(parts[0]), float(parts[1]))
    except ValueError:
        pass
    raise typer.BadParameter(f"expected a number or a range LO:HI with LO <= HI (e.g. -5:15), got {text!r}")


def _file_seed(seed: int, rel: str) -> int:
    """Per-file seed from the run seed and the file's relative path (stable when files are added)."""
    import numpy as np
    return int(np.random.SeedSequence([seed, zlib.crc32(rel.encode())]).generate_state(1)[0])


def register(app: typer.Typer) -> None:
    @app.command("degrade")
    def degrade(
        inp: Path = typer.Argument(..., help="audio file or folder (searched recursively)"),
        out: Path = typer.Argument(..., help="output file (.wav/.flac) for one input file, else a folder mirroring IN"),
        chain: str = typer.Option(..., "--chain", "-c", help=CHAIN_HELP),
        seed: Optional[int] = typer.Option(None, "--seed", help="seed (default: the chain file's seed, else 0); "
                                           "each file draws from (seed, its relative path)"),
        overwrite: bool = typer.Option(False, "--overwrite", help="replace existing outputs"),
    ) -> None:
        """Degrade audio through a seeded chain; writes the audio and a JSON record of every resolved parameter
        (OUT.json for one file, OUT/manifest.jsonl for a folder)."""
        from rich.console import Console
        from rich.progress import Progress

        from voxclean.audio.io import AUDIO_SUFFIXES, find_audio, load, save
        from voxclean.degrade import Chain

        console = Console()
        try:
            ch = Chain.from_spec(chain, seed)
        except (ValueError, KeyError, FileNotFoundError) as exc:
            console.print(f"[red]error:[/red] --chain: {exc.args[0] if exc.args else exc}")
            raise typer.Exit(2)
        if not inp.exists():
            console.print(f"[red]error:[/red] {inp}: no such file or folder")
            raise typer.Exit(2)
        files = find_audio(inp)
        if not files:
            console.print(f"[red]error:[/red] {inp}: no audio files found")
            raise typer.Exit(2)
        single = inp.is_file() and out.suffix.lower() in AUDIO_SUFFIXES
        root = inp if inp.is_dir() else inp.parent
        targets = [out] if single else [out / f.relative_to(root).with_suffix(".wav") for f in files]
        in_set = {f.resolve() for f in files}
        clash = [t for t in targets if t.resolve() in in_set]
        if clash:
            console.print(f"[red]error:[/red] {clash[0]}: output would overwrite an input; choose another OUT")
            raise typer.Exit(2)
        if not overwrite:
            exists = [t for t in targets if t.exists()]
            if exists:
                console.print(f"[red]error:[/red] {exists[0]}: exists ({len(exists)} output(s) do); pass --overwrite")
                raise typer.Exit(2)
        records, failed = [], []
        t0 = time.time()
        with Progress(console=console, transient=True) as bar:
            task = bar.add_task("degrading", total=len(files))
            for f, dst in zip(files, targets):
                rel = f.relative_to(root).as_posix()
                try:
                    x, sr = load(f)
                    s = _file_seed(ch.seed, rel)
                    y, rec = ch.apply(x, sr, seed=s)
                    save(dst, y, sr, overwrite=overwrite)
                    records.append({"source": str(f.resolve()), "output": str(dst), "chain": rec})
                except Exception as exc:  # a batch keeps going past a bad file and reports it at the end
                    failed.append((f, f"{type(exc).__name__}: {exc}"))
                bar.advance(task)
        if single and records:
            rec_path = out.with_suffix(".json")
            _write_text(rec_path, json.dumps(records[0], indent=1) + "\n")
        elif records:
            rec_path = out / "manifest.jsonl"
            _write_text(rec_path, "".join(json.dumps(r) + "\n" for r in records))
        if records:
            console.print(f"degraded {len(records)} file(s) in {time.time() - t0:.1f} s -> {out} "
                          f"(record: {rec_path})")
        for f, why in failed:
            console.print(f"[red]failed:[/red] {f}: {why}")
        if failed:
            raise typer.Exit(1)

    @app.command("mix")
    def mix(
        out: Path = typer.Argument(..., help="output folder: OUT/clean, OUT/noisy, OUT/manifest.jsonl"),
        clean: Path = typer.Option(..., "--clean", help="folder of clean speech (searched recursively)"),
        noise: list[Path] = typer.Option(..., "--noise", help="noise folder or file (repeat for several)"),
        rir: Optional[Path] = typer.Option(None, "--rir", help="folder of room impulse responses: reverberate "
                                           "every pair; the clean target is then the direct-path speech"),
        snr: str = typer.Option("-5:20", "--snr", help="SNR in dB: a value, or LO:HI for a uniform range"),
        n: int = typer.Option(200, "--n", min=1, help="number of pairs"),
        seed: int = typer.Option(0, "--seed", min=0, help="seed; pair i depends only on (seed, i)"),
        active_snr: bool = typer.Option(False, "--active-snr", help="measure SNR over speech-active frames only"),
        overwrite: bool = typer.Option(False, "--overwrite", help="write into a non-empty OUT, replacing its pairs"),
    ) -> None:
        """Build a paired noisy/clean set; each manifest line holds every parameter needed to regenerate its pair."""
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        from voxclean.audio.io import AudioError
        from voxclean.degrade.mix import make_pairs

        console = Console()
        snr_v = parse_snr(snr)
        t0 = time.time()
        try:
            with Progress(TextColumn("mixing"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                          console=console, transient=True) as bar:
                task = bar.add_task("mix", total=n)
                lines = make_pairs(clean, noise if len(noise) > 1 else noise[0], out, n=n, snr=snr_v, seed=seed,
                                   rir_dir=rir, active_only=active_snr, overwrite=overwrite,
                                   progress=lambda i, total: bar.update(task, completed=i))
        except (FileNotFoundError, FileExistsError, ValueError, AudioError) as exc:
            console.print(f"[red]error:[/red] {exc}")
            raise typer.Exit(2)
        wall = time.time() - t0
        snrs = [ln["snr"] for ln in lines]
        console.print(f"wrote {len(lines)} pairs to {out} in {wall:.1f} s "
                      f"(SNR {min(snrs):.1f} to {max(snrs):.1f} dB, {len({ln['source'] for ln in lines})} clean "
                      f"utterances, {len({ln['noise_file'] for ln in lines})} noise files)")
        console.print(f"manifest: {out / 'manifest.jsonl'}")

    @app.command("degradations")
    def degradations() -> None:
        """List the registered degradations and the codecs this machine can run."""
        from rich.console import Console
        from rich.table import Table

        from voxclean.degrade import DEGRADATIONS
        from voxclean.degrade.codec import CODECS, available_codecs

        table = Table(title="degradations (use in --chain as name:key=value,...)")
        table.add_column("name")
        table.add_column("parameters")
        table.add_column("what it does")
        for e in DEGRADATIONS.entries():
            params = ", ".join(e.factory.param_names()) if hasattr(e.factory, "param_names") else ""
            table.add_row(e.name, params, e.summary)
        console = Console()
        console.print(table)
        avail = available_codecs()
        missing = [c for c in CODECS if c not in avail]
        console.print(f"codecs available here: {', '.join(avail)}" + (f"; missing: {', '.join(missing)}" if missing else ""))


def _write_text(path: Path, text: str) -> None:
    import os
    import tempfile
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    os.replace(tmp, path)
