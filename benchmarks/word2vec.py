"""seqkit word2vec vs gensim vs fastText on the standard benchmark corpus, side by side.

Same settings for every tool: dim 100, window 5, negative 5 (ns) or hierarchical softmax with no
negatives (hs), sample 1e-3, min-count 5, 5 epochs, lr 0.025 (sg) / 0.05 (cbow), 2 threads; fastText
with -minn 0 -maxn 0 (no subwords). All vectors are evaluated by one evaluator (seqkit's, which equals
gensim's evaluate_word_analogies / evaluate_word_pairs): Google analogies restricted to the 30,000 most
frequent words, WordSim-353 Spearman. words/s = corpus words x epochs / wall seconds of the whole run.

The extra mode `sg-ns-batch` is seqkit's `--batch-negatives` (negatives shared across a window, Ji et
al. 2016): seqkit only, its ratio is against the peers' sg-ns rows of the same run.

    python benchmarks/word2vec.py [--modes sg-ns,cbow-ns,sg-hs,cbow-hs,sg-ns-batch] [--epochs 5] [--scaling]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from pathlib import Path

from _common import PEER_PYTHON, SHARED, benchmark_corpus, markdown, seqkit_cmd, timed

GENSIM = """
import sys
from gensim.models import Word2Vec
from gensim.models.word2vec import Text8Corpus
corpus, out, sg, hs, lr, epochs, seed = sys.argv[1:]
m = Word2Vec(Text8Corpus(corpus), vector_size=100, window=5, min_count=5, sample=1e-3, workers=2,
             sg=int(sg), hs=int(hs), negative=0 if int(hs) else 5, alpha=float(lr), epochs=int(epochs),
             seed=int(seed))
m.wv.save_word2vec_format(out)
"""

FASTTEXT = """
import sys
import fasttext
corpus, out, model, loss, lr, epochs, seed = sys.argv[1:]
m = fasttext.train_unsupervised(corpus, model=model, dim=100, ws=5, neg=5, loss=loss, minCount=5,
                                epoch=int(epochs), lr=float(lr), t=1e-3, minn=0, maxn=0, thread=2,
                                verbose=0)  # this fastText build has no seed option
words = m.get_words()
with open(out, "w", encoding="utf-8") as f:
    f.write(f"{len(words)} {m.get_dimension()}\\n")
    for w in words:
        f.write(w + " " + " ".join(f"{x:.6g}" for x in m.get_word_vector(w)) + "\\n")
"""


def evaluate(vectors: str) -> tuple[float, float]:
    analogy = json.loads(timed(seqkit_cmd("eval", "analogy", str(SHARED / "analogy" / "questions-words.txt"),
                                          "-v", vectors, "--json", "-q")).stdout)
    similarity = json.loads(timed(seqkit_cmd("eval", "similarity", str(SHARED / "similarity" / "wordsim353.tsv"),
                                             "-v", vectors, "--json", "-q")).stdout)
    return 100 * analogy["total"]["accuracy"], similarity["spearman"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--modes", default="sg-ns,cbow-ns,sg-hs,cbow-hs,sg-ns-batch")
    parser.add_argument("--tools", default="seqkit,gensim,fasttext")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--scaling", action="store_true",
                        help="also run seqkit sg-ns with 1 thread (and with 2, if --modes has no sg-ns)")
    parser.add_argument("--corpus", default=None)
    args = parser.parse_args()
    corpus = Path(args.corpus) if args.corpus else benchmark_corpus()
    words = len(corpus.read_bytes().split())
    tools = args.tools.split(",")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        compile_run = None
        if "seqkit" in tools:  # first-run JIT compilation, measured with an empty kernel cache
            tiny = Path(tmp) / "tiny.txt"
            tiny.write_text(" ".join(corpus.read_text()[:200000].split()[:20000]))
            cold = timed(seqkit_cmd("word2vec", str(tiny), "-o", str(Path(tmp) / "t.vec"), "-q", "--epochs", "1"),
                         env={"NUMBA_CACHE_DIR": str(Path(tmp) / "numba-cold")})
            warm = timed(seqkit_cmd("word2vec", str(tiny), "-o", str(Path(tmp) / "t.vec"), "-q", "--epochs", "1"),
                         env={"NUMBA_CACHE_DIR": str(Path(tmp) / "numba-cold")})
            compile_run = (cold.seconds, warm.seconds)
        peer_speed: dict[str, float] = {}
        for mode in args.modes.split(","):
            model, loss, *variant = mode.split("-")
            batch = variant == ["batch"]
            lr = "0.025" if model == "sg" else "0.05"
            results = {}
            for tool in (["seqkit"] if batch else tools):
                out = str(Path(tmp) / f"{tool}-{mode}.vec")
                if tool == "seqkit":
                    cmd = seqkit_cmd("word2vec", str(corpus), "-o", out, "--model", model, "--loss", loss,
                                     "--epochs", str(args.epochs), "--threads", "2", "--seed", str(args.seed),
                                     "-q", *(["--batch-negatives"] if batch else []))
                elif tool == "gensim":
                    cmd = [PEER_PYTHON, "-c", GENSIM, str(corpus), out, str(int(model == "sg")),
                           str(int(loss == "hs")), lr, str(args.epochs), str(args.seed)]
                else:
                    cmd = [PEER_PYTHON, "-c", FASTTEXT, str(corpus), out, "skipgram" if model == "sg" else "cbow",
                           loss, lr, str(args.epochs), str(args.seed)]
                run = timed(cmd)
                acc, rho = evaluate(out)
                results[tool] = (run, acc, rho)
                print(f"{mode} {tool}: {run.seconds:.1f} s, {words * args.epochs / run.seconds:,.0f} words/s, "
                      f"{run.peak_mib:.0f} MiB, analogy {acc:.2f}%, spearman {rho:.3f}", flush=True)
                os.remove(out)
            peers = [words * args.epochs / results[t][0].seconds for t in results if t != "seqkit"]
            if peers:
                peer_speed[mode] = max(peers)
            elif f"{model}-{loss}" in peer_speed:
                peers = [peer_speed[f"{model}-{loss}"]]
            for tool, (run, acc, rho) in results.items():
                speed = words * args.epochs / run.seconds
                ratio = speed / max(peers) if tool == "seqkit" and peers else ""
                name = tool + (" --batch-negatives" if batch else "")
                rows.append([mode, name, run.seconds, speed, run.peak_mib, acc, rho, ratio])
        if args.scaling and "seqkit" in tools:
            out = str(Path(tmp) / "scaling.vec")
            two = next((r for r in rows if r[0] == "sg-ns" and r[1] == "seqkit"), None)
            if two is None:
                run = timed(seqkit_cmd("word2vec", str(corpus), "-o", out, "--epochs", str(args.epochs),
                                       "--threads", "2", "--seed", str(args.seed), "-q"))
                acc, rho = evaluate(out)
                speed = words * args.epochs / run.seconds
                two = ["sg-ns", "seqkit", run.seconds, speed, run.peak_mib, acc, rho, ""]
                rows.append(two)
            one = timed(seqkit_cmd("word2vec", str(corpus), "-o", out, "--epochs", str(args.epochs),
                                   "--threads", "1", "--seed", str(args.seed), "-q"))
            acc, rho = evaluate(out)
            speed = words * args.epochs / one.seconds
            print(f"sg-ns seqkit 1 thread: {one.seconds:.1f} s, {speed:,.0f} words/s", flush=True)
            rows.append(["sg-ns", "seqkit 1 thread", one.seconds, speed, one.peak_mib, acc, rho,
                         f"2 threads = {two[3] / speed:.2f}x"])
    print(f"\ncorpus: {corpus} ({words:,} words), {args.epochs} epochs, 2 threads, seed {args.seed}")
    if compile_run:
        print(f"seqkit first run with an empty Numba cache: {compile_run[0]:.1f} s; same run cached: "
              f"{compile_run[1]:.1f} s (compile cost ~{compile_run[0] - compile_run[1]:.1f} s, paid once)")
    print(markdown(["mode", "tool", "wall s", "words/s", "peak MiB", "analogy %", "WS353 rho",
                    "seqkit / fastest peer"], rows))


if __name__ == "__main__":
    main()
