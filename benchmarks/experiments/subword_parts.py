"""Subword models taken apart: for each model file (seqkit `.npz` or fastText `.bin`, e.g. the ones
`benchmarks/word2vec.py --modes sg-ns-sub` writes), the mean norm of each part by frequency rank (a word's
own row, the mean of its n-gram rows, the two averaged as the model's word vector, its output row), the
cosine between a word's own row and its n-gram mean, and the Google analogies answered by each part
(in the corpus's frequency order, as the benchmark scores them). Two models trained alike should look
alike here; a part that differs points at where their training differs.

    python benchmarks/experiments/subword_parts.py seqkit-sg-ns-sub.npz fasttext-sg-ns-sub.bin
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _common import benchmark_corpus, markdown  # noqa: E402
from word2vec import corpus_order, evaluate, in_corpus_order  # noqa: E402

RANKS = ((0, 100), (100, 1_000), (1_000, 10_000), (10_000, 30_000), (30_000, None))


def parts(path: str) -> tuple[list[str], dict[str, np.ndarray]]:
    """(the vocabulary, each part's vector per word)."""
    from seqkit.subword import load_vector_model

    model = load_vector_model(path)
    rows = np.asarray(model.input_matrix, dtype=np.float32)
    own = rows[:model.nwords]
    ngram_mean = np.zeros_like(own)
    word_vector = np.zeros_like(own)
    for i, word in enumerate(model.words):
        ngrams = model.ngram_rows(word)
        total = rows[ngrams].sum(axis=0) if ngrams else 0.0
        ngram_mean[i] = total / max(len(ngrams), 1)
        word_vector[i] = (own[i] + total) / (1 + len(ngrams))
    return model.words, {"word vector": word_vector, "own row": own, "n-gram mean": ngram_mean,
                         "output row": np.asarray(model.output_matrix, dtype=np.float32)[:model.nwords]}


def write_vectors(path: Path, words: list[str], vectors: np.ndarray) -> None:
    with open(path, "w", encoding="utf-8") as f:
        f.write(f"{len(words)} {vectors.shape[1]}\n")
        for word, v in zip(words, vectors):
            f.write(word + " " + " ".join(f"{x:.6g}" for x in v) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("models", nargs="+")
    parser.add_argument("--corpus", type=Path, default=None, help="the corpus the models were trained on")
    args = parser.parse_args()
    order, _ = corpus_order(args.corpus or benchmark_corpus())
    norm_rows, analogy_rows = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for path in args.models:
            words, by_part = parts(path)
            for name, vectors in by_part.items():
                norms = np.linalg.norm(vectors, axis=1)
                norm_rows.append([Path(path).name, name, *(f"{norms[lo:hi].mean():.3f}" for lo, hi in RANKS)])
                vec = Path(tmp) / "part.vec"
                write_vectors(vec, words, vectors)
                in_corpus_order(str(vec), order)
                accuracy, rho = evaluate(str(vec))
                analogy_rows.append([Path(path).name, name, f"{accuracy:.2f}", f"{rho:.3f}"])
                print(analogy_rows[-1], file=sys.stderr, flush=True)
            own, ngram_mean = by_part["own row"], by_part["n-gram mean"]
            cos = (own * ngram_mean).sum(1) / (np.linalg.norm(own, axis=1) * np.linalg.norm(ngram_mean, axis=1) + 1e-12)
            norm_rows.append([Path(path).name, "cos(own row, n-gram mean)",
                              *(f"{cos[lo:hi].mean():.3f}" for lo, hi in RANKS)])
    ranks = [f"ranks {lo:,}-{hi:,}" if hi else f"ranks {lo:,}-" for lo, hi in RANKS]
    print(markdown(["model", "part", *ranks], norm_rows))
    print()
    print(markdown(["model", "part", "analogy %", "WS353 rho"], analogy_rows))


if __name__ == "__main__":
    main()
