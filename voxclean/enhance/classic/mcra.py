"""Minima-controlled recursive averaging (MCRA) noise PSD tracker, frame by frame.

Cohen & Berdugo, "Noise estimation by minima controlled recursive averaging for robust speech
enhancement", IEEE Signal Processing Letters 9(1), 2002. Per frame l and bin k, with the periodogram
``|Y|^2``:

    S_f(k)   = sum_i b(i) |Y(k - i)|^2                      frequency smoothing, b = Hann over 3 bins (eq. 6)
    S(k)     = a_s S(k) + (1 - a_s) S_f(k)                   time smoothing (eq. 7)
    S_min    = min(S_min, S), S_tmp = min(S_tmp, S)          running minimum; every L frames
               S_min = min(S_tmp, S), S_tmp = S              (eqs. 8-9, window ``min_window_s``)
    I(k)     = [S / S_min > delta]                           speech present in this bin (eq. 10)
    p(k)     = a_p p(k) + (1 - a_p) I(k)                     speech-presence probability (eq. 11)
    a_d'(k)  = a_d + (1 - a_d) p(k)                          presence-controlled smoothing (eq. 12)
    lambda_N = a_d' lambda_N + (1 - a_d') |Y|^2              noise PSD (eq. 13)

The paper's constants (``a_s = 0.8``, ``a_d = 0.95``, ``a_p = 0.2``, ``delta = 5``, ``L`` = 0.8 s at a
16 ms hop) are given per frame at 16 ms; here they are converted to time constants so the tracker
behaves the same at every hop. Same interface as
:class:`~voxclean.enhance.classic.noise_psd.MmseNoiseTracker` (``update(power) -> noise``, ``spp``).
"""
from __future__ import annotations

import numpy as np

_REF_HOP = 0.016                                   # the paper's frame period (s)


def _per_hop(a_ref: float, hop_s: float) -> float:
    """A smoothing constant given at a 16 ms hop, re-expressed for ``hop_s``."""
    return float(a_ref ** (hop_s / _REF_HOP))


class McraNoiseTracker:
    def __init__(self, n_bins: int, hop_s: float, alpha_s: float = 0.8, alpha_d: float = 0.95,
                 alpha_p: float = 0.2, delta: float = 5.0, min_window_s: float = 0.8, init_frames: int = 6):
        self.a_s, self.a_d, self.a_p = (_per_hop(a, hop_s) for a in (alpha_s, alpha_d, alpha_p))
        self.delta = delta
        self.window = max(int(round(min_window_s / hop_s)), 1)
        self.init_frames = init_frames
        self.kernel = np.array([0.25, 0.5, 0.25])    # Hann window over 3 bins, normalised
        self.noise = np.zeros(n_bins)
        self.spp = np.zeros(n_bins)
        self.S = self.S_min = self.S_tmp = None
        self._seen = 0

    def _smooth(self, power: np.ndarray) -> np.ndarray:
        padded = np.concatenate([power[:1], power, power[-1:]])
        return np.convolve(padded, self.kernel, mode="valid")

    def update(self, power: np.ndarray) -> np.ndarray:
        """Feed one periodogram frame ``|Y|^2``; returns the updated noise PSD estimate."""
        sf = self._smooth(power)
        self._seen += 1
        if self.S is None:
            self.S, self.S_min, self.S_tmp = sf.copy(), sf.copy(), sf.copy()
        else:
            self.S = self.a_s * self.S + (1 - self.a_s) * sf
            np.minimum(self.S_min, self.S, out=self.S_min)
            np.minimum(self.S_tmp, self.S, out=self.S_tmp)
            if self._seen % self.window == 0:
                self.S_min = np.minimum(self.S_tmp, self.S)
                self.S_tmp = self.S.copy()
        if self._seen <= self.init_frames:           # running mean while the minimum has no history
            self.noise += (power - self.noise) / self._seen
            self.noise = np.maximum(self.noise, 1e-12)
            return self.noise
        present = self.S > self.delta * np.maximum(self.S_min, 1e-20)
        self.spp = self.a_p * self.spp + (1 - self.a_p) * present
        a = self.a_d + (1 - self.a_d) * self.spp
        self.noise = np.maximum(a * self.noise + (1 - a) * power, 1e-12)
        return self.noise
