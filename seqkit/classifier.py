"""The Classifier protocol, shared by `seqkit predict`, `seqkit test` and `seqkit sentence-vectors`.

Every classifier family (the bag-of-n-grams model, a recurrent one, a third-party plugin) is reached
through a registered `ClassifierFormat`, so the commands and their metrics are written once, here and in
`seqkit.commands`, and mean the same thing for every model.
"""

from __future__ import annotations

import os
from typing import Protocol, Sequence, runtime_checkable

import numpy as np

from seqkit.errors import SeqkitError


@runtime_checkable
class Classifier(Protocol):
    """What the classification commands need from a model."""

    labels: Sequence[str]   # every label the model can predict, with its prefix (`__label__x`)
    label_prefix: str       # tokens starting with it are labels, not words

    def predict(self, tokens: Sequence[str], k: int, threshold: float) -> list[tuple[str, float]]:
        """The `k` most probable labels (k <= 0: all) with probability >= `threshold`, most probable first.

        `tokens` are the words of one line, labels removed; the model adds its own end-of-line marker."""
        ...

    def sentence_vector(self, tokens: Sequence[str]) -> np.ndarray:
        """The model's representation of one line (float32), as fastText's `print-sentence-vectors`."""
        ...


@runtime_checkable
class ClassifierFormat(Protocol):
    """A file format a plugin can load as a Classifier."""

    name: str

    def sniff(self, path: str) -> bool:
        """Cheap check of the file's first bytes or metadata (never only its suffix); never raises."""
        ...

    def load(self, path: str) -> Classifier:
        ...


def split_labels(tokens: Sequence[str], prefix: str) -> tuple[list[str], list[str]]:
    """(words, labels) of one line: labels are the tokens starting with `prefix`, wherever they are."""
    words, labels = [], []
    for token in tokens:
        (labels if token.startswith(prefix) else words).append(token)
    return words, labels


def load_classifier(path: str) -> Classifier:
    """Load `path` with the first registered classifier format whose `sniff` accepts it."""
    from seqkit.lm import describe_file
    from seqkit.plugins import load_registry

    if path == "-":
        raise SeqkitError("-m -: a model is read from a file (formats are recognised by their first bytes)")
    if not os.path.exists(path):
        raise SeqkitError(f"{path}: no such file")
    if os.path.isdir(path):
        raise SeqkitError(f"{path}: is a directory, not a model file")
    formats = load_registry().classifiers
    if not formats:
        raise SeqkitError("no classifier formats are installed (check `seqkit plugins`)")
    for fmt in formats:
        if fmt.sniff(path):
            return fmt.load(path)
    names = ", ".join(fmt.name for fmt in formats)
    raise SeqkitError(f"{path}: {describe_file(path)}, not a classifier any installed plugin can read "
                      f"(formats: {names})")
