"""Systems under test: anything with a ``name`` and ``process(x, sr) -> y`` (same rate and length).

The probes (robustness, linearity, frequency response) treat every system as a black box ``y = f(x)``.
Adapters make codecs, enhancers, external commands and reference filters look alike:

=====================  ========================================================================
spec string            system
=====================  ========================================================================
``identity``           :class:`IdentitySystem`, ``f(x) = x``
``opus:12k``, ``gsm``  :class:`CodecSystem` over :func:`voxclean.codec.get_codec` (``voxclean codecs``)
``enhancer:wiener``    :class:`EnhancerSystem` over :mod:`voxclean.enhance` (a bare enhancer name works)
``cmd:mycodec {in} {out}``  :class:`CommandSystem`: an external program that reads ``{in}`` (a WAV at
                       ``{sr}`` Hz) and writes ``{out}`` (any format :func:`voxclean.audio.io.load` reads)
``lowpass:4k``         :class:`FilterSystem`, 8th-order Butterworth (``highpass:300`` likewise): a
                       known linear time-invariant reference
=====================  ========================================================================

Every adapter takes ``(samples,)`` or ``(channels, samples)`` float32 and returns the same shape.
Systems are plain picklable objects, so the probe runner can ship them to worker processes.
"""
from __future__ import annotations

import shlex
import subprocess
import tempfile
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np
from scipy.signal import butter, sosfilt, sosfreqz

from voxclean.audio.io import load, save
from voxclean.audio.resample import resample
from voxclean.codec.align import calibration_signal, estimate_lag, max_lag, shift


@runtime_checkable
class System(Protocol):
    name: str

    def process(self, x: np.ndarray, sr: int) -> np.ndarray:
        """``x`` ((samples,) or (channels, samples)) at ``sr`` -> same shape, same rate."""


class SystemFailed(RuntimeError):
    """A system under test failed on an input (the message names the system and the cause)."""


def _per_channel(fn, x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    if x.ndim == 1:
        return fn(x)
    return np.stack([fn(ch) for ch in x])


class IdentitySystem:
    """``f(x) = x``: the reference every probe should score as perfect."""
    name = "identity"

    def process(self, x: np.ndarray, sr: int) -> np.ndarray:
        return np.array(x, dtype=np.float32, copy=True)


class FilterSystem:
    """A causal Butterworth filter (``scipy.signal.butter`` + ``sosfilt``), designed at the rate it is
    run at: linear and time-invariant, so additivity and homogeneity hold to float precision, and its
    magnitude response ``|H(e^{j 2 pi f / sr})|`` is known exactly (:meth:`response_db`)."""

    def __init__(self, kind: str = "lowpass", cutoff_hz: float = 4000.0, order: int = 8):
        if kind not in ("lowpass", "highpass"):
            raise ValueError(f"filter kind must be 'lowpass' or 'highpass', not {kind!r}")
        self.kind, self.cutoff_hz, self.order = kind, float(cutoff_hz), int(order)
        self.name = f"{kind}:{self.cutoff_hz:g}"
        self.bitrate = None
        self.cache_key = f"butter:{kind}:{self.cutoff_hz!r}:{order}"

    def sos(self, sr: int) -> np.ndarray:
        if not 0 < self.cutoff_hz < sr / 2:
            raise ValueError(f"{self.name}: cutoff {self.cutoff_hz:g} Hz must lie between 0 and {sr / 2:g} Hz")
        return butter(self.order, self.cutoff_hz, btype=self.kind, fs=sr, output="sos")

    def response_db(self, freqs: np.ndarray, sr: int) -> np.ndarray:
        """The exact magnitude response in dB at ``freqs`` (Hz)."""
        _, h = sosfreqz(self.sos(sr), worN=np.asarray(freqs, dtype=np.float64), fs=sr)
        return 20 * np.log10(np.maximum(np.abs(h), 1e-12))

    def process(self, x: np.ndarray, sr: int) -> np.ndarray:
        sos = self.sos(sr)
        return _per_channel(lambda ch: sosfilt(sos, ch.astype(np.float64)).astype(np.float32), x)


class CodecSystem:
    """A codec round trip (:meth:`voxclean.codec.base.Codec.roundtrip`): same rate and length, delay
    removed. ``name`` is the codec's canonical name (``opus:12k``); ``bitrate`` its nominal bit/s."""

    def __init__(self, codec):
        self.codec = codec
        self.name = codec.name
        self.bitrate = getattr(codec, "bitrate", None)
        self.cache_key = codec.name

    def process(self, x: np.ndarray, sr: int) -> np.ndarray:
        mono = getattr(self.codec, "roundtrip_mono", None)
        if mono is not None:  # skips the bitrate measurement (one ffprobe call per signal)
            return _per_channel(lambda ch: mono(ch, sr, measure=False)[0], x)
        return np.asarray(self.codec.roundtrip(np.asarray(x, np.float32), sr)[0], dtype=np.float32)


class EnhancerSystem:
    """A voxclean enhancer through :func:`voxclean.enhance.apply.enhance_signal` (native-rate resampling,
    per-channel processing)."""

    def __init__(self, enhancer):
        self.enhancer = enhancer
        self.name = f"enhancer:{enhancer.name}"
        self.bitrate = None
        self.cache_key = self.name

    def process(self, x: np.ndarray, sr: int) -> np.ndarray:
        from voxclean.enhance.apply import enhance_signal
        return enhance_signal(self.enhancer, np.asarray(x, np.float32), sr)


class CommandSystem:
    """An external program as a system: ``template`` is a command line with ``{in}`` and ``{out}``
    (and optionally ``{sr}``) placeholders, split with :func:`shlex.split` (no shell).

    Per channel: ``x`` is written to ``{in}`` (WAV, ``subtype``, at ``sr``), the command runs, ``{out}``
    is read back (any format, any rate: resampled to ``sr``; several channels are averaged), and its
    delay is removed. ``align="fixed"`` (default) measures the delay once per rate on
    :func:`voxclean.codec.align.calibration_signal` (cross-correlation within ``max_delay_ms``) and
    applies it to every input, keeping the system time-invariant; ``"xcorr"`` aligns each output on its
    own input; ``"none"`` keeps the output's timing. The result is trimmed or zero-padded to ``len(x)``.
    """

    def __init__(self, template: str, align: str = "fixed", max_delay_ms: float = 100.0,
                 subtype: str = "PCM_16", timeout_s: float = 600.0, name: str | None = None):
        tokens = shlex.split(template)
        joined = " ".join(tokens)
        if not tokens or "{in}" not in joined or "{out}" not in joined:
            raise ValueError(f"command {template!r} must name its input and output as {{in}} and {{out}}, "
                             "e.g. 'mycodec {in} {out}'")
        if align not in ("fixed", "xcorr", "none"):
            raise ValueError(f"align must be 'fixed', 'xcorr' or 'none', not {align!r}")
        self.template = template
        self.name = name or f"cmd:{template}"
        self.align = align
        self.max_delay_ms = max_delay_ms
        self.subtype = subtype
        self.timeout_s = timeout_s
        self.bitrate = None
        self.cache_key = f"{template}|{align}|{subtype}"
        self._delays: dict[int, int] = {}

    def _run_raw(self, x: np.ndarray, sr: int) -> np.ndarray:
        with tempfile.TemporaryDirectory(prefix="voxclean-cmd-") as tmp:
            src, dst = Path(tmp) / "in.wav", Path(tmp) / "out.wav"
            save(src, x, sr, subtype=self.subtype)
            args = [t.replace("{in}", str(src)).replace("{out}", str(dst)).replace("{sr}", str(sr))
                    for t in shlex.split(self.template)]
            try:
                proc = subprocess.run(args, capture_output=True, stdin=subprocess.DEVNULL, timeout=self.timeout_s)
            except FileNotFoundError as exc:
                raise SystemFailed(f"{self.name}: program {args[0]!r} not found") from exc
            except subprocess.TimeoutExpired as exc:
                raise SystemFailed(f"{self.name}: no result after {self.timeout_s:g} s") from exc
            if proc.returncode != 0:
                tail = proc.stderr.decode(errors="replace").strip().splitlines()[-1:] or [""]
                raise SystemFailed(f"{self.name}: exit status {proc.returncode} {tail[0]}".rstrip())
            if not dst.exists():
                raise SystemFailed(f"{self.name}: the command did not write its output {{out}}")
            y, out_sr = load(dst, channels="downmix", allow_silent=True)
        return resample(y, out_sr, sr)

    def delay(self, sr: int) -> int:
        """Delay in samples at ``sr``, measured once on the calibration signal."""
        if sr not in self._delays:
            cal = calibration_signal(int(sr))
            self._delays[sr] = estimate_lag(cal, self._run_raw(cal, sr), max_lag(sr, self.max_delay_ms))
        return self._delays[sr]

    def _mono(self, x: np.ndarray, sr: int) -> np.ndarray:
        y = self._run_raw(x, sr)
        if self.align == "fixed":
            lag = self.delay(sr)
        elif self.align == "xcorr":
            lag = estimate_lag(x, y, max_lag(sr, self.max_delay_ms))
        else:
            lag = 0
        return shift(y, lag, len(x)).astype(np.float32)

    def process(self, x: np.ndarray, sr: int) -> np.ndarray:
        return _per_channel(lambda ch: self._mono(ch, sr), x)


def resolve_system(spec: str) -> System:
    """A system from its spec string (table in the module docstring)."""
    if not isinstance(spec, str):
        return spec
    text = spec.strip()
    head, _, rest = text.partition(":")
    head = head.strip().lower()
    if text.lower() == "identity":
        return IdentitySystem()
    if head == "cmd":
        return CommandSystem(rest.strip())
    if head in ("lowpass", "highpass"):
        from voxclean.codec.base import parse_bitrate  # "4k" -> 4000: same number syntax as bit rates
        try:
            cutoff = parse_bitrate(rest)
        except ValueError as exc:
            raise ValueError(f"system {spec!r}: cutoff must be a frequency in Hz such as 4000 or 4k") from exc
        return FilterSystem(head, cutoff)
    from voxclean.enhance import ENHANCERS
    if head in ("enhancer", "enhance"):
        try:
            return EnhancerSystem(ENHANCERS.get(rest.strip()))
        except KeyError as exc:
            raise KeyError(f"system {spec!r}: {exc.args[0]}") from exc
    from voxclean.codec.base import CODECS, get_codec, split_name
    if split_name(text)[0] in CODECS:
        return CodecSystem(get_codec(text))
    if text in ENHANCERS:
        return EnhancerSystem(ENHANCERS.get(text))
    raise KeyError(f"unknown system {spec!r}: expected identity, a codec ({', '.join(CODECS.names())}; "
                   f"e.g. opus:12k), an enhancer ({', '.join(ENHANCERS.names())}; e.g. enhancer:wiener), "
                   "cmd:'prog {in} {out}', or lowpass:4k / highpass:300")
