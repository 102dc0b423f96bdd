"""Training: read the corpus through the core, count word ids, write the model."""

from __future__ import annotations

import numpy as np

from seqkit.corpus import CorpusStats
from seqkit.progress import Reporter
from seqkit.textio import check_output_path
from seqkit.vocabulary import read_corpus
from seqkit_unigram import model


def run(corpus: list[str], output: str, *, min_count: int, add_k: float, errors: str, quiet: bool) -> None:
    reporter = Reporter(quiet)
    check_output_path(output)  # a bad -o fails now, not after reading the corpus
    stats = CorpusStats()
    vocab, build, encoded = read_corpus(corpus, min_count=min_count, specials=(model.UNK, model.EOS),
                                        unknown=model.UNK, errors=errors, stats=stats, reporter=reporter,
                                        in_memory=True)
    # Count the ids, not `vocab.counts`: the ids include the rare words mapped to <unk>, and one </s>
    # ends every sentence (the vocabulary's counts for the specials are 0).
    counts = np.bincount(encoded.ids, minlength=len(vocab)).astype(np.int64)
    counts[vocab.id(model.EOS)] += encoded.n_sentences
    training = {"tokens": int(counts.sum()), "sentences": encoded.n_sentences, "min_count": min_count}
    model.save(output, vocab.words, counts, add_k=add_k, training=training)
    reporter.summary(f"unigram: {stats.describe()}; {build.describe(min_count)}; "
                     f"{len(vocab):,} words with <unk> and </s>; wrote {output}")
