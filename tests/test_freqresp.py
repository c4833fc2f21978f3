"""Frequency response by exponential sine sweep (Farina; seed 003 Sec. 6) on systems with known answers."""
from __future__ import annotations

import numpy as np
import pytest

from voxclean.probe import freqresp
from voxclean.probe.systems import FilterSystem, IdentitySystem, resolve_system

SR = 16000


def _arr(values) -> np.ndarray:
    return np.array([np.nan if v is None else v for v in values], dtype=float)


def test_sweep_is_exponential_from_f1_to_nyquist():
    s = freqresp.sweep(SR, seconds=2.0)
    assert len(s) == 2 * SR and np.abs(s).max() <= 1.0
    # instantaneous frequency from zero crossings: f(t) = f1 exp(t / L), L = T / ln(f2 / f1)
    L = 2.0 / np.log((SR / 2) / 20.0)
    crossings = np.nonzero(np.diff(np.signbit(s)))[0] / SR
    for t in (0.5, 1.0, 1.5):
        near = crossings[(crossings > t - 0.05) & (crossings < t + 0.05)]
        f_meas = (len(near) - 1) / (2 * (near[-1] - near[0]))
        assert f_meas == pytest.approx(20.0 * np.exp(t / L), rel=0.03)
    with pytest.raises(ValueError):
        freqresp.sweep(SR, f2=SR)


def test_identity_is_flat_without_distortion():
    r = freqresp.measure(IdentitySystem(), SR)
    f = np.array(r["freqs"])
    assert f[0] == 20.0 and f[-1] <= SR / 2
    band = (f >= 50) & (f <= 0.9 * SR / 2)
    assert [lv["level_dbfs"] for lv in r["levels"]] == [-30.0, -12.0, -3.0]
    for lv in r["levels"]:
        mag = np.array(lv["magnitude_db"])
        assert np.all(np.abs(mag[band]) <= 0.5), (lv["level_dbfs"], mag[band].min(), mag[band].max())
        thd = _arr(lv["thd_db"])
        assert np.nanmax(thd[f >= 50]) < -60           # floor of the method (module docstring)


def test_butterworth_lowpass_response_is_followed():
    lp = FilterSystem("lowpass", 3000, order=8)
    r = freqresp.measure(lp, SR, levels_dbfs=(-12.0,), keep_raw=True)
    lv = r["levels"][0]
    raw_f, raw_p = lv["raw"]["freqs"], lv["raw"]["power"]
    sel = (raw_f >= 50) & (raw_f <= 0.9 * SR / 2)
    exact = lp.response_db(raw_f[sel], SR)
    measured = 10 * np.log10(raw_p[sel])
    ok = exact > -60
    assert np.max(np.abs(measured[ok] - exact[ok])) < 0.1
    # the 1/3-octave smoothed curve follows the equally smoothed exact response
    f = np.array(r["freqs"])
    exact_s = 10 * np.log10(np.maximum(
        freqresp.smooth_fraction_octave(raw_f, 10 ** (lp.response_db(raw_f, SR) / 10), f), 1e-30))
    band = (f >= 50) & (f <= 0.9 * SR / 2) & (exact_s > -60)
    assert np.max(np.abs(np.array(lv["magnitude_db"])[band] - exact_s[band])) < 0.5
    assert 3000 < lv["upper_edge_hz"] < 3700


def test_harmonic_distortion_of_a_polynomial_matches_theory():
    class Poly:                                       # y = x + 0.1 x^2 + 0.1 x^3
        name = "poly"

        def process(self, x, sr):
            return (x + 0.1 * x ** 2 + 0.1 * x ** 3).astype(np.float32)

    r = freqresp.measure(Poly(), SR, levels_dbfs=(-3.0,))
    lv, f = r["levels"][0], np.array(r["freqs"])
    A = 10 ** (-3 / 20)
    fund = 1 + 0.075 * A ** 2                          # x^3 adds 3/4 A^3 to the fundamental
    i = int(np.argmin(np.abs(f - 500)))
    assert lv["harmonics_db"]["2"][i] == pytest.approx(20 * np.log10(0.05 * A / fund), abs=0.1)       # x^2 -> A^2/2
    assert lv["harmonics_db"]["3"][i] == pytest.approx(20 * np.log10(0.025 * A ** 2 / fund), abs=0.1)  # x^3 -> A^3/4
    assert lv["magnitude_db"][i] == pytest.approx(20 * np.log10(fund), abs=0.05)
    assert lv["harmonics_db"]["4"][i] < -80
    assert _arr(lv["harmonics_db"]["2"])[f * 2 > 0.85 * SR / 2].size and \
        np.isnan(_arr(lv["harmonics_db"]["2"])[f * 2 > 0.85 * SR / 2]).all()   # no harmonic above Nyquist


def test_narrowband_codec_shows_its_bandwidth(tmp_path):
    system = resolve_system("mulaw")
    if system.codec.unavailable_reason():
        pytest.skip("mulaw unavailable")
    r = freqresp.measure(system, SR, levels_dbfs=(-12.0,))
    lv, f = r["levels"][0], np.array(r["freqs"])
    mag = np.array(lv["magnitude_db"])
    assert np.all(np.abs(mag[(f >= 100) & (f <= 3400)]) < 1.0)   # G.711 at 8 kHz: flat in the telephone band
    assert np.all(mag[f >= 4500] < -40)                          # and nothing above 4 kHz
    assert 3500 < lv["upper_edge_hz"] < 4200
    png = freqresp.plot_freqresp([r, freqresp.measure("identity", SR, levels_dbfs=(-12.0,))], tmp_path / "fr.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
