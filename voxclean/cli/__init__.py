"""The ``voxclean`` command: a thin layer over the Python API.

Each sub-module adds its commands to :data:`app` through a ``register(app)`` function; the modules
are listed in :data:`COMMAND_MODULES` so a newcomer sees every command in one place.
"""
from __future__ import annotations

import importlib

import typer

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="voxclean: clean degraded speech and measure how speech systems survive damage.")

COMMAND_MODULES = [
    "voxclean.cli.enhance_cmd",   # enhance, methods
    "voxclean.cli.degrade_cmd",   # degrade, mix
    "voxclean.cli.eval_cmd",      # eval
    "voxclean.cli.bench_cmd",     # bench
    "voxclean.cli.demo_cmd",      # demo
    "voxclean.cli.vad_cmd",       # vad
    "voxclean.cli.codec_cmd",     # codecs
    "voxclean.cli.probe_cmd",     # probe
    "voxclean.cli.train_cmd",     # train (neural enhancers)
    "voxclean.cli.export_cmd",    # export (ONNX)
]

for _mod in COMMAND_MODULES:
    try:
        importlib.import_module(_mod).register(app)
    except ModuleNotFoundError as exc:  # a command module not written yet must not break the others
        if exc.name != _mod:
            raise


def main() -> None:
    app()
