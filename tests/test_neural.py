"""The causal neural enhancer: size/latency budget, streaming == offline, ONNX with explicit state,
training CLI (checkpoint, log, resume), and the shipped weights on real noisy speech."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from voxclean.enhance import ENHANCERS  # noqa: E402
from voxclean.enhance.neural.enhancer import WEIGHTS_DIR, NeuralEnhancer  # noqa: E402
from voxclean.enhance.neural.model import HOP, N_FFT, SR, ModelConfig, NeuralSE, enhance_batch  # noqa: E402

from conftest import need_data  # noqa: E402

TINY = ModelConfig(erb_bands=16, hidden=24, layers=2, df_bins=12, df_order=3)


@pytest.fixture(scope="module", params=[(0.0, False), (6.0, False), (0.0, True)],
                ids=["plain", "prewiener6", "noisefeatures"])
def tiny_weights(request, tmp_path_factory) -> Path:
    """A randomly initialised tiny model whose deep filter is switched on (its head starts at zero);
    plain, behind the 6 dB Wiener pre-gain (``pre_wiener_db``), and with the tracker's noise PSD as
    extra input (``noise_features``), so every contract (streaming, training path, ONNX, blend) is
    checked for each."""
    torch.manual_seed(0)
    pre, noise_features = request.param
    cfg = ModelConfig(**{**TINY.to_dict(), "pre_wiener_db": pre, "noise_features": noise_features})
    m = NeuralSE(cfg)
    torch.nn.init.normal_(m.df.weight, std=0.2)
    torch.nn.init.normal_(m.gain.weight, std=0.5)
    path = tmp_path_factory.mktemp("w") / "tiny.pt"
    torch.save({"model": m.state_dict(), "model_config": cfg.to_dict()}, path)
    return path


def _speechlike(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(n) / SR
    env = 0.5 + 0.5 * np.sin(2 * np.pi * 3 * t)
    x = env * (0.2 * np.sin(2 * np.pi * 180 * t) + 0.1 * np.sin(2 * np.pi * 360 * t)) + 0.02 * rng.standard_normal(n)
    return x.astype(np.float32)


def test_default_model_fits_budget():
    m = NeuralSE()
    assert m.n_params() <= 1_000_000
    assert (N_FFT - HOP) / SR * 1000 + HOP / SR * 1000 <= 20.0       # algorithmic latency: window overlap + hop
    assert NeuralEnhancer.latency_ms <= 20.0
    assert m.macs_per_frame() * SR / HOP < 50e6                        # < 50 MMAC/s
    from voxclean.enhance.neural.enhancer import DEFAULT_WEIGHTS, load_model
    if (WEIGHTS_DIR / f"{DEFAULT_WEIGHTS}.pt").is_file():             # the shipped default (issue 4: <= 1 M)
        shipped = load_model(DEFAULT_WEIGHTS)
        assert shipped.n_params() <= 1_000_000
        assert shipped.macs_per_frame() * SR / HOP < 100e6             # < 100 MMAC/s (DFN3: ~344 M)


@pytest.mark.parametrize("post", [0.0, 0.05], ids=["plain", "postfilter"])
def test_stream_equals_offline_random_blocks(tiny_weights, post):
    enh = NeuralEnhancer(weights=str(tiny_weights), post_filter=post)
    x = _speechlike(SR * 2 + 123)
    y = enh.enhance(x, SR)
    assert y.shape == x.shape and y.dtype == np.float32
    assert np.max(np.abs(y - x)) > 1e-3                                # the model does change the signal
    rng = np.random.default_rng(1)
    st, parts, i = enh.stream(SR), [], 0
    while i < len(x):
        b = int(rng.integers(1, 700))
        parts.append(st.push(x[i:i + b]))
        i += b
    parts.append(st.flush())
    ys = np.concatenate(parts)
    assert ys.shape == y.shape
    assert np.max(np.abs(ys - y)) < 1e-4
    assert len(st.vad) == len(enh.vad(x, SR)) and np.allclose(st.vad, enh.vad(x, SR), atol=1e-5)


def test_offline_path_matches_training_path(tiny_weights):
    """The STFT stream (numpy) and the training STFT/OLA (torch) give the same enhanced signal."""
    enh = NeuralEnhancer(weights=str(tiny_weights))
    x = _speechlike(SR)
    y_torch, _ = enhance_batch(enh.model, torch.from_numpy(x)[None])
    assert np.max(np.abs(enh.enhance(x, SR) - y_torch[0].detach().numpy())) < 1e-4


def test_atten_lim_and_mix_bounds(tiny_weights):
    x = _speechlike(SR // 2)
    assert np.allclose(NeuralEnhancer(weights=str(tiny_weights), atten_lim_db=0).enhance(x, SR), x, atol=1e-5)
    assert np.allclose(NeuralEnhancer(weights=str(tiny_weights), mix=0.0).enhance(x, SR), x, atol=1e-5)
    full = NeuralEnhancer(weights=str(tiny_weights)).enhance(x, SR)
    half = NeuralEnhancer(weights=str(tiny_weights), mix=0.5).enhance(x, SR)
    assert np.allclose(half, 0.5 * full + 0.5 * x, atol=1e-5)
    lim = NeuralEnhancer(weights=str(tiny_weights), atten_lim_db=6).enhance(x, SR)
    g = 10 ** (-6 / 20)
    assert np.allclose(lim, full + g * (x - full), atol=1e-5)
    with pytest.raises(ValueError, match="mix"):
        NeuralEnhancer(weights=str(tiny_weights), mix=1.5)


def test_other_rates_keep_length_and_drop_above_8k(tiny_weights):
    enh = NeuralEnhancer(weights=str(tiny_weights), mix=0.0)          # mix 0: only the resampling remains
    sr = 48000
    t = np.arange(sr) / sr
    x = (0.1 * np.sin(2 * np.pi * 1000 * t) + 0.1 * np.sin(2 * np.pi * 12000 * t)).astype(np.float32)
    y = enh.enhance(x, sr)
    assert y.shape == x.shape
    spec = np.abs(np.fft.rfft(y[4800:-4800]))
    f = np.fft.rfftfreq(len(y) - 9600, 1 / sr)
    assert spec[np.argmin(np.abs(f - 1000))] > 100 * spec[np.argmin(np.abs(f - 12000))]
    with pytest.raises(ValueError, match="16000"):
        enh.stream(sr)


def test_onnx_matches_pytorch_frame_by_frame(tiny_weights, tmp_path):
    pytest.importorskip("onnxruntime")
    from voxclean.enhance.neural.enhancer import load_model
    from voxclean.enhance.neural.export import check_onnx, export_onnx
    model = load_model(str(tiny_weights))
    path = export_onnx(model, tmp_path / "tiny.onnx")
    d = check_onnx(model, path, _speechlike(SR // 2, seed=3))
    assert d["frames"] > 40
    assert d["max_abs_diff_spec"] < 1e-4 and d["max_abs_diff_vad"] < 1e-4


def _tiny_train_config(**train) -> dict:
    """A training config for the TINY model on 1 s ARCTIC + hu100 mixtures (skips without the data)."""
    return {"model": TINY.to_dict(),
            "data": {"speech": [str(need_data("speech", "cmu_arctic"))], "noise": [str(need_data("noise", "hu100"))],
                     "segment_s": 1.0, "p_reverb": 0.0, "p_bandlimit": 0.0},
            "train": {"batch": 2, **train}}


def test_train_config_data_keys_reach_the_sampler_and_typos_are_refused():
    from voxclean.enhance.neural.train import make_sampler
    dc = _tiny_train_config()["data"]
    s = make_sampler({**dc, "p_noise_lowpass": 0.2, "snr": [0, 5]}, seed=4)
    assert (s.p_noise_lowpass, s.snr, s.p_reverb, s.seed, s.p_clean) == (0.2, (0, 5), 0.0, 4, 0.0)
    with pytest.raises(ValueError, match="p_noise_lowpas"):
        make_sampler({**dc, "p_noise_lowpas": 0.2}, seed=4)


def test_train_cli_writes_checkpoint_and_log_and_resumes(tmp_path):
    cfg = _tiny_train_config(out=str(tmp_path / "run"), epochs=3, steps_per_epoch=1, seed=0)
    import csv

    import yaml
    from typer.testing import CliRunner

    from voxclean.cli import app
    (tmp_path / "tiny.yaml").write_text(yaml.safe_dump(cfg))
    runner = CliRunner()
    r = runner.invoke(app, ["train", str(tmp_path / "tiny.yaml"), "--max-steps", "2"])
    assert r.exit_code == 0, r.output
    run = tmp_path / "run"
    ck = torch.load(run / "last.pt", weights_only=False)
    assert ck["step"] == 2 and (run / "best.pt").is_file()
    if not torch.cuda.is_available():                                  # a clear error, nothing written
        r = runner.invoke(app, ["train", str(tmp_path / "tiny.yaml"), "--device", "cuda"])
        assert r.exit_code == 2 and "no GPU" in r.output
        assert torch.load(run / "last.pt", weights_only=False)["step"] == 2
    r = runner.invoke(app, ["train", str(tmp_path / "tiny.yaml"), "--device", "auto", "--workers", "1"])
    assert r.exit_code == 0, r.output                                   # resumes, runs the last epoch
    rows = list(csv.DictReader(open(run / "log.csv")))
    assert [int(row["step"]) for row in rows] == [1, 2, 3]
    assert torch.load(run / "last.pt", weights_only=False)["step"] == 3
    enh = NeuralEnhancer(weights=str(run / "best.pt"))                  # a checkpoint is directly usable
    assert enh.enhance(_speechlike(SR // 4), SR).shape == (SR // 4,)


def test_train_with_a_missing_init_checkpoint_fails_before_writing_anything(tmp_path):
    """Configs of older runs start from packaged weights that may have left the package since."""
    from voxclean.enhance.neural.train import train
    cfg = _tiny_train_config(out=str(tmp_path / "run"), init=str(tmp_path / "gone.pt"))
    with pytest.raises(FileNotFoundError, match="git history"):
        train(cfg)
    assert not (tmp_path / "run").exists()


def test_train_with_worker_processes_gives_the_same_run(tmp_path):
    """Batches built ahead in worker processes (``train.workers``) are the batches of the same steps:
    two runs, with and without workers, end with identical weights; ``keep_epochs`` writes one
    model-only snapshot per epoch."""
    from voxclean.enhance.neural.train import train
    base = _tiny_train_config(epochs=2, steps_per_epoch=2, seed=3, device="auto")
    runs = {}
    for workers in (0, 2):
        cfg = {**base, "train": {**base["train"], "workers": workers, "keep_epochs": True}}
        runs[workers] = train(cfg, out=tmp_path / f"w{workers}")
    a = torch.load(runs[0] / "last.pt", weights_only=False)["model"]
    b = torch.load(runs[2] / "last.pt", weights_only=False)["model"]
    assert a.keys() == b.keys() and all(torch.allclose(a[k], b[k]) for k in a)
    snaps = sorted(p.name for p in runs[2].glob("epoch_*.pt"))
    assert snaps == ["epoch_001.pt", "epoch_002.pt"]
    assert torch.load(runs[2] / "epoch_002.pt", weights_only=False)["step"] == 4


def test_ctrl_c_to_the_process_group_stops_a_run_with_workers_cleanly(tmp_path):
    """Ctrl-C reaches the whole process group, batch workers included: the run still finishes its
    step, saves last.pt and exits normally instead of dying with the workers."""
    import json
    import os
    import signal
    import subprocess
    import sys
    cfg = _tiny_train_config(epochs=1000, steps_per_epoch=1000, seed=3, workers=2)
    script = ("import json, sys\nfrom voxclean.enhance.neural.train import train\n"
              "train(json.loads(sys.argv[1]), out=sys.argv[2], progress=lambda p: print('step', p.get('step'), flush=True))\n")
    proc = subprocess.Popen([sys.executable, "-c", script, json.dumps(cfg), str(tmp_path / "run")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
                            cwd=Path(__file__).resolve().parents[1])
    try:
        for line in proc.stdout:                  # wait until training has really started
            if line.startswith("step"):
                break
        os.killpg(proc.pid, signal.SIGINT)
        _, err = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 0, err[-2000:]
    assert 1 <= torch.load(tmp_path / "run" / "last.pt", weights_only=False)["step"] < 10 ** 6


from voxclean.enhance.neural.enhancer import DEFAULT_WEIGHTS  # noqa: E402

shipped = pytest.mark.skipif(not (WEIGHTS_DIR / f"{DEFAULT_WEIGHTS}.pt").is_file(), reason="no packaged weights")


@shipped
def test_packaged_onnx_matches_packaged_checkpoint(noisy_pair):
    """The ONNX file shipped beside the default weights is their export (the torch-free backend)."""
    clean, noisy, sr = noisy_pair
    x = noisy[: 3 * sr]
    t = NeuralEnhancer(backend="torch").enhance(x, sr)
    o = NeuralEnhancer(backend="onnx").enhance(x, sr)
    np.testing.assert_allclose(o, t, atol=1e-4)


@shipped
def test_shipped_weights_registered_and_improve_pesq(noisy_pair):
    from voxclean.metrics import score_pair
    clean, noisy, sr = noisy_pair
    enh = ENHANCERS.get("neural")
    assert ENHANCERS.get("neural", backend="torch").model.n_params() <= 1_000_000
    y = enh.enhance(noisy, sr)
    before = score_pair(clean, noisy, sr, metrics=["pesq_wb"])["pesq_wb"]
    after = score_pair(clean, y, sr, metrics=["pesq_wb"])["pesq_wb"]
    assert after > before + 0.1, (before, after)


@shipped
def test_shipped_vad_separates_speech_from_noise(noisy_pair):
    clean, noisy, sr = noisy_pair
    enh = ENHANCERS.get("neural")
    lead = noisy[-sr:] - clean[-sr:]                                     # one second of the noise alone
    x = np.concatenate([lead, noisy]).astype(np.float32)
    v = enh.vad(x, sr)
    e = np.array([np.mean(clean[i * HOP:(i + 1) * HOP] ** 2) for i in range(len(clean) // HOP)])
    speech = v[100:][:len(e)][e > 0.1 * e.max()]
    assert speech.mean() > 0.7 and v[10:90].mean() < speech.mean() - 0.3   # neural_v5: 0.93 vs 0.44


@pytest.mark.parametrize("arch", ["unet", "convtasnet", "dccrn"])
def test_other_architectures_are_small_causal_and_train(arch, tmp_path):
    """Each config builds a model under 1 M parameters whose output before a change in the input
    (minus its look-ahead) is unchanged, and one training step through the shared pipeline runs."""
    import yaml

    from voxclean.enhance.neural.train import build_model, train
    cfg = yaml.safe_load((Path(__file__).resolve().parents[1] / "configs" / f"{arch}_small.yaml").read_text())
    torch.manual_seed(0)
    model = build_model(cfg["model"])
    assert sum(p.numel() for p in model.parameters()) <= 1_000_000
    x = torch.from_numpy(_speechlike(SR // 2))[None]
    x2 = x.clone()
    x2[:, 4000:] += 0.3 * torch.randn(1, SR // 2 - 4000)
    with torch.no_grad():
        y, y2 = model.forward_wave(x)[0], model.forward_wave(x2)[0]
    assert y.shape == x.shape
    lookahead = N_FFT - HOP
    assert torch.allclose(y[:, : 4000 - lookahead], y2[:, : 4000 - lookahead], atol=1e-6)
    assert (y[:, 4000:] - y2[:, 4000:]).abs().max() > 1e-3
    need_data("speech", "cmu_arctic")
    data = Path(__file__).resolve().parents[1].parent / "shared" / "data"
    cfg["data"] = {"speech": [str(data / "speech" / "cmu_arctic")], "noise": [str(data / "noise" / "hu100")],
                   "segment_s": 0.5, "p_reverb": 0.0, "p_bandlimit": 0.0, "p_codec": 0.0}
    cfg["train"] = {"batch": 1, "epochs": 1, "steps_per_epoch": 1}
    cfg.pop("valid", None)
    out = train(cfg, out=tmp_path / arch)
    ck = torch.load(out / "last.pt", weights_only=False)
    assert ck["step"] == 1 and ck["model_config"]["arch"] == arch
    enh = ENHANCERS.get("neural-arch", weights=str(out / "last.pt"))   # the checkpoint as a method
    x8 = _speechlike(8000, seed=2)
    y8 = enh.enhance(x8, 8000)
    assert y8.shape == x8.shape and np.isfinite(y8).all()
    with pytest.raises(ValueError, match="neural.arch"):
        ENHANCERS.get("neural-arch", weights=str(out.parent / "tiny_se.pt")) if _save_se(out.parent) else None


def _save_se(folder: Path) -> bool:
    torch.save({"model": NeuralSE(TINY).state_dict(), "model_config": TINY.to_dict()}, folder / "tiny_se.pt")
    return True


def test_export_cli_writes_onnx_and_int8(tiny_weights, tmp_path):
    pytest.importorskip("onnx")
    import onnxruntime as ort
    from typer.testing import CliRunner

    from voxclean.cli import app
    out, q = tmp_path / "m.onnx", tmp_path / "m8.onnx"
    r = CliRunner().invoke(app, ["export", "--onnx", str(out), "--weights", str(tiny_weights), "--int8", str(q)])
    assert r.exit_code == 0, r.output
    sess = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    cfg = torch.load(tiny_weights, weights_only=False)["model_config"]
    nf = cfg["noise_features"]
    assert [i.name for i in sess.get_inputs()] == ["spec", "h", "hist"] + (["noise"] if nf else [])
    assert [o.name for o in sess.get_outputs()] == ["enh", "vad", "h_out", "hist_out"]
    import onnx
    ops = [n.op_type for n in onnx.load(str(q)).graph.node]
    assert "MatMulInteger" in ops                                       # learned layers are int8 ...
    erb = [n for n in onnx.load(str(q)).graph.node if any(i.startswith("erb_") for i in n.input)]
    assert len(erb) == 2 + nf and all(n.op_type == "MatMul" for n in erb)   # ... the ERB maps stay float
    pre = str(float(cfg["pre_wiener_db"]))
    for f in (out, q):                                                   # the pre-gain depth travels along
        assert {p.key: p.value for p in onnx.load(str(f)).metadata_props}["pre_wiener_db"] == pre
    r = CliRunner().invoke(app, ["export", "--onnx", str(out), "--weights", str(tiny_weights)])
    assert r.exit_code != 0 and "exists" in r.output
    deep, deep8 = tmp_path / "new" / "a" / "m.onnx", tmp_path / "new" / "b" / "m8.onnx"   # folders made
    r = CliRunner().invoke(app, ["export", "--onnx", str(deep), "--weights", str(tiny_weights), "--int8", str(deep8)])
    assert r.exit_code == 0, r.output
    assert deep.is_file() and deep8.is_file() and not list(tmp_path.rglob("*.tmp.onnx"))


def test_colored_noise_has_the_drawn_slope():
    from voxclean.enhance.neural.data import colored_noise
    from scipy.signal import welch
    for seed in range(4):
        rng = np.random.default_rng(seed)
        x = colored_noise(rng, 64000)
        r = np.random.default_rng(seed)
        r.standard_normal(64000)
        beta = r.uniform(0, 2)                                # colored_noise's second draw
        f, p = welch(x, 16000, nperseg=1024)
        band = (f > 100) & (f < 6000)
        slope = np.polyfit(np.log10(f[band]), 10 * np.log10(p[band]), 1)[0]
        assert abs(slope - (-10 * beta)) < 7.0      # dB/decade; the +-6 dB EQ tilts it by up to ~6


def test_sampler_babble_is_speech_like_and_seeded():
    from tests.conftest import need_data
    from voxclean.enhance.neural.data import MixtureSampler
    sp = str(need_data("speech", "cmu_arctic"))
    s = MixtureSampler([sp], [str(need_data("noise", "hu100"))], snr=(0, 0), p_babble=1.0, p_reverb=0.0,
                       p_bandlimit=0.0, segment_s=2.0)
    y, d = s.example(3, 1)
    y2, d2 = s.example(3, 1)
    np.testing.assert_array_equal(y, y2)
    n = y.astype(np.float64) - d
    assert abs(10 * np.log10(np.mean(d.astype(np.float64) ** 2) / np.mean(n ** 2))) < 0.1   # SNR 0 dB
    env = np.abs(n[: len(n) // 400 * 400]).reshape(-1, 400).mean(1)       # 25 ms envelope
    assert env.std() / env.mean() > 0.2          # babble fluctuates, unlike stationary noise


def test_onnx_backend_equals_torch_backend(tiny_weights, tmp_path):
    """The torch-free backend (onnxruntime on the exported graph) gives the torch backend's output,
    offline and streamed, with the VAD, atten_lim_db and mix."""
    import shutil

    from voxclean.enhance.neural import enhancer as enh_mod
    from voxclean.enhance.neural.export import export_onnx
    assert (enh_mod.N_FFT, enh_mod.HOP) == (N_FFT, HOP)
    w = tmp_path / "tiny.pt"
    shutil.copy(tiny_weights, w)
    export_onnx(enh_mod.load_model(str(w)), tmp_path / "tiny.onnx")
    x = _speechlike(SR * 2 + 77, seed=4)
    for kw in ({}, {"atten_lim_db": 6.0, "mix": 0.8}, {"post_filter": 0.05}):
        t = NeuralEnhancer(weights=str(w), backend="torch", **kw)
        o = NeuralEnhancer(weights=str(w), backend="onnx", **kw)
        np.testing.assert_allclose(o.enhance(x, SR), t.enhance(x, SR), atol=2e-5)
        np.testing.assert_allclose(o.vad(x, SR), t.vad(x, SR), atol=1e-5)
        st = o.stream(SR)
        y = np.concatenate([st.push(x[:1234]), st.push(x[1234:]), st.flush()])
        np.testing.assert_allclose(y, t.enhance(x, SR), atol=2e-5)
    with pytest.raises(FileNotFoundError, match="onnx"):
        NeuralEnhancer(weights=str(tiny_weights.with_name("missing.pt")), backend="onnx")


def test_rumble_noise_lives_below_300_hz():
    from scipy.signal import welch

    from voxclean.enhance.neural.data import rumble_noise
    for seed in range(5):
        x = rumble_noise(np.random.default_rng(seed), 48000)
        f, p = welch(x, 16000, nperseg=2048)
        assert np.isfinite(x).all() and p[f < 300].sum() / p.sum() > 0.9


def test_lowpass_noise_moves_white_noise_below_a_kilohertz():
    from scipy.signal import welch

    from voxclean.enhance.neural.data import lowpass_noise
    white = np.random.default_rng(0).standard_normal(48000)
    for seed in range(5):
        x = lowpass_noise(np.random.default_rng(seed), white)
        f, p = welch(x, 16000, nperseg=2048)
        assert np.isfinite(x).all() and p[f < 1000].sum() / p.sum() > 0.95
        assert p[(f > 100) & (f < 150)].mean() > 1e3 * p[f > 3000].mean()


def _sampler_example_with_and_without(**augmentation):
    """Example (0, 0) of a 0 dB sampler on real speech and noise, without and with ``augmentation``:
    (y0, d0, y1, d1); the speech draw must be the same, only the noise may differ."""
    from voxclean.enhance.neural.data import MixtureSampler
    sp = [str(need_data("speech", "cmu_arctic"))]
    noise = [str(need_data("noise", "hu100"))]
    kw = dict(snr=(0, 0), p_reverb=0.0, p_bandlimit=0.0, segment_s=2.0)
    y0, d0 = MixtureSampler(sp, noise, **kw).example(0, 0)
    y1, d1 = MixtureSampler(sp, noise, **augmentation, **kw).example(0, 0)
    np.testing.assert_array_equal(d0, d1)
    return y0, d0, y1, d1


def test_sampler_noise_lowpass_keeps_speech_and_removes_high_noise():
    from scipy.signal import welch

    y0, d0, y1, d1 = _sampler_example_with_and_without(p_noise_lowpass=1.0)
    high = lambda n: (lambda f, p: p[f > 2000].sum() / p.sum())(*welch(n, 16000, nperseg=1024))
    assert high(y1 - d1) < 0.05 * high(y0 - d0)
    assert np.mean((y1 - d1) ** 2) == pytest.approx(np.mean((y0 - d0) ** 2), rel=0.05)   # SNR kept


def test_modulate_noise_makes_stationary_noise_come_and_go():
    from voxclean.enhance.neural.data import modulate_noise
    white = np.random.default_rng(0).standard_normal(48000)
    level = lambda x: 10 * np.log10(np.mean(x.reshape(-1, 1600) ** 2, axis=1))   # 100 ms frames
    assert np.ptp(level(white)) < 1.0
    for seed in range(6):
        x = modulate_noise(np.random.default_rng(seed), white)
        assert np.isfinite(x).all() and np.all(np.abs(x) <= np.abs(white) + 1e-12)   # a gain <= 1
        assert 4.0 < np.ptp(level(x)) < 21.0


def test_sampler_noise_modulate_keeps_speech_and_snr():
    y0, d0, y1, d1 = _sampler_example_with_and_without(p_noise_modulate=1.0)
    assert not np.allclose(y0, y1)
    assert np.mean((y1 - d1) ** 2) == pytest.approx(np.mean((y0 - d0) ** 2), rel=0.05)


def test_transient_noise_is_impulsive_and_tonal_noise_is_harmonic():
    from scipy.signal import welch
    from voxclean.enhance.neural.data import tonal_noise, transient_noise

    def line_share(x):
        """Median over loud 64 ms frames of the share of the frame's power in its 24 strongest bins."""
        spec = np.abs(np.fft.rfft(x[: len(x) // 1024 * 1024].reshape(-1, 1024) * np.hanning(1024))) ** 2
        e = spec.sum(1)
        share = np.sort(spec, axis=1)[:, -24:].sum(1) / np.maximum(e, 1e-30)
        return np.median(share[e > 0.01 * e.max()])

    for seed in range(6):
        rng = np.random.default_rng(seed)
        x = transient_noise(rng, 48000)
        frames = np.mean(x.reshape(-1, 160) ** 2, axis=1)       # 10 ms frames
        assert np.isfinite(x).all() and frames.max() > 0
        assert np.mean(frames < 1e-3 * frames.max()) > 0.2 or np.mean(x ** 4) / np.mean(x ** 2) ** 2 > 6
        y = tonal_noise(rng, 48000)
        assert np.isfinite(y).all() and np.abs(y).max() > 0
        assert line_share(y) > 0.5                                   # energy in a few lines, not a band
        f, p = welch(y, 16000, nperseg=2048)
        assert p[f > 7200].sum() < 1e-3 * p.sum()                  # nothing above 0.45 sr
    assert line_share(np.random.default_rng(0).standard_normal(48000)) < 0.2   # the check above can fail


def test_sampler_transient_and_tonal_noise_keep_speech_and_snr():
    for aug in ("p_noise_transient", "p_noise_tonal"):
        y0, d0, y1, d1 = _sampler_example_with_and_without(**{aug: 1.0})
        assert not np.allclose(y0, y1)
        assert np.mean((y1 - d1) ** 2) == pytest.approx(np.mean((y0 - d0) ** 2), rel=0.05)


def test_wiener_pregain_changes_the_input_and_follows_the_noise(tiny_weights):
    """The pre-gain is the causal Wiener gain, floored at -D dB: on stationary noise it settles at
    the floor, and a model with it differs from the same weights without it."""
    from voxclean.enhance.neural.prefilter import WienerPrefilter
    from voxclean.audio.stft import stft as np_stft
    noise = np.random.default_rng(5).standard_normal(SR * 2).astype(np.float32) * 0.05
    spec = np_stft(noise, N_FFT, HOP)
    out = WienerPrefilter(spec.shape[1], 6.0).process(spec)
    gain = np.abs(out[50:]) / np.maximum(np.abs(spec[50:]), 1e-12)
    assert np.median(gain) == pytest.approx(10 ** (-6 / 20), rel=0.05)
    assert gain.max() <= 1.0 + 1e-9
    with pytest.raises(ValueError, match="0 dB"):
        WienerPrefilter(161, 0.0)
    ck = torch.load(tiny_weights, weights_only=False)
    if ck["model_config"]["pre_wiener_db"]:
        other = tiny_weights.with_name("nopre.pt")
        torch.save({"model": ck["model"], "model_config": {**ck["model_config"], "pre_wiener_db": 0.0}}, other)
        x = _speechlike(SR) + noise[:SR]
        assert np.max(np.abs(NeuralEnhancer(weights=str(tiny_weights)).enhance(x, SR)
                             - NeuralEnhancer(weights=str(other)).enhance(x, SR))) > 1e-3


def test_noise_features_follow_the_noise_and_start_from_the_old_weights(tmp_path):
    """The tracker's noise PSD settles at the level of stationary noise; a model given it as input
    depends on it, and ``load_init`` starts such a model exactly where the checkpoint without it was."""
    from voxclean.audio.stft import stft as np_stft
    from voxclean.enhance.neural.prefilter import WienerPrefilter
    from voxclean.enhance.neural.train import load_init
    rng = np.random.default_rng(7)
    noise = rng.standard_normal(SR * 3).astype(np.float32) * 0.05
    spec = np_stft(noise, N_FFT, HOP)
    same, psd = WienerPrefilter(spec.shape[1], 0.0, track_noise=True).process_tracked(spec)
    assert np.array_equal(same, spec)                                  # 0 dB: frames pass, only tracked
    ratio = (np.median(psd[100:], axis=0) / np.mean(np.abs(spec[100:]) ** 2, axis=0))[1:-1]   # complex bins
    assert np.all((ratio > 0.5) & (ratio < 1.5))
    torch.manual_seed(1)
    old = NeuralSE(TINY)
    torch.nn.init.normal_(old.df.weight, std=0.2)
    new = NeuralSE(ModelConfig(**{**TINY.to_dict(), "noise_features": True}))
    load_init(new, dict(old.state_dict()))
    x = torch.from_numpy(_speechlike(SR) + noise[:SR])[None]
    with torch.no_grad():
        assert torch.allclose(enhance_batch(new, x)[0], enhance_batch(old, x)[0], atol=1e-6)
        torch.nn.init.normal_(new.inp.weight, std=0.3)
        z = torch.zeros(1, 4, N_FFT // 2 + 1, 2) + 0.01
        h, hist = new.initial_state(1)
        quiet, loud = (new(z, h, hist, torch.full((1, 4, N_FFT // 2 + 1), v))[0] for v in (1e-6, 1e-2))
        assert not torch.allclose(quiet, loud)
        with pytest.raises(ValueError, match="noise PSD"):
            new(z, h, hist)


def test_prefilter_batch_runs_each_item_with_its_own_state():
    """The batched pre-gain/tracker (all items at once) equals a fresh pre-filter per item."""
    from voxclean.enhance.neural.model import stft
    from voxclean.enhance.neural.prefilter import WienerPrefilter, prefilter_batch
    x = torch.from_numpy(np.stack([_speechlike(SR // 2, seed=s) * g for s, g in ((1, 1.0), (2, 0.01), (3, 0.3))]))
    spec = stft(x)
    gained, noise = prefilter_batch(spec, 6.0, track_noise=True)
    z = spec.double().numpy()
    c = z[..., 0] + 1j * z[..., 1]
    for b in range(3):
        out, psd = WienerPrefilter(c.shape[-1], 6.0, track_noise=True).process_tracked(c[b])
        assert np.allclose(gained[b, ..., 0].numpy(), out.real, atol=1e-6)
        assert np.allclose(noise[b].numpy(), psd, rtol=1e-5)
    assert prefilter_batch(spec, 6.0)[1] is None


def test_over_suppression_loss_only_counts_attenuated_speech(noisy_pair):
    from voxclean.enhance.neural.losses import over_suppression_loss, total_loss
    clean = torch.from_numpy(noisy_pair[0][:SR * 2])[None]
    assert over_suppression_loss(clean, clean).item() < 1e-6
    assert over_suppression_loss(2.0 * clean, clean).item() < 1e-6          # too loud: not penalised here
    quiet = over_suppression_loss(0.5 * clean, clean).item()
    assert quiet > 1e-4 and over_suppression_loss(0.25 * clean, clean).item() > quiet
    base, _ = total_loss(0.5 * clean, clean, None)
    weighted, _ = total_loss(0.5 * clean, clean, None, w_os=1.0)
    assert weighted.item() == pytest.approx(base.item() + quiet, rel=1e-4)


def test_stoi_loss_tracks_pystoi_and_ignores_scale(noisy_pair):
    """The STOI surrogate is 0 for the target at any gain, grows as real noise is added, ranks three
    SNRs the way pystoi does, and has a finite gradient."""
    from pystoi import stoi
    from voxclean.enhance.neural.losses import stoi_loss, total_loss
    clean, noisy = (a[: SR * 3].astype(np.float64) for a in noisy_pair[:2])
    noise = noisy - clean
    s = torch.from_numpy(clean.astype(np.float32))[None]
    assert stoi_loss(s, s).item() < 1e-4 and stoi_loss(0.3 * s, s).item() < 1e-4
    losses, ref = [], []
    for gain in (0.25, 1.0, 4.0):
        y = clean + gain * noise
        losses.append(stoi_loss(torch.from_numpy(y.astype(np.float32))[None], s).item())
        ref.append(stoi(clean, y, SR))
    assert losses[0] > 0.005 and losses[0] < losses[1] < losses[2]
    assert ref[0] > ref[1] > ref[2]
    y = torch.from_numpy((clean + noise).astype(np.float32))[None].requires_grad_(True)
    loss, _ = total_loss(y, s, None, w_stoi=1.0)
    loss.backward()
    assert torch.isfinite(y.grad).all() and y.grad.abs().sum() > 0


def test_sampler_p_clean_gives_noise_free_input():
    from voxclean.enhance.neural.data import MixtureSampler
    sp = [str(need_data("speech", "cmu_arctic"))]
    noise = [str(need_data("noise", "hu100"))]
    kw = dict(snr=(0, 0), p_reverb=0.0, p_bandlimit=0.0, segment_s=1.0)
    y, d = MixtureSampler(sp, noise, p_clean=1.0, **kw).example(0, 0)
    np.testing.assert_array_equal(y, d)
    y0, d0 = MixtureSampler(sp, noise, **kw).example(0, 0)       # p_clean=0: the old draws, with noise
    np.testing.assert_array_equal(d0, d)
    assert np.mean((y0 - d0).astype(np.float64) ** 2) > 0.5 * np.mean(d0.astype(np.float64) ** 2)


def test_auto_backend_prefers_the_onnx_export(tiny_weights, tmp_path):
    """``backend="auto"`` runs the .onnx export when one sits beside the weights, torch otherwise."""
    import shutil
    w = tmp_path / "solo.pt"
    shutil.copy(tiny_weights, w)
    assert NeuralEnhancer(weights=str(w)).backend == "torch"
    from voxclean.enhance.neural import enhancer as enh_mod
    from voxclean.enhance.neural.export import export_onnx
    export_onnx(enh_mod.load_model(str(w)), w.with_suffix(".onnx"))
    assert NeuralEnhancer(weights=str(w)).backend == "onnx"
    assert NeuralEnhancer().backend == "onnx"                      # the packaged default has its export


def test_shipped_weights_pass_clean_speech_unharmed():
    """Studio-clean speech (16 kHz ARCTIC, and an 8 kHz recording through the resampling path) comes
    out of the default model with little distortion: what a TTS data-cleaning user needs."""
    from pystoi import stoi
    from voxclean.audio import load
    from voxclean.metrics.signal import si_sdr
    files = sorted(need_data("speech", "cmu_arctic").glob("*.flac"))[:2]
    files += [need_data("speech", "multirate", "sample1_8kHz.flac")]
    en = ENHANCERS.get("neural")
    for f in files:
        x, sr = load(f)
        y = en.enhance(x, sr)
        sdr = si_sdr(x, y)
        assert sdr > 20.0 and stoi(x, y, sr) > 0.99, (f.name, sdr)


def test_shipped_weights_pass_clean_8khz_sentences_unharmed():
    """The 30 booth-recorded NOIZEUS sentences (8 kHz: upsampled, nothing above 4 kHz) pass through the
    default model with little harm. SI-SDR out vs in, mean / worst file: neural_v26 29.9 / 11.0 dB,
    neural_v25 26.7 / 10.6 dB;
    neural_v21, trained without empty upper bands (no p_resample), 25.4 / 8.4 dB (it cut sp08 by 4.9 dB);
    RNNoise 20.0 / 2.2 dB, DFN3 23.4 / 7.8 dB (scripts/clean_passthrough.py, docs/benchmarks.md 4-i-j, 4-i-k)."""
    from conftest import load_script
    rows = load_script("clean_passthrough").passthrough("neural", sorted(need_data("benchmarks", "noizeus", "clean").glob("*.flac")))
    sdr = np.array([r[1] for r in rows])
    assert len(rows) == 30 and sdr.mean() > 26.0 and sdr.min() > 9.5, [r for r in rows if r[1] < 15]


def test_model_filters_a_component_of_its_input_linearly(tiny_weights, noisy_pair):
    """``enhance_batch(model, x, part=p)`` runs p through the filter the model applies to x (pre-gain,
    gains, deep-filter taps): the filtered speech plus the filtered noise is the enhanced mixture, and
    the output for x itself is unchanged by asking for a part."""
    from voxclean.enhance.neural.enhancer import load_model
    clean, noisy = (torch.from_numpy(a[: SR * 2].astype(np.float32))[None] for a in noisy_pair[:2])
    model = load_model(tiny_weights)
    with torch.no_grad():
        y, vad = enhance_batch(model, noisy)
        y2, vad2, ys = enhance_batch(model, noisy, part=clean)
        _, _, yn = enhance_batch(model, noisy, part=noisy - clean)
    assert torch.equal(y, y2) and torch.equal(vad, vad2)
    assert (ys + yn - y).abs().max().item() < 1e-5 * y.abs().max().item() + 1e-6
    assert (yn.pow(2).sum() / (noisy - clean).pow(2).sum()).item() < 0.99     # the filter is not identity


def test_residual_noise_loss_is_weighted_and_lowers_the_noise_passed(tmp_path, noisy_pair):
    """``w_rn`` adds exactly w x L_rn (which falls with the noise level), is refused without the
    filtered noise, and reaches the optimiser in a seeded run."""
    from voxclean.enhance.neural.losses import residual_noise_loss, total_loss
    from voxclean.enhance.neural.train import train
    clean, noisy = (torch.from_numpy(a[: SR * 2].astype(np.float32))[None] for a in noisy_pair[:2])
    n = noisy - clean
    assert residual_noise_loss(0.1 * n).item() < residual_noise_loss(n).item()
    base, _ = total_loss(noisy, clean, None)
    with_term, _ = total_loss(noisy, clean, None, w_rn=0.5, y_noise=n)
    assert with_term.item() == pytest.approx(base.item() + 0.5 * residual_noise_loss(n).item(), rel=1e-5)
    with pytest.raises(ValueError, match="w_rn"):
        total_loss(noisy, clean, None, w_rn=0.5)
    runs = {}
    for w in (0.0, 0.5):
        cfg = _tiny_train_config(epochs=1, steps_per_epoch=2, seed=3, w_rn=w)
        runs[w] = torch.load(train(cfg, out=tmp_path / f"w{w}") / "last.pt", weights_only=False)["model"]
    assert any(not torch.allclose(runs[0.0][k], runs[0.5][k]) for k in runs[0.0])


def test_post_filter_warp_keeps_unit_gain_and_deepens_small_gains():
    from voxclean.enhance.neural.postfilter import post_filter, warp_gain
    g = np.linspace(0, 1, 101)
    w = warp_gain(g, 0.02)
    assert w[-1] == pytest.approx(1.0) and w[0] == 0.0
    assert np.all(w <= g + 1e-12) and np.all(np.diff(w) > 0)            # never raises a gain, keeps the order
    assert w[10] / g[10] < 0.6 and w[50] / g[50] > 0.97                  # 0.1 -> 0.056, 0.5 -> 0.49
    assert np.all(warp_gain(g, 0.1) <= w + 1e-12)                        # larger beta, deeper
    rng = np.random.default_rng(0)
    x = rng.standard_normal((50, N_FFT // 2 + 1)) + 1j * rng.standard_normal((50, N_FFT // 2 + 1))
    np.testing.assert_array_equal(post_filter(x, 0.3 * x, 0.0), 0.3 * x)    # beta 0: off
    np.testing.assert_allclose(post_filter(x, x, 0.05), x)               # unit gain passes unchanged
    r = np.abs(post_filter(x, 0.1 * x, 0.05)) / np.abs(0.1 * x)
    np.testing.assert_allclose(r, warp_gain(0.1, 0.05) / 0.1, rtol=1e-6)  # a flat gain is warped everywhere
    with pytest.raises(ValueError, match="post_filter"):
        NeuralEnhancer(weights=str(WEIGHTS_DIR / "neural_small.pt"), post_filter=-1)


def test_sampler_speech_weight_by_duration(tmp_path):
    """speech_weight=duration draws a 9 s file nine times as often as a 1 s one; the default draws them evenly."""
    import soundfile as sf

    from voxclean.enhance.neural.data import MixtureSampler
    sf.write(tmp_path / "short.wav", _speechlike(SR), SR)
    sf.write(tmp_path / "long.wav", _speechlike(9 * SR, seed=1), SR)
    noise = tmp_path / "noise.wav"
    sf.write(noise, 0.1 * np.random.default_rng(0).standard_normal(SR).astype(np.float32), SR)
    kw = dict(p_reverb=0.0, segment_s=0.5)
    rng = np.random.default_rng(0)
    for weight, share in (("duration", 0.9), ("file", 0.5)):
        s = MixtureSampler([str(tmp_path / "short.wav"), str(tmp_path / "long.wav")], [str(noise)],
                           speech_weight=weight, **kw)
        long_i = s.speech.index(str((tmp_path / "long.wav").resolve()))
        picks = np.array([s._pick_speech(rng) for _ in range(4000)])
        assert abs(np.mean(picks == long_i) - share) < 0.03
    with pytest.raises(ValueError, match="speech_weight"):
        MixtureSampler([str(tmp_path)], [str(noise)], speech_weight="loudness", **kw)


def test_sampler_resample_empties_the_band_above_the_old_nyquist():
    """p_resample=1: input and target alike hold nothing above 4, 5.5 or 6 kHz (as upsampled 8-12 kHz audio),
    keep their length, and the speech below stays (target within 1 dB of the untouched example's level)."""
    from scipy.signal import welch

    from tests.conftest import need_data
    from voxclean.enhance.neural.data import RESAMPLE_RATES, MixtureSampler
    kw = dict(snr=(10, 10), p_reverb=0.0, p_bandlimit=0.0, segment_s=1.01)
    sp, no = [str(need_data("speech", "cmu_arctic"))], [str(need_data("noise", "hu100"))]
    plain = MixtureSampler(sp, no, **kw)
    s = MixtureSampler(sp, no, p_resample=1.0, **kw)
    for i in range(6):
        y, d = s.example(0, i)
        assert y.shape == d.shape == (16160,)
        _, d0 = plain.example(0, i)
        assert abs(10 * np.log10(np.sum(d.astype(np.float64) ** 2) / np.sum(d0.astype(np.float64) ** 2))) < 1.0
        f, py = welch(y, 16000, nperseg=512)
        _, pd = welch(d, 16000, nperseg=512)
        top = f > max(RESAMPLE_RATES) / 2 + 300
        assert 10 * np.log10(py[top].sum() / py.sum()) < -80 and 10 * np.log10(pd[top].sum() / pd.sum()) < -80


def test_teacher_loss_skips_examples_the_teacher_damaged():
    """Distillation only where the teacher helped: an example whose teacher output lost the speech
    (SI-SDR far below the noisy input's) is left out of the teacher term."""
    from voxclean.enhance.neural.losses import spectral_loss
    from voxclean.enhance.neural.train import teacher_loss
    g = torch.Generator().manual_seed(0)
    s = torch.from_numpy(np.stack([_speechlike(SR // 2, seed=k) for k in range(2)])).float()
    x = s + 0.1 * torch.randn(s.shape, generator=g)
    taught = torch.stack([s[0] + 0.01 * torch.randn(s.shape[1], generator=g), 0.01 * torch.randn(s.shape[1], generator=g)])
    y = x * 0.8
    assert torch.allclose(teacher_loss(y, taught, s, x), spectral_loss(y[:1], taught[:1]))
    assert torch.allclose(teacher_loss(y, taught, s, x, margin_db=1000.0), spectral_loss(y, taught))
    assert teacher_loss(y, taught[[1, 1]], s, x) == 0


def test_train_with_a_teacher_cache_resumes_to_the_same_weights(tmp_path):
    """A run with a teacher cache (every 2nd step a cache batch, built by scripts/make_teacher_cache.py)
    stopped after 3 steps and resumed ends with the same weights as the run straight through, so the
    on-the-fly batches keep their step order around the cache steps. A missing cache fails before
    anything is written."""
    import yaml

    from conftest import load_script
    from voxclean.enhance.neural.train import train
    cfg = _tiny_train_config(epochs=1, steps_per_epoch=5, seed=2)
    (tmp_path / "tiny.yaml").write_text(yaml.safe_dump(cfg))
    load_script("make_teacher_cache").build(str(tmp_path / "tiny.yaml"), tmp_path / "cache.npz", 2, None,
                                            "wiener", (0, 1))
    with np.load(tmp_path / "cache.npz") as z:
        assert z["teacher"].shape == z["noisy"].shape == (2, 2, SR) and not np.allclose(z["teacher"], z["noisy"])
    cfg["train"].update(teacher=str(tmp_path / "cache.npz"), w_teacher=1.0, teacher_every=2)
    straight = train(cfg, out=tmp_path / "straight")
    train(cfg, out=tmp_path / "resumed", max_steps=3)
    resumed = train(cfg, out=tmp_path / "resumed")
    a = torch.load(straight / "last.pt", weights_only=False)
    b = torch.load(resumed / "last.pt", weights_only=False)
    assert a["step"] == b["step"] == 5
    assert all(torch.allclose(a["model"][k], b["model"][k]) for k in a["model"])
    cfg["train"]["teacher"] = str(tmp_path / "gone.npz")
    with pytest.raises(FileNotFoundError, match="make_teacher_cache"):
        train(cfg, out=tmp_path / "never")
    assert not (tmp_path / "never").exists()
