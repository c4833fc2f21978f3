"""A small causal ERB-gain + deep-filtering enhancer (DeepFilterNet-style, Schröter et al. 2022/2023).

Signal model, per STFT frame ``t`` (16 kHz, 20 ms periodic sqrt-Hann window, 10 ms hop, 161 bins;
the framing of :class:`voxclean.audio.stft.StftStream`, so the algorithmic latency is
``n_fft - hop`` = 160 samples = 10 ms, plus the 10 ms hop of buffering = 20 ms)::

    e_t[b]   = 10 log10( sum_k F[b, k] |X_t[k]|^2 + 1e-10 )         ERB-band log power (b < 32)
    c_t[k]   = |X_t[k]|^0.3 e^{j arg X_t[k]}                          compressed complex input (k < K_df)
    h_t      = GRU( ReLU(W_in [ (e_t + 20)/20 ; c_t ]), h_{t-1} )     recurrent state carried frame to frame
    g_t      = sigmoid(W_g h_t) in (0, 1)^32,  G_t = E g_t            band gains, interpolated to bins
    Y_t[k]   = G_t[k] X_t[k] + sum_{i=0}^{N-1} C_{t,i}[k] X_{t-i}[k]  (k < K_df; deep filter, N taps)
    Y_t[k]   = G_t[k] X_t[k]                                          (k >= K_df)
    v_t      = sigmoid(w_v . h_t)                                     voice-activity probability

``F`` averages the bins of 32 rectangular bands equally spaced on the ERB-rate scale
(Glasberg & Moore 1990: ERB-rate(f) = 21.4 log10(1 + 0.00437 f)), each at least two bins wide;
``E`` interpolates the band gains linearly between band centres. The deep filter (Mack & Habets
2020; Schröter et al. 2022, eq. 4) only uses the current and past frames, so it adds no latency;
its head starts at zero, so an untrained model is a pure gain model. Everything is causal: the
state is ``(h, X_{t-N+1..t-1}[:K_df])``, carried explicitly by :meth:`NeuralSE.step` (and the ONNX
export). With ``pre_wiener_db > 0`` the input frames ``X_t`` are first multiplied by a causal Wiener
gain (:mod:`voxclean.enhance.neural.prefilter`), outside the module. With ``noise_features`` the GRU
input also holds ``(10 log10(F N_t) + 20) / 20``, the ERB-band log power of ``N_t``, the noise PSD
estimate of the same causal MMSE tracker (Gerkmann & Hendriks 2012) on the raw input frames, passed in
by the caller like the pre-gain (an explicit long-term noise floor; measured in weights/README.md:
no gain over a control at 75 CPU-minutes of fine-tuning).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import nn

from voxclean.enhance.neural.erb import erb_edges, erb_matrices  # noqa: F401  (re-exported)

SR = 16000
N_FFT = 320
HOP = 160


@dataclass
class ModelConfig:
    erb_bands: int = 32
    hidden: int = 128
    layers: int = 2
    df_bins: int = 64
    df_order: int = 3
    pre_wiener_db: float = 0.0      # > 0: causal Wiener pre-gain on the input frames (see .prefilter)
    noise_features: bool = False    # also feed the MMSE tracker's noise PSD in ERB bands (see .prefilter)

    def to_dict(self) -> dict:
        return asdict(self)


class NeuralSE(nn.Module):
    """ERB gains + deep filter on the lowest ``df_bins`` bins, one GRU stack; see module docstring.

    Spectra are real tensors ``(..., bins, 2)`` (real, imaginary) so that the same code exports to ONNX.
    """

    def __init__(self, cfg: ModelConfig | None = None):
        super().__init__()
        self.cfg = cfg = cfg or ModelConfig()
        n_bins = N_FFT // 2 + 1
        fwd, exp = erb_matrices(n_bins, cfg.erb_bands)
        self.register_buffer("erb_fwd", torch.from_numpy(fwd.T.copy()))   # bins x bands
        self.register_buffer("erb_exp", torch.from_numpy(exp.T.copy()))   # bands x bins
        self.inp = nn.Linear(cfg.erb_bands * (2 if cfg.noise_features else 1) + 2 * cfg.df_bins, cfg.hidden)
        self.gru = nn.GRU(cfg.hidden, cfg.hidden, num_layers=cfg.layers, batch_first=True)
        self.gain = nn.Linear(cfg.hidden, cfg.erb_bands)
        self.df = nn.Linear(cfg.hidden, cfg.df_bins * cfg.df_order * 2)
        self.vad = nn.Linear(cfg.hidden, 1)
        nn.init.zeros_(self.df.weight)
        nn.init.zeros_(self.df.bias)
        nn.init.constant_(self.gain.bias, 2.0)   # start near pass-through (gain 0.88)

    # -- state -----------------------------------------------------------------------------------
    def initial_state(self, batch: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
        c, dev = self.cfg, self.erb_fwd.device
        h = torch.zeros(c.layers, batch, c.hidden, device=dev)
        hist = torch.zeros(batch, max(c.df_order - 1, 0), c.df_bins, 2, device=dev)
        return h, hist

    # -- core ------------------------------------------------------------------------------------
    def _features(self, spec: torch.Tensor, noise: torch.Tensor | None = None) -> torch.Tensor:
        power = spec[..., 0] ** 2 + spec[..., 1] ** 2                       # B T K
        erb = 10 * torch.log10(power @ self.erb_fwd + 1e-10)
        low = spec[..., : self.cfg.df_bins, :]
        mag = torch.sqrt(low[..., 0] ** 2 + low[..., 1] ** 2 + 1e-12)
        comp = low * (mag ** -0.7).unsqueeze(-1)                             # |X|^0.3 e^{j arg X}
        feats = [(erb + 20.0) / 20.0, comp.flatten(-2)]
        if self.cfg.noise_features:
            if noise is None:
                raise ValueError("NeuralSE: this model has noise_features; pass the tracker's noise PSD (B, T, K)")
            feats.append((10 * torch.log10(noise @ self.erb_fwd + 1e-10) + 20.0) / 20.0)
        return torch.cat(feats, dim=-1)

    def forward(self, spec: torch.Tensor, h: torch.Tensor, hist: torch.Tensor, noise: torch.Tensor | None = None,
                part: torch.Tensor | None = None):
        """spec (B, T, K, 2) noisy frames [, noise (B, T, K): noise PSD estimate of the raw input frames,
        only with ``noise_features``] -> (enhanced (B, T, K, 2), vad (B, T), h', hist').

        ``part`` (B, T, K, 2), training only: a component of ``spec`` (e.g. its noise) run through the same
        time-varying linear filter (gains and deep-filter taps computed from ``spec``, zero history);
        the filtered component is then returned as a fifth output."""
        c = self.cfg
        z = torch.relu(self.inp(self._features(spec, noise)))
        z, h = self.gru(z, h)
        g = torch.sigmoid(self.gain(z)) @ self.erb_exp                       # B T K
        coef = self.df(z).view(*spec.shape[:2], c.df_order, c.df_bins, 2) if c.df_bins and c.df_order else None
        out, hist = self._filter(spec, g, coef, hist)
        vad = torch.sigmoid(self.vad(z)).squeeze(-1)
        if part is not None:
            return out, vad, h, hist, self._filter(part, g, coef, torch.zeros_like(hist))[0]
        return out, vad, h, hist

    def _filter(self, spec: torch.Tensor, g: torch.Tensor, coef: torch.Tensor | None, hist: torch.Tensor):
        """Y_t = G_t X_t, plus the deep filter sum_i C_{t,i} X_{t-i} on the low bins (module docstring)."""
        c = self.cfg
        out = spec * g.unsqueeze(-1)
        if coef is None:
            return out, hist
        t = spec.shape[1]
        low = torch.cat([hist, spec[:, :, : c.df_bins]], dim=1)              # B (N-1+T) Kd 2
        acc = torch.zeros_like(spec[:, :, : c.df_bins])
        n1 = c.df_order - 1
        for i in range(c.df_order):                                           # tap i uses X_{t-i}
            xi = low[:, n1 - i: n1 - i + t]
            ci = coef[:, :, i]
            acc = acc + torch.stack([ci[..., 0] * xi[..., 0] - ci[..., 1] * xi[..., 1],
                                     ci[..., 0] * xi[..., 1] + ci[..., 1] * xi[..., 0]], dim=-1)
        out = torch.cat([out[:, :, : c.df_bins] + acc, out[:, :, c.df_bins:]], dim=2)
        return out, (low[:, low.shape[1] - n1:] if n1 else hist)

    def n_params(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def macs_per_frame(self) -> int:
        """Multiply-accumulates per 10 ms frame (dense layers, GRU, ERB maps, deep filter)."""
        c, k = self.cfg, N_FFT // 2 + 1
        gru = sum(3 * (c.hidden * c.hidden * 2) for _ in range(c.layers))
        dense = (c.erb_bands + 2 * c.df_bins) * c.hidden + c.hidden * (c.erb_bands + 1 + c.df_bins * c.df_order * 2)
        maps = 2 * k * c.erb_bands
        df = 4 * c.df_bins * c.df_order
        return gru + dense + maps + df


# -- STFT in torch, identical framing to voxclean.audio.stft.StftStream ------------------------------
def _window() -> torch.Tensor:
    return torch.sqrt(0.5 - 0.5 * torch.cos(2 * torch.pi * torch.arange(N_FFT, dtype=torch.float64) / N_FFT)).float()


def stft(x: torch.Tensor) -> torch.Tensor:
    """x (B, L) -> (B, T, K, 2), T = L // HOP + 1 frames, first frame ends at sample HOP."""
    xp = torch.nn.functional.pad(x, (N_FFT - HOP, N_FFT - HOP + (-x.shape[-1]) % HOP))
    frames = xp.unfold(-1, N_FFT, HOP) * _window().to(x.device)
    return torch.view_as_real(torch.fft.rfft(frames, dim=-1))


def istft(spec: torch.Tensor, length: int) -> torch.Tensor:
    """Inverse of :func:`stft` by weighted overlap-add (sqrt-Hann at 50 %: synthesis = analysis window)."""
    frames = torch.fft.irfft(torch.view_as_complex(spec.contiguous()), n=N_FFT, dim=-1) * _window().to(spec.device)
    b, t, n = frames.shape
    out = torch.nn.functional.fold(frames.transpose(1, 2), output_size=(1, (t - 1) * HOP + n),
                                   kernel_size=(1, n), stride=(1, HOP)).view(b, -1)
    return out[:, N_FFT - HOP: N_FFT - HOP + length]


def enhance_batch(model: NeuralSE, x: torch.Tensor, part: torch.Tensor | None = None):
    """Offline training/validation path: waveforms (B, L) -> (enhanced (B, L), vad (B, T)).

    With ``part`` (B, L), a component of ``x`` (training: the noise ``x - s``), also returns that component
    after the same filter the model applies to ``x``: the optional Wiener pre-gain (real, per bin, taken
    as |X'| / |X|) and the network's gains and deep-filter taps, all computed from ``x``."""
    spec, noise = stft(x), None
    gained = spec
    if model.cfg.pre_wiener_db > 0 or model.cfg.noise_features:
        from voxclean.enhance.neural.prefilter import prefilter_batch
        gained, noise = prefilter_batch(spec, model.cfg.pre_wiener_db, model.cfg.noise_features)
    h, hist = model.initial_state(x.shape[0])
    if part is None:
        out, vad, _, _ = model(gained, h, hist, noise)
        return istft(out, x.shape[-1]), vad
    p = stft(part)
    if gained is not spec:
        mag = lambda z: torch.sqrt(z[..., 0] ** 2 + z[..., 1] ** 2)
        p = p * (mag(gained) / mag(spec).clamp_min(1e-12)).unsqueeze(-1)
    out, vad, _, _, out_p = model(gained, h, hist, noise, part=p)
    return istft(out, x.shape[-1]), vad, istft(out_p, x.shape[-1])
