"""What `seqkit classify --model birnn` does, step by step (imported only when it runs)."""

from __future__ import annotations

import json
import os

import click
import numpy as np

from seqkit.corpus import CorpusStats, locate_line, materialize_stdin
from seqkit.errors import DataError, Interrupted, SeqkitError
from seqkit.interrupts import deferred_interrupt
from seqkit.progress import Reporter
from seqkit.textio import check_output_path

DEFAULT_LR = {"adam": 0.001, "sgd": 0.1}
DEFAULT_EPOCHS = 5


def run(*, train: tuple[str, ...], output: str, valid: str | None, patience: int, label_prefix: str, epochs: int | None,
        lr: float | None, dim: int, min_count: int, pretrained_vectors: str | None, as_json: bool, strict: bool,
        threads: int, seed: int, errors: str, quiet: bool, cell: str, hidden: int, layers: int, pool: str,
        dropout: float, optimizer: str, batch: int, clip: float, freeze_embeddings: bool, max_length: int) -> None:
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    from seqkit.recurrent.blas import single_threaded_blas
    from seqkit_seq2seq import classifier_model
    from seqkit_seq2seq.classifier_data import clip as clip_lines
    from seqkit_seq2seq.classifier_data import encode, read_lines, vocabulary
    from seqkit_seq2seq.classifier_network import Config, init_params
    from seqkit_seq2seq.classifier_train import Schedule, load_kernels
    from seqkit_seq2seq.classifier_train import train as train_network

    if freeze_embeddings and not pretrained_vectors:
        raise click.UsageError("--freeze-embeddings keeps the -v/--pretrained-vectors embedding fixed: give -v")
    reporter = Reporter(quiet)
    check_output_path(output, (*train, valid, pretrained_vectors), model=True)
    paths = materialize_stdin(list(train), reporter)
    stats = CorpusStats()
    with reporter.task("reading training data", total=None):
        lines = read_lines(paths, label_prefix, errors, stats)
        words, labels = vocabulary(lines, min_count)
        examples = encode(lines, words, labels, errors)
    if examples.skipped:
        if strict:
            path, number = locate_line(paths, examples.first_skipped)
            raise DataError(f"no label (no token starting with {label_prefix!r}; --strict)", path, number)
        reporter.warn(f"skipped {examples.skipped:,} lines without a label")
    if len(examples) == 0:
        raise SeqkitError(f"no labelled lines in {', '.join(train)}")
    if cut := clip_lines(examples, max_length):
        reporter.warn(f"{cut:,} training lines longer than --max-length {max_length} tokens were cut to it")
    held_out = None
    if valid:
        held_out = encode(read_lines([valid], label_prefix, errors), words, labels, errors)
        if len(held_out) == 0:
            raise SeqkitError(f"{valid}: no lines with a label the training data has")
        if cut := clip_lines(held_out, max_length):
            reporter.warn(f"{cut:,} validation lines longer than --max-length {max_length} tokens were cut to it")
    config = Config(cell=cell, layers=layers, dim=dim, hidden=hidden, pool=pool, dropout=dropout)
    schedule = Schedule(optimizer=optimizer, lr=lr if lr is not None else DEFAULT_LR[optimizer],
                        epochs=epochs if epochs is not None else DEFAULT_EPOCHS, batch=batch, clip=clip,
                        patience=patience, seed=seed, freeze_embeddings=freeze_embeddings)
    with single_threaded_blas():
        load_kernels()
        params = init_params(config, len(words), len(labels), np.random.default_rng(seed))
        if pretrained_vectors:
            _pretrained(pretrained_vectors, words, params["embed"], errors, reporter)
        reporter.info(f"birnn: {len(examples):,} examples, {len(words):,} words, {len(labels):,} labels, "
                      f"{layers}-layer bidirectional {cell} {hidden}, {pool} pooling, "
                      f"{sum(v.size for v in params.values()):,} parameters")
        with deferred_interrupt() as interrupted:
            result = train_network(params, config, schedule, examples, held_out, reporter=reporter,
                                   interrupted=interrupted, threads=threads)
    training = {"schedule": schedule.as_dict(), "epochs": len(result.losses), "losses": result.losses,
                "examples": len(examples), "skipped_unlabelled": examples.skipped, "history": result.history,
                "seconds": result.seconds, "tokens_per_s": result.tokens_per_second}
    if held_out is not None:
        training.update(best_epoch=result.best_epoch, valid_accuracy=result.best_accuracy)
    classifier_model.save(output, config, result.params, words, labels, label_prefix, training)
    if result.interrupted:
        kept = f"epoch {result.best_epoch}'s model" if result.best_epoch else "the model as it was (no epoch finished)"
        raise Interrupted(f"interrupted; {output} holds {kept}")
    best = (f"; best epoch {result.best_epoch} (valid accuracy {result.best_accuracy:.4f})"
            if held_out is not None else "")
    if as_json:
        click.echo(json.dumps({"model": "birnn", "output": output, "examples": len(examples), "words": len(words),
                               "labels": len(labels), "config": config.as_dict(), **training}))
    reporter.summary(
        f"classify birnn: {len(examples):,} examples ({stats.describe()}), {len(words):,} words, {len(labels):,} "
        f"labels; {len(result.losses)} epochs ({optimizer}, lr {schedule.lr:g}) in {result.seconds:.1f} s "
        f"({result.tokens_per_second:,.0f} tokens/s, {threads} threads), loss {result.losses[-1]:.4f}{best} "
        f"-> {output}" + (f" ({os.path.getsize(output) / 1e6:.1f} MB)" if output != "-" else ""))


def _pretrained(path: str, words: list[str], embed: np.ndarray, errors: str, reporter: Reporter) -> None:
    from seqkit.vectors import Embeddings

    vectors = Embeddings.load(path, errors=errors, reporter=reporter)
    if vectors.dim != embed.shape[1]:
        raise SeqkitError(f"{path}: vectors have dimension {vectors.dim}, but --dim is {embed.shape[1]}")
    found = 0
    for i, word in enumerate(words):
        row = vectors.row(word)
        if row is not None and i > 0:  # row 0 is <pad>, always zero
            embed[i] = vectors.matrix[row]
            found += 1
    reporter.info(f"pretrained vectors: {found:,} of {len(words):,} words found in {path}")
