"""The benchmark runner: pair discovery, condition tags, scoring/timing, reports, CLI."""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from voxclean.audio import load, save
from voxclean.bench.pairs import discover_pairs, subsample
from voxclean.bench.report import group_levels, markdown, summarize
from voxclean.bench.threads import limit_threads

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
VBD = DATA / "pairs" / "vbd_train_p287"
NOIZEUS = DATA / "benchmarks" / "noizeus"
SPEECH = DATA / "speech" / "cmu_arctic"
NOISE = DATA / "noise" / "dev" / "cafe_short.flac"


def needs(path: Path):
    return pytest.mark.skipif(not path.exists(), reason=f"{path} not available")


def _write(path: Path, n: int = 800, sr: int = 8000, seed: int = 0) -> None:
    save(path, np.random.default_rng(seed).uniform(-0.3, 0.3, n).astype(np.float32), sr)


# ---- discovery ----------------------------------------------------------------------------------

def test_discover_noizeus_layout(tmp_path):
    for utt in ("sp01", "sp02"):
        _write(tmp_path / "clean" / f"{utt}.wav")
        for noise, snr in (("babble", 0), ("car", 15)):
            _write(tmp_path / "noisy" / f"{noise}_{snr}dB" / f"{utt}_{noise}_sn{snr}.wav")
    pairs, problems = discover_pairs(tmp_path)
    assert problems == [] and len(pairs) == 4
    p = next(p for p in pairs if p.name == "car_15dB/sp02_car_sn15.wav")
    assert p.clean.name == "sp02.wav" and p.tags == {"noise": "car", "snr": 15}


def test_discover_mix_layout_with_manifest_and_orphan(tmp_path):
    for name in ("a", "b"):
        _write(tmp_path / "clean" / f"{name}.wav")
        _write(tmp_path / "noisy" / f"{name}.wav", seed=1)
    _write(tmp_path / "noisy" / "orphan.wav")
    (tmp_path / "manifest.jsonl").write_text(
        json.dumps({"name": "a.wav", "snr": 3.5, "noise": "/x/cafe.flac", "seed": 1}) + "\n"
        + json.dumps({"noisy": "noisy/b.wav", "snr": -2, "noise_file": "/n/bike.flac",
                      "rir": None}) + "\n")
    pairs, problems = discover_pairs(tmp_path)
    assert [p.name for p in pairs] == ["a.wav", "b.wav"]
    assert pairs[0].tags == {"snr": 3.5, "noise": "cafe"} and pairs[1].tags == {"snr": -2, "noise": "bike"}
    assert len(problems) == 1 and "orphan.wav" in problems[0] and "no clean file" in problems[0]


def test_discover_missing_folder_names_it(tmp_path):
    (tmp_path / "clean").mkdir()
    with pytest.raises(FileNotFoundError, match="noisy"):
        discover_pairs(tmp_path)


@needs(NOIZEUS)
def test_discover_real_noizeus():
    pairs, problems = discover_pairs(NOIZEUS)
    assert problems == [] and len(pairs) == 960
    assert {p.tags["snr"] for p in pairs} == {0, 5, 10, 15}
    assert len({p.tags["noise"] for p in pairs}) == 8
    assert all(p.clean.stem == p.noisy.stem.split("_")[0] for p in pairs)
    quick = subsample(pairs, 32)   # evenly spread: one file from each of the 32 condition folders
    assert len({(p.tags["noise"], p.tags["snr"]) for p in quick}) == 32


# ---- summaries ----------------------------------------------------------------------------------

def test_summary_stats_groups_and_bins():
    rows = []
    for i, snr in enumerate([-4.2, -1.0, 0.5, 2.0, 4.9, 7.1, 9.0, 11.0, 13.5, 14.9]):
        for method, gain in (("noisy", 0.0), ("m", 1.0)):
            rows.append({"file": f"f{i}", "method": method, "tags": {"snr": snr},
                         "duration_s": 2.0, "time_s": None if method == "noisy" else 0.1,
                         "cpu_s": None if method == "noisy" else 0.08, "rtf": None, "setup_s": 0.0,
                         "si_sdr": snr + gain, "pesq_nb": float("nan")})
    s = summarize(rows, ["noisy", "m"], ["snr"])
    assert s["overall"]["m"]["si_sdr"]["mean"] == pytest.approx(np.mean([r["si_sdr"] for r in rows
                                                                       if r["method"] == "m"]))
    assert "pesq_nb" not in s["overall"]["m"]          # NaNs are skipped, not averaged
    assert s["overall"]["m"]["rtf"] == pytest.approx(0.05)
    assert s["overall"]["m"]["x_realtime"] == pytest.approx(20)
    assert "rtf" not in s["overall"]["noisy"]
    # ten distinct SNRs -> 5 dB bins
    assert list(s["groups"]["snr"]) == ["[-5, 0)", "[0, 5)", "[5, 10)", "[10, 15)"]
    assert s["groups"]["snr"]["[0, 5)"]["noisy"]["n"] == 3
    assert group_levels(rows[:4], "snr") == {"-4.2": "-4.2", "-1.0": "-1.0"}


# ---- threads --------------------------------------------------------------------------------------

def test_limit_threads_caps_blas_and_restores_env():
    from threadpoolctl import threadpool_info
    before = os.environ.get("OMP_NUM_THREADS")
    with limit_threads(1):
        assert os.environ["OMP_NUM_THREADS"] == "1"
        assert all(p["num_threads"] == 1 for p in threadpool_info())
    assert os.environ.get("OMP_NUM_THREADS") == before


# ---- the runner on real pairs ---------------------------------------------------------------------

@needs(VBD)
def test_run_bench_on_two_real_pairs(tmp_path):
    from voxclean.bench import run_bench
    res = run_bench(VBD, ["wiener"], metrics=["pesq_wb", "stoi", "si_sdr"], out_dir=tmp_path,
                    limit=2, progress=False)
    assert res["errors"] == [] and res["n_pairs"] == 2
    saved = json.loads((tmp_path / "results.json").read_text())
    assert saved["summary"] == json.loads(json.dumps(res["summary"]))
    assert len(saved["rows"]) == 4 and {r["method"] for r in saved["rows"]} == {"noisy", "wiener"}
    noisy, wiener = saved["summary"]["overall"]["noisy"], saved["summary"]["overall"]["wiener"]
    for s in (noisy, wiener):
        assert 1.0 <= s["pesq_wb"]["mean"] <= 4.65
        assert 0.5 < s["stoi"]["mean"] <= 1.0
        assert -10 < s["si_sdr"]["mean"] < 40
    assert noisy["pesq_wb"]["mean"] < 4.0                  # the noisy files really are noisy
    assert "rtf" not in noisy and 0 < wiener["rtf"] < 1    # the wiener filter runs faster than real time
    md = (tmp_path / "results.md").read_text()
    assert "| noisy |" in md and "| wiener |" in md and "× real time" in md
    # resume: nothing is recomputed, the rows come back from rows.partial.jsonl unchanged
    again = run_bench(VBD, ["wiener"], metrics=["pesq_wb", "stoi", "si_sdr"], out_dir=tmp_path,
                      limit=2, progress=False, resume=True)
    assert [r["time_s"] for r in again["rows"]] == [r["time_s"] for r in res["rows"]]


@needs(SPEECH)
@needs(NOISE)
def test_cli_bench_tiny_set_with_bad_file(tmp_path):
    """Two real pairs (CMU ARCTIC speech + cafe noise at 0 and 10 dB) and one corrupt noisy file:
    the run finishes, reports the bad file and exits 1; enhancement beats the noisy input."""
    from typer.testing import CliRunner

    from voxclean.cli import app
    n, sr = load(NOISE, sr=16000, channels="downmix")
    set_dir = tmp_path / "set"
    for i, (f, snr) in enumerate([("cmu_arctic_us_aew_a0002.flac", 0),
                                  ("cmu_arctic_us_axb_a0004.flac", 10)]):
        s, _ = load(SPEECH / f, sr=16000)
        nz = np.resize(np.roll(n, 4000 * i), len(s))
        nz *= np.sqrt(np.sum(s ** 2) / np.sum(nz ** 2) / 10 ** (snr / 10))
        save(set_dir / "clean" / f"u{i}.wav", s, sr)
        save(set_dir / "noisy" / f"u{i}.wav", s + nz, sr)
    (set_dir / "clean" / "bad.wav").write_bytes(b"RIFF not really")
    (set_dir / "noisy" / "bad.wav").write_bytes(b"RIFF not really")
    out = tmp_path / "out"
    r = CliRunner().invoke(app, ["bench", str(set_dir), "--methods", "wiener", "--metrics",
                                 "si_sdr,stoi", "--out", str(out), "--save-audio"])
    assert r.exit_code == 1, r.output
    res = json.loads((out / "results.json").read_text())
    assert len(res["errors"]) == 1 and "bad.wav" in res["errors"][0]
    ov = res["summary"]["overall"]
    assert ov["wiener"]["si_sdr"]["mean"] > ov["noisy"]["si_sdr"]["mean"] + 1
    assert sorted(p.name for p in (out / "audio" / "wiener").iterdir()) == ["u0.wav", "u1.wav"]
    md = markdown(res)
    assert md.count("\n| ") >= 3


def test_cli_bench_unknown_method(tmp_path):
    from typer.testing import CliRunner

    from voxclean.cli import app
    r = CliRunner().invoke(app, ["bench", str(tmp_path), "--methods", "nope"])
    assert r.exit_code != 0 and "nope" in r.output


def test_combined_group_keys_give_one_cell_per_combination_in_numeric_order():
    from voxclean.bench.report import markdown, summarize
    rows = [{"file": f"{n}_{s}_{i}", "method": m, "tags": {"noise": n, "snr": s}, "duration_s": 1.0,
             "time_s": None, "cpu_s": None, "pesq_nb": s / 10 + (1 if m == "x" else 0)}
            for n in ("car", "babble", "street") for s in (0, 5, 10, 15) for m in ("noisy", "x")
            for i in range(2)]
    summ = summarize(rows, ["noisy", "x"], ["noise+snr"])
    cells = summ["groups"]["noise+snr"]
    assert list(cells)[:4] == ["babble 0", "babble 5", "babble 10", "babble 15"] and len(cells) == 12
    assert cells["car 15"]["x"]["pesq_nb"]["mean"] == 2.5
    md = markdown({"settings": {"set_dir": "s", "metrics": ["pesq_nb"], "align": False, "threads": 1,
                                "methods": ["noisy", "x"], "n_audio_s": 24.0},
                   "summary": summ, "n_pairs": 24, "created": "now", "environment": {"cpu": "cpu"}})
    assert "| noise+snr | noisy | x |" in md and "| car 15 | 1.50 | 2.50 |" in md


def test_method_labels_carry_options(tmp_path):
    from voxclean.bench.runner import _build, parse_method
    assert parse_method("logmmse:noise_init=file:atten_lim_db=12") == ("logmmse", {"noise_init": "file",
                                                                                  "atten_lim_db": 12})
    assert parse_method("wiener") == ("wiener", {})
    with pytest.raises(ValueError, match="KEY=VALUE"):
        parse_method("wiener:oops")
    built = _build(["noisy", "wiener:atten_lim_db=6", "wiener"], {})
    assert set(built) == {"wiener:atten_lim_db=6", "wiener"}
    assert built["wiener:atten_lim_db=6"].gain_min == pytest.approx(10 ** (-6 / 20))
