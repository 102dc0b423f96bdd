"""seq2seq training: the best validation epoch is the model (BLEU, else perplexity), early stopping,
and a run interrupted in the middle of epochs and resumed equals an uninterrupted one bit for bit."""

from __future__ import annotations

import contextlib
import itertools
import json

import numpy as np
import pytest

from test_seq2seq import TRAIN_OPTIONS, _write, dates

COMMON = ["--threads", "1", "--seed", "7", "--dropout", "0.2", "--teacher-forcing", "0.5", *TRAIN_OPTIONS]


def _arrays(path, prefix):
    with np.load(path) as archive:
        return {k[len(prefix) + 1:]: archive[k] for k in archive.files if k.startswith(prefix + "/")}


def _meta(path):
    with np.load(path) as archive:
        return json.loads(archive["meta"].tobytes())


def _same(a, b):
    assert a.keys() == b.keys() and a
    for key in a:
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)


@pytest.fixture
def files(tmp_path):
    src, tgt = dates(3, 200)
    vsrc, vtgt = dates(4, 20)
    return {"s": _write(tmp_path, "s", src), "t": _write(tmp_path, "t", tgt),
            "vs": _write(tmp_path, "vs", vsrc), "vt": _write(tmp_path, "vt", vtgt)}


def _scripted_bleu(monkeypatch, scores):
    """Validation BLEU taken from `scores` in order, one per epoch, across runs (a resumed run goes on)."""
    import seqkit_seq2seq.command as command

    scores = iter(scores)
    monkeypatch.setattr(command, "_validation_bleu", lambda *args: (lambda params: next(scores)))


def _train(cli_run, files, output, epochs, *extra, valid=True):
    more = ["--valid-src", files["vs"], "--valid-tgt", files["vt"]] if valid else []
    return cli_run("seq2seq", files["s"], files["t"], "-o", output, "--epochs", str(epochs), *more, *COMMON, *extra)


def test_the_best_bleu_epoch_is_kept_and_patience_stops(cli_run, files, tmp_path, monkeypatch):
    _scripted_bleu(monkeypatch, [10.0, 30.0, 20.0, 20.0, 20.0])
    model = tmp_path / "m.npz"
    result = _train(cli_run, files, model, 5, "--patience", "2")
    assert result.exit_code == 0, result.output
    assert "kept epoch 2 (best valid BLEU 30.00)" in result.stderr
    assert [h["epoch"] for h in _meta(model)["history"] if "epoch" in h] == [1, 2, 3, 4]  # stopped early
    # the model is epoch 2's, the latest (epoch 4's) parameters are kept apart for --resume
    for epochs, prefix in ((2, "param"), (4, "latest")):
        plain = tmp_path / f"plain{epochs}.npz"
        assert _train(cli_run, files, plain, epochs, "-q", valid=False).exit_code == 0
        _same(_arrays(model, prefix), _arrays(plain, "param"))
    from seqkit_seq2seq.command import load_translator

    translator = load_translator(str(model))[0]
    _same(translator.params, _arrays(tmp_path / "plain2.npz", "param"))


def test_perplexity_chooses_without_bleu(cli_run, files, tmp_path, monkeypatch):
    import seqkit_seq2seq.command as command
    import seqkit_seq2seq.train as train

    monkeypatch.setattr(command, "_validation_bleu", lambda *args: (lambda params: None))
    ppl = iter([5.0, 3.0, 4.0])
    monkeypatch.setattr(train, "validation_loss", lambda *args: next(ppl))
    model = tmp_path / "m.npz"
    result = _train(cli_run, files, model, 3)
    assert result.exit_code == 0, result.output
    assert "kept epoch 2 (best valid ppl 3.00, no BLEU)" in result.stderr
    plain = tmp_path / "plain.npz"
    assert _train(cli_run, files, plain, 2, "-q", valid=False).exit_code == 0
    _same(_arrays(model, "param"), _arrays(plain, "param"))


def _interrupt_at(monkeypatch, call: int):
    """Ctrl-C as the trainer sees it: the `call`-th check (one before every batch, one after each epoch)."""
    import seqkit_seq2seq.command as command

    counter = itertools.count(1)

    @contextlib.contextmanager
    def deferred():
        yield lambda: next(counter) >= call

    monkeypatch.setattr(command, "deferred_interrupt", deferred)


@pytest.mark.parametrize("model", [[], ["--cell", "lstm", "--decoder-layers", "2", "--attention", "dot"]])
def test_interrupted_mid_epoch_and_resumed_equals_uninterrupted(cli_run, files, tmp_path, monkeypatch, model):
    _scripted_bleu(monkeypatch, [10.0, 30.0, 20.0])
    whole = tmp_path / "whole.npz"
    assert _train(cli_run, files, whole, 3, "-q", *model).exit_code == 0
    _scripted_bleu(monkeypatch, [10.0, 30.0, 20.0])
    options = model
    model = tmp_path / "m.npz"
    # 200 pairs in batches of 32: 7 batches an epoch
    _interrupt_at(monkeypatch, 4)  # after 3 batches of epoch 1
    result = _train(cli_run, files, model, 3, "-q", *options)
    assert result.exit_code == 130 and "after batch 3 of 7" in result.stderr
    assert _meta(model)["training"]["progress"]["batch"] == 3
    _interrupt_at(monkeypatch, 4 + 1 + 7 + 1 + 3)  # epoch 1's last 4 batches, epoch 2, 2 batches of epoch 3
    result = _train(cli_run, files, model, 3, "-q", "--resume")
    assert result.exit_code == 130 and "in epoch 3 after batch 2 of 7" in result.stderr
    progress = _meta(model)["training"]["progress"]
    assert (progress["epoch"], progress["batch"], progress["best_epoch"]) == (2, 2, 2)
    monkeypatch.undo()
    _scripted_bleu(monkeypatch, [20.0])
    assert _train(cli_run, files, model, 3, "-q", "--resume").exit_code == 0
    for prefix in ("param", "latest", "opt"):
        _same(_arrays(model, prefix), _arrays(whole, prefix))
    ours, theirs = _meta(model)["history"], _meta(whole)["history"]
    assert [h["train_ppl"] for h in ours if "epoch" in h] == [h["train_ppl"] for h in theirs if "epoch" in h]


def test_decoder_layers_are_stacked_and_translate(cli_run, files, tmp_path):
    model = tmp_path / "m.npz"
    assert _train(cli_run, files, model, 1, "-q", "--decoder-layers", "3", valid=False).exit_code == 0
    names = set(_arrays(model, "param"))
    assert {"Wxdec", "Wxdec1", "Wxdec2"} <= names and "Wxdec3" not in names
    assert _meta(model)["config"]["decoder_layers"] == 3
    result = cli_run("translate", "-m", model, "--beam", "3", input="3 june 1999\n")
    assert result.exit_code == 0 and len(result.stdout.splitlines()) == 1


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_adam_step_equals_the_textbook_update_on_any_number_of_threads(dtype):
    """One fused pass per parameter, cut across the pool's threads: the textbook Adam update (bias-corrected,
    gradients scaled by the clipping factor), the same numbers on one thread or three; skipped names stay."""
    from seqkit.recurrent.pool import Pool
    from seqkit_seq2seq.train import Adam

    rng = np.random.default_rng(0)
    shapes = {"a": (7, 5), "b": (5,), "c": (301,), "frozen": (3, 2)}
    params = {k: rng.standard_normal(s).astype(dtype) for k, s in shapes.items()}
    steps = [{k: rng.standard_normal(s).astype(dtype) for k, s in shapes.items()} for _ in range(3)]
    results = []
    for threads in (1, 3):
        mine = {k: v.copy() for k, v in params.items()}
        adam = Adam(mine)
        with Pool(threads) as pool:
            for t, grads in enumerate(steps, start=1):
                adam.step(mine, {k: g.copy() for k, g in grads.items()}, 0.01, t, 0.5, skip=("frozen",), pool=pool)
        results.append(mine)
    ref = {k: v.astype(np.float64) for k, v in params.items()}
    m = {k: np.zeros_like(v) for k, v in ref.items()}
    v = {k: np.zeros_like(v) for k, v in ref.items()}
    for t, grads in enumerate(steps, start=1):
        rate = 0.01 * np.sqrt(1 - 0.999 ** t) / (1 - 0.9 ** t)  # the bias corrections, with eps on sqrt(v)
        for k in ("a", "b", "c"):
            g = grads[k].astype(np.float64) * 0.5
            m[k] = 0.9 * m[k] + 0.1 * g
            v[k] = 0.999 * v[k] + 0.001 * g * g
            ref[k] -= rate * m[k] / (np.sqrt(v[k]) + 1e-8)
    for k in shapes:
        np.testing.assert_array_equal(results[0][k], results[1][k], err_msg=k)
        tolerance = 1e-12 if dtype == np.float64 else 1e-5
        np.testing.assert_allclose(results[0][k], ref[k], rtol=tolerance, atol=tolerance, err_msg=k)
