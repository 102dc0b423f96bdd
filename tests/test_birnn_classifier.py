"""`seqkit classify --model birnn`: the network's gradients against float64 finite differences, padding
invariance, the kernels against NumPy, reproducibility across processes, the trainer registry's usage
errors, the model file through predict/test/sentence-vectors, and a word-order task bow cannot learn."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys

import numpy as np
import pytest

from seqkit_seq2seq.classifier_kernels import adam_rows, max_pool, max_pool_backward
from seqkit_seq2seq.classifier_network import Config, Network, init_params

TRAIN = "".join(f"__label__{'pos' if i % 2 else 'neg'} {'great fun' if i % 2 else 'dull mess'} film {i % 5}\n"
                for i in range(40))


def _problem(cell: str, pool: str, layers: int = 1, dtype=np.float64):
    config = Config(cell=cell, layers=layers, dim=4, hidden=3 + layers, pool=pool, dropout=0.0)
    params = init_params(config, 7, 3, np.random.default_rng(3), dtype=dtype)
    for name in params:
        params[name] *= 3  # larger weights: gradients well above the finite-difference noise
    ids = np.array([[3, 4, 5], [4, 6, 0], [5, 0, 0], [6, 0, 0]])  # time-major, <pad> = 0
    return config, params, ids, np.array([4, 2, 1]), np.array([0, 2, 1])


@pytest.mark.parametrize("cell,pool,layers", [("gru", "max", 1), ("gru", "last", 1), ("lstm", "max", 1),
                                              ("lstm", "last", 1), ("gru", "max", 2), ("rnn", "max", 1)])
def test_gradients_match_finite_differences(cell, pool, layers):
    """Every parameter (embedding rows, both directions of every layer, the output layer) through the pooling."""
    config, params, ids, lengths, targets = _problem(cell, pool, layers)
    network = Network(config, params, batch=3, max_steps=5)

    def loss() -> float:
        network.forward(ids, lengths)
        return float(-np.log(network.probabilities()[np.arange(3), targets]).mean())

    network.forward(ids, lengths)
    total, count, grads, rows, row_grads = network.loss_and_backward(targets)
    assert count == 3 and total / count == pytest.approx(loss(), abs=1e-12)
    grads = {name: g.copy() for name, g in grads.items()}
    grads["embed"] = np.zeros_like(params["embed"])
    grads["embed"][rows] = row_grads
    assert 0 not in rows.tolist()  # <pad> never learns
    assert set(grads) == set(params)
    eps = 1e-6
    for name, grad in grads.items():
        table = params[name]
        numeric = np.zeros_like(table)
        for i in np.ndindex(table.shape):
            old = table[i]
            table[i] = old + eps
            up = loss()
            table[i] = old - eps
            down = loss()
            table[i] = old
            numeric[i] = (up - down) / (2 * eps)
        assert np.abs(numeric).max() > 1e-4 or name == "embed"
        np.testing.assert_allclose(grad, numeric, atol=1e-7, err_msg=name)


@pytest.mark.parametrize("pool", ["max", "last"])
@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_a_sentence_scores_the_same_alone_and_beside_longer_ones(cell, pool):
    config = Config(cell=cell, dim=6, hidden=5, pool=pool, dropout=0.0)
    params = init_params(config, 12, 3, np.random.default_rng(1))
    sentence = [4, 7, 2]
    alone = Network(config, params, batch=1, max_steps=8)
    alone.forward(np.array(sentence)[:, None], np.array([3]))
    expected = alone.probabilities()[0].copy(), alone.pooled[0].copy()
    batch = np.zeros((8, 3), dtype=np.int64)
    batch[:, 0] = [5, 6, 7, 8, 9, 10, 11, 2]
    batch[:3, 1] = sentence
    batch[:5, 2] = [9, 9, 3, 3, 2]
    together = Network(config, params, batch=3, max_steps=8)
    together.forward(batch, np.array([8, 3, 5]))
    np.testing.assert_allclose(together.probabilities()[1], expected[0], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(together.pooled[1], expected[1], rtol=1e-5, atol=1e-6)


def test_max_pool_kernels_against_numpy():
    rng = np.random.default_rng(0)
    outputs = rng.normal(size=(5, 3, 4))
    outputs[3:, 1] = 100.0  # padding of sentence 1 must never win
    lengths = np.array([5, 3, 1])
    pooled, argmax = np.empty((3, 4)), np.empty((3, 4), np.int64)
    max_pool(outputs, lengths, pooled, argmax)
    for b, n in enumerate(lengths):
        np.testing.assert_array_equal(pooled[b], outputs[:n, b].max(axis=0))
        np.testing.assert_array_equal(argmax[b], outputs[:n, b].argmax(axis=0))
    dpooled = rng.normal(size=(3, 4))
    dout = np.full_like(outputs, 7.0)
    max_pool_backward(dpooled, argmax, dout)
    expected = np.zeros_like(outputs)
    for b in range(3):
        for c in range(4):
            expected[argmax[b, c], b, c] = dpooled[b, c]
    np.testing.assert_array_equal(dout, expected)


def test_lazy_adam_rows_equal_dense_adam_on_those_rows():
    rng = np.random.default_rng(2)
    table, m, v = rng.normal(size=(6, 3)), rng.random((6, 3)), rng.random((6, 3))
    rows, grads = np.array([1, 4]), rng.normal(size=(2, 3))
    expected = table.copy(), m.copy(), v.copy()
    for i, r in enumerate(rows):
        g = grads[i] * 0.5
        expected[1][r] = 0.9 * m[r] + 0.1 * g
        expected[2][r] = 0.999 * v[r] + 0.001 * g * g
        expected[0][r] = table[r] - 0.01 * expected[1][r] / (np.sqrt(expected[2][r]) + 1e-8)
    adam_rows(table, m, v, rows, grads, 0.01, 0.5, 0.9, 0.999, 1e-8)
    for got, want in zip((table, m, v), expected):
        np.testing.assert_allclose(got, want, rtol=1e-12)


@pytest.fixture
def train_file(tmp_path):
    path = tmp_path / "train.txt"
    path.write_text(TRAIN, encoding="utf-8")
    return path


def _train(cli_run, train_file, tmp_path, *extra):
    model = tmp_path / "model.npz"
    result = cli_run("classify", train_file, "-o", model, "--model", "birnn", "--dim", "8", "--hidden", "8",
                     "--epochs", "8", "--lr", "0.02", "--batch", "8", "-t", "1", *extra)
    return result, model


def test_train_predict_test_and_sentence_vectors(cli_run, train_file, tmp_path):
    result, model = _train(cli_run, train_file, tmp_path, "--valid", train_file)
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    assert "classify birnn: 40 examples" in result.stderr and "best epoch" in result.stderr
    tested = cli_run("test", "-m", model, train_file, "--json")
    assert tested.exit_code == 0 and json.loads(tested.stdout)["P@1"] == 1.0
    predicted = cli_run("predict", "-m", model, "--prob", "-k", "2", input="great fun film 1\ndull mess film 2\n")
    first, second = [line.split() for line in predicted.stdout.splitlines()]
    assert first[0] == "__label__pos" and second[0] == "__label__neg"
    assert float(first[1]) + float(first[3]) == pytest.approx(1.0, abs=1e-5)
    vectors = cli_run("sentence-vectors", "-m", model, input="great fun\n")
    assert len(vectors.stdout.split()) == 2 * 8  # max-pooled forward and backward states
    meta = json.loads(np.load(model)["meta"].tobytes())
    assert meta["format"] == "seqkit-birnn-classifier" and meta["config"]["pool"] == "max"
    assert [h["epoch"] for h in meta["history"]] == list(range(1, len(meta["history"]) + 1))


@pytest.mark.parametrize("args,message", [
    (("--model", "cnn"), "'cnn' is not one of"),
    (("--model", "birnn", "--loss", "hs"), "--loss is an option of --model bow"),
    (("--cell", "lstm"), "--cell is an option of --model birnn"),
    (("--model", "bow", "--freeze-embeddings"), "--freeze-embeddings is an option of --model birnn"),
    (("--model", "birnn", "--freeze-embeddings"), "give -v"),
])
def test_usage_errors(cli_run, train_file, tmp_path, args, message):
    result = cli_run("classify", train_file, "-o", tmp_path / "m.npz", *args)
    assert result.exit_code == 2 and message in result.stderr
    assert not (tmp_path / "m.npz").exists()


def test_multi_label_lines_are_refused_naming_the_line(cli_run, tmp_path):
    path = tmp_path / "multi.txt"
    path.write_text("__label__a x y\n\n__label__b z\n__label__a __label__b x\n", encoding="utf-8")
    result = cli_run("classify", path, "-o", tmp_path / "m.npz", "--model", "birnn")
    assert result.exit_code == 1
    assert f"{path}:4: two different labels" in result.stderr and "--loss ova" in result.stderr


def test_help_lists_the_models_and_imports_no_numba(seqkit_proc):
    code = ("import sys; from seqkit.cli import main\n"
            "try:\n    main(['classify', '--help'])\nexcept SystemExit:\n    pass\n"
            "print('HEAVY', [m for m in sys.modules if m.split('.')[0] in ('numba', 'numpy')])")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert "--model [birnn|bow]" in proc.stdout and "Options of --model birnn" in proc.stdout
    assert "--cell" in proc.stdout and "--word-ngrams" in proc.stdout
    assert proc.stdout.strip().endswith("HEAVY []")


def test_one_thread_and_a_seed_reproduce_the_model_in_another_process(seqkit_proc, train_file, tmp_path):
    arrays = []
    for name in ("a.npz", "b.npz"):
        proc = seqkit_proc("classify", train_file, "-o", tmp_path / name, "--model", "birnn", "--cell", "lstm",
                           "--dim", "6", "--hidden", "5", "--epochs", "2", "--batch", "4", "-t", "1", "--seed", "7",
                           "-q")
        assert proc.returncode == 0 and proc.stderr == b""
        with np.load(tmp_path / name) as archive:
            arrays.append({k: archive[k] for k in archive.files if k != "meta"})
    assert arrays[0].keys() == arrays[1].keys()
    for name in arrays[0]:
        assert arrays[0][name].tobytes() == arrays[1][name].tobytes(), name
    other = seqkit_proc("classify", train_file, "-o", tmp_path / "c.npz", "--model", "birnn", "--cell", "lstm",
                        "--dim", "6", "--hidden", "5", "--epochs", "2", "--batch", "4", "-t", "1", "--seed", "8", "-q")
    with np.load(tmp_path / "c.npz") as archive:
        assert archive["param/Wout"].tobytes() != arrays[0]["param/Wout"].tobytes()
    tested = seqkit_proc("test", "-m", tmp_path / "a.npz", train_file)
    assert tested.returncode == 0 and tested.stdout.decode().startswith("N\t40\nP@1\t")
    predicted = seqkit_proc("predict", "-m", tmp_path / "a.npz", input="great fun film 1\n\n")
    assert predicted.returncode == 0 and predicted.stdout.decode().count("__label__") == 2


def test_ctrl_c_saves_the_model_and_exits_130(cli_run, train_file, tmp_path, monkeypatch):
    from seqkit_seq2seq import classifier_command

    calls = []

    @contextlib.contextmanager
    def ctrl_c_after_three_batches():
        yield lambda: calls.append(1) or len(calls) > 3

    monkeypatch.setattr(classifier_command, "deferred_interrupt", ctrl_c_after_three_batches)
    result, model = _train(cli_run, train_file, tmp_path)
    assert result.exit_code == 130 and "interrupted" in result.stderr
    assert cli_run("test", "-m", model, train_file).exit_code == 0


def test_a_damaged_model_is_one_error_line(cli_run, train_file, tmp_path):
    from seqkit import modelfile

    _, model = _train(cli_run, train_file, tmp_path, "--epochs", "1")
    with np.load(model) as archive:
        entries = {k: archive[k] for k in archive.files if k != "meta"}
        meta = json.loads(archive["meta"].tobytes())
    meta["params"]["Wout"] = [10**6, 10**6]
    modelfile.save(str(model), meta, entries)
    result = cli_run("test", "-m", model, train_file)
    assert result.exit_code == 1 and "do not fit its configuration" in result.stderr


def _word_order_lines(n: int, seed: int) -> str:
    """'not' before 'good' is negative, after it positive: both classes have the same bag of words."""
    rng = np.random.default_rng(seed)
    fillers = [f"w{i}" for i in range(12)]
    lines = []
    for _ in range(n):
        words = list(rng.choice(fillers, size=rng.integers(3, 7)))
        first, second = sorted(rng.choice(len(words) + 2, size=2, replace=False))
        negative = rng.random() < 0.5
        words.insert(first, "not" if negative else "good")
        words.insert(second, "good" if negative else "not")
        lines.append(f"__label__{'neg' if negative else 'pos'} {' '.join(words)}\n")
    return "".join(lines)


def test_word_order_is_learned_by_birnn_and_not_by_a_bag_of_words(cli_run, tmp_path):
    train, test = tmp_path / "train.txt", tmp_path / "test.txt"
    train.write_text(_word_order_lines(2000, 1), encoding="utf-8")
    test.write_text(_word_order_lines(500, 2), encoding="utf-8")
    birnn = cli_run("classify", train, "-o", tmp_path / "rnn.npz", "--model", "birnn", "--dim", "16", "--hidden",
                    "16", "--epochs", "10", "--lr", "0.01", "--batch", "32", "--dropout", "0", "-t", "1", "-q")
    bow = cli_run("classify", train, "-o", tmp_path / "bow.npz", "--word-ngrams", "1", "-t", "1", "-q")
    assert birnn.exit_code == 0 and bow.exit_code == 0
    scores = {name: json.loads(cli_run("test", "-m", tmp_path / f"{name}.npz", test, "--json").stdout)["P@1"]
              for name in ("rnn", "bow")}
    assert scores["rnn"] > 0.95
    assert scores["bow"] < 0.65


def test_trainer_registry_refuses_taken_names_and_options():
    import click

    from seqkit.plugins import PluginConflict, Registry

    class Trainer:
        help = "x"

        def __init__(self, name, *flags):
            self.name, self.params = name, [click.Option([flag]) for flag in flags]

        def train(self, **options):
            pass

    registry = Registry()
    registry.add_classifier_trainer(Trainer("a", "--alpha"))
    for bad, taken in [(Trainer("a"), "already registered"), (Trainer("b", "--alpha"), "--model a"),
                       (Trainer("c", "--dim"), "`seqkit classify` itself"), (Trainer("d", "-o"), "itself")]:
        with pytest.raises(PluginConflict, match=taken):
            registry.add_classifier_trainer(bad)
    with pytest.raises(TypeError):
        registry.add_classifier_trainer(object())
    assert list(registry.classifier_trainers) == ["a"]


@pytest.mark.parametrize("option", [("--pool", "last"), ("--optimizer", "sgd"), ("--layers", "2"), ("--clip", "0.01"),
                                    ("--dropout", "0"), ("--cell", "rnn"), ("--batch", "3"), ("--min-count", "9")])
def test_every_option_changes_the_model(cli_run, train_file, tmp_path, option):
    def output_layer(*extra):
        model = tmp_path / "m.npz"
        result = cli_run("classify", train_file, "-o", model, "--model", "birnn", "--dim", "6", "--hidden", "4",
                         "--epochs", "2", "-t", "1", "-q", *extra)
        assert result.exit_code == 0, result.stderr
        with np.load(model) as archive:
            return archive["param/Wout"].copy(), archive["param/embed"].shape

    assert output_layer()[0].tobytes() != output_layer(*option)[0].tobytes()


def test_pretrained_vectors_initialise_and_freeze_the_embedding(cli_run, train_file, tmp_path):
    vectors = tmp_path / "vecs.txt"
    table = {"great": [0.5, -1, 2, 0.25], "dull": [1, 1, -1, 0]}
    vectors.write_text("2 4\n" + "".join(f"{w} {' '.join(map(str, v))}\n" for w, v in table.items()))
    model = tmp_path / "m.npz"
    result = cli_run("classify", train_file, "-o", model, "--model", "birnn", "--dim", "4", "--hidden", "3",
                     "--epochs", "2", "-t", "1", "-v", vectors, "--freeze-embeddings")
    assert result.exit_code == 0 and "2 of" in result.stderr
    with np.load(model) as archive:
        words = json.loads(archive["meta"].tobytes())["words"]
        embed = archive["param/embed"]
    for word, vector in table.items():
        np.testing.assert_array_equal(embed[words.index(word)], np.array(vector, dtype=np.float32))
    wrong = cli_run("classify", train_file, "-o", model, "--model", "birnn", "--dim", "5", "-v", vectors)
    assert wrong.exit_code == 1 and "dimension 4, but --dim is 5" in wrong.stderr


def test_two_threads_give_the_one_thread_model_and_json_reports_the_run(cli_run, train_file, tmp_path):
    """Each direction of the encoder has its own thread and buffers, so threads never change the numbers."""
    weights = []
    for threads in ("1", "2"):
        model = tmp_path / f"t{threads}.npz"
        result = cli_run("classify", train_file, "-o", model, "--model", "birnn", "--dim", "6", "--hidden", "5",
                         "--epochs", "2", "--batch", "4", "-t", threads, "--json", "-q")
        assert result.exit_code == 0 and result.stderr == ""
        report = json.loads(result.stdout)
        assert report["model"] == "birnn" and report["epochs"] == 2 and len(report["history"]) == 2
        with np.load(model) as archive:
            weights.append([archive[k].tobytes() for k in sorted(archive.files) if k != "meta"])
    assert weights[0] == weights[1]


def test_long_lines_are_cut_and_counted(cli_run, train_file, tmp_path):
    from seqkit_seq2seq.classifier_data import Examples, clip

    examples = Examples(np.array([5, 6, 7, 8, 2, 9, 2]), np.array([0, 5, 7]), np.array([0, 1]))
    assert clip(examples, 3) == 1
    assert examples.ids.tolist() == [5, 6, 2, 9, 2] and examples.offsets.tolist() == [0, 3, 5]
    with open(train_file, "a", encoding="utf-8") as out:
        out.write("__label__pos " + "great " * 50 + "\n")
    result, _ = _train(cli_run, train_file, tmp_path, "--max-length", "20")
    assert result.exit_code == 0 and "1 training lines longer than --max-length 20 tokens were cut" in result.stderr
