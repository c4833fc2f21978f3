"""``voxclean eval`` (score a folder of estimates against references) and ``voxclean metrics``."""
from __future__ import annotations

import math
from pathlib import Path
from typing import Optional

import typer


def _fmt(v: float, digits: int = 3) -> str:
    return "-" if v is None or not math.isfinite(v) else f"{v:.{digits}f}"


def register(app: typer.Typer) -> None:
    @app.command("eval")
    def eval_cmd(
        ref: Path = typer.Option(..., "--ref", help="folder of reference (clean) files"),
        est: Path = typer.Option(..., "--est", help="folder of estimates (enhanced or degraded), paired by file stem"),
        metrics: Optional[str] = typer.Option(None, "--metrics",
                                              help="comma-separated metric names (see `voxclean metrics`); "
                                                   "default: every intrusive metric"),
        csv_path: Optional[Path] = typer.Option(None, "--csv", help="write one row per pair to this CSV file"),
        json_path: Optional[Path] = typer.Option(None, "--json", help="write the summary and the rows to this JSON file"),
        align: bool = typer.Option(False, "--align/--no-align",
                                   help="remove each estimate's delay (cross-correlation, within --max-lag)"),
        max_lag: float = typer.Option(0.25, "--max-lag", help="largest delay --align searches, seconds"),
        jobs: int = typer.Option(1, "--jobs", "-j", help="pairs scored in parallel processes"),
    ) -> None:
        """Score every estimate against its reference; print mean and 95 % confidence interval per metric."""
        from rich.console import Console
        from rich.table import Table

        from voxclean.metrics import DEFAULT_METRICS, METRICS, evaluate_dirs, write_csv, write_json

        console = Console()
        names = [m.strip() for m in metrics.split(",") if m.strip()] if metrics else list(DEFAULT_METRICS)
        unknown = [n for n in names if n not in METRICS]
        if unknown:
            raise typer.BadParameter(f"unknown metric(s) {', '.join(unknown)}; available: "
                                     f"{', '.join(METRICS.names())}", param_hint="--metrics")
        for p, opt in ((ref, "--ref"), (est, "--est")):
            if not p.is_dir():
                raise typer.BadParameter(f"{p}: not a folder", param_hint=opt)

        rows, summary = evaluate_dirs(ref, est, names, align=align, max_lag_s=max_lag, jobs=jobs,
                                      progress=console.is_terminal)
        if csv_path:
            write_csv(rows, csv_path)
        if json_path:
            write_json(rows, summary, json_path)

        table = Table(title=f"{summary['n_pairs']} pairs")
        table.add_column("metric")
        table.add_column("mean", justify="right")
        table.add_column("95% CI", justify="right")
        table.add_column("n", justify="right")
        for key, s in summary["metrics"].items():
            table.add_row(key, _fmt(s["mean"]), "±" + _fmt(s["ci95"]), str(s["n"]))
        if rows:
            console.print(table)
        if align:
            delays = [r["delay_ms"] for r in rows if "delay_ms" in r]
            if delays:
                console.print(f"delay removed: median {sorted(delays)[len(delays) // 2]:.2f} ms, "
                              f"range {min(delays):.2f} to {max(delays):.2f} ms")
        for label, key in (("references without an estimate", "unmatched_ref"),
                           ("estimates without a reference", "unmatched_est")):
            if summary[key]:
                shown = ", ".join(summary[key][:5]) + (" ..." if len(summary[key]) > 5 else "")
                console.print(f"[yellow]{len(summary[key])} {label}:[/yellow] {shown}")
        nan_rows = [r["file"] for r in rows if r.get("warnings")]
        if nan_rows:
            console.print(f"[yellow]{len(nan_rows)} pair(s) with warnings (NaN values), e.g. {nan_rows[0]}: "
                          f"{next(r['warnings'] for r in rows if r.get('warnings'))}[/yellow]")
        for p in (csv_path, json_path):
            if p:
                console.print(f"wrote {p}")
        if summary["failed"]:
            for f in summary["failed"]:
                console.print(f"[red]failed:[/red] {f['file']}: {f['error']}")
            raise typer.Exit(1)
        if not rows:
            console.print("[red]no pairs found[/red] (files are paired by relative path or stem)")
            raise typer.Exit(1)

    @app.command("metrics")
    def metrics_cmd() -> None:
        """List the available metrics, one line each (* = computed by default by `voxclean eval`)."""
        from rich.console import Console
        from rich.markup import escape

        from voxclean.metrics import DEFAULT_METRICS, METRICS

        console = Console(soft_wrap=True)
        width = max(len(n) for n in METRICS.names()) + 2
        for e in METRICS.entries():
            m = METRICS.get(e.name)
            star = "*" if e.name in DEFAULT_METRICS else " "
            values = f" -> {', '.join(m.outputs)}" if m.outputs != (e.name,) else ""
            kind = ("intrusive" if m.intrusive else "no reference") + (", higher is better" if m.higher_is_better
                                                                          else ", lower is better")
            console.print(f"{star}[bold]{e.name:<{width}}[/bold]{escape(e.summary)}{values} [dim]({kind})[/dim]")
