"""`voxclean bench`: run methods side by side on a paired set, score and time them."""
from __future__ import annotations

import json

import sys
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

from voxclean.bench.peers import PEERS, available_peers
from voxclean.enhance import DEFAULT_METHOD

console = Console(stderr=True)


def _split(s: str | None) -> list[str]:
    return [t.strip() for t in (s or "").split(",") if t.strip()]


def register(app: typer.Typer) -> None:
    _register_report(app)
    @app.command("bench")
    def bench(
        set_dir: Path = typer.Argument(..., help="Paired set: SET/clean and SET/noisy (matched by "
                                                 "name; NOIZEUS layout understood)."),
        methods: str = typer.Option(DEFAULT_METHOD, "--methods", "-m",
                                    help="Comma-separated methods (see `voxclean methods`), each "
                                         "optionally NAME:KEY=VALUE:..., e.g. logmmse:noise_init=file; "
                                         "the unprocessed 'noisy' row is always added."),
        peers: bool = typer.Option(False, "--peers", help="Add the installed peer systems: "
                                   + ", ".join(PEERS) + " (pip install 'voxclean\\[peers]')."),
        metrics: Optional[str] = typer.Option(None, "--metrics", help="Comma-separated metrics "
                                              "(default: voxclean.metrics.DEFAULT_METRICS)."),
        out: Optional[Path] = typer.Option(None, "--out", "-o",
                                           help="Output folder (default: ./bench_<set name>)."),
        group_by: Optional[str] = typer.Option(None, "--group-by", help="Condition tags to "
                                               "summarise by, e.g. snr,noise (default: those the "
                                               "set has; '' for none)."),
        limit: Optional[int] = typer.Option(None, "--limit", min=1, help="Use only N pairs, spread "
                                            "evenly over the set."),
        threads: int = typer.Option(1, "--threads", min=0, help="Compute threads while enhancing "
                                    "(1 = single-thread real-time factor; 0 = no limit)."),
        align: bool = typer.Option(False, "--align", help="Align each output to its reference by "
                                   "cross-correlation before scoring (same for every method)."),
        save_audio: bool = typer.Option(False, "--save-audio", help="Keep enhanced files under "
                                        "OUT/audio/<method>/."),
        resume: bool = typer.Option(False, "--resume", help="Continue an interrupted run in OUT."),
    ) -> None:
        """Benchmark methods on a paired set: quality metrics per file and per condition, and speed
        as real-time factor. Writes OUT/results.json and OUT/results.md."""
        from voxclean.bench.runner import run_bench
        from voxclean.enhance import ENHANCERS

        names = _split(methods)
        if peers:
            have = available_peers()
            missing = [p for p in PEERS if p not in have]
            if missing:
                console.print(f"[yellow]peers not installed, skipped: {', '.join(missing)} "
                              "(pip install 'voxclean[peers]')")
            names += [p for p in have if p not in names]
        from voxclean.bench.runner import parse_method
        try:
            unknown = [m for m in names if m != "noisy" and parse_method(m)[0] not in ENHANCERS]
        except ValueError as exc:
            raise typer.BadParameter(str(exc), param_hint="--methods") from exc
        if unknown:
            raise typer.BadParameter(f"unknown method(s) {', '.join(unknown)}; available: "
                                     f"{', '.join(ENHANCERS.names())}", param_hint="--methods")
        out = out or Path(f"bench_{set_dir.resolve().name}")
        try:
            result = run_bench(set_dir, names, metrics=_split(metrics) or None, out_dir=out,
                               threads=threads or None, limit=limit,
                               group_by=None if group_by is None else _split(group_by),
                               align=align, save_audio=save_audio, resume=resume, progress=True)
        except (FileNotFoundError, ValueError) as exc:
            console.print(f"[red]error:[/] {exc}")
            raise typer.Exit(2)
        _print_summary(result)
        console.print(f"wrote {out / 'results.md'} and {out / 'results.json'}")
        if result["errors"]:
            console.print(f"[red]{len(result['errors'])} problem(s):")
            for e in result["errors"]:
                console.print(f"  {e}")
            raise typer.Exit(1)


def _register_report(app: typer.Typer) -> None:
    @app.command("bench-report")
    def bench_report(
        results: Path = typer.Argument(..., help="results.json written by `voxclean bench`."),
        group_by: str = typer.Option("", "--group-by", help="Tags to summarise by; join tags with + "
                                     "for one cell per combination, e.g. noise+snr (the classic NOIZEUS table)."),
        out: Optional[Path] = typer.Option(None, "--out", "-o", help="Markdown file (default: print)."),
    ) -> None:
        """Re-render a benchmark's markdown report from its results.json with other groupings (no re-run)."""
        from voxclean.bench.report import markdown, summarize
        result = json.loads(results.read_text())
        keys = _split(group_by) or result["settings"].get("group_by") or []
        result["summary"] = summarize(result["rows"], result["settings"]["methods"], keys)
        text = markdown(result)
        if out is None:
            typer.echo(text)
        else:
            out.write_text(text)
            console.print(f"wrote {out}")


def _print_summary(result: dict) -> None:
    from voxclean.bench.report import decimals
    summ = result["summary"]
    dec = decimals(summ)
    table = Table(title=f"{result['n_pairs']} files: mean over files")
    table.add_column("method")
    for m in summ["metrics"]:
        table.add_column(m, justify="right")
    table.add_column("RTF", justify="right")
    table.add_column("× real time", justify="right")
    for method, s in summ["overall"].items():
        cells = [f"{s[m]['mean']:.{dec[m]}f}" if m in s else "–" for m in summ["metrics"]]
        speed = [f"{s['rtf']:.4f}", f"{s['x_realtime']:.0f}×"] if "rtf" in s else ["–", "–"]
        table.add_row(method, *cells, *speed)
    Console(width=None if sys.stdout.isatty() else 200).print(table)
