"""On-the-fly training mixtures built from voxclean's degradation engine.

Every training example ``i`` of step ``s`` is drawn with ``np.random.default_rng([seed, s, i])``, so
a run is reproducible and a resumed run sees exactly the batches it would have seen. One example::

    s      = random segment of a training utterance (files drawn uniformly, or in proportion to their
             duration with ``speech_weight: duration``), scaled to a random level (``level_db``, dBFS RMS)
    r, d   = s convolved with an RIR (prob. ``p_reverb``; measured from ``rir`` or a pyroomacoustics
             shoebox room from a pool simulated at start-up), aligned to the RIR peak; target d is the
             direct path (voxclean.degrade.reverb: +-2.5 ms around the peak), else r = d = s
    n      = random looped segment of a training noise, gain from ``snr_gain`` for an SNR ~ U(snr);
             with prob. ``p_babble`` instead synthetic babble (the sum of 3-8 other training utterances
             at random levels: the corpora hold no babble, the commonest real noise) and with prob.
             ``p_colored`` coloured Gaussian noise |N(f)| ~ f^(-beta/2), beta ~ U(0, 2) (white to brown),
             with a random 4-band EQ of +-6 dB, and with prob. ``p_rumble`` synthetic wind/traffic
             rumble (:func:`rumble_noise`). Real noises can be augmented (each with its own
             probability): played at a random speed U(0.7, 1.4) (``p_noise_speed``), mixed with a second
             noise 0-10 dB below (``p_noise_mix``), randomly equalised +-9 dB (``p_noise_eq``), low-passed at
             150-800 Hz (``p_noise_lowpass``: energy beside the voice's fundamental), made to come and go
             at 0.3-6 Hz with a 6-20 dB depth (``p_noise_modulate``: :func:`modulate_noise`), joined by
             synthetic clatter (``p_noise_transient``: :func:`transient_noise`) or harmonic tones
             (``p_noise_tonal``: :func:`tonal_noise`) at -10..+10 dB relative to it; the
             speech itself can be equalised +-4 dB (``p_speech_eq``, target and input alike: a
             microphone colour the model must keep, not undo)
    y      = r + g n  (with prob. ``p_clean`` y = r: no noise, so that clean input passes unharmed);
             optional band-limit (prob. ``p_bandlimit``: Butterworth low-pass at U(3.4, 7) kHz,
             applied to y and d alike, since a gain model cannot restore a missing band); with prob.
             ``p_resample`` y and d down-sampled to 8, 11.025 or 12 kHz and back with soxr, so that the band
             above the old Nyquist is digitally empty, as in any upsampled telephone or low-rate
             recording (the Butterworth band-limit leaves it 60 dB down, not empty: without this a
             model met empty bands only at inference and, on clean 8 kHz speech, attenuated some
             voices by 5 dB; docs/benchmarks.md 4-i-j); and codec
             round trip (prob. ``p_codec``, y only; off by default because ffmpeg is slow)
    peak   = if max|y| > 0.99, y and d are scaled together

Only folders the data README marks *training* belong in the config; the development folders and
NOIZEUS are for validation only.
"""
from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
from scipy.signal import butter, sosfilt

from voxclean.audio.resample import resample
from voxclean.degrade.noise import list_audio, load_mono, loop_segment, snr_gain
from voxclean.degrade.reverb import convolve_aligned, direct_window, simulate_rir, min_rt60

SR = 16000
RESAMPLE_RATES = (8000, 11025, 12000)    # p_resample: audio that was stored at a lower rate, then upsampled


@functools.lru_cache(maxsize=4096)
def _audio(path: str) -> np.ndarray:
    return load_mono(path, SR)


def _shape_spectrum(x: np.ndarray, sr: int, knots_hz, gains_db, tilt: float = 0.0) -> np.ndarray:
    """``x`` filtered (zero-phase, in the DFT domain) by ``f^tilt`` times a smooth EQ: ``gains_db`` at
    ``knots_hz``, interpolated on a log-frequency axis."""
    spec = np.fft.rfft(x)
    f = np.fft.rfftfreq(len(x), 1 / sr)
    f[0] = f[1] if len(f) > 1 else 1.0
    gain = f ** tilt * 10 ** (np.interp(np.log(f), np.log(knots_hz), gains_db) / 20)
    return np.fft.irfft(spec * gain, len(x))


def colored_noise(rng: np.random.Generator, n: int, sr: int = SR) -> np.ndarray:
    """Gaussian noise with power spectrum ~ f^(-beta), beta ~ U(0, 2), times a random smooth EQ
    (+-6 dB at 50, 400, 1500, 4000 Hz and Nyquist)."""
    x = rng.standard_normal(n)
    beta = rng.uniform(0, 2)
    knots = [50, 400, 1500, 4000, sr / 2]
    return _shape_spectrum(x, sr, knots, rng.uniform(-6, 6, len(knots)), tilt=-beta / 2)


def rumble_noise(rng: np.random.Generator, n: int, sr: int = SR) -> np.ndarray:
    """Wind / traffic / engine rumble: brown noise through a 2nd-4th order Butterworth low-pass at
    U(60, 500) Hz, with gusts (the level follows a random envelope smoothed below U(0.2, 2) Hz, depth
    U(0, 1)) and, with probability 1/3, mains hum (50 or 60 Hz and 2-6 harmonics). Real recordings of
    this kind put > 90 % of their energy below 300 Hz, where speech has its fundamental."""
    x = np.cumsum(rng.standard_normal(n))
    x -= np.linspace(x[0], x[-1], n)                       # no drift
    sos = butter(int(rng.integers(2, 5)), rng.uniform(60, 500), fs=sr, output="sos")
    x = sosfilt(sos, x)
    env_sos = butter(2, rng.uniform(0.2, 2.0), fs=sr, output="sos")
    env = sosfilt(env_sos, rng.standard_normal(n))
    env = env / (np.max(np.abs(env)) + 1e-12)
    x = x * (1.0 + rng.uniform(0, 1) * env)
    if rng.random() < 1 / 3:
        f0 = float(rng.choice([50.0, 60.0]))
        t = np.arange(n) / sr
        hum = sum(rng.uniform(0.2, 1.0) / k * np.sin(2 * np.pi * f0 * k * t + rng.uniform(0, 2 * np.pi))
                  for k in range(1, int(rng.integers(2, 7)) + 1))
        x = x / (np.std(x) + 1e-12) + rng.uniform(0.1, 1.0) * hum / (np.std(hum) + 1e-12)
    return x


def lowpass_noise(rng: np.random.Generator, x: np.ndarray, sr: int = SR) -> np.ndarray:
    """``x`` through a 4th-order Butterworth low-pass at a log-uniform 150-800 Hz: noise whose energy
    sits at 100-300 Hz, beside the voice's fundamental (hum, engines, thunder), where neural_v10 lost
    most to DeepFilterNet3 (weights/README.md). The mixture's SNR is set afterwards, on the whole band."""
    fc = float(np.exp(rng.uniform(np.log(150.0), np.log(800.0))))
    return sosfilt(butter(4, fc, fs=sr, output="sos"), x)


def modulate_noise(rng: np.random.Generator, x: np.ndarray, sr: int = SR) -> np.ndarray:
    """``x`` times a slow level envelope: a stationary noise made to come and go as pedalling, passing
    traffic or machinery cycles do. The envelope in dB is a sinusoid at a log-uniform 0.3-6 Hz plus a
    random component smoothed below the same rate, scaled to a depth ~ U(6, 20) dB peak to trough:

        e(t) = 10^(D/20 * (m(t) - 1)),  m(t) in [0, 1],  D ~ U(6, 20) dB

    The mixture's SNR is set afterwards on the whole segment, so the loud phases sit above it."""
    n = len(x)
    rate = float(np.exp(rng.uniform(np.log(0.3), np.log(6.0))))
    t = np.arange(n) / sr
    m = np.sin(2 * np.pi * rate * t + rng.uniform(0, 2 * np.pi))
    # white noise low-passed at `rate` keeps ~rate/sr of its power: sqrt(sr/rate) brings it to unit scale,
    # and 0.5 makes it half the sinusoid's amplitude
    m = m + sosfilt(butter(2, rate, fs=sr, output="sos"), rng.standard_normal(n)) * np.sqrt(sr / rate) * 0.5
    m = (m - m.min()) / (np.ptp(m) + 1e-12)
    return x * 10 ** (rng.uniform(6.0, 20.0) / 20 * (m - 1.0))


def transient_noise(rng: np.random.Generator, n: int, sr: int = SR) -> np.ndarray:
    """Clatter: impacts at Poisson times (rate log-uniform 0.5-8 /s), each a struck object rendered by
    modal synthesis (the standard model of impact sounds) plus a short broadband click:

        h(t) = sum_k a_k exp(-t / tau_k) sin(2 pi f_k t + phi_k) + c w(t) exp(-t / 2 ms),

    1-5 modes per impact, f_k log-uniform 400-7500 Hz (capped below Nyquist), tau_k log-uniform 3-60 ms
    (T60 = 6.9 tau: 20-400 ms of ringing), a_k and the impact level log-normal (sigma 6 dB). Dishes,
    cutlery, keyboards, footsteps: noise that is silent most of the time and then louder than speech,
    which a stationary-noise model smears or misses."""
    out = np.zeros(n)
    rate = float(np.exp(rng.uniform(np.log(0.5), np.log(8.0))))
    times = np.cumsum(rng.exponential(sr / rate, size=int(rate * n / sr * 3) + 2)).astype(int)
    t = np.arange(int(0.4 * sr)) / sr
    for t0 in times[times < n]:
        k = int(rng.integers(1, 6))
        f = np.minimum(np.exp(rng.uniform(np.log(400), np.log(7500), k)), 0.45 * sr)
        tau = np.exp(rng.uniform(np.log(0.003), np.log(0.06), k))
        a = 10 ** (rng.normal(0, 6, k) / 20)
        h = (a[:, None] * np.exp(-t / tau[:, None]) * np.sin(2 * np.pi * f[:, None] * t
                                                             + rng.uniform(0, 2 * np.pi, k)[:, None])).sum(0)
        h += rng.uniform(0, 1) * rng.standard_normal(len(t)) * np.exp(-t / 0.002)
        m = min(len(h), n - t0)
        out[t0: t0 + m] += h[:m] * 10 ** (rng.normal(0, 6) / 20)
    return out


def tonal_noise(rng: np.random.Generator, n: int, sr: int = SR) -> np.ndarray:
    """Harmonic machine and signal tones: horns, sirens, whining motors, alarms, exercise bikes. A
    fundamental f0 log-uniform 100-2000 Hz with 1-8 harmonics of amplitude k^-beta, beta ~ U(0, 2), whose
    frequency is steady (1/3), swept like a siren, f(t) = f0 (1 + d sin(2 pi r t)), d ~ U(0.05, 0.4),
    r ~ U(0.1, 3) Hz (1/3), or glides linearly by up to an octave either way (1/3); the phase is the
    running integral 2 pi sum f(t) / sr. With probability 1/2 it is gated on and off like a horn
    (on 0.2-1.5 s, off 0.1-1 s, 10 ms ramps). Harmonics above 0.45 sr are left out."""
    t = np.arange(n) / sr
    f0 = float(np.exp(rng.uniform(np.log(100), np.log(2000))))
    kind = int(rng.integers(3))
    if kind == 0:
        f = np.full(n, f0)
    elif kind == 1:
        f = f0 * (1 + rng.uniform(0.05, 0.4) * np.sin(2 * np.pi * rng.uniform(0.1, 3.0) * t + rng.uniform(0, 6.3)))
    else:
        f = f0 * 2.0 ** (rng.uniform(-1, 1) * t / t[-1])
    phase = 2 * np.pi * np.cumsum(f) / sr
    beta = rng.uniform(0, 2)
    out = np.zeros(n)
    for k in range(1, int(rng.integers(1, 9)) + 1):
        out += np.where(k * f < 0.45 * sr, k ** -beta, 0.0) * np.sin(k * phase + rng.uniform(0, 2 * np.pi))
    if rng.random() < 0.5:
        gate, i, on = np.zeros(n), 0, bool(rng.integers(2))
        while i < n:
            m = int(sr * (rng.uniform(0.2, 1.5) if on else rng.uniform(0.1, 1.0)))
            gate[i: i + m] = float(on)
            i, on = i + m, not on
        ramp = np.hanning(int(0.02 * sr))
        gate = np.convolve(gate, ramp / ramp.sum(), mode="same")
        out = out * gate
    return out


def add_component(rng: np.random.Generator, x: np.ndarray, c: np.ndarray,
                  rel_db: tuple[float, float] = (-10.0, 10.0)) -> np.ndarray:
    """``x`` plus ``c`` scaled to U(*rel_db) dB relative to ``x``'s power (``x`` alone, and no random draw,
    if either is silent)."""
    p_x, p_c = np.mean(x ** 2), np.mean(c ** 2)
    if p_x <= 0 or p_c <= 0:
        return x
    return x + c * np.sqrt(p_x / p_c) * 10 ** (rng.uniform(*rel_db) / 20)


def random_eq(rng: np.random.Generator, x: np.ndarray, max_db: float, sr: int = SR) -> np.ndarray:
    """``x`` through a random smooth EQ: gains ~ U(-max_db, max_db) at 5 log-spaced knots (100 Hz to
    Nyquist), interpolated on a log-frequency axis (zero-phase)."""
    return _shape_spectrum(x, sr, np.geomspace(100, sr / 2, 5), rng.uniform(-max_db, max_db, 5))


def simulate_rooms(seed: int, n: int) -> list[np.ndarray]:
    """The ``n`` pyroomacoustics shoebox RIRs of a sampler seeded ``seed`` (3-10 m x 3-10 m x 2.5-3.5 m,
    RT60 0.2-0.8 s, source 0.5-3 m from the microphone)."""
    rng = np.random.default_rng([seed, 999_999])
    rooms = []
    for _ in range(n):
        room = [rng.uniform(3, 10), rng.uniform(3, 10), rng.uniform(2.5, 3.5)]
        rt60 = max(rng.uniform(0.2, 0.8), 1.05 * min_rt60(room))
        dist = rng.uniform(0.5, 3.0)
        mic = [rng.uniform(0.5, room[0] - 0.5), rng.uniform(0.5, room[1] - 0.5), 1.2]
        ang = rng.uniform(0, 2 * np.pi)
        src = [float(np.clip(mic[0] + dist * np.cos(ang), 0.5, room[0] - 0.5)),
               float(np.clip(mic[1] + dist * np.sin(ang), 0.5, room[1] - 0.5)), 1.6]
        rooms.append(simulate_rir(room, src, mic, rt60, SR, max_order=20))
    return rooms


def _through_rate(x: np.ndarray, rate: int) -> np.ndarray:
    """``x`` (16 kHz) down-sampled to ``rate`` and back with soxr, same length: nothing above rate/2 remains."""
    y = resample(resample(x, SR, rate), rate, SR).astype(np.float64)[: len(x)]
    return np.pad(y, (0, len(x) - len(y)))


def _speech_cdf(files: list[str], weight: str) -> np.ndarray | None:
    """Cumulative probabilities of drawing each speech file: ``"file"`` draws files uniformly (None), so a
    corpus of many short utterances dominates one of fewer long ones; ``"duration"`` draws each file with
    probability ``T_k / sum_j T_j`` (its duration), i.e. every second of speech is equally likely."""
    if weight == "file":
        return None
    if weight != "duration":
        raise ValueError(f"speech_weight must be 'file' or 'duration', not {weight!r}")
    import soundfile as sf
    t = np.array([sf.info(f).duration for f in files], dtype=np.float64)
    if not np.all(t > 0):
        raise ValueError(f"speech_weight=duration: {files[int(np.argmin(t))]} has no samples")
    return np.cumsum(t) / t.sum()


class MixtureSampler:
    def __init__(self, speech: list[str], noise: list[str], rir: list[str] | None = None, *,
                 snr=(-5.0, 20.0), level_db=(-35.0, -15.0), segment_s: float = 3.0,
                 p_reverb: float = 0.3, p_sim_room: float = 0.5, n_sim_rooms: int = 16,
                 p_bandlimit: float = 0.1, p_codec: float = 0.0, p_babble: float = 0.0,
                 p_colored: float = 0.0, p_noise_speed: float = 0.0, p_noise_mix: float = 0.0,
                 p_noise_eq: float = 0.0, p_speech_eq: float = 0.0, p_rumble: float = 0.0, p_clean: float = 0.0,
                 p_noise_lowpass: float = 0.0, p_noise_modulate: float = 0.0, p_noise_transient: float = 0.0,
                 p_noise_tonal: float = 0.0, p_resample: float = 0.0, speech_weight: str = "file", seed: int = 0):
        self.speech = list_audio(list(speech), "speech")
        self._speech_cdf = _speech_cdf(self.speech, speech_weight)
        self.noise = list_audio(list(noise), "noise")
        self.rir_files = list_audio(list(rir), "reverb") if rir else []
        self.snr, self.level_db = tuple(snr), tuple(level_db)
        self.length = int(round(segment_s * SR / 160)) * 160
        self.p_reverb, self.p_sim_room = p_reverb, p_sim_room
        self.p_bandlimit, self.p_codec = p_bandlimit, p_codec
        self.p_babble, self.p_colored = p_babble, p_colored
        self.p_noise_speed, self.p_noise_mix, self.p_noise_eq = p_noise_speed, p_noise_mix, p_noise_eq
        self.p_speech_eq, self.p_rumble, self.p_clean = p_speech_eq, p_rumble, p_clean
        self.p_noise_lowpass, self.p_noise_modulate = p_noise_lowpass, p_noise_modulate
        self.p_noise_transient, self.p_noise_tonal = p_noise_transient, p_noise_tonal
        self.p_resample = p_resample
        self.seed = seed
        self.rooms = simulate_rooms(seed, n_sim_rooms) if p_reverb > 0 and p_sim_room > 0 else []

    def preload(self) -> None:
        """Decode every speech, noise and RIR file into the audio cache now (before worker processes
        fork, so that they share it instead of each decoding the corpus again)."""
        for f in (*self.speech, *self.noise, *self.rir_files):
            _audio(f)

    def _speech(self, rng: np.random.Generator) -> np.ndarray:
        n = self.length
        for _ in range(5):
            x = _audio(self.speech[self._pick_speech(rng)])
            if len(x) > n:
                off = int(rng.integers(len(x) - n))
                x = x[off: off + n]
            else:
                x = np.pad(x, (0, n - len(x)))
            if np.mean(x.astype(np.float64) ** 2) > 1e-6:
                break
        return np.asarray(x, np.float64)

    def _pick_speech(self, rng: np.random.Generator) -> int:
        if self._speech_cdf is None:
            return int(rng.integers(len(self.speech)))
        return min(int(np.searchsorted(self._speech_cdf, rng.random(), side="right")), len(self.speech) - 1)

    def _babble(self, rng: np.random.Generator, n: int) -> np.ndarray:
        out = np.zeros(n)
        for _ in range(int(rng.integers(3, 9))):
            x = self._speech(rng)[:n]
            p = np.sqrt(np.mean(x ** 2)) + 1e-9
            out[: len(x)] += x / p * 10 ** (rng.uniform(-6, 0) / 20)
        return out

    def _real_noise(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """A looped segment of a training noise; with the augmentation probabilities set, played at a
        random speed (pitch and tempo together), mixed with a second noise, and/or randomly equalised."""
        speed = rng.uniform(0.7, 1.4) if self.p_noise_speed and rng.random() < self.p_noise_speed else 1.0
        noise = _audio(self.noise[int(rng.integers(len(self.noise)))])
        m = int(np.ceil(n * speed)) + 1
        seg = loop_segment(noise, int(rng.integers(len(noise))), m).astype(np.float64)
        if speed != 1.0:
            seg = np.interp(np.arange(n) * speed, np.arange(m), seg)
        seg = seg[:n]
        if self.p_noise_mix and rng.random() < self.p_noise_mix:
            other = _audio(self.noise[int(rng.integers(len(self.noise)))])
            o = loop_segment(other, int(rng.integers(len(other))), n).astype(np.float64)
            seg = add_component(rng, seg, o, (-10.0, 0.0))
        if self.p_noise_eq and rng.random() < self.p_noise_eq:
            seg = random_eq(rng, seg, 9.0)
        if self.p_noise_lowpass and rng.random() < self.p_noise_lowpass:
            seg = lowpass_noise(rng, seg)
        if self.p_noise_modulate and rng.random() < self.p_noise_modulate:
            seg = modulate_noise(rng, seg)
        if self.p_noise_transient and rng.random() < self.p_noise_transient:
            seg = add_component(rng, seg, transient_noise(rng, n))
        if self.p_noise_tonal and rng.random() < self.p_noise_tonal:
            seg = add_component(rng, seg, tonal_noise(rng, n))
        return seg

    def example(self, step: int, i: int) -> tuple[np.ndarray, np.ndarray]:
        """(noisy, target) float32 of ``segment_s`` seconds for example ``i`` of step ``step``."""
        rng = np.random.default_rng([self.seed, step, i])
        s = self._speech(rng)
        if self.p_speech_eq and rng.random() < self.p_speech_eq:
            s = random_eq(rng, s, 4.0)
        active = np.abs(s) > 0
        rms = np.sqrt(np.mean(s[active] ** 2)) if active.any() else 1.0
        s = s * (10 ** (rng.uniform(*self.level_db) / 20) / max(rms, 1e-8))
        r = d = s
        if rng.random() < self.p_reverb and (self.rir_files or self.rooms):
            if self.rooms and (not self.rir_files or rng.random() < self.p_sim_room):
                h = self.rooms[int(rng.integers(len(self.rooms)))]
            else:
                h = _audio(self.rir_files[int(rng.integers(len(self.rir_files)))]).astype(np.float64)
            h = h / np.sqrt(np.sum(h ** 2))
            peak, a, b = direct_window(h, SR, 2.5)
            r = convolve_aligned(s, h, peak)
            hd = np.zeros_like(h)
            hd[a:b] = h[a:b]
            d = convolve_aligned(s, hd, peak)
        u = rng.random()
        if u < self.p_babble:
            seg = self._babble(rng, len(r))
        elif u < self.p_babble + self.p_colored:
            seg = colored_noise(rng, len(r))
        elif u < self.p_babble + self.p_colored + self.p_rumble:
            seg = rumble_noise(rng, len(r))
        else:
            seg = self._real_noise(rng, len(r))
        if np.mean(seg ** 2) <= 0:
            seg = rng.standard_normal(len(r)) * 1e-3
        snr = rng.uniform(*self.snr)     # drawn even for a clean example: later draws keep their order
        y = r if self.p_clean and rng.random() < self.p_clean else r + snr_gain(r, seg, snr) * seg
        if rng.random() < self.p_bandlimit:
            sos = butter(8, rng.uniform(3400, 7000), fs=SR, output="sos")
            y, d = sosfilt(sos, y), sosfilt(sos, d)
        if self.p_resample and rng.random() < self.p_resample:
            rate = int(rng.choice(RESAMPLE_RATES))
            y, d = (_through_rate(v, rate) for v in (y, d))
        if self.p_codec and rng.random() < self.p_codec:
            from voxclean.degrade.codec import roundtrip
            name = str(rng.choice(["opus", "mp3"]))
            y = np.asarray(roundtrip(y.astype(np.float32), SR, name, int(rng.choice([16000, 24000, 32000])))[0],
                           np.float64)[: len(d)]
        peak = np.max(np.abs(y))
        if peak > 0.99:
            y, d = y * (0.99 / peak), d * (0.99 / peak)
        return y.astype(np.float32), d.astype(np.float32)

    def batch(self, step: int, size: int) -> tuple[np.ndarray, np.ndarray]:
        ex = [self.example(step, i) for i in range(size)]
        return np.stack([e[0] for e in ex]), np.stack([e[1] for e in ex])
