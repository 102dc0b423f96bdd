"""What `seqkit word2vec` does, step by step (imported only when the command runs)."""

from __future__ import annotations

from seqkit.corpus import CorpusStats
from seqkit.errors import SeqkitError
from seqkit.memory import memory_estimate, return_free_heap
from seqkit.progress import Reporter
from seqkit.textio import check_output_path
from seqkit.vectors import Embeddings
from seqkit.vocabulary import Vocabulary, read_corpus
from seqkit_word2vec.train import Config, load_kernels, row_width, train


def default_lr(skip_gram: bool, subword: bool) -> float:
    """word2vec's 0.025 for skip-gram, 0.05 for CBOW; fastText's 0.05 for both with character n-grams, where
    skip-gram learns much faster with it (2M words, 2 epochs: analogies 31.8 vs 20.2 %, WS353 0.265 vs 0.234)."""
    return 0.05 if subword or not skip_gram else 0.025


def run(*, corpus: list[str], output: str, model: str, loss: str, dim: int, window: int, negative: int,
        ns_exponent: float | None,
        sample: float, min_count: int, max_vocab: int | None, epochs: int, lr: float | None, min_lr: float,
        cbow_mean: bool, batch_negatives: bool, binary: bool, save_vocab: str | None, read_vocab: str | None,
        threads: int, seed: int, errors: str, max_sentence_len: int, quiet: bool, engine: str = "local",
        scheduler: str | None = None, minn: int = 0, maxn: int = 0, buckets: int = 2_000_000,
        save_model: str | None = None) -> None:
    reporter = Reporter(quiet)
    # a bad path, or one that would overwrite an input, fails now, not after an hour of training
    inputs = [*corpus, read_vocab]
    check_output_path(output, inputs)
    if save_model:
        check_output_path(save_model, inputs, outputs=[output], param_hint="'--save-model'", model=True)
    if save_vocab:  # the outputs are written one after another: one path for two of them would lose one
        check_output_path(save_vocab, inputs, outputs=[output, save_model], param_hint="'--save-vocab'")
    skip_gram = model == "sg"
    if ns_exponent is None:
        # word2vec's counts^0.75 for skip-gram; CBOW learns better analogies from fastText's flatter
        # counts^0.5 (benchmark corpus, 5 epochs: 36.5 vs 34.3 %), and so does skip-gram with character
        # n-grams (53.5 vs 52.5 %, as fastText trains it), so that is their default
        ns_exponent = 0.75 if skip_gram and maxn == 0 else 0.5
    config = Config(skip_gram=skip_gram, hs=loss in ("hs", "ns+hs"), negative=negative if "ns" in loss else 0,
                    ns_exponent=ns_exponent,
                    dim=dim, window=window, sample=sample, epochs=epochs,
                    lr=lr if lr is not None else default_lr(skip_gram, maxn > 0), min_lr=min_lr,
                    cbow_mean=cbow_mean, batch_negatives=batch_negatives, threads=threads, seed=seed)
    if config.min_lr > config.lr:
        config.min_lr = config.lr
    subword = maxn > 0
    if subword:
        from seqkit_word2vec.subword_train import load_subword_kernels

        load_subword_kernels(config, minn, maxn)
    else:
        load_kernels(config)  # before the corpus: the compiler's memory is given back before the model's is taken

    stats = CorpusStats()
    vocab = None
    if read_vocab:
        full = Vocabulary.load(read_vocab, errors=errors)
        kept = full.counts >= min_count
        if not kept.any():
            raise SeqkitError(f"0 of {len(full):,} words in {read_vocab} occur >= {min_count} times; "
                              "lower --min-count")
        vocab = Vocabulary([w for w, k in zip(full.words, kept) if k][:max_vocab], full.counts[kept][:max_vocab])
    build = None
    if engine == "dask" and vocab is None:  # the vocabulary pass on the cluster; encoding and training here
        from seqkit.scale.engine import cluster_client, count_words

        with cluster_client(scheduler, reporter) as client:
            vocab, build = count_words(client, corpus, min_count=min_count, max_vocab=max_vocab, errors=errors,
                                       max_sentence_len=max_sentence_len, stats=CorpusStats(), reporter=reporter)
    # one pass counts and encodes; --max-vocab counts first (pruning to bound memory), then encodes
    with reporter.task("reading corpus", total=None):  # the ids go to disk: memory does not grow with the corpus
        vocab, local_build, encoded = read_corpus(corpus, vocabulary=vocab, min_count=min_count,
                                                  max_vocab=max_vocab, errors=errors,
                                                  max_sentence_len=max_sentence_len, stats=stats, reporter=reporter)
    build = build or local_build
    vocab_note = f"{len(vocab):,} words from {read_vocab}" if build is None else build.describe(min_count)
    return_free_heap()  # what counting the words freed, before the weights are allocated
    if save_vocab:
        vocab.save(save_vocab)
    if subword:
        from seqkit_word2vec.subword_command import train_and_save

        return train_and_save(vocab, encoded, config, reporter, vocab_note=vocab_note, stats=stats, output=output,
                              save_model=save_model, binary=binary, minn=minn, maxn=maxn, buckets=buckets,
                              model=model, loss=loss, min_count=min_count)
    matrices = 1 + (config.negative > 0) + config.hs
    model_size = memory_estimate(len(vocab), row_width(dim), matrices)  # the rows as stored, padding included
    reporter.info(f"vocabulary: {vocab_note}; model needs about {model_size}")
    with encoded:
        if encoded.n_tokens == 0:
            raise SeqkitError("no in-vocabulary words to train on")
        vectors, result = train(vocab, encoded, config, reporter)
    Embeddings(vocab.words, vectors).save(output, binary=binary)
    mode = f"{model}-{loss}" + (" (batch negatives)" if batch_negatives else "")
    reporter.summary(f"word2vec {mode}: {len(vocab):,} words x {dim} from {stats.describe()}; {epochs} epochs "
                     f"in {result.seconds:.1f} s ({result.words_per_second:,.0f} words/s, {threads} threads), "
                     f"final loss {result.loss:.4f} -> {output}")
