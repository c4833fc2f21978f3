"""Packet loss: the signal is cut into packets of ``packet_ms`` and each lost packet is concealed.

Loss patterns
  * independent (``burst`` unset): each packet is lost with probability ``p`` (Bernoulli).
  * bursty (``burst`` = mean burst length in packets, >= 1): the two-state Gilbert model, i.e. the
    Gilbert-Elliott channel with loss probability 0 in the good state and 1 in the bad state
    (Gilbert, 1960; Elliott, 1963). Transition probabilities ``r = 1/burst`` (bad -> good) and
    ``q = p r / (1 - p)`` (good -> bad) give a stationary loss rate ``q / (q + r) = p``; the first
    packet starts in the stationary distribution.

Concealment
  * ``zero``: a lost packet becomes silence.
  * ``repeat``: a lost packet is replaced by the last packet the receiver has output (so a burst
    repeats the last good packet); a loss at the very start is silence.

The resolved op lists the ``lost`` packet indices, so a manifest line holds the exact loss pattern.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from voxclean.degrade.base import DEGRADATIONS
from voxclean.degrade.op import Op, as_float32
from voxclean.degrade.params import rand

CONCEALMENT = ("zero", "repeat")


def loss_pattern(n: int, p: float, rng: np.random.Generator, burst: float | None = None) -> np.ndarray:
    """Boolean array of ``n`` packets, True = lost."""
    if not 0 <= p < 1:
        raise ValueError(f"packet_loss: p must be in [0, 1), got {p}")
    u = rng.random(n)
    if burst is None:
        return u < p
    if burst < 1:
        raise ValueError(f"packet_loss: burst is a mean burst length in packets and must be >= 1, got {burst}")
    r = 1.0 / burst
    q = min(p * r / (1 - p), 1.0)
    lost = np.zeros(n, bool)
    bad = u[0] < p if n else False
    for i in range(n):
        if i:
            bad = (u[i] >= r) if bad else (u[i] < q)
        lost[i] = bad
    return lost


@DEGRADATIONS.register("packet_loss", "drop packets (Bernoulli or bursty Gilbert) with zero or repeat concealment")
@dataclass
class PacketLoss(Op):
    """``p``: loss probability; ``packet_ms``: packet length; ``conceal``: zero|repeat;
    ``burst``: mean burst length (packets) for bursty loss. Resolved: ``lost`` packet indices."""
    name = "packet_loss"
    p: Any = rand(0.1)
    packet_ms: float = 20.0
    conceal: Any = rand("zero")
    burst: Any = rand(None)
    lost: list[int] | None = None

    def packet_len(self, sr: int) -> int:
        return max(int(round(self.packet_ms * sr / 1000)), 1)

    def resolve(self, x: np.ndarray, sr: int, rng: np.random.Generator) -> "PacketLoss":
        op = self._sample_fields(rng)
        if op.conceal not in CONCEALMENT:
            raise ValueError(f"packet_loss: conceal must be one of {CONCEALMENT}, got {op.conceal!r}")
        if op.lost is None:
            n = -(-x.shape[-1] // op.packet_len(sr))
            burst = None if op.burst is None else float(op.burst)
            op.lost = [int(i) for i in np.flatnonzero(loss_pattern(n, float(op.p), rng, burst))]
        return op

    def render(self, x: np.ndarray, sr: int) -> tuple[np.ndarray, dict]:
        if self.conceal not in CONCEALMENT:
            raise ValueError(f"packet_loss: conceal must be one of {CONCEALMENT}, got {self.conceal!r}")
        plen, length = self.packet_len(sr), x.shape[-1]
        n = -(-length // plen)
        y = np.array(x, dtype=np.float32, copy=True)
        lost = sorted(i for i in (self.lost or []) if 0 <= i < n)
        for i in lost:
            a, b = i * plen, min((i + 1) * plen, length)
            if self.conceal == "repeat" and i > 0:
                prev = y[..., (i - 1) * plen: i * plen]
                y[..., a:b] = prev[..., : b - a]
            else:
                y[..., a:b] = 0.0
        return as_float32(y), {"packets": n, "lost_fraction": len(lost) / n if n else 0.0}
