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

from dataclasses import dataclass
from typing import Any

import numpy as np

from voxclean.codec.align import estimate_lag, shift
from voxclean.codec.ffmpeg import SPECS as CODECS  # noqa: F401  (re-exported for the degradation API)
from voxclean.codec.ffmpeg import (CodecError, CodecSpec, CodecUnavailable, available_codecs,  # noqa: F401
                                   canonical, check_available, codec_rate, effective_bitrate,
                                   unavailable_reason)
from voxclean.degrade.base import DEGRADATIONS
from voxclean.degrade.op import Op, as_float32
from voxclean.degrade.params import rand
from voxclean.codec.ffmpeg import roundtrip as _roundtrip


def roundtrip(x: np.ndarray, sr: int, name: str, bitrate: int, align_delay: bool = True,
              max_delay_ms: float = 100.0) -> tuple[np.ndarray, dict]:
    """One channel through the codec (the encoders live in :mod:`voxclean.codec.ffmpeg`); as a
    degradation the delay is removed per signal by cross-correlation and libopus keeps its default
    "audio" application."""
    return _roundtrip(x, sr, name, bitrate, align_delay, max_delay_ms, align="xcorr", encode_args=())


def align(x: np.ndarray, y: np.ndarray, max_lag: int) -> tuple[np.ndarray, int]:
    lag = estimate_lag(x, y, max_lag)
    return shift(y, lag, len(x)), lag


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
