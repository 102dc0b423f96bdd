"""What `seqkit word2vec --minn N --maxn M` does once the vocabulary is read: train, then write the
vectors and the model (imported only when the command runs)."""

from __future__ import annotations

import os

import numpy as np

from seqkit import fasttext_bin
from seqkit.errors import SeqkitError
from seqkit.memory import memory_estimate
from seqkit.subword import fasttext_args
from seqkit.textio import atomic_output
from seqkit.vectors import Embeddings
from seqkit.vocabulary import Vocabulary
from seqkit_word2vec.subword_train import FullInput, output_rows, subword_table, train_subword, word_vectors, write_npz
from seqkit_word2vec.train import Config, row_width

MODEL_SUFFIXES = (".npz", ".bin")


def model_format(path: str) -> str | None:
    """'npz' or 'bin' when `path` names a model file by its extension, else None (vectors)."""
    suffix = os.path.splitext(path)[1].lower()
    return suffix[1:] if suffix in MODEL_SUFFIXES else None


def train_and_save(vocab: Vocabulary, encoded, config: Config, reporter, *, vocab_note: str, stats, output: str,
                   save_model: str | None, binary: bool, minn: int, maxn: int, buckets: int, model: str, loss: str,
                   min_count: int) -> None:
    if any(path is not None and model_format(path) == "bin" for path in (output, save_model)):
        held = next((w for w in vocab.words if "\0" in w), None)
        if held is not None:  # checked before training: the .bin's words end at a NUL byte
            raise SeqkitError(f"the word {held!r} holds a NUL byte, which fastText's .bin cannot store (fastText "
                              "reads NUL as a space): save the model as .npz, or replace the NUL bytes")
    table = subword_table(vocab.words, minn, maxn, buckets)
    used, dim = len(table.bucket_ids), config.dim
    out_rows = (len(vocab) if config.negative else 0) + (max(len(vocab) - 1, 1) if config.hs else 0)
    needs = memory_estimate(table.compact_rows + out_rows, row_width(dim), 1)  # the rows as stored, padded
    file_size = memory_estimate(len(vocab) * 2 + buckets, dim, 1)
    reporter.info(f"vocabulary: {vocab_note}; {used:,} of {buckets:,} n-gram buckets in use; model needs about "
                  f"{needs} (its file, every bucket kept, about {file_size})")
    with encoded:
        if encoded.n_tokens == 0:
            raise SeqkitError("no in-vocabulary words to train on")
        compact, out_matrix, result = train_subword(vocab, encoded, config, table, reporter)
    written = []
    for path in (output, save_model):
        if path is None:
            continue
        fmt = model_format(path)
        if fmt is None:
            Embeddings(vocab.words, word_vectors(compact, table)).save(path, binary=binary)
        else:
            _save_model(path, fmt, vocab, compact, out_matrix, table, config, model=model, loss=loss,
                        min_count=min_count)
        written.append(path)
    mode = f"{model}-{loss}"
    reporter.summary(f"word2vec {mode} with {minn}-{maxn} character n-grams: {len(vocab):,} words + {buckets:,} "
                     f"buckets ({used:,} in use) x {dim}, model file about {file_size}, from {stats.describe()}; "
                     f"{config.epochs} epochs in {result.seconds:.1f} s ({result.words_per_second:,.0f} words/s, "
                     f"{config.threads} threads), final loss {result.loss:.4f} -> {', '.join(written)}")


def _save_model(path: str, fmt: str, vocab: Vocabulary, compact: np.ndarray, out_matrix: np.ndarray, table,
                config: Config, *, model: str, loss: str, min_count: int) -> None:
    full = FullInput(compact, table, config.seed)
    output = output_rows(out_matrix, len(vocab))
    settings = {"model": model, "loss": loss, "window": config.window, "negative": config.negative,
                "epochs": config.epochs, "sample": config.sample, "min_count": min_count,
                "output": "noise" if config.negative else "tree nodes"}
    with atomic_output(path, binary=True) as out:
        if fmt == "npz":
            write_npz(out, vocab.words, vocab.counts, full, output, settings)
            return
        args = fasttext_args(settings, dim=config.dim, buckets=table.buckets, minn=table.minn, maxn=table.maxn)
        fasttext_bin.write(out, fasttext_bin.unsupervised(vocab.words, vocab.counts, full, output, args))
