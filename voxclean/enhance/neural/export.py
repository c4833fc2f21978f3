"""ONNX export of :class:`NeuralSE` with its streaming state as explicit inputs and outputs.

Graph (one or more frames per call; frame-by-frame streaming uses ``T = 1``)::

    inputs : spec  (1, T, 161, 2) float32   noisy STFT frames (real, imag), voxclean.audio.stft framing
             h     (layers, 1, hidden)       GRU state            (zeros at the start of a stream)
             hist  (1, df_order-1, df_bins, 2)  past noisy low bins  (zeros at the start)
             noise (1, T, 161)               only for models with ``noise_features``: the noise PSD
                                             estimate of the raw input frames (neural.prefilter's tracker)
    outputs: enh   (1, T, 161, 2)            enhanced frames
             vad   (1, T)                    voice-activity probability
             h_out, hist_out                 the state to feed into the next call

The caller owns the STFT/overlap-add (:class:`voxclean.audio.stft.StftStream`, 320/160 sqrt-Hann),
and, when the metadata entry ``pre_wiener_db`` is > 0, the causal Wiener pre-gain of
:mod:`voxclean.enhance.neural.prefilter` on ``spec`` before the graph (and its tracker's noise PSD,
when the graph has a ``noise`` input).
:func:`quantize_int8` applies onnxruntime's dynamic int8 quantisation (weights int8, activations
quantised per call) to the learned dense layers (not the ERB maps; the GRU stays float).
"""
from __future__ import annotations

import logging
import os
import warnings
from pathlib import Path

import numpy as np

INPUTS = ["spec", "h", "hist"]
OUTPUTS = ["enh", "vad", "h_out", "hist_out"]


def export_onnx(model, path: str | os.PathLike, opset: int = 17) -> Path:
    """Write ``model`` to ``path`` (atomically); returns the path."""
    import torch
    from voxclean.enhance.neural.model import N_FFT
    path = Path(path)
    model = model.eval()
    h, hist = model.initial_state(1)
    spec = torch.zeros(1, 1, N_FFT // 2 + 1, 2)
    args, names = (spec, h, hist), list(INPUTS)
    axes = {"spec": {1: "frames"}, "enh": {1: "frames"}, "vad": {1: "frames"}}
    if model.cfg.noise_features:
        args, names = args + (torch.ones(1, 1, N_FFT // 2 + 1),), names + ["noise"]
        axes["noise"] = {1: "frames"}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp.onnx")
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation notices
        torch.onnx.export(model, args, str(tmp), input_names=names, output_names=OUTPUTS,
                          dynamic_axes=axes, opset_version=opset, dynamo=False)
    _set_metadata(tmp, {"pre_wiener_db": str(float(model.cfg.pre_wiener_db))})
    os.replace(tmp, path)
    return path


def _set_metadata(path: Path, values: dict[str, str]) -> None:
    import onnx
    m = onnx.load(str(path))
    for key, value in values.items():
        entry = next((p for p in m.metadata_props if p.key == key), None) or m.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.save(m, str(path))


def quantize_int8(src: str | os.PathLike, dst: str | os.PathLike) -> Path:
    """Dynamic int8 quantisation of the learned dense layers. The two fixed ERB matrix products are
    left in float: their inputs (band powers) span > 100 dB, and quantising them per call to 8 bits
    cost 0.3 WB-PESQ on development pairs (measured, see weights/README.md). onnxruntime leaves the
    GRU in float either way."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic
    dst = Path(dst)
    graph = onnx.load(str(src)).graph
    exclude = [n.name for n in graph.node if n.op_type == "MatMul" and any(i.startswith("erb_") for i in n.input)]
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name(dst.name + ".tmp.onnx")
    logging.getLogger().setLevel(logging.ERROR)  # its "consider pre-processing" notice
    quantize_dynamic(str(src), str(tmp), weight_type=QuantType.QInt8, nodes_to_exclude=exclude)
    os.replace(tmp, dst)
    return dst


class OnnxStreamProcessor:
    """A :class:`voxclean.audio.stft.FrameProcessor` running an exported model with onnxruntime,
    carrying the state outputs back into the inputs. ``frame_by_frame`` runs one frame per call (what
    a real-time caller does); otherwise every frame a push delivers goes in one call (offline speed),
    with the same result to float rounding."""

    def __init__(self, path: str | os.PathLike, threads: int | None = 1, frame_by_frame: bool = True):
        import onnxruntime as ort
        so = ort.SessionOptions()
        if threads:
            so.intra_op_num_threads = so.inter_op_num_threads = threads
        self.sess = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
        meta = self.sess.get_modelmeta().custom_metadata_map
        self.pre_wiener_db = float(meta.get("pre_wiener_db", 0.0))   # applied by the caller (neural.prefilter)
        shapes = {i.name: i.shape for i in self.sess.get_inputs()}
        self.h = np.zeros(shapes["h"], np.float32)
        self.hist = np.zeros(shapes["hist"], np.float32)
        self.noise_features = "noise" in shapes      # the graph takes the tracker's noise PSD
        self.vad: list[float] = []
        self.frame_by_frame = frame_by_frame

    def _feeds(self, x: np.ndarray, noise: np.ndarray | None) -> dict[str, np.ndarray]:
        feeds = {"spec": x, "h": self.h, "hist": self.hist}
        if self.noise_features:
            if noise is None:
                raise ValueError("this ONNX graph has a 'noise' input: pass the noise PSD estimate "
                                 "(voxclean.enhance.neural.prefilter.WienerPrefilter.process_tracked)")
            feeds["noise"] = np.asarray(noise, np.float32).reshape(1, x.shape[1], -1)
        return feeds

    def process(self, spec: np.ndarray, noise: np.ndarray | None = None) -> np.ndarray:
        """``spec`` (frames, bins) complex; ``noise`` (frames, bins) for graphs with a noise input."""
        if not self.frame_by_frame:
            x = np.stack([spec.real, spec.imag], -1).astype(np.float32)[None]
            enh, vad, self.h, self.hist = self.sess.run(OUTPUTS, self._feeds(x, noise))
            self.vad.extend(vad[0].tolist())
            return (enh[0, ..., 0] + 1j * enh[0, ..., 1]).astype(spec.dtype)
        out = np.empty_like(spec)
        for t in range(spec.shape[0]):
            x = np.stack([spec[t].real, spec[t].imag], -1).astype(np.float32)[None, None]
            frame_noise = None if noise is None else noise[t:t + 1]
            enh, vad, self.h, self.hist = self.sess.run(OUTPUTS, self._feeds(x, frame_noise))
            out[t] = enh[0, 0, :, 0] + 1j * enh[0, 0, :, 1]
            self.vad.append(float(vad[0, 0]))
        return out


def check_onnx(model, path: str | os.PathLike, x: np.ndarray) -> dict[str, float]:
    """Max |difference| between PyTorch (offline, all frames at once) and onnxruntime (frame by frame,
    state carried) on 16 kHz signal ``x``: enhanced STFT frames and VAD probabilities."""
    import torch
    from voxclean.audio.stft import stft as np_stft
    from voxclean.enhance.neural.model import HOP, N_FFT
    spec = np_stft(x, N_FFT, HOP)
    noise = None
    if model.cfg.noise_features:
        from voxclean.enhance.neural.prefilter import WienerPrefilter
        noise = WienerPrefilter(spec.shape[1], 0.0, track_noise=True).process_tracked(spec)[1]
    proc = OnnxStreamProcessor(path)
    y_onnx = proc.process(spec, noise)
    h, hist = model.initial_state(1)
    with torch.no_grad():
        y, vad, _, _ = model(torch.from_numpy(np.stack([spec.real, spec.imag], -1).astype(np.float32))[None], h, hist,
                             None if noise is None else torch.from_numpy(noise.astype(np.float32))[None])
    y = y[0].numpy()
    return {"max_abs_diff_spec": float(np.abs(y_onnx - (y[..., 0] + 1j * y[..., 1])).max()),
            "max_abs_diff_vad": float(np.abs(np.asarray(proc.vad) - vad[0].numpy()).max()),
            "frames": int(spec.shape[0])}
