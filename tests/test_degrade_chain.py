"""Chains: compact syntax, JSON round trip, seeds, records that regenerate the output, the CLI."""
from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from typer.testing import CliRunner

from voxclean.audio import load
from voxclean.cli import app
from voxclean.degrade import Chain, parse_compact
from voxclean.degrade.params import Choice, Uniform

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
NOISE = DATA / "noise" / "dev"
RIRS = DATA / "rir" / "real"
needs_data = pytest.mark.skipif(not (NOISE.is_dir() and RIRS.is_dir()), reason="../shared/data is absent")


def synth(sr: int = 16000, seconds: float = 1.5, seed: int = 0) -> np.ndarray:
    t = np.arange(int(sr * seconds)) / sr
    x = sum(np.sin(2 * np.pi * 110 * k * t + k) / k for k in range(1, 25)) * np.clip(np.sin(2 * np.pi * 2 * t), 0, 1)
    return (0.1 * x + 0.003 * np.random.default_rng(seed).standard_normal(len(t))).astype(np.float32)


def test_compact_syntax_ranges_choices_units_and_aliases():
    ops = parse_compact("noise:snr=-5:15,path=/data/noise,active_only=true|reverb:rt60=0.3:0.8"
                        "|codec:name=opus;mp3,bitrate=12k|packet_loss:p=0.1,conceal=repeat|bandlimit:high=3.4k,low=none")
    assert [o.name for o in ops] == ["noise", "reverb", "codec", "packet_loss", "bandlimit"]
    assert ops[0].snr == Uniform(-5.0, 15.0) and ops[0].path == "/data/noise" and ops[0].active_only is True
    assert ops[1].rt60 == Uniform(0.3, 0.8) and ops[1].path is None
    assert ops[2].codec == Choice(("opus", "mp3")) and ops[2].bitrate == 12000
    assert ops[3].conceal == "repeat" and ops[4].high == 3400 and ops[4].low is None


def test_bad_specs_name_the_problem():
    with pytest.raises(ValueError, match="unknown degradation 'nosie'"):
        parse_compact("nosie:snr=5")
    with pytest.raises(ValueError, match="unknown parameter.*'snrr'"):
        parse_compact("noise:snrr=5")
    with pytest.raises(ValueError, match="key=value"):
        parse_compact("gain:6")
    with pytest.raises(ValueError, match="upper end below"):
        parse_compact("gain:db=6:-6")


def test_chain_json_round_trip_keeps_the_spec_and_the_output():
    c = Chain(parse_compact("gain:db=-12:0|clip:threshold=0.2:0.6,soft=true|bandlimit:high=3000;4000"
                            "|packet_loss:p=0.2,burst=2"), seed=11)
    text = c.to_json()
    back = Chain.from_json(text)
    assert back.to_dict() == c.to_dict() and back.seed == 11
    assert json.loads(text)["steps"][0] == {"name": "gain", "db": [-12.0, 0.0]}
    x = synth()
    np.testing.assert_array_equal(c.apply(x, 16000)[0], back.apply(x, 16000)[0])


def test_seeds_decide_everything():
    c = Chain(parse_compact("gain:db=-10:0|packet_loss:p=0.1:0.4"), seed=3)
    x = synth()
    a, ra = c.apply(x, 16000)
    b, rb = c.apply(x, 16000)
    d, rd = c.apply(x, 16000, seed=4)
    np.testing.assert_array_equal(a, b)
    assert ra == rb and not np.array_equal(a, d) and ra["steps"] != rd["steps"]
    # appending a step does not change what the earlier steps draw
    longer = Chain(c.ops + parse_compact("clip:threshold=0.5"), seed=3)
    assert longer.apply(x, 16000)[1]["steps"][:2] == ra["steps"]


@needs_data
def test_a_record_regenerates_the_output_exactly():
    spec = (f"reverb:path={RIRS}|noise:snr=0:10,path={NOISE},active_only=true|gain:db=-6:0"
            "|bandlimit:high=3000:7000|clip:threshold=0.5:0.9|packet_loss:p=0.2,conceal=repeat"
            "|codec:name=opus;mp3;mulaw,bitrate=16k:32k")
    x = synth(seconds=2.0)
    y, t, record = Chain.from_spec(spec, seed=5).run(x, 16000)
    record = json.loads(json.dumps(record))  # through JSON, as a manifest stores it
    assert all(s["op"].get("snr", 0) is not None for s in record["steps"])
    y2, t2, record2 = Chain.from_record(record).run(x, 16000)
    np.testing.assert_array_equal(y, y2)
    np.testing.assert_array_equal(t, t2)
    assert [s["op"] for s in record2["steps"]] == [s["op"] for s in record["steps"]]
    assert not np.array_equal(t, x)  # the direct-path target differs from the dry input


def test_from_spec_reads_a_json_file(tmp_path):
    p = tmp_path / "chain.json"
    p.write_text(json.dumps({"seed": 9, "steps": [{"name": "gain", "db": 6}]}))
    c = Chain.from_spec(str(p))
    assert c.seed == 9 and c.ops[0].db == 6
    assert Chain.from_spec(str(p), seed=2).seed == 2
    with pytest.raises(FileNotFoundError, match="nope.json"):
        Chain.from_spec(str(tmp_path / "nope.json"))


def _pcm16(x: np.ndarray, sr: int) -> np.ndarray:
    buf = io.BytesIO()
    sf.write(buf, x, sr, format="WAV", subtype="PCM_16")
    buf.seek(0)
    return sf.read(buf, dtype="int16")[0]


def test_cli_degrade_folder_writes_mirrored_outputs_and_a_regenerating_manifest(tmp_path):
    src = tmp_path / "in"
    (src / "sub").mkdir(parents=True)
    sf.write(src / "a.wav", synth(seed=1), 16000)
    sf.write(src / "sub" / "b.flac", synth(seconds=1.0, seed=2), 16000)
    (src / "broken.wav").write_bytes(b"RIFF not really a wav")
    out = tmp_path / "out"
    runner = CliRunner()
    spec = "gain:db=-6:0|packet_loss:p=0.3|clip:threshold=0.3:0.8"
    res = runner.invoke(app, ["degrade", str(src), str(out), "--chain", spec, "--seed", "1"])
    assert res.exit_code == 1, res.output  # the broken file fails, the others are written
    assert "broken.wav" in res.output
    lines = [json.loads(ln) for ln in (out / "manifest.jsonl").read_text().splitlines()]
    assert sorted(Path(ln["output"]).relative_to(out).as_posix() for ln in lines) == ["a.wav", "sub/b.wav"]
    for ln in lines:
        x, sr = load(ln["source"])
        y, _ = Chain.from_record(ln["chain"]).apply(x, sr)
        np.testing.assert_array_equal(_pcm16(y, sr), sf.read(ln["output"], dtype="int16")[0])
    res2 = runner.invoke(app, ["degrade", str(src / "a.wav"), str(out / "a.wav"), "--chain", spec])
    assert res2.exit_code == 2 and "--overwrite" in res2.output
    res3 = runner.invoke(app, ["degrade", str(src / "a.wav"), str(tmp_path / "one.wav"), "--chain", spec])
    assert res3.exit_code == 0, res3.output
    assert json.loads((tmp_path / "one.json").read_text())["chain"]["steps"][0]["op"]["name"] == "gain"
    res4 = runner.invoke(app, ["degrade", str(src / "a.wav"), str(src / "a.wav"), "--chain", spec, "--overwrite"])
    assert res4.exit_code == 2 and "overwrite an input" in res4.output
    res5 = runner.invoke(app, ["degrade", str(src), str(tmp_path / "o2"), "--chain", "gain:loud=1"])
    assert res5.exit_code == 2 and "unknown parameter" in res5.output


def test_cli_lists_degradations():
    res = CliRunner().invoke(app, ["degradations"])
    assert res.exit_code == 0
    for name in ("noise", "reverb", "clip", "bandlimit", "codec", "packet_loss", "gain", "opus"):
        assert name in res.output
