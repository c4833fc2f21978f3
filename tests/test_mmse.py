"""MMSE-STSA and log-MMSE: gain formulas, speech-presence uncertainty, streaming == offline, NOIZEUS PESQ."""
from __future__ import annotations

import numpy as np
import pytest
from scipy.special import exp1, i0, i1

from tests.conftest import need_data
from voxclean.audio import load
from voxclean.enhance import ENHANCERS
from voxclean.enhance.classic.mmse import lsa_gain, presence_probability, stsa_gain
from conftest import stream_in_random_blocks


def test_gain_tables_match_the_closed_forms():
    rng = np.random.default_rng(0)
    xi = 10 ** rng.uniform(-2.5, 4, 5000)
    gamma = 10 ** rng.uniform(-3, 4, 5000)
    v = xi / (1 + xi) * gamma
    small = v < 600                                  # I0, I1 overflow beyond; i0e/i1e are used inside
    with np.errstate(over="ignore", invalid="ignore"):
        stsa_ref = (np.sqrt(np.pi) / 2 * np.sqrt(v) / gamma * np.exp(-v / 2)
                    * ((1 + v) * i0(v / 2) + v * i1(v / 2)))
    np.testing.assert_allclose(stsa_gain(xi, gamma)[small], stsa_ref[small], rtol=1e-5)
    np.testing.assert_allclose(stsa_gain(xi, gamma), stsa_gain(xi, gamma, exact=True), rtol=1e-5)
    lsa_ref = xi / (1 + xi) * np.exp(0.5 * exp1(v))
    np.testing.assert_allclose(lsa_gain(xi, gamma), lsa_ref, rtol=1e-5)


def test_gain_limits_and_ordering():
    # at high SNR both tend to the Wiener gain; the LSA gain is always below the STSA gain (E&M 1985)
    xi, gamma = np.array([1e3]), np.array([1e3])
    assert abs(stsa_gain(xi, gamma)[0] - xi[0] / (1 + xi[0])) < 2e-3
    assert abs(lsa_gain(xi, gamma)[0] - xi[0] / (1 + xi[0])) < 2e-3
    rng = np.random.default_rng(1)
    xi, gamma = 10 ** rng.uniform(-2, 2, 1000), 10 ** rng.uniform(-1, 2, 1000)
    assert np.all(lsa_gain(xi, gamma) < stsa_gain(xi, gamma))


def test_presence_probability_follows_the_evidence():
    q = 0.3
    loud = presence_probability(np.array([10.0]), np.array([30.0]), q)[0]
    quiet = presence_probability(np.array([0.01]), np.array([0.5]), q)[0]
    assert loud > 0.99 and quiet < 0.75
    assert presence_probability(np.array([1.0]), np.array([2.0]), 0.0)[0] == 1.0


@pytest.mark.parametrize("name,kw", [
    ("mmse-stsa", {}),
    ("logmmse", {}),
    ("logmmse", {"q": "cohen", "snr": "tcs"}),
    ("mmse-stsa", {"q": "tracker", "spu": True}),
    ("logmmse", {"declick": True, "highpass": "auto"}),
    ("logmmse", {"noise": "mcra"}),
])
def test_streaming_equals_offline(noisy_pair, name, kw):
    _, noisy, sr = noisy_pair
    x = noisy[: 3 * sr]
    enh = ENHANCERS.get(name, **kw)
    offline = enh.enhance(x, sr)
    assert offline.shape == x.shape and offline.dtype == np.float32
    streamed = stream_in_random_blocks(enh.stream(sr), x, 1500, seed=7)
    np.testing.assert_allclose(streamed, offline, atol=1e-5)


def test_noise_only_input_is_attenuated_to_the_floor(noisy_pair):
    clean, noisy, sr = noisy_pair
    noise = (noisy - clean)[: 3 * sr]
    for name in ("mmse-stsa", "logmmse"):
        y = ENHANCERS.get(name).enhance(noise, sr)
        tail = slice(sr, None)                       # after the tracker has settled
        drop = 10 * np.log10(np.sum(noise[tail] ** 2) / np.sum(y[tail] ** 2))
        assert 7 < drop < 25, (name, drop)           # towards the 18 dB floor (measured 10.5, 12.0)


@pytest.mark.parametrize("name", ["mmse-stsa", "logmmse"])
def test_improves_nb_pesq_on_a_real_noizeus_file(name):
    from pesq import pesq
    root = need_data("benchmarks", "noizeus")
    clean, sr = load(root / "clean" / "sp01.flac")
    noisy, _ = load(root / "noisy" / "car_5dB" / "sp01_car_sn5.flac")
    n = min(len(clean), len(noisy))
    clean, noisy = clean[:n], noisy[:n]
    enhanced = ENHANCERS.get(name).enhance(noisy, sr)
    before = pesq(sr, clean, noisy, "nb")
    after = pesq(sr, clean, enhanced, "nb")
    assert after > before + 0.15, (before, after)


def test_mcra_tracks_stationary_noise_under_speech(noisy_pair):
    from voxclean.audio.stft import stft
    from voxclean.enhance.classic.mcra import McraNoiseTracker
    clean, _, sr = noisy_pair
    clean = clean[: 4 * sr]
    noise = np.random.default_rng(0).standard_normal(len(clean)) * 0.5 * np.std(clean)
    n_fft, hop = 512, 256
    Y = np.abs(stft(clean + noise, n_fft, hop)) ** 2
    true = np.mean(np.abs(stft(noise, n_fft, hop)) ** 2, axis=0)
    tracker = McraNoiseTracker(Y.shape[1], hop / sr)
    est = np.array([tracker.update(y).copy() for y in Y])
    inside = slice(40, -4)                                    # settled, and not the zero-padded tail
    err_db = 10 * np.log10(est[inside] / true)
    assert abs(np.median(err_db)) < 1.5                       # follows the noise, not the speech
    periodogram_db = 10 * np.log10(Y[inside] / true)
    assert np.mean(np.abs(err_db)) < 0.5 * np.mean(np.abs(periodogram_db))


def test_bad_options_are_refused():
    with pytest.raises(ValueError, match="q must be"):
        ENHANCERS.get("logmmse", q=1.5)
    with pytest.raises(ValueError, match="highpass"):
        ENHANCERS.get("logmmse", highpass="sometimes")
    with pytest.raises(ValueError, match="noise must be"):
        ENHANCERS.get("logmmse", noise="oracle").enhance(np.ones(4000, np.float32) * 0.1, 8000)
    with pytest.raises(ValueError, match="snr must be"):
        ENHANCERS.get("logmmse", snr="oracle").enhance(np.ones(4000, np.float32) * 0.1, 8000)
    with pytest.raises(ValueError, match="mono"):
        ENHANCERS.get("mmse-stsa").enhance(np.zeros((2, 800), np.float32), 8000)


def test_file_noise_init_estimates_the_noise_of_a_recording_that_starts_with_speech(noisy_pair):
    """noise_init='file': the tracker starts from the quietest 20 % of frames, which on a clip cut to
    start mid-speech is far closer to the true noise PSD than the first frames are."""
    from voxclean.audio.stft import StftStream, frame_sizes
    from voxclean.enhance import ENHANCERS
    from voxclean.enhance.base import _PowerRecorder
    from voxclean.enhance.classic.noise_psd import quiet_frames_psd
    clean, noisy, sr = noisy_pair
    env = np.convolve(np.abs(clean), np.ones(320) / 320, mode="same")
    start = int(np.argmax(env > 0.3 * env.max()))         # first loud speech
    c, x = clean[start:start + 3 * sr], noisy[start:start + 3 * sr]   # a short clip, as in NOIZEUS

    def periodograms(sig):
        rec = _PowerRecorder()
        st = StftStream(rec, *frame_sizes(sr, 64.0, 4))
        st.push(sig)
        st.flush()
        return np.concatenate(rec.frames)

    true = periodograms(x - c).mean(axis=0)
    p = periodograms(x)
    err = lambda est: np.mean(np.abs(10 * np.log10((est + 1e-12) / (true + 1e-12))))
    assert err(quiet_frames_psd(p)) < 0.6 * err(p[:6].mean(axis=0))   # dB, mean over bins (1.5 vs 3.2)
    plain = ENHANCERS.get("logmmse")
    two_pass = ENHANCERS.get("logmmse", noise_init="file")
    assert plain.causal and not two_pass.causal
    y1 = two_pass.enhance(x, sr)
    assert len(y1) == len(x) and not np.allclose(y1, plain.enhance(x, sr))
    s = two_pass.stream(sr)
    np.testing.assert_allclose(np.concatenate([s.push(x[:5000]), s.push(x[5000:]), s.flush()]), y1, atol=1e-6)
    with pytest.raises(ValueError, match="noise_init"):
        ENHANCERS.get("wiener", noise_init="later")


def test_bidirectional_tracking_reduces_the_lag_on_drifting_noise(noisy_pair):
    """White noise rising 24 dB over 15 s of real speech: the causal tracker lags behind (it under-
    estimates); the forward-backward mean is closer to the true noise PSD and less biased."""
    from scipy.ndimage import uniform_filter1d

    from voxclean.audio.stft import StftStream, frame_sizes
    from voxclean.enhance.base import _PowerRecorder
    from voxclean.enhance.classic.noise_psd import MmseNoiseTracker, bidirectional_noise_psd
    clean, _, sr = noisy_pair
    noise = np.random.default_rng(0).standard_normal(len(clean)) * 10 ** (np.linspace(-12, 12, len(clean)) / 20)
    noise *= np.sqrt(np.mean(clean ** 2) / np.mean(noise ** 2) / 10 ** 0.5)      # 5 dB SNR overall
    n_fft, hop = frame_sizes(sr, 64.0, 4)

    def periodograms(sig):
        rec = _PowerRecorder()
        st = StftStream(rec, n_fft, hop)
        st.push(sig.astype(np.float32))
        st.flush()
        return np.concatenate(rec.frames)

    px, true = periodograms(clean + noise), uniform_filter1d(periodograms(noise), 15, axis=0)
    tracker = MmseNoiseTracker(px.shape[1], hop / sr)
    forward = np.array([tracker.update(p).copy() for p in px])
    both, spp = bidirectional_noise_psd(px, lambda: MmseNoiseTracker(px.shape[1], hop / sr))
    assert both.shape == spp.shape == px.shape and np.all((spp >= 0) & (spp <= 1))
    err_db = lambda est: 10 * np.log10(est[10:-10] / true[10:-10])
    assert np.mean(np.abs(err_db(both))) < 0.85 * np.mean(np.abs(err_db(forward)))     # 1.37 vs 1.79 dB
    assert abs(np.median(err_db(both))) < 0.7 * abs(np.median(err_db(forward)))        # -0.38 vs -0.67 dB


@pytest.mark.parametrize("name", ["wiener", "logmmse"])
def test_bidirectional_noise_init_is_offline_streams_the_same_and_helps_on_noizeus(name):
    from pesq import pesq
    root = need_data("benchmarks", "noizeus")
    causal, offline = ENHANCERS.get(name), ENHANCERS.get(name, noise_init="bidirectional")
    assert causal.causal and not offline.causal
    before, after = [], []
    for i in (1, 2, 3):
        clean, sr = load(root / "clean" / f"sp{i:02d}.flac")
        noisy, _ = load(root / "noisy" / "train_0dB" / f"sp{i:02d}_train_sn0.flac")
        n = min(len(clean), len(noisy))
        clean, noisy = clean[:n], noisy[:n]
        y = offline.enhance(noisy, sr)
        assert len(y) == n
        before.append(pesq(sr, clean, causal.enhance(noisy, sr), "nb"))
        after.append(pesq(sr, clean, y, "nb"))
    assert np.mean(after) > np.mean(before) + 0.02, (before, after)     # logmmse: 1.540 -> 1.578
    s = offline.stream(sr)
    np.testing.assert_allclose(stream_in_random_blocks(s, noisy, 3000, seed=1), y, atol=1e-6)
