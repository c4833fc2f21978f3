"""The PMSQE loss (voxclean/enhance/neural/pmsqe.py): the reference's numbers, PESQ's ranking, and a
gradient that raises the real PESQ."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from voxclean.enhance.neural.pmsqe import pmsqe_loss


def _harmonic_pair() -> tuple[torch.Tensor, torch.Tensor]:
    """A gliding 19-harmonic tone with a syllable-rate envelope, and the same plus white noise (seeded)."""
    sr = 16000
    t = np.arange(2 * sr) / sr
    f0 = 140 + 20 * np.sin(2 * np.pi * 0.7 * t)
    phase = 2 * np.pi * np.cumsum(f0) / sr
    s = 0.1 * sum(np.sin(k * phase) / k for k in range(1, 20)) * (0.5 + 0.5 * np.sin(2 * np.pi * 2 * t) ** 2)
    y = s + 0.02 * np.random.default_rng(0).standard_normal(len(t))
    return (torch.tensor(a, dtype=torch.float32)[None] for a in (y, s))


def test_pmsqe_matches_the_reference_implementation():
    """5.359147 is what the authors' implementation (asteroid 0.7 ``SingleSrcPMSQE``, sqrt-Hann 512/256
    STFT power spectra) gives for this pair; ours must agree."""
    y, s = _harmonic_pair()
    assert pmsqe_loss(y, s).item() == pytest.approx(5.359147, rel=1e-4)


def test_pmsqe_ranks_noise_like_pesq_and_ignores_level(noisy_pair):
    from pesq import pesq
    clean, noisy, sr = noisy_pair
    clean, noisy = clean[: 3 * sr].astype(np.float32), noisy[: 3 * sr].astype(np.float32)
    s = torch.from_numpy(clean)[None]
    assert pmsqe_loss(s, s).item() < 1e-3
    losses, ref = [], []
    for gain in (0.1, 0.5, 2.0):
        y = clean + gain * (noisy - clean)
        losses.append(pmsqe_loss(torch.from_numpy(y)[None], s).item())
        ref.append(pesq(sr, clean, y, "wb"))
    assert losses[0] < losses[1] < losses[2] and ref[0] > ref[1] > ref[2]
    y = torch.from_numpy(noisy)[None]
    assert pmsqe_loss(0.25 * y, s).item() == pytest.approx(pmsqe_loss(y, s).item(), rel=1e-4)


def test_descending_pmsqe_on_the_waveform_raises_real_pesq(noisy_pair):
    """100 Adam steps on the noisy waveform itself, minimising PMSQE against the clean speech, must raise
    the real (ITU P.862.2) WB-PESQ: the loss points where PESQ goes."""
    from pesq import pesq
    clean, noisy, sr = noisy_pair
    clean, noisy = clean[: 3 * sr].astype(np.float32), noisy[: 3 * sr].astype(np.float32)
    s = torch.from_numpy(clean)[None]
    y = torch.from_numpy(noisy)[None].clone().requires_grad_(True)
    opt = torch.optim.Adam([y], lr=1e-3)
    first = pmsqe_loss(y, s).item()
    for _ in range(100):
        loss = pmsqe_loss(y, s)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert pmsqe_loss(y, s).item() < 0.5 * first
    before, after = pesq(sr, clean, noisy, "wb"), pesq(sr, clean, y.detach().numpy()[0], "wb")
    assert after > before + 0.25, (before, after)


def test_total_loss_adds_the_weighted_term_and_training_uses_it(tmp_path):
    """``w_pmsqe`` adds exactly w x PMSQE to the loss, and ``train.w_pmsqe`` reaches the optimiser: the
    same seeded run with and without it ends with different weights."""
    from test_neural import _tiny_train_config

    from voxclean.enhance.neural.losses import total_loss
    from voxclean.enhance.neural.train import train
    y, s = _harmonic_pair()
    base, _ = total_loss(y, s, None)
    with_term, _ = total_loss(y, s, None, w_pmsqe=0.3)
    assert with_term.item() == pytest.approx(base.item() + 0.3 * pmsqe_loss(y, s).item(), rel=1e-5)
    runs = {}
    for w in (0.0, 0.3):
        cfg = _tiny_train_config(epochs=1, steps_per_epoch=2, seed=3, w_pmsqe=w)
        runs[w] = torch.load(train(cfg, out=tmp_path / f"w{w}") / "last.pt", weights_only=False)["model"]
    assert any(not torch.allclose(runs[0.0][k], runs[0.3][k]) for k in runs[0.0])
