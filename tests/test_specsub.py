"""Spectral subtraction (Berouti) and multi-band spectral subtraction (Kamath & Loizou)."""
import numpy as np
import pytest
from pesq import pesq
from scipy.signal import lfilter

from conftest import need_data
from test_vad import synthetic_speech
from voxclean.audio.stft import stft
from voxclean.enhance import ENHANCERS
from voxclean.enhance.classic.specsub import band_edges, band_weight, berouti_alpha
from conftest import stream_in_random_blocks

METHODS = [("specsub", {}), ("specsub", {"exponent": 1}), ("specsub", {"noise": "vad", "alpha": 2.0}),
           ("specsub-multiband", {}), ("specsub-multiband", {"noise": "vad", "spacing": "log", "n_bands": 6})]


def test_berouti_over_subtraction_rule():
    snr = [-10.0, -5.0, 0.0, 10.0, 20.0, 30.0]
    assert np.allclose(berouti_alpha(snr, 2), [4.75, 4.75, 4.0, 2.5, 1.0, 1.0])
    assert np.allclose(berouti_alpha(snr, 1), [4.0, 3.5, 3.0, 2.0, 1.0, 1.0])


def test_multiband_bands_and_weights_follow_kamath_loizou():
    bands = band_edges(8000, 512, 4)
    assert bands[0][0] == 0 and bands[-1][1] == 257 and len(bands) == 4
    assert all(a < b for a, b in bands) and all(b == c for (_, b), (c, _) in zip(bands, bands[1:]))
    # at 8 kHz: <= 1 kHz -> 1, (1 kHz, fs/2 - 2 kHz = 2 kHz] -> 2.5, above -> 1.5
    assert [band_weight(f, 8000) for f in (1000, 2000, 3000, 4000)] == [1.0, 2.5, 1.5, 1.5]
    assert [band_weight(f, 16000) for f in (1000, 5000, 6500)] == [1.0, 2.5, 1.5]


@pytest.mark.parametrize("name,kwargs", METHODS)
def test_streaming_equals_offline(name, kwargs):
    sr = 16000 if kwargs.get("spacing") == "log" else 8000
    clean = synthetic_speech(sr)
    noisy = (clean + 0.03 * np.random.default_rng(0).standard_normal(len(clean))).astype(np.float32)
    enh = ENHANCERS.get(name, **kwargs)
    offline = enh.enhance(noisy, sr)
    assert offline.shape == noisy.shape and np.isfinite(offline).all()
    streamed = stream_in_random_blocks(enh.stream(sr), noisy, 600, seed=3)
    assert np.max(np.abs(streamed - offline)) < 1e-5


@pytest.mark.parametrize("name", ["specsub", "specsub-multiband"])
def test_improves_nb_pesq_on_real_noizeus_file(name):
    root = need_data("benchmarks", "noizeus")
    from voxclean.audio.io import load
    clean, sr = load(root / "clean" / "sp05.flac")
    noisy, _ = load(root / "noisy" / "car_5dB" / "sp05_car_sn5.flac")
    enhanced = ENHANCERS.get(name).enhance(noisy, sr)
    assert pesq(sr, clean, enhanced, "nb") > pesq(sr, clean, noisy, "nb") + 0.2


@pytest.mark.parametrize("name,kwargs", METHODS[:4])
def test_improves_nb_pesq_on_synthetic_speech_in_coloured_noise(name, kwargs):
    sr = 8000
    clean = synthetic_speech(sr)
    noise = lfilter([1.0], [1.0, -0.95], np.random.default_rng(1).standard_normal(len(clean)))
    noisy = (clean + noise * np.sqrt(np.mean(clean ** 2) / np.mean(noise ** 2) / 10 ** 0.5)).astype(np.float32)
    enhanced = ENHANCERS.get(name, **kwargs).enhance(noisy, sr)
    assert pesq(sr, clean, enhanced, "nb") > pesq(sr, clean, noisy, "nb") + 0.15


def _isolated_peaks(y, sr):
    p = np.abs(stft(y[sr:], 256, 128))[2:-4] ** 2
    return np.mean(p > 10 * np.median(p))


def test_magnitude_averaging_reduces_musical_noise_and_floor_bounds_suppression():
    sr = 8000
    x = (0.05 * np.random.default_rng(3).standard_normal(4 * sr)).astype(np.float32)
    plain = ENHANCERS.get("specsub", tau_avg=0.0).enhance(x, sr)
    averaged = ENHANCERS.get("specsub", tau_avg=0.04).enhance(x, sr)
    assert _isolated_peaks(averaged, sr) < 0.7 * _isolated_peaks(plain, sr)
    for y in (plain, averaged):
        atten_db = 10 * np.log10(np.mean(y[sr:] ** 2) / np.mean(x[sr:] ** 2))
        assert -25 < atten_db < -10          # noise suppressed, but the spectral floor keeps some


def test_rejects_bad_parameters():
    with pytest.raises(ValueError, match="exponent"):
        ENHANCERS.get("specsub", exponent=3)
    with pytest.raises(ValueError, match="noise"):
        ENHANCERS.get("specsub-multiband", noise="oracle")
    with pytest.raises(ValueError, match="spacing"):
        ENHANCERS.get("specsub-multiband", spacing="mel").enhance(np.ones(4000, np.float32) * 0.1, 8000)
