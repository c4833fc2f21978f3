"""A classical pre-gain on the neural model's own STFT frames (``ModelConfig.pre_wiener_db``).

With ``pre_wiener_db = D > 0`` the model does not see the noisy frames ``X_t`` but

    X'_t = max(xi / (1 + xi), 10^(-D/20)) X_t

the causal decision-directed Wiener gain of :class:`voxclean.enhance.classic.wiener.WienerProcessor`
(Scalart & Filho 1996, with the Gerkmann-Hendriks MMSE/SPP noise tracker) at most ``D`` dB deep,
computed on the same 20 ms / 10 ms frames. It needs no look-ahead and no second STFT, so the model's
20 ms latency is unchanged. The tracker follows stationary noise the way it does in any recording,
with no training data; the network, trained (or fine-tuned) on pre-gained input, removes the rest.
It is a per-frame recursion in numpy, so it runs outside the network: in training
(:func:`prefilter_batch` inside :func:`voxclean.enhance.neural.model.enhance_batch`), in the PyTorch
and onnxruntime stream processors (the ONNX graph records ``D`` in its metadata, key
``pre_wiener_db``), always with the same code.

Why: on 100 training mixtures (``out/trainmix16k``), a mild Wiener stage in front of the unchanged
``neural_v3`` model raised its WB-PESQ from 1.74 to 1.84 (9 dB, 64 ms frames: 48 ms more latency) and
to 1.79 on the model's own 20 ms frames (6 or 9 dB; 6 dB kept more STOI and SI-SDR). The default
weights ``neural_v5`` use it at 6 dB (training mixtures 1.79 -> 1.84; dev set 1.69 -> 1.72).
Fine-tuning the network behind the pre-gain (``configs/neural_v6.yaml``) did not do better than adding
it to weights trained without it (see ``weights/README.md``).
"""
from __future__ import annotations

import numpy as np

from voxclean.enhance.classic.wiener import WienerProcessor

SR, HOP = 16000, 160


class WienerPrefilter:
    """Frame processor: (frames, bins) complex -> the same frames times a causal Wiener gain
    floored at ``-max_db`` dB; state (noise PSD, previous clean power) carried between calls.
    ``max_db = 0`` (only with ``track_noise``) leaves the frames as they are and only tracks the noise."""

    def __init__(self, n_bins: int, max_db: float, sr: int = SR, hop: int = HOP, track_noise: bool = False):
        if not (max_db > 0 or (track_noise and max_db == 0)):
            raise ValueError(f"pre-filter depth must be > 0 dB (or 0 with track_noise), got {max_db}")
        self.max_db = float(max_db)
        self.inner = WienerProcessor(n_bins, hop / sr, alpha_dd=0.95, xi_min=10 ** (-25 / 10),
                                     gain_min=10 ** (-max_db / 20))

    def process(self, spec: np.ndarray) -> np.ndarray:
        return self.process_tracked(spec)[0]

    def process_tracked(self, spec: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(frames for the network, noise PSD of the raw input frames (frames, bins), float64)."""
        out, noise = self.inner.process_tracked(spec)
        return (out if self.max_db > 0 else spec), noise


def prefilter_batch(spec, max_db: float, track_noise: bool = False):
    """torch (B, T, K, 2) real/imag frames -> (the same shape after a fresh :class:`WienerPrefilter`
    per batch item (each item has its own state), its noise PSD (B, T, K) or None unless
    ``track_noise``). No gradient flows through either; they depend on the input only."""
    import torch
    z = spec.detach().to(torch.float64).cpu().numpy()
    c = z[..., 0] + 1j * z[..., 1]
    # the recursion is elementwise, so one pre-filter runs every item at once on (T, B, K) frames
    out, noise = WienerPrefilter(c.shape[-1], max_db, track_noise=track_noise).process_tracked(c.transpose(1, 0, 2))
    out = out.transpose(1, 0, 2)
    gained = torch.from_numpy(np.stack([out.real, out.imag], -1)).to(spec.dtype).to(spec.device)
    noise = torch.from_numpy(noise.transpose(1, 0, 2)).to(spec.dtype).to(spec.device) if track_noise else None
    return gained, noise
