"""What `seqkit ngram` does (imported only when the command runs)."""

from __future__ import annotations

import time
from collections import Counter

import numpy as np

from seqkit.corpus import CorpusStats, iter_sentences, materialize_stdin
from seqkit.errors import SeqkitError
from seqkit.progress import Reporter
from seqkit.textio import check_output_path
from seqkit_ngram.arpa import write_arpa
from seqkit_ngram.counts import count_ngrams, encode_text
from seqkit_ngram.estimate import FALLBACK, estimate


def run(*, corpus, output, order, smoothing, add_k, discount_fallback, min_count, max_vocab, errors,
        max_sentence_len, quiet) -> None:
    reporter = Reporter(quiet)
    check_output_path(output)
    started = time.perf_counter()
    paths = materialize_stdin(corpus, reporter) if (min_count > 1 or max_vocab) else corpus
    stats = CorpusStats()

    def sentences():
        return iter_sentences(paths, errors=errors, max_sentence_len=max_sentence_len, stats=stats)

    vocab = ["<unk>", "<s>", "</s>"]
    index = {b"<unk>": 0, b"<s>": 1, b"</s>": 2}
    if min_count > 1 or max_vocab:
        counts = Counter()
        for tokens in sentences():
            counts.update(tokens)
        ranked = [w for w, c in sorted(counts.items(), key=lambda item: -item[1]) if c >= min_count]
        ranked = [w for w in ranked if w not in index][: max_vocab]
        for word in ranked:
            index[word] = len(vocab)
            vocab.append(word.decode("utf-8"))
        closed = dict(index)
        stream = ([w if w in closed else b"<unk>" for w in tokens] for tokens in sentences())
        stats = CorpusStats()
        ids, lengths = encode_text(stream, index, vocab)
    else:
        ids, lengths = encode_text(sentences(), index, vocab)
    if len(lengths) == 0:
        raise SeqkitError("the corpus is empty: no sentences to count")
    with reporter.task("counting n-grams", total=None):
        counts = count_ngrams(ids, lengths, order, vocab)
    model = estimate(counts, smoothing, fallback=FALLBACK if discount_fallback else None, k=add_k)
    for n in model.fallback_orders:
        reporter.warn(f"{n}-gram discounts could not be estimated; using the fallback {' '.join(map(str, FALLBACK))}")
    write_arpa(model, output)
    sizes = " ".join(f"{n}:{len(w):,}" for n, w in enumerate(model.words, 1))
    reporter.summary(f"ngram: order {order} {smoothing} from {stats.describe()}; n-grams {sizes}; "
                     f"{time.perf_counter() - started:.2f} s -> {output}")
