"""rnnlm: gradient checks for every cell, reference forward, training, resume, model file, CLI."""

from __future__ import annotations

import json
import math
import zipfile

import numpy as np
import pytest

from seqkit.errors import DataError

TEXT = "the cat sat on the mat\nthe dog sat on the log\na cat saw a dog\nthe dog ate\n" * 4


def numeric_gradient_check(cell, tied=False, dropout=0.0, layers=2):
    from seqkit_rnnlm.network import Config, Network, init_params

    cfg = Config(cell=cell, layers=layers, embed=5, hidden=5, tied=tied, dropout=dropout, init_scale=0.5,
                 forget_bias=0.3)
    rng = np.random.default_rng(0)
    V = 7
    params = init_params(cfg, V, rng, np.float64)
    X, Y = rng.integers(0, V, (4, 3)), rng.integers(0, V, (4, 3))
    parts = 2 if cell == "lstm" else 1
    state = [tuple(rng.standard_normal((3, 5)) * 0.1 for _ in range(parts)) for _ in range(layers)]
    network = Network(cfg, params, 3, 4)

    def loss(p):  # the same dropout masks every call (same seed)
        network.forward(X, state, rng=np.random.default_rng(9), train=True)
        value, grads = network.loss_and_backward(Y)
        return value, {name: g.copy() for name, g in grads.to_dense(p).items()}

    _, grads = loss(params)
    worst = 0.0
    for name in params:
        for _ in range(6):
            idx = tuple(int(rng.integers(0, d)) for d in params[name].shape)
            old = params[name][idx]
            params[name][idx] = old + 1e-6
            plus, _ = loss(params)
            params[name][idx] = old - 1e-6
            minus, _ = loss(params)
            params[name][idx] = old
            num = (plus - minus) / 2e-6
            worst = max(worst, abs(num - grads[name][idx]) / (abs(num) + abs(grads[name][idx]) + 1e-8))
    return worst


@pytest.mark.parametrize("cell", ["rnn", "gru", "lstm"])
@pytest.mark.parametrize("tied,dropout,layers", [(False, 0.0, 1), (True, 0.0, 2), (False, 0.4, 2)])
def test_gradients_match_finite_differences(cell, tied, dropout, layers):
    assert numeric_gradient_check(cell, tied, dropout, layers) < 1e-4


@pytest.mark.parametrize("cell", ["rnn", "gru", "lstm"])
def test_forward_equals_slow_reference(cell):
    from reference.recurrent import language_model_logits
    from seqkit_rnnlm.network import Config, Network, init_params, zero_state

    cfg = Config(cell=cell, layers=2, embed=6, hidden=4, init_scale=0.4)
    rng = np.random.default_rng(1)
    params = init_params(cfg, 9, rng, np.float64)
    X = rng.integers(0, 9, (5, 3))
    network = Network(cfg, params, 3, 8)
    network.forward(X, zero_state(cfg, 3, np.float64))
    np.testing.assert_allclose(network.logits(), language_model_logits(cell, params, X, 2), rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_softmax_kernel_equals_numpy(dtype):
    from seqkit.recurrent.output import log_softmax_at, softmax_xent

    rng = np.random.default_rng(0)
    logits = (rng.standard_normal((6, 11)) * 3).astype(dtype)
    bias = rng.standard_normal(11).astype(dtype)
    targets = rng.integers(0, 11, 6)
    z = logits.astype(np.float64) + bias
    ref_logp = z - z.max(axis=1, keepdims=True)
    ref_logp -= np.log(np.exp(ref_logp).sum(axis=1, keepdims=True))
    out = np.empty(6)
    log_softmax_at(logits, bias, targets, out)
    np.testing.assert_allclose(out, ref_logp[np.arange(6), targets], rtol=1e-5)
    grad, losses, dbias = logits.copy(), np.empty(6), np.zeros(11, dtype)
    softmax_xent(grad, bias, targets, 0.5, losses, dbias)
    expected = np.exp(ref_logp)
    expected[np.arange(6), targets] -= 1
    np.testing.assert_allclose(grad, 0.5 * expected, atol=1e-6)
    np.testing.assert_allclose(dbias, 0.5 * expected.sum(axis=0), atol=1e-6)
    np.testing.assert_allclose(losses, -ref_logp[np.arange(6), targets], rtol=1e-5)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_softmax_kernel_vectorised_max_equals_a_plain_one(dtype):
    """The softmax's first pass (bias and row maximum; in float32 a max over int32 keys that order like the
    floats, which LLVM vectorises) gives the results of a plain float maximum bit for bit, with negative
    rows, ties, -0.0 beside +0.0, padding rows and a large vocabulary."""
    from numba import njit

    from seqkit.recurrent.fastmath import fexp, like
    from seqkit.recurrent.output import softmax_xent

    @njit(fastmath=True, error_model="numpy")
    def plain(logits, bias, targets, scale, losses, dbias):
        for r in range(logits.shape[0]):
            row = logits[r]
            if targets[r] < 0:
                losses[r] = 0.0
                row[:] = 0
                continue
            top = row[0] + bias[0]
            for v in range(row.shape[0]):
                row[v] = row[v] + bias[v]
                top = max(top, row[v])
            shifted_target = row[targets[r]] - top
            total = like(0.0, top)
            for v in range(row.shape[0]):
                e = fexp(row[v] - top)
                row[v] = e
                total += e
            losses[r] = np.log(total) - shifted_target
            inv = like(scale, top) / total
            for v in range(row.shape[0]):
                row[v] = row[v] * inv
                dbias[v] += row[v]
            row[targets[r]] -= like(scale, top)
            dbias[targets[r]] -= like(scale, top)

    rng = np.random.default_rng(2)
    logits = (rng.standard_normal((9, 1003)) * 4).astype(dtype)
    logits[2] = -logits[2] - 100  # all negative
    logits[5] = 0.0               # ties, and -0.0 beside +0.0 after the bias
    bias = rng.standard_normal(1003).astype(dtype)
    bias[:3] = -0.0
    targets = rng.integers(0, 1003, 9)
    targets[6] = -1
    results = []
    for kernel in (softmax_xent, plain):
        grad, losses, dbias = logits.copy(), np.empty(9), np.zeros(1003, dtype)
        kernel(grad, bias, targets, 0.25, losses, dbias)
        results.append((grad, losses, dbias))
    for a, b in zip(*results):
        np.testing.assert_array_equal(a, b)


def test_float32_exponential_is_accurate():
    """The vectorisable float32 exp (used by softmax and the gates) stays within a few ulp of exp."""
    from seqkit.recurrent.fastmath import exp_array

    x = np.linspace(-87, 88, 200_001).astype(np.float32)
    out = np.empty_like(x)
    exp_array(x, out)
    np.testing.assert_allclose(out, np.exp(x.astype(np.float64)), rtol=1e-6)
    assert out.dtype == np.float32


def _network_case(cell, tied, dropout, threads, seed=0, vocab=30):
    from seqkit.recurrent.pool import Pool
    from seqkit_rnnlm.network import Config, Network, init_params, zero_state

    cfg = Config(cell=cell, layers=2, embed=8, hidden=8, tied=tied, dropout=dropout, init_scale=0.3)
    rng = np.random.default_rng(seed)
    params = init_params(cfg, vocab, rng)
    X, Y = rng.integers(0, vocab, (9, 4)), rng.integers(0, vocab, (9, 4))
    state = zero_state(cfg, 4)
    return Network(cfg, params, 4, 10, Pool(threads)), params, X, Y, state


@pytest.mark.parametrize("cell,tied,dropout", [("lstm", False, 0.0), ("lstm", True, 0.3), ("gru", False, 0.3),
                                               ("rnn", True, 0.0)])
def test_pipelined_train_step_equals_forward_then_backward(cell, tied, dropout, monkeypatch):
    """train_step (output blocks streamed to a worker during the forward pass, weight gradient in the
    background) matches the plain sequence and one thread, and repeats bit for bit (what --resume needs)."""
    import seqkit_rnnlm.network as network

    monkeypatch.setattr(network, "BLOCK_ROWS", 8)  # 2 steps per block: several blocks, a short last one
    results = []
    for threads, pipelined in [(2, True), (2, True), (2, False), (1, True)]:
        net, params, X, Y, state = _network_case(cell, tied, dropout, threads)
        if pipelined:
            loss, grads, new_state = net.train_step(X, Y, state, np.random.default_rng(5))
        else:
            new_state = net.forward(X, state, np.random.default_rng(5), train=True)
            loss, grads = net.loss_and_backward(Y)
        results.append((loss, grads.to_dense(params), grads.squared_norm(), new_state))
        net.pool.close()
    first, again = results[0], results[1]
    assert first[0] == again[0] and first[2] == again[2]
    for name in first[1]:
        np.testing.assert_array_equal(first[1][name], again[1][name])
    for loss, grads, norm, new_state in results[2:]:
        assert math.isclose(loss, first[0], rel_tol=1e-6) and math.isclose(norm, first[2], rel_tol=1e-5)
        for name in grads:
            np.testing.assert_allclose(grads[name], first[1][name], rtol=1e-5, atol=1e-7)
        for layer_state, first_state in zip(new_state, first[3]):
            for part, first_part in zip(layer_state, first_state):
                np.testing.assert_allclose(part, first_part, rtol=1e-6, atol=1e-7)
    dense_squares = sum(float((g.astype(np.float64) ** 2).sum()) for g in first[1].values())
    assert math.isclose(first[2], dense_squares, rel_tol=1e-5)


def test_sparse_sgd_step_equals_dense_update():
    """The embedding gradient stays sparse (rows of the segment's words); the SGD step must equal the
    dense update."""
    from seqkit.recurrent.pool import Pool

    net, params, X, Y, state = _network_case("lstm", False, 0.0, 1, vocab=9000)
    assert params["Wout"].size >= 1 << 16  # large enough for the step to be split across the threads
    _, grads, _ = net.train_step(X, Y, state)
    assert grads.embed_ids is not None and len(grads.embed_ids) == len(np.unique(X))
    expected = {name: value - np.float32(0.7) * g for (name, value), g in
                zip(params.items(), grads.to_dense(params).values())}
    with Pool(2) as pool:
        grads.sgd_step(params, 0.7, pool)
    for name in params:
        np.testing.assert_allclose(params[name], expected[name], rtol=1e-6, atol=1e-7)


@pytest.mark.timeout(60)
def test_failing_forward_pass_releases_the_worker(monkeypatch):
    """An error in the recurrence after the first block has gone to the worker: train_step raises it
    (no hang) and the pool serves the next step normally."""
    import seqkit_rnnlm.network as network

    monkeypatch.setattr(network, "BLOCK_ROWS", 8)  # several blocks per segment
    net, params, X, Y, state = _network_case("lstm", False, 0.0, 2)
    top = net.stack.layers[-1]
    original = top.steps
    calls = []

    def failing(t0, t1):
        calls.append(t0)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return original(t0, t1)

    top.steps = failing
    with pytest.raises(KeyboardInterrupt):
        net.train_step(X, Y, state)
    top.steps = original
    loss, _, _ = net.train_step(X, Y, state)
    assert np.isfinite(loss)
    net.pool.close()


@pytest.mark.timeout(60)
@pytest.mark.parametrize("threads", [1, 2])
def test_pipeline_runs_every_task_and_follow_up_once(threads):
    """Pipeline: tasks put while the producer works and the follow-ups they return all run exactly once
    before `finish` returns (with one thread, each at once, its follow-ups first); a task's error reaches
    `finish` and leaves the pool usable."""
    from seqkit.recurrent.pool import Pipeline, Pool

    done: list[tuple] = []

    def task(i: int, depth: int):
        done.append((i, depth))
        return [lambda: task(i, depth + 1), lambda: task(i, depth + 1)] if depth < 2 else None

    with Pool(threads) as pool:
        pipeline = Pipeline(pool)
        for i in range(5):
            pipeline.put(lambda i=i: task(i, 0))
            if threads == 1:
                assert len(done) == 7 * (i + 1)
        pipeline.finish()
        assert sorted(done) == sorted((i, d) for i in range(5) for d in (0, 1, 1, 2, 2, 2, 2))

        def failing():
            raise ValueError("boom")

        pipeline = Pipeline(pool)
        with pytest.raises(ValueError):
            pipeline.put(lambda: [failing])
            pipeline.finish()
        assert pool.run([lambda: 2, lambda: 3]) == [2, 3]
        pipeline = Pipeline(pool)
        pipeline.put(lambda: None)
        pipeline.abort()
        assert pool.run([lambda: 4, lambda: 5]) == [4, 5]


@pytest.fixture
def corpus(tmp_path):
    path = tmp_path / "train.txt"
    path.write_text(TEXT)
    return path


SMALL = ["--hidden", "12", "--embed", "12", "--batch", "2", "--bptt", "6", "--threads", "1", "-q"]


def test_perplexity_on_its_training_text_falls(corpus, tmp_path, cli_run):
    model = tmp_path / "lm.npz"
    figures = []
    for epochs in (1, 10):
        assert cli_run("rnnlm", corpus, "-o", model, "--epochs", str(epochs), "--optimizer", "adam", "--lr", "0.02",
                       *SMALL).exit_code == 0
        data = json.loads(cli_run("perplexity", "-m", model, corpus, "--json").stdout)
        figures.append(data["ppl"])
    assert figures[1] < figures[0] * 0.8, figures


def test_other_cells_and_adam_train(corpus, tmp_path, cli_run):
    """The rnn and gru cells trained with Adam each learn the text (perplexity far below the uniform
    baseline, and falling with more epochs), Adam's moments are really kept, and the two cells give
    different models."""
    from seqkit_rnnlm import modelfile

    vocab_size = len(set(TEXT.split())) + 2  # plus </s> and <unk>
    scores = {}
    for cell in ("rnn", "gru"):
        figures = []
        for epochs in ("1", "10"):
            model = tmp_path / f"{cell}{epochs}.npz"
            result = cli_run("rnnlm", corpus, "-o", model, "--cell", cell, "--optimizer", "adam", "--lr", "0.02",
                             "--epochs", epochs, "--tied", "--dropout", "0.2", "--valid", corpus, *SMALL)
            assert result.exit_code == 0 and result.stderr == ""
            figures.append(json.loads(cli_run("perplexity", "-m", model, corpus, "--json").stdout)["ppl"])
        assert figures[1] < 0.35 * vocab_size and figures[1] < 0.6 * figures[0], (cell, figures, vocab_size)
        params, _, config, training, optimizer = modelfile.load(str(model), with_optimizer=True)
        assert config.cell == cell and training["schedule"]["optimizer"] == "adam"
        assert training["progress"]["adam_step"] > 0
        assert set(optimizer) == {f"{moment}/{name}" for moment in "mv" for name in params}
        assert all(np.abs(optimizer[f"v/{name}"]).sum() > 0 for name in params)
        from seqkit.lm import load_language_model

        scores[cell] = np.concatenate([s.logprobs for s in load_language_model(str(model)).score_stream(
            [line.split() for line in TEXT.splitlines()[:4]])])
    assert not np.allclose(scores["rnn"], scores["gru"], rtol=1e-3)


def test_resume_equals_uninterrupted(corpus, tmp_path, cli_run):
    straight, resumed = tmp_path / "a.npz", tmp_path / "b.npz"
    common = ["--valid", corpus, "--dropout", "0.1", "--decay-start", "2", "--seed", "3", *SMALL]
    assert cli_run("rnnlm", corpus, "-o", straight, "--epochs", "3", *common).exit_code == 0
    assert cli_run("rnnlm", corpus, "-o", resumed, "--epochs", "3", *common).exit_code == 0
    # rerun as: 1 epoch, then resume to 3 (the epoch target is stored in the file)
    partial = tmp_path / "c.npz"
    assert cli_run("rnnlm", corpus, "-o", partial, "--epochs", "3", *common).exit_code == 0
    from seqkit_rnnlm import modelfile

    params, vocab, config, training, opt = modelfile.load(str(partial), with_optimizer=True)
    training["progress"]["epoch"] = 1
    # rebuild an epoch-1 checkpoint by training one epoch with the same settings
    one = tmp_path / "one.npz"
    assert cli_run("rnnlm", corpus, "-o", one, "--epochs", "1", *common).exit_code == 0
    p1, v1, c1, t1, o1 = modelfile.load(str(one), with_optimizer=True)
    t1["schedule"]["epochs"] = 3
    modelfile.save(str(one), dict(p1), v1, c1, t1, o1)
    assert cli_run("rnnlm", corpus, "-o", one, "--resume", *SMALL).exit_code == 0
    a = modelfile.load(str(straight))[0]
    b = modelfile.load(str(one))[0]
    for name in a:
        np.testing.assert_array_equal(a[name], b[name])


def _scripted_training(tmp_path, monkeypatch, name, valid_figures, epochs, resume=False):
    """Train a tiny LSTM through `train()` with the validation perplexities scripted (one per epoch)."""
    import seqkit_rnnlm.train as train_module
    from seqkit.progress import Reporter
    from seqkit_rnnlm.network import Config

    figures = iter(valid_figures)
    monkeypatch.setattr(train_module, "evaluate", lambda *args: next(figures))
    ids = np.random.default_rng(0).integers(0, 20, 400)
    output = str(tmp_path / name)
    schedule = train_module.Schedule(epochs=epochs, batch=2, bptt=6, decay_start=1, patience=10, seed=4)
    train_module.train(train_ids=ids, valid_ids=ids[:100], vocab=[f"w{i}" for i in range(20)],
                       config=Config(embed=6, hidden=6), schedule=schedule, output=output,
                       reporter=Reporter(quiet=True), resume=resume)
    return output


@pytest.mark.parametrize("cut", [2, 3])  # resumed from the best epoch itself, or from one past it
def test_resuming_past_the_best_epoch_keeps_it_and_continues_from_the_latest(tmp_path, monkeypatch, cut):
    import json

    from seqkit_rnnlm import modelfile

    figures = [5.0, 4.0, 6.0, 7.0, 8.0]
    straight = _scripted_training(tmp_path, monkeypatch, "straight.npz", figures, 5)
    partial = _scripted_training(tmp_path, monkeypatch, "partial.npz", figures[:cut], cut)
    archive = np.load(partial, allow_pickle=False)
    meta = json.loads(archive["meta"].tobytes())
    meta["training"]["schedule"]["epochs"] = 5  # what a longer --epochs on the first run would have stored
    params = {k[6:]: archive[k] for k in archive.files if k.startswith("param/")}
    latest = {k[7:]: archive[k] for k in archive.files if k.startswith("latest/")}
    optimizer = {k[4:]: archive[k] for k in archive.files if k.startswith("opt/")}
    from seqkit_rnnlm.network import Config

    modelfile.save(partial, params, meta["vocab"], Config(**meta["config"]), meta["training"], optimizer,
                   latest=latest or None)
    _scripted_training(tmp_path, monkeypatch, "partial.npz", figures[cut:], 5, resume=True)
    for which in (False, True):  # the best (epoch 2) model and the latest (epoch 5) parameters
        a, b = modelfile.load(straight, with_optimizer=which)[0], modelfile.load(partial, with_optimizer=which)[0]
        for name in a:
            np.testing.assert_array_equal(a[name], b[name])


def test_model_file_keeps_the_best_validation_epoch_and_resumes_from_the_latest(tmp_path, monkeypatch):
    from seqkit_rnnlm import modelfile

    two = _scripted_training(tmp_path, monkeypatch, "two.npz", [5.0, 4.0], 2)
    worse = _scripted_training(tmp_path, monkeypatch, "worse.npz", [5.0, 4.0, 6.0, 7.0], 4)
    better = _scripted_training(tmp_path, monkeypatch, "better.npz", [5.0, 4.0, 3.0, 2.0], 4)
    assert not modelfile.has_latest(two) and not modelfile.has_latest(better) and modelfile.has_latest(worse)
    best, latest, final = modelfile.load(two)[0], modelfile.load(worse, with_optimizer=True)[0], \
        modelfile.load(better)[0]
    for name, value in modelfile.load(worse)[0].items():  # the model scored is epoch 2's
        np.testing.assert_array_equal(value, best[name])
        np.testing.assert_array_equal(latest[name], final[name])  # --resume goes on from epoch 4
    assert not np.array_equal(best["Wh0"], final["Wh0"])


def test_divergence_exits_3_and_keeps_last_good_file(corpus, tmp_path, seqkit_proc):
    model = tmp_path / "lm.npz"
    model.write_bytes(b"previous good model")
    proc = seqkit_proc("rnnlm", corpus, "-o", model, "--lr", "1e30", "--clip", "0", "--epochs", "2", *SMALL)
    assert proc.returncode == 3, proc.stderr
    assert b"lower --lr (now 1e+30), or clip the gradient (--clip 5; it is off)" in proc.stderr, proc.stderr
    assert model.read_bytes() == b"previous good model"


def test_model_file_is_validated_and_never_pickled(corpus, tmp_path, cli_run):
    model = tmp_path / "lm.npz"
    assert cli_run("rnnlm", corpus, "-o", model, "--epochs", "1", *SMALL).exit_code == 0
    with zipfile.ZipFile(model) as archive:
        meta = json.loads(np.load(archive.open("meta.npy"), allow_pickle=False).tobytes())
    assert meta["format"] == "seqkit-rnnlm" and meta["config"]["cell"] == "lstm"
    from seqkit_rnnlm import modelfile
    from seqkit_rnnlm.network import Config

    params, vocab, config, training, _ = modelfile.load(str(model))
    bad = dict(params)
    bad["Wh0"] = bad["Wh0"][:, :3]
    np.savez(tmp_path / "bad.npz", meta=np.frombuffer(json.dumps(meta).encode(), np.uint8),
             **{f"param/{k}": v for k, v in bad.items()})
    with pytest.raises(DataError, match=r"entry param/Wh0 is \[\d+, 3\] float32, expected"):
        modelfile.load(str(tmp_path / "bad.npz"))
    huge = dict(meta)
    huge["params"] = dict(meta["params"], embed=[10**9, 10**6])
    np.savez(tmp_path / "huge.npz", meta=np.frombuffer(json.dumps(huge).encode(), np.uint8))
    with pytest.raises(DataError, match="more than seqkit will allocate"):
        modelfile.load(str(tmp_path / "huge.npz"))
    np.savez(tmp_path / "other.npz", x=np.zeros(3))
    with pytest.raises(DataError, match="no metadata"):
        modelfile.load(str(tmp_path / "other.npz"))
    assert isinstance(config, Config)

    def damaged(name: str, meta_change=None, param_change=None) -> str:
        changed_meta = json.loads(json.dumps(meta))
        changed = {k: v.copy() for k, v in params.items()}
        if meta_change:
            meta_change(changed_meta)
        if param_change:
            param_change(changed)
        path = tmp_path / name
        np.savez(path, meta=np.frombuffer(json.dumps(changed_meta).encode(), np.uint8),
                 **{f"param/{k}": v for k, v in changed.items()})
        return str(path)

    eos = vocab.index("</s>")
    for path, message in [  # each was an internal error, a nan perplexity or a silently wrong model
        (damaged("nan.npz", param_change=lambda p: p["Wout"].fill(np.nan)), "param/Wout holds nan or inf"),
        (damaged("hidden.npz", meta_change=lambda m: m["config"].update(hidden=2 * m["config"]["hidden"])),
         "shapes do not fit the configuration"),
        (damaged("layers.npz", meta_change=lambda m: m["config"].update(layers=10**12)), "shapes do not fit"),
        (damaged("typed.npz", meta_change=lambda m: m["config"].update(embed="wide")), "bad configuration"),
        (damaged("tied.npz", meta_change=lambda m: (m["config"].update(tied=True, embed=m["config"]["hidden"] // 2),
                                                    m["params"].pop("Wout"))), "shapes do not fit"),
        (damaged("eos.npz", meta_change=lambda m: m["vocab"].__setitem__(eos, "EOS")), "no </s>"),
        (damaged("twice.npz", meta_change=lambda m: m["vocab"].__setitem__(eos + 1, m["vocab"][eos + 2])),
         "a word is listed twice"),
    ]:
        if "</s>" not in message:  # the scorer needs </s>; training on an arbitrary vocabulary does not
            with pytest.raises(DataError, match=message):
                modelfile.load(path)
        result = cli_run("perplexity", "-m", path, "-", input="the cat\n")
        assert result.exit_code == 1 and len(result.stderr.splitlines()) == 1, result.stderr
        assert message in result.stderr


def test_generation_sampling_topk_and_beam(corpus, tmp_path, cli_run):
    model = tmp_path / "lm.npz"
    assert cli_run("rnnlm", corpus, "-o", model, "--epochs", "6", "--optimizer", "adam", "--lr", "0.02",
                   *SMALL).exit_code == 0
    a = cli_run("generate", "-m", model, "-n", "2", "--seed", "4", "--top-k", "3").stdout
    assert a == cli_run("generate", "-m", model, "-n", "2", "--seed", "4", "--top-k", "3").stdout
    assert all(w in TEXT.split() for w in a.split())
    beam = cli_run("generate", "-m", model, "--beam", "3", "--prefix", "the", "--max-tokens", "8")
    assert beam.exit_code == 0 and beam.stdout.startswith("the")


def test_scores_carry_state_and_mark_oov(corpus, tmp_path, cli_run):
    model = tmp_path / "lm.npz"
    assert cli_run("rnnlm", corpus, "-o", model, "--epochs", "1", *SMALL).exit_code == 0
    from seqkit.lm import load_language_model

    lm = load_language_model(str(model))
    first, second = list(lm.score_stream([["the", "cat"], ["the", "zebra"]]))
    assert second.oov.tolist() == [False, True, False]
    assert np.all(first.logprobs < 0) and math.isfinite(second.logprobs.sum())


def test_scoring_and_generation_reuse_one_network_equal_to_fresh_ones(corpus, tmp_path, cli_run, monkeypatch):
    """One network serves all scoring and generation; the sentences, scored as one stream, get the scores
    of a network built for each sentence with the state carried (up to rounding: the products are cut
    differently), as they do when the stream runs in passes shorter than a sentence."""
    model = tmp_path / "lm.npz"
    assert cli_run("rnnlm", corpus, "-o", model, "--epochs", "1", "--layers", "2", *SMALL).exit_code == 0
    import seqkit_rnnlm.network as network_module
    from seqkit_rnnlm.lm import RnnLanguageModel
    from seqkit_rnnlm.network import Network, zero_state

    built = []
    original_init = Network.__init__

    def counting_init(self, *args, **kwargs):
        built.append(args[2:4])  # (batch, bptt)
        original_init(self, *args, **kwargs)

    monkeypatch.setattr(network_module.Network, "__init__", counting_init)
    sentences = [line.split() for line in TEXT.splitlines()[:6]] + [("the cat sat on the mat " * 3).split()]
    lm = RnnLanguageModel(str(model))
    reused = list(lm.score_stream(sentences))
    lm.sample(np.random.default_rng(1), max_tokens=5, temperature=1.0, prefix=["the"])
    lm.beam_search(["a"], beam=2, max_tokens=4)
    assert len(built) == 1
    monkeypatch.setattr(network_module.Network, "__init__", original_init)

    state = zero_state(lm.config, 1)
    for words, score in zip(sentences, reused):
        ids = [lm.index[w] for w in words]
        inputs, targets = np.array([lm.eos] + ids)[:, None], np.array(ids + [lm.eos])[:, None]
        fresh = Network(lm.config, lm.params, 1, len(inputs))
        state = fresh.forward(inputs, state)
        np.testing.assert_allclose(score.logprobs, fresh.target_logprobs(targets), rtol=1e-6, atol=1e-6)

    pieces = RnnLanguageModel(str(model), score_steps=4)
    assert max(len(words) + 1 for words in sentences) > 4 * 4
    for a, b in zip(pieces.score_stream(sentences), reused):
        np.testing.assert_allclose(a.logprobs, b.logprobs, rtol=1e-5, atol=1e-6)

    token, state, fresh_state = lm.index["the"], zero_state(lm.config, 1), zero_state(lm.config, 1)
    for _ in range(3):
        logp, state = lm._next_distribution(token, state)
        fresh = Network(lm.config, lm.params, 1, 1)
        fresh_state = fresh.forward(np.array([[token]]), fresh_state)
        np.testing.assert_array_equal(lm.network.logits()[0], fresh.logits()[0])
        token = int(np.argmax(logp))


def test_batch_scoring_is_the_stream_scoring(corpus, tmp_path, cli_run):
    """`seqkit perplexity` reads the text with the core's reader and scores it block by block as one
    stream: per-token log-probabilities and OOV marks equal `score_stream`'s (bit for bit with the same
    passes on one thread, to rounding with other pass lengths and threads), and each text starts again
    from `</s>`."""
    model = tmp_path / "lm.npz"
    assert cli_run("rnnlm", corpus, "-o", model, "--epochs", "1", *SMALL).exit_code == 0
    text = tmp_path / "test.txt"
    text.write_text("the cat sat\n\nthe zebra <unk> ate </s> dog\n" + TEXT)  # empty line skipped
    from seqkit.lm import PerplexityCounter, score_text, text_perplexity
    from seqkit_rnnlm.lm import RnnLanguageModel

    sentences = [line.split() for line in text.read_text().splitlines() if line.split()]
    stream = list(RnnLanguageModel(str(model), threads=1).score_stream(sentences))
    reference = np.concatenate([s.logprobs for s in stream])
    oov = np.concatenate([s.oov for s in stream])
    assert oov[:8].tolist() == [False] * 5 + [True, True, False]  # zebra and a literal <unk>
    counter = PerplexityCounter()
    for score in stream:
        counter.add(score)
    for steps, threads in [(4096, 1), (5, 1), (7, 2)]:
        lm = RnnLanguageModel(str(model), score_steps=steps, threads=threads)
        for _ in range(2):
            blocks = list(score_text(lm, [str(text)], detail=True))
            logprobs = np.concatenate([b.score.logprobs for b in blocks])
            assert np.concatenate([b.score.oov for b in blocks]).tolist() == oov.tolist()
            if steps == 4096 and threads == 1:
                np.testing.assert_array_equal(logprobs, reference)
            np.testing.assert_allclose(logprobs, reference, rtol=1e-6, atol=1e-6)
        result = text_perplexity(lm, [str(text)])
        assert (result.tokens, result.oovs, result.sentences) == (counter.tokens, counter.oovs, len(sentences))
        assert result.ppl == pytest.approx(counter.result().ppl, rel=1e-6)
    data = json.loads(cli_run("perplexity", "-m", model, text, "--json").stdout)
    assert data["ppl"] == pytest.approx(counter.result().ppl, rel=1e-6) and data["oovs"] == 2
    words = cli_run("perplexity", "-m", model, text, "--per-word", "--no-header").stdout.splitlines()
    assert len(words) == len(reference) and words[5].split("\t")[1:3] == ["zebra", "OOV"]


def test_perplexity_of_a_diverged_loss_is_inf_not_an_overflow():
    from seqkit_rnnlm.train import perplexity

    assert perplexity(1.0) == pytest.approx(math.e)
    assert perplexity(800.0) == float("inf")  # math.exp would raise OverflowError
    assert perplexity(float("nan")) == float("inf")  # so the divergence guard catches NaN too


def test_the_format_is_recognised_by_its_metadata_not_its_name(tmp_path):
    import json

    from seqkit_rnnlm.modelfile import FORMAT, sniff

    def npz(name, meta):
        path = tmp_path / name
        with open(path, "wb") as handle:
            np.savez(handle, meta=np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8), x=np.zeros(2))
        return str(path)

    assert sniff(npz("model", {"format": FORMAT, "version": 99}))  # no suffix; a newer version is still ours
    assert not sniff(npz("other.npz", {"format": "someone-else"}))
    assert not sniff(npz("list.npz", ["format", FORMAT]))
    truncated = tmp_path / "cut.npz"
    truncated.write_bytes(open(npz("whole.npz", {"format": FORMAT}), "rb").read()[:60])
    assert not sniff(str(truncated))


def test_without_validation_nothing_is_said_about_it_and_the_last_epoch_is_kept(corpus, tmp_path, cli_run):
    from seqkit_rnnlm import modelfile

    model = tmp_path / "lm.npz"
    quietless = [a for a in SMALL if a != "-q"]
    refused = cli_run("rnnlm", corpus, "-o", model, "--epochs", "3", "--patience", "1", *quietless)
    assert refused.exit_code == 2 and "--patience goes with --valid" in refused.stderr  # it would do nothing
    result = cli_run("rnnlm", corpus, "-o", model, "--epochs", "3", "--seed", "2", *quietless)
    assert result.exit_code == 0, result.stderr
    lines = result.stderr.splitlines()
    assert [line.split(":")[0] for line in lines[1:4]] == ["epoch 1", "epoch 2", "epoch 3"]
    assert lines[-1].startswith("rnnlm: 3 epochs, train ppl ") and lines[-1].endswith(f"-> {model}")
    said = result.stderr.replace(str(model), "LM")
    for word in ("valid", "nan", "inf", "best", "stopping"):
        assert word not in said, said
    _, _, _, training, _ = modelfile.load(str(model))
    assert training["progress"]["epoch"] == 3 and not modelfile.has_latest(str(model))
    assert all("valid_ppl" not in entry for entry in training["progress"]["history"])
    help_text = " ".join(cli_run("rnnlm", "--help").stdout.split())
    assert "without it, the last epoch's" in help_text and "(only with --valid)" in help_text
    short = tmp_path / "short.txt"
    short.write_text("the cat\n")
    result = cli_run("rnnlm", corpus, "-o", tmp_path / "x.npz", "--valid", short, "--epochs", "1", *SMALL)
    assert result.exit_code == 1 and "3 tokens (`</s>` included); validation reads it in --batch 2 columns, which " \
        "need at least 5" in result.stderr, result.stderr


def _arrays(path) -> dict:
    with np.load(path, allow_pickle=False) as archive:
        return {name: archive[name] for name in archive.files if name != "meta"}


def _assert_same_training(a, b) -> None:
    """Same model, resume parameters and optimizer state, and the same training figures per epoch."""
    from seqkit_rnnlm import modelfile

    first, second = _arrays(a), _arrays(b)
    assert sorted(first) == sorted(second) and not any(name.startswith("carry/") for name in first)
    for name in first:
        np.testing.assert_array_equal(first[name], second[name], err_msg=name)
    histories = [modelfile.load(str(path))[3]["progress"] for path in (a, b)]
    for key in ("epoch", "lr", "best_valid", "rng_state", "adam_step", "batch"):
        assert histories[0][key] == histories[1][key], key
    assert [(h["train_ppl"], h.get("valid_ppl")) for h in histories[0]["history"] if "epoch" in h] == \
        [(h["train_ppl"], h.get("valid_ppl")) for h in histories[1]["history"] if "epoch" in h]


@pytest.mark.parametrize("optimizer,cut", [("sgd", 3), ("sgd", 8), ("adam", 11)])  # 8 batches per epoch
def test_ctrl_c_then_resume_equals_an_uninterrupted_run(corpus, tmp_path, cli_run, monkeypatch, optimizer, cut):
    """Ctrl-C (a real SIGINT) after `cut` batches, then --resume: the same model, optimizer state and
    figures as a run never interrupted, whether the stop fell inside an epoch or at its last batch."""
    import os
    import signal

    import seqkit_rnnlm.network as network_module

    common = ["--valid", corpus, "--dropout", "0.3", "--epochs", "3", "--decay-start", "2", "--seed", "7",
              "--optimizer", optimizer, *SMALL]
    straight, resumed = tmp_path / "straight.npz", tmp_path / "resumed.npz"
    assert cli_run("rnnlm", corpus, "-o", straight, *common).exit_code == 0
    original, steps = network_module.Network.train_step, []

    def step_then_ctrl_c(self, *args, **kwargs):
        result = original(self, *args, **kwargs)
        steps.append(1)
        if len(steps) == cut:
            os.kill(os.getpid(), signal.SIGINT)
        return result

    monkeypatch.setattr(network_module.Network, "train_step", step_then_ctrl_c)
    result = cli_run("rnnlm", corpus, "-o", resumed, *common)
    monkeypatch.setattr(network_module.Network, "train_step", original)
    assert result.exit_code == 130 and len(steps) == cut
    epoch, batch = divmod(cut, 8)
    where = f"after epoch {epoch};" if batch == 0 else f"in epoch {epoch + 1} after batch {batch} of 8;"
    assert f"interrupted {where} checkpoint saved to {resumed}" in result.stderr and result.stderr.count("\n") == 1
    assert any(name.startswith("carry/") for name in _arrays(resumed)) == (batch > 0)
    result = cli_run("rnnlm", corpus, "-o", resumed, "--resume", "--valid", corpus, "--threads", "1")
    assert result.exit_code == 0, result.stderr
    assert (f"resuming epoch {epoch + 1} at batch {batch + 1}" if batch else f"resuming after epoch {epoch}") \
        in result.stderr
    _assert_same_training(straight, resumed)


@pytest.mark.timeout(120)
def test_sigint_to_a_training_process_then_resume_equals_an_uninterrupted_run(tmp_path, cli_run, seqkit_proc):
    """The real thing: SIGINT to a `seqkit rnnlm` process in its second epoch exits 130 with a checkpoint,
    and --resume in a new process finishes with exactly the model of an uninterrupted run."""
    import re
    import signal
    import subprocess
    import sys
    import time

    corpus = tmp_path / "train.txt"
    corpus.write_text(TEXT * 30)
    common = ["--epochs", "3", "--dropout", "0.2", "--seed", "5", *SMALL[:-1]]
    straight, resumed = tmp_path / "straight.npz", tmp_path / "resumed.npz"
    assert cli_run("rnnlm", corpus, "-o", straight, *common, "-q").exit_code == 0
    proc = subprocess.Popen([sys.executable, "-m", "seqkit", "rnnlm", str(corpus), "-o", str(resumed), *common],
                            stderr=subprocess.PIPE, text=True)
    seen = []
    for line in proc.stderr:
        seen.append(line)
        if line.startswith("epoch 1:"):
            while not resumed.exists():  # epoch 1's checkpoint: the signal then falls in epoch 2
                time.sleep(0.005)
            time.sleep(0.03)
            proc.send_signal(signal.SIGINT)
            break
    rest = proc.stderr.read()
    assert proc.wait(timeout=60) == 130, seen + [rest]
    # mid-epoch almost always; at the end of epoch 1 if the machine is slow enough to let it finish first
    assert re.fullmatch(rf"seqkit: (error: )?interrupted (in epoch 2 after batch \d+ of 240|after epoch 1); checkpoint "
                        rf"saved to {re.escape(str(resumed))} \(.*--resume.*\)\n", rest), rest
    done = seqkit_proc("rnnlm", corpus, "-o", resumed, "--resume", "--threads", "1")
    assert done.returncode == 0, done.stderr
    assert b"resuming " in done.stderr
    _assert_same_training(straight, resumed)


def test_the_model_goes_to_a_file_not_stdout(tmp_path, cli_run):
    corpus = tmp_path / "c.txt"
    corpus.write_text("a b c\n")
    result = cli_run("rnnlm", corpus, "-o", "-")
    assert result.exit_code == 2 and "saved after every epoch" in result.stderr and result.stdout == ""


def test_resume_trains_longer_with_epochs_and_refuses_other_settings(tmp_path, cli_run):
    from seqkit_rnnlm import modelfile

    corpus = tmp_path / "c.txt"
    corpus.write_text("".join(f"w{i % 7} w{i % 5} w{i % 3} w{i % 11}\n" for i in range(300)))
    model = tmp_path / "m.npz"
    small = ["--hidden", "8", "--embed", "8", "--layers", "1", "--batch", "4", "--bptt", "5", "-t", "1", "-q"]
    assert cli_run("rnnlm", corpus, "-o", model, "--epochs", "1", *small).exit_code == 0
    result = cli_run("rnnlm", corpus, "-o", model, "--resume", "--epochs", "2", "-q")
    assert result.exit_code == 0, result.stderr
    training = modelfile.load(str(model))[3]
    assert [h["epoch"] for h in training["progress"]["history"] if "epoch" in h] == [1, 2]
    result = cli_run("rnnlm", corpus, "-o", model, "--resume", "--hidden", "16")
    assert result.exit_code == 2 and "--hidden 16 differs from its 8" in result.stderr
    before = model.read_bytes()
    for epochs in (["--epochs", "2"], ["--epochs", "1"], []):  # nothing left to train: said, not done quietly
        result = cli_run("rnnlm", corpus, "-o", model, "--resume", *epochs)
        assert result.exit_code == 2 and "has finished its 2 epochs; give --epochs above 2" in result.stderr
    assert model.read_bytes() == before


def test_resume_on_another_text_is_warned(tmp_path, cli_run):
    corpus, other = tmp_path / "c.txt", tmp_path / "other.txt"
    corpus.write_text("".join(f"w{i % 7} w{i % 5} w{i % 3}\n" for i in range(200)))
    other.write_text("".join(f"v{i % 9} w{i % 5}\n" for i in range(150)))
    model = tmp_path / "m.npz"
    small = ["--hidden", "8", "--embed", "8", "--batch", "4", "--bptt", "5", "-t", "1"]
    assert cli_run("rnnlm", corpus, "-o", model, "--epochs", "1", "-q", *small).exit_code == 0
    result = cli_run("rnnlm", corpus, "-o", model, "--resume", "--epochs", "2")
    assert result.exit_code == 0 and "another text" not in result.stderr
    result = cli_run("rnnlm", other, "-o", model, "--resume", "--epochs", "3")
    assert result.exit_code == 0
    assert f"--resume: the training text has 450 tokens, but the run in {model} began on 800" in result.stderr



def test_a_forget_bias_without_a_forget_gate_is_a_usage_error(corpus, tmp_path, cli_run):
    result = cli_run("rnnlm", corpus, "-o", tmp_path / "lm.npz", "--cell", "gru", "--forget-bias", "1", *SMALL)
    assert result.exit_code == 2 and "--forget-bias is for --cell lstm" in result.stderr
