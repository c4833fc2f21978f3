"""The Codec protocol, its registry, and how codec names carry their parameters.

A codec compresses speech to a payload (bytes, or integer tokens for neural codecs) and decodes it
back. ``roundtrip`` is what the probes call: same rate and length as the input, codec delay removed.

Naming
------
The registry :data:`CODECS` holds codec *families* (``opus``, ``mp3``, ``codec2``, ...); a codec
*name* is ``family[:bitrate]`` and :func:`get_codec` parses it::

    get_codec("opus:12k")   == CODECS.get("opus", bitrate=12000)
    get_codec("amr-nb:12.2k"), get_codec("codec2:1600"), get_codec("gsm")   # fixed-rate: no bitrate

Bit rates are written ``12000``, ``12k`` or ``12.2k``; a family with discrete modes snaps to the
nearest one; ``codec.name`` is the canonical spelling (``opus:12k``).

Bitrate
-------
*Measured*: payload bits (codec packets, container headers excluded) divided by the input duration,
``R = 8 * bytes / (n_samples / sr)`` bit/s. For token codecs the nominal rate is eq. 1 of seed 003
(Tseng & Harwath, "Probing the robustness properties of neural speech codecs"):

    R = f_N * k * log2(C)                                                               (1)

with ``f_N = N f_s / T`` frames per second, ``k`` codebooks used and ``C`` entries per codebook
(:func:`token_bitrate`); an upper bound, since entropy coding can do better.
"""
from __future__ import annotations

import math
import re
from typing import Protocol, runtime_checkable

import numpy as np

from voxclean.registry import Registry


class CodecUnavailable(RuntimeError):
    """The codec cannot run on this machine (encoder missing from ffmpeg/sox, tool not installed)."""


class CodecError(RuntimeError):
    """The encoder or decoder failed on this input."""


@runtime_checkable
class Codec(Protocol):
    name: str                     # canonical name with parameters, e.g. "opus:12k"
    sample_rate: int | None       # native rate, None = several (resampled to the nearest supported)
    bitrate: float | None         # nominal bit/s

    def encode(self, x: np.ndarray, sr: int) -> bytes | np.ndarray:
        """Mono float32 ``(samples,)`` at ``sr`` -> payload (encoded bytes, or tokens ``(k, N)``)."""

    def decode(self, payload: bytes | np.ndarray, sr: int, n_samples: int) -> np.ndarray:
        """Payload -> mono float32 at ``sr``, ``n_samples`` long, time-aligned with the encoder input."""

    def payload_bits(self, payload: bytes | np.ndarray) -> int:
        """Bits the payload needs (codec packets only; tokens: ``N k log2 C``)."""

    def roundtrip(self, x: np.ndarray, sr: int) -> tuple[np.ndarray, float]:
        """Decoded audio (same rate, length and layout as ``x``) and the measured bitrate in bit/s."""


CODECS = Registry("codec", modules=["voxclean.codec.ffmpeg"])


def token_bitrate(frame_rate: float, n_codebooks: int, codebook_size: int) -> float:
    """Eq. 1 of seed 003: ``R = f_N * k * log2(C)`` bit/s (e.g. 75 Hz x 8 x log2 1024 = 6000)."""
    if frame_rate <= 0 or n_codebooks <= 0 or codebook_size < 2:
        raise ValueError("token_bitrate needs frame_rate > 0, n_codebooks >= 1 and codebook_size >= 2")
    return float(frame_rate) * int(n_codebooks) * math.log2(int(codebook_size))


def measured_token_bitrate(tokens: np.ndarray, codebook_size: int, n_samples: int, sr: int) -> float:
    """Eq. 1 from the tokens themselves: ``tokens`` is ``(k, N)``, ``f_N = N sr / n_samples``."""
    tokens = np.atleast_2d(tokens)
    k, n_frames = tokens.shape
    return token_bitrate(n_frames * sr / n_samples, k, codebook_size)


_BITRATE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kK]?)\s*(?:b(?:it)?(?:/s|ps)?)?\s*$")


def parse_bitrate(text: str | float | int) -> int:
    """``12000``, ``"12000"``, ``"12k"``, ``"12.2k"``, ``"12kbps"`` -> bit/s as an int."""
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        value = float(text)
    else:
        m = _BITRATE.match(str(text))
        if not m:
            raise ValueError(f"bit rate {text!r} is not a number of bit/s (write e.g. 12000, 12k or 12.2k)")
        value = float(m.group(1)) * (1000.0 if m.group(2) else 1.0)
    if value <= 0:
        raise ValueError(f"bit rate {text!r} must be positive")
    return int(round(value))


def format_bitrate(bps: int) -> str:
    """12000 -> ``12k``, 12200 -> ``12.2k``, 4750 -> ``4.75k``, 700 -> ``700``."""
    if bps < 1000 or bps % 10:
        return str(int(bps))
    return f"{bps / 1000:g}k"


ALIASES = {"mu-law": "mulaw", "ulaw": "mulaw", "g711": "mulaw", "g.711": "mulaw", "pcm_mulaw": "mulaw",
           "a-law": "alaw", "pcm_alaw": "alaw", "amr": "amr-nb", "amrnb": "amr-nb", "amr_nb": "amr-nb",
           "libopus": "opus", "g.722": "g722", "g.726": "g726", "gsm610": "gsm", "gsm-fr": "gsm",
           "lame": "mp3", "ogg": "vorbis"}


def split_name(name: str) -> tuple[str, str | None]:
    """``"opus:12k"`` -> ``("opus", "12k")``; ``"gsm"`` -> ``("gsm", None)``; aliases resolved
    (``mu-law`` -> ``mulaw``, ``amr`` -> ``amr-nb``)."""
    family, _, param = str(name).strip().partition(":")
    family = family.strip().lower()
    return ALIASES.get(family, family), (param.strip() or None)


def get_codec(name: str) -> Codec:
    """A codec from its name (``opus:12k``, ``codec2:1600``, ``gsm``); see the module docstring."""
    family, param = split_name(name)
    if family not in CODECS:
        raise KeyError(f"unknown codec {name!r}; families: {', '.join(CODECS.names())} "
                       f"(see `voxclean codecs`)")
    return CODECS.get(family) if param is None else CODECS.get(family, bitrate=param)
