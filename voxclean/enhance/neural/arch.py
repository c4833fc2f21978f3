"""Other architectures of seed 001 §5 in small causal configurations, trainable by the same pipeline
(``model: {arch: unet | convtasnet | dccrn, ...}`` in a ``voxclean train`` config). Every model maps a
batch of waveforms to enhanced waveforms of the same length: ``forward_wave(x (B, L)) -> (y, None)``.
They are offline modules (no carried state); a checkpoint runs as the ``neural-arch`` method
(:mod:`voxclean.enhance.neural.arch_enhancer`) in ``voxclean bench`` / ``enhance``.

* :class:`UNetMask` -- U-Net masking (Ronneberger et al. 2015; as a spectral mask, e.g. Jansson et al.
  2017): the compressed magnitude ``|X|^0.3`` of the 320/160 STFT goes through a conv encoder that
  halves the frequency axis at each level and a transposed-conv decoder with skip connections;
  ``M = sigmoid(.)`` in (0, 1) per bin and ``Y = M X``. Time kernels span the current and previous
  frame only (left padding), so it is causal with the STFT's 20 ms latency.
* :class:`ConvTasNet` -- Conv-TasNet (Luo & Mesgarani 2019): learned encoder (``L`` = 32 samples,
  stride 16), a TCN separator of ``R`` x ``X`` blocks (1x1 conv, PReLU, cumulative-free channel norm,
  depthwise conv with dilation ``2^x`` padded on the left only, PReLU, norm, 1x1 conv, residual),
  sigmoid mask on the encoder output, transposed-conv decoder. Causal up to the 32-sample (2 ms)
  encoder window.
* :class:`DCCRN` -- DCCRN (Hu et al. 2020), the "E" mask and a real LSTM (the paper's DCCRN-R
  variant): complex convolutions ``W * X = (W_r * X_r - W_i * X_i) + j (W_r * X_i + W_i * X_r)``
  over (time, frequency) with causal time kernels, an LSTM over the flattened bottleneck, complex
  transposed convolutions with skip connections, and the complex ratio mask applied in polar form
  ``Y = |X| tanh(|M|) e^{j (arg X + arg M)}``.
"""
from __future__ import annotations

import torch
from torch import nn

from voxclean.enhance.neural.model import N_FFT, istft, stft

N_BINS = N_FFT // 2 + 1


class _CausalConv2d(nn.Module):
    """Conv over (time, freq) with ``kt`` time taps on the current and past frames only."""

    def __init__(self, cin: int, cout: int, kt: int = 2, kf: int = 3, sf: int = 2):
        super().__init__()
        self.kt = kt
        self.conv = nn.Conv2d(cin, cout, (kt, kf), stride=(1, sf), padding=(0, kf // 2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:       # B C T F
        return self.conv(nn.functional.pad(x, (0, 0, self.kt - 1, 0)))


class _CausalDeconv2d(nn.Module):
    def __init__(self, cin: int, cout: int, kt: int = 2, kf: int = 3, sf: int = 2):
        super().__init__()
        self.kt = kt
        self.conv = nn.ConvTranspose2d(cin, cout, (kt, kf), stride=(1, sf), padding=(0, kf // 2))

    def forward(self, x: torch.Tensor, f_out: int) -> torch.Tensor:
        y = self.conv(x)[:, :, : x.shape[2]]                  # drop the frames that would look ahead
        if y.shape[-1] < f_out:
            y = nn.functional.pad(y, (0, f_out - y.shape[-1]))
        return y[..., :f_out]


class UNetMask(nn.Module):
    def __init__(self, channels: tuple[int, ...] = (16, 32, 32, 64)):
        super().__init__()
        ch = (1,) + tuple(channels)
        self.enc = nn.ModuleList([_CausalConv2d(ch[i], ch[i + 1]) for i in range(len(channels))])
        self.dec = nn.ModuleList([_CausalDeconv2d(2 * ch[i + 1], ch[i] if i else 8) for i in reversed(range(len(channels)))])
        self.out = nn.Conv2d(8, 1, 1)
        self.act = nn.ELU()

    def forward_wave(self, x: torch.Tensor):
        spec = stft(x)                                           # B T K 2
        mag = torch.sqrt(spec[..., 0] ** 2 + spec[..., 1] ** 2 + 1e-12)
        h = (mag ** 0.3).unsqueeze(1)                            # B 1 T K
        skips, sizes = [], []
        for conv in self.enc:
            sizes.append(h.shape[-1])
            h = self.act(conv(h))
            skips.append(h)
        for i, deconv in enumerate(self.dec):
            h = self.act(deconv(torch.cat([h, skips[-1 - i]], 1), sizes[-1 - i]))
        mask = torch.sigmoid(self.out(h))[:, 0]                 # B T K
        return istft(spec * mask.unsqueeze(-1), x.shape[-1]), None


class _ChanNorm(nn.Module):
    """Per-frame layer norm over channels (the causal "cLN" of Conv-TasNet without accumulation)."""

    def __init__(self, c: int):
        super().__init__()
        self.norm = nn.LayerNorm(c)

    def forward(self, x: torch.Tensor) -> torch.Tensor:       # B C T
        return self.norm(x.transpose(1, 2)).transpose(1, 2)


class _TCNBlock(nn.Module):
    def __init__(self, b: int, h: int, k: int, dilation: int):
        super().__init__()
        self.pad = (k - 1) * dilation
        self.net1 = nn.Sequential(nn.Conv1d(b, h, 1), nn.PReLU(), _ChanNorm(h))
        self.dw = nn.Conv1d(h, h, k, dilation=dilation, groups=h)
        self.net2 = nn.Sequential(nn.PReLU(), _ChanNorm(h), nn.Conv1d(h, b, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.net1(x)
        y = self.dw(nn.functional.pad(y, (self.pad, 0)))
        return x + self.net2(y)


class ConvTasNet(nn.Module):
    def __init__(self, n: int = 128, l: int = 32, b: int = 64, h: int = 128, p: int = 3, x: int = 6, r: int = 2):
        super().__init__()
        self.l, self.stride = l, l // 2
        self.encoder = nn.Conv1d(1, n, l, stride=self.stride, bias=False)
        self.sep = nn.Sequential(_ChanNorm(n), nn.Conv1d(n, b, 1),
                                 *[_TCNBlock(b, h, p, 2 ** i) for _ in range(r) for i in range(x)],
                                 nn.PReLU(), nn.Conv1d(b, n, 1))
        self.decoder = nn.ConvTranspose1d(n, 1, l, stride=self.stride, bias=False)

    def forward_wave(self, x: torch.Tensor):
        n = x.shape[-1]
        pad = (-(n - self.l) % self.stride) if n >= self.l else self.l - n
        w = torch.relu(self.encoder(nn.functional.pad(x, (0, pad)).unsqueeze(1)))
        y = self.decoder(w * torch.sigmoid(self.sep(w)))[:, 0]
        return y[:, :n], None


class _ComplexConv2d(nn.Module):
    def __init__(self, cin: int, cout: int, transpose: bool = False):
        super().__init__()
        mk = _CausalDeconv2d if transpose else _CausalConv2d
        self.re, self.im, self.transpose = mk(cin, cout), mk(cin, cout), transpose

    def forward(self, xr, xi, f_out: int | None = None):
        args = (f_out,) if self.transpose else ()
        return self.re(xr, *args) - self.im(xi, *args), self.re(xi, *args) + self.im(xr, *args)


class DCCRN(nn.Module):
    def __init__(self, channels: tuple[int, ...] = (16, 32, 32, 32), lstm: int = 128):
        super().__init__()
        ch = (1,) + tuple(channels)
        self.enc = nn.ModuleList([_ComplexConv2d(ch[i], ch[i + 1]) for i in range(len(channels))])
        self.dec = nn.ModuleList([_ComplexConv2d(2 * ch[i + 1], ch[i] if i else 1, transpose=True)
                                  for i in reversed(range(len(channels)))])
        f = N_BINS
        for _ in channels:
            f = (f - 1) // 2 + 1
        self.f_bottom, self.c_bottom = f, channels[-1]
        feat = 2 * channels[-1] * f
        self.lstm = nn.LSTM(feat, lstm, batch_first=True)
        self.proj = nn.Linear(lstm, feat)

    def forward_wave(self, x: torch.Tensor):
        spec = stft(x)                                           # B T K 2
        xr, xi = spec[..., 0].unsqueeze(1), spec[..., 1].unsqueeze(1)
        skips, sizes = [], []
        for conv in self.enc:
            sizes.append(xr.shape[-1])
            xr, xi = conv(xr, xi)
            xr, xi = nn.functional.prelu(xr, xr.new_tensor([0.25])), nn.functional.prelu(xi, xi.new_tensor([0.25]))
            skips.append((xr, xi))
        b, c, t, f = xr.shape
        z, _ = self.lstm(torch.cat([xr, xi], 1).permute(0, 2, 1, 3).reshape(b, t, 2 * c * f))
        z = self.proj(z).view(b, t, 2 * c, f).permute(0, 2, 1, 3)
        xr, xi = z[:, :c], z[:, c:]
        for i, deconv in enumerate(self.dec):
            sr, si = skips[-1 - i]
            xr, xi = deconv(torch.cat([xr, sr], 1), torch.cat([xi, si], 1), sizes[-1 - i])
            if i < len(self.dec) - 1:
                xr, xi = nn.functional.prelu(xr, xr.new_tensor([0.25])), nn.functional.prelu(xi, xi.new_tensor([0.25]))
        mr, mi = xr[:, 0], xi[:, 0]                              # complex ratio mask, B T K
        m_mag = torch.tanh(torch.sqrt(mr ** 2 + mi ** 2 + 1e-12))
        x_mag = torch.sqrt(spec[..., 0] ** 2 + spec[..., 1] ** 2 + 1e-12)
        phase = torch.atan2(spec[..., 1], spec[..., 0]) + torch.atan2(mi, mr + 1e-12)
        y = torch.stack([x_mag * m_mag * torch.cos(phase), x_mag * m_mag * torch.sin(phase)], -1)
        return istft(y, x.shape[-1]), None


ARCHS = {"unet": UNetMask, "convtasnet": ConvTasNet, "dccrn": DCCRN}


def build(arch: str, **kwargs) -> nn.Module:
    if arch not in ARCHS:
        raise ValueError(f"unknown architecture {arch!r}; available: erbdf, {', '.join(sorted(ARCHS))}")
    kwargs = {k: tuple(v) if isinstance(v, list) else v for k, v in kwargs.items()}
    return ARCHS[arch](**kwargs)
