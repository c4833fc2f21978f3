"""scripts/score_speech_dnsmos.py: training speech filtered on DNSMOS BAK keeps the clean files, drops the
noisy ones, writes a list the training config can name, and reuses the scores it already has."""
from __future__ import annotations

import numpy as np
import soundfile as sf

from conftest import load_script, need_data
from voxclean.degrade.noise import list_audio, load_mono


def _script():
    return load_script("score_speech_dnsmos")


def test_noisy_targets_are_left_out_and_scores_are_reused(tmp_path):
    src = sorted(need_data("speech", "cmu_arctic").glob("*.flac"))[0]
    x = load_mono(str(src), 16000)[: 3 * 16000]
    folder = tmp_path / "speech"
    folder.mkdir()
    sf.write(folder / "clean.wav", x, 16000)
    rng = np.random.default_rng(0)
    noise = rng.standard_normal(len(x)) * np.sqrt(np.mean(x.astype(np.float64) ** 2))   # 0 dB white noise
    sf.write(folder / "noisy.wav", (0.5 * (x + noise)).astype(np.float32), 16000)
    tsv, lst = tmp_path / "scores.tsv", tmp_path / "lists" / "clean.txt"
    mod = _script()
    assert mod.main([str(folder), "--tsv", str(tsv), "--list", str(lst), "--min-bak", "3.0"]) == 0
    rows = tsv.read_text().splitlines()
    bak = {r.split("\t")[0].rsplit("/", 1)[-1]: float(r.split("\t")[2]) for r in rows[1:]}
    assert bak["clean.wav"] > 3.5 > 2.5 > bak["noisy.wav"]
    assert list_audio(str(lst), "speech") == [str((folder / "clean.wav").resolve())]
    mod.main([str(folder), "--tsv", str(tsv), "--min-bak", "3.0"])          # nothing left to score
    assert tsv.read_text().splitlines() == rows
