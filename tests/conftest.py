"""Shared fixtures: the project's real data lives in ../shared/data; tests that need it skip without it."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def load_script(name: str):
    """``scripts/<name>.py`` imported as a module (the scripts are not a package)."""
    import importlib.util
    spec = importlib.util.spec_from_file_location(name, Path(__file__).resolve().parents[1] / "scripts" / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def need_data(*parts: str) -> Path:
    path = DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"shared data not available: {path}")
    return path


@pytest.fixture
def speech16k() -> tuple[np.ndarray, int]:
    """A real 16 kHz utterance (CMU ARCTIC)."""
    from voxclean.audio import load
    folder = need_data("speech", "cmu_arctic")
    return load(sorted(folder.glob("*.flac"))[0])


@pytest.fixture
def noisy_pair() -> tuple[np.ndarray, np.ndarray, int]:
    """Real clean speech and the same speech with real cafe noise at 5 dB SNR, 16 kHz."""
    from voxclean.audio import load, resample
    clean, sr = load(sorted(need_data("speech", "librispeech_test_other").rglob("*.flac"))[0])
    noise, nsr = load(need_data("noise", "dev", "exercise_bike.flac"), channels="downmix")
    noise = np.resize(resample(noise, nsr, sr), len(clean))
    gain = np.sqrt(np.mean(clean ** 2) / (np.mean(noise ** 2) * 10 ** (5 / 10)))
    return clean, (clean + gain * noise).astype(np.float32), sr


def stream_in_random_blocks(stream, x: np.ndarray, max_block: int, seed: int) -> np.ndarray:
    """Push ``x`` through ``stream`` in random block sizes (1..max_block-1 samples), flush, and return
    the concatenated output: what a real-time caller would get."""
    rng = np.random.default_rng(seed)
    parts, i = [], 0
    while i < len(x):
        n = int(rng.integers(1, max_block))
        parts.append(stream.push(x[i:i + n]))
        i += n
    parts.append(stream.flush())
    return np.concatenate(parts)
