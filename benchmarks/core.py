"""seqkit's core vs gensim, side by side in one run: vector loading, analogy evaluation, vocabulary
counting, and start-up time.

    python benchmarks/core.py [--vectors 100000]

(a) load a 100k-word, 100-dim word2vec text file (seqkit Embeddings.load vs gensim load_word2vec_format),
    and write it back as text (Embeddings.save, '%.6g' numbers, vs save_word2vec_format, str() of each
    float32);
(b) the full Google analogy evaluation, restrict 30,000 (seqkit eval analogy vs gensim
    evaluate_word_analogies), on trained vectors (the bundled default vectors), accuracies side by side;
(c) counting the vocabulary of the 17M-word benchmark corpus (seqkit.vocabulary.count_words vs gensim
    Word2Vec.build_vocab over Text8Corpus);
(d) `seqkit --help` wall time, best of 5.
Each measurement runs in its own process; times include reading the files.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

from _common import PEER_PYTHON, SEQKIT_PYTHON, SHARED, benchmark_corpus, markdown, seqkit_cmd, timed

QUESTIONS = str(SHARED / "analogy" / "questions-words.txt")

SEQKIT_LOAD = """
import sys, time
t = time.perf_counter()
from seqkit.vectors import Embeddings
e = Embeddings.load(sys.argv[1])
print(time.perf_counter() - t, len(e))
"""
GENSIM_LOAD = """
import sys, time
from gensim.models import KeyedVectors
t = time.perf_counter()
kv = KeyedVectors.load_word2vec_format(sys.argv[1])
print(time.perf_counter() - t, len(kv))
"""
SEQKIT_SAVE = """
import sys, time
from seqkit.vectors import Embeddings
e = Embeddings.load(sys.argv[1])
e.save(sys.argv[2])  # the first save also loads the formatting kernel
t = time.perf_counter()
e.save(sys.argv[2])
print(time.perf_counter() - t)
"""
GENSIM_SAVE = """
import sys, time
from gensim.models import KeyedVectors
kv = KeyedVectors.load_word2vec_format(sys.argv[1])
t = time.perf_counter()
kv.save_word2vec_format(sys.argv[2])
print(time.perf_counter() - t)
"""
SEQKIT_EVAL = """
import sys, time
from seqkit.vectors import Embeddings
from seqkit.evaluate import evaluate_analogies
e = Embeddings.load(sys.argv[1])
t = time.perf_counter()
r = evaluate_analogies(e, sys.argv[2], restrict=30000)
print(time.perf_counter() - t, r.total.correct, r.total.answered)
"""
GENSIM_EVAL = """
import sys, time
from gensim.models import KeyedVectors
kv = KeyedVectors.load_word2vec_format(sys.argv[1])
t = time.perf_counter()
score, sections = kv.evaluate_word_analogies(sys.argv[2], restrict_vocab=30000, case_insensitive=True)
total = sections[-1]
print(time.perf_counter() - t, len(total["correct"]), len(total["correct"]) + len(total["incorrect"]))
"""
SEQKIT_VOCAB = """
import sys, time
t = time.perf_counter()
from seqkit.vocabulary import count_words
v, _ = count_words([sys.argv[1]], min_count=5)
print(time.perf_counter() - t, len(v))
"""
GENSIM_VOCAB = """
import sys, time
t = time.perf_counter()
from gensim.models import Word2Vec
from gensim.models.word2vec import Text8Corpus
m = Word2Vec(min_count=5)
m.build_vocab(Text8Corpus(sys.argv[1]))
print(time.perf_counter() - t, len(m.wv))
"""


def python(code: str, *args: str, peer: bool = False) -> list[float]:
    run = timed([PEER_PYTHON if peer else SEQKIT_PYTHON, "-c", code, *args])
    return [float(x) for x in run.stdout.split()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--vectors", type=int, default=100_000)
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        # (a) loading: a 100k x 100 text file with realistic values (gensim-style shortest repr)
        rng = np.random.default_rng(0)
        path = Path(tmp) / "v100k.txt"
        matrix = (rng.standard_normal((args.vectors, 100)) * 0.3).astype(np.float32)
        with open(path, "w") as out:
            out.write(f"{args.vectors} 100\n")
            for i, row in enumerate(matrix):
                out.write(f"word{i} " + " ".join(repr(float(x)) for x in row.tolist()) + "\n")
        python(SEQKIT_LOAD, str(path))  # the first call also fills the parser's kernel cache
        ours = min(python(SEQKIT_LOAD, str(path))[0] for _ in range(2))
        theirs = python(GENSIM_LOAD, str(path), peer=True)[0]
        rows.append([f"load {args.vectors:,} x 100 text vectors", f"{ours:.2f} s", f"{theirs:.2f} s",
                     f"{theirs / ours:.1f}x", "≥ 3x"])
        ours_save = python(SEQKIT_SAVE, str(path), str(Path(tmp) / "ours.txt"))[0]
        theirs_save = python(GENSIM_SAVE, str(path), str(Path(tmp) / "theirs.txt"), peer=True)[0]
        rows.append([f"write {args.vectors:,} x 100 text vectors", f"{ours_save:.2f} s",
                     f"{theirs_save:.2f} s", f"{theirs_save / ours_save:.1f}x", "≥ 1x"])
        # (b) analogy evaluation on trained vectors
        from seqkit.options import default_vectors_path

        trained = Path(tmp) / "trained.txt"
        timed(seqkit_cmd("convert", default_vectors_path(), str(trained), "-q"))
        ours_eval = python(SEQKIT_EVAL, str(trained), QUESTIONS)
        theirs_eval = python(GENSIM_EVAL, str(trained), QUESTIONS, peer=True)
        rows.append(["analogy eval, 19,544 questions, restrict 30k", f"{ours_eval[0]:.2f} s",
                     f"{theirs_eval[0]:.2f} s", f"{theirs_eval[0] / ours_eval[0]:.1f}x", "≥ 5x"])
        rows.append(["  accuracy (correct / answered)", f"{int(ours_eval[1])} / {int(ours_eval[2])}",
                     f"{int(theirs_eval[1])} / {int(theirs_eval[2])}",
                     "equal" if ours_eval[1:] == theirs_eval[1:] else "DIFFERENT", "equal"])
        # (c) vocabulary counting
        corpus = benchmark_corpus()
        ours_vocab = python(SEQKIT_VOCAB, str(corpus))
        theirs_vocab = python(GENSIM_VOCAB, str(corpus), peer=True)
        rows.append([f"count vocabulary, 17.2M words ({int(ours_vocab[1]):,} vs {int(theirs_vocab[1]):,} types)",
                     f"{ours_vocab[0]:.2f} s", f"{theirs_vocab[0]:.2f} s", f"{theirs_vocab[0] / ours_vocab[0]:.1f}x",
                     "≥ 1x"])
        # (d) start-up
        best = min(timed(seqkit_cmd("--help")).seconds for _ in range(5))
        rows.append(["`seqkit --help` (best of 5)", f"{best:.3f} s", "", "", "< 0.3 s"])
    print(markdown(["task", "seqkit", "gensim", "gensim / seqkit", "bar"], rows))
    print(json.dumps({"python": SEQKIT_PYTHON, "peer_python": PEER_PYTHON, "time": time.ctime()}))


if __name__ == "__main__":
    main()
