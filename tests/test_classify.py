"""The classify plugin and the classification commands: features hashed as fastText hashes them, every
loss's gradient, the kernels against NumPy, fastText's P@k/R@k, reproducibility, bad input, quality."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from seqkit.classifier import Meter, line_tokens, split_labels
from seqkit.hashing import char_ngram_buckets as core_char_ngram_buckets
from seqkit.sampling import huffman_tree
from seqkit_classify import kernels
from seqkit_classify.data import Settings, read_examples
from tests.conftest import require_data
from tests.reference import classify as ref

TRAIN = """__label__sport the match was great and the team won
__label__food a great recipe with butter and flour
the team lost __label__sport again
__label__food __label__sport butter for the team
__label__food flour sugar and butter
__label__sport the coach praised the team
"""


@pytest.fixture
def train_file(tmp_path):
    path = tmp_path / "train.txt"
    path.write_text(TRAIN, encoding="utf-8")
    return path


def test_char_ngram_kernel_is_fasttexts(tmp_path):
    for word in ["team", "é", "naïve", "日本語", "a", "</s>x"]:
        data = np.frombuffer(("<" + word + ">").encode(), dtype=np.uint8)
        out = np.empty(200, dtype=np.int64)
        n = kernels.char_ngram_buckets(data, 2, 4, 1000, out)
        assert out[:n].tolist() == core_char_ngram_buckets(word, 2, 4, 1000).tolist()
        assert out[:n].tolist() == ref.char_ngram_buckets(word, 2, 4, 1000)


@pytest.mark.parametrize("word_ngrams,minn,maxn", [(1, 0, 0), (3, 0, 0), (2, 2, 3)])
def test_line_features_are_fasttexts(train_file, word_ngrams, minn, maxn):
    settings = Settings(word_ngrams=word_ngrams, buckets=1009, minn=minn, maxn=maxn)
    dictionary, examples = read_examples([str(train_file)], settings, min_count=2)
    assert dictionary.words[0] == "</s>" and "again" not in dictionary.words  # min-count 2 drops it
    for e, line in enumerate(TRAIN.splitlines()):
        features, labels = ref.line_features(line.split(), dictionary.words, "__label__", word_ngrams, 1009, minn, maxn)
        got = examples.features[examples.feat_offsets[e]:examples.feat_offsets[e + 1]]
        assert sorted(got.tolist()) == sorted(features)
        got_labels = examples.labels[examples.label_offsets[e]:examples.label_offsets[e + 1]]
        assert [dictionary.labels[i] for i in got_labels] == labels


def _one_example(loss: str, n_labels: int, dim: int = 4, seed: int = 0):
    rng = np.random.default_rng(seed)
    wi = rng.normal(0, 0.5, size=(7, dim))
    wo = rng.normal(0, 0.5, size=(n_labels - 1 if loss == "hs" else n_labels, dim))
    features = np.array([0, 3, 3, 5], dtype=np.int64)  # a repeated row gets the gradient twice
    return wi, wo, features


def _kernel_step(loss, wi, wo, features, labels, lr, counts, negative=1, pooling="mean"):
    """Run the loss's kernel on one example with a constant learning rate."""
    order = np.array([0], dtype=np.int64)
    offsets = np.array([0, len(features)], dtype=np.int64)
    lab = np.array(labels, dtype=np.int32)
    lab_off = np.array([0, len(lab)], dtype=np.int64)
    args = (order, features, offsets, lab, lab_off, np.ones(1), wi, wo, np.ones(len(counts)), lr, 0.0, 0.0,
            np.array([7], dtype=np.uint64), np.zeros(wi.shape[1]), np.zeros(wi.shape[1]), pooling == "sqrt")
    if loss == "softmax":
        return kernels.train_softmax(*args, np.zeros(len(counts), dtype=wo.dtype))
    if loss == "ns":
        prob, alias = np.ones(len(counts), dtype=np.float32), np.arange(len(counts), dtype=np.int32)
        return kernels.train_ns(*args, negative, prob, alias)
    if loss == "hs":
        tree = huffman_tree(counts)
        return kernels.train_hs(*args, tree.codes, tree.points, tree.offsets)
    return kernels.train_ova(*args)


@pytest.mark.parametrize("pooling", ["mean", "sqrt"])
@pytest.mark.parametrize("loss,n_labels,labels", [("softmax", 4, [2]), ("ns", 2, [1]), ("hs", 5, [3]),
                                                  ("ova", 4, [0, 2])])
def test_every_loss_steps_down_its_exact_gradient(loss, n_labels, labels, pooling):
    counts = np.array([5, 1, 3, 2, 4][:n_labels])
    wi, wo, features = _one_example(loss, n_labels)
    tree = huffman_tree(counts)
    target = labels[0]
    path = slice(tree.offsets[target], tree.offsets[target + 1])

    def value(a, b):
        return ref.loss_value(a, b, features.tolist(), loss, target, positives=set(labels),
                              negatives=[1 - target], codes=tree.codes[path], points=tree.points[path],
                              pooling=pooling)

    grad_wi, grad_wo = ref.numeric_gradients(wi.copy(), wo.copy(), value)
    before = value(wi, wo)
    lr = 1e-4
    new_wi, new_wo = wi.copy(), wo.copy()
    reported = _kernel_step(loss, new_wi, new_wo, features, labels, lr, counts, pooling=pooling)
    assert reported == pytest.approx(before, rel=1e-6)
    assert np.abs(grad_wi).max() > 1e-3 and np.abs(grad_wo).max() > 1e-3  # the check has teeth
    np.testing.assert_allclose((new_wi - wi) / -lr, grad_wi, rtol=1e-3, atol=1e-6)
    np.testing.assert_allclose((new_wo - wo) / -lr, grad_wo, rtol=1e-3, atol=1e-6)


@pytest.mark.parametrize("loss,pooling", [("softmax", "mean"), ("hs", "mean"), ("ova", "mean"), ("softmax", "sqrt")])
def test_kernel_equals_reference_sgd_over_several_examples(loss, pooling):
    """Examples in the given order, the lr decaying linearly: each step is the reference's gradient step."""
    counts = np.array([4, 2, 3])
    rng = np.random.default_rng(1)
    wi = rng.normal(0, 0.3, size=(9, 5)).astype(np.float32)
    wo = rng.normal(0, 0.3, size=(2 if loss == "hs" else 3, 5)).astype(np.float32)
    lines = [([1, 2, 8], [0]), ([0, 4], [2]), ([3, 3, 5, 6], [1]), ([7, 2], [2])]
    features = np.array([f for fs, _ in lines for f in fs], dtype=np.int64)
    offsets = np.cumsum([0] + [len(fs) for fs, _ in lines]).astype(np.int64)
    labels = np.array([ls[0] for _, ls in lines], dtype=np.int32)
    lab_off = np.arange(len(lines) + 1, dtype=np.int64)
    weights = np.array([3.0, 2.0, 4.0, 2.0])
    order = np.array([2, 0, 3, 1], dtype=np.int64)
    tree = huffman_tree(counts)
    ref_wi, ref_wo = wi.astype(np.float64), wo.astype(np.float64)
    done = 0.0
    for e in order:
        lr = 0.5 * (1 - (0.25 + 0.5 * done / weights.sum()))
        done += weights[e]
        target = int(labels[e])
        path = slice(tree.offsets[target], tree.offsets[target + 1])
        value = lambda a, b: ref.loss_value(a, b, lines[e][0], loss, target, positives={target},  # noqa: E731
                                            codes=tree.codes[path], points=tree.points[path], pooling=pooling)
        g_wi, g_wo = ref.numeric_gradients(ref_wi, ref_wo, value)
        ref_wi -= lr * g_wi
        ref_wo -= lr * g_wo
    args = (order, features, offsets, labels, lab_off, weights, wi, wo, np.ones(3), 0.5, 0.25, 0.5,
            np.array([1], dtype=np.uint64), np.zeros(5, np.float32), np.zeros(5, np.float32), pooling == "sqrt")
    if loss == "softmax":
        kernels.train_softmax(*args, np.zeros(3, dtype=np.float32))
    elif loss == "hs":
        kernels.train_hs(*args, tree.codes, tree.points, tree.offsets)
    else:
        kernels.train_ova(*args)
    np.testing.assert_allclose(wi, ref_wi, atol=2e-5)
    np.testing.assert_allclose(wo, ref_wo, atol=2e-5)


def test_meter_is_fasttexts_formula_on_hand_made_cases():
    labels = ["__label__a", "__label__b", "__label__c"]
    gold = [["__label__a"], ["__label__b", "__label__c"], ["__label__c"], ["__label__z"], [], ["__label__a", "__label__z"]]
    predicted = [["__label__a", "__label__b"], ["__label__c"], [], ["__label__a"], ["__label__b"], ["__label__b"]]
    meter = Meter(labels)
    for g, p in zip(gold, predicted):
        meter.add(g, [(label, 0.5) for label in p] if any(x in labels for x in g) else [])
    n, precision, recall = ref.fasttext_meter(gold, predicted, set(labels))
    # by hand: lines 1, 2, 3, 6 count; 4 predictions, 2 correct; 5 known gold labels
    assert (n, precision, recall) == (4, 2 / 4, 2 / 5)
    assert (meter.examples, meter.precision, meter.recall) == (n, precision, recall)
    assert meter.unknown_labels == {"__label__z": 2} and meter.unknown_only == 1 and meter.unlabelled == 1
    summary = meter.summary(2)
    assert "confusion" not in summary  # multi-label data
    per = {row["label"]: row for row in summary["per_label"]}
    assert per["__label__b"]["precision"] == 0 and per["__label__c"]["recall"] == 0.5
    # multi-label data: subset accuracy, and no counted line predicts exactly its gold set (line 1's top
    # prediction is right, so a top-prediction accuracy would be 1 / 4)
    assert summary["accuracy"] == 0


def test_meter_accuracy_on_single_label_data_is_the_top_predictions_whatever_k():
    labels = ["__label__a", "__label__b"]
    meter = Meter(labels)
    for gold, top in (("__label__a", "__label__a"), ("__label__b", "__label__a"), ("__label__b", "__label__b")):
        other = labels[1 - labels.index(top)]
        meter.add([gold], [(top, 0.7), (other, 0.3)])  # k = 2: the predicted set never equals the gold label
    summary = meter.summary(2)
    assert summary["accuracy"] == 2 / 3 and summary["P@2"] == 3 / 6
    assert summary["confusion"]["matrix"] == [[1, 0], [1, 1]]


def test_train_predict_test_and_sentence_vectors(cli_run, train_file, tmp_path):
    model = tmp_path / "m.npz"
    result = cli_run("classify", train_file, "-o", model, "-t", "1", "--word-ngrams", "2", "--epochs", "30", "--dim", "8")
    assert result.exit_code == 0, result.stderr
    assert "6 examples" in result.stderr and " kB)" in result.stderr
    lines = "butter and flour\nthe team won\n"
    out = cli_run("predict", "-m", model, "-", input=lines)
    assert out.stdout.split("\n")[:2] == ["__label__food", "__label__sport"]
    out = cli_run("predict", "-m", model, "-", "-k", "2", "--prob", input=lines).stdout.splitlines()
    first = out[0].split(" ")
    assert len(first) == 4 and float(first[1]) > float(first[3]) and abs(float(first[1]) + float(first[3]) - 1) < 1e-4
    rows = [json.loads(x) for x in cli_run("predict", "-m", model, "-", "--json", "--threshold", "0.99",
                                           input=lines).stdout.splitlines()]
    assert len(rows) == 2 and all(p >= 0.99 for r in rows for p in r["probs"])
    every = cli_run("predict", "-m", model, "-", "--json", "-k", "-1", input=lines).stdout.splitlines()
    printed = cli_run("predict", "-m", model, "-", "--prob", "-k", "-1", input=lines).stdout.splitlines()
    for row, text in zip(every, printed):  # the same figures (six significant digits), however small
        assert json.loads(row)["probs"] == [float(x) for x in text.split(" ")[1::2]]
        assert min(json.loads(row)["probs"]) > 0
    vectors = cli_run("sentence-vectors", "-m", model, "-", input=lines).stdout.splitlines()
    assert len(vectors) == 2 and len(vectors[0].split()) == 8 and vectors[0].endswith(" ")
    # seqkit test equals fastText's formula over the same predictions, unknown labels reported
    test_text = TRAIN + "__label__weather rain again\nno label here\n"
    test_path = tmp_path / "test.txt"
    test_path.write_text(test_text)
    from seqkit.classifier import load_classifier

    clf = load_classifier(str(model))
    gold, predicted = [], []
    for line in test_text.splitlines():
        words, labels = split_labels(line_tokens(line), "__label__")
        gold.append(labels)
        predicted.append([label for label, _ in clf.predict(words, 2, 0.0)])
    n, precision, recall = ref.fasttext_meter(gold, predicted, set(clf.labels))
    out = cli_run("test", "-m", model, test_path, "-k", "2")
    assert out.exit_code == 0
    assert out.stdout.splitlines()[:3] == [f"N\t{n}", f"P@2\t{precision:.3f}", f"R@2\t{recall:.3f}"]
    assert "__label__weather (1)" in out.stderr and "1 lines of" in out.stderr
    data = json.loads(cli_run("test", "-m", model, test_path, "--json", "-q").stdout)
    assert data["N"] == 6 and "per_label" in data and "confusion" not in data


@pytest.mark.parametrize("loss", ["ns", "hs", "ova"])
def test_other_losses_learn_the_toy_problem(cli_run, train_file, tmp_path, loss):
    model = tmp_path / f"{loss}.npz"
    assert cli_run("classify", train_file, "-o", model, "-t", "1", "--loss", loss, "--epochs", "50", "--dim", "8",
                   "-q").exit_code == 0
    out = cli_run("predict", "-m", model, "-", "--prob", input="butter flour sugar\ncoach team match\n").stdout
    first, second = [line.split(" ") for line in out.splitlines()]
    assert first[0] == "__label__food" and second[0] == "__label__sport"
    assert 0 < float(first[1]) <= 1


def test_one_thread_is_reproducible_across_processes(seqkit_proc, train_file, tmp_path):
    paths = [tmp_path / "a.npz", tmp_path / "b.npz"]
    for path in paths:
        proc = seqkit_proc("classify", train_file, "-o", path, "-t", "1", "--seed", "5", "--loss", "ns",
                           "--word-ngrams", "2", "--epochs", "3", "-q")
        assert proc.returncode == 0, proc.stderr
    a, b = (np.load(p, allow_pickle=False) for p in paths)
    assert a.files == b.files and all(a[k].tobytes() == b[k].tobytes() for k in a.files)
    other = tmp_path / "c.npz"
    seqkit_proc("classify", train_file, "-o", other, "-t", "1", "--seed", "6", "--loss", "ns", "--word-ngrams", "2",
                "--epochs", "3", "-q")
    assert np.load(other)["input"].tobytes() != a["input"].tobytes()


def test_bad_inputs(cli_run, tmp_path):
    good = "__label__a x y\n__label__b y z\n"
    path = tmp_path / "t.txt"
    path.write_text(good + "\n no label\n")
    model = tmp_path / "m.npz"
    result = cli_run("classify", path, "-o", model, "-q", "--epochs", "1")
    assert result.exit_code == 0 and model.exists()
    result = cli_run("classify", path, "-o", model, "--epochs", "1")
    assert "skipped 1 lines without a label" in result.stderr
    result = cli_run("classify", path, "-o", model, "--strict")
    assert result.exit_code == 1 and f"{path}:4:" in result.stderr and "no label" in result.stderr
    one = tmp_path / "one.txt"
    one.write_text("__label__a x\n__label__a y\n")
    result = cli_run("classify", one, "-o", tmp_path / "x.npz")
    assert result.exit_code == 1 and f"{one}: only one label" in result.stderr
    unlabelled = tmp_path / "words.txt"
    unlabelled.write_text("just words\nand more\n")
    result = cli_run("classify", unlabelled, "-o", tmp_path / "x.npz", "--strict")
    assert result.exit_code == 1 and f"{unlabelled}: no labels to learn" in result.stderr and "--label-prefix" in \
        result.stderr
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    assert cli_run("classify", empty, "-o", tmp_path / "x.npz").exit_code == 1
    unlabelled = tmp_path / "u.txt"
    unlabelled.write_text("x y\n")
    result = cli_run("classify", unlabelled, "-o", tmp_path / "x.npz")
    assert result.exit_code == 1 and "no labels" in result.stderr
    assert not (tmp_path / "x.npz").exists()
    assert cli_run("classify", path, "-o", tmp_path / "x.npz", "--minn", "2").exit_code == 2
    for kind in ("bow", "birnn"):  # an .npz named .bin would be refused by fastText
        named = cli_run("classify", path, "-o", tmp_path / "m.bin", "--model", kind)
        assert named.exit_code == 2 and "name it .npz" in named.stderr and not (tmp_path / "m.bin").exists()
        both = cli_run("classify", path, "-o", "-", "--model", kind, "--json")  # birnn's --json: its epochs
        assert both.exit_code == 2 and "both write to stdout" in both.stderr and not both.stdout
    damaged = tmp_path / "damaged.npz"
    damaged.write_bytes(model.read_bytes()[:500])
    result = cli_run("predict", "-m", damaged, "-", input="x\n")
    assert result.exit_code == 1 and result.stderr.startswith("seqkit: error:") and len(result.stderr.splitlines()) == 1


def test_model_file_is_validated(cli_run, train_file, tmp_path):
    import io
    import zipfile

    model = tmp_path / "m.npz"
    cli_run("classify", train_file, "-o", model, "-q", "--epochs", "1")
    with np.load(model) as archive:
        arrays = {k: archive[k] for k in archive.files}
    meta = json.loads(arrays["meta"].tobytes())
    meta["shapes"]["input"] = [10**6, 10**6]
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    bad = tmp_path / "bad.npz"
    np.savez(bad, **arrays)
    result = cli_run("test", "-m", bad, train_file)
    assert result.exit_code == 1 and "bad.npz" in result.stderr and "input" in result.stderr
    assert zipfile.is_zipfile(io.BytesIO(bad.read_bytes()))
    for pooling, code in (("max", 1), (None, 0)):  # an unknown pooling; a file from before pooling existed
        with np.load(model) as archive:
            changed = json.loads(archive["meta"].tobytes())
        if pooling is None:
            del changed["settings"]["pooling"]
        else:
            changed["settings"]["pooling"] = pooling
        np.savez(bad, **{**arrays, "meta": np.frombuffer(json.dumps(changed).encode(), dtype=np.uint8)})
        result = cli_run("test", "-m", bad, train_file)
        assert result.exit_code == code, result.stderr
        assert ("pooling 'max' is not one of mean, sqrt" in result.stderr) == (code == 1)
    for key, value, says in (("word_ngrams", "x", "are not a model's"), ("label_prefix", "", "are not a model's"),
                             ("minn", -1, "are not a model's"), ("labels", ["__label__food"] * 2, "distinct strings")):
        with np.load(model) as archive:  # each was an internal error or accepted
            changed = json.loads(archive["meta"].tobytes())
        (changed if key == "labels" else changed["settings"])[key] = value
        np.savez(bad, **{**arrays, "meta": np.frombuffer(json.dumps(changed).encode(), dtype=np.uint8)})
        result = cli_run("predict", "-m", bad, "-", input="butter\n")
        assert result.exit_code == 1 and says in result.stderr and "internal" not in result.stderr, result.stderr


def test_quality_on_rt_polarity(cli_run, tmp_path):
    """Defaults on 9,595 movie-review sentences: seqkit about 0.81 (fastText's defaults 0.764, TF-IDF +
    LinearSVC 0.805); seeds and threads move it by about 0.01, so 0.77 almost never flakes, and a model
    without word pairs (0.765) or with fastText's 5 epochs at lr 0.1 (0.761) fails it."""
    train = require_data("classification", "rt-polarity", "train.txt")
    test = require_data("classification", "rt-polarity", "test.txt")
    model = tmp_path / "rt.npz"
    assert cli_run("classify", train, "-o", model, "-q", "-t", "1", "--seed", "11").exit_code == 0
    result = json.loads(cli_run("test", "-m", model, test, "--json").stdout)
    assert result["N"] == 1067 and result["P@1"] > 0.77
    assert len(result["confusion"]["matrix"]) == 2


def test_valid_keeps_the_best_epoch_and_stops_early(cli_run, train_file, tmp_path):
    valid = tmp_path / "valid.txt"
    valid.write_text("__label__food butter flour\n__label__sport team coach\n")
    model = tmp_path / "m.npz"
    result = cli_run("classify", train_file, "-o", model, "-t", "1", "--valid", valid, "--epochs", "40",
                     "--patience", "5", "--dim", "8", "--lr", "1")
    assert result.exit_code == 0, result.stderr
    meta = json.loads(np.load(model)["meta"].tobytes())
    training = meta["training"]
    assert training["valid_precision"] == 1.0 and training["epochs"] == training["best_epoch"] + 5 < 40
    assert "stopping: no better validation P@1 for 5 epochs" in result.stderr


def test_sqrt_pooling_is_what_training_validation_and_prediction_compute(cli_run, train_file, tmp_path):
    """--pooling sqrt: the hidden layer is the rows' sum / sqrt(count) in the saved model's sentence vectors,
    and the score --valid kept is the score `seqkit test` gives the saved model."""
    model = tmp_path / "m.npz"
    result = cli_run("classify", train_file, "-o", model, "-t", "1", "--pooling", "sqrt", "--valid", train_file,
                     "--epochs", "30", "--dim", "8", "--word-ngrams", "2", "--buckets", "1000")
    assert result.exit_code == 0, result.stderr
    assert "classify softmax, sqrt pooling: 6 examples" in result.stderr
    assert "at lr 0.05 " in result.stderr  # a tenth of the mean pooling's rate on small data
    from seqkit.classifier import load_classifier

    clf = load_classifier(str(model))
    assert clf.settings.pooling == "sqrt"
    words = "the team won again".split()
    rows, count = clf.features(words)
    assert count == 5 + 4 and len(rows) < count  # an unknown word's bigrams: counted, no row
    vector = cli_run("sentence-vectors", "-m", model, "-", input=" ".join(words) + "\n").stdout.split()
    expected = clf.input[rows].astype(np.float64).sum(axis=0) / np.sqrt(count)
    np.testing.assert_allclose([float(x) for x in vector], expected, rtol=0, atol=1e-6)  # printed to 6 places
    assert np.abs(expected - clf.input[rows].astype(np.float64).sum(axis=0) / count).max() > 1e-3
    kept = json.loads(np.load(model)["meta"].tobytes())["training"]["valid_precision"]
    tested = cli_run("test", "-m", model, train_file, "-k", "1", "--json", "-q")
    assert json.loads(tested.stdout)["P@1"] == pytest.approx(kept)
    # the scores validation ranks by are the saved model's (a pooling's scale changes softmax probabilities)
    from seqkit_classify.scoring import Validation

    _, held_out = read_examples([str(train_file)], clf.settings, dictionary=clf.dictionary)
    logits = Validation(held_out, clf.bucket_ids, clf.n_words).scores(clf.input, clf.output, None, "sqrt")
    probs = np.exp(logits - logits.max(axis=1, keepdims=True))
    probs /= probs.sum(axis=1, keepdims=True)
    lines = [split_labels(line_tokens(line), "__label__")[0] for line in TRAIN.splitlines()]
    np.testing.assert_allclose(probs, [clf.probabilities(words) for words in lines], rtol=1e-5, atol=1e-6)
    mean = Validation(held_out, clf.bucket_ids, clf.n_words).scores(clf.input, clf.output, None, "mean")
    assert np.abs(mean - logits).max() > 0.3 * np.abs(logits).max()  # the check has teeth
    assert cli_run("classify", train_file, "-o", model, "--pooling", "max").exit_code == 2



@pytest.mark.parametrize("loss", ["softmax", "hs"])
def test_validation_scores_in_blocks_equal_the_whole(monkeypatch, tmp_path, loss):
    """--valid and autotune rank the labels a block of lines at a time (a [lines, labels] table of a large
    validation file took gigabytes); blocks of any size give the whole table's ranking and scores."""
    from seqkit_classify import scoring

    rng = np.random.default_rng(3)
    labels = [f"__label__{i}" for i in range(7)]
    words = [f"w{i}" for i in range(30)]
    text = "".join(" ".join([labels[rng.integers(7)], *rng.choice(words, size=rng.integers(1, 9))]) + "\n"
                   for _ in range(200))
    path = tmp_path / "lines.txt"
    path.write_text(text, encoding="utf-8")
    dictionary, examples = read_examples([str(path)], Settings(word_ngrams=2, buckets=97))
    n_rows = len(dictionary.words) + 97
    input_rows = rng.normal(size=(n_rows, 6)).astype(np.float32)
    tree = huffman_tree(dictionary.label_counts) if loss == "hs" else None
    output_rows = rng.normal(size=(len(labels) - 1 if tree else len(labels), 6)).astype(np.float32)
    validation = scoring.Validation(examples, np.arange(97), len(dictionary.words))
    whole = validation.scores(input_rows, output_rows, tree, "mean")
    assert whole.shape == (200, len(dictionary.labels))
    expected = scoring.top_k(whole, 3)
    for cells in (1, 13, 50, 10**9):  # one line a block, blocks cut by labels or by rows, one block
        monkeypatch.setattr(scoring, "BLOCK_CELLS", cells)
        assert np.array_equal(validation.top_labels(input_rows, output_rows, tree, "mean", 3), expected), cells
    np.testing.assert_allclose(validation.scores(input_rows, output_rows, tree, "mean", 50, 80), whole[50:80])

def test_class_weight_and_pretrained_vectors_change_the_model(cli_run, train_file, tmp_path):
    def trained(*options):
        path = tmp_path / "m.npz"
        result = cli_run("classify", train_file, "-o", path, "-t", "1", "--epochs", "2", "--dim", "4", "-q", *options)
        assert result.exit_code == 0, result.stderr
        with np.load(path) as archive:
            meta = json.loads(archive["meta"].tobytes())
            return archive["output"].copy(), archive["input"].copy(), meta["words"], meta["labels"]

    plain, _, _, _ = trained()
    balanced, _, _, _ = trained("--class-weight", "balanced")
    weights = tmp_path / "weights.txt"
    weights.write_text("__label__food 0\n__label__sport 1\n")
    zeroed, _, _, labels = trained("--class-weight", weights, "--loss", "ova")
    assert not np.array_equal(plain, balanced)
    # one-vs-all: a weight of 0 leaves that label's unit at its initial zeros, and only that one
    food = labels.index("__label__food")
    assert np.all(zeroed[food] == 0) and np.any(zeroed[1 - food] != 0)
    weights.write_text("__label__cake 2\n")
    bad = cli_run("classify", train_file, "-o", tmp_path / "x.npz", "--class-weight", weights)
    assert bad.exit_code == 1 and f"{weights}:1:" in bad.stderr
    weights.write_text("__label__food 2\n# comment\n__label__food 3\n")
    bad = cli_run("classify", train_file, "-o", tmp_path / "x.npz", "--class-weight", weights)
    assert bad.exit_code == 1 and f"{weights}:3: label '__label__food' is given again (first on line 1)" in bad.stderr
    weights.write_text("__label__food 0\n__label__sport 0\n")
    bad = cli_run("classify", train_file, "-o", tmp_path / "x.npz", "--class-weight", weights)
    assert bad.exit_code == 1 and "every label's weight is 0" in bad.stderr
    weights.write_text("__label__food 1e300\n")
    bad = cli_run("classify", train_file, "-o", tmp_path / "x.npz", "--class-weight", weights, "-t", "1")
    assert bad.exit_code == 3 and "lower --lr (or the --class-weight weights" in bad.stderr, bad.stderr
    vecs = tmp_path / "v.vec"
    vecs.write_text("1 4\nbutter 5 5 5 5\n")
    _, rows, words, _ = trained("--pretrained-vectors", vecs, "--lr", "1e-6")
    np.testing.assert_allclose(rows[words.index("butter")], 5.0, atol=1e-3)
    vecs.write_text("2 4\nbutter 5 5 5 5\nbutter 1 1 1 1\n")  # warned about once, as every vector reader does
    warned = cli_run("classify", train_file, "-o", tmp_path / "m.npz", "--dim", "4", "--epochs", "1", "-v", vecs)
    assert warned.exit_code == 0 and "1 duplicate words; the first vector of each is used" in warned.stderr


@pytest.mark.parametrize("quick", [True, False])
@pytest.mark.parametrize("loss,options", [("softmax", ["--word-ngrams", "2"]), ("hs", ["--minn", "2", "--maxn", "4"]),
                                          ("ns", []), ("ova", ["--word-ngrams", "3", "--buckets", "50"]),
                                          ("softmax", ["--pooling", "sqrt"]),
                                          ("hs", ["--minn", "2", "--maxn", "3", "--pooling", "sqrt"])])
def test_block_prediction_equals_line_by_line(cli_run, train_file, tmp_path, monkeypatch, loss, options, quick):
    """`predict` and `test` read blocks of lines through the compiled reader (or, for the first MiB, in
    NumPy alone); every line, blank or labels only or of unknown words, gets what the one-line path
    gives it."""
    from seqkit.commands import classification
    from seqkit_classify import quick as quick_path

    monkeypatch.setattr(quick_path, "QUICK_BYTES", quick_path.QUICK_BYTES if quick else 0)

    model = tmp_path / "m.npz"
    result = cli_run("classify", train_file, "-o", model, "--loss", loss, "--epochs", "20", "-t", "1", "-q", *options)
    assert result.exit_code == 0, result.stderr
    text = tmp_path / "text.txt"
    text.write_text("the team won\n\n   \t\n__label__food\nzzz qqq\nbutter\tand  flour sugar\nécole 猫 team\n"
                    "__label__sport the match __label__food butter\nthe coach", encoding="utf-8")
    monkeypatch.setattr(classification, "BATCH_LINES", 3)  # blocks that cut the text anywhere
    outputs = {}
    for path in ("block", "line"):
        if path == "line":
            from seqkit_classify.model import BagOfNgramsClassifier

            monkeypatch.delattr(BagOfNgramsClassifier, "predict_lines")
        for args in (["-k", "-1", "--prob"], ["-k", "2", "--threshold", "0.2", "--json"], []):
            run = cli_run("predict", "-m", model, text, *args)
            assert run.exit_code == 0, run.stderr
            outputs[path, tuple(args)] = run.stdout
        outputs[path, "test"] = cli_run("test", "-m", model, train_file, "-k", "2", "--per-label").stdout
    for key in [k for k in outputs if k[0] == "block"]:
        block, line = outputs[key].splitlines(), outputs[("line", key[1])].splitlines()
        assert len(block) == len(line) and (len(block) == 9 or key[1] == "test")
        if "--json" in key[1]:
            block, line = ([json.loads(row) for row in rows] for rows in (block, line))
            assert [r["labels"] for r in block] == [r["labels"] for r in line]
            assert [r["probs"] for r in block] == [pytest.approx(r["probs"], rel=1e-5) for r in line]
        elif "--prob" in key[1]:
            # a matrix product may round the last bit apart from the one-line product: the printed digits agree
            assert [r.split()[::2] for r in block] == [r.split()[::2] for r in line]
            assert [[float(p) for p in r.split()[1::2]] for r in block] == \
                [pytest.approx([float(p) for p in r.split()[1::2]], rel=1e-5) for r in line]
        else:
            assert block == line


@pytest.mark.parametrize("loss", ["softmax", "hs"])
def test_features_held_in_a_file_train_the_same_model(cli_run, tmp_path, monkeypatch, loss):
    """A large input's features live in a temporary file, read in runs whose pages are handed back: with
    one thread the model is the one in-memory features give (unlabelled lines dropped in place)."""
    from seqkit_classify import store

    text = tmp_path / "train.txt"
    text.write_text(TRAIN * 30 + "a line without a label\n" + TRAIN * 30, encoding="utf-8")
    models = {}
    for where, spill, run in (("memory", 1 << 40, store.RUN_BYTES), ("file", 0, 300_000)):
        monkeypatch.setattr(store, "SPILL_BYTES", spill)
        monkeypatch.setattr(store, "RUN_BYTES", run)  # a few examples per run
        models[where] = tmp_path / f"{where}.npz"
        result = cli_run("classify", text, "-o", models[where], "-t", "1", "--loss", loss, "--epochs", "3",
                         "--word-ngrams", "2", "--seed", "3")
        assert result.exit_code == 0, result.stderr
        assert "skipped 1 lines without a label" in result.stderr
    a, b = (np.load(models[w]) for w in ("memory", "file"))
    assert np.array_equal(a["bucket_ids"], b["bucket_ids"])
    np.testing.assert_allclose(a["input"], b["input"], rtol=0, atol=1e-6)  # the lr schedule cut at run ends
    np.testing.assert_allclose(a["output"], b["output"], rtol=0, atol=1e-6)


class _OneAfterAnother:
    """A ThreadPoolExecutor that runs each task to its end before the next (a deterministic schedule)."""

    def __init__(self, max_workers):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def map(self, fn, items):
        return list(map(fn, items))


@pytest.mark.parametrize("loss", ["softmax", "ova"])
def test_private_output_rows_lose_no_update(monkeypatch, tmp_path, loss):
    """With several threads, softmax trains private output rows merged every SYNC_EXAMPLES lines (ova can
    too, though it does not by default): when the threads run one after another, that is the plain Hogwild
    run, update for update."""
    from seqkit_classify import train

    path = tmp_path / "train.txt"
    path.write_text(TRAIN * 9, encoding="utf-8")  # 54 lines: 27 a thread
    monkeypatch.setattr(train, "ThreadPoolExecutor", _OneAfterAnother)
    monkeypatch.setattr(train, "SYNC_EXAMPLES", 5)  # many merges, the last block short
    merges = []
    real_merge = kernels.merge_private_rows
    monkeypatch.setattr(kernels, "merge_private_rows", lambda *a: (merges.append(1), real_merge(*a)))
    outputs = {}
    for private in (True, False):
        monkeypatch.setattr(train, "DENSE_OUTPUT_LOSSES", ("softmax", "ova") if private else ())
        dictionary, examples = read_examples([str(path)], Settings(word_ngrams=2, buckets=101))
        config = train.Config(loss=loss, dim=8, lr=0.5, epochs=2, threads=2, seed=1)
        weights = train.init_weights(dictionary, train.compact(examples, len(dictionary.words)), config)
        train.train(dictionary, examples, weights, config)
        outputs[private] = (weights.input, weights.output)
    assert len(merges) == 2 * 2 * 6  # 2 threads x 2 epochs x ceil(27 / 5) blocks
    for a, b in zip(outputs[True], outputs[False]):
        assert np.abs(b).max() > 0.01
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-5)


def test_merge_private_rows_adds_every_threads_updates():
    rng = np.random.default_rng(0)
    shared = rng.normal(size=(3, 4)).astype(np.float32)
    start = shared.copy()
    mine, theirs = start + 0.5, start - 0.25  # two threads' rows, both from `start`
    my_base, their_base = start.copy(), start.copy()
    kernels.merge_private_rows(shared, mine, my_base)
    kernels.merge_private_rows(shared, theirs, their_base)
    np.testing.assert_allclose(shared, start + 0.25, atol=1e-6)
    assert np.array_equal(theirs, shared) and np.array_equal(their_base, shared)
    np.testing.assert_allclose(mine, start + 0.5, atol=1e-6)  # taken back at its next merge


def test_example_runs_cover_the_order_once():
    from seqkit_classify.store import FAULT_AROUND, RUN_BYTES, example_runs

    offsets = np.cumsum([0] + [3, 0, 5000, 7] * 50).astype(np.int64)
    order = np.random.default_rng(0).permutation(200).astype(np.int64)
    runs = example_runs(order, offsets, 4)
    assert runs[0][0] == 0 and runs[-1][1] == 200 and all(a < b for a, b in runs)
    assert all(b == c for (_, b), (c, _) in zip(runs, runs[1:]))
    assert len(runs) >= 200 * FAULT_AROUND // RUN_BYTES
    assert example_runs(order[:0], offsets, 4) == []


def test_compact_and_init_weights_equal_their_plain_forms(monkeypatch):
    """compact renumbers buckets in place as np.unique would; init_weights draws in blocks the numbers
    one draw gives."""
    from seqkit_classify import train
    from seqkit_classify.data import Dictionary, Examples

    rng = np.random.default_rng(2)
    features = np.where(rng.random(500) < 0.3, rng.integers(0, 10, 500), 10 + rng.integers(0, 9000, 500))
    for dtype in (np.int32, np.int64):
        examples = Examples(features.astype(dtype), np.array([0, 500]), np.zeros(1, np.int32), np.array([0, 1]),
                            np.ones(1))
        bucket_ids = train.compact(examples, 10)
        unique, rows = np.unique(features[features >= 10] - 10, return_inverse=True)
        assert np.array_equal(bucket_ids, unique) and bucket_ids.dtype == np.int64
        assert np.array_equal(examples.features[features >= 10], 10 + rows)
        assert np.array_equal(examples.features[features < 10], features[features < 10])
    words = ["</s>"] + [f"w{i}" for i in range(99)]
    dictionary = Dictionary(words, np.ones(100, np.int64), ["a", "b"], np.ones(2, np.int64))
    monkeypatch.setattr(train, "INIT_BLOCK", 70)
    config = train.Config(dim=7, seed=4)
    weights = train.init_weights(dictionary, np.arange(33), config)
    one_draw = np.random.default_rng(4).uniform(-1 / 7, 1 / 7, size=(133, 7)).astype(np.float32)
    assert np.array_equal(weights.input, one_draw)


def test_a_short_prediction_never_loads_numba_and_prints_what_the_compiled_path_does(seqkit_proc, train_file,
                                                                                     tmp_path):
    model = tmp_path / "m.npz"
    assert seqkit_proc("classify", train_file, "-o", model, "-t", "1", "--epochs", "5", "-q").returncode == 0
    text = "the team won\n\nbutter école flour __label__food\nzzz\n"
    probe = ("import sys, runpy; sys.argv = ['seqkit', *sys.argv[1:]]\n"
             "try:\n    runpy.run_module('seqkit', run_name='__main__')\n"
             "except SystemExit:\n    pass\nprint('numba' in sys.modules, file=sys.stderr)\n")
    runs = {}
    for quick_bytes in ("", "0"):
        setup = f"import seqkit_classify.quick as q; q.QUICK_BYTES = {quick_bytes or 'q.QUICK_BYTES'}\n"
        out = subprocess.run([sys.executable, "-c", setup + probe, "predict", "-m", str(model), "-", "--prob", "-k",
                              "-1"], input=text, capture_output=True, text=True, check=True)
        runs[quick_bytes] = out
    assert runs[""].stderr.strip() == "False" and runs["0"].stderr.strip() == "True"
    assert runs[""].stdout == runs["0"].stdout and len(runs[""].stdout.splitlines()) == 4


def test_an_output_that_is_an_input_is_refused_before_training(cli_run, train_file, tmp_path):
    weights = tmp_path / "w.txt"
    weights.write_text("__label__food 2\n")
    copy = tmp_path / "copy.txt"
    copy.write_text(TRAIN, encoding="utf-8")
    for args in ([copy, "-o", copy], [train_file, "--valid", copy, "-o", copy],
                 [train_file, "--class-weight", weights, "-o", weights],
                 [train_file, "--autotune-validation", copy, "--autotune-trials", "2", "-o", copy]):
        result = cli_run("classify", *args)
        assert result.exit_code == 2 and "same file as the input" in result.stderr, args
    assert copy.read_text(encoding="utf-8") == TRAIN and weights.read_text() == "__label__food 2\n"
    result = cli_run("classify", train_file, "-o", tmp_path / "m.npz.gz")
    assert result.exit_code == 2 and "cannot be written compressed" in result.stderr


def test_model_to_stdout_and_test_json_without_nan(cli_run, train_file, tmp_path):
    result = cli_run("classify", train_file, "-o", "-", "--epochs", "2")
    assert result.exit_code == 0, result.stderr
    model = tmp_path / "m.npz"
    model.write_bytes(result.stdout_bytes)
    assert "on stdout" in result.stderr
    result = cli_run("test", "-m", model, train_file, "--json", "--threshold", "1")  # nothing predicted
    assert result.exit_code == 0, result.stderr
    figures = json.loads(result.stdout)  # strict JSON: no NaN
    assert figures["P@1"] is None and figures["R@1"] == 0.0
    for k in ("0", "-2"):
        result = cli_run("predict", "-m", model, "-k", k, "-", input="butter\n")
        assert result.exit_code == 2 and "-1 for every label" in result.stderr


def test_a_model_whose_bytes_changed_is_refused_not_used(cli_run, train_file, tmp_path):
    model = tmp_path / "m.npz"
    assert cli_run("classify", train_file, "-o", model, "-q", "--epochs", "1").exit_code == 0
    data = bytearray(model.read_bytes())
    at = data.index(b"input.npy") + 300  # inside the memory-mapped input matrix
    data[at:at + 16] = bytes(b ^ 0x5A for b in data[at:at + 16])
    damaged = tmp_path / "damaged.npz"
    damaged.write_bytes(bytes(data))
    result = cli_run("test", "-m", damaged, train_file)
    assert result.exit_code == 1 and "checksum" in result.stderr and result.stdout == ""


def test_messages_name_stdin_and_an_empty_valid_file(cli_run, train_file, tmp_path):
    result = cli_run("classify", "-", "-o", tmp_path / "m.npz", "--strict", input=TRAIN + "no label here\n")
    assert result.exit_code == 1 and "<stdin>:7: no label" in result.stderr, result.stderr
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    result = cli_run("classify", train_file, "--valid", empty, "-o", tmp_path / "m.npz")
    assert result.exit_code == 1 and f"no tokens found in {empty}" in result.stderr
    result = cli_run("classify", train_file, "--class-weight", "Balanced", "-o", tmp_path / "m.npz", "-q")
    assert result.exit_code == 0, result.stderr


def test_predict_answers_each_line_of_a_pipe_before_the_input_ends(cli_run, train_file, tmp_path):
    """fastText's `predict model -` answers line by line, so it can serve as a co-process."""
    from conftest import ask_while_open

    model = tmp_path / "m.npz"
    assert cli_run("classify", train_file, "-o", model, "-q", "--epochs", "2").exit_code == 0
    first, rest, code = ask_while_open(["predict", "-m", model, "-"], b"butter and flour\n",
                                       b"the team won")  # the last line may lack its newline
    assert first == b"__label__food\n" and rest == b"__label__sport\n" and code == 0


@pytest.mark.parametrize("loss", ["softmax", "ns", "hs", "ova"])
def test_a_diverged_run_of_any_loss_is_an_error_and_writes_no_model(cli_run, train_file, tmp_path, loss):
    """A sigmoid loss (ns, hs, ova) once kept a nan score's probability at 0, so a diverged run ended with a
    finite loss and a model of nans."""
    model = tmp_path / "m.npz"
    result = cli_run("classify", train_file, "-o", model, "-t", "1", "--loss", loss, "--lr", "1e6", "--epochs", "3",
                     "--dim", "8")
    assert result.exit_code == 3 and "lower --lr" in result.stderr, result.stderr
    assert not model.exists()
