"""`seqkit classify --autotune-validation`: the vectorised metrics equal `Meter`'s, successive halving gives
the survivors more epochs, the search beats a bad start, the finalists are the default and top-rung runs,
the one-standard-error rule, the budget plan, stratified folds that keep a phrase with its sentence,
reproducibility, outputs and errors."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from seqkit.classifier import Meter
from seqkit_classify import modelfile
from seqkit_classify.scoring import measure, parse_metric, top_k
from seqkit_classify.data import POOLING_LR, Examples, Lines, join_lines, take_examples
from seqkit_classify.refit import FOLDS, Finalist, choose, finalists, folds, line_groups, plan, standard_error
from seqkit_classify.search import ETA, Halving, Params, Sampler, Trial, rung_epochs

START = Params(lr=0.5, dim=10, word_ngrams=2, buckets=1000, loss="softmax")


def _synthetic(path, lines: int, seed: int) -> None:
    """Three labels, each announced by two of its five cue words among four words of shared noise."""
    rng = np.random.default_rng(seed)
    cues = {label: [f"{label}{i}" for i in range(5)] for label in ("red", "green", "blue")}
    noise = [f"w{i}" for i in range(40)]
    out = []
    for _ in range(lines):
        label = str(rng.choice(list(cues)))
        words = list(rng.choice(cues[label], 2)) + list(rng.choice(noise, 4))
        rng.shuffle(words)
        out.append(f"__label__{label} {' '.join(words)}\n")
    path.write_text("".join(out), encoding="utf-8")


@pytest.fixture
def task(tmp_path):
    train, valid = tmp_path / "train.txt", tmp_path / "valid.txt"
    _synthetic(train, 300, 1)
    _synthetic(valid, 90, 2)
    return train, valid


def _tune(cli_run, train, valid, model, *extra):
    result = cli_run("classify", train, "-o", model, "--autotune-validation", valid, "-t", "1", "--epochs", "6",
                     "--json", *extra)
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout), result.stderr


def test_every_run_trains_the_pooling_it_is_listed_with(cli_run, task, tmp_path, monkeypatch):
    """The search and the refit train each configuration with its own pooling, the table and the JSON name
    it, and the saved model's settings are the pooling its weights were trained with."""
    from seqkit_classify import autotune, refit

    trained, refits = [], []
    for module in (autotune, refit):
        real = module.train
        monkeypatch.setattr(module, "train", lambda *a, real=real, **k: (trained.append(a[3]), real(*a, **k))[1])
    real_fit = refit.Refit.fit
    monkeypatch.setattr(refit.Refit, "fit", lambda self, p, *a, **k: (refits.append((p.pooling, len(trained))),
                                                                      real_fit(self, p, *a, **k))[1])
    train, valid = task
    model = tmp_path / "m.npz"
    result = cli_run("classify", train, "-o", model, "--autotune-validation", valid, "-t", "1", "--epochs", "6",
                     "--autotune-trials", "16", "--seed", "2", "--pooling", "sqrt")
    assert result.exit_code == 0, result.stderr
    search = trained[:16]
    table = [line.split() for line in result.stderr.splitlines() if line.strip()[:1].isdigit() and "rung" not in line]
    assert "pooling" in result.stderr and len(table) >= 16
    assert [row[10] for row in table[:16]] == [c.pooling for c in search]  # the table's pooling column
    assert search[0].pooling == "sqrt" and search[0].lr == pytest.approx(0.05)  # the default: the user's pooling
    assert {c.pooling for c in search} == {"mean", "sqrt"}
    assert len(refits) > 3 and {p for p, _ in refits} == {"mean", "sqrt"}  # folds and the final fit
    assert [trained[at].pooling for _, at in refits] == [p for p, _ in refits]
    meta, *_ = modelfile.load(str(model))
    assert meta["settings"]["pooling"] == trained[-1].pooling  # the final fit's
    report, _ = _tune(cli_run, train, valid, tmp_path / "j.npz", "--autotune-trials", "6", "--seed", "2")
    assert {t["pooling"] for t in report["trials"]} <= {"mean", "sqrt"} and "pooling" in report["chosen"]


def test_metrics_equal_meters():
    rng = np.random.default_rng(0)
    labels = [f"__label__{i}" for i in range(5)]
    gold = [sorted(set(rng.integers(0, 5, size=rng.integers(1, 3)).tolist())) for _ in range(60)]
    flat = np.array([g for gs in gold for g in gs], dtype=np.int32)
    offsets = np.concatenate([[0], np.cumsum([len(g) for g in gold])]).astype(np.int64)
    scores = rng.normal(size=(60, 5))
    for spec in ["f1", "f1:__label__3", "f1:1", "precision@2", "recall@3", "precision@1"]:
        metric = parse_metric(spec, labels, "__label__")
        top = top_k(scores, metric.k)
        meter = Meter(labels)
        for g, t in zip(gold, top):
            meter.add([labels[i] for i in g], [(labels[i], 1.0) for i in t])
        summary = meter.summary(metric.k)
        expected = {"f1": summary["f1_micro"], "precision": summary[f"P@{metric.k}"],
                    "recall": summary[f"R@{metric.k}"]}[metric.kind]
        if metric.label >= 0:
            expected = next(r["f1"] for r in summary["per_label"] if r["label"] == labels[metric.label])
        assert measure(metric, top, flat, offsets, 5) == pytest.approx(expected), spec


def test_rungs_and_sampler():
    assert rung_epochs(50) == [2, 6, 18, 50] and rung_epochs(6) == [2, 6] and rung_epochs(1) == [1]
    first, second = Sampler(START, ("softmax", "hs"), 7), Sampler(START, ("softmax", "hs"), 7)
    draws = [first.draw(START) for _ in range(12)]
    assert draws[0] == START and draws == [second.draw(START) for _ in range(12)]
    assert len(set(draws)) == 12 and {d.loss for d in draws} == {"softmax", "hs"}
    assert {d.pooling for d in draws} == {"mean", "sqrt"}
    # within 1/8 to 2x the default's rate, a tenth of it for sqrt pooling
    assert all(0.0625 <= d.lr / POOLING_LR[d.pooling] <= 1.0 for d in draws[1:])
    bad = Sampler(Params(lr=0.001, dim=2, word_ngrams=1, buckets=10, loss="softmax"), ("softmax",), 7)
    assert bad.draw(None).lr == 0.001  # the default run
    assert all(0.05 <= (p := bad.draw(None)).lr / POOLING_LR[p.pooling] <= 1.0 for _ in range(20))  # the whole range
    sqrt_start = Sampler(replace(START, pooling="sqrt", lr=START.lr * POOLING_LR["sqrt"]), ("softmax",), 7)
    sqrt_start.draw(None)
    assert all(0.0625 <= (p := sqrt_start.draw(None)).lr / POOLING_LR[p.pooling] <= 1.0 for _ in range(20))
    near = [sqrt_start._near(START) for _ in range(200)]
    switched = [p for p in near if p.pooling == "sqrt"]
    assert switched and all(0.0625 <= p.lr / POOLING_LR["sqrt"] <= 1.0 for p in switched)


def test_halving_promotes_the_best_third_top_rung_first():
    halving = Halving([2, 6, 18])
    trials = [Trial(i + 1, i + 1, START, 0, 2, metric=m) for i, m in enumerate([0.5, 0.9, 0.7])]
    assert halving.promotion(trials[:2]) is None  # fewer than ETA finished runs: nothing to promote yet
    assert halving.promotion(trials).config == 2
    assert halving.promotion(trials) is None  # never twice
    trials += [Trial(4, 4, START, 0, 2, metric=0.95), Trial(5, 5, START, 0, 2, metric=0.1),
               Trial(6, 6, START, 0, 2, metric=0.2, status="cut")]
    trials += [Trial(7, c, START, 1, 6, metric=m) for c, m in [(2, 0.8), (3, 0.85)]]
    assert halving.promotion(trials).config == 4  # 5 finished at rung 1 -> the best one (2 is promoted)
    trials.append(Trial(8, 4, START, 1, 6, metric=0.99))
    assert halving.promotion(trials).rung == 1  # a third finished run at rung 2: its best goes to rung 3 first
    assert halving.promotion(trials, lambda t, e: False) is None  # nothing fits the budget left


def test_search_beats_a_bad_start_and_survivors_get_more_epochs(cli_run, task, tmp_path):
    train, valid = task
    model = tmp_path / "m.npz"
    report, stderr = _tune(cli_run, train, valid, model, "--lr", "0.001", "--dim", "2", "--word-ngrams", "1",
                           "--autotune-trials", "10", "--seed", "3", "--no-autotune-refit")
    trials = report["trials"]
    assert len(trials) == 10 and trials[0]["lr"] == 0.001 and report["epochs_per_rung"] == [2, 6]
    assert trials[0]["rung"] == 0 and trials[0]["epochs"] == 6  # the default run: its full epochs, no rung
    assert report["chosen"]["trial"] != 1 and report["value"] > trials[0]["metric"] + 0.2
    assert report["value"] == max(t["metric"] for t in trials)
    first = [t for t in trials if t["rung"] == 1]
    survivors = [t for t in trials if t["rung"] == 2]
    assert survivors and all(t["epochs"] == ETA * 2 for t in survivors) and all(t["epochs"] == 2 for t in first)
    for s in survivors:  # each one was in the best third of the first rung when it was promoted
        before = [t for t in first if t["trial"] < s["trial"]]
        mine = next(t for t in before if t["config"] == s["config"])
        assert sorted(t["metric"] for t in before)[-(len(before) // ETA)] <= mine["metric"]
    assert "trial" in stderr and "rung 2 (6 epochs)" in stderr and "best f1" in stderr
    meta, _, settings, _ = modelfile.load(str(model))
    chosen = report["chosen"]
    assert meta["loss"] == chosen["loss"] and meta["dim"] == chosen["dim"]
    assert settings.word_ngrams == chosen["word_ngrams"] and meta["training"]["autotune"]["trial"] == chosen["trial"]
    history = meta["training"]["history"]
    assert len(history) == chosen["epochs_run"] and max(h["valid_f1"] for h in history) == report["value"]
    test = cli_run("test", "-m", model, valid, "--json", "-q")
    assert json.loads(test.stdout)["f1_micro"] == pytest.approx(report["value"])


def test_reproducible_with_one_thread_and_a_seed(cli_run, task, tmp_path):
    train, valid = task
    runs = [_tune(cli_run, train, valid, tmp_path / f"{i}.npz", "--autotune-trials", "6", "--seed", "5", "-q")[0]
            for i in range(2)]
    strip = [[{k: v for k, v in t.items() if k != "seconds"} for t in r["trials"]] for r in runs]
    assert strip[0] == strip[1]
    finals = [[{k: v for k, v in f.items() if k != "seconds"} for f in r["refit"]["finalists"]] for r in runs]
    assert finals[0] == finals[1] and runs[0]["chosen"]["trial"] == runs[1]["chosen"]["trial"]
    a, b = (modelfile.load(str(tmp_path / f"{i}.npz"))[3] for i in range(2))
    assert np.array_equal(a["input"], b["input"]) and np.array_equal(a["output"], b["output"])
    assert (tmp_path / "0.npz").read_bytes() == (tmp_path / "1.npz").read_bytes()  # no timings stored
    other = _tune(cli_run, train, valid, tmp_path / "o.npz", "--autotune-trials", "6", "--seed", "6", "-q")[0]
    assert [t["lr"] for t in other["trials"]] != [t["lr"] for t in runs[0]["trials"]]


def test_metric_and_time_budget(cli_run, task, tmp_path):
    train, valid = task
    report, _ = _tune(cli_run, train, valid, tmp_path / "m.npz", "--autotune-metric", "recall@2",
                      "--autotune-trials", "4")
    assert report["metric"] == "recall@2" and all(t["metric"] <= 1.0 for t in report["trials"])
    result = cli_run("classify", train, "-o", tmp_path / "t.npz", "--autotune-validation", valid,
                     "--autotune-duration", "0.001", "-t", "1")
    assert result.exit_code == 0 and result.stdout == ""  # the table is on stderr
    assert "classify autotune: 1 runs" in result.stderr and (tmp_path / "t.npz").exists()


def test_errors(cli_run, task, tmp_path):
    train, valid = task
    out = tmp_path / "x.npz"
    result = cli_run("classify", train, "-o", out, "--autotune-validation", valid, "--autotune-metric", "f1:purple")
    assert result.exit_code == 2 and "'purple' is not a label" in result.stderr
    result = cli_run("classify", train, "-o", out, "--autotune-validation", valid, "--autotune-metric", "precision@0")
    assert result.exit_code == 2 and "K must be" in result.stderr
    assert cli_run("classify", train, "-o", out, "--autotune-trials", "3").exit_code == 2
    assert cli_run("classify", train, "-o", out, "--json").exit_code == 2
    result = cli_run("classify", train, "-o", out, "--no-autotune-refit")
    assert result.exit_code == 2 and "--no-autotune-refit goes with --autotune-validation" in result.stderr
    for given in (["--autotune-metric", "f1"], ["--autotune-refit"]):  # given as the default is still given
        result = cli_run("classify", train, "-o", out, *given)
        assert result.exit_code == 2 and f"{given[0]} goes with --autotune-validation" in result.stderr
    assert cli_run("classify", train, "-o", out, "--autotune-validation", valid, "--valid", valid).exit_code == 2
    result = cli_run("classify", train, "-o", "-", "--autotune-validation", valid, "--json")
    assert result.exit_code == 2 and "both write to stdout" in result.stderr and not result.stdout
    other = tmp_path / "other.txt"
    other.write_text("__label__purple w1 w2\n")
    result = cli_run("classify", train, "-o", out, "--autotune-validation", other)
    assert result.exit_code == 1 and "no lines with a label" in result.stderr
    assert not out.exists()


def test_refit_cross_validates_the_finalists_and_trains_on_every_line(cli_run, task, tmp_path):
    """The default and the best top-rung configurations are compared on FOLDS folds of training + validation
    lines; the best mean wins unless within one standard error of the default's; the winner is trained on
    all of those lines (a word seen only in validation gets a row)."""
    train, valid = task
    valid.write_text(valid.read_text() + "__label__red red1 onlyinvalid w3\n")
    report, stderr = _tune(cli_run, train, valid, tmp_path / "m.npz", "--autotune-trials", "12", "--seed", "3")
    refit, trials = report["refit"], report["trials"]
    found = refit["finalists"]
    assert 1 < len(found) <= 5 and len({f["config"] for f in found}) == len(found)
    assert found[0]["default"] and found[0]["trial"] == 1 and found[0]["epochs"] == 6 and found[0]["rung"] == 0
    assert not any(f["default"] for f in found[1:])
    top = max(t["rung"] for t in trials if t["rung"] >= 1 and t["status"] in ("done", "stopped"))
    assert top == 2 and all(f["rung"] == 2 for f in found[1:])  # never a first-rung run once rung 2 is reached
    rest = [f["search_metric"] for f in found[1:]]
    assert rest == sorted(rest, reverse=True)
    assert refit["basis"] == "cross-validation"
    for f in found:
        assert len(f["folds"]) == FOLDS and f["cv_metric"] == pytest.approx(np.mean(f["folds"]))
    best = max(found, key=lambda f: f["cv_metric"])
    margin = standard_error(found[0]["cv_metric"], 391)
    expected = best if best["cv_metric"] - found[0]["cv_metric"] > margin else found[0]
    assert refit["margin"] == pytest.approx(margin) and refit["winner"] == expected["trial"]
    assert report["chosen"]["trial"] == expected["trial"] and refit["cv_metric"] == expected["cv_metric"]
    assert "cross-validation (3 folds) of" in stderr and "trained on training + validation lines (391" in stderr
    meta, dictionary, _, _ = modelfile.load(str(tmp_path / "m.npz"))
    assert "onlyinvalid" in dictionary.words and meta["training"]["examples"] == 391
    assert meta["training"]["epochs"] == expected["epochs"]
    _tune(cli_run, train, valid, tmp_path / "plain.npz", "--autotune-trials", "8", "--seed", "3", "--no-autotune-refit")
    _, plain, _, _ = modelfile.load(str(tmp_path / "plain.npz"))
    assert "onlyinvalid" not in plain.words


def _trial(number, config, metric, lr, rung=1, status="done"):
    t = Trial(number, config, Params(lr=lr, dim=4, word_ngrams=1, buckets=10, loss="softmax"), rung,
              25 if rung < 0 else 2 * 3 ** rung, status=status)
    t.metric, t.best_epoch = metric, 2
    return t


def test_finalists_are_the_default_and_each_top_rung_configurations_best_run():
    trials = [_trial(1, 1, 0.60, 0.5, rung=-1), _trial(2, 2, 0.95, 1.5, rung=0), _trial(3, 3, 0.70, 0.1, rung=0),
              _trial(4, 3, 0.80, 0.1, rung=1), _trial(5, 4, 0.80, 0.2, rung=1), _trial(6, 3, 0.85, 0.1, rung=2),
              _trial(7, 5, 0.99, 0.3, rung=2, status="cut"), _trial(8, 6, -np.inf, 0.4, rung=2, status="diverged")]
    trials[7].best_epoch = 0  # diverged before its first epoch
    found = finalists(trials, count=4)
    # the default first, though its value is the lowest, at its full epochs; then configs 3 (its rung-3 run)
    # and 4; not config 2 (a first-rung run), not the cut or the diverged run
    assert [f.trial.number for f in found] == [1, 6, 5]
    assert found[0].default and found[0].epochs == 25 and not any(f.default for f in found[1:])
    assert found[1].epochs == 2  # a search run's best epoch
    assert [f.trial.number for f in finalists(trials, count=2)] == [1, 6]
    only_first = [_trial(1, 1, 0.6, 0.5, rung=-1), _trial(2, 2, 0.7, 0.5, rung=0), _trial(3, 3, 0.8, 0.3, rung=0)]
    assert [f.trial.number for f in finalists(only_first)] == [1, 3, 2]  # the first rung is the top one reached
    assert [f.trial.number for f in finalists(trials[1:], count=2)] == [6, 5]  # no default run (it diverged)


def test_the_default_is_kept_unless_beaten_by_more_than_one_standard_error():
    def finalist(number, search, cv, default=False):
        f = Finalist(_trial(number, number, search, 0.1 * number, rung=-1 if default else 2), 6, default=default)
        f.folds = list(cv)
        return f

    margin = standard_error(0.80, 1000)
    assert margin == pytest.approx(np.sqrt(0.8 * 0.2 / 1000))
    close = [finalist(1, 0.80, [0.80] * 3, default=True), finalist(2, 0.90, [0.80 + margin * 0.9] * 3)]
    winner, basis, used = choose(close, 1000, 100)
    assert winner is close[0] and basis == "cross-validation" and used == pytest.approx(margin)
    far = [finalist(1, 0.80, [0.80] * 3, default=True), finalist(2, 0.70, [0.805] * 3),
           finalist(3, 0.75, [0.80 + margin * 1.1] * 3)]
    assert choose(far, 1000, 100)[0] is far[2]  # the best cross-validated mean, not the best search value
    tie = [finalist(1, 0.8, [0.7] * 3, default=True), finalist(2, 0.8, [0.9] * 3), finalist(3, 0.8, [0.9] * 3)]
    assert choose(tie, 1000, 100)[0] is tie[1]  # ties go to the earlier finalist
    # without two cross-validated finalists (budget), the search's values on the 100 validation lines decide
    alone = [finalist(1, 0.80, [], default=True), finalist(2, 0.83, [])]
    assert choose(alone, 1000, 100)[:2] == (alone[0], "validation")  # 0.03 < one standard error over 100 lines
    alone[1].trial.metric = 0.85
    assert choose(alone, 1000, 100)[0] is alone[1]
    no_default_cv = [finalist(1, 0.8, [], default=True), finalist(2, 0.9, [0.9] * 3), finalist(3, 0.7, [0.95] * 3)]
    assert choose(no_default_cv, 1000, 100)[:2] == (no_default_cv[1], "validation")


def test_plan_keeps_time_for_the_refit_and_needs_two_finalists():
    found = [Finalist(_trial(1, 1, 0.8, 0.5, rung=-1), 25, default=True)] + \
        [Finalist(_trial(n, n, 0.8, 0.5, rung=2), 10 * n) for n in (2, 3, 4)]
    fit = {f.trial.number: float(f.epochs) for f in found}  # one second an epoch
    cv = {n: 2 * s for n, s in fit.items()}

    def chosen(seconds):
        return [f.trial.number for f in plan(found, lambda f: cv[f.trial.number], lambda f: fit[f.trial.number],
                                             seconds)]

    assert chosen(np.inf) == [1, 2, 3, 4]
    assert chosen(50 + 40 + 25) == [1, 2]  # then 3 would need 50 + 40 + 60 + 30
    assert chosen(50 + 40 + 60 + 40) == [1, 2, 3]  # 4 would need 80 more and its refit (40) instead of 30
    assert chosen(50 + 25 + 10) == []  # the default alone: nothing to compare it with
    assert chosen(10) == []


def test_folds_are_stratified():
    labels = np.array([0] * 9 + [1] * 3 + [2] * 6, dtype=np.int32)
    examples = Examples(np.zeros(18, np.int64), np.arange(19, dtype=np.int64), labels, np.arange(19, dtype=np.int64),
                        np.ones(18))
    fold = folds(examples, 3)
    for label, count in ((0, 9), (1, 3), (2, 6)):
        assert np.bincount(fold[labels == label], minlength=3).tolist() == [count // 3] * 3


def _phrase_examples(seed: int, sentences: int = 6, phrases: int = 20, others: int = 8, n_words: int = 12):
    """Sentences of random words, some of their phrases (runs of consecutive words) and duplicates, unrelated
    lines and two empty ones, shuffled. A line's features are its words, each followed by a character
    n-gram bucket (one of them bucket 0: feature n_words), then `</s>` (0) and a word n-gram bucket."""
    rng = np.random.default_rng(seed)
    whole = [list(rng.integers(1, n_words, rng.integers(3, 9))) for _ in range(sentences)]
    lines = [list(x) for x in whole]
    for _ in range(phrases):
        x = whole[rng.integers(len(whole))]
        a = int(rng.integers(len(x)))
        lines.append(list(x[a:a + int(rng.integers(1, len(x) - a + 1))]))
    lines += [list(rng.integers(1, n_words, rng.integers(1, 5))) for _ in range(others)] + [lines[2], [], []]
    lines = [lines[i] for i in rng.permutation(len(lines))]
    features, offsets = [], [0]
    for words in lines:
        for w in words:
            features += [w, n_words + w % 3]
        features += [0, n_words + 7]
        offsets.append(len(features))
    labels = rng.integers(0, 2, len(lines)).astype(np.int32)
    examples = Examples(np.array(features, np.int32), np.array(offsets, np.int64), labels,
                        np.arange(len(lines) + 1, dtype=np.int64), np.ones(len(lines)))
    return lines, examples


def _inside(short: list[int], long: list[int]) -> bool:
    return any(long[a:a + len(short)] == short for a in range(len(long) - len(short) + 1))


def _slow_groups(lines: list[list[int]], whole_runs: set[int] | None = None) -> np.ndarray:
    """Longest lines first (then file order): a line inside an earlier group's first line joins that
    group, else it starts one, numbered by itself; an empty line is alone. `whole_runs`: the lines whose
    runs are looked up (None: all); the others place their duplicates only."""
    order = sorted(range(len(lines)), key=lambda i: (-len(lines[i]), i))
    roots: list[int] = []
    group = {}
    for i in order:
        found = next((r for r in roots if lines[i] and (_inside(lines[i], lines[r]) if whole_runs is None or
                                                         r in whole_runs else lines[i] == lines[r])), None)
        group[i] = i if found is None else found
        if found is None:
            roots.append(i)
    return np.array([group[i] for i in range(len(lines))])


def test_fewer_line_groups_than_folds_leave_the_choice_to_the_validation_lines(cli_run, tmp_path):
    train, valid = tmp_path / "train.txt", tmp_path / "valid.txt"
    train.write_text("__label__a good film\n__label__b good film\n__label__a good\n__label__b film\n" * 10)
    valid.write_text("__label__a good film\n__label__b film\n")
    report, stderr = _tune(cli_run, train, valid, tmp_path / "m.npz", "--autotune-trials", "6")
    assert report["refit"]["basis"] == "validation" and report["refit"]["lines_in_other_lines"] == 41
    assert all(not f["folds"] for f in report["refit"]["finalists"]) and "nan" not in stderr


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_line_groups_equal_a_slow_reference_and_keep_phrases_with_their_sentence(seed):
    lines, examples = _phrase_examples(seed)
    groups, finished = line_groups(examples, 12)
    assert finished and groups.tolist() == _slow_groups(lines).tolist()
    assert len(np.unique(groups)) < len(lines)  # the phrases joined their sentences
    for i, g in enumerate(groups):  # a group is named by its longest line, which holds every member
        assert len(lines[g]) == max(len(lines[m]) for m in np.flatnonzero(groups == g))
        assert _inside(lines[i], lines[g])
    assert [groups[i] for i, x in enumerate(lines) if not x] == [i for i, x in enumerate(lines) if not x]
    fold = folds(examples, 3, groups)
    for g in np.unique(groups):
        assert len(set(fold[groups == g].tolist())) == 1


def test_line_groups_of_thousands_of_lines_equal_the_reference():
    """Enough lines for a bit table of many words (a wrong size or shift would go unseen in a small one)."""
    lines, examples = _phrase_examples(7, sentences=300, phrases=1500, others=1500, n_words=40)
    groups, finished = line_groups(examples, 40)
    assert finished and groups.tolist() == _slow_groups(lines).tolist()


def test_line_groups_past_the_step_budget_keep_duplicates_together():
    lines, examples = _phrase_examples(5)
    alone, finished = line_groups(examples, 12, max_steps=0)
    assert not finished and alone.tolist() == _slow_groups(lines, whole_runs=set()).tolist()
    assert len(np.unique(alone)) < len(lines)  # the duplicate still joined its line
    # the budget is spent in order, longest line first: the first root's runs fit, the next root's do not
    order = sorted(range(len(lines)), key=lambda i: (-len(lines[i]), i))
    first = order[0]
    shorter = max(len(x) for x in lines if len(x) < len(lines[first]))
    cost = shorter * (len(lines[first]) + 1) - shorter * (shorter + 1) // 2  # runs as long as a shorter line
    partial, finished = line_groups(examples, 12, max_steps=cost)
    assert not finished and partial.tolist() == _slow_groups(lines, whole_runs={first}).tolist()
    assert partial.tolist() != alone.tolist() and partial.tolist() != _slow_groups(lines).tolist()


def test_grouped_folds_are_stratified_by_the_line_a_group_is_named_by():
    labels = np.array([0, 1, 0, 1, 0, 1, 1, 1, 0, 0, 0, 1], dtype=np.int32)
    groups = np.array([0, 1, 0, 3, 4, 5, 3, 7, 8, 9, 4, 11])  # heads' labels: 0, 1, 1, 0, 1, 1, 0, 0, 1
    examples = Examples(np.zeros(12, np.int64), np.arange(13, dtype=np.int64), labels, np.arange(13, dtype=np.int64),
                        np.ones(12))
    fold = folds(examples, 3, groups)
    heads = np.flatnonzero(groups == np.arange(12))
    for label in (0, 1):
        at = heads[labels[heads] == label]
        assert sorted(np.bincount(fold[at], minlength=3).tolist()) == sorted([len(at) // 3 + (k < len(at) % 3)
                                                                             for k in range(3)])
    assert all(fold[i] == fold[g] for i, g in enumerate(groups))


def test_refit_holds_phrases_out_with_their_sentence_and_counts_groups_in_the_margin(cli_run, task, tmp_path):
    """Training lines that are phrases of other lines (as SST's) are held out with them: the report says
    how many, and the one-standard-error margin counts a sentence and its phrases once."""
    train, valid = task
    sentences = train.read_text().splitlines()
    phrases = [" ".join(line.split()[:4]) for line in sentences[:120]]  # the label and three words
    train.write_text("\n".join(sentences + phrases) + "\n")
    report, stderr = _tune(cli_run, train, valid, tmp_path / "m.npz", "--autotune-trials", "12", "--seed", "3")
    refit = report["refit"]
    assert refit["basis"] == "cross-validation" and refit["lines_in_other_lines"] >= 120
    lines = len(sentences) + len(phrases) + len(valid.read_text().splitlines())
    default = refit["finalists"][0]["cv_metric"]
    assert refit["margin"] == pytest.approx(standard_error(default, lines - refit["lines_in_other_lines"]))
    assert f"{refit['lines_in_other_lines']:,} lines held out with the line they are part of" in stderr
    assert refit["grouped_fully"] and "duplicates only" not in stderr


def test_a_grouping_cut_by_its_step_budget_is_reported(cli_run, task, tmp_path, monkeypatch):
    from seqkit_classify import refit as refit_module

    monkeypatch.setattr(refit_module, "MAX_SPAN_STEPS", 0)
    train, valid = task
    sentences = train.read_text().splitlines()
    phrases = [" ".join(line.split()[:4]) for line in sentences[:120]]
    train.write_text("\n".join(sentences * 2 + phrases) + "\n")  # duplicates are grouped all the same
    report, stderr = _tune(cli_run, train, valid, tmp_path / "m.npz", "--autotune-trials", "12", "--seed", "3")
    assert report["refit"]["grouped_fully"] is False
    assert 300 <= report["refit"]["lines_in_other_lines"] < 420  # the duplicates, not the phrases
    assert "past 10^8 word runs, the lines left grouped with their duplicates only" in stderr


def test_join_and_take_keep_every_line_and_its_tokens():
    first = Lines(["__label__a", "x", "y"], np.array([True, False, False]), np.array([2, 2, 1]),
                  np.array([0, 1, 0, 1, 2], np.int32), np.array([0, 2, 5], np.int64))
    second = Lines(["__label__b", "z", "x"], np.array([True, False, False]), np.array([1, 1, 1]),
                   np.array([0, 1, 2], np.int32), np.array([0, 3], np.int64))
    joined = join_lines(first, second)
    assert joined.types == ["__label__a", "x", "y", "__label__b", "z"]
    assert joined.counts.tolist() == [2, 3, 1, 1, 1] and joined.is_label.tolist() == [True, False, False, True, False]
    lines = [[joined.types[i] for i in joined.ids[a:b]] for a, b in zip(joined.offsets[:-1], joined.offsets[1:])]
    assert lines == [["__label__a", "x"], ["__label__a", "x", "y"], ["__label__b", "z", "x"]]
    examples = Examples(np.array([1, 2, 3, 4, 5, 6]), np.array([0, 1, 3, 6]), np.array([0, 1, 0], np.int32),
                        np.array([0, 1, 2, 3]), np.array([2.0, 3.0, 4.0]))
    taken = take_examples(examples, np.array([True, False, True]))
    assert taken.features.tolist() == [1, 4, 5, 6] and taken.feat_offsets.tolist() == [0, 1, 4]
    assert taken.labels.tolist() == [0, 0] and taken.tokens.tolist() == [2.0, 4.0]


def test_a_finalist_that_diverges_is_left_out_not_fatal(cli_run, task, tmp_path, monkeypatch):
    """A sigmoid loss now stops on a nan loss: a finalist that diverges in a fold leaves the comparison, and
    a winner that diverges on all the lines gives way to the default, instead of ending the autotune."""
    from seqkit.errors import TrainingDiverged
    from seqkit_classify import refit

    train, valid = task
    real_fit = refit.Refit.fit
    default_lr = []

    def fit(self, p, epochs, keep=None):
        if default_lr and p.lr != default_lr[0]:
            raise TrainingDiverged("the loss became nan")
        return real_fit(self, p, epochs, keep)

    real_cv = refit.Refit.cross_validate

    def cross_validate(self, finalist, deadline):
        if finalist.default:
            default_lr.append(finalist.trial.params.lr)
        return real_cv(self, finalist, deadline)

    monkeypatch.setattr(refit.Refit, "fit", fit)
    monkeypatch.setattr(refit.Refit, "cross_validate", cross_validate)
    report, _ = _tune(cli_run, train, valid, tmp_path / "m.npz", "--autotune-trials", "12", "--seed", "3")
    found = report["refit"]["finalists"]
    lr = {t["trial"]: t["lr"] for t in report["trials"]}
    assert len(found) > 1 and found[0]["default"] and found[0]["cv_metric"] is not None
    others = [f for f in found[1:] if lr[f["trial"]] != default_lr[0]]
    assert others and all(f["cv_metric"] is None and f["folds"] == [] for f in others)
    assert report["refit"]["default"] and (tmp_path / "m.npz").exists()
