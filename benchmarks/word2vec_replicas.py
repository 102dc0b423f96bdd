"""Two threads with and without per-thread replicas of the hot rows and padded rows, in short interleaved runs.

On this host two threads that share the weights of frequent words sometimes get little more than one
thread's speed, for spells of seconds to minutes, while two runs with private weights at the same
moments do not slow down. Whole runs of minutes mix such spells with normal ones, so this script
compares the settings in short runs (one epoch over the first --words words of the benchmark corpus,
vocabulary and counts from the whole corpus) taken in turns, round after round, and prints every
round, then the mean, median and slowest run of each setting, and each setting's speed relative to the
default's in the same round (geometric mean, median, rounds faster), which is steadier than comparing means:

- `1 thread`: the reference speed (replicas are never used with one thread);
- `2 threads, shared`: every row shared, as before replicas (`Config(replica_rows=0)`);
- `2 threads, unpadded rows`: replicas, but rows of exactly dim floats (`train.ROW_ALIGN_BYTES = 4`, with
  a spare line before each replica), the layout before the padding to whole cache lines;
- `2 threads, default`: replicas (`train.HOT_ROWS` rows per thread) and padded rows.

    python benchmarks/word2vec_replicas.py [--rounds 10] [--words 1500000] [--model sg|cbow]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from dataclasses import replace

from _common import ROOT, benchmark_corpus

sys.path.insert(0, str(ROOT / "plugins"))

from seqkit.corpus import iter_sentences  # noqa: E402
from seqkit.progress import Reporter  # noqa: E402
from seqkit.vocab import EncodedCorpus, Vocabulary  # noqa: E402
from seqkit_word2vec import train as training  # noqa: E402


def first_words(corpus, words: int) -> EncodedCorpus:
    """The leading sentences of an encoded corpus holding about `words` words, in memory."""
    end = int((corpus.offsets <= words).sum()) - 1
    ids, offsets = corpus.slice(0, max(end, 1))
    return EncodedCorpus(ids.copy(), offsets)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--words", type=int, default=1_500_000)
    parser.add_argument("--model", choices=["sg", "cbow"], default="sg")
    parser.add_argument("--corpus", default=None)
    args = parser.parse_args()
    path = args.corpus or str(benchmark_corpus())
    vocab, _, encoded = Vocabulary.build_encoded(iter_sentences([path]), min_count=5)
    with encoded:
        sample = first_words(encoded, args.words)
    skip_gram = args.model == "sg"
    config = training.Config(skip_gram=skip_gram, epochs=1, lr=0.025 if skip_gram else 0.05,
                             ns_exponent=0.75 if skip_gram else 0.5)
    aligned = training.ROW_ALIGN_BYTES
    default = "2 threads, default"
    # (threads, replica rows, row alignment in bytes)
    settings = {"1 thread": (1, config.replica_rows, aligned), "2 threads, shared": (2, 0, aligned),
                "2 threads, unpadded rows": (2, config.replica_rows, 4),
                default: (2, config.replica_rows, aligned)}

    def speed(threads: int, replica_rows: int, align: int) -> tuple[float, float]:
        training.ROW_ALIGN_BYTES = align
        try:
            started = time.perf_counter()
            _, stats = training.train(vocab, sample, replace(config, threads=threads, replica_rows=replica_rows),
                                      Reporter(quiet=True))
            return stats.raw_words / (time.perf_counter() - started), stats.loss
        finally:
            training.ROW_ALIGN_BYTES = aligned

    for setting in settings.values():
        speed(*setting)  # load the kernels and warm the caches
    speeds = {name: [] for name in settings}
    losses = {name: [] for name in settings}
    print(f"{sample.n_tokens:,} words, one epoch, {args.model}-ns, {args.rounds} rounds", flush=True)
    for round_ in range(args.rounds):
        names = list(settings) if round_ % 2 == 0 else list(reversed(settings))  # alternate the order
        for name in names:
            words_per_second, loss = speed(*settings[name])
            speeds[name].append(words_per_second)
            losses[name].append(loss)
        print(f"round {round_ + 1}: " + "; ".join(f"{name} {speeds[name][-1]:,.0f}" for name in settings),
              flush=True)
    one = statistics.mean(speeds["1 thread"])
    for name in settings:
        values = speeds[name]
        print(f"{name}: mean {statistics.mean(values):,.0f} words/s ({statistics.mean(values) / one:.2f}x the "
              f"1-thread mean), median {statistics.median(values):,.0f}, slowest {min(values):,.0f}; "
              f"mean loss {statistics.mean(losses[name]):.4f}")
    for name in settings:
        if name != default:
            ratios = [mine / theirs for mine, theirs in zip(speeds[name], speeds[default])]
            print(f"{name} / {default}, same round: geometric mean {statistics.geometric_mean(ratios):.3f}, "
                  f"median {statistics.median(ratios):.3f}, faster in {sum(r > 1 for r in ratios)} of {len(ratios)}")


if __name__ == "__main__":
    main()
