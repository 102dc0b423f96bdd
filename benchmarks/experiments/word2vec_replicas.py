"""Two threads with and without the thread-local parts of the weights, in short interleaved runs.

On this host two threads that share weights sometimes get little more than one thread's speed, for
spells of seconds, while two runs with private weights at the same moments do not slow down: in those
spells the host runs the two vCPUs on distant cores, and a cache line written by one thread takes
~330 ns instead of ~60 ns to reach the other (`_roundtrip.py`). So this script compares the settings in
short runs (one epoch over the first --words words of the benchmark corpus, vocabulary and counts from
the whole corpus) taken in turns, round after round, tags each run with the host's placement of the
vCPUs (a cache line's round trip just before and after it: near, far, or mixed), and prints every run,
then each setting's mean speed per placement against one thread's, and its speed relative to the
default's in the same round (geometric mean, median, rounds faster):

- `1 thread`: the reference speed (no replicas or noise shares with one thread);
- `2 threads, shared`: every row shared, as before replicas (`train.REPLICA_ROWS = 0`);
- `2 threads, shared noise`: replicas, but every thread draws noise words from every row
  (`train.NOISE_SHARES = False`), as before the noise shares;
- `2 threads, unpadded rows`: rows of exactly dim floats (`train.ROW_ALIGN_BYTES = 4`, with a spare line
  before each replica), the layout before the padding to whole cache lines;
- `2 threads, default`: replicas (`train.REPLICA_ROWS` rows per thread), noise shares and padded rows.

With `--loss hs` the replicas hold the hot words' syn0 rows and the Huffman tree's nodes nearest the
root, and there are no noise shares to compare.

    python benchmarks/experiments/word2vec_replicas.py [--rounds 10] [--words 1500000] [--model sg|cbow] [--loss ns|hs]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from dataclasses import replace

from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # benchmarks/, for _common
from _common import ROOT, benchmark_corpus  # noqa: E402
from _roundtrip import placement, round_trip_ns  # noqa: E402

sys.path.insert(0, str(ROOT / "plugins"))

from seqkit.encoded import EncodedCorpus  # noqa: E402
from seqkit.progress import Reporter  # noqa: E402
from seqkit.vocabulary import read_corpus  # noqa: E402
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
    parser.add_argument("--loss", choices=["ns", "hs"], default="ns")
    parser.add_argument("--corpus", default=None)
    args = parser.parse_args()
    path = args.corpus or str(benchmark_corpus())
    vocab, _, encoded = read_corpus([path], min_count=5)
    with encoded:
        sample = first_words(encoded, args.words)
    skip_gram = args.model == "sg"
    hs = args.loss == "hs"
    config = training.Config(skip_gram=skip_gram, hs=hs, negative=0 if hs else 5, epochs=1,
                             lr=0.025 if skip_gram else 0.05, ns_exponent=0.75 if skip_gram else 0.5)
    default = "2 threads, default"
    # each setting: Config fields, then the train module's constants it patches for its runs
    settings = {"1 thread": ({"threads": 1}, {}), "2 threads, shared": ({}, {"REPLICA_ROWS": 0}),
                "2 threads, shared noise": ({}, {"NOISE_SHARES": False}),
                "2 threads, unpadded rows": ({}, {"ROW_ALIGN_BYTES": 4}), default: ({}, {})}
    if hs:
        del settings["2 threads, shared noise"]

    def speed(options: dict, constants: dict) -> tuple[float, float, str]:
        """words/s, loss, and the vCPUs' placement during the run"""
        saved = {name: getattr(training, name) for name in constants}
        for name, value in constants.items():
            setattr(training, name, value)
        try:
            before = round_trip_ns()
            started = time.perf_counter()
            _, stats = training.train(vocab, sample, replace(config, **{"threads": 2, **options}),
                                      Reporter(quiet=True))
            words_per_second = stats.raw_words / (time.perf_counter() - started)
            return words_per_second, stats.loss, placement(before, round_trip_ns())
        finally:
            for name, value in saved.items():
                setattr(training, name, value)

    for setting in settings.values():
        speed(*setting)  # load the kernels and warm the caches
    runs = {name: [] for name in settings}  # (words/s, loss, placement)
    print(f"{sample.n_tokens:,} words, one epoch, {args.model}-{args.loss}, {args.rounds} rounds", flush=True)
    for round_ in range(args.rounds):
        names = list(settings) if round_ % 2 == 0 else list(reversed(settings))  # alternate the order
        for name in names:
            runs[name].append(speed(*settings[name]))
        print(f"round {round_ + 1}: " + "; ".join(f"{name} {runs[name][-1][0]:,.0f} ({runs[name][-1][2]})"
                                                  for name in settings), flush=True)
    one = statistics.mean(run[0] for run in runs["1 thread"])
    for name in settings:
        speeds = [run[0] for run in runs[name]]
        places = {place: [run[0] for run in runs[name] if run[2] == place] for place in ("near", "far", "mixed")}
        by_place = ", ".join(f"{place} {statistics.mean(v) / one:.2f}x ({len(v)} runs)"
                             for place, v in places.items() if v)
        print(f"{name}: mean {statistics.mean(speeds):,.0f} words/s ({statistics.mean(speeds) / one:.2f}x the "
              f"1-thread mean), slowest {min(speeds):,.0f}; {by_place}; "
              f"mean loss {statistics.mean(run[1] for run in runs[name]):.4f}")
    for name in settings:
        if name != default:
            ratios = [mine[0] / theirs[0] for mine, theirs in zip(runs[name], runs[default])]
            print(f"{name} / {default}, same round: geometric mean {statistics.geometric_mean(ratios):.3f}, "
                  f"median {statistics.median(ratios):.3f}, faster in {sum(r > 1 for r in ratios)} of "
                  f"{len(ratios)}")


if __name__ == "__main__":
    main()
