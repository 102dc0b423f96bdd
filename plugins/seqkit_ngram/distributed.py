"""`seqkit ngram --engine dask`: the full-window tables of `NgramCounter.finish`, counted on a cluster.

Workers count the windows of their partitions (`count_partition`) under the vocabulary of a first
distributed pass, cut them into buckets by a hash of each n-gram's context, and sum each bucket across
partitions (`merge_bucket`: Dask moves the pieces between workers); the client merges the disjoint
buckets into the sorted tables the local path gets, and `build_orders`, estimation and writing run
unchanged, so the ARPA file is the local one byte for byte.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from seqkit.corpus import CorpusStats
from seqkit.encoded import offsets_from_lengths, with_end_marks
from seqkit.errors import SeqkitError
from seqkit.scale.partitions import Partition
from seqkit.scale.tasks import encoded_sentences
from seqkit_ngram.counts import NgramCounter, Table, merge_tables

if TYPE_CHECKING:
    from seqkit.progress import Reporter
    from seqkit.vocabulary import Vocabulary

END_OF_SENTENCE = 2
DEFAULT_TASK_MEMORY = 1 << 30  # -S for each counting task when none is given


def count_partition(part: Partition, vocabulary: Sequence[str], unknown: str | None, order: int, buckets: int,
                    memory: int, errors: str, max_sentence_len: int) -> tuple[list[list[Table]], int, int, CorpusStats]:
    """The partition's full windows under the global vocabulary's ids, cut into `buckets` by the hash of
    each n-gram's context; with the tokens and sentences counted and what the reader saw."""
    stats = CorpusStats()
    radix = len(vocabulary)
    with NgramCounter(order, memory) as counter:
        for ids, lengths in encoded_sentences(part, vocabulary, unknown, errors, max_sentence_len, stats):
            counter.add(*with_end_marks(ids, offsets_from_lengths(lengths), END_OF_SENTENCE), radix)
        tables = counter.finish(radix)
        return split_by_context(tables, buckets), counter.tokens, counter.sentences, stats


def context_bucket(words: np.ndarray, buckets: int) -> np.ndarray:
    """A deterministic hash of each row's context (all words but the last; a unigram's own word)."""
    columns = words.shape[1] - 1 if words.shape[1] > 1 else 1
    h = np.zeros(len(words), dtype=np.uint64)
    with np.errstate(over="ignore"):
        for c in range(columns):
            h ^= words[:, c].astype(np.uint64)
            h *= np.uint64(0x9E3779B97F4A7C15)
            h ^= h >> np.uint64(29)
    return (h % np.uint64(buckets)).astype(np.int64)


def split_by_context(tables: list[Table], buckets: int) -> list[list[Table]]:
    """Per bucket, per order, the rows (still sorted) whose context hashes there."""
    out: list[list[Table]] = [[] for _ in range(buckets)]
    for n, (words, counts) in enumerate(tables, 1):
        words = words.reshape(len(counts), n)
        which = context_bucket(words, buckets)
        for b in range(buckets):
            mask = which == b
            out[b].append((words[mask], counts[mask]))
    return out


def merge_bucket(order: int, radix: int, *parts: list[Table]) -> list[Table]:
    """One bucket's tables from every partition summed: each n-gram's final count, sorted."""
    return [merge_tables([p[n - 1] for p in parts], n, radix) for n in range(1, order + 1)]


def _vocabulary(words: list[str]) -> list[str]:
    return words


def _stats(result: tuple) -> CorpusStats:
    return result[3]


def _sizes(result: tuple) -> tuple[int, int]:
    return result[1], result[2]


def _bucket(result: tuple, b: int) -> list[Table]:
    return result[0][b]


def count_ngram_tables(client: Any, corpus: Sequence[str], vocabulary: "Vocabulary", *, unknown: str | None,
                       order: int, memory: int | None, errors: str, max_sentence_len: int,
                       stats: CorpusStats, reporter: "Reporter", buckets: int | None = None,
                       ) -> tuple[list[tuple[np.ndarray, np.ndarray]], int, int]:
    """The full-window tables of the whole corpus, as `NgramCounter.finish` returns them locally, with
    the tokens and sentences counted. Workers count partitions, then sum each context-hash bucket."""
    from seqkit.scale.engine import corpus_partitions, run_id, wait_with_progress

    parts = corpus_partitions(corpus)
    run = run_id()
    if buckets is None:
        buckets = ngram_buckets(client)
    # a task rather than scattered data: the scheduler keeps its input, so if every worker holding the
    # vocabulary dies, it is computed again instead of lost for good
    words = client.submit(_vocabulary, list(vocabulary.words), key=f"seqkit-{run}-ngrams-vocabulary")
    counted = client.map(count_partition, parts, vocabulary=words, unknown=unknown, order=order,
                         buckets=buckets, memory=memory or DEFAULT_TASK_MEMORY, errors=errors,
                         max_sentence_len=max_sentence_len,
                         key=[f"seqkit-{run}-ngrams-{p.index}" for p in parts])
    # small tasks that pick one part of a partition's result where it lies, so only that part travels
    watched = [client.submit(_stats, f, key=f"seqkit-{run}-ngrams-stats-{i}") for i, f in enumerate(counted)]
    totals = [client.submit(_sizes, f, key=f"seqkit-{run}-ngrams-sizes-{i}") for i, f in enumerate(counted)]
    pieces = [[client.submit(_bucket, f, b, key=f"seqkit-{run}-ngrams-piece-{i}-{b}") for b in range(buckets)]
              for i, f in enumerate(counted)]
    merged = [client.submit(merge_bucket, order, len(vocabulary), *[row[b] for row in pieces],
                            key=f"seqkit-{run}-ngrams-bucket-{b}") for b in range(buckets)]
    everything = [words] + counted + totals + [p for row in pieces for p in row] + merged
    wait_with_progress(client, everything, watched, reporter, "counting n-grams (dask)", stats)
    del counted, pieces
    tokens = sentences = 0
    for t, s in client.gather(totals):
        tokens, sentences = tokens + t, sentences + s
    try:
        results = client.gather(merged)
    except BaseException:
        client.cancel(everything, force=True)
        raise
    tables = [merge_tables([r[n - 1] for r in results], n, len(vocabulary)) for n in range(1, order + 1)]
    return tables, tokens, sentences


def ngram_buckets(client: Any) -> int:
    """Twice the cluster's worker threads (at least 2), or $SEQKIT_NGRAM_BUCKETS."""
    value = os.environ.get("SEQKIT_NGRAM_BUCKETS")
    if value:
        if not value.isdigit() or int(value) < 1:
            raise SeqkitError(f"$SEQKIT_NGRAM_BUCKETS must be a positive integer, not {value!r}")
        return int(value)
    threads = sum(client.nthreads().values())
    return max(2, 2 * threads)
