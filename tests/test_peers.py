"""Peer adapters (noisereduce, RNNoise, DeepFilterNet3) on real speech and real noise."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from voxclean.audio import load
from voxclean.bench.delay import estimate_delay
from voxclean.bench.peers import NATIVE_DELAY, PEERS, measure_native_delay
from conftest import stream_in_random_blocks

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
SPEECH = DATA / "speech" / "cmu_arctic" / "cmu_arctic_us_aew_a0001.flac"
NOISE = DATA / "noise" / "dev" / "cafe_short.flac"

needs_data = pytest.mark.skipif(not SPEECH.exists() or not NOISE.exists(),
                                reason="shared data folder not available")


def peer_params(names=tuple(PEERS)):
    return [pytest.param(n, marks=pytest.mark.skipif(importlib.util.find_spec(PEERS[n][0]) is None,
                                                     reason=f"{PEERS[n][0]} not installed"))
            for n in names]


@pytest.fixture(scope="module")
def speech():
    return load(SPEECH)


@pytest.fixture(scope="module")
def noisy_with_lead(speech):
    """1 s of cafe noise alone, then speech + cafe noise at 5 dB SNR (16 kHz)."""
    s, sr = speech
    n, _ = load(NOISE, sr=sr, channels="downmix")
    x = np.concatenate([np.zeros(sr, np.float32), s])
    n = np.resize(n, len(x))
    g = np.sqrt(np.sum(s ** 2) / np.sum(n[sr:] ** 2) / 10 ** 0.5)
    return (x + g * n).astype(np.float32), sr


def _db(a, b):
    return 10 * np.log10(np.sum(a.astype(np.float64) ** 2) / np.sum(b.astype(np.float64) ** 2))


STRONG_PEERS = ("noisereduce", "rnnoise", "deepfilternet3")   # pyroomacoustics' baselines are weaker


@needs_data
@pytest.mark.parametrize("name", peer_params(STRONG_PEERS))
def test_peer_reduces_noise_not_speech(name, noisy_with_lead):
    from voxclean.enhance import ENHANCERS
    x, sr = noisy_with_lead
    enh = ENHANCERS.get(name)
    y = enh.enhance(x, sr)
    assert y.shape == x.shape and y.dtype == np.float32 and np.isfinite(y).all()
    noise_only, speech_part = slice(int(0.3 * sr), sr), slice(sr, None)
    drop_noise = _db(y[noise_only], x[noise_only])
    drop_speech = _db(y[speech_part], x[speech_part])
    assert drop_noise < -10, f"{name}: noise-only segment only {drop_noise:.1f} dB lower"
    assert drop_speech > -12, f"{name}: speech segment {drop_speech:.1f} dB lower"
    assert drop_noise < drop_speech - 8   # it discriminates, rather than turning everything down


@needs_data
@pytest.mark.parametrize("name", peer_params())
def test_output_is_time_aligned(name, speech):
    """After delay compensation the output/input cross-correlation peaks at lag 0 ± 1 ms."""
    from voxclean.enhance import ENHANCERS
    s, sr = speech
    y = ENHANCERS.get(name).enhance(s, sr)
    assert len(y) == len(s)
    assert abs(estimate_delay(s, y, sr // 10)) <= sr // 1000


@needs_data
@pytest.mark.parametrize("name", peer_params(("rnnoise", "deepfilternet3")))
def test_native_delay_constant_matches_measurement(name, speech):
    """The documented constant is what the raw (uncompensated) peer really does."""
    s, sr = speech
    assert measure_native_delay(name, s, sr) == NATIVE_DELAY[name]


@needs_data
@pytest.mark.parametrize("name", peer_params(("rnnoise", "deepfilternet3")))
@pytest.mark.parametrize("sr", [16000, 48000])
def test_stream_equals_offline(name, sr, speech):
    from voxclean.audio import resample
    from voxclean.enhance import ENHANCERS
    s16, sr16 = speech
    x = resample(s16[: 2 * sr16], sr16, sr)
    enh = ENHANCERS.get(name)
    y = enh.enhance(x, sr)
    st = enh.stream(sr)
    ys = stream_in_random_blocks(st, x, 2000, seed=0)
    assert len(ys) == len(x)
    np.testing.assert_allclose(ys, y, atol=1e-4)
    assert st.latency == round(NATIVE_DELAY[name] * sr / 48000)


@pytest.mark.parametrize("name", peer_params())
def test_peers_registered(name):
    from voxclean.enhance import ENHANCERS
    assert name in ENHANCERS
    enh = ENHANCERS.get(name)
    assert enh.name == name
    assert enh.sample_rate == (48000 if name in ("rnnoise", "deepfilternet3") else None)
    assert enh.causal is (name in ("rnnoise", "deepfilternet3"))


@pytest.mark.parametrize("name", peer_params(("noisereduce",)))
def test_noisereduce_is_offline_only(name):
    from voxclean.enhance import ENHANCERS
    with pytest.raises(NotImplementedError):
        ENHANCERS.get(name).stream(16000)


def test_estimate_delay_on_shifted_signal():
    rng = np.random.default_rng(1)
    x = rng.standard_normal(4000)
    assert estimate_delay(x, np.concatenate([np.zeros(37), x])[:4000], 100) == 37
    assert estimate_delay(x, x[25:], 100) == -25


@needs_data
@pytest.mark.parametrize("name", peer_params(("pra-specsub",)))
def test_pyroomacoustics_specsub_reduces_noise(name, noisy_with_lead):
    from voxclean.enhance import ENHANCERS
    x, sr = noisy_with_lead
    y = ENHANCERS.get(name).enhance(x, sr)
    assert y.shape == x.shape and np.isfinite(y).all()
    assert _db(y[int(0.3 * sr):sr], x[int(0.3 * sr):sr]) < -5
