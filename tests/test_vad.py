"""The seed-002 VAD: level, dual-time-constant floor, hysteresis, and detection on real speech."""
import numpy as np
import pytest
from scipy.signal import lfilter

from conftest import need_data
from voxclean.audio.stft import frame_sizes, stft
from voxclean.enhance.classic.vad import SeedVad, VadNoisePsd, floor_track, hysteresis, segments, vad


def synthetic_speech(sr, seconds=3.0, seed=0):
    """Voiced 'syllables' (glottal pulses through three formant resonators) separated by pauses."""
    rng = np.random.default_rng(seed)
    out = np.zeros(int(seconds * sr))
    t = int(0.3 * sr)
    while t < len(out) - int(0.35 * sr):
        n = int(rng.uniform(0.15, 0.3) * sr)
        f0 = rng.uniform(100, 220) * (1 + 0.1 * np.linspace(-1, 1, n))
        y = lfilter([1.0], [1.0, -0.9], (np.diff(np.floor(np.cumsum(f0 / sr)), prepend=0) > 0).astype(float))
        for f, bw in zip(sorted(rng.uniform([300, 900, 2000], [800, 1800, 3000])), (80, 120, 200)):
            r = np.exp(-np.pi * bw / sr)
            y = lfilter([1 - r], [1, -2 * r * np.cos(2 * np.pi * f / sr), r * r], y)
        out[t:t + n] += y * np.hanning(n)
        t += n + int(rng.uniform(0.05, 0.15) * sr)
    return (0.3 * out / np.max(np.abs(out))).astype(np.float32)


def test_hysteresis_holds_the_previous_decision_between_the_thresholds():
    ratio = np.array([1.0, 1.5, 2.5, 1.5, 1.2, 1.1, 1.5, 1.9, 2.1, 1.0])
    got = hysteresis(ratio, t_up=2.0, t_down=1.15)
    #                 below, between(0), above, between(1), between(1), below, between(0), between(0), above, below
    assert got.tolist() == [0, 0, 1, 1, 1, 0, 0, 0, 1, 0]
    assert hysteresis(np.array([1.5]), 2.0, 1.15, prev=1).tolist() == [1]


def test_floor_rises_with_tau_up_and_falls_with_tau_down():
    c_up, c_down = 0.01, 0.3
    up = floor_track(np.full(50, 10.0), 1.0, c_up, c_down)
    assert np.allclose(up, 10 - 9 * (1 - c_up) ** np.arange(1, 51))        # slow rise towards a louder level
    down = floor_track(np.full(20, 0.1), 1.0, c_up, c_down)
    assert np.allclose(down, 0.1 + 0.9 * (1 - c_down) ** np.arange(1, 21))  # fast fall to a quieter level
    assert np.allclose(floor_track(np.array([5.0]), 1.0, 2.0, 2.0), [5.0])  # T/tau clipped to 1


def test_vad_is_causal_and_block_size_independent():
    sr = 8000
    rng = np.random.default_rng(1)
    x = synthetic_speech(sr) + 0.02 * rng.standard_normal(3 * sr)
    n_fft, hop = frame_sizes(sr, 32, 2)
    spec = stft(x, n_fft, hop)
    whole = SeedVad(sr, n_fft, hop).update(spec)
    v = SeedVad(sr, n_fft, hop)
    cuts = np.sort(rng.choice(np.arange(1, len(spec)), 12, replace=False))
    parts = [v.update(s) for s in np.split(spec, cuts)]
    assert np.array_equal(np.concatenate([p.decision for p in parts]), whole.decision)
    assert np.allclose(np.concatenate([p.floor for p in parts]), whole.floor)


def _check_padded_speech(clean, sr, pad_zero_min, active_one_min):
    rng = np.random.default_rng(0)
    pad = np.zeros(sr, np.float32)
    c = np.concatenate([pad, clean, pad])
    x = c + rng.standard_normal(len(c)) * np.sqrt(np.mean(clean ** 2)) * 0.1        # 20 dB SNR
    times, ratio, dec = vad(x, sr)
    assert len(times) == len(ratio) == len(dec) and set(np.unique(dec)) <= {0, 1}
    n_fft, hop = frame_sizes(sr, 32, 2)
    level = 10 * np.log10(np.sum(np.abs(stft(c, n_fft, hop)[:len(dec)]) ** 2, axis=1) + 1e-12)
    active = level > level.max() - 25
    in_pads = (times < 1.0 - n_fft / sr) | (times > 1.0 + len(clean) / sr + n_fft / sr)
    assert np.mean(dec[in_pads] == 0) >= pad_zero_min
    assert np.mean(dec[active] == 1) >= active_one_min
    segs = segments(times, dec, hop / sr)
    assert segs and segs[0][0] > 0.9 and segs[-1][1] < 1.1 + len(clean) / sr


def test_vad_finds_real_speech_between_noise_pads():
    from voxclean.audio.io import load
    clean, sr = load(sorted(need_data("speech", "cmu_arctic").glob("*.flac"))[0])
    _check_padded_speech(clean, sr, pad_zero_min=0.95, active_one_min=0.85)


def test_vad_finds_synthetic_speech_between_noise_pads():
    _check_padded_speech(synthetic_speech(16000), 16000, pad_zero_min=0.95, active_one_min=0.85)


def test_vad_noise_psd_converges_to_the_noise_periodogram():
    sr, sigma = 8000, 0.05
    n_fft, hop = frame_sizes(sr, 32, 2)
    rng = np.random.default_rng(2)
    spec = stft(sigma * rng.standard_normal(3 * sr), n_fft, hop)[n_fft // hop:-n_fft // hop]
    psd = VadNoisePsd(sr, n_fft, hop, tau_noise=0.5).update(spec)
    # E|Y_k|^2 of white noise through the sqrt-Hann window = sigma^2 * sum(w^2) = sigma^2 * n_fft / 2
    expected = sigma ** 2 * n_fft / 2
    assert abs(np.mean(psd[-1][1:-1]) / expected - 1) < 0.1


def test_vad_rejects_bad_parameters():
    with pytest.raises(ValueError, match="t_up"):
        SeedVad(8000, 256, 128, t_up=1.1, t_down=1.5)
    with pytest.raises(ValueError, match="mono"):
        vad(np.zeros((2, 800), np.float32), 8000)
