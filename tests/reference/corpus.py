"""The corpus reader and vocabulary in plain Python: obviously correct, and slow.

`seqkit.reader`, `seqkit.vocabulary.count_words` and `read_corpus` must give exactly what these give.
"""

from __future__ import annotations

from collections import Counter
from typing import Iterable, Iterator, Sequence

import numpy as np

from seqkit.corpus import CorpusStats, text_blocks
from seqkit.errors import SeqkitError
from seqkit.vocabulary import BuildStats


def iter_sentences(paths: Sequence[str], *, errors: str = "strict", max_sentence_len: int = 10000,
                   stats: CorpusStats | None = None) -> Iterator[list[bytes]]:
    """Each line's `bytes.split()` tokens, long lines in pieces of at most `max_sentence_len`."""
    stats = stats if stats is not None else CorpusStats()
    pending: list[bytes] = []
    for chunk in text_blocks([str(p) for p in paths], errors=errors, stats=stats):
        lines = chunk.split(b"\n")
        unfinished = lines.pop()
        stats.lines += len(lines)
        for line in lines:
            tokens, pending = pending + line.split(), []
            if tokens:
                stats.tokens += len(tokens)
                stats.split_lines += len(tokens) > max_sentence_len
                for first in range(0, len(tokens), max_sentence_len):
                    yield tokens[first:first + max_sentence_len]
        pending.extend(unfinished.split())


def token_blocks(paths: Sequence[str], **kwargs) -> Iterator[list[list[bytes]]]:
    """The tokens of each text block the reader reads (the points where counting may prune)."""
    for chunk in text_blocks([str(p) for p in paths], errors="strict", stats=CorpusStats(), **kwargs):
        yield [chunk.split()]


def count(blocks: Iterable[list[list[bytes]]], *, min_count: int = 1, max_vocab: int | None = None,
          specials: Sequence[str] = (), first_seen: bool = False) -> tuple[list[str], list[int], BuildStats]:
    """word2vec.c's counting: prune to the `max_vocab` most frequent whenever more than twice that many
    are held (checked after each block), keep words seen >= min_count times, most frequent first."""
    special_bytes = [s.encode() for s in specials]
    counts: Counter = Counter({s: 0 for s in special_bytes})
    stats = BuildStats()
    for block in blocks:
        for tokens in block:
            counts.update(tokens)
            stats.tokens += len(tokens)
        if max_vocab is not None and len(counts) - len(specials) > 2 * max_vocab:
            ranked = sorted((item for item in counts.items() if item[0] not in special_bytes),
                            key=lambda item: -item[1])
            doomed = ranked[max_vocab:]
            stats.pruned_types += len(doomed)
            stats.pruned_tokens += sum(c for _, c in doomed)
            stats.prune_threshold = max(stats.prune_threshold, doomed[0][1])
            for word, _ in doomed:
                del counts[word]
    ordinary = [(w, c) for w, c in counts.items() if w not in special_bytes]
    stats.types = len(ordinary) + stats.pruned_types
    kept = sorted([(w, c) for w, c in ordinary if c >= min_count], key=lambda item: -item[1])
    if max_vocab is not None and len(kept) > max_vocab:
        stats.truncated_types = len(kept) - max_vocab
        kept = kept[:max_vocab]
    if not kept:
        if stats.tokens == 0:
            raise SeqkitError("the corpus is empty: no tokens found")
        raise SeqkitError(f"0 of {stats.types:,} word types occur >= {min_count} times; lower --min-count")
    if first_seen:
        position = {w: i for i, w in enumerate(counts)}
        kept.sort(key=lambda item: position[item[0]])
    stats.kept_types, stats.kept_tokens = len(kept), sum(c for _, c in kept)
    words = list(specials) + [w.decode() for w, _ in kept]
    return words, [counts[s] for s in special_bytes] + [c for _, c in kept], stats


def encode(words: Sequence[str], sentences: Iterable[list[bytes]],
           unknown: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(ids, offsets): unknown tokens dropped (sentences left empty vanish) or mapped to `unknown`."""
    index = {w.encode(): i for i, w in enumerate(words)}
    unk = index[unknown.encode()] if unknown is not None else -1
    ids: list[int] = []
    offsets = [0]
    for tokens in sentences:
        row = [index.get(t, unk) for t in tokens]
        row = [i for i in row if i >= 0]
        if row:
            ids.extend(row)
            offsets.append(len(ids))
    return np.array(ids, dtype=np.int32), np.array(offsets, dtype=np.int64)
