"""Audio input/output: any common format in, atomic WAV/FLAC out, clear errors that name the file.

Reading policy
--------------
* soundfile (libsndfile) reads WAV, FLAC, OGG/Vorbis, OGG/Opus and (libsndfile >= 1.1) MP3; whatever it
  cannot read is decoded by ``ffmpeg`` (MP3, AAC/M4A, WebM, ...) when ``ffmpeg`` is on the PATH.
* Samples come back as float32 in [-1, 1] whatever the stored type (int8/16/24/32, float).
* Shape: ``(samples,)`` for mono, ``(channels, samples)`` for multichannel.
  ``channels="keep"`` (default) keeps every channel; ``channels="downmix"`` averages them to mono;
  an integer picks that channel.
* ``sr=None`` keeps the file's rate; an integer resamples with soxr.
* Problems raise :class:`AudioError` naming the file and the problem: missing, empty, not audio,
  corrupt or truncated, no samples, NaN/inf samples, all-silent (unless ``allow_silent``), or a
  sample rate below 8 kHz.

Writing policy
--------------
Every write goes to a temporary file in the destination folder and is renamed over the target only
when complete, so an interrupted run never leaves a half-written file. :func:`atomic_writer` (used by
the batch commands) refuses to replace an existing file unless ``overwrite=True``; :func:`save`, the
plain array-to-file call, replaces by default (pass ``overwrite=False`` to refuse).
"""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np
import soundfile as sf

MIN_SR = 8000
SILENCE_PEAK = 1e-6  # a file whose peak is below this (-120 dBFS) counts as all-silent


class AudioError(ValueError):
    """A problem with one audio file; the message names the file and says what to do."""

    def __init__(self, path: str | os.PathLike, problem: str):
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


@dataclass(frozen=True)
class AudioInfo:
    path: str
    sample_rate: int
    channels: int
    frames: int
    format: str
    subtype: str

    @property
    def duration(self) -> float:
        return self.frames / self.sample_rate


def _check_exists(path: Path) -> None:
    if not path.exists():
        raise AudioError(path, "file not found")
    if path.is_dir():
        raise AudioError(path, "is a folder, expected an audio file")
    if path.stat().st_size == 0:
        raise AudioError(path, "file is empty (0 bytes)")


def _ffprobe(path: Path) -> AudioInfo:
    if shutil.which("ffprobe") is None:
        raise AudioError(path, "soundfile cannot read this format and ffmpeg is not installed "
                               "(install it, e.g. `apt-get install ffmpeg`)")
    cmd = ["ffprobe", "-v", "error", "-select_streams", "a:0", "-show_entries",
           "stream=sample_rate,channels,codec_name,duration_ts,time_base:format=format_name,duration",
           "-of", "json", str(path)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    data = json.loads(proc.stdout or "{}") if proc.returncode == 0 else {}
    streams = data.get("streams") or []
    if not streams:
        raise AudioError(path, "not an audio file, or corrupt (neither soundfile nor ffmpeg can decode it)")
    st = streams[0]
    sr = int(st.get("sample_rate", 0))
    dur = float(data.get("format", {}).get("duration", 0) or 0)
    return AudioInfo(str(path), sr, int(st.get("channels", 1)), int(round(dur * sr)),
                     data.get("format", {}).get("format_name", "?"), st.get("codec_name", "?"))


def info(path: str | os.PathLike) -> AudioInfo:
    """Sample rate, channel count, length and format of an audio file, without decoding it all."""
    path = Path(path)
    _check_exists(path)
    try:
        i = sf.info(str(path))
        return AudioInfo(str(path), int(i.samplerate), int(i.channels), int(i.frames), i.format, i.subtype)
    except Exception:
        return _ffprobe(path)


def _check_wav_truncation(path: Path) -> None:
    """A WAV whose ``data`` chunk declares more bytes than the file holds was cut short (libsndfile
    would silently read the part that is there)."""
    with open(path, "rb") as fh:
        head = fh.read(4096)
    if head[:4] != b"RIFF" or head[8:12] != b"WAVE":
        return
    pos = 12
    while pos + 8 <= len(head):
        cid, size = head[pos:pos + 4], int.from_bytes(head[pos + 4:pos + 8], "little")
        if cid == b"data":
            have = path.stat().st_size - (pos + 8)
            if 0 < size < 0xFFFFFFF0 and size > have:
                raise AudioError(path, f"truncated WAV: header declares {size} data bytes, file holds {have}")
            return
        pos += 8 + size + (size & 1)


def _ffmpeg_decode(path: Path) -> tuple[np.ndarray, int]:
    meta = _ffprobe(path)
    cmd = ["ffmpeg", "-v", "error", "-nostdin", "-i", str(path), "-map", "0:a:0", "-f", "f32le",
           "-acodec", "pcm_f32le", "-"]
    proc = subprocess.run(cmd, capture_output=True)
    if proc.returncode != 0:
        msg = proc.stderr.decode(errors="replace").strip().splitlines()[-1:] or ["unknown error"]
        raise AudioError(path, f"corrupt or unsupported audio (ffmpeg: {msg[0]})")
    data = np.frombuffer(proc.stdout, dtype="<f4")
    ch = max(meta.channels, 1)
    data = data[: len(data) // ch * ch].reshape(-1, ch)
    return data, meta.sample_rate


def _to_layout(frames_by_ch: np.ndarray, channels: str | int, path: Path) -> np.ndarray:
    """(frames, ch) -> (samples,) or (channels, samples) following the channel policy."""
    n_ch = frames_by_ch.shape[1]
    if isinstance(channels, int) and not isinstance(channels, bool):
        if not 0 <= channels < n_ch:
            raise AudioError(path, f"channel {channels} requested but the file has {n_ch}")
        return np.ascontiguousarray(frames_by_ch[:, channels])
    if channels == "downmix" or n_ch == 1:
        return frames_by_ch.mean(axis=1) if n_ch > 1 else np.ascontiguousarray(frames_by_ch[:, 0])
    if channels == "keep":
        return np.ascontiguousarray(frames_by_ch.T)
    raise ValueError(f"channels must be 'keep', 'downmix' or a channel index, not {channels!r}")


def validate(x: np.ndarray, path: str | os.PathLike = "<array>", allow_silent: bool = False) -> None:
    """Raise :class:`AudioError` for signals no processor should receive."""
    if x.size == 0:
        raise AudioError(path, "contains no audio samples (zero length)")
    finite = np.isfinite(x)
    if not finite.all():
        bad = int((~finite).sum())
        raise AudioError(path, f"contains {bad} NaN or infinite sample(s); repair or re-export the file")
    if not allow_silent and float(np.max(np.abs(x))) < SILENCE_PEAK:
        raise AudioError(path, "is all silent (peak below -120 dBFS); nothing to process")


def load(path: str | os.PathLike, sr: int | None = None, channels: str | int = "keep",
         allow_silent: bool = False) -> tuple[np.ndarray, int]:
    """Read an audio file as float32.

    Returns ``(x, sr)`` where ``x`` is ``(samples,)`` or ``(channels, samples)`` (see the module
    docstring for the channel policy) and ``sr`` is the file's rate, or ``sr`` if one was asked for.
    """
    path = Path(path)
    _check_exists(path)
    _check_wav_truncation(path)
    try:
        readable = sf.info(str(path)) is not None
    except Exception:
        readable = False
    if readable:  # soundfile knows the format: a failure now means damaged data
        try:
            data, file_sr = sf.read(str(path), dtype="float32", always_2d=True)
        except Exception as exc:
            raise AudioError(path, f"corrupt or truncated audio ({exc})") from exc
    else:         # soundfile cannot read it: ffmpeg decodes it or explains why not
        data, file_sr = _ffmpeg_decode(path)
    if file_sr < MIN_SR:
        raise AudioError(path, f"sample rate {file_sr} Hz is below the supported minimum of {MIN_SR} Hz")
    x = _to_layout(np.asarray(data, dtype=np.float32), channels, path)
    validate(x, path, allow_silent)
    if sr is not None and sr != file_sr:
        from voxclean.audio.resample import resample
        x, file_sr = resample(x, file_sr, sr), sr
    return x, int(file_sr)


def read_blocks(path: str | os.PathLike, block_seconds: float = 10.0) -> Iterator[np.ndarray]:
    """Yield consecutive blocks of ``(channels, samples)`` float32 without loading the whole file;
    used for long files so memory stays bounded. Non-finite samples raise :class:`AudioError`."""
    path = Path(path)
    meta = info(path)
    _check_wav_truncation(path)
    block = max(int(block_seconds * meta.sample_rate), 1)
    try:
        f = sf.SoundFile(str(path))
    except Exception:
        x, _ = load(path, allow_silent=True)
        x2 = x[None] if x.ndim == 1 else x
        for i in range(0, x2.shape[1], block):
            yield x2[:, i:i + block]
        return
    with f:
        chunks = f.blocks(blocksize=block, dtype="float32", always_2d=True)
        while True:
            try:
                chunk = next(chunks)
            except StopIteration:
                return
            except Exception as exc:
                raise AudioError(path, f"corrupt or truncated audio ({exc})") from exc
            if not np.isfinite(chunk).all():
                raise AudioError(path, "contains NaN or infinite samples; repair or re-export the file")
            yield np.ascontiguousarray(chunk.T)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_writer(path: str | os.PathLike, sr: int, channels: int, subtype: str = "PCM_16",
                  overwrite: bool = False) -> Iterator[sf.SoundFile]:
    """Open a SoundFile for writing at a temporary name beside ``path``; renamed over ``path`` only
    if the block exits without error. Write ``(frames, channels)`` arrays to it."""
    path = Path(path)
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path}: exists; pass overwrite=True (CLI: --overwrite) to replace it")
    path.parent.mkdir(parents=True, exist_ok=True)
    fmt = {".flac": "FLAC", ".ogg": "OGG"}.get(path.suffix.lower(), "WAV")
    if fmt == "OGG":
        subtype = "VORBIS"
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    os.close(fd)
    try:
        with sf.SoundFile(tmp, "w", samplerate=int(sr), channels=int(channels), format=fmt,
                          subtype=subtype) as f:
            yield f
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes owner-only files; give ordinary permissions
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def save(path: str | os.PathLike, x: np.ndarray, sr: int, subtype: str = "PCM_16",
         overwrite: bool = True) -> Path:
    """Write ``x`` (``(samples,)`` or ``(channels, samples)``) atomically. Samples outside [-1, 1]
    are clipped for integer formats. Returns the path written."""
    x = np.asarray(x, dtype=np.float32)
    if not np.isfinite(x).all():
        raise AudioError(path, "refusing to write NaN or infinite samples")
    frames = x[:, None] if x.ndim == 1 else x.T
    if subtype.startswith("PCM"):
        frames = np.clip(frames, -1.0, 1.0)
    with atomic_writer(path, sr, frames.shape[1], subtype=subtype, overwrite=overwrite) as f:
        f.write(frames)
    return Path(path)


AUDIO_SUFFIXES = {".wav", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".m4a", ".aac", ".aif", ".aiff",
                  ".au", ".webm", ".wma"}


def find_audio(root: str | os.PathLike) -> list[Path]:
    """All audio files under ``root`` (recursive, sorted), or ``[root]`` if it is a file."""
    root = Path(root)
    if root.is_file():
        return [root]
    return sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in AUDIO_SUFFIXES)
