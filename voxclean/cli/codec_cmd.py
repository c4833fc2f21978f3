"""``voxclean codecs`` (list), ``voxclean codec`` (round-trip a file), and the two codec probes
``voxclean linearity`` and ``voxclean freqresp`` (seed 003 Secs. 5 and 6)."""
from __future__ import annotations

import math
from pathlib import Path
from typing import List, Optional

import typer


def _fmt(v, digits: int = 1) -> str:
    return "-" if v is None or not math.isfinite(float(v)) else f"{float(v):.{digits}f}"


def _floats(text: str, what: str) -> list[float]:
    """``"-30,-12,-3"`` or ``"-30:6:3"`` (start:stop:step, stop included)."""
    try:
        if ":" in text:
            a, b, step = (float(v) for v in text.split(":"))
            n = int(math.floor((b - a) / step + 1e-9)) + 1
            return [a + i * step for i in range(n)]
        return [float(v) for v in text.split(",") if v.strip()]
    except ValueError as exc:
        raise typer.BadParameter(f"{what}: expected numbers like -30,-12,-3 or -30:6:3, got {text!r}") from exc


def _systems(specs: list[str], cmds: list[str]) -> list:
    from voxclean.probe.systems import resolve_system
    out = []
    for spec in [*specs, *(f"cmd:{c}" for c in cmds)]:
        try:
            out.append(resolve_system(spec))
        except (KeyError, ValueError) as exc:
            raise typer.BadParameter(str(exc.args[0] if exc.args else exc)) from exc
    if not out:
        raise typer.BadParameter("name at least one system (e.g. opus:12k, gsm, enhancer:wiener, identity) "
                                 "or give --cmd 'prog {in} {out}'")
    return out


def _signals(paths: list[Path], sr: int, n: int, seconds: float, what: str) -> list:
    from voxclean.audio.io import find_audio, load
    files = [f for p in paths for f in find_audio(p)] if paths else []
    if paths and not files:
        raise typer.BadParameter(f"{what}: no audio files in {', '.join(map(str, paths))}")
    out = []
    for f in files:
        if len(out) == n:
            break
        x, _ = load(f, sr=sr, channels="downmix")
        x = x[: int(seconds * sr)]
        if float(abs(x).max(initial=0.0)) < 1e-4:    # silent in its first `seconds`: useless for the probe
            typer.echo(f"skipping {f}: silent (below -80 dBFS) in its first {seconds:g} s", err=True)
            continue
        out.append(x)
    return out


def register(app: typer.Typer) -> None:
    @app.command("codecs")
    def codecs_cmd(
        measure: bool = typer.Option(False, "--measure", help="round-trip a 4 s speech-like test signal through "
                                                              "each named codec: measured bit rate and delay"),
        sr: int = typer.Option(16000, "--sr", help="input sample rate for --measure"),
    ) -> None:
        """List the codecs (families, the names to use, rates, availability on this machine)."""
        from rich.console import Console
        from rich.table import Table

        from voxclean.codec import get_codec
        from voxclean.codec.align import calibration_signal
        from voxclean.codec.ffmpeg import SPECS, unavailable_reason

        console = Console()
        table = Table(title="codecs: name = family[:bitrate]")
        for col in ("name", "rate Hz", "kbit/s", *(("measured", "delay ms") if measure else ()), "here", "what"):
            table.add_column(col)
        x = calibration_signal(sr, seconds=4.0) if measure else None
        missing = {}
        for fam, spec in SPECS.items():
            why = unavailable_reason(fam)
            if why:
                missing[fam] = why
            rates = ("8k-48k" if len(spec.rates) > 5 else
                     "/".join(f"{r / 1000:g}" for r in spec.rates) + "k")
            for name in spec.presets:
                codec = get_codec(name)
                row = [name, rates, f"{codec.bitrate / 1000:g}"]
                if measure:
                    if why:
                        row += ["-", "-"]
                    else:
                        _, bps = codec.roundtrip(x, sr)
                        row += [f"{bps / 1000:.2f}", f"{1000 * codec.delay(sr) / sr:.2f}"]
                row += ["[green]yes[/green]" if why is None else "[red]no[/red]", spec.summary]
                table.add_row(*row)
        console.print(table)
        for fam, why in missing.items():
            console.print(f"[red]{fam} unavailable:[/red] {why}")
        console.print("Any bit rate works for opus, mp3, aac, vorbis and speex (e.g. opus:10k); codec2, g726 and "
                      "amr-nb snap to their modes. Delay is removed from every round trip.")

    @app.command("codec")
    def codec_cmd(
        name: str = typer.Argument(..., help="codec name, e.g. opus:12k (see `voxclean codecs`)"),
        src: Path = typer.Argument(..., help="input audio file"),
        dst: Path = typer.Argument(..., help="output file (.wav or .flac): decoded audio, same rate and length"),
        overwrite: bool = typer.Option(False, "--overwrite", help="replace the output if it exists"),
    ) -> None:
        """Encode a file with a codec and decode it back (every channel); print the measured bit rate."""
        from voxclean.audio.io import AudioError, load, save
        from voxclean.codec import CodecError, CodecUnavailable, get_codec

        if dst.exists() and src.exists() and dst.resolve() == src.resolve():
            raise typer.BadParameter(f"{dst}: the output would overwrite the input; choose another output")
        if dst.exists() and not overwrite:
            raise typer.BadParameter(f"{dst}: exists; pass --overwrite to replace it")
        try:
            codec = get_codec(name)
            x, sr = load(src)
            y, bps = codec.roundtrip(x, sr)
        except (KeyError, ValueError, AudioError, CodecError, CodecUnavailable) as exc:
            typer.echo(f"error: {exc.args[0] if exc.args else exc}", err=True)
            raise typer.Exit(1)
        save(dst, y, sr, subtype="FLOAT" if dst.suffix.lower() == ".wav" else "PCM_24", overwrite=True)
        typer.echo(f"{src} -> {dst}: {codec.name}, {bps / 1000:.2f} kbit/s measured "
                   f"({x.shape[-1] / sr:.2f} s at {sr} Hz)")

    @app.command("linearity")
    def linearity_cmd(
        systems: Optional[List[str]] = typer.Argument(None, help="systems: codec names (opus:6k ...), "
                                                                "enhancer:NAME, identity, lowpass:4k"),
        speech: List[Path] = typer.Option(..., "--speech", help="speech file or folder (repeatable)"),
        noise: Optional[List[Path]] = typer.Option(None, "--noise", help="noise file or folder (repeatable)"),
        cmd: Optional[List[str]] = typer.Option(None, "--cmd", help="external system, e.g. 'mycodec {in} {out}' "
                                                                  "(repeatable)"),
        out: Path = typer.Option(Path("linearity"), "--out", help="output folder: linearity.json, linearity.png"),
        sr: int = typer.Option(16000, "--sr", help="sample rate the probe runs at"),
        n: int = typer.Option(4, "--n", help="number of speech (and noise) files used"),
        seconds: float = typer.Option(4.0, "--seconds", help="each signal cut to this length"),
        gains: str = typer.Option("-30:6:3", "--gains", help="homogeneity gains in dB: list or start:stop:step"),
        snr: float = typer.Option(0.0, "--snr", help="power of the first signal of each additivity pair over the "
                                                     "second, dB"),
    ) -> None:
        """Additivity f(x+y) vs f(x)+f(y) (speech+speech, speech+noise) and homogeneity f(ax) vs a f(x),
        as signal-to-error ratios in dB (seed 003 Sec. 5)."""
        from rich.console import Console
        from rich.table import Table

        from voxclean.probe import linearity

        console = Console()
        systems_ = _systems(list(systems or []), list(cmd or []))
        sp = _signals(list(speech), sr, n, seconds, "--speech")
        nz = _signals(list(noise or []), sr, n, seconds, "--noise")
        g = _floats(gains, "--gains")
        res = linearity.probe(systems_, sp, sr, nz, gains_db=g, snr_db=snr,
                              progress=lambda name: console.print(f"[dim]probing {name}[/dim]"))
        linearity.write_json(res, out / "linearity.json")
        linearity.plot_linearity(res, out / "linearity.png")
        table = Table(title=f"linearity at {sr} Hz, dB (higher = more linear; capped at {linearity.MAX_DB:g})")
        for col in ("system", "additivity speech+speech", "additivity speech+noise",
                    f"homogeneity at {g[0]:g} dB", f"at {g[-1]:g} dB", "worst gain error"):
            table.add_column(col)
        for r in res["systems"]:
            worst = max(r["gain_error_db"], key=lambda v: abs(v) if math.isfinite(v) else -1)
            table.add_row(r["system"], _fmt(r["additivity_speech_db"]), _fmt(r["additivity_noise_db"]),
                          _fmt(r["homogeneity_db"][0]), _fmt(r["homogeneity_db"][-1]), _fmt(worst, 2))
        console.print(table)
        console.print(f"wrote {out / 'linearity.json'} and {out / 'linearity.png'}")

    @app.command("freqresp")
    def freqresp_cmd(
        systems: Optional[List[str]] = typer.Argument(None, help="systems: codec names, enhancer:NAME, identity, "
                                                                "lowpass:4k"),
        cmd: Optional[List[str]] = typer.Option(None, "--cmd", help="external system, e.g. 'mycodec {in} {out}'"),
        out: Path = typer.Option(Path("freqresp"), "--out", help="output folder: freqresp.json, freqresp.png"),
        sr: int = typer.Option(16000, "--sr", help="sample rate: the sweep runs from 20 Hz to sr/2"),
        levels: str = typer.Option("-30,-12,-3", "--levels", help="sweep peak levels in dBFS (write --levels=-30,-12)"),
        seconds: float = typer.Option(2.0, "--seconds", help="sweep duration"),
    ) -> None:
        """Exponential sine sweep (Farina): magnitude response and harmonic distortion, 20 Hz to Nyquist
        (seed 003 Sec. 6)."""
        from rich.console import Console
        from rich.table import Table

        from voxclean.probe import freqresp
        from voxclean.probe.linearity import write_json

        console = Console()
        systems_ = _systems(list(systems or []), list(cmd or []))
        lv = _floats(levels, "--levels")
        results = []
        for s in systems_:
            console.print(f"[dim]sweeping {s.name}[/dim]")
            results.append(freqresp.measure(s, sr, levels_dbfs=lv, seconds=seconds))
        write_json(results, out / "freqresp.json")
        freqresp.plot_freqresp(results, out / "freqresp.png")
        table = Table(title=f"frequency response at {sr} Hz (sweep 20 Hz - {sr // 2} Hz)")
        for col in ("system", "level dBFS", "gain at 1 kHz dB", "min..max 100 Hz-3.4 kHz dB",
                    "upper edge (-10 dB) Hz", "THD at 1 kHz dB"):
            table.add_column(col)
        for r in results:
            f = r["freqs"]
            i1k = min(range(len(f)), key=lambda i: abs(f[i] - 1000))
            band = [i for i, v in enumerate(f) if 100 <= v <= 3400]
            for lvl in r["levels"]:
                m = lvl["magnitude_db"]
                table.add_row(r["system"], f"{lvl['level_dbfs']:g}", _fmt(m[i1k], 2),
                              f"{min(m[i] for i in band):.1f}..{max(m[i] for i in band):.1f}",
                              _fmt(lvl["upper_edge_hz"], 0), _fmt(lvl["thd_db"][i1k]))
        console.print(table)
        console.print(f"wrote {out / 'freqresp.json'} and {out / 'freqresp.png'}")
