"""The ``neural`` enhancer: :class:`~voxclean.enhance.neural.model.NeuralSE` behind the Enhancer contract.

* Native rate 16 kHz (``sample_rate = 16000``): :func:`voxclean.enhance.apply.enhance_signal` and
  ``voxclean enhance`` resample other rates in and out with soxr. For 22.05-48 kHz input the model
  sees only 0-8 kHz and the output is resampled back, so **content above 8 kHz is removed** (speech
  and noise alike): the output is band-limited to 8 kHz at the input's rate. :meth:`NeuralEnhancer.enhance`
  called directly with another rate does the same resampling itself.
* Causal, 20 ms algorithmic latency (20 ms window, 10 ms hop); the output is time-aligned with the
  input and has its length. ``stream(16000)`` carries the GRU state, the deep-filter history and the
  STFT overlap between pushes; its output equals :meth:`enhance` (float32 round-off, < 1e-5).
* ``atten_lim_db`` (maximum suppression, DeepFilterNet's convention) and ``mix`` (dry/wet)::

      Y' = Y + lim (X - Y),  lim = 10^(-atten_lim_db / 20)  (None: no limit)
      Y''= mix Y' + (1 - mix) X                              (voxclean.enhance.blend.blend_weights)

* ``post_filter=BETA`` (default 0, off): PercepNet's envelope post-filter on the effective ERB-band gains
  (:mod:`voxclean.enhance.neural.postfilter`), memoryless, on both backends. It deepens the suppression of
  noise-dominated bands; on the development set it buys DNSMOS BAK (+0.12 at beta 0.02) but costs more
  WB-PESQ (-0.067) and STOI (-0.003) than it gives OVRL (+0.019), so it stays off (docs/benchmarks.md 4-i-i).
* :meth:`NeuralEnhancer.vad` gives the model's per-frame voice-activity probability (100 frames/s;
  frame ``t`` is the window ending at sample ``160 (t + 1)`` at 16 kHz); a stream exposes the
  probabilities of the frames it has processed as ``stream.vad``.

Weights: ``weights`` names a file, or one of the packaged ``voxclean/enhance/neural/weights/*.pt``
(default ``neural_v26``: a wider NeuralSE, GRU width 256, 938 k parameters, trained for 11.3 minutes
on a GPU by ``configs/neural_v10b_gpu.yaml`` then ``configs/neural_v10c_gpu.yaml`` with neural_v9's data
and losses (= ``neural_v10``), then fine-tuned for 65 minutes on one CPU thread with the PESQ-derived
PMSQE loss added (``configs/neural_v13b.yaml``, :mod:`voxclean.enhance.neural.pmsqe`; = ``neural_v13``)
and for 128 more minutes with a warm restart (batch 32, lr 3e-4) and training noise sometimes low-passed
at 150-800 Hz (``configs/neural_v14b.yaml``; = ``neural_v14``) and for 85 more with synthetic harmonic
tones added to the training noise (``configs/neural_v17b.yaml``; = ``neural_v17``) and for 70 more with
the residual-noise loss of Xia et al. 2020 (``train.w_rn`` 0.1, ``configs/neural_v18a.yaml``; =
``neural_v18``) and for 55 more with heavier over-suppression and STOI losses
(``configs/neural_v19b.yaml``; = ``neural_v19``) and for 50 more on only the training speech whose
DNSMOS BAK is at least 4.0 (``configs/neural_v21_bak40.yaml``, ``scripts/score_speech_dnsmos.py``; =
``neural_v21``) and for 35 more with a fifth of the examples passed through 8-12 kHz so that upsampled
audio's empty upper band is met in training, files drawn in proportion to their duration
(``configs/neural_v25b.yaml``; = ``neural_v25``) and for 90 more with the same data and losses
(``configs/neural_v26a.yaml``), run behind a 4 dB Wiener pre-gain; ``neural_v25`` and ``neural_small``,
the first model, are kept for comparison; ``weights/README.md``
documents every version, and the files of ``neural_v3`` to ``neural_v21``, no longer packaged, are in
the git history).

Weights whose ``model_config`` sets ``pre_wiener_db`` run the model behind a causal Wiener pre-gain on
the same frames (:mod:`voxclean.enhance.neural.prefilter`; no added latency), in both backends; with
``noise_features`` the same causal tracker's noise PSD estimate is an extra input of the network.

Backends: ``backend="torch"`` runs the checkpoint with PyTorch; ``backend="onnx"`` runs the exported
graph (``<weights>.onnx`` beside the ``.pt``, made by ``voxclean export --onnx``) with onnxruntime, a
core dependency, so the default enhancer works without torch; ``"auto"`` (default) takes the ONNX graph
when it exists beside the weights (the packaged weights have one, except ``neural_small``; faster
than torch on one thread: RTF 0.0049 vs 0.0081 for neural_v10, the network of neural_v25,
``scripts/rtf_single_channel.py neural:backend=onnx neural:backend=torch``, best of three on an idle
2-core machine) and torch otherwise. Both give the same output to float rounding (tested).
"""
from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

from voxclean.audio.stft import StftStream
from voxclean.enhance.base import ENHANCERS
from voxclean.enhance.blend import blend_weights
from voxclean.enhance.neural.postfilter import post_filter

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
N_FFT, HOP = 320, 160          # voxclean.enhance.neural.model's framing (without importing torch)
DEFAULT_WEIGHTS = "neural_v26"


def weights_path(weights: str | Path, suffix: str = ".pt") -> Path:
    p = Path(weights)
    if p.suffix not in (".pt", ".onnx"):
        p = WEIGHTS_DIR / f"{weights}{suffix}"
    p = p.with_suffix(suffix)
    if not p.is_file():
        known = ", ".join(sorted(q.name for q in WEIGHTS_DIR.glob(f"*{suffix}"))) or "none"
        raise FileNotFoundError(f"neural: weights {p} not found (packaged: {known}; older versions are in "
                                "the git history, see weights/README.md)")
    return p


def _installed(module: str) -> bool:
    import importlib.util
    return importlib.util.find_spec(module) is not None


def _has_torch() -> bool:
    return _installed("torch")


def _onnx_ready(weights: str | Path) -> bool:
    """onnxruntime is importable and the weights have their ``.onnx`` export beside them."""
    if not _installed("onnxruntime"):
        return False
    try:
        weights_path(weights, ".onnx")
    except FileNotFoundError:
        return False
    return True


@functools.lru_cache(maxsize=8)
def _load(path: str):
    import torch
    from voxclean.enhance.neural.model import ModelConfig, NeuralSE
    ck = torch.load(path, map_location="cpu", weights_only=False)
    if "model" not in ck or "model_config" not in ck:
        raise ValueError(f"{path}: not a NeuralSE checkpoint (needs 'model' and 'model_config')")
    model = NeuralSE(ModelConfig(**ck["model_config"]))
    model.load_state_dict(ck["model"])
    model.eval()
    return model


def load_model(weights: str | Path = DEFAULT_WEIGHTS):
    """The NeuralSE module of a checkpoint (cached; do not modify it)."""
    return _load(str(weights_path(weights)))


def _prefilter(max_db: float, track_noise: bool = False):
    if not max_db and not track_noise:
        return None
    from voxclean.enhance.neural.prefilter import WienerPrefilter
    return WienerPrefilter(N_FFT // 2 + 1, max_db, track_noise=track_noise)


def _front(pre, spec: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """(frames for the network, noise PSD estimate or None) after the optional pre-gain/tracker."""
    return (spec, None) if pre is None else pre.process_tracked(spec)


class NeuralProcessor:
    """STFT frames -> enhanced frames, carrying (GRU state, deep-filter history)."""

    def __init__(self, model, blend: tuple[float, float], post_beta: float = 0.0):
        import torch
        self.torch, self.model = torch, model
        self.h, self.hist = model.initial_state(1)
        self.a, self.b = blend
        self.post_beta = post_beta
        self.noise_features = model.cfg.noise_features
        self.pre = _prefilter(model.cfg.pre_wiener_db, self.noise_features)
        self.vad: list[float] = []

    def process(self, spec: np.ndarray) -> np.ndarray:
        torch = self.torch
        z, noise = _front(self.pre, spec)
        x = torch.from_numpy(np.stack([z.real, z.imag], -1).astype(np.float32))[None]
        noise = torch.from_numpy(noise.astype(np.float32))[None] if self.noise_features else None
        with torch.inference_mode():
            y, vad, self.h, self.hist = self.model(x, self.h, self.hist, noise)
        y = y[0].numpy().astype(np.float64)
        out = post_filter(spec, y[..., 0] + 1j * y[..., 1], self.post_beta)
        self.vad.extend(vad[0].tolist())
        return out if self.b == 0.0 else self.a * out + self.b * spec


class OnnxNeuralProcessor:
    """The same contract as :class:`NeuralProcessor`, on onnxruntime (see module docstring)."""

    def __init__(self, path: Path, blend: tuple[float, float], post_beta: float = 0.0):
        from voxclean.enhance.neural.export import OnnxStreamProcessor
        self.inner = OnnxStreamProcessor(path, threads=1, frame_by_frame=False)
        self.a, self.b = blend
        self.post_beta = post_beta
        self.pre = _prefilter(self.inner.pre_wiener_db, self.inner.noise_features)

    @property
    def vad(self) -> list[float]:
        return self.inner.vad

    def process(self, spec: np.ndarray) -> np.ndarray:
        z, noise = _front(self.pre, spec)
        out = post_filter(spec, self.inner.process(z.astype(np.complex128), noise), self.post_beta)
        return out if self.b == 0.0 else self.a * out + self.b * spec


class NeuralStream(StftStream):
    @property
    def vad(self) -> np.ndarray:
        return np.asarray(self.processor.vad, np.float32)


@ENHANCERS.register("neural", "small causal neural enhancer: ERB gains + deep filter, GRU (16 kHz, 20 ms latency; torch or onnxruntime)")
class NeuralEnhancer:
    """Causal ERB-gain + deep-filter GRU model (0.94 M parameters with the default weights) trained on voxclean mixtures."""

    name = "neural"
    sample_rate = 16000
    causal = True
    latency_ms = 20.0

    def __init__(self, weights: str = DEFAULT_WEIGHTS, atten_lim_db: float | None = None, mix: float = 1.0,
                 backend: str = "auto", post_filter: float = 0.0):
        if float(post_filter) < 0:
            raise ValueError(f"neural: post_filter (PercepNet's beta) must be >= 0, got {post_filter}")
        self.post_beta = float(post_filter)
        if backend not in ("auto", "torch", "onnx"):
            raise ValueError(f"neural: backend must be 'auto', 'torch' or 'onnx', not {backend!r}")
        try:
            self.blend = blend_weights(atten_lim_db, mix)      # (a, b): Y'' = a Y + b X
        except ValueError as exc:
            raise ValueError(f"neural: {exc}") from None
        if backend == "auto":
            backend = "onnx" if _onnx_ready(weights) or not _has_torch() else "torch"
        if backend == "torch":
            if not _has_torch():
                raise ModuleNotFoundError("neural: backend 'torch' needs torch; pip install 'voxclean[neural]' "
                                          "or use backend='onnx'", name="torch")
            self.model = load_model(weights)
            self.onnx_path = None
        else:
            self.model = None
            self.onnx_path = weights_path(weights, ".onnx")
        self.backend = backend
        self.weights = weights

    def stream(self, sr: int) -> NeuralStream:
        if sr != self.sample_rate:
            raise ValueError(f"neural: streams run at 16000 Hz, got {sr}; resample (voxclean.audio.resample."
                             "StreamResampler) or use voxclean.enhance.apply.enhance_file")
        if self.backend == "onnx":
            return NeuralStream(OnnxNeuralProcessor(self.onnx_path, self.blend, self.post_beta), N_FFT, HOP)
        return NeuralStream(NeuralProcessor(self.model, self.blend, self.post_beta), N_FFT, HOP)

    def _run(self, x: np.ndarray, sr: int) -> tuple[np.ndarray, np.ndarray]:
        from voxclean.audio.resample import resample
        x = np.asarray(x, dtype=np.float32)
        if x.ndim != 1:
            raise ValueError("neural.enhance expects mono (samples,); use "
                             "voxclean.enhance.apply.enhance_signal for multichannel input")
        z = x if sr == self.sample_rate else resample(x, sr, self.sample_rate)
        s = self.stream(self.sample_rate)
        y = np.concatenate([s.push(z), s.flush()])
        if sr != self.sample_rate:
            y = resample(y, self.sample_rate, sr)
            y = np.pad(y, (0, max(len(x) - len(y), 0)))[: len(x)]
        return y.astype(np.float32), s.vad

    def enhance(self, x: np.ndarray, sr: int) -> np.ndarray:
        return self._run(x, sr)[0]

    def vad(self, x: np.ndarray, sr: int) -> np.ndarray:
        """Per-frame voice-activity probability (100 frames/s), from the same pass as :meth:`enhance`."""
        return self._run(x, sr)[1]
