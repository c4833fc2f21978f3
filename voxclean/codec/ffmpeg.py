"""Classical codecs through ffmpeg (and sox for AMR-NB): the one home of encode/decode round trips.

Every codec here runs offline on this machine's tools; each is checked against ``ffmpeg -encoders``
(``sox -h`` for AMR-NB) and an unavailable one raises :class:`CodecUnavailable` saying what is missing.

Family   tool/encoder          codec rate (Hz)      bit rates (b/s)                          names
-------  --------------------  -------------------  ---------------------------------------  -----------------
opus     ffmpeg libopus, voip  8/12/16/24/48 k      any (6k..510k), VBR                       opus:6k .. opus:32k
mp3      ffmpeg libmp3lame     8 .. 48 k            8k..320k, CBR                             mp3:32k
aac      ffmpeg aac (native)   8 .. 48 k            any, ABR                                  aac:32k
vorbis   ffmpeg libvorbis      8 .. 48 k            ABR (libvorbis refuses very low rates)    vorbis:32k
speex    ffmpeg libspeex       8/16/32 k            CBR modes (nearest chosen by libspeex)    speex:8k
codec2   ffmpeg libcodec2      8 k                  3200 2400 1600 1400 1300 1200 700(C)      codec2:3200
gsm      ffmpeg libgsm         8 k                  13k (GSM 06.10 full rate)                 gsm
g722     ffmpeg g722 (ADPCM)   16 k                 64k                                       g722
g726     ffmpeg g726 (ADPCM)   8 k                  16k 24k 32k 40k                           g726:32k
mulaw    ffmpeg pcm_mulaw      8 k                  64k (G.711 mu-law)                        mulaw
alaw     ffmpeg pcm_alaw       8 k                  64k (G.711 A-law)                         alaw
amr-nb   sox amr-nb            8 k                  4.75k..12.2k (modes 0-7)                  amr-nb:12.2k

Round trip of one channel ``x`` at ``sr``:
  1. resample (soxr VHQ, linear phase) to the codec rate: ``sr`` itself when supported, else the lowest
     supported rate above it, else the highest (8 kHz for narrow-band codecs);
  2. clip to [-1, 1] and write a float WAV; encode to a file (the payload bytes);
  3. decode to float32 (opus: at 48 kHz, its decoder's rate) and resample back to ``sr`` with soxr;
  4. remove the codec delay: a lag fixed per (codec, sr), measured once by cross-correlation on
     :func:`voxclean.codec.align.calibration_signal` within +-100 ms (or per signal, ``align="xcorr"``);
     trim or zero-pad to ``len(x)``.
     Codec 2 is a vocoder: its output keeps no waveform phase, so cross-correlation lags on speech scatter
     over 5-30 ms. Its delay is a constant instead: the median lag that best lines up the 2.5 ms
     log-energy envelopes over the 50 LibriSpeech test-other utterances of shared/data, 20 ms for modes
     3200..1200 (160 samples at 8 kHz; 10-90 % of utterances 15.5-23 ms) and 31 ms for 700C.
Measured bitrate = 8 * (sum of packet sizes reported by ffprobe, container headers excluded) / duration.
"""
from __future__ import annotations

import functools
import json
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

from voxclean.audio.resample import resample
from voxclean.codec.align import calibration_signal, estimate_lag, fit_length, max_lag, shift
from voxclean.codec.base import (CODECS, CodecError, CodecUnavailable, format_bitrate, parse_bitrate,
                                 split_name)

_WIDE = (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000)
ALIGN_MODES = ("fixed", "xcorr", "none")


@dataclass(frozen=True)
class CodecSpec:
    family: str
    tool: str                       # "ffmpeg" or "sox"
    encoder: str                    # ffmpeg encoder name, or sox file type
    fmt: str                        # ffmpeg muxer / sox type
    ext: str
    rates: tuple[int, ...]          # sample rates the encoder accepts
    default_bitrate: int
    bitrates: tuple[int, ...] | None = None  # discrete modes (snapped to the nearest); None: any
    fixed: bool = False             # the codec sets its own bit rate
    cbr: bool = True                # measured rate should track the nominal one closely
    encode_args: tuple[str, ...] = ()
    decoder_rate: int | None = None  # rate the decoder outputs, if not the codec rate (opus: 48000)
    probe_fmt: str | None = None     # ffprobe demuxer, when the extension is not enough
    delay_ms: dict[int, float] | None = field(default=None, hash=False)  # fixed delay per bit rate (0: others)
    presets: tuple[str, ...] = ()
    summary: str = ""


SPECS: dict[str, CodecSpec] = {s.family: s for s in [
    CodecSpec("opus", "ffmpeg", "libopus", "ogg", "ogg", (8000, 12000, 16000, 24000, 48000), 16000, cbr=False,
              encode_args=("-application", "voip"), decoder_rate=48000,
              presets=("opus:6k", "opus:8k", "opus:12k", "opus:16k", "opus:24k", "opus:32k"),
              summary="Opus (libopus, voice mode, VBR), 6-510 kbit/s"),
    CodecSpec("mp3", "ffmpeg", "libmp3lame", "mp3", "mp3", _WIDE, 32000, presets=("mp3:32k", "mp3:64k"),
              summary="MP3 (LAME, CBR)"),
    CodecSpec("aac", "ffmpeg", "aac", "mp4", "m4a", _WIDE, 32000, cbr=False, presets=("aac:32k",),
              summary="AAC-LC (ffmpeg native encoder, ABR)"),
    CodecSpec("vorbis", "ffmpeg", "libvorbis", "ogg", "ogg", (8000, 11025, 16000, 22050, 32000, 44100, 48000),
              32000, cbr=False, presets=("vorbis:32k",), summary="Vorbis (libvorbis, ABR)"),
    CodecSpec("speex", "ffmpeg", "libspeex", "ogg", "spx", (8000, 16000, 32000), 8000,
              presets=("speex:8k",), summary="Speex (CELP, CBR modes: libspeex takes the highest mode not above "
                                              "the request; narrow/wide/ultra-wide band)"),
    CodecSpec("codec2", "ffmpeg", "libcodec2", "codec2", "c2", (8000,), 3200,
              bitrates=(3200, 2400, 1600, 1400, 1300, 1200, 700), presets=("codec2:3200", "codec2:1600"),
              delay_ms={700: 31.0, 0: 20.0},
              summary="Codec 2 (sinusoidal vocoder, 8 kHz)"),
    CodecSpec("gsm", "ffmpeg", "libgsm", "gsm", "gsm", (8000,), 13200, fixed=True, presets=("gsm",),
              summary="GSM 06.10 full rate (RPE-LTP, 13.2 kbit/s, 8 kHz)"),
    CodecSpec("g722", "ffmpeg", "g722", "g722", "g722", (16000,), 64000, fixed=True, presets=("g722",),
              summary="G.722 (sub-band ADPCM, 64 kbit/s, 16 kHz)"),
    CodecSpec("g726", "ffmpeg", "g726", "wav", "wav", (8000,), 32000, bitrates=(16000, 24000, 32000, 40000),
              presets=("g726:32k", "g726:16k"), summary="G.726 (ADPCM, 16-40 kbit/s, 8 kHz)"),
    CodecSpec("mulaw", "ffmpeg", "pcm_mulaw", "wav", "wav", (8000,), 64000, fixed=True, presets=("mulaw",),
              summary="G.711 mu-law (64 kbit/s, 8 kHz)"),
    CodecSpec("alaw", "ffmpeg", "pcm_alaw", "wav", "wav", (8000,), 64000, fixed=True, presets=("alaw",),
              summary="G.711 A-law (64 kbit/s, 8 kHz)"),
    CodecSpec("amr-nb", "sox", "amr-nb", "amr-nb", "amr", (8000,), 12200,
              bitrates=(4750, 5150, 5900, 6700, 7400, 7950, 10200, 12200), probe_fmt="amr",
              presets=("amr-nb:12.2k", "amr-nb:4.75k"), summary="AMR-NB (ACELP, 4.75-12.2 kbit/s, 8 kHz; via sox)"),
]}


# ---------------------------------------------------------------------------------------------------------
# availability


@functools.lru_cache(maxsize=1)
def _ffmpeg_encoders() -> frozenset[str]:
    if shutil.which("ffmpeg") is None:
        return frozenset()
    out = subprocess.run(["ffmpeg", "-hide_banner", "-encoders"], capture_output=True, text=True).stdout
    names = set()
    for line in out.splitlines():
        parts = line.split()
        if len(parts) >= 2 and len(parts[0]) == 6 and parts[0][0] == "A":
            names.add(parts[1])
    return frozenset(names)


@functools.lru_cache(maxsize=1)
def _sox_formats() -> frozenset[str]:
    if shutil.which("sox") is None:
        return frozenset()
    out = subprocess.run(["sox", "-h"], capture_output=True, text=True).stdout
    for line in out.splitlines():
        if line.startswith("AUDIO FILE FORMATS:"):
            return frozenset(line.split(":", 1)[1].split())
    return frozenset()


def canonical(name: str) -> str:
    """Family of a codec name or alias: ``"Opus:12k"`` -> ``"opus"``, ``"mu-law"`` -> ``"mulaw"``."""
    family, _ = split_name(name)
    if family not in SPECS:
        raise ValueError(f"codec: unknown codec {name!r}; known: {', '.join(SPECS)}")
    return family


def unavailable_reason(name: str) -> str | None:
    """None if the codec works here, else why not (and what to install)."""
    spec = SPECS[canonical(name)]
    if spec.tool == "sox":
        if shutil.which("sox") is None:
            return "sox is not installed (apt-get install sox libsox-fmt-all)"
        if spec.encoder not in _sox_formats():
            return f"this sox build lacks the {spec.encoder} format (apt-get install libsox-fmt-all)"
    if shutil.which("ffmpeg") is None or shutil.which("ffprobe") is None:
        return "ffmpeg is not installed (apt-get install ffmpeg)"
    if spec.tool == "ffmpeg" and spec.encoder not in _ffmpeg_encoders():
        return f"this ffmpeg build lacks the {spec.encoder} encoder (see `ffmpeg -encoders`)"
    return None


def available_codecs() -> list[str]:
    return [c for c in SPECS if unavailable_reason(c) is None]


def check_available(name: str) -> CodecSpec:
    family = canonical(name)
    why = unavailable_reason(family)
    if why:
        raise CodecUnavailable(f"codec {family!r} is unavailable: {why}; available here: "
                               f"{', '.join(available_codecs()) or 'none'}")
    return SPECS[family]


def codec_rate(spec: CodecSpec, sr: int) -> int:
    """``sr`` if the codec takes it, else the lowest supported rate above it, else the highest."""
    if sr in spec.rates:
        return sr
    above = [r for r in spec.rates if r > sr]
    return min(above) if above else max(spec.rates)


def effective_bitrate(spec: CodecSpec, bitrate: Any = None) -> int:
    """The bit rate the encoder will be asked for: the default for ``None`` and fixed-rate codecs,
    discrete modes snapped to the nearest (``"700C"`` is Codec 2's 700 mode)."""
    if spec.fixed or bitrate is None:
        return spec.default_bitrate
    if isinstance(bitrate, str) and bitrate.strip().upper().endswith("C"):
        bitrate = bitrate.strip()[:-1]
    b = parse_bitrate(bitrate)
    if spec.bitrates:
        b = min(spec.bitrates, key=lambda r: (abs(r - b), r))
    return b


# ---------------------------------------------------------------------------------------------------------
# the tools


def _run(cmd: list[str], what: str) -> bytes:
    proc = subprocess.run(cmd, capture_output=True, stdin=subprocess.DEVNULL)
    if proc.returncode != 0:
        msg = proc.stderr.decode(errors="replace").strip().splitlines()
        raise CodecError(f"{what} failed: {msg[-1] if msg else 'exit status %d' % proc.returncode}")
    return proc.stdout


def _rate_args(spec: CodecSpec, bitrate: int) -> list[str]:
    if spec.family == "codec2":
        return ["-mode", "700C" if bitrate == 700 else str(bitrate)]
    if spec.fixed:
        return []
    return ["-b:a", str(bitrate)]


def encode_bytes(x: np.ndarray, rate: int, spec: CodecSpec, bitrate: int,
                 encode_args: tuple[str, ...] | None = None) -> bytes:
    """Mono float32 at the codec ``rate`` -> the encoded file's bytes. ``encode_args`` replaces the
    family's extra encoder options (opus: ``-application voip``)."""
    extra = spec.encode_args if encode_args is None else tuple(encode_args)
    with tempfile.TemporaryDirectory(prefix="voxclean-codec-") as tmp:
        src, enc = Path(tmp) / "in.wav", Path(tmp) / f"enc.{spec.ext}"
        sf.write(src, np.clip(np.asarray(x, np.float32), -1.0, 1.0), rate, subtype="FLOAT")
        what = f"{spec.family} encoder ({spec.tool} {spec.encoder}, {bitrate} b/s at {rate} Hz)"
        if spec.tool == "sox":
            mode = spec.bitrates.index(bitrate)
            _run(["sox", "-V1", "-D", "-R", str(src), "-C", str(mode), "-t", spec.fmt, str(enc)], what)  # no dither
        else:
            _run(["ffmpeg", "-v", "error", "-nostdin", "-y", "-i", str(src), "-map_metadata", "-1", "-ac", "1",
                  "-c:a", spec.encoder, *_rate_args(spec, bitrate), *extra,
                  "-fflags", "+bitexact", "-flags:a", "+bitexact", "-f", spec.fmt, str(enc)], what)
        return enc.read_bytes()


def decode_bytes(payload: bytes, rate: int, spec: CodecSpec) -> np.ndarray:
    """Encoded file bytes -> mono float32 at ``rate`` (raw decoder output: delay not removed)."""
    if not payload:
        raise CodecError(f"{spec.family} decoder: empty payload")
    out_rate = spec.decoder_rate or rate
    with tempfile.TemporaryDirectory(prefix="voxclean-codec-") as tmp:
        enc = Path(tmp) / f"enc.{spec.ext}"
        enc.write_bytes(payload)
        if spec.tool == "sox":
            raw = _run(["sox", "-V1", "-D", "-R", "-t", spec.fmt, str(enc), "-t", "raw", "-e", "floating-point",
                        "-b", "32", "-c", "1", "-r", str(out_rate), "-L", "-"], f"{spec.family} decoder (sox)")
        else:
            raw = _run(["ffmpeg", "-v", "error", "-nostdin", "-i", str(enc), "-ac", "1", "-ar", str(out_rate),
                        "-f", "f32le", "-"], f"{spec.family} decoder (ffmpeg)")
    y = np.frombuffer(raw, dtype="<f4").astype(np.float32)
    if y.size == 0:
        raise CodecError(f"{spec.family} decoder returned no samples")
    return resample(y, out_rate, rate)


def packet_bytes(payload: bytes, spec: CodecSpec) -> int:
    """Sum of the codec packet sizes in an encoded file (ffprobe), container headers excluded."""
    with tempfile.TemporaryDirectory(prefix="voxclean-codec-") as tmp:
        enc = Path(tmp) / f"enc.{spec.ext}"
        enc.write_bytes(payload)
        fmt = ["-f", spec.probe_fmt] if spec.probe_fmt else []
        out = _run(["ffprobe", "-v", "error", *fmt, "-select_streams", "a:0", "-show_entries", "packet=size",
                    "-of", "json", str(enc)], f"ffprobe on {spec.family} payload")
    packets = json.loads(out or b"{}").get("packets", [])
    return int(sum(int(p.get("size", 0)) for p in packets))


# ---------------------------------------------------------------------------------------------------------
# the Codec


_DELAYS: dict[tuple[str, int], int] = {}


class FfmpegCodec:
    """One codec at one bit rate (see the module docstring); satisfies :class:`voxclean.codec.base.Codec`.

    ``align``: ``"fixed"`` (default: the codec's delay at this rate, measured once on the calibration
    signal), ``"xcorr"`` (per signal, eq. 1 of :mod:`voxclean.codec.align`) or ``"none"``.
    ``encode_args``: replaces the family's extra encoder options (e.g. ``()`` for libopus's default
    ``audio`` application instead of ``voip``); the name then gets a ``+custom`` suffix.
    """

    def __init__(self, family: str, bitrate: Any = None, align: str = "fixed",
                 max_delay_ms: float = 100.0, encode_args: tuple[str, ...] | None = None):
        if align not in ALIGN_MODES:
            raise ValueError(f"align must be one of {ALIGN_MODES}, not {align!r}")
        self.spec = SPECS[canonical(family)]
        self.family = self.spec.family
        self.bitrate = effective_bitrate(self.spec, bitrate)
        if self.spec.fixed:
            self.name = self.family
        elif self.family == "codec2":   # Codec 2 modes are named by their bit rate: 3200, 1600, 700C
            self.name = f"codec2:{'700C' if self.bitrate == 700 else self.bitrate}"
        else:
            self.name = f"{self.family}:{format_bitrate(self.bitrate)}"
        self.sample_rate = self.spec.rates[0] if len(self.spec.rates) == 1 else None
        self.align = align
        self.max_delay_ms = max_delay_ms
        self.encode_args = None if encode_args is None else tuple(encode_args)
        if self.encode_args is not None and self.encode_args != self.spec.encode_args:
            self.name += "+custom"

    def __repr__(self) -> str:
        return f"<codec {self.name}>"

    def unavailable_reason(self) -> str | None:
        return unavailable_reason(self.family)

    def codec_rate(self, sr: int) -> int:
        return codec_rate(self.spec, sr)

    def _check(self) -> None:
        check_available(self.family)

    def encode(self, x: np.ndarray, sr: int) -> bytes:
        self._check()
        x = np.asarray(x, dtype=np.float32)
        if x.ndim != 1:
            raise ValueError(f"{self.name}: encode takes mono (samples,), got shape {x.shape}")
        rate = self.codec_rate(sr)
        return encode_bytes(resample(x, sr, rate), rate, self.spec, self.bitrate, self.encode_args)

    def _decode_raw(self, payload: bytes, sr: int) -> np.ndarray:
        rate = self.codec_rate(sr)
        return resample(decode_bytes(payload, rate, self.spec), rate, sr)

    def delay(self, sr: int) -> int:
        """The codec's delay in samples at ``sr`` (round trip of the calibration signal, eq. 1 of
        :mod:`voxclean.codec.align`); measured once per (codec, rate)."""
        if self.spec.delay_ms:
            ms = self.spec.delay_ms.get(self.bitrate, self.spec.delay_ms.get(0, 0.0))
            return int(round(ms * sr / 1000.0))
        key = (self.name, int(sr))
        if key not in _DELAYS:
            cal = calibration_signal(int(sr))
            y = self._decode_raw(self.encode(cal, sr), sr)
            _DELAYS[key] = estimate_lag(cal, y, max_lag(sr, self.max_delay_ms))
        return _DELAYS[key]

    def decode(self, payload: bytes, sr: int, n_samples: int) -> np.ndarray:
        """Aligned with the encoder input by the codec's fixed delay (``align="none"``: raw)."""
        y = self._decode_raw(payload, sr)
        lag = self.delay(sr) if self.align == "fixed" else 0
        return shift(y, lag, n_samples).astype(np.float32)

    def payload_bits(self, payload: bytes) -> int:
        return 8 * packet_bytes(payload, self.spec)

    def roundtrip_mono(self, x: np.ndarray, sr: int, measure: bool = True) -> tuple[np.ndarray, float, int]:
        """(decoded, measured bit/s (nan unless ``measure``), lag removed) for one channel."""
        x = np.asarray(x, dtype=np.float32)
        payload = self.encode(x, sr)
        raw = self._decode_raw(payload, sr)
        if self.align == "fixed":
            lag = self.delay(sr)
        elif self.align == "xcorr":
            lag = estimate_lag(x, raw, max_lag(sr, self.max_delay_ms))
        else:
            lag = 0
        bps = self.payload_bits(payload) * sr / len(x) if measure else float("nan")
        return shift(raw, lag, len(x)).astype(np.float32), float(bps), lag

    def roundtrip(self, x: np.ndarray, sr: int) -> tuple[np.ndarray, float]:
        """``(y, bit/s)``: ``y`` has the rate, length and layout of ``x`` ((samples,) or
        (channels, samples), each channel coded on its own); bit/s summed over channels."""
        x = np.asarray(x, dtype=np.float32)
        if x.ndim == 1:
            y, bps, _ = self.roundtrip_mono(x, sr)
            return y, bps
        outs = [self.roundtrip_mono(ch, sr) for ch in x]
        return np.stack([o[0] for o in outs]), float(sum(o[1] for o in outs))


def _factory(family: str):
    def make(bitrate: Any = None, align: str = "fixed", max_delay_ms: float = 100.0,
             encode_args: tuple[str, ...] | None = None) -> FfmpegCodec:
        return FfmpegCodec(family, bitrate, align=align, max_delay_ms=max_delay_ms, encode_args=encode_args)
    make.__doc__ = SPECS[family].summary
    return make


for _family, _spec in SPECS.items():
    CODECS.register(_family, _spec.summary)(_factory(_family))


def presets() -> list[str]:
    """Every named configuration listed by ``voxclean codecs`` (e.g. ``opus:6k``, ``gsm``)."""
    return [p for s in SPECS.values() for p in s.presets]


# ---------------------------------------------------------------------------------------------------------
# the degradation engine's entry point


def roundtrip(x: np.ndarray, sr: int, name: str, bitrate: Any = None, align_delay: bool = True,
              max_delay_ms: float = 100.0, align: str = "fixed",
              encode_args: tuple[str, ...] | None = None) -> tuple[np.ndarray, dict]:
    """One mono channel through codec ``name`` at ``bitrate`` and back: same length and rate, delay
    removed (``align``: "fixed" or "xcorr"; ``align_delay=False`` keeps the raw decoder timing).
    Returns ``(y, {"codec_rate", "bitrate", "measured_bitrate", "delay"})``."""
    check_available(name)
    codec = FfmpegCodec(name, bitrate, align=align if align_delay else "none", max_delay_ms=max_delay_ms,
                        encode_args=encode_args)
    y, bps, lag = codec.roundtrip_mono(x, sr)
    return y, {"codec_rate": codec.codec_rate(sr), "bitrate": codec.bitrate,
               "measured_bitrate": round(bps, 1), "delay": lag}


__all__ = ["SPECS", "CodecSpec", "FfmpegCodec", "CodecError", "CodecUnavailable", "canonical",
           "unavailable_reason", "available_codecs", "check_available", "codec_rate", "effective_bitrate",
           "encode_bytes", "decode_bytes", "packet_bytes", "roundtrip", "presets", "fit_length"]
