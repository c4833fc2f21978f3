"""The ``neural-arch`` enhancer: a checkpoint of one of the other architectures
(:mod:`voxclean.enhance.neural.arch`: U-Net mask, Conv-TasNet, DCCRN) behind the Enhancer contract, so
``voxclean bench`` and ``voxclean enhance`` can compare them with everything else::

    voxclean bench out/devset16k -m neural-arch:weights=out/train_unet_small/last.pt

The models are causal but carry no streaming state here: ``enhance`` runs the whole signal at 16 kHz
(other rates are resampled in and out, so nothing above 8 kHz survives), and ``stream`` buffers.
"""
from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

from voxclean.enhance.base import ENHANCERS


@functools.lru_cache(maxsize=4)
def _load(path: str):
    import torch
    from voxclean.enhance.neural.train import build_model
    ck = torch.load(path, map_location="cpu", weights_only=False)
    cfg = ck.get("model_config") or ck.get("config", {}).get("model")
    if not cfg or "arch" not in cfg:
        raise ValueError(f"{path}: not a checkpoint of a neural.arch model (its model_config has no 'arch'; "
                         "NeuralSE checkpoints belong to the 'neural' method)")
    model = build_model(cfg)
    model.load_state_dict(ck["model"])
    return model.eval()


@ENHANCERS.register("neural-arch", "a trained U-Net / Conv-TasNet / DCCRN checkpoint (weights=PATH; offline, 16 kHz, torch)")
class ArchEnhancer:
    name = "neural-arch"
    sample_rate = 16000
    causal = False

    def __init__(self, weights: str):
        p = Path(weights)
        if not p.is_file():
            raise FileNotFoundError(f"neural-arch: checkpoint {p} not found")
        self.model = _load(str(p.resolve()))
        self.arch = type(self.model).__name__

    def enhance(self, x: np.ndarray, sr: int) -> np.ndarray:
        import torch
        x = np.asarray(x, np.float32)
        if x.ndim != 1:
            raise ValueError("neural-arch.enhance expects mono (samples,)")
        if sr != self.sample_rate:       # resampled in and out, length kept (voxclean.enhance.apply)
            from voxclean.enhance.apply import enhance_signal
            return enhance_signal(self, x, sr)
        with torch.inference_mode():
            y = self.model.forward_wave(torch.from_numpy(np.ascontiguousarray(x))[None])[0][0].numpy()
        return np.asarray(y[: len(x)], np.float32)

    def stream(self, sr: int):
        from voxclean.enhance.classic.multichannel import BufferedStream
        return BufferedStream(lambda x: self.enhance(x, sr))
