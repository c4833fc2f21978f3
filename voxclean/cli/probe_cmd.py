"""`voxclean probe`: the robustness study of seed 003 on any systems, with JSON/CSV, figures and an HTML report."""
from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path
from typing import List, Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

console = Console(stderr=True)


def default_data_dir(*parts: str) -> Path | None:
    """``$VOXCLEAN_DATA/<parts>``, else ``<repo>/../shared/data/<parts>``, when it exists."""
    root = os.environ.get("VOXCLEAN_DATA")
    base = Path(root) if root else Path(__file__).resolve().parents[2].parent / "shared" / "data"
    p = base.joinpath(*parts)
    return p if p.exists() else None


def register(app: typer.Typer) -> None:
    @app.command("probe")
    def probe(
        systems: List[str] = typer.Argument(..., help="Systems under test: opus:12k, mp3:32k, codec2:3200, wiener, "
                                                      "enhancer:NAME, 'cmd:prog {in} {out}', lowpass:4k, identity."),
        sets: List[Path] = typer.Option(..., "--set", help="Speech folder (repeatable). transcripts.tsv (file, "
                                        "transcript) gives WER references; <set>/<speaker>/ sub-folders give "
                                        "speaker-verification trials."),
        out: Path = typer.Option(..., "--out", help="Report folder: results.json/csv, items.csv, figures/, "
                                 "report.html, examples/, .cache/."),
        quick: bool = typer.Option(False, "--quick", help="Fewer utterances and levels (the whole study on 2 cores "
                                   "in about 15 minutes)."),
        seed: int = typer.Option(0, help="Seed of every random choice (files, noise segments, rooms)."),
        noise: Optional[Path] = typer.Option(None, help="Ambient noise folder [default: shared/data/noise/dev]."),
        rir: Optional[Path] = typer.Option(None, help="Measured impulse responses [default: shared/data/rir/real]."),
        kinds: str = typer.Option("ambient,white,reverb,reverb_real", help="Kinds of damage, comma-separated."),
        asr: str = typer.Option("auto", help="Recogniser for WER: auto (whisper-tiny.en when installed, else "
                                "pocketsphinx), pocketsphinx, whisper-tiny.en, none."),
        levels: Optional[int] = typer.Option(None, help="At most this many levels per kind (evenly spread)."),
        transcripts: Optional[Path] = typer.Option(None, help="A transcripts.tsv (file, transcript) overriding the "
                                                   "sets' own rows for the files it names."),
        workers: Optional[int] = typer.Option(None, help="Worker processes [default: all cores]."),
        cache: bool = typer.Option(True, "--cache/--no-cache", help="Reuse results cached under OUT/.cache."),
        speaker: bool = typer.Option(True, "--speaker/--no-speaker", help="Speaker similarity and EER."),
        dnsmos: bool = typer.Option(True, "--dnsmos/--no-dnsmos", help="DNSMOS on a subset of utterances."),
        linearity: bool = typer.Option(True, "--linearity/--no-linearity", help="Figure 2: additivity, homogeneity."),
        freqresp: bool = typer.Option(True, "--freqresp/--no-freqresp", help="Figure 3: sine-sweep response."),
    ) -> None:
        """Damage speech with real ambient noise, white noise and reverberation at several levels, pass it through
        each system, and measure mel distance, PESQ, STOI, WER, speaker EER/similarity and DNSMOS against the
        oracle (the damaged input itself). Writes JSON, CSV, figures and a self-contained HTML report."""
        from voxclean.probe.report import make_report
        from voxclean.probe.runner import StudyConfig, run_study, write_outputs

        noise_dir = noise or default_data_dir("noise", "dev")
        rir_dir = rir or default_data_dir("rir", "real")
        kind_list = tuple(k.strip() for k in kinds.split(",") if k.strip())
        if "ambient" in kind_list and noise_dir is None:
            console.print("[yellow]no ambient noise folder (--noise): ambient noise left out[/yellow]")
        if "reverb_real" in kind_list and rir_dir is None:
            console.print("[yellow]no measured impulse responses (--rir): measured reverberation left out[/yellow]")
        cfg = StudyConfig(sets=list(sets), out=out, seed=seed, quick=quick, noise_dir=noise_dir, rir_dir=rir_dir,
                          kinds=kind_list, asr=None if asr == "none" else asr, speaker=speaker, dnsmos=dnsmos,
                          workers=workers, cache=cache, linearity=linearity, freqresp=freqresp, max_levels=levels,
                          transcripts=transcripts)
        with Progress(TextColumn("[bold]probe[/bold]"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                      TimeRemainingColumn(), console=console, transient=False) as bar:
            task = bar.add_task("probe", total=None)

            def tick(done: int, total: int) -> None:
                bar.update(task, completed=done, total=total)

            try:
                res = run_study(list(systems), cfg, progress=tick)
            except (KeyError, ValueError, FileNotFoundError, ImportError) as exc:
                console.print(f"[red]error:[/red] {exc.args[0] if exc.args else exc}")
                raise typer.Exit(2) from None
        paths = write_outputs(res, out)
        command = "voxclean probe " + " ".join(shlex.quote(a) for a in sys.argv[2:]) if len(sys.argv) > 2 else ""
        paths.update(make_report(res, out, command))
        _print_summary(res)
        for what, p in paths.items():
            console.print(f"{what:>10}: {p}")
        console.print(f"done in {res.seconds:.0f} s")
        if res.errors:
            console.print(f"[red]{len(res.errors)} failure(s)[/red], e.g. {res.errors[0].get('system')} on "
                          f"{res.errors[0].get('utt')}: {res.errors[0].get('error')}")
            raise typer.Exit(1)


def _print_summary(res) -> None:
    from voxclean.probe.report import summary_rows
    rows = summary_rows(res.table, res.systems)
    cols = (("mel", "mel ↓"), ("pesq_wb", "PESQ"), ("stoi", "STOI"), ("wer", "WER % ↓"), ("eer", "EER % ↓"),
            ("cos_clean", "spk cos"), ("dnsmos_ovrl", "DNSMOS"))
    for part, title in (("clean", "clean input"), ("noisy", "mean over the damaged conditions")):
        t = Table(title=title)
        t.add_column("system", no_wrap=True)
        for _, name in cols:
            t.add_column(name, justify="right", no_wrap=True)
        for r in rows:
            vals = []
            for m, _ in cols:
                v = r[f"{m}:{part}"]
                vals.append("–" if v != v else (f"{100 * v:.1f}" if m in ("wer", "eer") else f"{v:.2f}"))
            t.add_row(r["system"], *vals)
        Console().print(t)
