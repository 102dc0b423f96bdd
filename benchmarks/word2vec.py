"""seqkit word2vec vs gensim vs fastText on the standard benchmark corpus, side by side.

Same settings for every tool: dim 100, window 5, negative 5 (ns) or hierarchical softmax with no
negatives (hs), sample 1e-3, min-count 5, 5 epochs, lr 0.025 (sg) / 0.05 (cbow), 2 threads; fastText
with -minn 0 -maxn 0 (no subwords). All vectors are evaluated by one evaluator (seqkit's, which equals
gensim's evaluate_word_analogies / evaluate_word_pairs): Google analogies restricted to the 30,000 most
frequent words, WordSim-353 Spearman. words/s = corpus words x epochs / wall seconds of the whole run.
The 30,000 most frequent words are the corpus's, the same for every tool: each tool sorts equal-count words
its own way (gensim by an unstable argsort, fastText by std::sort), so before evaluation every file is put
in one order (count descending, ties by first occurrence in the corpus); otherwise the tools would be
scored on different question sets (12,786 vs 12,626 questions for seqkit's and gensim's own orders).

Extra modes are seqkit only, their ratio against the peers' rows of the base mode in the same run:
`sg-ns-batch` is `--batch-negatives` (negatives shared across a window, Ji et al. 2016); `cbow-ns-p75`
is `--ns-exponent 0.75`, word2vec.c's and gensim's noise distribution (cbow's default is fastText's 0.5;
this row is the like-for-like comparison with gensim). With several --seeds every figure is the mean
over them (fastText's Python module takes no seed: its runs differ by thread timing only).

Subword modes (`sg-ns-sub`, `cbow-ns-sub`, `sg-hs-sub`, `cbow-hs-sub`) train with character n-grams:
seqkit `--minn 3 --maxn 6 --buckets 2000000`, fastText `minn=3, maxn=6, bucket=2000000`, gensim's
FastText `min_n=3, max_n=6, bucket=2000000`, each also writing its model (.npz / .bin) in the timed run;
lr 0.05 for every tool (fastText's default, and seqkit's with n-grams). WS353 is given both ways: pairs
with an unknown word dropped (`WS353 rho`), and every pair scored, unknown words given their n-gram
vectors from the model file (`WS353 rho, subwords`; `seqkit eval similarity -m MODEL`). Mode `sg-ns-rare`
is the rare-word check: sg-ns with the vocabulary cut to --rare-min-count (20) words, seqkit's subword
model and fastText's against plain seqkit word2vec, which has no vector for an unseen word: its
`WS353 rho, subwords` scores every pair, a pair with an unknown word at similarity 0 (the null-vector
convention of Bojanowski et al.'s "sisg-").

    python benchmarks/word2vec.py [--modes sg-ns,cbow-ns,sg-hs,cbow-hs,sg-ns-batch,cbow-ns-p75]
                                  [--seeds 1,2] [--epochs 5] [--scaling [--scaling-epochs N]] [--corpus PATH]
    python benchmarks/word2vec.py --modes sg-ns-sub,cbow-ns-sub,sg-hs-sub,cbow-hs-sub,sg-ns-rare
"""

from __future__ import annotations

import argparse
import json
import os
import re
import tempfile
from collections import Counter
from pathlib import Path
from statistics import mean, median, stdev

from _common import PEER_PYTHON, SHARED, benchmark_corpus, markdown, seqkit_cmd, timed, timed_together

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

GENSIM_TRAIN_PHASE = """
import sys, time
from gensim.models import Word2Vec
from gensim.models.word2vec import Text8Corpus
corpus, out, threads, seed, epochs = sys.argv[1:]
m = Word2Vec(vector_size=100, window=5, min_count=5, sample=1e-3, workers=int(threads), sg=1, negative=5,
             alpha=0.025, seed=int(seed), epochs=int(epochs))
m.build_vocab(Text8Corpus(corpus))
started = time.perf_counter()
m.train(Text8Corpus(corpus), total_examples=m.corpus_count, epochs=int(epochs))
print(time.perf_counter() - started)  # the training phase; the whole run is the process's wall time
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


FASTTEXT_SUB = """
import sys
import fasttext
corpus, vec, model_path, model, loss, lr, epochs, min_count, threads = sys.argv[1:]
m = fasttext.train_unsupervised(corpus, model=model, dim=100, ws=5, neg=5, loss=loss, minCount=int(min_count),
                                epoch=int(epochs), lr=float(lr), t=1e-3, minn=3, maxn=6, bucket=2000000,
                                thread=int(threads), verbose=0)
m.save_model(model_path)
words = m.get_words()
with open(vec, "w", encoding="utf-8") as f:
    f.write(f"{len(words)} {m.get_dimension()}\\n")
    for w in words:
        f.write(w + " " + " ".join(f"{x:.6g}" for x in m.get_word_vector(w)) + "\\n")
"""

GENSIM_SUB = """
import sys
from gensim.models import FastText
from gensim.models.fasttext import save_facebook_model
from gensim.models.word2vec import Text8Corpus
corpus, vec, model_path, sg, hs, lr, epochs, seed, min_count = sys.argv[1:]
m = FastText(Text8Corpus(corpus), vector_size=100, window=5, min_count=int(min_count), sample=1e-3, workers=2,
             sg=int(sg), hs=int(hs), negative=0 if int(hs) else 5, alpha=float(lr), epochs=int(epochs),
             seed=int(seed), min_n=3, max_n=6, bucket=2000000)
save_facebook_model(m, model_path)
m.wv.save_word2vec_format(vec)
"""

SUBWORD_LR = "0.05"  # fastText's default for sg and cbow alike, and seqkit's with --minn/--maxn


VARIANTS = {  # seqkit-only rows: extra options, compared with the peers' rows of the base mode
    "batch": ["--batch-negatives"],  # Ji et al. shared negatives (sg-ns only)
    "p75": ["--ns-exponent", "0.75"],  # word2vec.c's and gensim's noise for cbow (its default is 0.5)
}


def corpus_order(corpus: Path) -> tuple[dict[str, int], int]:
    """(word -> rank in the corpus, count descending with ties by first occurrence; the corpus's tokens)."""
    counts = Counter(corpus.read_bytes().split())
    ranked = sorted(counts.items(), key=lambda item: -item[1])  # stable: Counter keeps first-seen order
    return {word.decode("utf-8"): rank for rank, (word, _) in enumerate(ranked)}, sum(counts.values())


def in_corpus_order(vectors: str, order: dict[str, int]) -> None:
    """Rewrite a text vectors file with its rows in the corpus's frequency order (header kept)."""
    with open(vectors, encoding="utf-8") as f:
        header, *rows = f.read().splitlines(keepends=True)
    last = len(order)
    rows.sort(key=lambda row: order.get(row.split(" ", 1)[0], last))
    with open(vectors, "w", encoding="utf-8") as f:
        f.write(header)
        f.writelines(rows)


def evaluate(vectors: str) -> tuple[float, float]:
    analogy = json.loads(timed(seqkit_cmd("eval", "analogy", str(SHARED / "analogy" / "questions-words.txt"),
                                          "-v", vectors, "--json", "-q")).stdout)
    similarity = json.loads(timed(seqkit_cmd("eval", "similarity", str(SHARED / "similarity" / "wordsim353.tsv"),
                                             "-v", vectors, "--json", "-q")).stdout)
    return 100 * analogy["total"]["accuracy"], similarity["spearman"]


def null_vector_rho(vectors: str) -> float:
    """WordSim-353 Spearman over every pair, a pair with a word the vectors lack scored 0 (the null-vector
    convention of Bojanowski et al.'s "sisg-"; gensim's `dummy4unknown`), for a model that has no vector
    for unseen words: seqkit's evaluation with a zero vector for every unknown word."""
    import numpy as np

    from seqkit.evaluate import evaluate_similarity
    from seqkit.vectors import Embeddings

    embeddings = Embeddings.load(vectors)
    zero = np.zeros(embeddings.unit.shape[1], dtype=np.float32)
    return evaluate_similarity(embeddings, str(SHARED / "similarity" / "wordsim353.tsv"),
                               subwords=lambda word: zero).spearman


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--modes", default="sg-ns,cbow-ns,sg-hs,cbow-hs,sg-ns-batch,cbow-ns-p75")
    parser.add_argument("--tools", default="seqkit,gensim,fasttext")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--seeds", default="1", help="comma list; quality is averaged over the seeds")
    parser.add_argument("--once", default="", help="tools run for the first seed only (e.g. fasttext, which "
                                                   "takes no seed)")
    parser.add_argument("--scaling", action="store_true",
                        help="also time seqkit's and gensim's sg-ns with 1 and with 2 threads")
    parser.add_argument("--scaling-epochs", type=int, default=None,
                        help="epochs of the scaling runs (default: --epochs, the judged configuration)")
    parser.add_argument("--scaling-repeats", type=int, default=2,
                        help="pairs of adjacent 1- and 2-thread runs (each with a host-ceiling run: two "
                             "1-thread runs at once); this host's speed drifts by 10-30%% between runs")
    parser.add_argument("--corpus", default=None, help="another corpus (e.g. a 1M-word head for a quick check)")
    parser.add_argument("--rare-min-count", type=int, default=20, help="the vocabulary cut of mode sg-ns-rare")
    args = parser.parse_args()
    corpus = Path(args.corpus) if args.corpus else benchmark_corpus()
    order, words = corpus_order(corpus)
    tools = args.tools.split(",")
    seeds = [int(s) for s in args.seeds.split(",")]
    rows, spreads, sub_rows = [], [], []
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
            for extra in ([], ["--batch-negatives"], ["--minn", "3", "--maxn", "6", "--buckets", "1000"]):
                # and fill the default cache: no timed run compiles
                timed(seqkit_cmd("word2vec", str(tiny), "-o", str(Path(tmp) / "t.vec"), "-q", "--epochs", "1",
                                 *extra))
        peer_speed: dict[str, float] = {}
        for mode in filter(None, args.modes.split(",")):
            model, loss, *variant = mode.split("-")
            if variant and variant[0] in ("sub", "rare"):
                sub_rows.extend(subword_mode(mode, tools, seeds, args, corpus, order, words, Path(tmp)))
                continue
            extra = VARIANTS[variant[0]] if variant else []
            lr = "0.025" if model == "sg" else "0.05"
            results: dict[str, list] = {}
            for tool in (["seqkit"] if variant else tools):
                for seed in seeds[:1] if tool in args.once.split(",") else seeds:
                    out = str(Path(tmp) / f"{tool}-{mode}.vec")
                    if tool == "seqkit":
                        cmd = seqkit_cmd("word2vec", str(corpus), "-o", out, "--model", model, "--loss", loss,
                                         "--epochs", str(args.epochs), "--threads", "2", "--seed", str(seed),
                                         "-q", *extra)
                    elif tool == "gensim":
                        cmd = [PEER_PYTHON, "-c", GENSIM, str(corpus), out, str(int(model == "sg")),
                               str(int(loss == "hs")), lr, str(args.epochs), str(seed)]
                    else:
                        cmd = [PEER_PYTHON, "-c", FASTTEXT, str(corpus), out,
                               "skipgram" if model == "sg" else "cbow", loss, lr, str(args.epochs), str(seed)]
                    run = timed(cmd)
                    in_corpus_order(out, order)
                    acc, rho = evaluate(out)
                    results.setdefault(tool, []).append((run, acc, rho))
                    print(f"{mode} {tool} seed {seed}: {run.seconds:.1f} s, {words * args.epochs / run.seconds:,.0f} "
                          f"words/s, {run.peak_mib:.0f} MiB, analogy {acc:.2f}%, spearman {rho:.3f}", flush=True)
                    os.remove(out)
            summary = {tool: _mean_run(runs, words * args.epochs) for tool, runs in results.items()}
            if spread := ws353_spread(mode, {tool: [r[2] for r in runs] for tool, runs in results.items()}):
                spreads.append(spread)
            peers = [summary[t][1] for t in summary if t != "seqkit"]
            if peers:
                peer_speed[mode] = max(peers)
            elif f"{model}-{loss}" in peer_speed:
                peers = [peer_speed[f"{model}-{loss}"]]
            for tool, (seconds, speed, peak, acc, rho) in summary.items():
                ratio = speed / max(peers) if tool == "seqkit" and peers else ""
                name = tool + (" " + " ".join(extra) if variant else "")
                rows.append([mode, name, seconds, speed, peak, acc, f"{rho:.3f}", ratio])  # 0.02 bars need 3 places
        if args.scaling:
            scaling = [line for tool in tools if tool in ("seqkit", "gensim")
                       for line in scaling_report(tool, corpus, words, args.scaling_epochs or args.epochs,
                                                  args.scaling_repeats, seeds[0], Path(tmp))]
    once = f"; {args.once}: one run" if args.once else ""
    print(f"\ncorpus: {corpus} ({words:,} words), {args.epochs} epochs, 2 threads, seeds {args.seeds}{once} "
          f"(figures are means over the runs)")
    if compile_run:
        print(f"seqkit first run with an empty Numba cache: {compile_run[0]:.1f} s; same run cached: "
              f"{compile_run[1]:.1f} s (compile cost ~{compile_run[0] - compile_run[1]:.1f} s, paid once)")
    if args.scaling:
        print("\n".join(scaling))
    if rows:
        print(markdown(["mode", "tool", "wall s", "words/s", "peak MiB", "analogy %", "WS353 rho",
                        "seqkit / fastest peer"], rows))
    if sub_rows:
        print("\n" + markdown(["mode", "tool", "min count", "wall s", "words/s", "peak MiB", "analogy %",
                               "WS353 unknown %", "WS353 rho", "WS353 rho, subwords", "seqkit / fastest peer",
                               "peak / fastText's"], sub_rows))
    if spreads:
        print("\n" + "\n".join(spreads))


def subword_mode(mode: str, tools: list[str], seeds: list[int], args, corpus: Path, order: dict[str, int],
                 words: int, tmp: Path) -> list[list]:
    """The rows of one subword mode (`sg-ns-sub`...) or of the rare-word check (`sg-ns-rare`)."""
    model, loss, variant = mode.split("-")
    min_count = args.rare_min_count if variant == "rare" else 5
    runs: dict[str, list] = {}
    names = {"seqkit": "seqkit --minn 3 --maxn 6", "fasttext": "fastText minn 3 maxn 6",
             "gensim": "gensim FastText", "plain": "seqkit word2vec (no subwords)"}
    tool_list = [t for t in tools if t in ("seqkit", "fasttext")] + ["plain"] if variant == "rare" else tools
    for tool in tool_list:
        for seed in seeds[:1] if tool in args.once.split(",") or tool == "fasttext" else seeds:
            vec, model_path = str(tmp / f"{tool}-{mode}.vec"), str(tmp / f"{tool}-{mode}.{'npz' if tool == 'seqkit' else 'bin'}")
            common = ["--model", model, "--loss", loss, "--epochs", str(args.epochs), "--threads", "2", "--seed",
                      str(seed), "--min-count", str(min_count), "-q"]
            if tool == "seqkit":
                cmd = seqkit_cmd("word2vec", str(corpus), "-o", vec, "--save-model", model_path, "--minn", "3",
                                 "--maxn", "6", "--buckets", "2000000", *common)
            elif tool == "plain":
                cmd, model_path = seqkit_cmd("word2vec", str(corpus), "-o", vec, *common), None
            elif tool == "gensim":
                cmd = [PEER_PYTHON, "-c", GENSIM_SUB, str(corpus), vec, model_path, str(int(model == "sg")),
                       str(int(loss == "hs")), SUBWORD_LR, str(args.epochs), str(seed), str(min_count)]
            else:
                cmd = [PEER_PYTHON, "-c", FASTTEXT_SUB, str(corpus), vec, model_path,
                       "skipgram" if model == "sg" else "cbow", loss, SUBWORD_LR, str(args.epochs), str(min_count), "2"]
            run = timed(cmd)
            in_corpus_order(vec, order)
            acc, _ = evaluate(vec)
            similarity = json.loads(timed(seqkit_cmd(
                "eval", "similarity", str(SHARED / "similarity" / "wordsim353.tsv"), "--json", "-q",
                *(["-m", model_path] if model_path else ["-v", vec]))).stdout)
            rho, unknown = similarity["spearman"], similarity["oov_ratio"]
            sub_rho = similarity["subword"]["spearman"] if model_path else null_vector_rho(vec)
            runs.setdefault(tool, []).append((run, acc, rho, sub_rho, unknown))
            print(f"{mode} {tool} seed {seed}: {run.seconds:.1f} s, {words * args.epochs / run.seconds:,.0f} words/s, "
                  f"{run.peak_mib:.0f} MiB, analogy {acc:.2f}%, WS353 {rho:.3f} ({unknown:.1f}% pairs unknown), "
                  f"with subwords {sub_rho:.3f}", flush=True)
            for path in (vec, model_path):
                if path and os.path.exists(path):
                    os.remove(path)
    work = words * args.epochs
    summary = {tool: (mean(r[0].seconds for r in rs), work / mean(r[0].seconds for r in rs),
                      max(r[0].peak_mib for r in rs), *(mean(r[i] for r in rs) for i in (1, 4, 2, 3)))
               for tool, rs in runs.items()}
    peers = [summary[t][1] for t in summary if t in ("fasttext", "gensim")]
    rows = []
    for tool, (seconds, speed, peak, acc, unknown, rho, sub_rho) in summary.items():
        ratio = speed / max(peers) if tool == "seqkit" and peers else ""
        peak_ratio = peak / summary["fasttext"][2] if tool == "seqkit" and "fasttext" in summary else ""
        rows.append([mode, names[tool], min_count, seconds, speed, peak, acc, f"{unknown:.1f}", f"{rho:.3f}",
                     f"{sub_rho:.3f}" + (" (unknown = 0)" if tool == "plain" else ""), ratio, peak_ratio])
    return rows


def scaling_command(tool: str, corpus: Path, out: str, threads: int, seed: int, epochs: int) -> list[str]:
    """One sg-ns training run of the scaling measurement (default settings, `threads` threads)."""
    if tool == "seqkit":
        return seqkit_cmd("word2vec", str(corpus), "-o", out, "--epochs", str(epochs), "--threads", str(threads),
                          "--seed", str(seed))
    return [PEER_PYTHON, "-c", GENSIM_TRAIN_PHASE, str(corpus), out, str(threads), str(seed), str(epochs)]


def training_seconds(tool: str, run) -> float:
    """The training phase alone: the counting, encoding and saving around it are serial."""
    if tool == "seqkit":
        return float(re.search(r"epochs in ([0-9.]+) s", run.stderr).group(1))
    return float(run.stdout.split()[-1])


def scaling_report(tool: str, corpus: Path, words: int, epochs: int, repeats: int, seed: int,
                   tmp: Path) -> list[str]:
    """Speed with 2 threads over speed with 1 thread, measured in adjacent pairs, plus the host's ceiling.

    This host's speed drifts by 10-30 % between runs, and for spells of seconds to minutes two threads
    that share weights get little more than one thread's speed (two runs with private weights at the
    same moments do not), so the 1- and 2-thread runs come in adjacent pairs, in alternating order, and
    the ratio is reported per pair and as the median over pairs as well as the ratio of mean speeds.
    The ceiling is what the machine gives this workload with no shared weights: two independent
    1-thread runs of the same tool at once, their summed speed over the 1-thread run's. A Hogwild run
    should not beat it (bar noise); the gap between the two is what sharing the weights costs.
    """
    work = words * epochs
    pairs, ceilings = [], []
    for repeat in range(repeats):
        order = (1, 2) if repeat % 2 == 0 else (2, 1)  # alternated, so a steady drift favours neither side
        alone = {t: timed(scaling_command(tool, corpus, str(tmp / f"s{t}.vec"), t, seed, epochs)) for t in order}
        both = timed_together([scaling_command(tool, corpus, str(tmp / f"c{i}.vec"), 1, seed, epochs)
                               for i in range(2)])
        pair = {t: (work / run.seconds, work / training_seconds(tool, run), run.cores_busy)
                for t, run in alone.items()}
        ceiling = (sum(work / run.seconds for run in both) / pair[1][0],
                   sum(work / training_seconds(tool, run) for run in both) / pair[1][1])
        pairs.append(pair)
        ceilings.append(ceiling)
        print(f"sg-ns {tool} {epochs} epoch(s): 1 thread {pair[1][0]:,.0f} words/s (training phase "
              f"{pair[1][1]:,.0f}, {pair[1][2]:.2f} cores busy); 2 threads {pair[2][0]:,.0f} ({pair[2][1]:,.0f}, "
              f"{pair[2][2]:.2f} cores busy): whole run {pair[2][0] / pair[1][0]:.2f}x, training phase "
              f"{pair[2][1] / pair[1][1]:.2f}x; two 1-thread runs at once: {ceiling[0]:.2f}x, "
              f"{ceiling[1]:.2f}x", flush=True)

    def summary(index: int) -> str:
        mean = {t: sum(p[t][index] for p in pairs) / len(pairs) for t in (1, 2)}
        ratios = [p[2][index] / p[1][index] for p in pairs]
        return (f"{mean[2] / mean[1]:.2f}x of mean speeds ({mean[1]:,.0f} -> {mean[2]:,.0f} words/s), "
                f"median pair {median(ratios):.2f}x (pairs {', '.join(f'{r:.2f}' for r in ratios)}), "
                f"host ceiling {median(c[index] for c in ceilings):.2f}x")

    head = f"scaling (sg-ns, {epochs} epoch(s), {repeats} pair(s)) {tool}"
    return [f"{head}: whole run {summary(0)}", f"{head}: training phase {summary(1)}"]


def ws353_spread(mode: str, rhos: dict[str, list[float]]) -> str | None:
    """WS353 per tool as mean +- standard deviation over its runs, and seqkit's gap to the better peer
    with the gap's standard error, when seqkit and a peer both ran at least twice.

    The quality bar allows 0.02 below the better peer, and in the CBOW modes one run's WS353 spreads
    by about 0.01 around its mean (two threads are not deterministic, and fastText takes no seed), so a
    gap is only meaningful next to its standard error.
    """
    peers = {t: v for t, v in rhos.items() if t != "seqkit" and len(v) >= 2}
    if len(rhos.get("seqkit", [])) < 2 or not peers:
        return None
    best = max(peers, key=lambda t: mean(peers[t]))
    ours = rhos["seqkit"]
    gap = mean(ours) - mean(peers[best])
    error = (stdev(ours) ** 2 / len(ours) + stdev(peers[best]) ** 2 / len(peers[best])) ** 0.5
    tools = ", ".join(f"{t} {mean(v):.4f} +- {stdev(v):.4f} (n={len(v)})" for t, v in rhos.items() if len(v) >= 2)
    return f"{mode} WS353 over the runs: {tools}; seqkit - {best} {gap:+.4f} +- {error:.4f} (standard error)"


def _mean_run(runs: list, work: int) -> tuple[float, float, float, float, float]:
    """(wall s, words/s, peak MiB, analogy %, Spearman) averaged over seeds (peak: the largest)."""
    seconds = sum(r[0].seconds for r in runs) / len(runs)
    return (seconds, work / seconds, max(r[0].peak_mib for r in runs), sum(r[1] for r in runs) / len(runs),
            sum(r[2] for r in runs) / len(runs))


if __name__ == "__main__":
    main()
