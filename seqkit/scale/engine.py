"""The client side: reach (or start) a cluster, run the counting tasks with progress, merge the results.

The merges reproduce the local engine exactly: the vocabulary is chosen by `seqkit.vocabulary._chosen`
from the merged counts laid out in corpus first-appearance order. Plugins build their own passes from
`corpus_partitions`, `run_id`, `wait_with_progress` and the workers' `tasks.encoded_sentences`.
"""

from __future__ import annotations

import contextlib
import logging
import operator
import uuid
from typing import TYPE_CHECKING, Any, Iterator, Sequence

import numpy as np

from seqkit.corpus import CorpusStats
from seqkit.errors import SeqkitError
from seqkit.scale import require_dask
from seqkit.scale.partitions import Partition, partition_size, plan

if TYPE_CHECKING:
    from seqkit.progress import Reporter
    from seqkit.vocabulary import BuildStats, Vocabulary

MERGE_FAN_IN = 8          # word-count tables merged per task in the tree reduction
CONNECT_TIMEOUT = "20s"


@contextlib.contextmanager
def cluster_client(scheduler: str | None, reporter: "Reporter") -> Iterator[Any]:
    """A `distributed.Client` on `scheduler`, or on a `LocalCluster` sized to this machine."""
    require_dask()
    from distributed import Client, LocalCluster

    if scheduler:
        try:
            client = Client(scheduler, timeout=CONNECT_TIMEOUT)
        except (OSError, TimeoutError, ValueError) as exc:
            raise SeqkitError(f"cannot reach the Dask scheduler at {scheduler}: {exc}") from None
        with client:
            yield client
        return
    with LocalCluster(dashboard_address=None, silence_logs=logging.ERROR) as cluster, Client(cluster) as client:
        workers = len(cluster.workers)
        reporter.info(f"dask: started a local cluster of {workers} workers (pass --scheduler to use a real one)")
        yield client


def wait_with_progress(client: Any, futures: list[Any], watched: list[Any], reporter: "Reporter", description: str,
         stats: CorpusStats) -> None:
    """Wait for `watched` (futures of `CorpusStats`) showing tasks done and bytes read; Ctrl-C or an
    error cancels every task of this run on the cluster."""
    from distributed import as_completed

    try:
        with reporter.task(description, total=len(watched), unit="items") as progress:
            for future in as_completed(watched):
                part_stats = future.result()
                for field in ("files", "lines", "tokens", "split_lines", "bytes", "invalid_lines"):
                    setattr(stats, field, getattr(stats, field) + getattr(part_stats, field))
                progress.update(1, read=f"{stats.bytes / 1e6:,.1f} MB")
    except BaseException:
        client.cancel(futures + watched, force=True)
        raise


def run_id() -> str:
    """A prefix for this run's task keys: a shared scheduler may still hold another run's keys."""
    return uuid.uuid4().hex[:12]


def corpus_partitions(corpus: Sequence[str]) -> list[Partition]:
    parts = plan(corpus, partition_size())
    if not parts:
        raise SeqkitError("the corpus is empty: no files")
    return parts


def count_words(client: Any, corpus: Sequence[str], *, min_count: int = 1, max_vocab: int | None = None,
                specials: Sequence[str] = (), order: str = "frequency", errors: str = "strict",
                max_sentence_len: int = 10000, stats: CorpusStats, reporter: "Reporter",
                ) -> tuple["Vocabulary", "BuildStats"]:
    """`seqkit.vocabulary.count_words` on the cluster: the same vocabulary (exact counts; `max_vocab`
    only truncates, as nothing is pruned while counting)."""
    from seqkit.scale.tasks import count_partition_words, merge_word_counts
    from seqkit.vocabulary import BuildStats, _check_order, _chosen

    _check_order(order)
    parts = corpus_partitions(corpus)
    run = run_id()
    counted = client.map(count_partition_words, parts, specials=list(specials), errors=errors,
                         max_sentence_len=max_sentence_len, key=[f"seqkit-{run}-words-{p.index}" for p in parts])
    watched = [client.submit(operator.itemgetter(1), f, key=f"seqkit-{run}-words-stats-{i}")
               for i, f in enumerate(counted)]
    level = [client.submit(operator.itemgetter(0), f, key=f"seqkit-{run}-words-table-{i}") for i, f in enumerate(counted)]
    depth = 0
    while len(level) > 1:  # a tree of merges, so no one task holds every partition's table at once
        depth += 1
        level = [client.submit(merge_word_counts, *level[i:i + MERGE_FAN_IN], key=f"seqkit-{run}-words-merge-{depth}-{i}")
                 for i in range(0, len(level), MERGE_FAN_IN)]
    wait_with_progress(client, counted + level, watched, reporter, "counting words (dask)", stats)
    merged = level[0].result()
    del level
    # the merged types laid out as the local TokenTable numbers them: specials, then by first appearance
    table = _MergedTable(list(specials), merged)
    build = BuildStats(tokens=stats.tokens)
    vocabulary, _ = _chosen(table, len(specials), min_count, max_vocab, order, build)
    return vocabulary, build


class _MergedTable:
    """What `_chosen` reads of a `TokenTable`: counts by id and each id's word."""

    def __init__(self, specials: list[str], merged: Any):
        by_first = np.argsort(merged.first, kind="stable")
        self._words = [w.encode("utf-8") for w in specials] + [merged.words[i] for i in by_first.tolist()]
        self.counts = np.concatenate([merged.special_counts, merged.counts[by_first]]).astype(np.int64)

    def word(self, type_id: int) -> bytes:
        return self._words[type_id]
