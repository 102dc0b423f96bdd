"""fastText's skip-gram with character n-grams at a given thread count, trained and scored as
`benchmarks/word2vec.py --modes sg-ns-sub` trains and scores it (there always with 2 threads).

fastText's quality depends on its thread count (its threads read the corpus from different offsets, its
updates race, and `DenseMatrix::uniform` randomises one tenth of the input matrix per thread), so the
sg-ns-sub comparison needs its one-thread figure beside the two-thread one:

    PEER_PYTHON=/path/to/python-with-fasttext python benchmarks/experiments/fasttext_threads.py --threads 1
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _common import PEER_PYTHON, benchmark_corpus, timed  # noqa: E402
from word2vec import FASTTEXT_SUB, SUBWORD_LR, corpus_order, evaluate, in_corpus_order  # noqa: E402


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
        run = timed([PEER_PYTHON, "-c", FASTTEXT_SUB, str(corpus), vec, str(Path(tmp) / "ft.bin"), "skipgram", "ns",
                     SUBWORD_LR, str(args.epochs), "5", str(args.threads)])
        in_corpus_order(vec, order)
        analogy, rho = evaluate(vec)
    print(f"fastText sg-ns-sub, {args.threads} thread(s), {args.epochs} epochs: {run.seconds:.0f} s, "
          f"analogy {analogy:.2f} %, WS353 rho {rho:.3f}")


if __name__ == "__main__":
    main()
