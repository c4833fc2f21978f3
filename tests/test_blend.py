"""--atten-lim-db / --mix for any enhancer (voxclean.enhance.blend)."""
import numpy as np
import pytest
from typer.testing import CliRunner

from tests.conftest import stream_in_random_blocks
from voxclean.audio.io import load, save
from voxclean.cli import app
from voxclean.enhance import ENHANCERS
from voxclean.enhance.blend import Blended, blend_weights, with_blend


def test_weights_and_errors():
    assert blend_weights(None, 1.0) == (1.0, 0.0)
    a, b = blend_weights(20.0, 1.0)
    assert a == pytest.approx(0.9) and b == pytest.approx(0.1)
    assert blend_weights(None, 0.25) == (0.25, 0.75)
    with pytest.raises(ValueError, match="mix"):
        blend_weights(None, 1.5)
    with pytest.raises(ValueError, match="atten_lim_db"):
        blend_weights(-3.0, 1.0)


def test_limit_bounds_suppression_and_streams_equal_offline(noisy_pair):
    clean, noisy, sr = noisy_pair
    wiener = ENHANCERS.get("wiener")
    full = wiener.enhance(noisy, sr)
    lim = Blended(wiener, atten_lim_db=6.0)
    y = lim.enhance(noisy, sr)
    # the residual x - y is the removed part; with a 6 dB limit at most half the amplitude is removed
    removed_full = np.sum((noisy - full) ** 2)
    removed_lim = np.sum((noisy - y) ** 2)
    assert removed_lim == pytest.approx(removed_full * (1 - 10 ** (-6 / 20)) ** 2, rel=1e-3)
    streamed = stream_in_random_blocks(lim.stream(sr), noisy, 700, seed=3)
    np.testing.assert_allclose(streamed, y, atol=1e-5)
    dry = with_blend(wiener, None, 0.0).enhance(noisy, sr)
    np.testing.assert_allclose(dry, noisy, atol=1e-6)
    assert with_blend(wiener) is wiener


def test_cli_flags(tmp_path, noisy_pair):
    clean, noisy, sr = noisy_pair
    save(tmp_path / "in.wav", noisy, sr)
    r = CliRunner().invoke(app, ["enhance", str(tmp_path / "in.wav"), str(tmp_path / "a.wav"), "-m", "wiener",
                                 "--mix", "0.5"])
    assert r.exit_code == 0, r.output
    half, _ = load(tmp_path / "a.wav")
    full = ENHANCERS.get("wiener").enhance(noisy, sr)
    np.testing.assert_allclose(half, 0.5 * full + 0.5 * noisy, atol=2e-4)   # 16-bit file
    r = CliRunner().invoke(app, ["enhance", str(tmp_path / "in.wav"), str(tmp_path / "b.wav"), "--mix", "2"])
    assert r.exit_code != 0
