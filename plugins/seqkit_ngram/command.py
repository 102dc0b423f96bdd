"""What `seqkit ngram` does (imported only when the command runs)."""

from __future__ import annotations

import os
import time

from seqkit.corpus import CorpusStats
from seqkit.encoded import iter_runs, with_end_marks
from seqkit.memory import release_compiler_pages
from seqkit.progress import Reporter
from seqkit.textio import check_output_path
from seqkit.vocabulary import read_corpus
from seqkit_ngram.arpa import write_arpa
from seqkit_ngram.counts import Counts, NgramCounter, build_orders
from seqkit_ngram.estimate import FALLBACK, estimate

SPECIALS = ("<unk>", "<s>", "</s>")  # ids 0, 1, 2, as the counting code expects
END_OF_SENTENCE = 2


def run(*, corpus, output, order, smoothing, add_k, discount_fallback, min_count, max_vocab, errors,
        max_sentence_len, quiet, prune=None, memory=None, temp_dir=None, binary=False, engine="local",
        scheduler=None) -> None:
    """Read and encode the corpus, count it in chunks within `memory` bytes (spilling sorted runs to
    `temp_dir`), derive every order's counts, smooth, prune and write the ARPA file."""
    reporter = Reporter(quiet)
    check_output_path(output, corpus)
    started = time.perf_counter()
    _no_hugepage_advice()
    stats = CorpusStats()
    if engine == "dask":
        vocab, tables, tokens, sentences = _count_on_cluster(corpus, order, min_count, max_vocab, errors,
                                                             max_sentence_len, memory, scheduler, stats, reporter)
        counts = Counts(vocab.words, build_orders(tables, order, len(vocab)), tokens, sentences)
        del tables
        _estimate_and_write(counts, order, smoothing, add_k, discount_fallback, prune, binary, output, stats,
                            reporter, started)
        return
    # an open vocabulary numbers words as they first appear; a closed one, most frequent first
    vocab, _, encoded = read_corpus(corpus, min_count=min_count, max_vocab=max_vocab, specials=SPECIALS,
                                    order="frequency" if min_count > 1 or max_vocab else "first-seen",
                                    unknown="<unk>", errors=errors, max_sentence_len=max_sentence_len,
                                    stats=stats, reporter=reporter)
    release_compiler_pages()  # the reader's kernels are done: LLVM's code need not be resident while counting
    memory = memory if memory is not None else default_memory()
    with encoded, reporter.task("counting n-grams", total=None), NgramCounter(order, memory, temp_dir) as counter:
        # runs of sentences that fill a counting chunk once each sentence has its </s>
        words = encoded.n_tokens * counter.chunk_tokens() // (encoded.n_tokens + encoded.n_sentences)
        for ids, offsets in iter_runs(encoded, max(words, 1)):
            counter.add(*with_end_marks(ids, offsets, END_OF_SENTENCE), len(vocab))
        tables = counter.finish(len(vocab))
        spills = counter.spills
    if spills:
        reporter.info(f"counts outgrew --memory {memory:,} bytes: merged {spills} sorted runs from disk")
    counts = Counts(vocab.words, build_orders(tables, order, len(vocab)), counter.tokens, counter.sentences)
    del tables
    _estimate_and_write(counts, order, smoothing, add_k, discount_fallback, prune, binary, output, stats, reporter,
                        started)


def _count_on_cluster(corpus, order, min_count, max_vocab, errors, max_sentence_len, memory, scheduler, stats,
                      reporter):
    """The vocabulary and full-window tables the local path builds, counted on a Dask cluster."""
    from seqkit.scale.engine import cluster_client, count_words
    from seqkit_ngram.distributed import count_ngram_tables

    with cluster_client(scheduler, reporter) as client:
        vocab, _ = count_words(client, corpus, min_count=min_count, max_vocab=max_vocab, specials=SPECIALS,
                               order="frequency" if min_count > 1 or max_vocab else "first-seen", errors=errors,
                               max_sentence_len=max_sentence_len, stats=CorpusStats(), reporter=reporter)
        tables, tokens, sentences = count_ngram_tables(
            client, corpus, vocab, unknown="<unk>", order=order, memory=memory,
            errors=errors, max_sentence_len=max_sentence_len, stats=stats, reporter=reporter)
    return vocab, tables, tokens, sentences


def _estimate_and_write(counts, order, smoothing, add_k, discount_fallback, prune, binary, output, stats, reporter,
                        started) -> None:
    model = estimate(counts, smoothing, fallback=FALLBACK if discount_fallback else None, k=add_k, prune=prune)
    for n in model.fallback_orders:
        reporter.warn(f"{n}-gram discounts could not be estimated; using the fallback {' '.join(map(str, FALLBACK))}")
    if binary:
        from seqkit_ngram.binary import build_tables, write_binary

        write_binary(build_tables(model.vocab, model.words, model.logprob, model.backoff), output)
    else:
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


def default_memory() -> int:
    """Half the physical memory (lmplz takes 80%; seqkit leaves room for the estimation that follows)."""
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") * 0.5)
    except (ValueError, OSError, AttributeError):
        return 1 << 30

