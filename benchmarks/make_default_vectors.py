"""Regenerate seqkit's bundled default vectors (seqkit/data/default.skv).

Trains skip-gram with negative sampling (seqkit's defaults: dim 100, window 5, negative 5, sample 1e-3,
min-count 5, 5 epochs) on the standard benchmark corpus -- the first 10^8 bytes of
../shared/data/english/corpus.txt.xz with newlines made spaces (~17.2M words) -- then keeps the most
frequent words, rounds them to 4 significant digits and writes them in seqkit's fast format with float16
values: the file is memory-mapped as it is (a query loads it in milliseconds) and stays within the 10 MB
package-data budget.

    python benchmarks/make_default_vectors.py [--words 33000] [--threads 2]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORPUS_XZ = ROOT.parent / "shared" / "data" / "english" / "corpus.txt.xz"
TARGET = ROOT / "seqkit" / "data" / "default.skv"


def benchmark_corpus(path: Path) -> None:
    """The first 10^8 bytes of the English corpus with newlines turned into spaces."""
    import lzma

    with lzma.open(CORPUS_XZ, "rb") as source, open(path, "wb") as target:
        target.write(source.read(100_000_000).replace(b"\n", b" "))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--words", type=int, default=33000)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--vectors", help="use these trained vectors instead of training")
    args = parser.parse_args()
    from seqkit.vectors import Embeddings

    with tempfile.TemporaryDirectory() as tmp:
        vectors = args.vectors
        if vectors is None:
            corpus = Path(tmp) / "corpus.txt"
            benchmark_corpus(corpus)
            vectors = str(Path(tmp) / "full.bin")
            subprocess.run([sys.executable, "-m", "seqkit", "word2vec", str(corpus), "-o", vectors, "--binary",
                            "--threads", str(args.threads), "--seed", "1"], check=True)
        emb = Embeddings.load(vectors)
    words, matrix = emb.words[: args.words], emb.matrix[: args.words]
    line = " ".join(["%.4g"] * matrix.shape[1]) + "\n"
    text = f"{len(words)} {matrix.shape[1]}\n" + "".join(w + " " + line % tuple(r) for w, r in zip(words, matrix.tolist()))
    with tempfile.TemporaryDirectory() as tmp:  # the 4-digit text is what earlier releases shipped: same values
        rounded = Path(tmp) / "rounded.vec"
        rounded.write_text(text, encoding="utf-8")
        Embeddings.load(str(rounded)).save(str(TARGET), fmt="fast", dtype="float16")
    print(f"wrote {TARGET} ({TARGET.stat().st_size / 1e6:.1f} MB, {len(words):,} words x {matrix.shape[1]})")


if __name__ == "__main__":
    main()
