"""Downstream measures: what a speech system does to the *tasks* that consume its output.

* :mod:`.asr`     -- word error rate (edit distance on normalised words) and offline recognisers
  (pocketsphinx from its wheel; Whisper tiny.en through faster-whisper when installed).
* :mod:`.speaker` -- speaker embeddings (Resemblyzer), cosine similarity, verification trials and the
  equal error rate.
* :mod:`.mel`     -- log-mel L1 distance, the "Mel Distance" of codec papers.
* :mod:`.emotion` -- a registry for emotion recognisers; empty until an offline model exists.

Everything takes ``(x, sr)`` mono float32 and is deterministic. The heavy optional packages (torch,
resemblyzer, pocketsphinx, faster-whisper) are imported only when a recogniser or encoder is built, so
the edit distance and the EER work without them.
"""
from voxclean.metrics.downstream.asr import (RECOGNIZERS, WordErrors, available_recognizers, default_recognizer,
                                             normalize_text, wer, word_errors)
from voxclean.metrics.downstream.mel import mel_distance
from voxclean.metrics.downstream.speaker import build_trials, cosine, eer, speaker_encoder

__all__ = ["RECOGNIZERS", "WordErrors", "available_recognizers", "build_trials", "cosine", "default_recognizer",
           "eer", "mel_distance", "normalize_text", "speaker_encoder", "wer", "word_errors"]
