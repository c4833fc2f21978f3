"""WPE dereverberation (nara_wpe) on speech convolved with a measured room impulse response."""
from __future__ import annotations

import numpy as np
import pytest
import scipy.signal as ss

from tests.conftest import need_data
from voxclean.audio import load, resample
from voxclean.enhance import ENHANCERS
from voxclean.enhance.apply import enhance_signal
from voxclean.enhance.classic.multichannel import MultiStftStream, istft_mc, stft_mc


def si_sdr(ref: np.ndarray, est: np.ndarray) -> float:
    a = np.dot(est, ref) / np.dot(ref, ref)
    return float(10 * np.log10(np.sum((a * ref) ** 2) / np.sum((est - a * ref) ** 2)))


def reverberant(speech16k, rir: str):
    """Speech convolved with a real RIR (all its channels), and the target: direct path + 50 ms."""
    x, sr = speech16k
    h, hsr = load(need_data("rir", "real", rir))
    h = np.atleast_2d(resample(h, hsr, sr))
    d = int(np.argmax(np.abs(h[0])))
    y = np.stack([ss.fftconvolve(x, hc)[: len(x)] for hc in h]).astype(np.float32)
    target = ss.fftconvolve(x, h[0][: d + int(0.05 * sr)])[: len(x)]
    return y, target, sr


def test_multichannel_stft_reconstructs_and_matches_the_mono_stream():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 4000)).astype(np.float32)
    np.testing.assert_allclose(istft_mc(stft_mc(x, 512, 128), 512, 128, 4000), x, atol=1e-5)

    class Half:
        def process(self, spec):
            return 0.5 * spec

    st = MultiStftStream(Half(), 512, 128, 3)
    y = np.concatenate([st.push(x[:, :999]), st.push(x[:, 999:]), st.flush()], axis=1)
    np.testing.assert_allclose(y, 0.5 * x, atol=1e-5)


def test_offline_wpe_reduces_reverberation(speech16k):
    y, target, sr = reverberant(speech16k, "rir1.flac")
    z = ENHANCERS.get("wpe").enhance(y[0], sr)
    assert z.shape == y[0].shape
    before, after = si_sdr(target, y[0]), si_sdr(target, z)
    assert after > before + 1.0, (before, after)        # measured 3.2 -> 5.2 dB


def test_multichannel_wpe_keeps_channels_and_is_routed_by_enhance_signal(speech16k):
    y, target, sr = reverberant(speech16k, "medium_room.flac")   # a two-channel measurement
    assert y.shape[0] == 2
    enh = ENHANCERS.get("wpe")
    z = enhance_signal(enh, y, sr)
    assert z.shape == y.shape
    np.testing.assert_allclose(z, enh.enhance_multichannel(y, sr), atol=1e-6)
    assert si_sdr(target, z[0]) > si_sdr(target, y[0])


def test_online_wpe_streaming_equals_offline(speech16k):
    y, _, sr = reverberant(speech16k, "medium_room.flac")
    y = y[:, : int(1.5 * sr)]
    enh = ENHANCERS.get("wpe-online", taps=4)
    assert enh.causal and not ENHANCERS.get("wpe").causal
    whole = enh.enhance_multichannel(y, sr)
    rng = np.random.default_rng(5)
    st, parts, i = enh.stream_multichannel(sr, 2), [], 0
    while i < y.shape[1]:
        n = int(rng.integers(1, 2500))
        parts.append(st.push(y[:, i:i + n]))
        i += n
    parts.append(st.flush())
    np.testing.assert_allclose(np.concatenate(parts, axis=1), whole, atol=1e-5)
    mono = enh.stream(sr)
    out = np.concatenate([mono.push(y[0, :7000]), mono.push(y[0, 7000:]), mono.flush()])
    np.testing.assert_allclose(out, enh.enhance(y[0], sr), atol=1e-5)


@pytest.mark.parametrize("channels", [1, 2])
def test_fast_online_step_matches_nara_wpe(channels):
    """Our rewritten RLS step (Hermitian product, scaled P, ring buffer) == nara_wpe's OnlineWPE."""
    from nara_wpe.wpe import OnlineWPE

    from voxclean.enhance.classic.wpe import _OnlineWPE
    rng = np.random.default_rng(2)
    frames = rng.standard_normal((300, 9, channels)) + 1j * rng.standard_normal((300, 9, channels))
    frames *= np.linspace(1.0, 0.01, 9)[None, :, None]
    for start_block in (False, True):
        ours = _OnlineWPE(taps=3, delay=1, alpha=0.999, channel=channels, frequency_bins=9)
        ref = OnlineWPE(taps=3, delay=1, alpha=0.999, channel=channels, frequency_bins=9)
        first = 5 if start_block else 0
        a, b = [], []
        if start_block:
            a.append(ours.step_frame(frames[:5]))
            b.append(ref.step_frame(frames[:5]))
        a += [ours.step_frame(f) for f in frames[first:]]
        b += [ref.step_frame(f) for f in frames[first:]]
        np.testing.assert_allclose(np.stack(a), np.stack(b), rtol=1e-9, atol=1e-10)
        np.testing.assert_allclose(ours.inv_cov_now, ref.inv_cov, rtol=1e-8, atol=1e-8)
