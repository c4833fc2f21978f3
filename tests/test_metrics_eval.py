"""Folder evaluation: pairing by stem, rate reconciliation, bad files, CSV/JSON, and `voxclean eval`."""
from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from voxclean.audio import load, resample, save
from voxclean.metrics import evaluate_dirs, pair_files, write_csv, write_json

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def at_snr(x, n, snr_db):
    g = np.sqrt(np.sum(x ** 2) / (np.sum(n ** 2) * 10 ** (snr_db / 10)))
    return (x + g * n).astype(np.float32)


@pytest.fixture(scope="module")
def dirs(tmp_path_factory):
    """ref/{a.wav, sub/b.flac, c.wav, d.wav, only_ref.wav}; est/{a.flac (10 dB), sub/b.wav (20 dB),
    other/c.wav (8 kHz, 15 dB), d.wav (corrupt), only_est.wav}."""
    folder = DATA / "speech" / "cmu_arctic"
    if not folder.exists():
        pytest.skip(f"shared data not available: {folder}")
    files = sorted(folder.glob("*.flac"))[:4]
    root = tmp_path_factory.mktemp("eval")
    ref, est = root / "ref", root / "est"
    rng = np.random.default_rng(1)
    speech = []
    for f in files:
        x, sr = load(f)
        speech.append(x[: 2 * sr])
    noise = lambda n: rng.standard_normal(n).astype(np.float32)  # noqa: E731
    a, b, c, d = speech
    save(ref / "a.wav", a, sr)
    save(est / "a.flac", at_snr(a, noise(len(a)), 10), sr)
    save(ref / "sub" / "b.flac", b, sr)
    save(est / "sub" / "b.wav", at_snr(b, noise(len(b)), 20), sr, subtype="FLOAT")
    save(ref / "c.wav", c, sr)
    save(est / "other" / "c.wav", resample(at_snr(c, noise(len(c)), 15), sr, 8000), 8000, subtype="FLOAT")
    save(ref / "d.wav", d, sr)
    (est / "d.wav").write_bytes(b"RIFF this is not audio")
    save(ref / "only_ref.wav", a, sr)
    save(est / "only_est.wav", a, sr)
    return ref, est


def test_pairing(dirs):
    ref, est = dirs
    p = pair_files(ref, est)
    assert [(k, r.relative_to(ref).as_posix(), e.relative_to(est).as_posix()) for k, r, e in p.pairs] == [
        ("a", "a.wav", "a.flac"), ("c", "c.wav", "other/c.wav"), ("d", "d.wav", "d.wav"),
        ("sub/b", "sub/b.flac", "sub/b.wav")]
    assert [x.name for x in p.unmatched_ref] == ["only_ref.wav"]
    assert [x.name for x in p.unmatched_est] == ["only_est.wav"]


def test_pairing_by_tagged_stem(tmp_path):
    """NOIZEUS-style names: sp01 <-> sp01_babble_sn5; a reference claimed twice stays unmatched."""
    for name in ("ref/sp01.wav", "ref/sp1.wav", "ref/sp10.wav", "est/sp01_babble_sn5.wav",
                 "est/sp10-car.wav", "est/sp1_x.wav", "est/sp1_y.wav"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"")              # pairing looks at names only
    p = pair_files(tmp_path / "ref", tmp_path / "est")
    assert [(k, e.name) for k, _, e in p.pairs] == [("sp01", "sp01_babble_sn5.wav"), ("sp10", "sp10-car.wav")]
    assert [r.name for r in p.unmatched_ref] == ["sp1.wav"]
    assert [e.name for e in p.unmatched_est] == ["sp1_x.wav", "sp1_y.wav"]


def test_evaluate_dirs_rows_summary_and_writers(dirs, tmp_path):
    ref, est = dirs
    rows, summary = evaluate_dirs(ref, est, ["si_sdr", "stoi"], progress=False)
    by = {r["file"]: r for r in rows}
    assert by["a"]["si_sdr"] == pytest.approx(10, abs=0.5)
    assert by["sub/b"]["si_sdr"] == pytest.approx(20, abs=0.5)
    # c: estimate at 8 kHz is resampled to 16 kHz; it lost everything above 4 kHz, so below its 15 dB
    assert by["c"]["sr"] == 16000 and 0 < by["c"]["si_sdr"] < 15
    assert 0.5 < by["a"]["stoi"] < by["sub/b"]["stoi"] < 1     # 10 dB vs 20 dB white noise
    assert by["d"]["error"] and "d.wav" in by["d"]["error"] and "si_sdr" not in by["d"]
    assert [f["file"] for f in summary["failed"]] == ["d"]
    assert summary["unmatched_ref"][0].endswith("only_ref.wav")
    assert summary["unmatched_est"][0].endswith("only_est.wav")

    v = np.array([by[k]["si_sdr"] for k in ("a", "c", "sub/b")])
    s = summary["metrics"]["si_sdr"]
    assert s["n"] == 3 and s["mean"] == pytest.approx(v.mean())
    assert s["ci95"] == pytest.approx(stats.t.ppf(0.975, 2) * v.std(ddof=1) / math.sqrt(3))
    assert s["low"] < s["mean"] < s["high"]

    write_csv(rows, tmp_path / "out" / "scores.csv")
    with open(tmp_path / "out" / "scores.csv") as f:
        table = list(csv.DictReader(f))
    assert [r["file"] for r in table] == ["a", "c", "d", "sub/b"]
    assert float(table[0]["si_sdr"]) == pytest.approx(by["a"]["si_sdr"]) and table[2]["si_sdr"] == ""

    by["a"]["stoi"] = float("nan")                      # NaN must come out as JSON null
    write_json(rows, summary, tmp_path / "out" / "scores.json")
    doc = json.loads((tmp_path / "out" / "scores.json").read_text())
    assert doc["summary"]["metrics"]["si_sdr"]["n"] == 3 and doc["rows"][0]["stoi"] is None
    assert not list((tmp_path / "out").glob("*.part"))  # atomic writes leave no temporaries


def test_evaluate_dirs_align_reports_delay(tmp_path):
    folder = DATA / "speech" / "cmu_arctic"
    if not folder.exists():
        pytest.skip(f"shared data not available: {folder}")
    x, sr = load(sorted(folder.glob("*.flac"))[0])
    save(tmp_path / "ref" / "u.wav", x, sr)
    save(tmp_path / "est" / "u.wav", np.concatenate([np.zeros(160, np.float32), x]), sr)
    rows, _ = evaluate_dirs(tmp_path / "ref", tmp_path / "est", ["si_sdr"], align=True, progress=False)
    assert rows[0]["delay_ms"] == pytest.approx(10.0) and rows[0]["si_sdr"] > 40
    rows, _ = evaluate_dirs(tmp_path / "ref", tmp_path / "est", ["si_sdr"], progress=False)
    assert "delay_ms" not in rows[0] and rows[0]["si_sdr"] < 10


def test_cli_eval_and_metrics(dirs, tmp_path):
    from typer.testing import CliRunner

    from voxclean.cli import app

    ref, est = dirs
    runner = CliRunner()
    out = runner.invoke(app, ["eval", "--ref", str(ref), "--est", str(est), "--metrics", "si_sdr,stoi",
                              "--csv", str(tmp_path / "s.csv"), "--json", str(tmp_path / "s.json")])
    assert out.exit_code == 1, out.output               # d.wav is corrupt: reported, non-zero exit
    assert "si_sdr" in out.output and "failed" in out.output and "d.wav" in out.output
    assert json.loads((tmp_path / "s.json").read_text())["summary"]["n_pairs"] == 4
    assert len((tmp_path / "s.csv").read_text().splitlines()) == 5

    bad = runner.invoke(app, ["eval", "--ref", str(ref), "--est", str(est), "--metrics", "si_sdr,nope"])
    assert bad.exit_code == 2 and "nope" in bad.output

    listing = runner.invoke(app, ["metrics"])
    assert listing.exit_code == 0
    for name in ("pesq_wb", "pesq_nb", "stoi", "estoi", "si_sdr", "segsnr", "lsd", "mcd", "composite", "dnsmos"):
        assert name in listing.output
