"""Each degradation on real signals (../shared/data, skipped when absent) or synthetic ones."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from voxclean.audio import load
from voxclean.degrade import DEGRADATIONS, Degradation, make_op
from voxclean.degrade.noise import Noise, activity_mask, load_mono
from voxclean.degrade.packet_loss import PacketLoss, loss_pattern
from voxclean.degrade.reverb import Reverb

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
SPEECH = DATA / "speech" / "cmu_arctic"
NOISE = DATA / "noise" / "dev"
RIRS = DATA / "rir" / "real"
needs_data = pytest.mark.skipif(not (SPEECH.is_dir() and NOISE.is_dir() and RIRS.is_dir()),
                                reason="../shared/data is absent")


def speech() -> tuple[np.ndarray, int]:
    return load(sorted(SPEECH.glob("*.flac"))[0], channels="downmix")


def synth_speech(sr: int = 16000, seconds: float = 2.0, seed: int = 0) -> np.ndarray:
    """Voiced-like bursts: harmonics of 120 Hz, syllable-rate amplitude modulation, plus a little noise."""
    t = np.arange(int(sr * seconds)) / sr
    x = sum(np.sin(2 * np.pi * 120 * k * t) / k for k in range(1, 20))
    env = np.clip(np.sin(2 * np.pi * 3 * t), 0, None) ** 2
    rng = np.random.default_rng(seed)
    return (0.3 * x * env / 3 + 0.01 * rng.standard_normal(len(t))).astype(np.float32)


def snr_db(clean: np.ndarray, noisy: np.ndarray, mask: np.ndarray | None = None) -> float:
    c, n = clean.astype(np.float64), noisy.astype(np.float64) - clean
    if mask is not None:
        c, n = c[mask], n[mask]
    return 10 * np.log10(np.sum(c ** 2) / np.sum(n ** 2))


def test_every_registered_degradation_follows_the_protocol():
    assert set(DEGRADATIONS.names()) >= {"noise", "reverb", "clip", "bandlimit", "codec", "packet_loss", "gain"}
    for name in DEGRADATIONS.names():
        op = DEGRADATIONS.get(name)
        assert isinstance(op, Degradation)
        rebuilt = DEGRADATIONS.get(**op.to_dict())
        assert rebuilt.to_dict() == op.to_dict()


@needs_data
@pytest.mark.parametrize("target", [-5.0, 0.0, 12.5])
def test_noise_reaches_the_target_snr_over_the_whole_utterance(target):
    x, sr = speech()
    op = Noise(path=str(NOISE), snr=target).resolve(x, sr, np.random.default_rng(1))
    y, info = op.render(x, sr)
    assert y.shape == x.shape and y.dtype == np.float32
    assert abs(snr_db(x, y) - target) < 0.1
    # the added signal is exactly gain * the recorded segment at the speech rate
    seg = op.noise_segment(len(x), sr)
    np.testing.assert_allclose(y - x, info["gain"] * seg, atol=1e-5)


@needs_data
def test_noise_snr_over_speech_active_frames():
    x, sr = speech()
    x = np.concatenate([np.zeros(sr, np.float32), x, np.zeros(sr, np.float32)])  # 2 s of silence around
    mask = activity_mask(x, sr, 40.0)
    assert 0.2 < mask.mean() < 0.8 and not mask[: sr // 2].any()
    y_act = Noise(path=str(NOISE), snr=5.0, active_only=True).apply(x, sr, np.random.default_rng(0))
    assert abs(snr_db(x, y_act, mask) - 5.0) < 0.1
    assert snr_db(x, y_act) < 5.0 - 1.0  # the silence lowers the whole-utterance SNR
    y_all = Noise(path=str(NOISE), snr=5.0).apply(x, sr, np.random.default_rng(0))
    assert abs(snr_db(x, y_all) - 5.0) < 0.1


@needs_data
def test_noise_is_resampled_and_looped_when_shorter():
    x, sr = speech()
    x = np.tile(x, int(np.ceil(6 * sr / len(x))))[: 6 * sr]  # 6 s: longer than the 4.5 s cafe recording
    f = NOISE / "cafe_short.flac"
    assert sf.info(str(f)).samplerate == 44100
    op = Noise(path=str(f), snr=0.0).resolve(x, sr, np.random.default_rng(2))
    n16 = load_mono(op.file, sr)
    assert abs(len(n16) - round(sf.info(str(f)).frames * sr / 44100)) <= 1
    y, info = op.render(x, sr)
    assert info["looped"]
    added = (y.astype(np.float64) - x) / info["gain"]
    idx = (op.offset + np.arange(len(x))) % len(n16)
    np.testing.assert_allclose(added, n16[idx], atol=1e-4)


@needs_data
def test_same_seed_same_output_and_different_seed_different_output():
    x, sr = speech()
    for op in (Noise(path=str(NOISE), snr=(-5, 15)), Reverb(path=str(RIRS)), PacketLoss(p=0.3)):
        a = op.apply(x, sr, np.random.default_rng(7))
        b = op.apply(x, sr, np.random.default_rng(7))
        c = op.apply(x, sr, np.random.default_rng(8))
        np.testing.assert_array_equal(a, b)
        assert not np.array_equal(a, c), op.name


def test_noise_errors_name_the_problem(tmp_path):
    x = synth_speech()
    with pytest.raises(FileNotFoundError, match="missing_dir"):
        Noise(path=str(tmp_path / "missing_dir")).apply(x, 16000, np.random.default_rng(0))
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no audio files"):
        Noise(path=str(tmp_path / "empty")).apply(x, 16000, np.random.default_rng(0))
    sf.write(tmp_path / "n.wav", 0.1 * np.ones(16000, np.float32), 16000)
    with pytest.raises(ValueError, match="speech signal is silent"):
        Noise(path=str(tmp_path / "n.wav"), snr=0).apply(np.zeros(800, np.float32), 16000, np.random.default_rng(0))


def test_packet_loss_zero_concealment_zeroes_exactly_the_lost_packets():
    sr, plen = 8000, 160
    x = (0.1 + 0.5 * np.random.default_rng(0).random(20 * sr)).astype(np.float32)  # never zero
    op = PacketLoss(p=0.25, packet_ms=20, conceal="zero").resolve(x, sr, np.random.default_rng(3))
    y, info = op.render(x, sr)
    packets = y.reshape(-1, plen)
    zeroed = np.flatnonzero(np.all(packets == 0, axis=1))
    assert list(zeroed) == op.lost
    assert info["lost_fraction"] == len(op.lost) / 1000
    assert abs(info["lost_fraction"] - 0.25) < 4 * np.sqrt(0.25 * 0.75 / 1000)
    keep = np.setdiff1d(np.arange(1000), zeroed)
    np.testing.assert_array_equal(packets[keep], x.reshape(-1, plen)[keep])


def test_packet_loss_repeat_concealment_repeats_the_previous_packet():
    sr, plen = 8000, 160
    x = np.random.default_rng(1).standard_normal(2 * sr).astype(np.float32)
    op = PacketLoss(p=0.0, conceal="repeat", lost=[0, 5, 6, 40]).resolve(x, sr, np.random.default_rng(0))
    y, _ = op.render(x, sr)
    P, X = y.reshape(-1, plen), x.reshape(-1, plen)
    assert np.all(P[0] == 0)  # nothing to repeat before the first packet
    np.testing.assert_array_equal(P[5], X[4])
    np.testing.assert_array_equal(P[6], X[4])  # a burst repeats the last good packet
    np.testing.assert_array_equal(P[40], X[39])
    np.testing.assert_array_equal(P[7], X[7])


def test_bursty_loss_has_the_asked_rate_and_burst_length():
    lost = loss_pattern(20000, 0.2, np.random.default_rng(0), burst=4.0)
    edges = np.diff(np.concatenate([[0], lost.astype(int), [0]]))
    bursts = np.flatnonzero(edges == -1) - np.flatnonzero(edges == 1)
    assert abs(lost.mean() - 0.2) < 0.03
    assert abs(bursts.mean() - 4.0) < 0.5
    iid = loss_pattern(20000, 0.2, np.random.default_rng(0))
    e2 = np.diff(np.concatenate([[0], iid.astype(int), [0]]))
    assert (np.flatnonzero(e2 == -1) - np.flatnonzero(e2 == 1)).mean() < 1.5


def _tail_energy(y: np.ndarray, start: int, stop: int) -> float:
    return float(np.sum(y[start:stop].astype(np.float64) ** 2))


@needs_data
def test_reverb_with_a_real_rir_adds_a_decaying_tail_and_keeps_the_direct_path_aligned():
    sr = 16000
    burst = np.random.default_rng(0).standard_normal(sr // 5) * np.hanning(sr // 5)
    x = np.concatenate([burst, np.zeros(sr)]).astype(np.float32)  # 0.2 s burst, 1 s silence
    op = Reverb(path=str(RIRS / "medium_room.flac")).resolve(x, sr, np.random.default_rng(0))
    y, info = op.render(x, sr)
    assert y.shape == x.shape
    end = len(burst)
    early, late = _tail_energy(y, end, end + sr // 10), _tail_energy(y, end + sr // 10, end + sr // 5)
    assert _tail_energy(x, end, len(x)) == 0
    assert early > 1e-3 * _tail_energy(y, 0, end)  # energy continues after the burst stops
    assert late < early  # ... and decays
    t = op.target(x, sr)
    # the direct-path target is the burst filtered by the +-2.5 ms window: aligned with it, and no tail
    c = np.correlate(t[: end + 100], x[: end + 100], mode="full")
    assert abs(int(np.argmax(np.abs(c))) - (end + 100 - 1)) <= 40
    assert _tail_energy(t, end + 200, len(t)) < 1e-6 * _tail_energy(t, 0, end)
    dry = Reverb(path=str(RIRS / "medium_room.flac"), direct_path_target=False)
    np.testing.assert_array_equal(dry.resolve(x, sr, np.random.default_rng(0)).target(x, sr), x)


def test_simulated_rooms_reverberate_longer_with_a_longer_rt60():
    sr = 16000
    x = np.zeros(sr, np.float32)
    x[0] = 1.0
    geometry = dict(room=[6.0, 5.0, 3.0], source=[2.0, 2.0, 1.5], mic=[4.0, 3.0, 1.5], max_order=30)
    tails = []
    for rt60 in (0.25, 0.7):
        y, _ = Reverb(rt60=rt60, size=6.0, height=3.0, distance=2.2, **geometry).resolve(
            x, sr, np.random.default_rng(0)).render(x, sr)
        tails.append(_tail_energy(y, int(0.05 * sr), sr) / _tail_energy(y, 0, int(0.005 * sr)))
    assert tails[1] > 2 * tails[0]


def test_simulated_room_geometry_is_resolved_and_recorded():
    x = synth_speech(seconds=1.0)
    op = Reverb(rt60=(0.3, 0.5), size=(4, 6), distance=(1, 2), max_order=8).resolve(x, 16000, np.random.default_rng(4))
    assert op.is_concrete and 0.3 <= op.rt60 <= 0.5 and len(op.room) == 3 and 4 <= op.room[0] <= 6
    assert abs(np.linalg.norm(np.subtract(op.source, op.mic)) - op.distance) < 1e-9
    for p in (op.source, op.mic):
        assert all(0 < c < r for c, r in zip(p, op.room))
    again = make_op(op.to_dict())
    np.testing.assert_array_equal(again.render(x, 16000)[0], op.render(x, 16000)[0])


def test_clipping_hard_and_soft():
    x = synth_speech()
    peak = float(np.max(np.abs(x)))
    y, info = make_op({"name": "clip", "threshold": 0.25}).render(x, 16000)
    assert np.isclose(np.max(np.abs(y)), 0.25 * peak, rtol=1e-6)
    assert np.isclose(info["clipped_fraction"], np.mean(np.abs(x) > 0.25 * peak))
    small = np.abs(x) <= 0.25 * peak
    np.testing.assert_array_equal(y[small], x[small])
    s, _ = make_op({"name": "clip", "threshold": 0.25, "soft": True}).render(x, 16000)
    assert np.max(np.abs(s)) < 0.25 * peak and np.all(np.diff(s[np.argsort(x)]) >= -1e-7)
    a, _ = make_op({"name": "clip", "threshold": 0.05, "relative": False}).render(x, 16000)
    assert np.isclose(np.max(np.abs(a)), 0.05)


def test_bandlimit_removes_the_stopband_and_keeps_the_passband():
    sr = 16000
    x = np.random.default_rng(0).standard_normal(2 * sr).astype(np.float32) * 0.1
    y, info = make_op({"name": "bandlimit", "high": 3400, "low": 300}).render(x, sr)
    assert info["filter"] == "bandpass" and y.shape == x.shape
    f = np.fft.rfftfreq(len(x), 1 / sr)
    X, Y = np.abs(np.fft.rfft(x)) ** 2, np.abs(np.fft.rfft(y)) ** 2
    band = lambda P, lo, hi: P[(f >= lo) & (f < hi)].sum()  # noqa: E731
    assert 10 * np.log10(band(Y, 5000, 8000) / band(X, 5000, 8000)) < -60
    assert 10 * np.log10(band(Y, 0, 100) / band(X, 0, 100)) < -40
    assert abs(10 * np.log10(band(Y, 800, 2500) / band(X, 800, 2500))) < 0.5
    same, _ = make_op({"name": "bandlimit", "high": 8000}).render(x, sr)  # at Nyquist: nothing to do
    np.testing.assert_array_equal(same, x)


def test_gain_in_db_and_multichannel_layout():
    x = np.stack([synth_speech(), synth_speech(seed=1)])
    y = make_op({"name": "gain", "db": -6.0}).apply(x, 16000, np.random.default_rng(0))
    assert y.shape == x.shape
    np.testing.assert_allclose(y, x * 10 ** (-6 / 20), rtol=1e-6)


@needs_data
def test_rir_normalisation_energy_or_direct_path():
    sr = 16000
    x = np.zeros(2 * sr, np.float32)
    x[1000] = 1.0  # an impulse: the output is the (shifted) normalised RIR itself
    rir = str(RIRS / "medium_room.flac")  # 1.9 s long, so it fits whole
    y, info = Reverb(path=rir).resolve(x, sr, np.random.default_rng(0)).render(x, sr)
    assert abs(np.sum(y.astype(np.float64) ** 2) - 1.0) < 1e-3
    assert np.argmax(np.abs(y)) == 1000  # the main peak stays where the dry impulse was
    op = Reverb(path=rir, normalize="direct").resolve(x, sr, np.random.default_rng(0))
    yd, info_d = op.render(x, sr)
    t = op.target(x, sr)
    assert abs(np.sum(t.astype(np.float64) ** 2) - 1.0) < 1e-3
    assert np.count_nonzero(np.abs(t) > 1e-7) <= 2 * round(0.0025 * sr) + 1
    e_total = np.sum(yd.astype(np.float64) ** 2)
    assert abs(10 * np.log10(1 / (e_total - 1)) - info_d["drr_db"]) < 0.05 and info_d["drr_db"] < 0
