"""Codec round trips through this machine's ffmpeg/sox: length, rate, delay and similarity to the input."""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from voxclean.audio import load, resample
from voxclean.codec import ffmpeg as ffmpeg_mod
from voxclean.degrade import codec as codec_mod
from voxclean.degrade import make_op
from voxclean.degrade.codec import CODECS, CodecUnavailable, effective_bitrate, unavailable_reason

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
SPEECH = DATA / "speech" / "librispeech_test_other" / "1688" / "1688-142285-0000.flac"
MUST_WORK = {"opus", "mp3", "mulaw"}
WAVEFORM = {"opus", "mp3", "aac", "vorbis", "gsm", "g722", "mulaw", "alaw"}  # keep the waveform
# speex, amr-nb (CELP) and codec2 (a vocoder) keep the spectral envelope, not the waveform

pytestmark = pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg is not installed")


@pytest.fixture(scope="module")
def speech() -> tuple[np.ndarray, int]:
    if SPEECH.is_file():
        x, sr = load(SPEECH)
        return x[sr // 2: sr // 2 + 2 * sr], sr  # 2 s of speech
    # fallback: a harmonic tone with a syllable-rate envelope whose dips stay 20 dB down (not digital
    # silence, which CELP codecs fill with comfort noise and whose dB envelope would then not compare)
    t = np.arange(32000) / 16000
    x = sum(np.sin(2 * np.pi * 140 * k * t) / k for k in range(1, 15)) * np.clip(np.sin(2 * np.pi * 2.5 * t), 0.1, 1)
    return (0.2 * x).astype(np.float32), 16000


def envelope_db(x: np.ndarray, hop: int) -> np.ndarray:
    n = len(x) // hop
    return 10 * np.log10(np.mean(x[: n * hop].astype(np.float64).reshape(n, hop) ** 2, axis=1) + 1e-9)


def residual_lag(x: np.ndarray, y: np.ndarray, max_lag: int) -> int:
    c = np.correlate(y.astype(np.float64), x.astype(np.float64)[max_lag:-max_lag], mode="valid")
    return int(np.argmax(c)) - max_lag


def test_the_required_codecs_are_available_here():
    for name in MUST_WORK:
        assert unavailable_reason(name) is None, unavailable_reason(name)


@pytest.mark.parametrize("name", list(CODECS))
def test_codec_round_trip_keeps_length_rate_and_resembles_the_input(name, speech):
    why = unavailable_reason(name)
    if why and name not in MUST_WORK:
        pytest.skip(why)
    x, sr = speech
    op = make_op({"name": "codec", "codec": name}).resolve(x, sr, np.random.default_rng(0))
    y, info = op.render(x, sr)
    assert y.shape == x.shape and y.dtype == np.float32
    assert np.isfinite(y).all()
    assert np.max(np.abs(y - x)) > 1e-3, "the round trip changed nothing"
    env_r = np.corrcoef(envelope_db(x, sr // 50), envelope_db(y, sr // 50))[0, 1]
    assert env_r > 0.8, f"{name}: envelope correlation {env_r:.2f}"
    if name in WAVEFORM:
        r = np.corrcoef(x, y)[0, 1]
        assert r > 0.9, f"{name}: waveform correlation {r:.3f}"
        assert abs(residual_lag(x, y, 80)) <= 1, f"{name}: codec delay left in the output"
    assert info["bitrate"] == op.bitrate and info["codec_rate"] in CODECS[name].rates


@pytest.mark.parametrize("name", ["opus", "mp3"])
def test_codec_keeps_a_44k_input_at_44k(name, speech):
    x16, sr = speech
    x = resample(x16, sr, 44100)
    y = make_op({"name": "codec", "codec": name, "bitrate": "48k"}).apply(x, 44100, np.random.default_rng(0))
    assert y.shape == x.shape
    assert np.corrcoef(x, y)[0, 1] > 0.9


def test_lower_bitrate_degrades_more(speech):
    x, sr = speech
    errs = []
    for b in ("8k", "64k"):
        y = make_op({"name": "codec", "codec": "opus", "bitrate": b}).apply(x, sr, np.random.default_rng(0))
        errs.append(np.sum((y - x) ** 2))
    assert errs[0] > 2 * errs[1]


def test_codec_is_deterministic_and_multichannel(speech):
    x, sr = speech
    st = np.stack([x, 0.5 * x[::-1]])
    op = make_op({"name": "codec", "codec": "mp3", "bitrate": 32000})
    a = op.apply(st, sr, np.random.default_rng(0))
    b = op.apply(st, sr, np.random.default_rng(1))
    assert a.shape == st.shape
    np.testing.assert_array_equal(a, b)
    assert np.corrcoef(a[1], st[1])[0, 1] > 0.9


def test_bitrates_are_parsed_and_snapped():
    assert effective_bitrate(CODECS["opus"], "12k") == 12000
    assert effective_bitrate(CODECS["amr-nb"], "12k") == 12200
    assert effective_bitrate(CODECS["codec2"], 1000) == 1200
    assert effective_bitrate(CODECS["codec2"], "700C") == 700
    assert effective_bitrate(CODECS["gsm"], 64000) == 13200  # fixed-rate codec
    with pytest.raises(ValueError, match="bit rate"):
        effective_bitrate(CODECS["opus"], "fast")


def test_unknown_and_unavailable_codecs_raise_clear_errors(monkeypatch, speech):
    x, sr = speech
    with pytest.raises(ValueError, match="unknown codec 'flac9'"):
        make_op({"name": "codec", "codec": "flac9"}).apply(x, sr, np.random.default_rng(0))
    monkeypatch.setattr(ffmpeg_mod, "_ffmpeg_encoders", lambda: frozenset({"libopus"}))
    with pytest.raises(CodecUnavailable, match="lacks the libmp3lame encoder"):
        make_op({"name": "codec", "codec": "mp3"}).apply(x, sr, np.random.default_rng(0))


def test_align_removes_a_known_delay(speech):
    x, _ = speech
    delayed = np.concatenate([np.zeros(37, np.float32), x])[: len(x)]
    y, lag = codec_mod.align(x, delayed, 1600)
    assert lag == 37 and y.shape == x.shape
    np.testing.assert_array_equal(y[: len(x) - 37], x[: len(x) - 37])
    early, lag2 = codec_mod.align(x, x[25:], 1600)
    assert lag2 == -25 and early.shape == x.shape
