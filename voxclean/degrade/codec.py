"""Codec round trips: encode with ffmpeg (or sox for AMR-NB) and decode back to the original rate.

Steps for each channel: resample ``x`` (soxr) to a rate the codec supports -- ``sr`` itself when it can,
else the lowest supported rate above ``sr``, else its highest (8 kHz for the narrow-band codecs) -- write
it to a temporary WAV, encode, decode to float32 at that rate, resample back to ``sr``, then undo the
codec's delay: the lag in ``[-max_delay_ms, +max_delay_ms]`` that maximises the cross-correlation
``sum_t x[t] y[t + lag]`` is removed (codecs add priming/look-ahead delay: AAC 1024 samples, the MP3
decoder without gapless info ~529, ...), and the result is trimmed or zero-padded to ``len(x)``.

Codecs (name: encoder, rates, bit rates)
  opus     libopus      8/12/16/24/48 kHz   any (6k..510k), default 16k
  mp3      libmp3lame   8..48 kHz           8k..320k, default 32k
  aac      aac (native) 8..48 kHz           default 32k
  vorbis   libvorbis    8..48 kHz           default 32k (libvorbis refuses very low rates at 16 kHz)
  speex    libspeex     8/16/32 kHz         default 16k
  codec2   libcodec2    8 kHz               3200/2400/1600/1400/1300/1200/700 (700C)
  gsm      libgsm       8 kHz               13k (GSM 06.10 full rate)
  g722     g722 (ADPCM) 16 kHz              64k
  mulaw    pcm_mulaw    8 kHz               64k (G.711 mu-law); alaw likewise
  amr-nb   sox          8 kHz               4.75k..12.2k (modes 0-7), default 12.2k

Each codec is checked against this machine's ``ffmpeg -encoders`` (``sox -h`` for AMR-NB) and a missing
one raises :class:`CodecUnavailable` naming what is missing.
"""
from __future__ import annotations

import functools
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf
from scipy.signal import correlate, correlation_lags

from voxclean.audio.resample import resample
from voxclean.degrade.base import DEGRADATIONS
from voxclean.degrade.op import Op, as_float32, fit_length
from voxclean.degrade.params import parse_scalar, rand


class CodecUnavailable(RuntimeError):
    """The codec's encoder is missing from this machine's ffmpeg/sox build."""


class CodecError(RuntimeError):
    """The encoder or decoder failed on this input."""


_WIDE = (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000)


@dataclass(frozen=True)
class CodecSpec:
    tool: str                       # "ffmpeg" or "sox"
    encoder: str                    # ffmpeg encoder name, or sox file type
    fmt: str                        # ffmpeg muxer / sox type
    ext: str
    rates: tuple[int, ...]
    default_bitrate: int
    bitrates: tuple[int, ...] | None = None  # discrete bit rates (snapped to the nearest); None: any
    fixed: bool = False             # bit rate set by the codec itself


CODECS: dict[str, CodecSpec] = {
    "opus": CodecSpec("ffmpeg", "libopus", "ogg", "ogg", (8000, 12000, 16000, 24000, 48000), 16000),
    "mp3": CodecSpec("ffmpeg", "libmp3lame", "mp3", "mp3", _WIDE, 32000),
    "aac": CodecSpec("ffmpeg", "aac", "mp4", "m4a", _WIDE, 32000),
    "vorbis": CodecSpec("ffmpeg", "libvorbis", "ogg", "ogg", (8000, 11025, 16000, 22050, 32000, 44100, 48000), 32000),
    "speex": CodecSpec("ffmpeg", "libspeex", "ogg", "spx", (8000, 16000, 32000), 16000),
    "codec2": CodecSpec("ffmpeg", "libcodec2", "codec2", "c2", (8000,), 3200,
                        bitrates=(3200, 2400, 1600, 1400, 1300, 1200, 700)),
    "gsm": CodecSpec("ffmpeg", "libgsm", "gsm", "gsm", (8000,), 13000, fixed=True),
    "g722": CodecSpec("ffmpeg", "g722", "g722", "g722", (16000,), 64000, fixed=True),
    "mulaw": CodecSpec("ffmpeg", "pcm_mulaw", "wav", "wav", (8000,), 64000, fixed=True),
    "alaw": CodecSpec("ffmpeg", "pcm_alaw", "wav", "wav", (8000,), 64000, fixed=True),
    "amr-nb": CodecSpec("sox", "amr-nb", "amr-nb", "amr-nb", (8000,), 12200,
                        bitrates=(4750, 5150, 5900, 6700, 7400, 7950, 10200, 12200)),
}
ALIASES = {"mu-law": "mulaw", "ulaw": "mulaw", "g711": "mulaw", "pcm_mulaw": "mulaw", "a-law": "alaw",
           "amr": "amr-nb", "amrnb": "amr-nb", "amr_nb": "amr-nb", "libopus": "opus",
           "g.722": "g722", "gsm610": "gsm"}


def canonical(name: str) -> str:
    key = str(name).lower()
    key = ALIASES.get(key, key)
    if key not in CODECS:
        raise ValueError(f"codec: unknown codec {name!r}; known: {', '.join(CODECS)}")
    return key


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


def unavailable_reason(name: str) -> str | None:
    """None if the codec works here, else why not."""
    spec = CODECS[canonical(name)]
    if spec.tool == "sox":
        if shutil.which("sox") is None:
            return "sox is not installed (apt-get install sox libsox-fmt-all)"
        if spec.encoder not in _sox_formats():
            return f"this sox build lacks the {spec.encoder} format (apt-get install libsox-fmt-all)"
        return None
    if shutil.which("ffmpeg") is None:
        return "ffmpeg is not installed (apt-get install ffmpeg)"
    if spec.encoder not in _ffmpeg_encoders():
        return f"this ffmpeg build lacks the {spec.encoder} encoder (see `ffmpeg -encoders`)"
    return None


def available_codecs() -> list[str]:
    return [c for c in CODECS if unavailable_reason(c) is None]


def check_available(name: str) -> CodecSpec:
    key = canonical(name)
    why = unavailable_reason(key)
    if why:
        raise CodecUnavailable(f"codec {key!r} is unavailable: {why}; available here: "
                               f"{', '.join(available_codecs()) or 'none'}")
    return CODECS[key]


def codec_rate(spec: CodecSpec, sr: int) -> int:
    if sr in spec.rates:
        return sr
    above = [r for r in spec.rates if r > sr]
    return min(above) if above else max(spec.rates)


def effective_bitrate(spec: CodecSpec, bitrate: Any) -> int:
    if spec.fixed or bitrate is None:
        return spec.default_bitrate
    b = parse_scalar(bitrate) if isinstance(bitrate, str) else bitrate
    if isinstance(b, str) and b.upper().endswith("C"):  # codec2 "700C"
        b = parse_scalar(b[:-1])
    if not isinstance(b, (int, float)) or b <= 0:
        raise ValueError(f"codec: bit rate {bitrate!r} is not a positive number (e.g. 12000 or 12k)")
    b = int(round(b))
    if spec.bitrates:
        b = min(spec.bitrates, key=lambda r: (abs(r - b), r))
    return b


def _run(cmd: list[str], what: str) -> bytes:
    proc = subprocess.run(cmd, capture_output=True, stdin=subprocess.DEVNULL)
    if proc.returncode != 0:
        msg = proc.stderr.decode(errors="replace").strip().splitlines()
        raise CodecError(f"{what} failed: {msg[-1] if msg else 'exit status %d' % proc.returncode}")
    return proc.stdout


def encode_decode(x: np.ndarray, rate: int, name: str, bitrate: int) -> np.ndarray:
    """Mono float32 at the codec ``rate`` -> encoded -> decoded mono float32 at ``rate`` (raw length)."""
    spec = CODECS[name]
    with tempfile.TemporaryDirectory(prefix="voxclean-codec-") as tmp:
        src, enc = Path(tmp) / "in.wav", Path(tmp) / f"enc.{spec.ext}"
        sf.write(src, np.clip(x, -1.0, 1.0), rate, subtype="PCM_16")
        if spec.tool == "sox":
            mode = spec.bitrates.index(bitrate)
            _run(["sox", "-V1", str(src), "-C", str(mode), "-t", spec.fmt, str(enc)], f"sox {name} encoder")
            raw = _run(["sox", "-V1", "-t", spec.fmt, str(enc), "-t", "raw", "-e", "floating-point", "-b", "32",
                        "-c", "1", "-r", str(rate), "-L", "-"], f"sox {name} decoder")
            return np.frombuffer(raw, dtype="<f4").astype(np.float32)
        rate_args: list[str] = []
        if name == "codec2":
            rate_args = ["-mode", "700C" if bitrate == 700 else str(bitrate)]
        elif not spec.fixed:
            rate_args = ["-b:a", str(bitrate)]
        _run(["ffmpeg", "-v", "error", "-nostdin", "-y", "-i", str(src), "-map_metadata", "-1", "-ac", "1",
              "-c:a", spec.encoder, *rate_args, "-fflags", "+bitexact", "-flags:a", "+bitexact",
              "-f", spec.fmt, str(enc)], f"ffmpeg {name} encoder ({spec.encoder}, {bitrate} b/s at {rate} Hz)")
        raw = _run(["ffmpeg", "-v", "error", "-nostdin", "-i", str(enc), "-ac", "1", "-ar", str(rate),
                    "-f", "f32le", "-"], f"ffmpeg {name} decoder")
        return np.frombuffer(raw, dtype="<f4").astype(np.float32)


def align(x: np.ndarray, y: np.ndarray, max_lag: int) -> tuple[np.ndarray, int]:
    """Shift ``y`` by the lag in [-max_lag, max_lag] maximising ``sum x[t] y[t+lag]``; same length as x."""
    if not np.any(y) or not np.any(x):
        return fit_length(y, len(x)), 0
    c = correlate(y.astype(np.float64), x.astype(np.float64), mode="full", method="fft")
    lags = correlation_lags(len(y), len(x), mode="full")
    keep = np.abs(lags) <= max_lag
    lag = int(lags[keep][np.argmax(c[keep])])
    if lag >= 0:
        return fit_length(y[lag:], len(x)), lag
    return fit_length(np.concatenate([np.zeros(-lag, y.dtype), y]), len(x)), lag


def roundtrip(x: np.ndarray, sr: int, name: str, bitrate: int, align_delay: bool = True,
              max_delay_ms: float = 100.0) -> tuple[np.ndarray, dict]:
    """One mono channel through the codec and back: same length, same rate."""
    spec = CODECS[name]
    rate = codec_rate(spec, sr)
    dec = encode_decode(resample(x, sr, rate), rate, name, bitrate)
    if dec.size == 0:
        raise CodecError(f"{name} round trip returned no samples")
    y = resample(dec, rate, sr)
    lag = 0
    if align_delay:
        y, lag = align(x, y, int(round(max_delay_ms * sr / 1000)))
    else:
        y = fit_length(y, len(x))
    return as_float32(y), {"codec_rate": rate, "bitrate": bitrate, "delay": lag}


@DEGRADATIONS.register("codec", "round trip through a speech/audio codec: opus, mp3, aac, vorbis, speex, codec2, gsm, g722, mulaw, alaw, amr-nb")
@dataclass
class Codec(Op):
    """``codec``: codec name (compact syntax also accepts ``name=``); ``bitrate``: b/s ("12k" ok;
    None: the codec's default); ``align``: remove the codec delay by cross-correlation."""
    name = "codec"
    codec: Any = rand("opus")
    bitrate: Any = rand(None)
    align: bool = True
    max_delay_ms: float = 100.0

    def resolve(self, x: np.ndarray, sr: int, rng: np.random.Generator) -> "Codec":
        op = self._sample_fields(rng)
        op.codec = canonical(op.codec)
        spec = check_available(op.codec)
        op.bitrate = effective_bitrate(spec, op.bitrate)
        return op

    def render(self, x: np.ndarray, sr: int) -> tuple[np.ndarray, dict]:
        name = canonical(self.codec)
        spec = check_available(name)
        bitrate = effective_bitrate(spec, self.bitrate)
        if x.ndim == 1:
            return roundtrip(x, sr, name, bitrate, self.align, self.max_delay_ms)
        outs = [roundtrip(ch, sr, name, bitrate, self.align, self.max_delay_ms) for ch in x]
        return as_float32(np.stack([o[0] for o in outs])), {**outs[0][1], "delay": [o[1]["delay"] for o in outs]}
