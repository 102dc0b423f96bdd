"""`seqkit plot vectors` on the 10,000 most frequent words of the bundled vectors: openTSNE (what seqkit
uses) against scikit-learn's TSNE on the same unit-length rows, PCA, and the whole command.

Each t-SNE is timed in its own process (wall and CPU seconds, peak memory); the quality column is
scikit-learn's trustworthiness (10 neighbours, cosine) on a fixed 2,000-word sample of the map.
Run: `python benchmarks/plot.py [--words 10000] [--threads 2] [--skip-sklearn]`.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import SEQKIT_PYTHON, markdown, seqkit_cmd, timed  # noqa: E402

# one method in a fresh interpreter: its time includes its imports, as a user's run would
WORKER = r"""
import json, sys, time
import numpy as np
from seqkit.options import default_vectors_path
from seqkit.vectors import Embeddings
words, threads, method, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
x = Embeddings.load(default_vectors_path(), limit=words).matrix[:words].astype(np.float64)
x /= np.linalg.norm(x, axis=1, keepdims=True)
start = time.perf_counter()
if method == "openTSNE":
    from seqkit_plot.project import tsne
    y = tsne(x, seed=1, threads=threads)
elif method == "sklearn":
    from sklearn.manifold import TSNE
    y = TSNE(n_components=2, perplexity=30, metric="cosine", init="pca", random_state=1, n_jobs=threads).fit_transform(x)
else:
    from seqkit_plot.project import pca
    y = pca(x)[0]
seconds = time.perf_counter() - start
from sklearn.manifold import trustworthiness
sample = np.random.default_rng(0).choice(words, size=min(2000, words), replace=False)
score = trustworthiness(x[sample], y[sample], n_neighbors=10, metric="cosine")
json.dump({"fit_seconds": seconds, "trustworthiness": score}, open(out, "w"))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--words", type=int, default=10000)
    parser.add_argument("--threads", type=int, default=min(2, os.cpu_count() or 1))
    parser.add_argument("--skip-sklearn", action="store_true", help="scikit-learn's TSNE takes minutes")
    args = parser.parse_args()
    methods = ["pca", "openTSNE"] + ([] if args.skip_sklearn else ["sklearn"])
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for method in methods:
            out = os.path.join(tmp, f"{method}.json")
            run = timed([SEQKIT_PYTHON, "-c", WORKER, str(args.words), str(args.threads), method, out])
            result = json.load(open(out))
            name = {"pca": "PCA (NumPy SVD)", "openTSNE": "t-SNE, openTSNE (seqkit)",
                    "sklearn": "t-SNE, scikit-learn TSNE"}[method]
            rows.append([name, f"{result['fit_seconds']:.1f}", f"{run.seconds:.1f}", f"{run.cores_busy:.1f}",
                         f"{run.peak_mib:,.0f}", f"{result['trustworthiness']:.3f}"])
        for method in ("tsne", "pca"):
            image = os.path.join(tmp, f"map-{method}.png")
            run = timed(seqkit_cmd("plot", "vectors", "--top", str(args.words), "--method", method,
                                   "-t", str(args.threads), "-o", image, "-q"))
            if not os.path.exists(image):
                raise SystemExit(f"seqkit plot failed: {run.stderr.strip()}")
            rows.append([f"`seqkit plot vectors --top {args.words} --method {method} -o map.png`", "",
                         f"{run.seconds:.1f}", f"{run.cores_busy:.1f}", f"{run.peak_mib:,.0f}",
                         f"{os.path.getsize(image) / 1024:,.0f} KB png"])
    print(f"Maps of the {args.words:,} most frequent words of the bundled vectors (dim 100), "
          f"{args.threads} threads, seed 1:\n")
    print(markdown(["what", "fit s", "wall s (process)", "cores busy", "peak MiB", "trustworthiness / output"],
                   rows))


if __name__ == "__main__":
    main()
