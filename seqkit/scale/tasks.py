"""What the workers run: count a partition's words, or its n-gram windows, with the local code.

Each function is pure (a partition and parameters in, arrays out), so Dask may run it again on another
worker when one is lost, and the answer is the same.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, Sequence

import numpy as np

from seqkit.corpus import CorpusStats
from seqkit.scale.partitions import Partition, text_chunks

# first appearance as one int64: partition index above, position among the partition's new words below
POSITION_BITS = 40


@dataclass
class WordCounts:
    """Word types with counts and first appearances (`first`: see POSITION_BITS); specials apart."""

    words: list[bytes]
    counts: np.ndarray
    first: np.ndarray
    special_counts: np.ndarray


def _encoded_blocks(part: Partition, table, errors: str, stats: CorpusStats):
    """(ids, finished sentence lengths) per block of the partition, through `table` (as `id_blocks`)."""
    fields = ("LINES", "TOKENS", "SPLIT_LINES")
    before = {f: table.stat(f) for f in fields}
    for chunk in text_chunks(part, errors=errors, stats=stats):
        yield table.encode(chunk)
    stats.lines += table.stat("LINES") - before["LINES"]
    stats.tokens += table.stat("TOKENS") - before["TOKENS"]
    stats.split_lines += table.stat("SPLIT_LINES") - before["SPLIT_LINES"]


def count_partition_words(part: Partition, specials: Sequence[str], errors: str,
                          max_sentence_len: int) -> tuple[WordCounts, CorpusStats]:
    """The partition's word counts; local ids are in order of first appearance, hence the `first` key."""
    from seqkit.reader import TokenTable

    table = TokenTable(max_sentence_len)
    table.seed([word.encode("utf-8") for word in specials])
    stats = CorpusStats()
    for _ in _encoded_blocks(part, table, errors, stats):
        pass
    k = len(specials)
    n = len(table)
    counts = table.counts.copy()
    words = [table.word(i) for i in range(k, n)]
    first = (np.int64(part.index) << POSITION_BITS) + np.arange(n - k, dtype=np.int64)
    return WordCounts(words, counts[k:], first, counts[:k]), stats


def merge_word_counts(*parts: WordCounts) -> WordCounts:
    """Counts summed, first appearances minimised (a tree of these merges the whole corpus)."""
    index: dict[bytes, int] = {}
    words: list[bytes] = []
    counts: list[int] = []
    first: list[int] = []
    for part in parts:
        for word, count, pos in zip(part.words, part.counts.tolist(), part.first.tolist()):
            i = index.get(word)
            if i is None:
                index[word] = len(words)
                words.append(word)
                counts.append(count)
                first.append(pos)
            else:
                counts[i] += count
                first[i] = min(first[i], pos)
    specials = np.sum([p.special_counts for p in parts], axis=0).astype(np.int64)
    return WordCounts(words, np.asarray(counts, dtype=np.int64), np.asarray(first, dtype=np.int64), specials)


def encoded_sentences(part: Partition, vocabulary: Sequence[str], unknown: str | None, errors: str,
                      max_sentence_len: int, stats: CorpusStats) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """The partition's sentences as (ids, lengths) block by block, ids those of `vocabulary`, as
    `seqkit.vocabulary.read_corpus` encodes them: other words become `unknown` or are dropped, and
    sentences left empty vanish."""
    from seqkit.encoded import offsets_from_lengths
    from seqkit.reader import TokenTable

    table = TokenTable(max_sentence_len)
    seeded = table.seed([word.encode("utf-8") for word in vocabulary])
    final_id = np.full(len(table), -1, dtype=np.int32)
    final_id[seeded[seeded >= 0]] = np.flatnonzero(seeded >= 0)
    unknown_id = vocabulary.index(unknown) if unknown is not None else -1
    pending = np.zeros(0, dtype=np.int32)
    for ids, finished in _encoded_blocks(part, table, errors, stats):
        if len(table) > len(final_id):  # words outside the vocabulary
            final_id = np.concatenate([final_id, np.full(len(table) - len(final_id), unknown_id, np.int32)])
        pending = np.concatenate([pending, final_id[ids]])
        used = int(finished.sum())
        sentence_ids, pending = pending[:used], pending[used:]
        if not len(finished):
            continue
        known = sentence_ids >= 0
        lengths = np.add.reduceat(known, offsets_from_lengths(finished)[:-1], dtype=np.int64)
        yield sentence_ids[known], lengths[lengths > 0]
