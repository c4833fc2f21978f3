"""`voxclean export --onnx FILE`: the neural enhancer as ONNX with explicit streaming state."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

from voxclean.enhance.neural.enhancer import DEFAULT_WEIGHTS

console = Console(stderr=True)


def register(app: typer.Typer) -> None:
    @app.command("export")
    def export_cmd(
        onnx: Path = typer.Option(..., "--onnx", help="Output .onnx file (inputs spec, h, hist; outputs enh, vad, "
                                  "h_out, hist_out)."),
        weights: str = typer.Option(DEFAULT_WEIGHTS, "--weights", help="Packaged weights name or a .pt checkpoint."),
        int8: Optional[Path] = typer.Option(None, "--int8", help="Also write an int8 dynamically quantised copy here."),
        overwrite: bool = typer.Option(False, "--overwrite", help="Replace existing output files."),
        check: bool = typer.Option(True, "--check/--no-check", help="Compare onnxruntime with PyTorch on 2 s of noise."),
    ) -> None:
        """Export the neural enhancer's network (STFT frames in, enhanced frames out, GRU and deep-filter
        state as explicit inputs/outputs) and check it against PyTorch frame by frame."""
        try:
            from voxclean.enhance.neural.enhancer import load_model
            from voxclean.enhance.neural.export import check_onnx, export_onnx, quantize_int8
        except ModuleNotFoundError as exc:
            raise typer.BadParameter(f"export needs torch and onnx: pip install 'voxclean[neural]' ({exc})") from exc
        for p in [onnx] + ([int8] if int8 else []):
            if p.exists() and not overwrite:
                raise typer.BadParameter(f"{p} exists; pass --overwrite to replace it")
        try:
            model = load_model(weights)
        except (FileNotFoundError, ValueError) as exc:
            raise typer.BadParameter(str(exc)) from exc
        export_onnx(model, onnx)
        console.print(f"wrote {onnx} ({onnx.stat().st_size / 1e6:.2f} MB)")
        import numpy as np
        x = (0.05 * np.random.default_rng(0).standard_normal(32000)).astype(np.float32)
        if check:
            d = check_onnx(model, onnx, x)
            console.print(f"onnxruntime vs PyTorch over {d['frames']} frames: max |diff| {d['max_abs_diff_spec']:.2e} "
                          f"(spectrum), {d['max_abs_diff_vad']:.2e} (VAD)")
        if int8:
            quantize_int8(onnx, int8)
            console.print(f"wrote {int8} ({int8.stat().st_size / 1e6:.2f} MB, int8 dynamic quantisation)")
            if check:
                d = check_onnx(model, int8, x)
                console.print(f"int8 vs PyTorch: max |diff| {d['max_abs_diff_spec']:.2e} (spectrum)")
