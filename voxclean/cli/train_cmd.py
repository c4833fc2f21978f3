"""`voxclean train CONFIG`: train (or resume) a neural enhancer from a YAML/TOML config."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

console = Console(stderr=True)


def register(app: typer.Typer) -> None:
    @app.command("train")
    def train_cmd(
        config: Path = typer.Argument(..., help="Training config (.yaml or .toml), e.g. configs/neural_small.yaml."),
        out: Optional[Path] = typer.Option(None, "--out", help="Output folder (default: train.out in the config). "
                                           "An existing last.pt there is resumed."),
        threads: Optional[int] = typer.Option(None, "--threads", help="torch threads (default: train.threads)."),
        max_steps: Optional[int] = typer.Option(None, "--max-steps", help="Stop after this many steps in total."),
        device: Optional[str] = typer.Option(None, "--device", help="cpu, cuda or auto (default: train.device, "
                                             "else cpu)."),
        workers: Optional[int] = typer.Option(None, "--workers", min=0, help="Processes that build batches ahead "
                                              "(default: train.workers, else 0); the run is the same either way."),
    ) -> None:
        """Train the causal neural enhancer on on-the-fly mixtures; checkpoints (last.pt, best.pt) and
        log.csv (loss, validation WB-PESQ/STOI per epoch) go to the output folder. Ctrl-C stops cleanly."""
        try:
            from voxclean.enhance.neural.train import load_config, train
        except ModuleNotFoundError as exc:
            raise typer.BadParameter(f"training needs torch: pip install 'voxclean[neural]' ({exc})") from exc
        try:
            cfg = load_config(config)
        except (FileNotFoundError, ValueError) as exc:
            raise typer.BadParameter(str(exc)) from exc
        if device is not None:
            if device not in ("cpu", "auto") and not device.startswith("cuda"):
                raise typer.BadParameter(f"--device must be cpu, cuda[:N] or auto, not {device!r}")
            cfg["train"]["device"] = device
        if workers is not None:
            cfg["train"]["workers"] = workers
        last = {"t": 0}

        def progress(d: dict) -> None:
            if "epoch_done" in d:
                row = d["epoch_done"]
                val = (f"  val WB-PESQ {row['val_pesq_wb']:.3f} STOI {row['val_stoi']:.3f}"
                       if "val_pesq_wb" in row else "")
                console.print(f"epoch {row['epoch']} step {row['step']} loss {row['train_loss']:.4f} "
                              f"SI-SDR {row['train_si_sdr']:.2f} dB{val} ({row['minutes']:.1f} min)")
            elif d["step"] - last["t"] >= 50:
                last["t"] = d["step"]
                console.print(f"  step {d['step']}/{d['total']} loss {d['loss']:.4f} lr {d['lr']:.2e}",
                              highlight=False)

        try:
            folder = train(cfg, out=out, threads=threads, max_steps=max_steps, progress=progress)
        except RuntimeError as exc:
            if "train.device" not in str(exc):
                raise
            raise typer.BadParameter(str(exc)) from exc
        console.print(f"checkpoints and log.csv in {folder}")
