"""Metrics on real speech: identities, monotonicity with SNR, invariances, alignment, composite."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from voxclean.metrics import METRICS, estimate_lag, score_pair
from voxclean.metrics.composite import Composite, composite
from voxclean.metrics.pesq_stoi import mos_lqo_to_raw, raw_to_mos_lqo
from voxclean.metrics.signal import mcd, si_sdr

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
INTRUSIVE = ["pesq_wb", "pesq_nb", "stoi", "estoi", "si_sdr", "segsnr", "lsd", "mcd", "composite"]


def need(*parts: str) -> Path:
    p = DATA.joinpath(*parts)
    if not p.exists():
        pytest.skip(f"shared data not available: {p}")
    return p


@pytest.fixture(scope="module")
def speech():
    from voxclean.audio import load
    return load(need("speech", "cmu_arctic", "cmu_arctic_us_aew_a0001.flac"))


@pytest.fixture(scope="module")
def cafe(speech):
    from voxclean.audio import load, resample
    x, sr = speech
    n, nsr = load(need("noise", "dev", "cafe_short.flac"), channels="downmix")
    return np.resize(resample(n, nsr, sr), len(x)).astype(np.float32)


def at_snr(x: np.ndarray, n: np.ndarray, snr_db: float) -> np.ndarray:
    g = np.sqrt(np.sum(x.astype(np.float64) ** 2) / (np.sum(n.astype(np.float64) ** 2) * 10 ** (snr_db / 10)))
    return (x + g * n).astype(np.float32)


def test_registry_names():
    assert METRICS.names() == sorted(INTRUSIVE + ["dnsmos"])
    assert METRICS.get("composite").outputs == ("csig", "cbak", "covl")
    assert METRICS.get("dnsmos").outputs == ("dnsmos_sig", "dnsmos_bak", "dnsmos_ovrl", "dnsmos_p808")


def test_identity(speech):
    x, sr = speech
    s = score_pair(x, x.copy(), sr, metrics=INTRUSIVE)
    assert s["si_sdr"] > 60
    assert s["pesq_wb"] == pytest.approx(4.644, abs=0.01)      # the top of the P.862.2 scale
    assert s["pesq_nb"] > 4.4
    assert s["stoi"] > 0.999 and s["estoi"] > 0.999
    assert s["segsnr"] == pytest.approx(35.0)                   # every frame at the clamp
    assert s["lsd"] < 1e-9 and s["mcd"] < 1e-9
    assert s["csig"] == s["cbak"] == s["covl"] == 5.0


def test_every_metric_degrades_monotonically_with_snr(speech, cafe):
    x, sr = speech
    scores = [score_pair(x, at_snr(x, cafe, snr), sr, metrics=INTRUSIVE) for snr in (30, 15, 5)]
    for key in scores[0]:
        v = [s[key] for s in scores]
        if key in ("lsd", "mcd"):
            assert v[0] < v[1] < v[2], (key, v)
        else:
            assert v[0] > v[1] > v[2], (key, v)


@pytest.mark.parametrize("snr", [-5.0, 0.0, 10.0, 20.0])
def test_si_sdr_equals_known_snr(speech, cafe, snr):
    x, sr = speech
    rng = np.random.default_rng(int(snr) + 100)
    white = rng.standard_normal(len(x)).astype(np.float32)
    for noise in (white, cafe):
        assert si_sdr(x, at_snr(x, noise, snr)) == pytest.approx(snr, abs=0.5)


def test_scale_invariance(speech, cafe):
    x, sr = speech
    y = at_snr(x, cafe, 10)
    a = score_pair(x, y, sr, metrics=["si_sdr", "stoi"])
    b = score_pair(x, 0.1 * y, sr, metrics=["si_sdr", "stoi"])
    assert b["si_sdr"] == pytest.approx(a["si_sdr"], abs=1e-4)
    assert b["stoi"] == pytest.approx(a["stoi"], abs=1e-4)
    # a gain changes only c0, which MCD leaves out
    assert mcd(x, 0.25 * x, sr) < 1e-6 and mcd(x, y, sr) > 1.0


@pytest.mark.parametrize("delay", [37, -25, 800])
def test_alignment_recovers_known_delay(speech, cafe, delay):
    x, sr = speech
    y = at_snr(x, cafe, 15)
    shifted = np.concatenate([np.zeros(delay, np.float32), y])[: len(y)] if delay > 0 else \
        np.concatenate([y[-delay:], np.zeros(-delay, np.float32)])
    assert estimate_lag(x, shifted, int(0.25 * sr)) == delay
    aligned = score_pair(x, shifted, sr, metrics=["si_sdr"], align=True)["si_sdr"]
    raw = score_pair(x, shifted, sr, metrics=["si_sdr"])["si_sdr"]
    assert aligned == pytest.approx(si_sdr(x, y), abs=0.5)     # edge samples lost to the shift only
    assert raw < aligned - 10


def test_alignment_is_bounded(speech):
    x, sr = speech
    late = np.concatenate([np.zeros(sr // 2, np.float32), x])   # 0.5 s late: outside +/- 0.25 s
    assert abs(estimate_lag(x, late, int(0.25 * sr))) <= int(0.25 * sr)
    assert estimate_lag(x, late, int(0.6 * sr)) == sr // 2


def test_composite_formula_reproduces_loizou_example():
    # composite.m README: LLR=0.681368 SNRseg=3.991727 WSS=49.671978 PESQ=2.255732 -> 3.3050 2.6160 2.7133
    c = composite(llr=0.681368, wss=49.671978, segsnr=3.991727, pesq=2.255732)
    assert c["csig"] == pytest.approx(3.3050, abs=5e-4)
    assert c["cbak"] == pytest.approx(2.6160, abs=5e-4)
    assert c["covl"] == pytest.approx(2.7133, abs=5e-4)
    assert composite(llr=0.0, wss=0.0, segsnr=35.0, pesq=4.5) == {"csig": 5.0, "cbak": 5.0, "covl": 5.0}
    assert composite(llr=2.0, wss=150.0, segsnr=-10.0, pesq=1.0) == {"csig": 1.0, "cbak": 1.0, "covl": 1.0}


def test_composite_frame_measures_match_independent_port():
    """LLR, WSS and segSNR on NOIZEUS sp01 (babble, 5 dB), against pysepm's port of composite.m
    (values computed with pysepm-evo 0.1.1; no rounding tie at 371 frames)."""
    import soundfile as sf

    from voxclean.metrics import loizou
    c, sr = sf.read(need("benchmarks", "noizeus", "clean", "sp01.flac"))
    n, _ = sf.read(next(need("benchmarks", "noizeus", "noisy", "babble_5dB").glob("sp01*")))
    c, n = c + loizou.EPS, n + loizou.EPS
    assert loizou.trimmed_mean(loizou.llr_frames(c, n, sr)) == pytest.approx(0.7884149544352254, rel=1e-6)
    assert loizou.trimmed_mean(loizou.wss_frames(c, n, sr)) == pytest.approx(47.386033393968276, rel=1e-6)
    assert np.mean(loizou.segsnr_frames(c, n, sr)) == pytest.approx(-1.7250672750463716, rel=1e-6)


def test_composite_range_and_order(speech, cafe):
    x, sr = speech
    hi = score_pair(x, at_snr(x, cafe, 20), sr, metrics=["composite"])
    lo = score_pair(x, at_snr(x, cafe, 5), sr, metrics=["composite"])
    for k in ("csig", "cbak", "covl"):
        assert 1.0 <= lo[k] < hi[k] <= 5.0
    parts = Composite().parts(x, at_snr(x, cafe, 20), sr)
    assert 0 < parts["llr"] < 2 and 0 < parts["wss"] < 100 and 1 < parts["pesq"] < 4.6
    wb = Composite(pesq="wb").score(x, at_snr(x, cafe, 20), sr)
    assert all(1.0 <= wb[k] <= 5.0 for k in wb) and wb != hi


def test_p862_mappings_are_inverse():
    for raw in (-0.3, 1.0, 2.237, 3.5, 4.5):
        for m in ("p862.1", "p862.2"):
            assert mos_lqo_to_raw(raw_to_mos_lqo(raw, m), m) == pytest.approx(raw, abs=1e-9)
    assert raw_to_mos_lqo(4.5, "p862.2") == pytest.approx(4.644, abs=1e-3)
    assert np.isnan(mos_lqo_to_raw(5.5))


def test_silent_estimate_gives_nan_and_warns(speech):
    x, sr = speech
    with pytest.warns(RuntimeWarning, match="silent"):
        s = score_pair(x, np.zeros_like(x), sr, metrics=["pesq_wb", "pesq_nb", "si_sdr", "composite", "stoi"])
    assert np.isnan(s["pesq_wb"]) and np.isnan(s["pesq_nb"]) and np.isnan(s["si_sdr"]) and np.isnan(s["csig"])
    assert s["stoi"] < 0.1


def test_pesq_error_becomes_nan_with_warning(speech):
    """P.862 raises NoUtterancesError on this 0.25 s excerpt (too short for its utterance search);
    score_pair turns it into NaN + a warning and still computes the other metrics."""
    x, sr = speech
    clip = x[:4000]
    with pytest.warns(RuntimeWarning, match="NoUtterancesError"):
        s = score_pair(clip, clip.copy(), sr, metrics=["pesq_wb", "si_sdr"])
    assert np.isnan(s["pesq_wb"]) and s["si_sdr"] > 60


def test_lengths_rates_and_shapes(speech):
    from voxclean.audio import resample
    x, sr = speech
    short = score_pair(x, x[:-800], sr, metrics=["si_sdr"])["si_sdr"]   # zero-padded at the end
    assert 10 < short < 60
    x8 = resample(x, sr, 8000)
    s8 = score_pair(x8, x8, 8000, metrics=["pesq_wb", "pesq_nb", "composite"])
    assert s8["pesq_nb"] > 4.4 and s8["csig"] == 5.0
    with pytest.raises(ValueError, match="mono"):
        score_pair(np.stack([x, x]), x, sr, metrics=["si_sdr"])
    with pytest.raises(KeyError, match="available"):
        score_pair(x, x, sr, metrics=["pesq_xx"])


def test_too_short_pair_gives_nan_not_crash(speech):
    x, sr = speech
    for n in (400, 3000):                                   # 25 ms (under one frame), 190 ms
        clip = x[8000:8000 + n]
        with pytest.warns(RuntimeWarning):
            s = score_pair(clip, clip.copy(), sr, metrics=INTRUSIVE)
        assert np.isnan(s["pesq_wb"]) and np.isnan(s["stoi"]) and np.isnan(s["csig"])
        assert s["si_sdr"] > 60 and s["lsd"] < 1e-9


@pytest.mark.slow
def test_dnsmos_prefers_clean_speech(speech, cafe):
    x, sr = speech
    clean = score_pair(x, x, sr, metrics=["dnsmos"])
    noisy = score_pair(x, at_snr(x, cafe, 0), sr, metrics=["dnsmos"])
    assert set(clean) == {"dnsmos_sig", "dnsmos_bak", "dnsmos_ovrl", "dnsmos_p808"}
    assert clean["dnsmos_ovrl"] > noisy["dnsmos_ovrl"] + 0.5
    assert clean["dnsmos_bak"] > noisy["dnsmos_bak"]
    assert all(1.0 <= v <= 5.0 for v in clean.values())
