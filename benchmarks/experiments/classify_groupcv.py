"""What autotune's refit sees on SST-2: 3-fold cross-validation over the autotune split's training and
validation lines, with folds that split a sentence from its phrases (plain) and with folds that keep
them together (grouped, as the refit does), against dev accuracy when trained on all of those lines.
One thread per run, one row per configuration and seed. Prints a markdown table.

    python benchmarks/experiments/classify_groupcv.py [--seeds 1,2]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _common import markdown  # noqa: E402
from classify import DATA, held_out  # noqa: E402

CONFIGS = [  # (name, lr, pooling, loss, epochs); 14 epochs is seqkit's default on these lines
    ("default (mean, lr 0.5)", 0.5, "mean", "softmax", 14),
    ("default, 5 epochs", 0.5, "mean", "softmax", 5),
    ("mean, lr 0.1", 0.1, "mean", "softmax", 14),
    ("sqrt, lr 0.05", 0.05, "sqrt", "softmax", 14),
    ("sqrt, lr 0.02", 0.02, "sqrt", "softmax", 14),
    ("sqrt, lr 0.01", 0.01, "sqrt", "softmax", 14),
    ("sqrt, lr 0.01, 5 epochs", 0.01, "sqrt", "softmax", 5),
    ("ns, lr 0.063, 6 epochs", 0.063, "mean", "ns", 6),
]


def main() -> None:
    from seqkit_classify.data import build_dictionary, featurise, join_lines, read_lines, take_examples
    from seqkit_classify.refit import FOLDS, Refit, folds
    from seqkit_classify.scoring import Validation, parse_metric, top_k
    from seqkit_classify.search import Params
    from seqkit_classify.train import Config

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="1,2")
    seeds = [int(s) for s in parser.parse_args().seeds.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        fit, valid = held_out(DATA / "sst2" / "train.txt", Path(tmp))
        union = join_lines(read_lines([str(fit)], "__label__"), read_lines([str(valid)], "__label__"))
    dictionary = build_dictionary(union)
    dev = read_lines([str(DATA / "sst2" / "dev.txt")], "__label__")

    def accuracy(weights, examples, pooling: str) -> np.ndarray:
        scored = Validation(examples, weights.bucket_ids, len(dictionary.words))
        top = top_k(scored.scores(weights.input, weights.output, None, pooling), 1)[:, 0]
        return top == examples.labels[examples.label_offsets[:-1]]

    rows = []
    for name, lr, pooling, loss, epochs in CONFIGS:
        p = Params(lr=lr, dim=100, word_ngrams=2, buckets=2_000_000, loss=loss, pooling=pooling)
        row: dict[str, list[str]] = {"plain CV": [], "grouped CV": [], "dev": []}
        for seed in seeds:
            refit = Refit(union, dictionary, parse_metric("f1", dictionary.labels, "__label__"),
                          np.ones(len(dictionary.labels)), Config(threads=1, seed=seed), "__label__")
            examples = refit.examples(p)
            for key, fold in (("plain CV", folds(examples, FOLDS)),
                              ("grouped CV", folds(examples, FOLDS, refit.groups(examples)))):
                right = np.zeros(len(examples), dtype=bool)
                for k in range(FOLDS):
                    weights = refit.fit(p, epochs, fold != k)
                    right[fold == k] = accuracy(weights, take_examples(examples, fold == k), pooling)
                row[key].append(f"{right.mean():.4f}")
            on_dev = accuracy(refit.fit(p, epochs), featurise(dev, refit.settings(p), dictionary), pooling)
            row["dev"].append(f"{on_dev.mean():.4f}")
        rows.append([name, epochs, *(" ".join(row[key]) for key in ("plain CV", "grouped CV", "dev"))])
        print(rows[-1], file=sys.stderr, flush=True)
    print(markdown(["configuration", "epochs", "plain CV", "grouped CV", "dev"], rows))


if __name__ == "__main__":
    main()
