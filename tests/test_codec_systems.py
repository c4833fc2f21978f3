"""Systems under test: spec strings, external commands with their delay removed, enhancers, filters."""
from __future__ import annotations

import shlex
import sys

import numpy as np
import pytest

from conftest import need_data
from voxclean.probe.systems import (CodecSystem, CommandSystem, EnhancerSystem, FilterSystem, IdentitySystem,
                                    SystemFailed, resolve_system)


@pytest.fixture(scope="module")
def utterance() -> tuple[np.ndarray, int]:
    from voxclean.audio.io import load
    x, sr = load(need_data("speech", "cmu_arctic", "cmu_arctic_us_aew_a0001.flac"), sr=16000, channels="downmix")
    return x[: 2 * sr], sr


def test_resolve_system_understands_every_kind():
    assert isinstance(resolve_system("identity"), IdentitySystem)
    s = resolve_system("opus:12k")
    assert isinstance(s, CodecSystem) and s.name == "opus:12k" and s.bitrate == 12000
    assert isinstance(resolve_system("enhancer:wiener"), EnhancerSystem)
    assert resolve_system("wiener").name == "enhancer:wiener"
    assert isinstance(resolve_system("lowpass:4k"), FilterSystem)
    c = resolve_system("cmd:mycodec --fast {in} {out}")
    assert isinstance(c, CommandSystem) and c.template == "mycodec --fast {in} {out}"
    with pytest.raises(KeyError, match="unknown system 'nothing'.*opus:12k.*enhancer:wiener"):
        resolve_system("nothing")
    with pytest.raises(ValueError, match=r"\{in\} and \{out\}"):
        resolve_system("cmd:mycodec {in}")


# a stand-in external codec: halves the signal and delays it by 80 samples (5 ms at 16 kHz), float output
DELAYING = (f"{shlex.quote(sys.executable)} -c \"import sys, numpy as np, soundfile as sf; "
            "x, sr = sf.read(sys.argv[1], dtype='float32'); "
            "sf.write(sys.argv[2], np.concatenate([np.zeros(80, 'float32'), 0.5 * x]), sr, subtype='FLOAT')\" "
            "{in} {out}")


def test_command_system_runs_the_program_and_removes_its_delay(utterance):
    x, sr = utterance
    system = resolve_system(f"cmd:{DELAYING}")
    y = system.process(x, sr)
    assert system.delay(sr) == 80
    assert y.shape == x.shape
    xq = np.round(x * 32767) / 32767                     # {in} is written as 16-bit PCM
    np.testing.assert_allclose(y[: len(x) - 80], 0.5 * xq[: len(x) - 80], atol=1e-4)
    stereo = system.process(np.stack([x, -x]), sr)
    assert stereo.shape == (2, len(x))
    np.testing.assert_allclose(stereo[1], -stereo[0], atol=1e-4)


def test_command_system_failures_name_the_command(utterance):
    x, sr = utterance
    with pytest.raises(SystemFailed, match="program 'no-such-codec-here' not found"):
        CommandSystem("no-such-codec-here {in} {out}").process(x, sr)
    failing = f"{shlex.quote(sys.executable)} -c \"import sys; sys.exit('bad input')\" {{in}} {{out}}"
    with pytest.raises(SystemFailed, match="exit status 1 bad input"):
        CommandSystem(failing, align="none").process(x, sr)


def test_filter_and_enhancer_systems_keep_shape(utterance):
    x, sr = utterance
    lp = FilterSystem("lowpass", 2000)
    y = lp.process(x, sr)
    spec = np.abs(np.fft.rfft(y)) ** 2
    f = np.fft.rfftfreq(len(y), 1 / sr)
    assert y.shape == x.shape and spec[f > 3000].sum() < 1e-4 * spec.sum()
    e = resolve_system("enhancer:wiener").process(x, sr)
    assert e.shape == x.shape and e.dtype == np.float32 and np.isfinite(e).all()


def test_codec_system_processes_stereo(utterance):
    x, sr = utterance
    system = resolve_system("mulaw")
    if system.codec.unavailable_reason():
        pytest.skip("mulaw unavailable")
    y = system.process(np.stack([x, x]), sr)
    assert y.shape == (2, len(x))
    np.testing.assert_array_equal(y[0], y[1])            # deterministic, channel by channel
