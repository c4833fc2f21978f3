import numpy as np
import soundfile as sf
from typer.testing import CliRunner

from voxclean.cli import app
from voxclean.enhance import ENHANCERS
from voxclean.enhance.apply import enhance_file, enhance_signal


class OfflineSmoother:
    """A non-causal test enhancer (centred moving average) to exercise the overlap-window path."""
    name, sample_rate, causal = "smooth", None, False

    def enhance(self, x, sr):
        return np.convolve(x, np.ones(5) / 5, mode="same").astype(np.float32)


def test_enhance_signal_multichannel_and_downmix(noisy_pair):
    _, noisy, sr = noisy_pair
    x = np.stack([noisy, 0.5 * noisy])
    w = ENHANCERS.get("wiener")
    y = enhance_signal(w, x, sr)
    assert y.shape == x.shape
    assert np.allclose(y[0], w.enhance(noisy, sr), atol=1e-6)
    assert enhance_signal(w, x, sr, channels="downmix").shape == noisy.shape


def test_native_rate_enhancer_is_resampled_in_and_out(noisy_pair):
    _, noisy, sr = noisy_pair

    class Native8k(OfflineSmoother):
        sample_rate = 8000

        def enhance(self, x, sr_):
            assert sr_ == 8000
            return x

    y = enhance_signal(Native8k(), noisy, sr)
    assert y.shape == noisy.shape
    assert np.corrcoef(y, noisy)[0, 1] > 0.9   # band-limited to 4 kHz but the same signal


def test_file_in_blocks_equals_whole_signal(tmp_path, noisy_pair):
    _, noisy, sr = noisy_pair
    x = np.stack([noisy, noisy[::-1].copy()])
    sf.write(tmp_path / "in.wav", x.T, sr, subtype="FLOAT")
    w = ENHANCERS.get("wiener")
    seen = []
    enhance_file(w, tmp_path / "in.wav", tmp_path / "out.wav", block_seconds=0.7, on_progress=seen.append)
    y, out_sr = sf.read(tmp_path / "out.wav", dtype="float32")
    assert out_sr == sr and y.shape == x.T.shape
    assert abs(sum(seen) - x.shape[1] / sr) < 1e-6
    assert np.max(np.abs(y.T - enhance_signal(w, x, sr))) < 1e-5


def test_non_causal_overlap_windows_match_whole_signal_away_from_seams(tmp_path, noisy_pair):
    _, noisy, sr = noisy_pair
    sf.write(tmp_path / "in.wav", noisy, sr, subtype="FLOAT")
    enhance_file(OfflineSmoother(), tmp_path / "in.wav", tmp_path / "o.wav", block_seconds=1.0, overlap_seconds=0.1)
    y, _ = sf.read(tmp_path / "o.wav", dtype="float32")
    assert y.shape == noisy.shape
    assert np.max(np.abs(y - OfflineSmoother().enhance(noisy, sr))) < 1e-4


def test_cli_folder_mirrors_layout_reports_bad_files_and_never_overwrites(tmp_path, noisy_pair):
    _, noisy, sr = noisy_pair
    src = tmp_path / "in"
    (src / "sub").mkdir(parents=True)
    sf.write(src / "a.flac", noisy, sr)
    sf.write(src / "sub" / "b.wav", noisy[: sr * 2], sr)
    (src / "broken.wav").write_text("this is not audio")
    runner = CliRunner()
    res = runner.invoke(app, ["enhance", str(src), str(tmp_path / "out")])
    assert res.exit_code == 1
    assert "broken.wav" in res.output
    assert (tmp_path / "out" / "a.wav").exists() and (tmp_path / "out" / "sub" / "b.wav").exists()
    assert sf.info(tmp_path / "out" / "sub" / "b.wav").frames == 2 * sr
    before = (tmp_path / "out" / "a.wav").stat().st_mtime_ns
    (src / "broken.wav").unlink()
    res = runner.invoke(app, ["enhance", str(src), str(tmp_path / "out")])
    assert res.exit_code == 1 and "exists" in res.output
    assert (tmp_path / "out" / "a.wav").stat().st_mtime_ns == before
    res = runner.invoke(app, ["enhance", str(src), str(tmp_path / "out"), "--overwrite"])
    assert res.exit_code == 0, res.output
    res = runner.invoke(app, ["enhance", str(src / "a.flac"), str(src / "a.flac"), "--overwrite"])
    assert res.exit_code == 1 and sf.info(src / "a.flac").format == "FLAC"


def test_methods_lists_the_default():
    res = CliRunner().invoke(app, ["methods"])
    assert res.exit_code == 0 and "neural *" in res.output and "wiener *" not in res.output


def test_cli_method_options_reach_the_enhancer(tmp_path, noisy_pair):
    _, noisy, sr = noisy_pair
    sf.write(tmp_path / "in.wav", noisy, sr, subtype="FLOAT")
    runner = CliRunner()
    res = runner.invoke(app, ["enhance", str(tmp_path / "in.wav"), str(tmp_path / "mild.wav"),
                              "-o", "atten_lim_db=3"])
    assert res.exit_code == 0, res.output
    res = runner.invoke(app, ["enhance", str(tmp_path / "in.wav"), str(tmp_path / "strong.wav")])
    mild, _ = sf.read(tmp_path / "mild.wav")
    strong, _ = sf.read(tmp_path / "strong.wav")
    assert np.std(mild) > np.std(strong)          # 3 dB of maximum suppression removes less
    res = runner.invoke(app, ["enhance", str(tmp_path / "in.wav"), str(tmp_path / "x.wav"), "-o", "nonsense=1"])
    assert res.exit_code != 0 and "nonsense" in res.output


def test_cli_default_notes_narrowband_input(tmp_path, noisy_pair):
    """8 kHz input through the neural default gets a one-line pointer to the classical method that
    scored higher on telephone speech; 16 kHz input and an explicit classical method do not."""
    from voxclean.audio import resample
    _, noisy, sr = noisy_pair
    sf.write(tmp_path / "nb.wav", resample(noisy[: 2 * sr], sr, 8000), 8000, subtype="FLOAT")
    sf.write(tmp_path / "wb.wav", noisy[: 2 * sr], sr, subtype="FLOAT")
    runner = CliRunner()
    res = runner.invoke(app, ["enhance", str(tmp_path / "nb.wav"), str(tmp_path / "nb_out.wav")], terminal_width=200)
    assert res.exit_code == 0, res.output
    assert "8 kHz or less" in res.output and "logmmse" in res.output
    assert sf.info(str(tmp_path / "nb_out.wav")).samplerate == 8000
    res = runner.invoke(app, ["enhance", str(tmp_path / "wb.wav"), str(tmp_path / "wb_out.wav")], terminal_width=200)
    assert res.exit_code == 0 and "8 kHz or less" not in res.output
    res = runner.invoke(app, ["enhance", str(tmp_path / "nb.wav"), str(tmp_path / "nb2.wav"), "-m", "logmmse"],
                        terminal_width=200)
    assert res.exit_code == 0 and "8 kHz or less" not in res.output
