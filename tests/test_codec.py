"""Codecs: names, eq. 1 bit rates, and real round trips through every codec this machine has."""
from __future__ import annotations

import numpy as np
import pytest
from scipy.signal import butter, hilbert, sosfiltfilt

from conftest import need_data
from voxclean.codec import (CODECS, Codec, CodecUnavailable, format_bitrate, get_codec, measured_token_bitrate,
                            parse_bitrate, token_bitrate)
from voxclean.codec.align import estimate_lag

# one configuration per family (the test budget allows one round trip each)
ROUND_TRIPS = ["opus:6k", "mp3:32k", "aac:32k", "vorbis:32k", "speex:8k", "codec2:3200", "gsm", "g722",
               "g726:32k", "mulaw", "alaw", "amr-nb:12.2k"]


@pytest.fixture(scope="module")
def utterance() -> tuple[np.ndarray, int]:
    from voxclean.audio.io import load
    x, sr = load(need_data("speech", "cmu_arctic", "cmu_arctic_us_axb_a0004.flac"), sr=16000, channels="downmix")
    return x[: int(2.5 * sr)], sr


def _skip_unavailable(codec) -> None:
    why = codec.unavailable_reason()
    if why:
        pytest.skip(f"{codec.name} unavailable here: {why}")


def test_names_carry_bitrates():
    assert get_codec("opus:12k").name == "opus:12k" and get_codec("opus:12k").bitrate == 12000
    assert get_codec("Opus:12000").name == "opus:12k"
    assert get_codec("amr-nb:12.2k").bitrate == 12200
    assert get_codec("amr:5k").bitrate == 5150                       # snapped to the nearest AMR mode
    assert get_codec("codec2:1600").name == "codec2:1600"
    assert get_codec("codec2:700C").name == "codec2:700C"
    assert get_codec("gsm").name == "gsm" and get_codec("gsm:99k").bitrate == 13200   # fixed rate
    assert get_codec("mu-law").name == "mulaw"
    assert CODECS.get("opus", bitrate=24000).name == "opus:24k"
    assert CODECS.get("opus", bitrate=24000, encode_args=()).name == "opus:24k+custom"
    assert all(isinstance(get_codec(n), Codec) for n in ("opus:6k", "amr-nb:12.2k", "gsm"))
    assert [parse_bitrate(v) for v in ("12k", "12.2k", "12000", "6kbps", 8000)] == [12000, 12200, 12000, 6000, 8000]
    assert [format_bitrate(v) for v in (12000, 12200, 4750, 700)] == ["12k", "12.2k", "4.75k", "700"]
    with pytest.raises(KeyError, match="unknown codec 'nope:1k'.*opus"):
        get_codec("nope:1k")
    with pytest.raises(ValueError, match="bit rate"):
        get_codec("opus:fast")


def test_token_bitrate_is_eq1():
    # EnCodec 24 kHz: 75 frames/s, codebooks of 1024 entries; 32 codebooks -> 24 kbit/s, 2 -> 1.5 kbit/s
    assert token_bitrate(75, 32, 1024) == 24000
    assert token_bitrate(75, 2, 1024) == 1500
    tokens = np.zeros((8, 150), dtype=np.int64)                    # 2 s at 24 kHz, 8 codebooks
    assert measured_token_bitrate(tokens, 1024, n_samples=48000, sr=24000) == 6000
    with pytest.raises(ValueError):
        token_bitrate(75, 0, 1024)


def _envelope(x: np.ndarray, sr: int) -> np.ndarray:
    e = sosfiltfilt(butter(4, 40, fs=sr, output="sos"), np.abs(hilbert(x)))
    return e - e.mean()


@pytest.mark.parametrize("name", ROUND_TRIPS)
def test_round_trip_keeps_rate_length_alignment_and_bitrate(name, utterance):
    x, sr = utterance
    codec = get_codec(name)
    _skip_unavailable(codec)
    y, bps = codec.roundtrip(x, sr)
    assert y.dtype == np.float32 and y.shape == x.shape and np.isfinite(y).all()
    ms = sr // 1000
    if codec.family == "codec2":
        # a vocoder keeps no waveform phase: check timing on the syllabic envelope (module docstring)
        assert abs(estimate_lag(_envelope(x, sr), _envelope(y, sr), 50 * ms)) <= 3 * ms
    else:
        assert abs(estimate_lag(x, y, 50 * ms)) <= ms
        rho = float(np.dot(x, y) / (np.linalg.norm(x) * np.linalg.norm(y)))
        assert rho > 0.5, f"{name}: output barely resembles the input (correlation {rho:.2f})"
    if codec.spec.cbr:
        assert abs(bps - codec.bitrate) <= 0.3 * codec.bitrate, f"{name}: measured {bps:.0f} b/s"
    else:                                     # VBR/ABR: same order of magnitude
        assert 0.4 * codec.bitrate < bps < 1.6 * codec.bitrate, f"{name}: measured {bps:.0f} b/s"


def test_decode_of_encode_equals_round_trip_and_is_deterministic(utterance):
    x, sr = utterance
    codec = get_codec("opus:12k")
    _skip_unavailable(codec)
    payload = codec.encode(x, sr)
    assert isinstance(payload, bytes) and codec.payload_bits(payload) < 8 * len(payload)  # headers excluded
    y1 = codec.decode(payload, sr, len(x))
    y2, _ = codec.roundtrip(x, sr)
    np.testing.assert_array_equal(y1, y2)


def test_narrowband_codec_at_48k_resamples_in_and_out():
    from voxclean.audio.io import load
    x, sr = load(need_data("speech", "multirate", "sample1_48kHz.flac"), channels="downmix")
    codec = get_codec("gsm")
    _skip_unavailable(codec)
    y, bps = codec.roundtrip(x, sr)
    assert y.shape == x.shape and sr == 48000
    spec = np.abs(np.fft.rfft(y)) ** 2
    f = np.fft.rfftfreq(len(y), 1 / sr)
    assert spec[f > 4500].sum() < 1e-4 * spec.sum()               # coded at 8 kHz: nothing above 4 kHz
    assert abs(bps - 13200) < 0.05 * 13200


def test_stereo_round_trip_codes_each_channel(utterance):
    x, sr = utterance
    codec = get_codec("mulaw")
    _skip_unavailable(codec)
    stereo = np.stack([x, 0.5 * x[::-1]])
    y, bps = codec.roundtrip(stereo, sr)
    assert y.shape == stereo.shape
    np.testing.assert_allclose(bps, 2 * 64000, rtol=0.01)
    assert np.dot(y[1], stereo[1]) > 0.9 * np.linalg.norm(y[1]) * np.linalg.norm(stereo[1])


def test_unavailable_codec_says_what_is_missing(monkeypatch, utterance):
    from voxclean.codec import ffmpeg
    monkeypatch.setattr(ffmpeg, "_ffmpeg_encoders", lambda: frozenset({"aac"}))
    codec = get_codec("opus:12k")
    assert "libopus" in codec.unavailable_reason()
    with pytest.raises(CodecUnavailable, match="lacks the libopus encoder.*available here: .*aac"):
        codec.encode(*utterance)


def test_cli_lists_codecs_and_round_trips_a_file(tmp_path, utterance):
    from typer.testing import CliRunner

    from voxclean.audio.io import load, save
    from voxclean.cli import app
    runner = CliRunner()
    res = runner.invoke(app, ["codecs"])
    assert res.exit_code == 0, res.output
    for name in ("opus:6k", "codec2:1600", "amr-nb:12.2k", "mulaw"):
        assert name in res.output
    x, sr = utterance
    src = save(tmp_path / "in.wav", x, sr)
    if get_codec("g722").unavailable_reason():
        pytest.skip("g722 unavailable")
    res = runner.invoke(app, ["codec", "g722", str(src), str(tmp_path / "out.wav")])
    assert res.exit_code == 0, res.output
    assert "64.00 kbit/s" in res.output
    y, ysr = load(tmp_path / "out.wav")
    assert ysr == sr and y.shape == x.shape
    res = runner.invoke(app, ["codec", "g722", str(src), str(src)])
    assert res.exit_code != 0 and "overwrite the input" in res.output
