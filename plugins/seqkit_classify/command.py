"""What `seqkit classify` does, step by step (imported only when the command runs)."""

from __future__ import annotations

import os

import numpy as np

from seqkit.corpus import CorpusStats
from seqkit.errors import DataError, SeqkitError
from seqkit.memory import memory_estimate
from seqkit.progress import Reporter
from seqkit.sampling import huffman_tree
from seqkit.textio import check_output_path, text_lines
from seqkit_classify import modelfile
from seqkit_classify.data import POOLING_LR, Examples, check_unlabelled, model_settings, read_examples, spooled
from seqkit_classify.scoring import Metric, Validation, measure
from seqkit.startup import no_blas_probe
from seqkit_classify.train import Config, Weights, compact, init_weights, load_kernels
from seqkit_classify.train import train as train_model

# Small data needs more passes and a larger step than fastText's 5 epochs at lr 0.1 (which leave a
# 10k-line set near chance): epochs grow as the data shrinks, between these bounds.
DEFAULT_EPOCHS, MAX_EPOCHS = 5, 25
EPOCH_TOKENS = 2_000_000  # below this many training tokens, epochs scale up
SMALL_DATA_LR = 0.5
DEFAULT_LR = 0.1


def run(*, train: tuple[str, ...], output: str, valid: str | None, patience: int, label_prefix: str, loss: str, dim: int,
        lr: float | None, epochs: int | None, word_ngrams: int, buckets: int, minn: int, maxn: int, pooling: str,
        min_count: int, min_count_label: int, negative: int, class_weight: str | None,
        pretrained_vectors: str | None, strict: bool, threads: int, seed: int, errors: str, quiet: bool) -> None:
    reporter = Reporter(quiet)
    check_output_path(output, (*train, valid, class_weight, pretrained_vectors), model=True)  # now, not after training
    paths = spooled(list(train), reporter) if strict else list(train)
    settings = model_settings(label_prefix, word_ngrams, buckets, minn, maxn, pooling)
    stats = CorpusStats()
    with reporter.task("reading training data", total=None), no_blas_probe():  # the first kernel call
        dictionary, examples = read_examples(paths, settings, min_count=min_count, min_count_label=min_count_label,
                                             errors=errors, stats=stats)
    check_unlabelled(examples, paths, label_prefix, strict, errors, reporter)
    if len(examples) == 0:
        raise SeqkitError(f"no labelled lines in {', '.join(train)}")
    n_tokens = float(examples.tokens.sum())
    config = Config(loss=loss, dim=dim, negative=negative, threads=threads, seed=seed, pooling=pooling,
                    lr=lr if lr is not None else default_lr(n_tokens, pooling),
                    epochs=epochs if epochs is not None else default_epochs(n_tokens))
    load_kernels(config)
    bucket_ids = compact(examples, len(dictionary.words))
    weights = init_weights(dictionary, bucket_ids, config)
    reporter.info(f"{len(examples):,} examples, {len(dictionary.words):,} words, {len(dictionary.labels):,} labels, "
                  f"{len(bucket_ids):,} n-gram buckets used; model needs about "
                  f"{memory_estimate(weights.input.shape[0] + weights.output.shape[0], dim, 1)}")
    if pretrained_vectors:
        _pretrained(pretrained_vectors, dictionary.words, weights, errors, reporter)
    weight_of_class = class_weights(class_weight, dictionary.labels, dictionary.label_counts, errors)
    tracker = None
    if valid:
        _, held_out = read_examples([valid], settings, errors=errors, dictionary=dictionary)
        if len(held_out) == 0:
            raise SeqkitError(f"{valid}: no lines with a label the training data has")
        if held_out.unlabelled:
            reporter.warn(f"{valid}: {held_out.unlabelled:,} lines without a label the training data has are "
                          "not scored")
        tree = huffman_tree(dictionary.label_counts) if loss == "hs" else None
        tracker = BestEpoch(held_out, weights, len(dictionary.words), tree, pooling, patience, reporter)
    result = train_model(dictionary, examples, weights, config, weight_of_class,
                   on_epoch=tracker.update if tracker else None, reporter=reporter)
    kept = tracker.best_weights() if tracker else weights
    training = {"epochs": len(result.losses), "lr": config.lr, "losses": result.losses, "seed": seed,
                "examples": len(examples), "skipped_unlabelled": examples.unlabelled}
    if tracker:
        training.update(best_epoch=tracker.best_epoch + 1, valid_precision=tracker.best, history=tracker.history)
    else:
        training["history"] = [{"epoch": e + 1, "train_loss": x} for e, x in enumerate(result.losses)]
    modelfile.save(output, dictionary, settings, loss, kept.input, kept.output, kept.bucket_ids, training)
    best = f"; best epoch {tracker.best_epoch + 1} (valid P@1 {tracker.best:.4f})" if tracker else ""
    reporter.summary(
        f"classify {loss}{', sqrt pooling' if pooling == 'sqrt' else ''}: {len(examples):,} examples "
        f"({stats.describe()}), {len(dictionary.words):,} words, "
        f"{len(dictionary.labels):,} labels, {len(bucket_ids):,} buckets; {len(result.losses)} epochs at lr "
        f"{config.lr:g} in {result.seconds:.1f} s ({result.tokens_per_second:,.0f} tokens/s, {threads} threads), "
        f"loss {result.losses[-1]:.4f}{best} -> {output} ({_size(output)})")


def default_lr(n_tokens: float, pooling: str) -> float:
    """fastText's 0.1 on large data, SMALL_DATA_LR on small, scaled for the pooling."""
    return (SMALL_DATA_LR if n_tokens < EPOCH_TOKENS else DEFAULT_LR) * POOLING_LR[pooling]


def default_epochs(n_tokens: float) -> int:
    """fastText's 5 epochs on large data, up to MAX_EPOCHS as the data shrinks."""
    return int(min(MAX_EPOCHS, max(DEFAULT_EPOCHS, round(DEFAULT_EPOCHS * EPOCH_TOKENS / max(n_tokens, 1.0) ** 1.0))))


def class_weights(spec: str | None, labels: list[str], counts: np.ndarray, errors: str = "strict") -> np.ndarray:
    """Per-label factor on the learning rate: 1, 'balanced' (sklearn's n / (k * count)) or from a file."""
    weights = np.ones(len(labels), dtype=np.float64)
    if spec is None:
        return weights
    if spec.lower() == "balanced" and not os.path.isfile(spec):
        return counts.sum() / (len(labels) * counts.astype(np.float64))
    index = {label: i for i, label in enumerate(labels)}
    given: dict[str, int] = {}
    for number, line in enumerate(text_lines(spec, errors), 1):
        parts = line.split()
        if not parts or parts[0].startswith("#"):
            continue
        if len(parts) != 2:
            raise DataError(f"expected `label weight`, found {len(parts)} fields", spec, number)
        label = parts[0]
        if label not in index:
            raise DataError(f"label {parts[0]!r} is not in the training data", spec, number)
        if label in given:
            raise DataError(f"label {label!r} is given again (first on line {given[label]})", spec, number)
        given[label] = number
        try:
            value = float(parts[1])
        except ValueError:
            raise DataError(f"weight {parts[1]!r} is not a number", spec, number) from None
        if not (value >= 0 and np.isfinite(value)):
            raise DataError(f"weight {value} must be finite and >= 0", spec, number)
        weights[index[label]] = value
    if not weights.any():
        raise DataError("every label's weight is 0: nothing would be learnt", spec)
    return weights


def _pretrained(path: str, words: list[str], weights: Weights, errors: str, reporter: Reporter) -> None:
    from seqkit.vectors import Embeddings

    vectors = Embeddings.load(path, errors=errors, reporter=reporter)
    if vectors.matrix.shape[1] != weights.input.shape[1]:
        raise SeqkitError(f"{path}: vectors have dimension {vectors.matrix.shape[1]}, but --dim is "
                          f"{weights.input.shape[1]}")
    found = 0
    for i, word in enumerate(words):
        row = vectors.index.get(word)
        if row is not None:
            weights.input[i] = vectors.matrix[row]
            found += 1
    reporter.info(f"pretrained vectors: {found:,} of {len(words):,} words found in {path}")


class BestEpoch:
    """P@1 on the validation lines after each epoch; keeps a copy of the best epoch's weights."""

    def __init__(self, examples: Examples, weights: Weights, n_words: int, tree, pooling: str, patience: int,
                 reporter: Reporter):
        self.weights, self.tree, self.pooling, self.patience, self.reporter = weights, tree, pooling, patience, reporter
        self.validation = Validation(examples, weights.bucket_ids, n_words)
        self.n_labels = weights.output.shape[0] + (1 if tree is not None else 0)
        self.best, self.best_epoch, self.saved = -1.0, -1, None
        self.history: list[dict] = []

    def precision(self) -> float:
        v = self.validation
        top = v.top_labels(self.weights.input, self.weights.output, self.tree, self.pooling, 1)
        return measure(Metric("precision"), top, v.labels, v.label_offsets, self.n_labels)

    def update(self, epoch: int, loss: float) -> bool:
        value = self.precision()
        self.history.append({"epoch": epoch + 1, "train_loss": loss, "valid_precision_at_1": value})
        self.reporter.info(f"epoch {epoch + 1}: loss {loss:.4f}, valid P@1 {value:.4f}")
        if value > self.best:
            self.best, self.best_epoch = value, epoch
            self.saved = Weights(self.weights.input.copy(), self.weights.output.copy(), self.weights.bucket_ids)
        if epoch - self.best_epoch >= self.patience:
            self.reporter.info(f"stopping: no better validation P@1 for {self.patience} epochs")
            return False
        return True

    def best_weights(self) -> Weights:
        return self.saved if self.saved is not None else self.weights


def _size(path: str) -> str:
    if path == "-":
        return "on stdout"
    size = os.path.getsize(path)
    return f"{size / 1e6:.1f} MB" if size >= 1e5 else f"{size / 1e3:.1f} kB"
