"""Speaker similarity and verification: Resemblyzer embeddings, cosine scores, trials and the EER.

Embeddings: the Resemblyzer voice encoder (a 3-layer LSTM d-vector trained with the generalised
end-to-end loss; Wan et al. 2018, "Generalized end-to-end loss for speaker verification", ICASSP),
whose weights ship inside the ``resemblyzer`` wheel. Input is resampled to 16 kHz (soxr), raised to
-30 dBFS if quieter, long silences are trimmed by WebRTC VAD (the package's own preprocessing; when the
VAD keeps under 0.5 s, as in heavy noise, the untrimmed signal is used), and the utterance embedding is the
L2-normalised mean of 1.6 s partial embeddings. Output: (256,) float32 with unit norm.

Verification (the ASV-EER of seed 003 Sec. 3.3): a *trial* pairs an enrolment utterance e with a test
utterance t (different files); it is a target trial when both come from the same speaker. The score is
the cosine similarity ``s = <u_e, u_t> / (|u_e| |u_t|)``. For a threshold theta::

    FAR(theta) = #{non-target trials with s >= theta} / #non-target
    FRR(theta) = #{target trials with s < theta} / #target

and the equal error rate is the common value where the two curves cross, linearly interpolated between
the two neighbouring thresholds (over all distinct scores) that bracket the crossing.
"""
from __future__ import annotations

import functools
from typing import Sequence

import numpy as np

from voxclean.audio.resample import resample

EMBED_SR = 16000
MIN_TRIMMED_S = 0.5


class ResemblyzerEncoder:
    """``embed(x, sr) -> (256,)`` unit-norm speaker embedding (see the module docstring)."""
    name = "resemblyzer"
    dim = 256

    def __init__(self) -> None:
        try:
            from resemblyzer import VoiceEncoder
        except ModuleNotFoundError as exc:
            if exc.name == "pkg_resources":  # the sdist webrtcvad needs setuptools' pkg_resources
                raise ImportError("resemblyzer imports webrtcvad, whose old release needs pkg_resources; "
                                  "install the maintained build: `pip install --force-reinstall --no-deps "
                                  "webrtcvad-wheels`") from exc
            raise ImportError(f"speaker embeddings need `pip install resemblyzer webrtcvad-wheels` ({exc})") from exc
        self._enc = VoiceEncoder(device="cpu", verbose=False)

    def embed(self, x: np.ndarray, sr: int) -> np.ndarray:
        from resemblyzer import preprocess_wav
        from voxclean.metrics.downstream.asr import as_mono
        y = resample(as_mono(x, "speaker embedding"), sr, EMBED_SR).astype(np.float32)
        if not np.any(y):
            raise ValueError("speaker embedding: the signal is silent")
        trimmed = preprocess_wav(y, source_sr=None)
        if len(trimmed) < MIN_TRIMMED_S * EMBED_SR:
            from resemblyzer import normalize_volume
            from resemblyzer.hparams import audio_norm_target_dBFS
            trimmed = normalize_volume(y, audio_norm_target_dBFS, increase_only=True)
        e = np.asarray(self._enc.embed_utterance(trimmed.astype(np.float32)), dtype=np.float32)
        return e / max(float(np.linalg.norm(e)), 1e-12)


@functools.lru_cache(maxsize=1)
def speaker_encoder() -> ResemblyzerEncoder:
    """A shared encoder (loading the weights takes ~0.1 s and 20 MB)."""
    return ResemblyzerEncoder()


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    """``<a, b> / (|a| |b|)``."""
    a = np.asarray(a, dtype=np.float64).reshape(-1)
    b = np.asarray(b, dtype=np.float64).reshape(-1)
    return float(a @ b / max(np.linalg.norm(a) * np.linalg.norm(b), 1e-12))


def build_trials(enroll: Sequence[tuple[str, str]], test: Sequence[tuple[str, str]]) -> list[tuple[int, int, bool]]:
    """Every (enrolment index, test index, is_target) with different utterance ids.

    ``enroll`` and ``test`` are sequences of ``(utterance id, speaker)``; the same utterance may appear in
    both (leave-one-out trials then skip pairing it with itself)."""
    return [(i, j, se == st) for i, (ue, se) in enumerate(enroll) for j, (ut, st) in enumerate(test) if ue != ut]


def eer(scores: Sequence[float], labels: Sequence[bool]) -> float:
    """Equal error rate (0-1) of scores where ``labels`` marks the target trials (module docstring)."""
    s = np.asarray(scores, dtype=np.float64)
    y = np.asarray(labels, dtype=bool)
    if s.shape != y.shape or s.ndim != 1:
        raise ValueError(f"eer: {s.shape} scores but {y.shape} labels")
    tgt, non = s[y], s[~y]
    if tgt.size == 0 or non.size == 0:
        raise ValueError(f"eer: needs target and non-target trials, got {tgt.size} and {non.size}")
    if not np.all(np.isfinite(s)):
        raise ValueError("eer: scores contain NaN or inf")
    thr = np.concatenate([np.unique(s), [np.inf]])  # ascending; at +inf everything is rejected
    far = 1.0 - np.searchsorted(np.sort(non), thr, side="left") / non.size   # P(non >= thr)
    frr = np.searchsorted(np.sort(tgt), thr, side="left") / tgt.size          # P(tgt < thr)
    diff = frr - far  # rises from -1 (theta = min score: FRR 0, FAR 1) to +1 (theta = inf)
    k = int(np.argmax(diff >= 0))
    if k == 0 or diff[k] == 0:
        return float((far[k] + frr[k]) / 2)
    w = -diff[k - 1] / (diff[k] - diff[k - 1])
    far_x = far[k - 1] + w * (far[k] - far[k - 1])
    frr_x = frr[k - 1] + w * (frr[k] - frr[k - 1])
    return float((far_x + frr_x) / 2)
