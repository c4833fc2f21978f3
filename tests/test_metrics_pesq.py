"""The PESQ path against reference scores (see docs/pesq_validation.md and scripts/validate_pesq.py)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from voxclean.audio import load
from voxclean.metrics import score_pair
from voxclean.metrics.pesq_stoi import mos_lqo_to_raw, pesq_mos

CONF = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "conformance"

# voipref_8k.txt prints raw P.862 scores to 3 decimals: rounding alone is up to 0.0005, and the C code's
# float32 arithmetic plus the inverse P.862.1 mapping (d raw / d MOS <= 1.4 here) add under 1e-5.
RAW_TOL = 0.001


def need(p: Path) -> Path:
    if not p.exists():
        pytest.skip(f"conformance data not available: {p}")
    return p


def test_pesq_pair_reproduces_expected_json():
    d = need(CONF / "pesq_pair")
    exp = json.loads((d / "expected.json").read_text())
    ref, sr = load(d / exp["ref"])
    deg, _ = load(d / exp["deg"], sr=sr)
    assert sr == exp["fs"]
    got = score_pair(ref, deg, sr, metrics=["pesq_wb", "pesq_nb"])
    assert got["pesq_wb"] == pytest.approx(exp["wb"], abs=0.01)
    assert got["pesq_nb"] == pytest.approx(exp["nb"], abs=0.01)


def test_p862_conformance_voipref_8k():
    d = need(CONF / "p862")
    rows = [line.split("\t") for line in (d / "voipref_8k.txt").read_text().splitlines()[1:] if line.strip()]
    assert len(rows) == 40
    errors = {}
    for ref_name, deg_name, fs, expected in rows:
        ref, sr = load(d / Path(ref_name).name)
        deg, _ = load(d / Path(deg_name).name)
        assert sr == int(fs) == 8000
        raw = mos_lqo_to_raw(pesq_mos(ref, deg, sr, "nb"), "p862.1")
        errors[deg_name] = raw - float(expected)
    worst = max(errors, key=lambda k: abs(errors[k]))
    assert abs(errors[worst]) <= RAW_TOL, (worst, errors[worst])
