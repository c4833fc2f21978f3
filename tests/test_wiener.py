import numpy as np
from pesq import pesq

from voxclean.enhance import ENHANCERS


def si_sdr(ref, est):
    a = np.dot(est, ref) / np.dot(ref, ref)
    return 10 * np.log10(np.sum((a * ref) ** 2) / np.sum((est - a * ref) ** 2))


def test_wiener_improves_pesq_and_si_sdr_on_real_noisy_speech(noisy_pair):
    clean, noisy, sr = noisy_pair
    enhanced = ENHANCERS.get("wiener").enhance(noisy, sr)
    assert enhanced.shape == noisy.shape and np.isfinite(enhanced).all()
    assert pesq(sr, clean, enhanced, "wb") > pesq(sr, clean, noisy, "wb") + 0.05
    assert si_sdr(clean, enhanced) > si_sdr(clean, noisy) + 2.0


def test_wiener_streaming_equals_offline(noisy_pair):
    _, noisy, sr = noisy_pair
    wiener = ENHANCERS.get("wiener")
    offline = wiener.enhance(noisy, sr)
    stream = wiener.stream(sr)
    parts = [stream.push(noisy[i:i + 160]) for i in range(0, len(noisy), 160)] + [stream.flush()]
    assert np.max(np.abs(np.concatenate(parts) - offline)) < 1e-5


def test_wiener_suppresses_stationary_noise_and_keeps_a_tone():
    sr = 8000
    rng = np.random.default_rng(0)
    t = np.arange(4 * sr) / sr
    tone = 0.3 * np.sin(2 * np.pi * 500 * t) * (t > 2)      # a "speech" burst after 2 s of noise
    noise = 0.05 * rng.standard_normal(len(t))
    y = ENHANCERS.get("wiener").enhance((tone + noise).astype(np.float32), sr)
    noise_only = slice(int(0.8 * sr), int(1.8 * sr))
    assert np.std(y[noise_only]) < 0.25 * np.std(noise[noise_only])   # >12 dB of suppression
    burst = slice(int(2.5 * sr), int(3.8 * sr))
    assert abs(np.std(y[burst]) / np.std(tone[burst]) - 1) < 0.1
