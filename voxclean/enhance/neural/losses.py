"""Training losses (seed 001 §6): multi-resolution compressed spectral loss + SI-SDR + VAD BCE.

    L_spec  = sum_r  mean( (|Y_r|^c - |S_r|^c)^2 ) + mean( | |Y_r|^c e^{j arg Y_r} - |S_r|^c e^{j arg S_r} |^2 )
              over STFT resolutions r (n_fft 256/512/1024, hop n_fft/4, Hann), c = 0.3
              (the compressed spectral loss of Braun & Tashev 2021 / DeepFilterNet, multi-resolution as
              in Yamamoto et al. 2020)
    SI-SDR  = 10 log10( ||a s||^2 / ||y - a s||^2 ),  a = <y, s> / ||s||^2       (Le Roux et al. 2019)
    L_os    = sum_r  mean( max(|S_r|^c - |Y_r|^c, 0)^2 )      over-suppression (speech distortion) only
              (the asymmetric loss of Wang et al., "Asymmetric loss ... against over-suppression", 2019)
    L       = w_spec L_spec - w_sisdr mean(SI-SDR) + w_os L_os + w_vad BCE(v, 1[frame energy of s > max - 40 dB])
"""
from __future__ import annotations

import torch

RESOLUTIONS = ((256, 64), (512, 128), (1024, 256))


def _compressed(y: torch.Tensor, s: torch.Tensor, n_fft: int, hop: int, c: float):
    win = torch.hann_window(n_fft, device=y.device)
    Y = torch.stft(y, n_fft, hop, window=win, return_complex=True)
    S = torch.stft(s, n_fft, hop, window=win, return_complex=True)
    return Y, S, (Y.abs() + 1e-8) ** c, (S.abs() + 1e-8) ** c


def over_suppression_loss(y: torch.Tensor, s: torch.Tensor, c: float = 0.3) -> torch.Tensor:
    """Penalises only bins where the estimate's compressed magnitude is below the target's."""
    total = y.new_zeros(())
    for n_fft, hop in RESOLUTIONS:
        _, _, my, ms = _compressed(y, s, n_fft, hop, c)
        total = total + torch.mean(torch.relu(ms - my) ** 2)
    return total


def spectral_loss(y: torch.Tensor, s: torch.Tensor, c: float = 0.3) -> torch.Tensor:
    total = y.new_zeros(())
    for n_fft, hop in RESOLUTIONS:
        Y, S, my, ms = _compressed(y, s, n_fft, hop, c)
        total = total + torch.mean((my - ms) ** 2)
        total = total + torch.mean(torch.abs(my * Y / (Y.abs() + 1e-8) - ms * S / (S.abs() + 1e-8)) ** 2)
    return total


def si_sdr(y: torch.Tensor, s: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Per-example SI-SDR in dB (B,)."""
    a = torch.sum(y * s, -1, keepdim=True) / (torch.sum(s * s, -1, keepdim=True) + eps)
    t = a * s
    return 10 * torch.log10((torch.sum(t * t, -1) + eps) / (torch.sum((y - t) ** 2, -1) + eps))


def vad_targets(s: torch.Tensor, n_frames: int, hop: int = 160, n_fft: int = 320, rel_db: float = 40.0,
                abs_db: float = -60.0) -> torch.Tensor:
    """1 where the target's frame energy (the model's framing) is within ``rel_db`` of its loudest
    frame and above ``abs_db`` dBFS, else 0: (B, n_frames)."""
    sp = torch.nn.functional.pad(s, (n_fft - hop, n_fft))
    e = sp.unfold(-1, n_fft, hop)[:, :n_frames].pow(2).mean(-1)
    e_db = 10 * torch.log10(e + 1e-12)
    return ((e_db > e_db.max(-1, keepdim=True).values - rel_db) & (e_db > abs_db)).float()


def total_loss(y, s, vad, w_spec: float = 1.0, w_sisdr: float = 0.01, w_vad: float = 0.05, w_os: float = 0.0):
    ls = spectral_loss(y, s)
    sdr = si_sdr(y, s).mean()
    loss = w_spec * ls - w_sisdr * sdr
    if w_os:
        loss = loss + w_os * over_suppression_loss(y, s)
    if vad is None:  # architectures without a VAD head
        return loss, {"spec": ls.item(), "si_sdr": sdr.item(), "vad_bce": float("nan")}
    lv = torch.nn.functional.binary_cross_entropy(vad.clamp(1e-6, 1 - 1e-6), vad_targets(s, vad.shape[1]))
    loss = loss + w_vad * lv
    return loss, {"spec": ls.item(), "si_sdr": sdr.item(), "vad_bce": lv.item()}
