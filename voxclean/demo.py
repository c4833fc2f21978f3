"""The built-in demo: synthetic speech, self-made babble, enhancement, before/after scores and a figure.

Nothing here needs a data set. :func:`run_demo`

1. synthesises four Harvard sentences (IEEE 1969 list 1) with ``espeak-ng`` and joins them with
   short pauses (:func:`synthesize`);
2. builds a noise from several other synthetic talkers speaking other Harvard sentences, overlapped at
   random offsets, plus pink noise (:func:`make_babble`, :func:`coloured_noise`);
3. mixes the two at the requested SNR measured over the whole utterance (:func:`mix_at_snr`);
4. enhances the mixture with a registered enhancer (``voxclean.enhance``);
5. writes ``clean.wav``, ``noisy.wav``, ``enhanced.wav`` and ``spectrograms.png`` and returns
   PESQ (wide band), STOI and SI-SDR of the noisy and the enhanced signal against the clean one.

Every random choice comes from one ``numpy.random.Generator`` seeded by ``seed``, and espeak-ng is
deterministic, so the same arguments give the same files.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import soundfile as sf

from voxclean.audio.io import save
from voxclean.audio.resample import resample

DEMO_SR = 16000

#: Harvard sentences, IEEE (1969) list 1 -- the demo's target speech.
TARGET_SENTENCES = (
    "The birch canoe slid on the smooth planks.",
    "Glue the sheet to the dark blue background.",
    "It's easy to tell the depth of a well.",
    "These days a chicken leg is a rare dish.",
)

#: Harvard sentences, lists 1 and 2 -- what the babble talkers say (never the target's sentences).
BABBLE_SENTENCES = (
    "Rice is often served in round bowls.",
    "The juice of lemons makes fine punch.",
    "The box was thrown beside the parked truck.",
    "The hogs were fed chopped corn and garbage.",
    "Four hours of steady work faced us.",
    "A large size in stockings is hard to sell.",
    "The boy was there when the sun rose.",
    "A rod is used to catch pink salmon.",
    "The source of the huge river is the clear spring.",
    "Kick the ball straight and follow through.",
    "Help the woman get back to her feet.",
    "A pot of tea helps to pass the evening.",
    "Smoky fires lack flame and heat.",
    "The soft cushion broke the man's fall.",
    "The salt breeze came across from the sea.",
    "The girl at the booth sold fifty bonds.",
)

#: espeak-ng accents x voice variants for the babble talkers (female and male, several accents).
BABBLE_VOICES = (
    "en-us+f3", "en-gb+m3", "en-gb-scotland+f2", "en-029+m7", "en-us-nyc+f4", "en-gb-x-rp+m2",
    "en-us+m4", "en-gb+f1",
)

_INSTALL_HINT = ("install it with `make sysdeps` (runs scripts/ensure_sysdeps.sh) "
                 "or `apt-get install espeak-ng`")


class SynthesisError(RuntimeError):
    """espeak-ng is missing or failed; the message says which and what to do."""


def synthesize(text: str, sr: int = DEMO_SR, voice: str = "en-us", speed: int = 160,
               pitch: int = 50) -> np.ndarray:
    """Speak ``text`` with espeak-ng (formant synthesis) and return mono float32 at ``sr`` Hz.

    ``voice`` is an espeak-ng voice, optionally with a variant (``"en-gb+f3"``); ``speed`` is in
    words per minute (espeak-ng ``-s``, default there 175); ``pitch`` is 0..99 (``-p``). espeak-ng
    writes 22.05 kHz 16-bit WAV, which is resampled to ``sr`` with soxr.
    """
    exe = shutil.which("espeak-ng")
    if exe is None:
        raise SynthesisError(f"espeak-ng is not installed, so the demo cannot synthesise speech; {_INSTALL_HINT}")
    if not text.strip():
        raise ValueError("synthesize: text is empty")
    with tempfile.TemporaryDirectory(prefix="voxclean-tts-") as tmp:
        wav = Path(tmp) / "tts.wav"
        cmd = [exe, "-v", voice, "-s", str(int(speed)), "-p", str(int(pitch)), "-w", str(wav), "--", text]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0 or not wav.exists() or wav.stat().st_size <= 44:
            msg = (proc.stderr or proc.stdout).strip() or f"exit status {proc.returncode}, no audio written"
            raise SynthesisError(f"espeak-ng failed for voice {voice!r}: {msg}")
        x, file_sr = sf.read(str(wav), dtype="float32", always_2d=False)
    if x.ndim > 1:
        x = x.mean(axis=1)
    return resample(x, int(file_sr), sr)


def speak_sentences(sentences: list[str] | tuple[str, ...], sr: int = DEMO_SR, pause: float = 0.35,
                    **voice_kwargs) -> np.ndarray:
    """Synthesise each sentence and join them with ``pause`` seconds of silence."""
    gap = np.zeros(int(round(pause * sr)), dtype=np.float32)
    parts: list[np.ndarray] = []
    for i, s in enumerate(sentences):
        if i:
            parts.append(gap)
        parts.append(synthesize(s, sr, **voice_kwargs))
    return np.concatenate(parts).astype(np.float32)


def coloured_noise(n: int, sr: int, rng: np.random.Generator, exponent: float = 1.0,
                   f_low: float = 20.0) -> np.ndarray:
    """Gaussian noise with power spectral density ``S(f) ∝ f^-exponent`` (spectral shaping).

    White Gaussian noise is transformed with the real FFT, each bin is multiplied by
    ``max(f, f_low)^(-exponent/2)`` (amplitude is the square root of power), and transformed back.
    ``exponent`` 0 is white, 1 pink (-3 dB/octave), 2 brown/red (-6 dB/octave); ``f_low`` keeps the
    gain finite at DC. The result has unit RMS.
    """
    w = rng.standard_normal(n)
    spec = np.fft.rfft(w)
    f = np.fft.rfftfreq(n, 1.0 / sr)
    spec *= np.maximum(f, f_low) ** (-exponent / 2.0)
    y = np.fft.irfft(spec, n)
    return (y / (np.sqrt(np.mean(y ** 2)) + 1e-12)).astype(np.float32)


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64))))


def make_babble(n_voices: int, duration: float, sr: int = DEMO_SR,
                rng: np.random.Generator | None = None, colour_exponent: float = 1.0,
                colour_db: float = 0.0) -> np.ndarray:
    """Babble of ``n_voices`` synthetic talkers plus coloured noise, ``duration`` seconds, unit RMS.

    Each talker gets its own espeak-ng voice/variant, pitch (25..75) and speed (140..200 wpm), speaks
    randomly chosen :data:`BABBLE_SENTENCES` until ``duration`` is filled, is circularly shifted by a
    random offset and weighted by a random gain of ±3 dB. Talkers are normalised to equal RMS before
    the gain, so no voice dominates by accident. Coloured noise (:func:`coloured_noise` with
    ``colour_exponent``) is added ``colour_db`` dB relative to the babble RMS (default 0: equal
    power, like a canteen with ventilation hum). Few talkers give a non-stationary, speech-like noise
    -- the hard case for single-channel enhancement; the coloured part is the stationary share that
    noise-PSD-tracking methods can remove.
    """
    if n_voices < 1:
        raise ValueError("make_babble: n_voices must be at least 1")
    if duration <= 0:
        raise ValueError("make_babble: duration must be positive")
    rng = np.random.default_rng(0) if rng is None else rng
    n = int(round(duration * sr))
    voices = rng.permutation(len(BABBLE_VOICES))
    babble = np.zeros(n, dtype=np.float64)
    for k in range(n_voices):
        voice = BABBLE_VOICES[voices[k % len(BABBLE_VOICES)]]
        pitch = int(rng.integers(25, 76))
        speed = int(rng.integers(140, 201))
        talk = np.zeros(0, dtype=np.float32)
        order = rng.permutation(len(BABBLE_SENTENCES))
        i = 0
        while len(talk) < n:
            sentence = BABBLE_SENTENCES[order[i % len(order)]]
            pause = np.zeros(int(rng.uniform(0.1, 0.4) * sr), dtype=np.float32)
            talk = np.concatenate([talk, synthesize(sentence, sr, voice=voice, speed=speed, pitch=pitch), pause])
            i += 1
        talk = np.roll(talk[:n], int(rng.integers(0, n)))
        gain = 10 ** (rng.uniform(-3.0, 3.0) / 20)
        babble += gain * talk / (_rms(talk) + 1e-12)
    babble /= _rms(babble) + 1e-12
    noise = babble + 10 ** (colour_db / 20) * coloured_noise(n, sr, rng, colour_exponent)
    return (noise / (_rms(noise) + 1e-12)).astype(np.float32)


def mix_at_snr(clean: np.ndarray, noise: np.ndarray, snr_db: float) -> tuple[np.ndarray, np.ndarray]:
    """Scale ``noise`` so that ``10 log10(sum s^2 / sum n^2) = snr_db`` over the whole signal.

    ``noise`` is tiled or cut to ``len(clean)``. Returns ``(noisy, scaled_noise)``.
    """
    if len(noise) < len(clean):
        noise = np.tile(noise, int(np.ceil(len(clean) / len(noise))))
    noise = noise[: len(clean)].astype(np.float64)
    p_s = np.mean(np.square(clean, dtype=np.float64))
    p_n = np.mean(noise ** 2)
    if p_s <= 0 or p_n <= 0:
        raise ValueError("mix_at_snr: clean and noise must both be non-silent")
    noise *= np.sqrt(p_s / (p_n * 10 ** (snr_db / 10)))
    return (clean + noise).astype(np.float32), noise.astype(np.float32)


def _stft_db(x: np.ndarray, sr: int, n_fft: int, hop: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    from scipy.signal import stft
    f, t, z = stft(x, fs=sr, window="hann", nperseg=n_fft, noverlap=n_fft - hop, boundary=None,
                   padded=False)
    return f, t, 20 * np.log10(np.abs(z) + 1e-8)


def plot_spectrograms(path: str | os.PathLike, panels: list[tuple[str, np.ndarray]], sr: int,
                      dynamic_range_db: float = 80.0, n_fft: int = 512, hop: int = 128) -> Path:
    """Stacked log-magnitude spectrograms (Hann window ``n_fft``, hop ``hop``) on one colour scale.

    ``panels`` is ``[(title, signal), ...]``. The colour scale runs from the loudest bin of any panel
    down ``dynamic_range_db`` dB. Written atomically as PNG via matplotlib's Agg canvas.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    specs = [(title, *_stft_db(x, sr, n_fft, hop)) for title, x in panels]
    vmax = max(float(s[3].max()) for s in specs)
    vmin = vmax - dynamic_range_db
    fig = Figure(figsize=(10, 2.6 * len(specs) + 0.6), dpi=110, layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(len(specs), 1, sharex=True, sharey=True, squeeze=False)[:, 0]
    mesh = None
    for ax, (title, f, t, db) in zip(axes, specs):
        extent = (t[0] - hop / (2 * sr), t[-1] + hop / (2 * sr), 0.0, f[-1] / 1000)
        mesh = ax.imshow(db, origin="lower", aspect="auto", extent=extent, cmap="magma",
                         vmin=vmin, vmax=vmax, interpolation="antialiased")
        ax.set_title(title, loc="left", fontsize=11)
        ax.set_ylabel("frequency (kHz)")
        ax.set_ylim(0, sr / 2000)
    axes[-1].set_xlim(0, max(len(x) for _, x in panels) / sr)
    axes[-1].set_xlabel("time (s)")
    cb = fig.colorbar(mesh, ax=list(axes), shrink=0.9, pad=0.01)
    cb.set_label("magnitude (dB)")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    os.close(fd)
    try:
        fig.savefig(tmp, format="png")
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; give the figure ordinary permissions
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return path


DEMO_METRICS = ("pesq_wb", "stoi", "si_sdr")


@dataclass
class DemoResult:
    """What :func:`run_demo` made: file paths and the scores of noisy and enhanced against clean."""
    out_dir: Path
    method: str
    snr_db: float
    seed: int
    sr: int
    files: dict[str, Path] = field(default_factory=dict)
    before: dict[str, float] = field(default_factory=dict)
    after: dict[str, float] = field(default_factory=dict)


def _title(name: str, scores: dict[str, float] | None) -> str:
    if not scores:
        return name
    parts = []
    if "pesq_wb" in scores:
        parts.append(f"PESQ {scores['pesq_wb']:.2f}")
    if "stoi" in scores:
        parts.append(f"STOI {scores['stoi']:.2f}")
    if "si_sdr" in scores:
        parts.append(f"SI-SDR {scores['si_sdr']:.1f} dB")
    return f"{name}   —   " + "  ·  ".join(parts)


def run_demo(out_dir: str | os.PathLike = "demo", method: str | None = None, snr_db: float = 5.0,
             seed: int = 0, n_voices: int = 6) -> DemoResult:
    """Run the whole demo and write its files into ``out_dir`` (replacing the demo's own earlier
    output there, atomically). ``method`` defaults to ``voxclean.enhance.DEFAULT_METHOD``."""
    from voxclean.enhance import DEFAULT_METHOD, ENHANCERS
    from voxclean.enhance.apply import enhance_signal
    from voxclean.metrics import score_pair

    method = method or DEFAULT_METHOD
    enhancer = ENHANCERS.get(method)  # fail on an unknown name before synthesising anything
    sr = DEMO_SR
    rng = np.random.default_rng(seed)
    speech = speak_sentences(TARGET_SENTENCES, sr, voice="en-us", speed=160, pitch=50)
    lead = np.zeros(int(0.5 * sr), dtype=np.float32)  # noise-only lead-in and tail, as in a recording
    clean = np.concatenate([lead, speech, lead])
    clean *= 0.05 / _rms(clean)  # about -26 dBFS RMS
    babble = make_babble(n_voices, len(clean) / sr, sr, rng)
    noisy, _ = mix_at_snr(clean, babble, snr_db)
    peak = float(np.max(np.abs(noisy)))
    if peak > 0.95:  # keep the mixture unclipped; scale the reference with it (scores are unaffected)
        clean, noisy = clean * (0.95 / peak), noisy * (0.95 / peak)
    enhanced = np.asarray(enhance_signal(enhancer, noisy, sr), dtype=np.float32)
    if enhanced.shape != noisy.shape:
        raise RuntimeError(f"enhancer {method!r} returned shape {enhanced.shape} for input {noisy.shape}")

    metrics = list(DEMO_METRICS)
    before = score_pair(clean, noisy, sr, metrics=metrics)
    after = score_pair(clean, enhanced, sr, metrics=metrics)

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    files = {
        "clean": save(out / "clean.wav", clean, sr, overwrite=True),
        "noisy": save(out / "noisy.wav", noisy, sr, overwrite=True),
        "enhanced": save(out / "enhanced.wav", enhanced, sr, overwrite=True),
    }
    files["spectrograms"] = plot_spectrograms(out / "spectrograms.png", [
        ("Clean (espeak-ng, 4 Harvard sentences)", clean),
        (_title(f"Noisy ({n_voices}-talker babble + pink noise, {snr_db:g} dB SNR)", before), noisy),
        (_title(f"Enhanced ({method})", after), enhanced),
    ], sr)
    return DemoResult(out, method, snr_db, seed, sr, files, before, after)
