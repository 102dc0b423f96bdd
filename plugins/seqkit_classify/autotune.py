"""`seqkit classify --autotune-validation`: train configurations chosen by `search`, score each epoch on the
validation lines, then (`refit`) compare the default and the best fully trained configurations and train
the winner on all lines; with --no-autotune-refit, keep the best epoch of all runs as the model.

The corpus is read once; features are computed once per distinct feature setting (word n-grams, buckets,
character n-grams) and shared by the runs that use it. Every run uses the same seed, so two runs differ by
their settings, not by their luck. The trials go to stderr as a table, or as JSON on stdout with --json
(rung 0 is the default configuration's run). The time budget covers the search and the refit: the search
stops early enough for the default's refit, and finalists are cross-validated only while time is left.
The default run and the refit always finish (they are the model), so a budget shorter than about two
default trainings, or a starved CPU, is overrun by them.
"""

from __future__ import annotations

import json
import math
import sys
import time
from dataclasses import asdict

import numpy as np

from seqkit.corpus import CorpusStats
from seqkit.errors import SeqkitError, TrainingDiverged
from seqkit.progress import Reporter
from seqkit.sampling import huffman_tree
from seqkit.textio import check_output_path
from seqkit_classify import modelfile
from seqkit_classify.command import _size, class_weights, default_epochs, default_lr
from seqkit_classify.data import (Settings, build_dictionary, check_unlabelled, featurise, join_lines, read_lines,
                                  spooled)
from seqkit_classify.refit import FINAL_SHARE, FOLDS, Finalist, Refit, choose, finalists, plan
from seqkit_classify.scoring import Metric, Validation, measure, parse_metric
from seqkit_classify.search import Halving, Params, Sampler, Trial, rung_epochs
from seqkit_classify.train import Config, Weights, compact, init_weights, load_kernels, train

MIN_SECONDS, MAX_SECONDS = 60.0, 300.0  # fastText's default budget is 300 s whatever the data
TOKENS_PER_SECOND_OF_BUDGET = 5_000      # so rt-polarity (0.2M tokens) gets 60 s, 1.5M tokens or more 300 s


def default_duration(n_tokens: float) -> float:
    return min(MAX_SECONDS, max(MIN_SECONDS, n_tokens / TOKENS_PER_SECOND_OF_BUDGET))


class Search:
    def __init__(self, lines, valid_lines, dictionary, metric: Metric, class_weight: np.ndarray, base: Config,
                 label_prefix: str, patience: int, rungs: list[int], default_epochs: int, deadline: float | None,
                 end: float | None, growth: float, trials: int | None):
        self.lines, self.valid_lines, self.dictionary, self.metric = lines, valid_lines, dictionary, metric
        self.class_weight, self.base, self.prefix, self.patience = class_weight, base, label_prefix, patience
        self.rungs, self.default_epochs, self.max_trials = rungs, default_epochs, trials
        self.deadline, self.end, self.growth = deadline, end, growth  # end: of the whole budget
        self.features: dict[tuple, tuple] = {}
        self.trials: list[Trial] = []
        self.best: tuple[float, Trial, Weights] | None = None
        self.unlabelled = 0

    def settings(self, p: Params) -> Settings:
        return p.settings(self.prefix)

    def data(self, p: Params):
        """(examples, bucket ids, validation) for the configuration's feature settings, computed once."""
        settings = self.settings(p)
        key = (settings.word_ngrams, settings.buckets, settings.minn, settings.maxn)
        if key not in self.features:
            examples = featurise(self.lines, settings, self.dictionary)
            self.unlabelled = examples.unlabelled
            bucket_ids = compact(examples, len(self.dictionary.words))
            held_out = featurise(self.valid_lines, settings, self.dictionary)
            self.features[key] = (examples, bucket_ids, Validation(held_out, bucket_ids, len(self.dictionary.words)))
        return self.features[key]

    def left(self) -> float:
        return math.inf if self.deadline is None else self.deadline - time.perf_counter()

    def over(self) -> bool:
        return (self.max_trials is not None and len(self.trials) >= self.max_trials) or self.left() <= 0

    def seconds_per_epoch(self, config: int | None = None) -> float:
        runs = [t.seconds / t.epochs_run for t in self.trials
                if t.epochs_run and (config is None or t.config == config)]
        return float(np.median(runs)) if runs else 0.0

    def fit_seconds(self, config: int, epochs: int) -> float:
        """About how long `epochs` epochs of `config` take on the training and validation lines together."""
        return self.seconds_per_epoch(config) * epochs * self.growth

    def fits(self, trial: Trial, epochs: int) -> bool:
        return self.seconds_per_epoch(trial.config) * epochs <= self.left()

    def run(self, trial: Trial) -> Trial:
        p = trial.params
        examples, bucket_ids, validation = self.data(p)
        config = Config(loss=p.loss, dim=p.dim, lr=p.lr, epochs=trial.epochs, negative=self.base.negative,
                        threads=self.base.threads, seed=self.base.seed, pooling=p.pooling)
        load_kernels(config)
        weights = init_weights(self.dictionary, bucket_ids, config)
        tree = huffman_tree(self.dictionary.label_counts) if p.loss == "hs" else None
        key = "valid_" + self.metric.name.replace("@", "_at_").replace(":", "_")
        n_labels = len(self.dictionary.labels)

        def on_epoch(epoch: int, loss: float) -> bool:
            top = validation.top_labels(weights.input, weights.output, tree, p.pooling, self.metric.k)
            value = measure(self.metric, top, validation.labels, validation.label_offsets, n_labels)
            trial.history.append({"epoch": epoch + 1, "train_loss": loss, key: value})
            trial.epochs_run = epoch + 1
            if value > trial.metric:
                trial.metric, trial.best_epoch = value, epoch + 1
                if self.best is None or value > self.best[0]:
                    self.best = (value, trial, Weights(weights.input.copy(), weights.output.copy(), bucket_ids))
            if trial.number > 1 and self.left() <= 0 and epoch + 1 < trial.epochs:
                trial.status = "cut"  # the first run always finishes, so there is always a model
                return False
            if epoch + 1 - trial.best_epoch >= self.patience:
                trial.status = "stopped"
                return False
            return True

        started = time.perf_counter()
        try:
            train(self.dictionary, examples, weights, config, self.class_weight, on_epoch=on_epoch)
        except TrainingDiverged:
            trial.status = "diverged"
        trial.seconds = time.perf_counter() - started
        self.trials.append(trial)
        return trial

    def search(self, sampler: Sampler, halving: Halving, reporter: Reporter, progress) -> None:
        configs: dict[int, Params] = {}
        top_rung = -1
        while not self.trials or not self.over():  # the first run always happens
            parent = halving.promotion(self.trials, self.fits if self.deadline is not None else lambda t, e: True)
            if not self.trials:  # the default configuration at its full epochs, outside the halving
                config, params, rung = 1, sampler.draw(None), -1
            elif parent is not None:
                config, params, rung = parent.config, parent.params, parent.rung + 1
            else:
                if self.deadline is not None and self.trials and \
                        self.seconds_per_epoch() * self.rungs[0] > self.left():
                    break  # not even a first-rung run fits in what is left
                config, rung = len(configs) + 1, 0
                params = sampler.draw(self.best[1].params if self.best else None)
            configs[config] = params
            epochs = self.default_epochs if rung < 0 else self.rungs[rung]
            trial = self.run(Trial(len(self.trials) + 1, config, params, rung, epochs))
            if trial.number == 1 and self.deadline is not None and self.end is not None:
                # the search leaves at least the time the default's refit takes
                self.deadline = min(self.deadline, self.end - self.fit_seconds(1, epochs))
            progress.update(1 if self.max_trials is not None else 0, best=f"{self.best[0]:.4f}" if self.best else "-")
            if rung > top_rung and trial.finished:
                top_rung = rung
                reporter.info(f"rung {rung + 1} ({epochs} epochs): config {config}, "
                              f"{self.metric.name} {trial.metric:.4f}; best so far {self.best[0]:.4f} "
                              f"(trial {self.best[1].number}) after {len(self.trials)} runs")


def run(*, train: tuple[str, ...], output: str, autotune_validation: str, autotune_duration: float | None,
        autotune_trials: int | None, autotune_metric: str, as_json: bool, patience: int, label_prefix: str,
        loss: str, dim: int, lr: float | None, epochs: int | None, word_ngrams: int, buckets: int, minn: int,
        maxn: int, pooling: str, min_count: int, min_count_label: int, negative: int, class_weight: str | None,
        strict: bool, threads: int, seed: int, errors: str, quiet: bool, autotune_refit: bool = True) -> None:
    reporter = Reporter(quiet)
    check_output_path(output, (*train, autotune_validation, class_weight), model=True)  # now, not after the search
    paths = spooled(list(train), reporter) if strict else list(train)
    stats = CorpusStats()
    with reporter.task("reading training data", total=None):
        lines = read_lines(paths, label_prefix, errors=errors, stats=stats)
        dictionary = build_dictionary(lines, min_count, min_count_label)
        valid_lines = read_lines([autotune_validation], label_prefix, errors=errors)
    metric = parse_metric(autotune_metric, dictionary.labels, label_prefix)
    n_tokens = float(np.diff(lines.offsets).sum() + len(lines.offsets) - 1)
    multi_label = bool(np.any(np.bincount(np.repeat(np.arange(len(lines.offsets) - 1), np.diff(lines.offsets)),
                                          weights=lines.is_label[lines.ids]) > 1)) if len(lines.ids) else False
    losses = ("softmax", "ns", "hs") + (("ova",) if multi_label else ())
    start = Params(lr=lr if lr is not None else default_lr(n_tokens, pooling), dim=dim,
                   word_ngrams=word_ngrams, buckets=buckets, loss=loss, minn=minn, maxn=maxn, pooling=pooling)
    full_epochs = epochs if epochs is not None else default_epochs(n_tokens)  # what classify would train
    max_epochs = epochs if epochs is not None else 2 * full_epochs
    rungs = rung_epochs(max_epochs)
    duration = autotune_duration if autotune_duration is not None else (
        None if autotune_trials is not None else default_duration(n_tokens))
    began = time.perf_counter()
    deadline = began + duration if duration is not None else None
    search_share = 1.0 - FINAL_SHARE if autotune_refit else 1.0
    search = Search(lines, valid_lines, dictionary, metric,
                    class_weights(class_weight, dictionary.labels, dictionary.label_counts, errors),
                    Config(negative=negative, threads=threads, seed=seed), label_prefix, patience, rungs, full_epochs,
                    began + search_share * duration if duration is not None else None,
                    deadline if autotune_refit else None,
                    (len(lines.offsets) + len(valid_lines.offsets) - 2) / max(len(lines.offsets) - 1, 1),
                    autotune_trials)
    examples, _, validation = search.data(start)
    check_unlabelled(examples, paths, label_prefix, strict, errors, reporter)
    if len(validation) == 0:
        raise SeqkitError(f"{autotune_validation}: no lines with a label the training data has")
    budget = " and ".join(x for x in (f"{duration:g} s" if duration is not None else "",
                                     f"{autotune_trials} runs" if autotune_trials else "") if x)
    reporter.info(f"autotune: {len(examples):,} examples, {len(validation):,} validation lines, {metric.name}; "
                  f"epochs per rung {'/'.join(map(str, rungs))}; budget {budget}")
    total = autotune_trials if autotune_trials is not None else None
    with reporter.task("autotune", total=total, unit="items") as progress:
        search.search(Sampler(start, losses, seed), Halving(rungs), reporter, progress)
    if search.best is None:
        raise TrainingDiverged("every run diverged before its first epoch ended; lower --lr")
    value, chosen, weights = search.best
    examples_saved, refit_note, candidates, winner, basis, margin = len(examples), "", [], None, None, 0.0
    if autotune_refit:
        union = join_lines(lines, valid_lines)
        union_dictionary = build_dictionary(union, min_count, min_count_label)
        refit = Refit(union, union_dictionary, parse_metric(autotune_metric, union_dictionary.labels, label_prefix),
                      class_weights(class_weight, union_dictionary.labels, union_dictionary.label_counts, errors),
                      Config(negative=negative, threads=threads, seed=seed), label_prefix)
        candidates = finalists(search.trials) or [Finalist(chosen, chosen.best_epoch)]  # only cut runs scored

        def cv_seconds(f: Finalist) -> float:  # FOLDS fits on (FOLDS - 1) / FOLDS of the lines
            return search.fit_seconds(f.trial.config, f.epochs) * (FOLDS - 1)

        def fit_seconds(f: Finalist) -> float:
            return search.fit_seconds(f.trial.config, f.epochs)

        planned = plan(candidates, cv_seconds, fit_seconds,
                       math.inf if deadline is None else deadline - time.perf_counter())
        if planned:  # before the clock of the first finalist starts
            refit.groups(refit.examples(candidates[0].trial.params))
        with reporter.task("cross-validating the finalists", total=len(planned), unit="items") as progress:
            for finalist in planned:
                refit.cross_validate(finalist, None if deadline is None else
                                     deadline - max(fit_seconds(f) for f in planned))
                progress.update(1)
        # lines held out together are not independent scores: the standard error counts their groups
        joined = refit.joined() or 0
        n_units = len(refit.examples(candidates[0].trial.params)) - joined
        winner, basis, margin = choose(candidates, n_units, len(validation))
        try:
            weights = refit.fit(winner.trial.params, winner.epochs)
        except TrainingDiverged:  # on all the lines the winner diverged: the default, then, if it was not it
            if winner is candidates[0] or not candidates[0].default:
                raise
            winner, basis = candidates[0], "the default (the chosen finalist diverged on all the lines)"
            weights = refit.fit(winner.trial.params, winner.epochs)
        chosen, dictionary = winner.trial, union_dictionary
        examples_saved = len(refit.examples(chosen.params))
        which = "the default" if winner.default else f"trial {chosen.number}"
        value_note = f"cv {metric.name} {winner.cv:.4f}" if basis == "cross-validation" else \
            f"{metric.name} {chosen.metric:.4f}"
        folds_note = f"{FOLDS} folds"
        if joined:
            folds_note += f", {joined:,} lines held out with the line they are part of"
        if not refit.grouped_fully:
            folds_note += "; past 10^8 word runs, the lines left grouped with their duplicates only"
        refit_note = (f"; {basis} ({folds_note}) " if basis == "cross-validation" else f"; {basis} ") + \
            (f"of {len(candidates)} finalists chose {which} ({value_note}, default kept unless beaten by more "
             f"than {margin:.4f}); trained on training + validation lines ({examples_saved:,}, "
             f"{winner.epochs} epochs)")
    seconds = time.perf_counter() - began
    trials = [t.as_dict() for t in search.trials]
    settings = search.settings(chosen.params)
    epochs_run = winner.epochs if winner else chosen.epochs_run
    history = [] if winner else chosen.history
    training = {"epochs": epochs_run, "best_epoch": winner.epochs if winner else chosen.best_epoch,
                "lr": chosen.params.lr, "losses": [h["train_loss"] for h in history], "seed": seed,
                "examples": examples_saved, "skipped_unlabelled": examples.unlabelled, "history": history,
                "autotune": {"metric": metric.name, "value": chosen.metric, "trial": chosen.number,
                             "params": asdict(chosen.params), "epochs": chosen.epochs, "runs": len(trials),
                             "seconds": round(seconds, 3),
                             "refit": {"folds": FOLDS, "basis": basis, "margin": margin,
                                       "lines_in_other_lines": refit.joined(),
                                       "grouped_fully": refit.grouped_fully,
                                       "finalists": [f.as_dict() for f in candidates],
                                       "winner": winner.trial.number, "default": winner.default,
                                       "cv_metric": winner.cv if winner.folds else None}
                             if winner else None}}
    modelfile.save(output, dictionary, settings, chosen.params.loss, weights.input, weights.output,
                   weights.bucket_ids, training)
    if as_json:
        json.dump({"metric": metric.name, "value": chosen.metric, "chosen": trials[chosen.number - 1],
                   "epochs_per_rung": rungs, "seconds": round(seconds, 3), "model": output, "trials": trials,
                   "refit": training["autotune"]["refit"]}, sys.stdout, indent=1)
        sys.stdout.write("\n")
    elif not quiet:
        reporter.info(trial_table(search.trials, chosen.number, metric.name))
        if candidates:
            reporter.info(finalist_table(candidates, chosen.number, metric.name))
    configs = len({t.config for t in search.trials})
    reporter.summary(
        f"classify autotune: {len(trials)} runs of {configs} configurations in {seconds:.1f} s "
        f"(epochs per rung {'/'.join(map(str, rungs))}); best {metric.name} {value:.4f} (trial "
        f"{search.best[1].number}){refit_note}; {chosen.params.describe()}"
        f"{'' if winner else f', epoch {chosen.best_epoch} of {chosen.epochs}'} -> {output} ({_size(output)})")


def finalist_table(candidates: list[Finalist], chosen: int, metric: str) -> str:
    """The finalists' search and cross-validated figures, the chosen one marked with `*`."""
    head = ["trial", "config", "rung", "epochs", f"search {metric}", f"cv {metric}", "folds", "s"]
    rows = [[f"{f.trial.number}{'*' if f.trial.number == chosen else ''}", str(f.trial.config),
             "default" if f.default else str(f.trial.rung + 1), str(f.epochs),
             f"{f.trial.metric:.4f}", f"{f.cv:.4f}" if f.folds else "-",
             " ".join(f"{x:.3f}" for x in f.folds) or "not run (budget)", f"{f.seconds:.1f}"] for f in candidates]
    widths = [max(len(r[i]) for r in rows + [head]) for i in range(len(head))]
    return "\n".join("  ".join(c.rjust(w) for c, w in zip(r, widths)) for r in [head] + rows)


def trial_table(trials: list[Trial], chosen: int, metric: str) -> str:
    """The runs as an aligned text table, the chosen one marked with `*`."""
    head = ["trial", "config", "rung", "epochs", "lr", "dim", "ngrams", "buckets", "loss", "chars", "pooling",
            metric, "best ep", "s", "status"]
    rows = [[f"{t.number}{'*' if t.number == chosen else ''}", str(t.config),
             str(t.rung + 1) if t.rung >= 0 else "default",
             f"{t.epochs_run}/{t.epochs}", f"{t.params.lr:.3g}", str(t.params.dim), str(t.params.word_ngrams),
             f"{t.params.buckets:,}", t.params.loss, f"{t.params.minn}-{t.params.maxn}" if t.params.maxn else "-",
             t.params.pooling, "-" if math.isinf(t.metric) else f"{t.metric:.4f}", str(t.best_epoch),
             f"{t.seconds:.1f}", t.status]
            for t in trials]
    widths = [max(len(r[i]) for r in rows + [head]) for i in range(len(head))]
    return "\n".join("  ".join(c.rjust(w) for c, w in zip(r, widths)) for r in [head] + rows)
