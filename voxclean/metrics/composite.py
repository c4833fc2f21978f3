"""Composite measures CSIG, CBAK, COVL (Hu & Loizou 2008).

Y. Hu and P. C. Loizou, "Evaluation of objective quality measures for speech enhancement", IEEE
TASLP 16(1), 229-238, 2008, Eqs. (12)-(14); implementation as in their ``composite.m``::

    CSIG = 3.093 - 1.029 LLR + 0.603 PESQ - 0.009 WSS
    CBAK = 1.634 + 0.478 PESQ - 0.007 WSS + 0.063 segSNR
    COVL = 1.594 + 0.805 PESQ - 0.512 LLR - 0.007 WSS

each clipped to [1, 5]. LLR and WSS are the means of the lowest 95 % of frame values, segSNR the mean
of the clamped frame values (:mod:`voxclean.metrics.loizou`).

Which PESQ: the regressions were fitted to the **raw narrow-band P.862** score (``composite.m`` calls
Loizou's ``pesq.m``, which returns raw P.862 at 8 or 16 kHz; its README example gives
``PESQ=2.2557, LLR=0.6814, WSS=49.67 -> CSIG=3.305``, which only the raw score reproduces). So by
default (``pesq="nb_raw"``) PESQ is the P.862.1 MOS-LQO of :mod:`pesq_stoi` mapped back to raw, at
16 kHz for signals of 16 kHz or more and at 8 kHz below that; LLR, WSS and segSNR are computed at that
same rate, as ``composite.m`` computes them at the file's rate. ``pesq="wb"`` puts the P.862.2
wide-band MOS-LQO in the formulas instead, as many recent VoiceBank-DEMAND papers do (their numbers
are not comparable with the original measure's).
"""
from __future__ import annotations

import numpy as np

from voxclean.audio.resample import resample
from voxclean.metrics import loizou
from voxclean.metrics.base import METRICS, is_silent, nan_with_warning
from voxclean.metrics.pesq_stoi import mos_lqo_to_raw, nb_rate, pesq_mos

OUTPUTS = ("csig", "cbak", "covl")


def composite(llr: float, wss: float, segsnr: float, pesq: float) -> dict[str, float]:
    """Hu & Loizou (2008) Eqs. (12)-(14), clipped to [1, 5]."""
    csig = 3.093 - 1.029 * llr + 0.603 * pesq - 0.009 * wss
    cbak = 1.634 + 0.478 * pesq - 0.007 * wss + 0.063 * segsnr
    covl = 1.594 + 0.805 * pesq - 0.512 * llr - 0.007 * wss
    return {k: float(np.clip(v, 1.0, 5.0)) for k, v in zip(OUTPUTS, (csig, cbak, covl))}


@METRICS.register("composite", "Hu & Loizou (2008) composite CSIG/CBAK/COVL from LLR, WSS, segSNR and raw NB PESQ, 1-5")
class Composite:
    name = "composite"
    intrusive = True
    higher_is_better = True
    outputs = OUTPUTS

    def __init__(self, pesq: str = "nb_raw"):
        if pesq not in ("nb_raw", "wb"):
            raise ValueError(f"composite: pesq must be 'nb_raw' or 'wb', not {pesq!r}")
        self.pesq = pesq

    def parts(self, ref: np.ndarray, est: np.ndarray, sr: int) -> dict[str, float]:
        """The four ingredients (``llr``, ``wss``, ``segsnr``, ``pesq``) at the measure's rate."""
        fs = nb_rate(sr)
        if self.pesq == "wb":
            p = pesq_mos(ref, est, sr, "wb")
        else:
            p = mos_lqo_to_raw(pesq_mos(ref, est, sr, "nb"), "p862.1")
        c = resample(ref, sr, fs).astype(np.float64) + loizou.EPS   # composite.m adds eps
        e = resample(est, sr, fs).astype(np.float64) + loizou.EPS
        return {"llr": loizou.trimmed_mean(loizou.llr_frames(c, e, fs)),
                "wss": loizou.trimmed_mean(loizou.wss_frames(c, e, fs)),
                "segsnr": float(np.mean(loizou.segsnr_frames(c, e, fs))),
                "pesq": p}

    def score(self, ref, est, sr):
        if is_silent(ref) or is_silent(est):
            return nan_with_warning(OUTPUTS, "composite undefined: a signal is silent (no PESQ); NaN")
        try:
            q = self.parts(ref, est, sr)
        except loizou.TooShortError as exc:
            return nan_with_warning(OUTPUTS, f"composite undefined: {exc}; NaN")
        if not all(np.isfinite(v) for v in q.values()):
            return nan_with_warning(OUTPUTS, f"composite undefined: an ingredient is NaN ({q}); NaN")
        return composite(q["llr"], q["wss"], q["segsnr"], q["pesq"])
