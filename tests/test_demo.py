"""The built-in demo: espeak-ng synthesis, self-made babble, SNR mixing, and the full run."""
from __future__ import annotations

import shutil

import numpy as np
import pytest
import soundfile as sf

from voxclean import demo
from voxclean.demo import (SynthesisError, coloured_noise, make_babble, mix_at_snr, synthesize)

needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None,
                                  reason="espeak-ng is not installed (make sysdeps installs it)")


def frame_db(x: np.ndarray, sr: int, ms: float = 50.0) -> np.ndarray:
    n = int(sr * ms / 1000)
    f = x[: len(x) // n * n].reshape(-1, n).astype(np.float64)
    return 10 * np.log10(np.mean(f ** 2, axis=1) + 1e-12)


@needs_espeak
def test_synthesize_gives_speech_like_16k_audio():
    x = synthesize("The birch canoe slid on the smooth planks.")
    assert x.dtype == np.float32 and x.ndim == 1
    dur = len(x) / 16000
    assert 1.5 < dur < 5.0, dur                                   # one sentence at 160 wpm
    assert np.sqrt(np.mean(x ** 2)) > 0.02 and np.max(np.abs(x)) <= 1.0
    db = frame_db(x, 16000)
    assert db.max() - np.percentile(db, 10) > 30                  # syllables and pauses, not a tone
    spec = np.abs(np.fft.rfft(x)) ** 2
    f = np.fft.rfftfreq(len(x), 1 / 16000)
    assert spec[(f > 80) & (f < 4000)].sum() > 0.8 * spec.sum()  # energy sits in the speech band


@needs_espeak
def test_synthesize_resamples_and_voices_differ():
    a16 = synthesize("Help the woman get back to her feet.", sr=16000)
    a8 = synthesize("Help the woman get back to her feet.", sr=8000)
    assert abs(len(a8) - len(a16) / 2) <= 2
    b = synthesize("Help the woman get back to her feet.", voice="en-gb+f3", pitch=70, speed=190)
    assert len(b) < len(a16)                                      # faster speaker, shorter sentence


@needs_espeak
def test_synthesize_errors_name_the_problem(monkeypatch):
    with pytest.raises(SynthesisError, match="qqq-nonexistent"):
        synthesize("hello", voice="qqq-nonexistent")
    monkeypatch.setattr(demo.shutil, "which", lambda name: None)
    with pytest.raises(SynthesisError, match="espeak-ng is not installed"):
        synthesize("hello")


@pytest.mark.parametrize("exponent", [1.0, 2.0])
def test_coloured_noise_has_the_requested_slope(exponent):
    sr = 16000
    x = coloured_noise(sr * 8, sr, np.random.default_rng(3), exponent=exponent)
    assert np.sqrt(np.mean(x.astype(np.float64) ** 2)) == pytest.approx(1.0, rel=1e-3)
    from scipy.signal import welch
    f, p = welch(x, sr, nperseg=4096)
    band = (f > 100) & (f < 6000)
    slope = np.polyfit(np.log10(f[band]), np.log10(p[band]), 1)[0]
    assert slope == pytest.approx(-exponent, abs=0.1)


@needs_espeak
def test_babble_is_nonstationary_with_requested_length():
    sr = 16000
    b = make_babble(4, 6.0, sr, np.random.default_rng(0))
    assert b.dtype == np.float32 and len(b) == 6 * sr
    assert np.sqrt(np.mean(b.astype(np.float64) ** 2)) == pytest.approx(1.0, rel=1e-3)
    pink = coloured_noise(len(b), sr, np.random.default_rng(0))
    talkers = make_babble(4, 6.0, sr, np.random.default_rng(0), colour_db=-100.0)
    # talkers start and stop: 50 ms frame energy fluctuates far more than in stationary noise
    # (measured: talkers alone 3.7-5.8 dB, with equal-power pink 1.5-1.8 dB, pink alone 0.8-0.9 dB)
    assert frame_db(talkers, sr).std() > 3 * frame_db(pink, sr).std()
    assert frame_db(b, sr).std() > 1.5 * frame_db(pink, sr).std()
    again = make_babble(4, 6.0, sr, np.random.default_rng(0))
    other = make_babble(4, 6.0, sr, np.random.default_rng(1))
    np.testing.assert_array_equal(b, again)
    assert np.corrcoef(b, other)[0, 1] < 0.5


def test_mix_at_snr_hits_the_requested_snr():
    rng = np.random.default_rng(0)
    s = (0.1 * rng.standard_normal(16000)).astype(np.float32)
    n = coloured_noise(7000, 16000, rng)                         # shorter: gets tiled
    for snr in (-5.0, 0.0, 5.0, 20.0):
        noisy, scaled = mix_at_snr(s, n, snr)
        assert len(noisy) == len(s)
        got = 10 * np.log10(np.sum(s.astype(np.float64) ** 2) / np.sum(scaled.astype(np.float64) ** 2))
        assert got == pytest.approx(snr, abs=1e-3)
        np.testing.assert_allclose(noisy - s, scaled, atol=1e-6)


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed (make sysdeps installs it)")
    out = tmp_path_factory.mktemp("demo")
    return demo.run_demo(out, seed=0)


def test_run_demo_writes_files_and_enhancement_helps(demo_run):
    res = demo_run
    for name in ("clean.wav", "noisy.wav", "enhanced.wav", "spectrograms.png"):
        assert (res.out_dir / name).is_file(), name
    clean, sr = sf.read(res.out_dir / "clean.wav", dtype="float32")
    noisy, sr2 = sf.read(res.out_dir / "noisy.wav", dtype="float32")
    enh, sr3 = sf.read(res.out_dir / "enhanced.wav", dtype="float32")
    assert sr == sr2 == sr3 == 16000 and len(clean) == len(noisy) == len(enh)
    snr = 10 * np.log10(np.sum(clean.astype(np.float64) ** 2) / np.sum((noisy - clean).astype(np.float64) ** 2))
    assert snr == pytest.approx(5.0, abs=0.1)
    assert not list(res.out_dir.glob("*.part"))                   # atomic writes left no temp files
    assert set(res.before) >= {"pesq_wb", "stoi", "si_sdr"} and set(res.after) >= set(res.before)
    assert res.after["pesq_wb"] > res.before["pesq_wb"]
    assert res.after["si_sdr"] > res.before["si_sdr"]


def test_run_demo_png_is_a_three_panel_figure(demo_run):
    import matplotlib.image as mpimg
    png = demo_run.out_dir / "spectrograms.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    img = mpimg.imread(png)
    h, w = img.shape[:2]
    assert w > 800 and h > 600
    assert img[..., :3].std() > 0.1                               # not a blank canvas


def test_cli_demo_unknown_method_fails_cleanly(tmp_path):
    from typer.testing import CliRunner
    from voxclean.cli import app
    r = CliRunner().invoke(app, ["demo", "--out", str(tmp_path / "d"), "--method", "no-such-method"])
    assert r.exit_code == 2
    assert "no-such-method" in r.output and "wiener" in r.output
    assert not (tmp_path / "d").exists()


def test_cli_demo_prints_before_after_table(demo_run, monkeypatch, tmp_path):
    from typer.testing import CliRunner
    from voxclean.cli import app
    seen = {}

    def fake_run_demo(out, method=None, snr_db=5.0, seed=0):
        seen.update(out=out, method=method, snr_db=snr_db, seed=seed)
        return demo_run                                           # reuse the real run: no second synthesis

    monkeypatch.setattr(demo, "run_demo", fake_run_demo)
    r = CliRunner().invoke(app, ["demo", "--out", str(tmp_path), "--snr", "5", "--seed", "0"],
                           terminal_width=120)
    assert r.exit_code == 0, r.output
    assert seen == {"out": tmp_path, "method": None, "snr_db": 5.0, "seed": 0}
    b, a = demo_run.before, demo_run.after
    pesq_row = next(line for line in r.output.splitlines() if "PESQ" in line)
    assert f"{b['pesq_wb']:.2f}" in pesq_row and f"{a['pesq_wb']:.2f}" in pesq_row
    assert f"+{a['pesq_wb'] - b['pesq_wb']:.2f}" in pesq_row
    sdr_row = next(line for line in r.output.splitlines() if "SI-SDR" in line)
    assert f"{a['si_sdr']:.1f} dB" in sdr_row
    assert "STOI" in r.output and "spectrograms.png" in r.output
