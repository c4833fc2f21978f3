"""scripts/gpu_pack.py: the travelling copy of a config's training data decodes to the same audio
(within Opus coding error), keeps every file, and turns the simulated rooms into RIR files."""
from __future__ import annotations


import numpy as np
import pytest
import soundfile as sf
import yaml

from conftest import load_script, need_data
from voxclean.degrade.noise import load_mono


def _pack_module():
    return load_script("gpu_pack")


def test_pack_keeps_every_file_and_the_audio(tmp_path):
    speech = need_data("speech", "cmu_arctic")
    rir = need_data("rir", "real")
    noise = tmp_path / "noise"                       # a small noise folder: two real noises
    noise.mkdir()
    for name in ("n1.flac", "n2.flac"):
        src = need_data("noise", "hu100", name)
        (noise / name).write_bytes(src.read_bytes())
    cfg = {"data": {"speech": [str(speech)], "noise": [str(noise)], "rir": [str(rir)], "n_sim_rooms": 3},
           "train": {"seed": 1}}
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(cfg))
    _pack_module().main([str(tmp_path / "c.yaml"), str(tmp_path / "pack")])
    pack = tmp_path / "pack"
    src_speech = sorted(p for p in speech.iterdir() if p.suffix == ".flac")
    assert sorted(p.stem for p in (pack / "speech").iterdir()) == sorted(p.stem for p in src_speech)
    assert len(list((pack / "noise").iterdir())) == 2
    n_rir = len([p for p in rir.iterdir() if p.suffix in (".wav", ".flac")])
    rirs = sorted(p.name for p in (pack / "rir").iterdir())
    assert len(rirs) == n_rir + 3 and rirs.count("sim_room_00.wav") == 1
    for src in src_speech[:3]:                       # Opus at ~31 kbit/s: same length, > 15 dB SNR, no delay
        x = load_mono(str(src), 16000)
        y, sr = sf.read(pack / "speech" / f"{src.stem}.ogg", dtype="float32")
        assert sr == 16000 and abs(len(y) - len(x)) <= 1
        n = min(len(x), len(y))
        snr = 10 * np.log10(np.sum(x[:n] ** 2) / np.sum((x[:n] - y[:n]) ** 2))
        assert snr > 15, (src.name, snr)
    with pytest.raises(SystemExit):                  # never writes into a non-empty pack
        _pack_module().main([str(tmp_path / "c.yaml"), str(tmp_path / "pack")])
