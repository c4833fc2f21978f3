"""Training losses (seed 001 §6): multi-resolution compressed spectral loss + SI-SDR + VAD BCE.

    L_spec  = sum_r  mean( (|Y_r|^c - |S_r|^c)^2 ) + mean( | |Y_r|^c e^{j arg Y_r} - |S_r|^c e^{j arg S_r} |^2 )
              over STFT resolutions r (n_fft 256/512/1024, hop n_fft/4, Hann), c = 0.3
              (the compressed spectral loss of Braun & Tashev 2021 / DeepFilterNet, multi-resolution as
              in Yamamoto et al. 2020)
    SI-SDR  = 10 log10( ||a s||^2 / ||y - a s||^2 ),  a = <y, s> / ||s||^2       (Le Roux et al. 2019)
    L_os    = sum_r  mean( max(|S_r|^c - |Y_r|^c, 0)^2 )      over-suppression (speech distortion) only
              (the asymmetric loss of Wang et al., "Asymmetric loss ... against over-suppression", 2019)
    L_stoi  = 1 - mean_{j,m} rho( S_j,m , min(a Y_j,m, (1 + 10^(15/20)) S_j,m) )
              short-time envelope correlation (the STOI intermediate measure of Taal et al. 2011,
              eqs. 2-5): 1/3-octave band magnitudes (15 bands from 150 Hz, 512-point STFT, 10 ms hop),
              N = 38-frame (380 ms) segments every 4 frames, Y scaled to S's segment energy (a) and
              clipped at -15 dB SDR, rho = Pearson correlation; segments more than 40 dB below the
              target's loudest segment are left out (STOI drops silent frames)
    L       = w_spec L_spec - w_sisdr mean(SI-SDR) + w_os L_os + w_stoi L_stoi
              + w_vad BCE(v, 1[frame energy of s > max - 40 dB]) + w_pmsqe PMSQE(y, s)
    PMSQE     the PESQ-derived disturbance of Martín-Doñas et al. 2018 (``pmsqe.py``)
    L_rn    = sum_r  mean( |N'_r|^(2c) )     residual noise: the noise n = x - s passed through the same
              filter the model applied to x (``NeuralSE`` is a time-varying linear filter), i.e. the noise
              term of the weighted speech-distortion loss of Xia et al. 2020 (ICASSP, "Weighted speech
              distortion losses for neural-network-based real-time speech enhancement"),
              ||H S - S||^2 + lambda ||H N||^2, on compressed magnitudes; added as + w_rn L_rn
"""
from __future__ import annotations

import torch

from .pmsqe import pmsqe_loss

RESOLUTIONS = ((256, 64), (512, 128), (1024, 256))


def _compressed(y: torch.Tensor, s: torch.Tensor, n_fft: int, hop: int, c: float):
    win = torch.hann_window(n_fft, device=y.device)
    Y = torch.stft(y, n_fft, hop, window=win, return_complex=True)
    S = torch.stft(s, n_fft, hop, window=win, return_complex=True)
    return Y, S, (Y.abs() + 1e-8) ** c, (S.abs() + 1e-8) ** c


def _spectral_terms(y: torch.Tensor, s: torch.Tensor, c: float = 0.3) -> tuple[torch.Tensor, torch.Tensor]:
    """(L_spec, L_os) from one pair of STFTs per resolution (module docstring)."""
    spec, os_ = y.new_zeros(()), y.new_zeros(())
    for n_fft, hop in RESOLUTIONS:
        Y, S, my, ms = _compressed(y, s, n_fft, hop, c)
        spec = spec + torch.mean((my - ms) ** 2)
        spec = spec + torch.mean(torch.abs(my * Y / (Y.abs() + 1e-8) - ms * S / (S.abs() + 1e-8)) ** 2)
        os_ = os_ + torch.mean(torch.relu(ms - my) ** 2)
    return spec, os_


def over_suppression_loss(y: torch.Tensor, s: torch.Tensor, c: float = 0.3) -> torch.Tensor:
    """Penalises only bins where the estimate's compressed magnitude is below the target's."""
    return _spectral_terms(y, s, c)[1]


def _third_octave_matrix(n_fft: int, sr: int, n_bands: int = 15, f_low: float = 150.0) -> torch.Tensor:
    """(bins, bands) 0/1 matrix of the STOI 1/3-octave bands (centres 150 * 2^(k/3) Hz)."""
    f = torch.arange(n_fft // 2 + 1) * sr / n_fft
    cf = f_low * 2.0 ** (torch.arange(n_bands) / 3.0)
    lo, hi = cf * 2 ** (-1 / 6), cf * 2 ** (1 / 6)
    return ((f[:, None] >= lo[None]) & (f[:, None] < hi[None])).float()


def stoi_loss(y: torch.Tensor, s: torch.Tensor, sr: int = 16000, n_fft: int = 512, hop: int = 160,
              seg: int = 38, seg_hop: int = 4, eps: float = 1e-8) -> torch.Tensor:
    """1 - mean short-time band-envelope correlation (differentiable STOI surrogate, module docstring)."""
    win = torch.hann_window(n_fft, device=y.device)
    bands = _third_octave_matrix(n_fft, sr).to(y.device)
    env = []
    for x in (y, s):
        p = torch.stft(x, n_fft, hop, window=win, return_complex=True).abs().pow(2)   # B K T
        env.append(torch.sqrt(torch.einsum("bkt,kj->bjt", p, bands) + eps))          # B J T
    ey, es = (e.unfold(-1, seg, seg_hop) for e in env)                               # B J M N
    seg_db = 10 * torch.log10(es.pow(2).sum((1, 3)) + eps)                            # B M
    keep = (seg_db > seg_db.max(-1, keepdim=True).values - 40).float()               # drop silent segments
    a = torch.sqrt(es.pow(2).sum(-1, keepdim=True) / (ey.pow(2).sum(-1, keepdim=True) + eps))
    ey = torch.minimum(a * ey, (1 + 10 ** (15 / 20)) * es)
    ey = ey - ey.mean(-1, keepdim=True)
    es = es - es.mean(-1, keepdim=True)
    rho = (ey * es).sum(-1) / (ey.norm(dim=-1) * es.norm(dim=-1) + eps)
    return 1 - (rho.mean(1) * keep).sum() / keep.sum()


def spectral_loss(y: torch.Tensor, s: torch.Tensor, c: float = 0.3) -> torch.Tensor:
    return _spectral_terms(y, s, c)[0]


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


def residual_noise_loss(y_noise: torch.Tensor, c: float = 0.3) -> torch.Tensor:
    """L_rn: compressed power of the filtered noise, summed over the STFT resolutions (module docstring)."""
    out = y_noise.new_zeros(())
    for n_fft, hop in RESOLUTIONS:
        win = torch.hann_window(n_fft, device=y_noise.device)
        out = out + torch.mean((torch.stft(y_noise, n_fft, hop, window=win, return_complex=True).abs() + 1e-8) ** (2 * c))
    return out


def total_loss(y, s, vad, w_spec: float = 1.0, w_sisdr: float = 0.01, w_vad: float = 0.05, w_os: float = 0.0,
               w_stoi: float = 0.0, w_pmsqe: float = 0.0, w_rn: float = 0.0, y_noise=None):
    ls, los = _spectral_terms(y, s)
    sdr = si_sdr(y, s).mean()
    loss = w_spec * ls - w_sisdr * sdr
    if w_os:
        loss = loss + w_os * los
    if w_stoi:
        loss = loss + w_stoi * stoi_loss(y, s)
    if w_pmsqe:
        loss = loss + w_pmsqe * pmsqe_loss(y, s)
    if w_rn:
        if y_noise is None:
            raise ValueError("w_rn needs the filtered noise (y_noise)")
        loss = loss + w_rn * residual_noise_loss(y_noise)
    if vad is None:  # architectures without a VAD head
        return loss, {"spec": ls.item(), "si_sdr": sdr.item(), "vad_bce": float("nan")}
    lv = torch.nn.functional.binary_cross_entropy(vad.clamp(1e-6, 1 - 1e-6), vad_targets(s, vad.shape[1]))
    loss = loss + w_vad * lv
    return loss, {"spec": ls.item(), "si_sdr": sdr.item(), "vad_bce": lv.item()}
