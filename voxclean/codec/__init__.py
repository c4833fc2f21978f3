"""Codecs: the Codec protocol, the registry of codec families and the ffmpeg/sox classical codecs.

>>> from voxclean.codec import get_codec
>>> codec = get_codec("opus:12k")
>>> y, bits_per_second = codec.roundtrip(x, sr)      # same rate and length, delay removed
"""
from voxclean.codec.base import (CODECS, Codec, CodecError, CodecUnavailable, format_bitrate, get_codec,
                                 measured_token_bitrate, parse_bitrate, token_bitrate)

__all__ = ["CODECS", "Codec", "CodecError", "CodecUnavailable", "format_bitrate", "get_codec",
           "measured_token_bitrate", "parse_bitrate", "token_bitrate"]
