"""What `seqkit ngram` does (imported only when the command runs)."""

from __future__ import annotations

import os
import resource
import time
from dataclasses import dataclass

import numpy as np

from seqkit.corpus import CorpusStats
from seqkit.encoded import iter_runs, with_end_marks
from seqkit.memory import release_compiler_pages
from seqkit.progress import Reporter
from seqkit.textio import check_output_path
from seqkit.vocabulary import read_corpus
from seqkit_ngram.arpa import write_arpa, write_arpa_blocks
from seqkit_ngram.counts import Counts, NgramCounter, build_orders
from seqkit_ngram.estimate import FALLBACK, estimate
from seqkit_ngram.external import Spool

SPECIALS = ("<unk>", "<s>", "</s>")  # ids 0, 1, 2, as the counting code expects
END_OF_SENTENCE = 2


def run(*, corpus, output, order, smoothing, add_k, discount_fallback, min_count, max_vocab, errors,
        max_sentence_len, quiet, prune=None, memory=None, temp_dir=None, binary=False, engine="local",
        scheduler=None) -> None:
    """Read and encode the corpus, count it in chunks within `memory` bytes (spilling sorted runs to
    `temp_dir`), derive every order's counts, smooth, prune and write the ARPA file: in memory when the
    model fits in `memory`, else on disk a slice at a time (`streaming`)."""
    reporter = Reporter(quiet)
    check_output_path(output, corpus, model=binary)
    started = time.perf_counter()
    _no_hugepage_advice()
    stats = CorpusStats()
    job = Job(order, smoothing, add_k, discount_fallback, prune, binary, output, stats, reporter, started,
              memory if memory is not None else default_memory(), temp_dir)
    if engine == "dask":
        vocab, tables, tokens, sentences = _count_on_cluster(corpus, order, min_count, max_vocab, errors,
                                                             max_sentence_len, memory, scheduler, stats, reporter)
        job.work = _left_for_work(job.memory)
        if order > 1 and in_memory_bytes(len(tables[-1][1]), order) > job.work:
            from seqkit_ngram.streaming import top_order

            with Spool(job.temp_dir) as spool:
                top = top_order(iter([tables.pop()]), order, spool)
                _bounded(job, vocab.words, tables, top, spool)
            return
        counts = Counts(vocab.words, build_orders(tables, order, len(vocab)), tokens, sentences)
        del tables
        _estimate_and_write(job, counts)
        return
    # an open vocabulary numbers words as they first appear; a closed one, most frequent first
    vocab, _, encoded = read_corpus(corpus, min_count=min_count, max_vocab=max_vocab, specials=SPECIALS,
                                    order="frequency" if min_count > 1 or max_vocab else "first-seen",
                                    unknown="<unk>", errors=errors, max_sentence_len=max_sentence_len,
                                    stats=stats, reporter=reporter)
    refuse_boundary_words(vocab, corpus, errors)
    release_compiler_pages()  # the reader's kernels are done: LLVM's code need not be resident while counting
    job.work = _left_for_work(job.memory)
    spool = Spool(temp_dir) if order > 1 else None  # the on-disk model, if the budget calls for it
    try:
        with encoded, reporter.task("counting n-grams", total=None), \
                NgramCounter(order, job.work, temp_dir) as counter:
            # runs of sentences that fill a counting chunk once each sentence has its </s>
            words = encoded.n_tokens * counter.chunk_tokens() // (encoded.n_tokens + encoded.n_sentences)
            ids = offsets = None
            for ids, offsets in iter_runs(encoded, max(words, 1)):
                counter.add(*with_end_marks(ids, offsets, END_OF_SENTENCE), len(vocab))
            if counter.spills:
                reporter.info(f"counts outgrew --memory {job.memory:,} bytes: merged {counter.spills} sorted "
                              "runs from disk")
            lower, top = counter.finish_blocks(len(vocab))
            tables = None
            if order == 1 or not counter.spills:  # the top order is in memory already (unigrams are few)
                table = _joined(list(top), order)
                if order == 1 or in_memory_bytes(len(table[1]), order) <= job.work:
                    tables = [*lower, table]
                top = iter([table])
                del table
            if tables is None:  # the model outgrows the budget: its top order to disk as the runs merge
                from seqkit_ngram.streaming import top_order

                top = top_order(top, order, spool)
        del encoded, ids, offsets  # the corpus's ids (the last run is a view of them) are not needed any more
        if tables is None:
            _bounded(job, vocab.words, lower, top, spool)
            return
    finally:
        if spool is not None:
            spool.close()
    counts = Counts(vocab.words, build_orders(tables, order, len(vocab)), counter.tokens, counter.sentences)
    del tables, lower, top
    _estimate_and_write(job, counts)


def refuse_boundary_words(vocab, corpus: list[str], errors: str) -> None:
    """A `<s>` or `</s>` in the text would be counted as a sentence boundary inside a sentence, giving `</s>`
    a back-off and probabilities that no longer sum to one; lmplz refuses such text too. The error names
    the first line holding one (read again only then; stdin cannot be)."""
    found = [word for word in SPECIALS[1:] if vocab.counts[vocab.index[word]] > 0]
    if not found:
        return
    from seqkit.errors import DataError
    from seqkit.textio import text_lines

    message = (f"{found[0]!r} marks a sentence boundary and cannot be a word of the text (lmplz refuses it "
               "too): remove or replace it")
    for path in corpus:
        if path == "-":
            continue
        for line_no, line in enumerate(text_lines(path, errors), 1):
            if any(word in line.split() for word in found):
                raise DataError(message, path, line_no)
    raise DataError(message, corpus[0] if len(corpus) == 1 else None)


def _count_on_cluster(corpus, order, min_count, max_vocab, errors, max_sentence_len, memory, scheduler, stats,
                      reporter):
    """The vocabulary and full-window tables the local path builds, counted on a Dask cluster."""
    from seqkit.scale.engine import cluster_client, count_words
    from seqkit_ngram.distributed import count_ngram_tables

    with cluster_client(scheduler, reporter) as client:
        vocab, _ = count_words(client, corpus, min_count=min_count, max_vocab=max_vocab, specials=SPECIALS,
                               order="frequency" if min_count > 1 or max_vocab else "first-seen", errors=errors,
                               max_sentence_len=max_sentence_len, stats=CorpusStats(), reporter=reporter)
        refuse_boundary_words(vocab, corpus, errors)
        tables, tokens, sentences = count_ngram_tables(
            client, corpus, vocab, unknown="<unk>", order=order, memory=memory,
            errors=errors, max_sentence_len=max_sentence_len, stats=stats, reporter=reporter)
    return vocab, tables, tokens, sentences


@dataclass
class Job:
    """What to estimate and where to write it, for either path."""

    order: int
    smoothing: str
    add_k: float
    discount_fallback: bool
    prune: list[int] | None
    binary: bool
    output: str
    stats: CorpusStats
    reporter: Reporter
    started: float
    memory: int              # the budget (-S) for the whole process
    temp_dir: str | None
    work: int = 0            # what the budget leaves once the corpus is read: counting and the passes use it


WORK_FLOOR = 64 << 20
BYTES_PER_NGRAM = 64  # in-memory path: peak RSS per top-order n-gram per order, measured on a 20 MB slice


def in_memory_bytes(top_rows: int, order: int) -> int:
    """About what `build_orders`, `estimate` and `write_arpa` hold for a model with `top_rows` N-grams."""
    return BYTES_PER_NGRAM * top_rows * order


def _joined(blocks: list, order: int):
    """One table from sorted blocks."""
    if len(blocks) == 1:
        return blocks[0]
    if not blocks:
        return np.zeros((0, order), dtype=np.int32), np.zeros(0, dtype=np.int64)
    return np.concatenate([w for w, _ in blocks]), np.concatenate([c for _, c in blocks])


def _estimate_and_write(job: Job, counts) -> None:
    model = estimate(counts, job.smoothing, fallback=FALLBACK if job.discount_fallback else None, k=job.add_k,
                     prune=job.prune)
    del counts
    if job.binary:
        from seqkit_ngram.binary import build_tables, write_binary

        write_binary(build_tables(model.vocab, model.words, model.logprob, model.backoff), job.output)
    else:
        write_arpa(model, job.output)
    _finish(job, [len(w) for w in model.words], model.fallback_orders, "in memory")


def _bounded(job: Job, vocab_words: list[str], lower, top, spool) -> None:
    """Build, smooth and write the model on disk, a slice at a time, within the budget (`streaming`), from
    the top order already in `spool` and the small tables of windows beginning with <s>."""
    from seqkit_ngram.streamestimate import model_sections, sizes
    from seqkit_ngram.streaming import build_lower, index_orders, prune_orders

    V, memory = len(vocab_words), job.work
    orders = [top]
    for n in range(job.order - 1, 0, -1):
        orders.insert(0, build_lower(orders[0], lower[n - 1], V, memory, spool))
    if job.prune and any(job.prune):  # the closure runs top down, before the probabilities
        index_orders(orders, V, memory, spool)
        prune_orders(orders, job.prune, memory, spool)
    kept = sizes(orders)
    fallback_orders: list[int] = []
    sections = model_sections(orders, V, job.smoothing, FALLBACK if job.discount_fallback else None,
                              job.add_k, memory, spool, fallback_orders)
    if job.binary:
        from seqkit_ngram.binary import build_tables, write_binary

        model = [_joined_blocks(list(section), o.n) for section, o in zip(sections, orders)]
        write_binary(build_tables(vocab_words, *map(list, zip(*model))), job.output)
    else:
        write_arpa_blocks(job.output, vocab_words, kept, sections)
    _finish(job, kept, fallback_orders, "on disk")


def _joined_blocks(blocks: list, n: int):
    """(words, logprob, backoff) of one order from its blocks (the binary form is built in memory)."""
    if not blocks:
        return np.zeros((0, n), dtype=np.int32), np.zeros(0), np.zeros(0)
    return tuple(np.concatenate([b[i] for b in blocks]) for i in range(3))


def _left_for_work(budget: int) -> int:
    """The budget less what the process holds already (interpreter, libraries, vocabulary, encoded
    corpus), so that -S bounds the whole process's resident memory. A budget below what the process holds
    cannot be kept; it then goes to the work whole, up to WORK_FLOOR, so that it still works in slices."""
    try:
        with open("/proc/self/statm") as handle:
            resident = int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):  # pragma: no cover - not Linux
        resident = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return max(budget - resident, min(budget, WORK_FLOOR))


def _finish(job: Job, sizes: list[int], fallback_orders: list[int], where: str) -> None:
    for n in fallback_orders:
        job.reporter.warn(f"{n}-gram discounts could not be estimated; using the fallback "
                          f"{' '.join(map(str, FALLBACK))}")
    text = " ".join(f"{n}:{size:,}" for n, size in enumerate(sizes, 1))
    pruned = f" (pruned {' '.join(map(str, job.prune))})" if job.prune and any(job.prune) else ""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux
    job.reporter.summary(f"ngram: order {job.order} {job.smoothing} from {job.stats.describe()}; "
                         f"n-grams {text}"
                         f"{pruned}; {time.perf_counter() - job.started:.2f} s, memory {_size(job.memory)} "
                         f"({where}), peak RSS {_size(peak)} -> {job.output}")


def _size(size: int) -> str:
    for unit, scale in (("G", 1 << 30), ("M", 1 << 20), ("K", 1 << 10)):
        if size >= scale:
            return f"{size / scale:.1f}{unit}"
    return f"{size}b"


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

