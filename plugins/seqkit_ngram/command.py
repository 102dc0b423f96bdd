"""What `seqkit ngram` does (imported only when the command runs)."""

from __future__ import annotations

import os
import time
from typing import Iterable, Iterator

import numpy as np

from seqkit.corpus import CorpusStats, materialize_stdin
from seqkit.errors import SeqkitError
from seqkit.progress import Reporter
from seqkit.textio import check_output_path
from seqkit_ngram.arpa import write_arpa
from seqkit_ngram.counts import Counts, NgramCounter, build_orders
from seqkit_ngram.encode import ClosedIndex, GrowingIndex, iter_blocks
from seqkit_ngram.estimate import FALLBACK, estimate

SPECIALS = {b"<unk>": 0, b"<s>": 1, b"</s>": 2}


def run(*, corpus, output, order, smoothing, add_k, discount_fallback, min_count, max_vocab, errors,
        max_sentence_len, quiet, prune=None, memory=None, temp_dir=None) -> None:
    """Read and encode the corpus block by block, count it in chunks within `memory` bytes (spilling
    sorted runs to `temp_dir`), derive every order's counts, smooth, prune and write the ARPA file."""
    reporter = Reporter(quiet)
    check_output_path(output)
    started = time.perf_counter()
    _no_hugepage_advice()
    closed = min_count > 1 or bool(max_vocab)
    paths = materialize_stdin(corpus, reporter) if closed else corpus
    vocab = ["<unk>", "<s>", "</s>"]
    if closed:
        lookup = _closed_vocabulary(paths, vocab, min_count, max_vocab, errors, max_sentence_len).__getitem__
    else:
        lookup = GrowingIndex(SPECIALS, vocab).__getitem__
    stats = CorpusStats()
    memory = memory if memory is not None else default_memory()
    with reporter.task("counting n-grams", total=None), NgramCounter(order, memory, temp_dir) as counter:
        blocks = iter_blocks(paths, lookup, errors=errors, max_sentence_len=max_sentence_len, stats=stats)
        for ids, lengths in rechunk(blocks, counter.chunk_tokens()):
            counter.add(ids, lengths, len(vocab))
        if counter.sentences == 0:
            raise SeqkitError("the corpus is empty: no sentences to count")
        tables = counter.finish(len(vocab))
        spills = counter.spills
    if spills:
        reporter.info(f"counts outgrew --memory {memory:,} bytes: merged {spills} sorted runs from disk")
    counts = Counts(vocab, build_orders(tables, order, len(vocab)), counter.tokens, counter.sentences)
    del tables
    model = estimate(counts, smoothing, fallback=FALLBACK if discount_fallback else None, k=add_k, prune=prune)
    for n in model.fallback_orders:
        reporter.warn(f"{n}-gram discounts could not be estimated; using the fallback {' '.join(map(str, FALLBACK))}")
    write_arpa(model, output)
    sizes = " ".join(f"{n}:{len(w):,}" for n, w in enumerate(model.words, 1))
    pruned = f" (pruned {' '.join(map(str, prune))})" if prune and any(prune) else ""
    reporter.summary(f"ngram: order {order} {smoothing} from {stats.describe()}; n-grams {sizes}{pruned}; "
                     f"{time.perf_counter() - started:.2f} s -> {output}")


def _no_hugepage_advice() -> None:
    """Stop NumPy asking for transparent huge pages on its large arrays (what $NUMPY_MADVISE_HUGEPAGE=0
    does). Counting allocates and frees many short-lived arrays of tens of megabytes; with the kernel's
    `defrag=madvise` each huge-page fault may compact memory first, which measured as 0.3-0.5 s of
    system time (and most of the run-to-run spread) on the PTB 5-gram run."""
    try:
        from numpy._core.multiarray import _set_madvise_hugepage
    except ImportError:  # pragma: no cover - other NumPy layouts
        return
    _set_madvise_hugepage(False)


def _closed_vocabulary(paths, vocab: list[str], min_count: int, max_vocab: int | None, errors: str,
                       max_sentence_len: int) -> ClosedIndex:
    """First pass for --min-count/--max-vocab: the kept words, most frequent first (ties: first seen)."""
    seen: list[str] = ["<unk>", "<s>", "</s>"]
    index = GrowingIndex(SPECIALS, seen)
    totals = np.zeros(0, dtype=np.int64)
    for ids, _ in iter_blocks(paths, index.__getitem__, errors=errors, max_sentence_len=max_sentence_len,
                              stats=CorpusStats()):
        counts = np.bincount(ids, minlength=len(seen))
        counts[: len(totals)] += totals
        totals = counts
    totals = np.append(totals, np.zeros(len(seen) - len(totals), dtype=np.int64))
    candidates = np.arange(3, len(seen))
    ranked = candidates[np.argsort(-totals[3:], kind="stable")]
    ranked = ranked[totals[ranked] >= min_count][: max_vocab]
    if len(ranked) == 0:
        if len(candidates) == 0:
            raise SeqkitError("the corpus is empty: no words to count")
        raise SeqkitError(f"0 of {len(candidates):,} word types occur >= {min_count} times; lower --min-count")
    closed = ClosedIndex(SPECIALS)
    for old in ranked.tolist():
        closed[seen[old].encode("utf-8")] = len(vocab)
        vocab.append(seen[old])
    return closed


def rechunk(blocks: Iterable[tuple[np.ndarray, np.ndarray]], chunk_tokens: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Blocks of sentences regrouped into chunks of about `chunk_tokens` tokens (whole sentences)."""
    ids_parts: list[np.ndarray] = []
    len_parts: list[np.ndarray] = []
    held = 0
    for ids, lengths in blocks:
        ends = np.cumsum(lengths)
        start_sentence, start_token = 0, 0
        while start_sentence < len(lengths):
            room = chunk_tokens - held
            stop = int(np.searchsorted(ends, start_token + room, side="right"))
            stop = max(stop, start_sentence + 1) if held == 0 else stop
            if stop > start_sentence:
                end_token = int(ends[stop - 1])
                ids_parts.append(ids[start_token:end_token])
                len_parts.append(lengths[start_sentence:stop])
                held += end_token - start_token
                start_sentence, start_token = stop, end_token
            if held >= chunk_tokens or start_sentence < len(lengths):
                yield _joined(ids_parts, len_parts)
                ids_parts, len_parts, held = [], [], 0
    if len_parts:
        yield _joined(ids_parts, len_parts)


def _joined(ids_parts: list[np.ndarray], len_parts: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    if len(ids_parts) == 1:
        return ids_parts[0], len_parts[0]
    return np.concatenate(ids_parts), np.concatenate(len_parts)


def default_memory() -> int:
    """Half the physical memory (lmplz takes 80%; seqkit leaves room for the estimation that follows)."""
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") * 0.5)
    except (ValueError, OSError, AttributeError):
        return 1 << 30

