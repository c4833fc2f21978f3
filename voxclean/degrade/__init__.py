"""Degradations: noise, reverberation, clipping, band-limiting, codecs, packet loss, gain; seeded chains
of them; and paired noisy/clean datasets with a manifest that regenerates every pair.

>>> from voxclean.degrade import Chain
>>> y, record = Chain.from_spec("noise:snr=5,path=noise/|codec:name=opus,bitrate=12k", seed=0).apply(x, sr)
"""
from voxclean.degrade.base import DEGRADATIONS, Degradation
from voxclean.degrade.chain import Chain, make_op, parse_compact
from voxclean.degrade.mix import make_pairs, regenerate

__all__ = ["DEGRADATIONS", "Degradation", "Chain", "make_op", "parse_compact", "make_pairs", "regenerate"]
