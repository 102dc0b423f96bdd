"""fastText's skip-gram with character n-grams at a given thread count, scored as `benchmarks/word2vec.py`
scores every tool (the sg-ns-sub settings: dim 100, window 5, 5 negatives, t 1e-3, minn 3, maxn 6,
2M buckets, lr 0.05, 5 epochs).

fastText's quality depends on its thread count (its threads read the corpus from different offsets, its
updates race, and `DenseMatrix::uniform` randomises one tenth of the input matrix per thread), so the
sg-ns-sub comparison needs its one-thread figure beside the two-thread one:

    PEER_PYTHON=/path/to/python-with-fasttext python benchmarks/experiments/fasttext_threads.py --threads 1
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _common import PEER_PYTHON, benchmark_corpus  # noqa: E402
from word2vec import SUBWORD_LR, corpus_order, evaluate, in_corpus_order  # noqa: E402

TRAIN = """
import sys
import fasttext
corpus, vec, threads, lr, epochs = sys.argv[1:]
m = fasttext.train_unsupervised(corpus, model="skipgram", dim=100, ws=5, neg=5, loss="ns", minCount=5,
                                epoch=int(epochs), lr=float(lr), t=1e-3, minn=3, maxn=6, bucket=2000000,
                                thread=int(threads), verbose=0)
with open(vec, "w", encoding="utf-8") as f:
    words = m.get_words()
    f.write(f"{len(words)} {m.get_dimension()}\\n")
    for w in words:
        f.write(w + " " + " ".join(f"{x:.6g}" for x in m.get_word_vector(w)) + "\\n")
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--corpus", type=Path, default=None)
    args = parser.parse_args()
    corpus = args.corpus or benchmark_corpus()
    order, _ = corpus_order(corpus)
    with tempfile.TemporaryDirectory() as tmp:
        vec = str(Path(tmp) / "ft.vec")
        began = time.perf_counter()
        subprocess.run([PEER_PYTHON, "-c", TRAIN, str(corpus), vec, str(args.threads), SUBWORD_LR, str(args.epochs)],
                       check=True)
        seconds = time.perf_counter() - began
        in_corpus_order(vec, order)
        analogy, rho = evaluate(vec)
    print(f"fastText sg-ns-sub, {args.threads} thread(s), {args.epochs} epochs: {seconds:.0f} s, "
          f"analogy {analogy:.2f} %, WS353 rho {rho:.3f}")


if __name__ == "__main__":
    main()
