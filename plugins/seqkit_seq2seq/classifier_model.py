"""The recurrent classifier's model file and the loaded model as a `seqkit.classifier.Classifier`.

The file is seqkit's `.npz` (`seqkit.modelfile`): the parameters under `param/`, and JSON metadata naming
the format, the network's configuration, the words, the labels and the training history. Loading checks
the configuration and every parameter's shape against it before reading.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from seqkit import modelfile
from seqkit.errors import DataError
from seqkit.recurrent.layers import GATES
from seqkit_seq2seq.classifier_network import EOS, POOLINGS, SPECIALS, UNK, Config, Network

FORMAT = "seqkit-birnn-classifier"
VERSION = 1


def save(path: str, config: Config, params: dict[str, np.ndarray], words: list[str], labels: list[str],
         label_prefix: str, training: dict) -> None:
    meta = {"format": FORMAT, "version": VERSION, "config": config.as_dict(), "label_prefix": label_prefix,
            "words": words, "labels": labels, "history": training.get("history", []), "training": training,
            "params": {name: list(value.shape) for name, value in params.items()}}
    modelfile.save(path, meta, {f"param/{name}": np.ascontiguousarray(v, np.float32) for name, v in params.items()})


def sniff(path: str) -> bool:
    return modelfile.sniff(path, FORMAT)


def expected_shapes(config: Config, vocab: int, labels: int) -> dict[str, list[int]]:
    """Every parameter's shape for this configuration (what a file must hold)."""
    E, H, G = config.dim, config.hidden, GATES[config.cell]
    shapes = {"embed": [vocab, E], "Wout": [2 * H, labels], "bout": [labels]}
    for layer in range(config.layers):
        for side in "fb":
            tag = f"enc{layer}{side}"
            shapes.update({f"Wx{tag}": [E if layer == 0 else 2 * H, G * H], f"Wh{tag}": [H, G * H], f"b{tag}": [G * H]})
            if config.cell == "gru":
                shapes[f"bh{tag}"] = [G * H]
    return shapes


def load(path: str) -> tuple[Config, dict[str, np.ndarray], list[str], list[str], str, dict]:
    """(config, params, words, labels, label prefix, metadata), validated."""
    with modelfile.Archive(path, FORMAT, versions=(VERSION,)) as archive:
        meta = archive.meta
        try:
            config = Config(**meta["config"])
            words, labels, prefix = list(meta["words"]), list(meta["labels"]), str(meta["label_prefix"])
        except (KeyError, TypeError, ValueError) as exc:
            raise DataError(f"bad metadata: {exc}", path) from None
        if (config.cell not in GATES or config.pool not in POOLINGS or min(config.layers, config.dim, config.hidden) < 1
                or len(labels) < 2 or words[:len(SPECIALS)] != list(SPECIALS)):
            raise DataError("bad metadata: the configuration, words or labels do not fit together", path)
        shapes = expected_shapes(config, len(words), len(labels))
        if meta.get("params") != shapes:
            raise DataError("the parameters the metadata lists do not fit its configuration", path)
        params = {name: archive.array(f"param/{name}", shape) for name, shape in shapes.items()}
    return config, params, words, labels, prefix, meta


class BiRnnClassifier:
    """A trained model for `seqkit predict`, `test` and `sentence-vectors`, one line at a time."""

    def __init__(self, path: str):
        self.config, self.params, self.words, self.labels, self.label_prefix, self.meta = load(path)
        self.index = {w: i for i, w in enumerate(self.words)}
        self.network: Network | None = None

    def _forward(self, tokens: Sequence[str]) -> Network:
        ids = [self.index.get(t, UNK) for t in tokens] + [EOS]
        if self.network is None or self.network.max_steps < len(ids):
            self.network = Network(self.config, self.params, batch=1, max_steps=max(64, 2 * len(ids)))
        with np.errstate(over="ignore"):
            self.network.forward(np.array(ids, dtype=np.int64)[:, None], np.array([len(ids)]))
        return self.network

    def sentence_vector(self, tokens: Sequence[str]) -> np.ndarray:
        """The pooled representation the output layer reads."""
        return self._forward(tokens).pooled[0].copy()

    def probabilities(self, tokens: Sequence[str]) -> np.ndarray:
        return self._forward(tokens).probabilities()[0]

    def predict(self, tokens: Sequence[str], k: int, threshold: float) -> list[tuple[str, float]]:
        probs = self.probabilities(tokens)
        order = np.argsort(-probs, kind="stable")
        if k > 0:
            order = order[:k]
        return [(self.labels[i], float(probs[i])) for i in order if probs[i] >= threshold]
