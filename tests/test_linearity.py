"""Linearity probe (seed 003 Sec. 5): exact scores for known systems, and what a low-rate codec does."""
from __future__ import annotations

import json

import numpy as np
import pytest

from conftest import need_data
from voxclean.probe import linearity
from voxclean.probe.linearity import MAX_DB, additivity, homogeneity, ratio_db, scale_pair
from voxclean.probe.systems import FilterSystem, IdentitySystem, resolve_system


@pytest.fixture(scope="module")
def signals() -> tuple[list[np.ndarray], list[np.ndarray], int]:
    """Two real utterances (different speakers) and a real cafe noise, 1.5 s each at 16 kHz."""
    from voxclean.audio.io import load
    sr = 16000
    folder = need_data("speech", "cmu_arctic")
    speech = [load(folder / f, sr=sr, channels="downmix")[0][: int(1.5 * sr)]
              for f in ("cmu_arctic_us_aew_a0001.flac", "cmu_arctic_us_axb_a0004.flac")]
    noise = load(need_data("noise", "dev", "cafe_short.flac"), sr=sr, channels="downmix")[0][: int(1.5 * sr)]
    return speech, [noise], sr


def test_ratio_db_is_signal_to_error_in_db():
    assert ratio_db(np.ones(10), 0.1 * np.ones(10)) == pytest.approx(20.0)
    assert ratio_db(np.ones(10), np.zeros(10)) == MAX_DB
    assert ratio_db(np.zeros(10), np.ones(10)) == -MAX_DB


def test_scale_pair_sets_snr_and_peak(signals):
    (s1, s2), _, _ = signals
    x, y = scale_pair(s1, s2, snr_db=5.0, peak_dbfs=-6.0)
    assert 10 * np.log10(np.mean(x.astype(float) ** 2) / np.mean(y.astype(float) ** 2)) == pytest.approx(5.0, abs=1e-3)
    assert max(np.abs(x).max(), np.abs(y).max(), np.abs(x + y).max()) == pytest.approx(10 ** (-6 / 20), rel=1e-5)


def test_identity_is_perfectly_linear_with_zero_mel_distance(signals):
    speech, noise, sr = signals
    r = linearity.probe_system(IdentitySystem(), speech, sr, noise, gains_db=(-30.0, -6.0, 6.0))
    assert r["additivity_speech_db"] == MAX_DB and r["additivity_noise_db"] == MAX_DB
    assert r["homogeneity_db"] == [MAX_DB] * 3 and r["gain_error_db"] == pytest.approx([0.0] * 3, abs=1e-5)
    mel = pytest.importorskip("voxclean.metrics.downstream.mel")
    assert mel.mel_distance(speech[0], IdentitySystem().process(speech[0], sr), sr) == 0.0


def test_linear_filter_scores_very_high(signals):
    speech, noise, sr = signals
    r = linearity.probe_system(FilterSystem("lowpass", 3000), speech, sr, noise, gains_db=(-30.0, -12.0, 6.0))
    assert r["additivity_speech_db"] > 80 and r["additivity_noise_db"] > 80
    assert min(r["homogeneity_db"]) > 80
    assert max(abs(g) for g in r["gain_error_db"]) < 1e-3


def test_known_nonlinearities_give_the_predicted_scores(signals):
    (x, _), _, sr = signals

    class Root:                                   # f(x) = sign(x) sqrt|x|: f(a x) = sqrt(a) f(x)
        name = "root"

        def process(self, v, sr):
            return (np.sign(v) * np.sqrt(np.abs(v))).astype(np.float32)

    x = 0.3 * x / np.abs(x).max()
    h = homogeneity(Root(), x, sr, gains_db=(-20.0, 6.0))
    # eq. (5): |f(a x)|^2 / |a f(x)|^2 = a / a^2  ->  G = -g/2 dB
    assert h["gain_error_db"] == pytest.approx([10.0, -3.0], abs=0.01)
    # eq. (4): |a f(x)|^2 / |(sqrt(a) - a) f(x)|^2 = a^2 / (sqrt(a) - a)^2
    a = 10 ** (-20 / 20)
    assert h["homogeneity_db"][0] == pytest.approx(20 * np.log10(a / abs(np.sqrt(a) - a)), abs=0.01)

    class Offset:                                 # f(x) = x + c: f(x+y) - f(x) - f(y) = -c
        name = "offset"

        def process(self, v, sr):
            return (v + 0.01).astype(np.float32)

    y = x[::-1].copy()
    want = 10 * np.log10(np.sum((x.astype(float) + y + 0.01) ** 2) / (len(x) * 0.01 ** 2))
    assert additivity(Offset(), x, y, sr)["additivity_db"] == pytest.approx(want, abs=0.01)


def test_low_rate_opus_is_measurably_less_additive_than_high_rate(signals):
    speech, _, sr = signals
    low, high = resolve_system("opus:6k"), resolve_system("opus:32k")
    if low.codec.unavailable_reason():
        pytest.skip(f"opus unavailable: {low.codec.unavailable_reason()}")
    pair = scale_pair(speech[0], speech[1])
    a_low = additivity(low, *pair, sr)["additivity_db"]
    a_high = additivity(high, *pair, sr)["additivity_db"]
    assert a_low < 15.0                            # identity: MAX_DB
    assert a_high > a_low + 5.0                    # seed 003: additivity improves with bit rate


def test_results_plot_and_serialise(signals, tmp_path):
    speech, noise, sr = signals
    res = linearity.probe(["identity", "lowpass:2k"], speech[:1], sr, noise, gains_db=(-30.0, 0.0))
    assert [r["system"] for r in res["systems"]] == ["identity", "lowpass:2000"]
    assert res["systems"][0]["additivity_speech_pairs_db"] == []       # one utterance: no speech pair
    path = linearity.write_json(res, tmp_path / "lin.json")
    back = json.loads(path.read_text())                                 # NaN written as null
    assert back["systems"][0]["additivity_speech_db"] is None
    png = linearity.plot_linearity(back, tmp_path / "lin.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
