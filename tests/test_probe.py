"""The probe study end to end on tiny real sets: damage, systems, measures, cache, determinism, outputs."""
from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from conftest import need_data
from voxclean.probe import robustness
from voxclean.probe.robustness import Condition, condition_seed, degrade, sweep


# --- the sweep --------------------------------------------------------------------------------------------

def test_sweep_has_five_levels_of_each_kind():
    conds = sweep(quick=True, noise_dir=need_data("noise", "dev"), rir_dir=need_data("rir", "real"))
    assert conds[0].kind == "clean"
    for kind in robustness.KINDS:
        assert len([c for c in conds if c.kind == kind]) >= 5, kind
    real = [c.level for c in conds if c.kind == "reverb_real"]
    assert real == sorted(real, reverse=True)          # driest (highest DRR) first
    assert len(sweep(quick=True, kinds=("white",), max_levels=2)) == 3


def test_white_noise_hits_the_snr_and_is_reproducible(speech16k):
    x, sr = speech16k
    seed = condition_seed(0, "utt", "white")
    for snr in (20.0, 0.0, -5.0):
        y, rec = degrade(Condition("white", snr), x, sr, seed)
        n = y.astype(np.float64) / rec.get("scaled_by", 1.0) - x   # loud speech at -5 dB is scaled, not clipped
        assert np.max(np.abs(y)) <= robustness.PEAK_LIMIT + 1e-6
        assert 10 * np.log10(np.sum(x.astype(np.float64) ** 2) / np.sum(n ** 2)) == pytest.approx(snr, abs=0.01)
        assert np.array_equal(y, degrade(Condition("white", snr), x, sr, seed)[0])
    assert not np.array_equal(degrade(Condition("white", 0.0), x, sr, seed)[0],
                              degrade(Condition("white", 0.0), x, sr, seed + 1)[0])


def test_ambient_noise_uses_the_same_segment_at_every_level(speech16k):
    x, sr = speech16k
    folder = str(need_data("noise", "dev"))
    seed = condition_seed(0, "utt", "ambient")
    y10, r10 = degrade(Condition("ambient", 10.0, folder), x, sr, seed)
    y0, r0 = degrade(Condition("ambient", 0.0, folder), x, sr, seed)
    n10 = y10 / r10.get("scaled_by", 1.0) - x
    n0 = y0 / r0.get("scaled_by", 1.0) - x
    # same segment, 10 dB more gain: n0 = sqrt(10) * n10
    assert np.corrcoef(n10, n0)[0, 1] > 0.999
    assert np.std(n0) / np.std(n10) == pytest.approx(np.sqrt(10), rel=0.01)


def test_simulated_rooms_keep_their_geometry_along_the_rt60_sweep(speech16k):
    x, sr = speech16k
    seed = condition_seed(0, "utt", "reverb")
    rec = [degrade(Condition("reverb", t), x, sr, seed)[1]["steps"][0]["op"] for t in (0.2, 0.8)]
    assert rec[0]["room"] == rec[1]["room"] and rec[0]["source"] == rec[1]["source"]
    assert rec[0]["rt60"] < rec[1]["rt60"]


# --- the study ---------------------------------------------------------------------------------------------

class Counting:
    """Identity that counts its calls (to see the cache at work)."""
    name = "counting"
    calls = 0

    def process(self, x, sr):
        Counting.calls += 1
        return np.array(x, dtype=np.float32)


@pytest.fixture
def tiny_set(tmp_path):
    """Two Harvard sentences and their transcripts, copied into a temporary set folder."""
    src = need_data("speech", "asr")
    d = tmp_path / "set"
    d.mkdir()
    lines = ["file\ttranscript"]
    for row in (src / "transcripts.tsv").read_text().splitlines()[1:]:
        if row.split("\t")[0] in ("spk1_snt1.flac", "spk2_snt1.flac"):
            shutil.copy(src / row.split("\t")[0], d)
            lines.append(row)
    (d / "transcripts.tsv").write_text("\n".join(lines) + "\n")
    return d


def _config(tiny_set, out, **kw):
    from voxclean.probe.runner import StudyConfig
    base = dict(sets=[tiny_set], out=out, quick=True, kinds=("white",), max_levels=2, asr=None, speaker=False,
                dnsmos=False, linearity=False, freqresp=False, examples=0, workers=1)
    base.update(kw)
    return StudyConfig(**base)


def test_probe_writes_json_csv_figures_and_html(tiny_set, tmp_path):
    from voxclean.probe.report import make_report
    from voxclean.probe.runner import run_study, write_outputs
    out = tmp_path / "report"
    cfg = _config(tiny_set, out, asr="auto", dnsmos=True, dnsmos_files=1, linearity=True, freqresp=True, examples=1,
                  max_levels=1)
    res = run_study(["identity", "lowpass:2k"], cfg)
    assert res.errors == []
    paths = {**write_outputs(res, out), **make_report(res, out, "voxclean probe identity lowpass:2k ...")}
    for key in ("json", "csv", "items", "robustness", "linearity", "freqresp", "markdown", "html"):
        assert paths[key].exists() and paths[key].stat().st_size > 0, key
    doc = json.loads(paths["json"].read_text())
    assert doc["systems"] == ["oracle", "identity", "lowpass:2000"]
    rows = {(r["system"], r["label"]): r for r in doc["table"]}
    # identity is the oracle: same numbers everywhere, and a mel distance of exactly 0 on clean input
    for label in ("clean", "20 dB"):
        for m in ("mel", "pesq_wb", "stoi", "wer"):
            assert rows[("identity", label)][m] == rows[("oracle", label)][m]
    assert rows[("identity", "clean")]["mel"] == 0.0
    assert rows[("identity", "clean")]["stoi"] == pytest.approx(1.0)
    assert rows[("lowpass:2000", "clean")]["mel"] > 0.5          # the 2 kHz low-pass removes a lot
    assert rows[("lowpass:2000", "clean")]["pesq_wb"] < rows[("identity", "clean")]["pesq_wb"] - 0.5
    from voxclean.metrics.downstream.asr import default_recognizer
    if default_recognizer() is not None:          # WER needs pocketsphinx or Whisper (the probe extra)
        assert rows[("identity", "clean")]["wer"] is not None and rows[("identity", "clean")]["wer"] <= 0.5
    assert rows[("oracle", "clean")]["dnsmos_ovrl"] > 2.5
    assert "system,kind,level" in paths["csv"].read_text().splitlines()[0]
    html = paths["html"].read_text()
    assert html.count("data:image/png;base64,") == 3
    assert html.count("<audio controls") == 2 * 4     # (clean, oracle, identity, lowpass) x (clean, mid white level)
    assert "not measured" in html
    assert doc["emotion"].startswith("Emotion accuracy")


def test_same_seed_same_numbers_serial_and_parallel(tiny_set, tmp_path):
    from voxclean.probe.runner import _clean_json, run_study
    a = run_study(["lowpass:4k"], _config(tiny_set, tmp_path / "a", cache=False, workers=1))
    b = run_study(["lowpass:4k"], _config(tiny_set, tmp_path / "b", cache=False, workers=2))
    c = run_study(["lowpass:4k"], _config(tiny_set, tmp_path / "c", cache=False, workers=1, seed=1))
    assert _clean_json(a.table) == _clean_json(b.table)   # NaN (no WER here) -> None, so == compares
    noisy = lambda t: [r["pesq_wb"] for r in t if r["kind"] == "white"]  # noqa: E731
    assert noisy(a.table) != noisy(c.table)           # another seed draws other noise
    stoi = {(r["system"], r["label"]): r["stoi"] for r in a.table}
    assert stoi[("oracle", "-5 dB")] < stoi[("oracle", "20 dB")] < stoi[("oracle", "clean")]


def test_cache_skips_work_already_done(tiny_set, tmp_path):
    from voxclean.probe.runner import run_study
    cfg = _config(tiny_set, tmp_path / "r")
    Counting.calls = 0
    first = run_study([Counting()], cfg)
    n = Counting.calls
    assert n == 2 * 3                                  # 2 utterances x (clean + 2 levels)
    second = run_study([Counting()], cfg)
    assert Counting.calls == n                         # everything came from the cache
    from voxclean.probe.runner import _clean_json
    assert _clean_json(first.table) == _clean_json(second.table)
    third = run_study([Counting()], _config(tiny_set, tmp_path / "r", max_levels=3))
    assert Counting.calls == n + 2                     # only the new middle level was computed
    assert len(third.table) == 2 * 4


def test_a_failing_system_is_reported_not_fatal(tiny_set, tmp_path):
    from voxclean.probe.runner import run_study

    class Broken:
        name = "broken"

        def process(self, x, sr):
            raise RuntimeError("boom")

    res = run_study([Broken()], _config(tiny_set, tmp_path / "r"))
    assert len(res.errors) == 6 and "boom" in res.errors[0]["error"]
    assert all(r["n"] > 0 for r in res.table if r["system"] == "oracle")


def test_probe_cli(tiny_set, tmp_path):
    from typer.testing import CliRunner
    from voxclean.cli import app
    import voxclean.cli.probe_cmd as probe_cmd
    if not any(c.name == "probe" for c in app.registered_commands):
        probe_cmd.register(app)
    out = tmp_path / "cli"
    r = CliRunner().invoke(app, ["probe", "lowpass:3k", "--set", str(tiny_set), "--out", str(out), "--quick",
                                 "--kinds", "white", "--levels", "2", "--asr", "none", "--no-speaker", "--no-dnsmos",
                                 "--no-linearity", "--no-freqresp", "--workers", "1"])
    assert r.exit_code == 0, r.output
    assert (out / "report.html").exists() and (out / "figures" / "robustness.png").exists()
    r = CliRunner().invoke(app, ["probe", "nonsense:codec", "--set", str(tiny_set), "--out", str(out)])
    assert r.exit_code == 2


def test_discover_sets_transcripts_speakers_and_overrides(tmp_path):
    from voxclean.probe.runner import StudyConfig, discover
    asr, spk = need_data("speech", "asr"), need_data("speech", "librispeech_test_other")
    fix = tmp_path / "fix.tsv"
    fix.write_text("file\ttranscript\nspk2_snt6.flac\tcanned pears lack full flavor\nnot_here.flac\tx\n")
    utts = discover(StudyConfig(sets=[asr, spk], out=tmp_path, quick=True, transcripts=fix))
    tests = [u for u in utts if u.test]
    assert sum(u.transcript is not None for u in tests) == 4            # quick: 4 transcribed utterances
    per_spk = {}
    for u in tests:
        if u.speaker:
            per_spk.setdefault(u.speaker, []).append(u.id)
    assert len(per_spk) == 5 and all(len(v) == 2 for v in per_spk.values())
    assert len({tuple(sorted(i.rsplit("-", 1)[1] for i in v)) for v in per_spk.values()}) > 1  # not the same picks
    assert sum(u.speaker is not None for u in utts) == 50                # every utterance enrols (clean)
    assert all(u.transcript is not None or u.speaker is not None for u in utts)  # spk*_snt6 without text: out
    full = discover(StudyConfig(sets=[asr], out=tmp_path, transcripts=fix))
    assert {u.id: u.transcript for u in full}["asr/spk2_snt6"] == "canned pears lack full flavor"
    assert "asr/spk1_snt6" not in {u.id for u in full}
    assert discover(StudyConfig(sets=[asr], out=tmp_path, seed=3, quick=True)) == \
        discover(StudyConfig(sets=[asr], out=tmp_path, seed=3, quick=True))
