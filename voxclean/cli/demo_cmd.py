"""``voxclean demo``: synthetic speech + self-made babble -> enhance -> scores and a spectrogram figure."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

# (label, metric key, unit, number format); all three are higher-is-better
_ROWS = (
    ("PESQ (wide band)", "pesq_wb", "", "{:.2f}"),
    ("STOI", "stoi", "", "{:.3f}"),
    ("SI-SDR", "si_sdr", " dB", "{:.1f}"),
)


def register(app: typer.Typer) -> None:
    @app.command("demo")
    def demo(
        out: Path = typer.Option(Path("demo"), "--out", help="folder for clean/noisy/enhanced.wav and spectrograms.png"),
        method: Optional[str] = typer.Option(None, "--method", help="enhancer name (see `voxclean methods`); default: the default method"),
        snr: float = typer.Option(5.0, "--snr", help="signal-to-noise ratio of the mixture in dB, over the whole utterance"),
        seed: int = typer.Option(0, "--seed", help="seed for the babble talkers, offsets and noise"),
    ) -> None:
        """Synthesise English sentences, bury them in babble at --snr dB, enhance, and score before/after."""
        from rich.console import Console
        from rich.table import Table

        from voxclean.demo import SynthesisError, run_demo

        console = Console()
        try:
            with console.status("synthesising speech and babble, enhancing, scoring..."):
                res = run_demo(out, method=method, snr_db=snr, seed=seed)
        except (SynthesisError, KeyError) as exc:
            console.print(f"[red]error:[/red] {exc.args[0] if exc.args else exc}")
            raise typer.Exit(2)

        table = Table(title=f"{res.method} on babble + pink noise at {res.snr_db:g} dB SNR, seed {res.seed}")
        table.add_column("metric")
        table.add_column("noisy", justify="right")
        table.add_column("enhanced", justify="right")
        table.add_column("change", justify="right")
        for label, key, unit, fmt in _ROWS:
            b, a = res.before.get(key), res.after.get(key)
            if b is None or a is None:
                continue
            d = a - b
            colour = "green" if d > 0 else "red" if d < 0 else ""
            change = ("+" if d >= 0 else "") + fmt.format(d) + unit
            table.add_row(label, fmt.format(b) + unit, fmt.format(a) + unit,
                          f"[{colour}]{change}[/{colour}]" if colour else change)
        console.print(table)
        for name, path in res.files.items():
            console.print(f"  {name:<13} {path}")
