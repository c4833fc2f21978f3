"""Emotion recognition accuracy: pluggable, and honestly absent until an offline model exists.

Seed 003 measures emotion preservation as the accuracy of emotion2vec on RAVDESS. No emotion model ships
in a package this project can install offline, and no labelled emotional speech is in the shared data, so
:data:`EMOTION_MODELS` starts empty and reports say "not measured" instead of inventing a number. A model
registers as::

    @EMOTION_MODELS.register("my-ser", "what it is")
    class MySER:
        labels: tuple[str, ...]
        def predict(self, x: np.ndarray, sr: int) -> str: ...

and accuracy is then ``mean(predict(system(x_i)) == label_i)`` over a labelled set.
"""
from __future__ import annotations

from voxclean.registry import Registry

EMOTION_MODELS = Registry("emotion model")

NOT_MEASURED = ("Emotion accuracy (seed 003's SER-ACC) is not measured: no offline emotion-recognition model "
                "is installed and the shared data has no emotion-labelled speech. Register one in "
                "voxclean.metrics.downstream.emotion.EMOTION_MODELS to add it.")


def emotion_status() -> str:
    """A sentence for reports: which emotion models are available, or why none is."""
    names = EMOTION_MODELS.names()
    return f"Emotion models available: {', '.join(names)}." if names else NOT_MEASURED
