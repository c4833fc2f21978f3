"""Paired datasets: files, manifest, exact regeneration, independence of pairs, clear errors, the CLI."""
from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from typer.testing import CliRunner

from voxclean.cli import app
from voxclean.degrade.mix import make_pairs, read_manifest, regenerate

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
CLEAN = DATA / "speech" / "cmu_arctic"
NOISE = DATA / "noise" / "dev"
RIRS = DATA / "rir" / "real"
pytestmark = pytest.mark.skipif(not (CLEAN.is_dir() and NOISE.is_dir() and RIRS.is_dir()),
                                reason="../shared/data is absent")


def pcm16(x: np.ndarray, sr: int) -> np.ndarray:
    """What soundfile stores for ``x`` as 16-bit PCM (the quantisation make_pairs applies)."""
    buf = io.BytesIO()
    sf.write(buf, x, sr, format="WAV", subtype="PCM_16")
    buf.seek(0)
    return sf.read(buf, dtype="int16")[0]


def read16(path: Path) -> np.ndarray:
    return sf.read(path, dtype="int16")[0]


@pytest.mark.parametrize("rir", [None, RIRS])
def test_pairs_are_written_and_every_manifest_line_regenerates_its_pair(tmp_path, rir):
    out = tmp_path / "set"
    lines = make_pairs(CLEAN, NOISE, out, n=5, snr=(-5, 15), seed=0, rir_dir=rir)
    assert read_manifest(out) == json.loads(json.dumps(lines))
    assert sorted(p.name for p in (out / "clean").iterdir()) == sorted(p.name for p in (out / "noisy").iterdir())
    for ln in read_manifest(out / "manifest.jsonl"):
        assert set(ln) >= {"source", "sr", "seed", "pair_seed", "snr", "noise_file", "noise_offset", "noise_gain",
                           "rir", "scale", "chain"}
        assert -5 <= ln["snr"] <= 15 and ln["sr"] == sf.info(ln["source"]).samplerate == 16000
        clean, noisy, sr = regenerate(ln)
        assert clean.shape == noisy.shape == (ln["samples"],)
        np.testing.assert_array_equal(pcm16(clean, sr), read16(out / ln["clean"]))
        np.testing.assert_array_equal(pcm16(noisy, sr), read16(out / ln["noisy"]))
        if rir is None:  # (with reverb the SNR is that of the reverberant speech, which is not stored)
            c, n = clean.astype(np.float64), noisy.astype(np.float64)
            assert abs(10 * np.log10(np.sum(c ** 2) / np.sum((n - c) ** 2)) - ln["snr"]) < 0.1
            assert ln["rir"] is None
            dry = sf.read(ln["source"], dtype="float32")[0] * np.float32(ln["scale"])
            np.testing.assert_allclose(clean, dry, atol=1e-6)
        else:
            assert Path(ln["rir"]).parent == RIRS.resolve()


def test_pair_i_depends_only_on_seed_and_i(tmp_path):
    a = make_pairs(CLEAN, NOISE, tmp_path / "a", n=2, snr=(-5, 15), seed=4)
    b = make_pairs(CLEAN, NOISE, tmp_path / "b", n=4, snr=(-5, 15), seed=4)
    c = make_pairs(CLEAN, NOISE, tmp_path / "c", n=2, snr=(-5, 15), seed=5)
    assert a == b[:2]
    for ln in a:
        assert (tmp_path / "a" / ln["noisy"]).read_bytes() == (tmp_path / "b" / ln["noisy"]).read_bytes()
    assert [x["snr"] for x in a] != [x["snr"] for x in c]
    assert len({x["source"] for x in b}) == 4  # clean utterances are not repeated before all are used


def test_single_snr_and_active_speech_snr(tmp_path):
    lines = make_pairs(CLEAN, NOISE, tmp_path / "s", n=2, snr=3.0, seed=1, active_only=True)
    assert all(ln["snr"] == 3.0 and ln["active_only"] for ln in lines)


def test_bad_inputs_give_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="noise: .*no_noise_here: no such file or folder"):
        make_pairs(CLEAN, tmp_path / "no_noise_here", tmp_path / "o1", n=1)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="clean: .*empty: folder holds no audio files"):
        make_pairs(tmp_path / "empty", NOISE, tmp_path / "o2", n=1)
    with pytest.raises(ValueError, match="overlaps the input"):
        make_pairs(CLEAN, NOISE, CLEAN / "out", n=1)
    assert not (CLEAN / "out").exists()
    make_pairs(CLEAN, NOISE, tmp_path / "o3", n=3, seed=0)
    with pytest.raises(FileExistsError, match="not empty"):
        make_pairs(CLEAN, NOISE, tmp_path / "o3", n=1)
    make_pairs(CLEAN, NOISE, tmp_path / "o3", n=1, seed=2, overwrite=True)  # stale pairs go with the old run
    assert len(list((tmp_path / "o3" / "noisy").iterdir())) == 1
    assert len(read_manifest(tmp_path / "o3")) == 1


def test_cli_mix(tmp_path):
    out = tmp_path / "cli"
    args = ["mix", "--clean", str(CLEAN), "--noise", str(NOISE), "--snr", "-5:15", "--n", "3", "--seed", "0", str(out)]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    assert "wrote 3 pairs" in res.output
    assert [ln["id"] for ln in read_manifest(out)] == [0, 1, 2]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 2 and "--overwrite" in res.output
    bad = CliRunner().invoke(app, ["mix", "--clean", str(CLEAN), "--noise", str(NOISE), "--snr", "15:-5", str(tmp_path / "x")])
    assert bad.exit_code != 0 and "LO:HI" in bad.output


def test_a_txt_list_names_audio_files_relative_to_itself(tmp_path):
    from voxclean.degrade.noise import list_audio
    d = tmp_path / "audio"
    d.mkdir()
    for name in ("a.wav", "b.wav", "c.wav"):
        sf.write(d / name, np.zeros(160, np.float32), 16000)
    lst = tmp_path / "lists" / "pick.txt"
    lst.parent.mkdir()
    lst.write_text("# chosen by BAK\n../audio/c.wav\n\n../audio/a.wav  # a comment\n")
    assert list_audio(str(lst), "speech") == [str((d / "c.wav").resolve()), str((d / "a.wav").resolve())]
    assert len(list_audio([str(lst), str(d)], "speech")) == 3          # lists and folders mix, no duplicates
    bad = lst.with_name("bad.txt")
    bad.write_text("../audio/missing.wav\n")
    with pytest.raises(FileNotFoundError, match="line 1"):
        list_audio(str(bad), "speech")
    empty = lst.with_name("empty.txt")
    empty.write_text("# nothing chosen\n")
    with pytest.raises(ValueError, match="list holds no audio"):
        list_audio(str(empty), "speech")
