"""DNSMOS: non-intrusive MOS prediction with Microsoft's ONNX models, through ``speechmos``.

Reddy, Gopal & Cutler 2021, "DNSMOS: A non-intrusive perceptual objective speech quality metric to
evaluate noise suppressors", ICASSP (P.808 model); Reddy, Gopal & Cutler 2022, "DNSMOS P.835: A
non-intrusive perceptual objective speech quality metric to evaluate noise suppressors", ICASSP
(SIG/BAK/OVRL model).

``speechmos.dnsmos.run(x, 16000)`` scores 9.01 s windows hopped by 1 s (a shorter clip is repeated
until it fills one window) and averages; SIG/BAK/OVRL go through the published polynomial
calibration, P.808 is the raw network output. The ONNX models ship inside the ``speechmos`` wheel, so
this works offline. Input is resampled to 16 kHz and clipped to [-1, 1] (speechmos refuses samples
outside). ``ref`` is ignored.
"""
from __future__ import annotations

import numpy as np

from voxclean.audio.resample import resample
from voxclean.metrics.base import METRICS, is_silent, nan_with_warning

SR = 16000
OUTPUTS = ("dnsmos_sig", "dnsmos_bak", "dnsmos_ovrl", "dnsmos_p808")


@METRICS.register("dnsmos", "DNSMOS P.835 SIG/BAK/OVRL and P.808 MOS, non-intrusive (Reddy et al. 2021/2022), 1-5")
class DNSMOS:
    name = "dnsmos"
    intrusive = False
    higher_is_better = True
    outputs = OUTPUTS

    def __init__(self, personalized: bool = False):
        self.model_type = "dnsmos_personalized" if personalized else "dnsmos"

    def score(self, ref, est, sr):
        try:
            from speechmos import dnsmos
        except ImportError as exc:  # speechmos imports librosa, which it does not declare
            raise ImportError(f"DNSMOS needs speechmos and librosa ({exc}); "
                              "install them with `pip install speechmos librosa`") from exc
        if is_silent(est):
            return nan_with_warning(OUTPUTS, "dnsmos undefined: the estimate is silent; NaN")
        x = np.clip(resample(est, sr, SR), -1.0, 1.0).astype(np.float32)
        r = dnsmos.run(x, SR, model_type=self.model_type)
        return {"dnsmos_sig": float(r["sig_mos"]), "dnsmos_bak": float(r["bak_mos"]),
                "dnsmos_ovrl": float(r["ovrl_mos"]), "dnsmos_p808": float(r["p808_mos"])}
