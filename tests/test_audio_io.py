import subprocess

import numpy as np
import pytest
import soundfile as sf

from voxclean.audio import AudioError, load, resample, save
from voxclean.audio.io import find_audio, read_blocks


def tone(sr=16000, seconds=1.0, f=440.0):
    t = np.arange(int(sr * seconds)) / sr
    return (0.3 * np.sin(2 * np.pi * f * t)).astype(np.float32)


@pytest.mark.parametrize("subtype", ["PCM_16", "PCM_24", "PCM_32", "FLOAT"])
def test_integer_and_float_samples_load_as_float32(tmp_path, subtype):
    x = tone()
    sf.write(tmp_path / "a.wav", x, 16000, subtype=subtype)
    y, sr = load(tmp_path / "a.wav")
    assert y.dtype == np.float32 and sr == 16000
    assert np.max(np.abs(y - x)) < 1e-4


@pytest.mark.parametrize("fmt,ext", [("FLAC", "flac"), ("OGG", "ogg")])
def test_flac_and_ogg(tmp_path, fmt, ext):
    x = tone()
    sf.write(tmp_path / f"a.{ext}", x, 16000, format=fmt)
    y, sr = load(tmp_path / f"a.{ext}")
    assert sr == 16000 and abs(len(y) - len(x)) < 2000
    assert np.corrcoef(y[:8000], x[:8000])[0, 1] > 0.9


def test_mp3_and_m4a_through_ffmpeg(tmp_path):
    x = tone()
    sf.write(tmp_path / "a.wav", x, 16000)
    for ext in ("mp3", "m4a"):
        subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(tmp_path / "a.wav"), str(tmp_path / f"a.{ext}")],
                       check=True)
        y, sr = load(tmp_path / f"a.{ext}")
        assert sr == 16000 and abs(len(y) - len(x)) < 3000 and np.max(np.abs(y)) > 0.2


def test_multichannel_policy(tmp_path):
    x = np.stack([tone(f=300), tone(f=500)])
    sf.write(tmp_path / "st.wav", x.T, 16000)
    keep, _ = load(tmp_path / "st.wav")
    mono, _ = load(tmp_path / "st.wav", channels="downmix")
    right, _ = load(tmp_path / "st.wav", channels=1)
    assert keep.shape == (2, 16000) and mono.shape == (16000,)
    assert np.allclose(mono, x.mean(0), atol=1e-4) and np.allclose(right, x[1], atol=1e-4)


def test_resample_on_load_and_any_rate(tmp_path):
    for sr in (8000, 22050, 44100, 48000):
        sf.write(tmp_path / f"r{sr}.wav", tone(sr), sr)
        y, out_sr = load(tmp_path / f"r{sr}.wav", sr=16000)
        assert out_sr == 16000 and len(y) == 16000
    assert len(resample(tone(48000), 48000, 8000)) == 8000


@pytest.mark.parametrize("make,problem", [
    (lambda p: p.write_bytes(b""), "empty"),
    (lambda p: p.write_text("not audio at all"), "not an audio file"),
    (lambda p: sf.write(p, np.zeros(16000, np.float32), 16000), "silent"),
    (lambda p: sf.write(p, np.array([0.1, np.nan, 0.2] * 100, np.float32), 16000, subtype="FLOAT"), "NaN"),
    (lambda p: sf.write(p, tone(4000), 4000), "below the supported minimum"),
])
def test_bad_input_errors_name_file_and_problem(tmp_path, make, problem):
    path = tmp_path / "bad.wav"
    make(path)
    with pytest.raises(AudioError) as err:
        load(path)
    assert str(path) in str(err.value) and problem in str(err.value)


def test_truncated_wav_and_flac_are_reported(tmp_path):
    sf.write(tmp_path / "full.wav", tone(seconds=2), 16000)
    sf.write(tmp_path / "full.flac", np.random.default_rng(0).standard_normal(32000).astype(np.float32) * 0.1, 16000)
    for ext in ("wav", "flac"):
        data = (tmp_path / f"full.{ext}").read_bytes()
        (tmp_path / f"cut.{ext}").write_bytes(data[: len(data) // 2])
        with pytest.raises(AudioError, match="truncated"):
            load(tmp_path / f"cut.{ext}")
    with pytest.raises(AudioError, match="not found"):
        load(tmp_path / "missing.wav")


def test_save_is_atomic_and_refuses_to_overwrite(tmp_path):
    out = tmp_path / "o.wav"
    save(out, tone(), 16000)
    with pytest.raises(FileExistsError):
        save(out, tone(), 16000, overwrite=False)
    with pytest.raises(AudioError):
        save(tmp_path / "n.wav", np.array([np.inf], np.float32), 16000)
    assert not (tmp_path / "n.wav").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".part")] == []


def test_read_blocks_covers_the_file(tmp_path):
    x = np.random.default_rng(1).standard_normal((2, 50000)).astype(np.float32) * 0.1
    sf.write(tmp_path / "b.wav", x.T, 16000, subtype="FLOAT")
    blocks = list(read_blocks(tmp_path / "b.wav", block_seconds=1.0))
    assert [b.shape[1] for b in blocks] == [16000, 16000, 16000, 2000]
    assert np.array_equal(np.concatenate(blocks, axis=1), x)


def test_find_audio_is_recursive(tmp_path):
    (tmp_path / "a" / "b").mkdir(parents=True)
    for name in ("a/x.wav", "a/b/y.flac", "a/notes.txt"):
        (tmp_path / name).write_bytes(b"x")
    assert [p.name for p in find_audio(tmp_path)] == ["y.flac", "x.wav"]
