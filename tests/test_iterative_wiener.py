"""The seed-002 iterative Wiener filter: all-pole fit, gain matching, streaming, and real improvement."""
import numpy as np
import pytest
import scipy.linalg
from pesq import pesq
from scipy.signal import lfilter

from conftest import need_data
from test_vad import synthetic_speech
from voxclean.enhance import ENHANCERS
from voxclean.enhance.classic.iterative_wiener import all_pole_psd, default_order, iterative_wiener_gain
from voxclean.enhance.classic.lpc import autocorr_from_power, full_circle_mean, levinson
from conftest import stream_in_random_blocks


def _noisy(sr, snr_db, colour=0.0, seed=1):
    clean = synthetic_speech(sr)
    noise = lfilter([1.0], [1.0, -colour], np.random.default_rng(seed).standard_normal(len(clean)))
    noise *= np.sqrt(np.mean(clean ** 2) / np.mean(noise ** 2) / 10 ** (snr_db / 10))
    return clean, (clean + noise).astype(np.float32)


def test_levinson_matches_scipy_toeplitz_solver_in_both_paths():
    rng = np.random.default_rng(0)
    frames = lfilter([1.0], [1.0, -1.3, 0.8], rng.standard_normal((8, 512)), axis=1) * np.hanning(512)
    r = autocorr_from_power(np.abs(np.fft.rfft(frames, axis=1)) ** 2, 10)
    a, err = levinson(r, 10, lag0_boost=0.0)                 # 8 frames: the vectorised recursion
    a_small, err_small = levinson(r[:2], 10, lag0_boost=0.0)  # 2 frames: row by row (streaming path)
    assert np.allclose(a[:2], a_small, atol=1e-10) and np.allclose(err[:2], err_small, rtol=1e-9)
    for i in range(8):
        ref = scipy.linalg.solve_toeplitz(r[i, :10], -r[i, 1:11])
        assert np.allclose(a[i, 1:], ref, atol=1e-9)
        assert np.isclose(err[i], r[i, 0] + r[i, 1:11] @ ref)
    assert np.allclose(a[:, 1:3].mean(axis=0), [-1.3, 0.8], atol=0.05)   # recovers the AR(2) generator
    silent, e0 = levinson(np.zeros((2, 11)), 10)
    assert np.array_equal(silent[:, 0], [1, 1]) and not silent[:, 1:].any() and not e0.any()


def test_all_pole_psd_energy_matches_the_target_and_follows_the_spectrum():
    rng = np.random.default_rng(1)
    n_fft = 512
    frames = lfilter([1.0], [1.0, -1.6, 0.9], rng.standard_normal((3, n_fft)), axis=1) * np.hanning(n_fft)
    power = np.abs(np.fft.rfft(frames, axis=1)) ** 2
    energy = np.array([1.0, 0.5, 2.0])
    psd = all_pole_psd(power, energy, 12, n_fft)
    assert np.allclose(full_circle_mean(psd, n_fft), energy)              # seed §3.4 gain matching
    peak = np.argmax(np.mean(power, axis=0))
    assert abs(int(np.argmax(psd[0])) - peak) <= 3                        # resonance where the data peak is


def test_gain_uses_frame_minus_noise_energy():
    n_fft, bins = 256, 129
    rng = np.random.default_rng(2)
    power = rng.exponential(1.0, (2, bins)) * 4.0
    noise = np.full((2, bins), 4.0)                       # frames no louder than the noise -> floor
    g = iterative_wiener_gain(power, noise, 8, 2, 0.1, n_fft)
    assert np.all(g < 0.2)
    g_loud = iterative_wiener_gain(power * 100, noise, 8, 2, 0.1, n_fft)
    assert np.mean(g_loud) > 0.8                          # 20 dB above the noise -> mostly passed


def test_default_order():
    assert default_order(8000) == 12 and default_order(16000) == 20 and default_order(48000) == 24


@pytest.mark.parametrize("kwargs", [{}, {"noise": "white", "iterations": 3}])
@pytest.mark.parametrize("sr", [8000, 16000])
def test_streaming_equals_offline(sr, kwargs):
    _, noisy = _noisy(sr, 5.0)
    enh = ENHANCERS.get("iterative-wiener", **kwargs)
    offline = enh.enhance(noisy, sr)
    assert offline.shape == noisy.shape and offline.dtype == np.float32 and np.isfinite(offline).all()
    streamed = stream_in_random_blocks(enh.stream(sr), noisy, 700, seed=sr)
    assert np.max(np.abs(streamed - offline)) < 1e-5


def test_improves_nb_pesq_on_real_noizeus_file():
    root = need_data("benchmarks", "noizeus")
    from voxclean.audio.io import load
    clean, sr = load(root / "clean" / "sp05.flac")
    noisy, _ = load(root / "noisy" / "car_5dB" / "sp05_car_sn5.flac")
    enhanced = ENHANCERS.get("iterative-wiener").enhance(noisy, sr)
    assert pesq(sr, clean, enhanced, "nb") > pesq(sr, clean, noisy, "nb") + 0.1


def test_improves_nb_pesq_on_synthetic_speech_and_coloured_variant_wins_in_coloured_noise():
    sr = 8000
    clean, noisy = _noisy(sr, 5.0, colour=0.95)
    base = pesq(sr, clean, noisy, "nb")
    coloured = pesq(sr, clean, ENHANCERS.get("iterative-wiener").enhance(noisy, sr), "nb")
    white = pesq(sr, clean, ENHANCERS.get("iterative-wiener", noise="white").enhance(noisy, sr), "nb")
    assert coloured > base + 0.15
    assert coloured > white + 0.05


def test_rejects_bad_parameters():
    with pytest.raises(ValueError, match="noise"):
        ENHANCERS.get("iterative-wiener", noise="pink")
    with pytest.raises(ValueError, match="iterations"):
        ENHANCERS.get("iterative-wiener", iterations=0)
