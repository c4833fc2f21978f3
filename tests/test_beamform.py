"""Delay-and-sum and MVDR on a simulated 4-microphone room (pyroomacoustics) with a noise interferer."""
from __future__ import annotations

import numpy as np
import pytest

from voxclean.enhance import ENHANCERS
from voxclean.enhance.apply import enhance_signal
from voxclean.enhance.classic.beamform import steering_vector

pra = pytest.importorskip("pyroomacoustics")

# 10 cm square array in the middle of a 6 x 5 x 3 m room; speech at azimuth 0, noise at azimuth 90 deg
CENTER = np.array([3.0, 2.5, 1.5])
MICS = np.array([[-0.05, 0.05, -0.05, 0.05], [-0.05, -0.05, 0.05, 0.05], [0.0, 0.0, 0.0, 0.0]])


def si_sdr(ref: np.ndarray, est: np.ndarray) -> float:
    a = np.dot(est, ref) / np.dot(ref, ref)
    return float(10 * np.log10(np.sum((a * ref) ** 2) / np.sum((est - a * ref) ** 2)))


def image(signal: np.ndarray, sr: int, source, max_order: int) -> np.ndarray:
    room = pra.ShoeBox([6, 5, 3], fs=sr, materials=pra.Material(0.5), max_order=max_order)
    room.add_microphone_array(CENTER[:, None] + MICS)
    room.add_source(source, signal=signal)
    room.compute_rir()
    room.simulate()
    return room.mic_array.signals[:, : len(signal)]


@pytest.fixture(params=[0, 3], ids=["anechoic", "reverberant"])
def scene(request, speech16k):
    x, sr = speech16k
    noise = np.random.default_rng(0).standard_normal(len(x)) * 0.05
    s = image(x, sr, [4.5, 2.5, 1.5], request.param)
    n = image(noise, sr, [3.0, 4.2, 1.5], request.param)
    n *= np.sqrt(np.sum(s[0] ** 2) / np.sum(n[0] ** 2))            # 0 dB at the reference mic
    return (s + n).astype(np.float32), s[0], sr, request.param


def test_blind_mvdr_beats_the_reference_microphone(scene):
    y, ref, sr, _ = scene
    base = si_sdr(ref, y[0])
    z = ENHANCERS.get("mvdr", postfilter=None).enhance_multichannel(y, sr)
    assert z.shape == (1, y.shape[1])
    assert si_sdr(ref, z[0]) > base + 4                                # measured +5.2 / +6.2 dB
    post = ENHANCERS.get("mvdr").enhance_multichannel(y, sr)[0]      # + log-MMSE post-filter
    assert si_sdr(ref, post) > si_sdr(ref, z[0]) + 2


def test_steered_beamformers_with_known_geometry(scene):
    y, ref, sr, order = scene
    base = si_sdr(ref, y[0])
    das = ENHANCERS.get("delay-and-sum", mic_positions=MICS, doa=0.0, postfilter=None)
    assert si_sdr(ref, das.enhance_multichannel(y, sr)[0]) > base + 2  # measured +4.0 / +3.3 dB
    if order == 0:                                                     # far-field model exact
        mvdr = ENHANCERS.get("mvdr", mic_positions=MICS, doa=0.0, postfilter=None)
        assert si_sdr(ref, mvdr.enhance_multichannel(y, sr)[0]) > base + 8   # measured +12.5 dB
    blind = ENHANCERS.get("delay-and-sum", postfilter=None).enhance_multichannel(y, sr)[0]
    assert si_sdr(ref, blind) > base                                   # eigenvector steering helps a little


def test_steering_vector_geometry():
    freqs = np.array([0.0, 1000.0])
    d = steering_vector(MICS, 0.0, freqs)             # source along +x: mics 1 and 3 are nearer
    assert d.shape == (2, 4)
    np.testing.assert_allclose(d[0], 1.0)
    np.testing.assert_allclose(d[:, 0], 1.0)
    tau = 0.1 / 343.0
    np.testing.assert_allclose(d[1, 1], np.exp(2j * np.pi * 1000 * tau), atol=1e-9)
    np.testing.assert_allclose(d[1, 2], 1.0, atol=1e-9)  # same x as the reference


def test_routing_mono_input_and_errors(speech16k):
    x, sr = speech16k
    y = np.stack([x, np.roll(x, 2)]).astype(np.float32)
    out = enhance_signal(ENHANCERS.get("delay-and-sum"), y, sr)
    assert out.shape == (1, len(x))
    mono = ENHANCERS.get("mvdr").enhance(x, sr)          # one microphone: only the post-filter
    np.testing.assert_allclose(mono, ENHANCERS.get("logmmse").enhance(x, sr), atol=1e-6)
    with pytest.raises(ValueError, match="mic_positions has 4"):
        ENHANCERS.get("mvdr", mic_positions=MICS, doa=0).enhance_multichannel(y, sr)
    with pytest.raises(ValueError, match="both mic_positions and doa"):
        ENHANCERS.get("mvdr", doa=30)
