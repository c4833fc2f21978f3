"""Hard noise types on real speech: clicks (declick) and wind/rumble (dewind)."""
from __future__ import annotations

import numpy as np
import pytest
import scipy.signal as ss

from voxclean.enhance import ENHANCERS
from voxclean.enhance.classic.hard_noise import ar_fit, lsar_interpolate
from conftest import stream_in_random_blocks


def snr_db(ref: np.ndarray, est: np.ndarray) -> float:
    return float(10 * np.log10(np.sum(ref ** 2) / np.sum((ref - est) ** 2)))


def add_clicks(x: np.ndarray, sr: int, per_second: float, seed: int) -> np.ndarray:
    """Clicks of 1 sample to 1 ms, amplitude 0.2-0.8, exponentially decaying, random sign."""
    rng = np.random.default_rng(seed)
    y = x.astype(np.float64).copy()
    for p in rng.integers(100, len(x) - 100, int(per_second * len(x) / sr)):
        w = int(rng.integers(1, int(1e-3 * sr) + 1))
        y[p:p + w] += rng.uniform(0.2, 0.8) * rng.choice([-1, 1]) * np.exp(-np.arange(w) / max(w / 3, 1))
    return y.astype(np.float32)


def wind(n: int, sr: int, seed: int) -> np.ndarray:
    """Wind-like noise: white noise low-passed at 100 Hz (12 dB/octave), with 1 Hz gusts."""
    rng = np.random.default_rng(seed)
    b, a = ss.butter(2, 100 / (sr / 2))
    w = ss.lfilter(b, a, rng.standard_normal(n))
    b, a = ss.butter(1, 1.0 / (sr / 2))
    gust = ss.lfilter(b, a, rng.standard_normal(n))
    return w * np.maximum(1 + 0.6 * gust / np.std(gust), 0.05)


def above(x: np.ndarray, sr: int, f: float = 300.0) -> np.ndarray:
    b, a = ss.butter(4, f / (sr / 2), "high")
    return ss.filtfilt(b, a, x)


def test_lsar_matches_the_least_squares_solution_and_restores_a_gap():
    rng = np.random.default_rng(0)
    e = rng.standard_normal(400)
    x = ss.lfilter([1.0], [1.0, -1.6, 0.9], e)            # AR(2) process
    a = ar_fit(x, 2)
    np.testing.assert_allclose(a, [1.6, -0.9], atol=0.08)
    gap = np.arange(200, 206)
    damaged = x.copy()
    damaged[gap] += 20.0
    y = lsar_interpolate(damaged, a, gap)
    # dense least squares: minimise ||A x||^2 over the unknowns
    c = np.concatenate([[1.0], -a])
    A = np.zeros((len(x) - 2, len(x)))
    for k in range(3):
        A[np.arange(len(x) - 2), np.arange(len(x) - 2) + 2 - k] = c[k]
    known = np.ones(len(x), bool)
    known[gap] = False
    ref = np.linalg.lstsq(A[:, ~known], -A[:, known] @ damaged[known], rcond=None)[0]
    np.testing.assert_allclose(y[gap], ref, atol=1e-6)
    err = np.sqrt(np.mean((y[gap] - x[gap]) ** 2))
    linear = np.interp(gap, [gap[0] - 1, gap[-1] + 1], [x[gap[0] - 1], x[gap[-1] + 1]])
    err_linear = np.sqrt(np.mean((linear - x[gap]) ** 2))
    assert err < 0.6 * err_linear, (err, err_linear)     # the AR model predicts across the gap


def test_declick_removes_clicks_and_keeps_clean_speech(speech16k):
    x, sr = speech16k
    clicked = add_clicks(x, sr, per_second=15, seed=1)
    enh = ENHANCERS.get("declick")
    before, after = snr_db(x, clicked), snr_db(x, enh.enhance(clicked, sr))
    assert after > before + 6, (before, after)            # measured 15.0 -> 23.9 dB
    assert snr_db(x, enh.enhance(x, sr)) > 25                # clean speech passes nearly untouched


def test_declick_streaming_equals_offline(speech16k):
    x, sr = speech16k
    clicked = add_clicks(x[: 2 * sr], sr, per_second=20, seed=2)
    enh = ENHANCERS.get("declick")
    offline = enh.enhance(clicked, sr)
    y = stream_in_random_blocks(enh.stream(sr), clicked, 3000, seed=3)
    assert len(y) == len(clicked)
    np.testing.assert_allclose(y, offline, atol=1e-6)


def test_dewind_raises_the_cutoff_for_wind_and_keeps_speech(speech16k):
    x, sr = speech16k
    w = wind(len(x), sr, seed=4)
    w *= np.sqrt(np.mean(x ** 2) / np.mean(w ** 2))          # 0 dB
    noisy = (x + w).astype(np.float32)
    enh = ENHANCERS.get("dewind")
    st = enh.stream(sr)
    y = np.concatenate([st.push(noisy), st.flush()])
    cutoffs = np.array(st.processor.cutoffs)
    assert np.median(cutoffs) > 150
    assert snr_db(x, y) > snr_db(x, noisy) + 4                # wind energy removed
    low_in = np.sum((noisy - above(noisy, sr)) ** 2)
    low_out = np.sum((y - above(y, sr)) ** 2)
    assert 10 * np.log10(low_in / low_out) > 6
    # on clean speech the cut-off stays low and the speech band is untouched
    st = enh.stream(sr)
    yc = np.concatenate([st.push(x), st.flush()])
    assert np.median(st.processor.cutoffs) < 100
    assert snr_db(above(x, sr), above(yc, sr)) > 30


def test_fixed_highpass_and_bad_arguments(speech16k):
    x, sr = speech16k
    y = ENHANCERS.get("dewind", cutoff=250.0).enhance(x, sr)
    spec_in = np.abs(np.fft.rfft(x)) ** 2
    spec_out = np.abs(np.fft.rfft(y)) ** 2
    f = np.fft.rfftfreq(len(x), 1 / sr)
    band = (f > 60) & (f < 150)
    assert 10 * np.log10(spec_in[band].sum() / spec_out[band].sum()) > 15
    with pytest.raises(ValueError, match="mono"):
        ENHANCERS.get("declick").enhance(np.zeros((2, 100), np.float32), sr)
