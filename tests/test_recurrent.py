"""seqkit.recurrent: layers against slow references, finite-difference gradients in both directions and
for a stack, reverse = forward on the reversed sequence, padded batches, the pool, and a light import."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from reference.recurrent import layer_forward

CELLS = ["rnn", "gru", "lstm"]


def _layer(cell, input_size=4, hidden=3, batch=2, steps=5, reverse=False, dtype=np.float64, seed=0, tag="0",
           scale=0.6):
    from seqkit.recurrent.layers import init_layer_params, make_layer

    rng = np.random.default_rng(seed)
    params = init_layer_params(cell, input_size, hidden, rng, tag=tag, scale=scale, forget_bias=0.2, dtype=dtype)
    return make_layer(cell, params, tag, batch=batch, max_steps=steps, reverse=reverse), params, rng


def _state(cell, rng, batch, hidden, dtype=np.float64):
    parts = 2 if cell == "lstm" else 1
    return tuple((rng.standard_normal((batch, hidden)) * 0.5).astype(dtype) for _ in range(parts))


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("lengths", [None, [5, 2, 4]])
def test_layer_forward_equals_slow_reference(cell, reverse, lengths):
    layer, params, rng = _layer(cell, batch=3, steps=6, reverse=reverse)
    x = rng.standard_normal((5, 3, 4))
    state = _state(cell, rng, 3, 3)
    final = layer.forward(x, state, None if lengths is None else np.array(lengths))
    ref_out, ref_final = layer_forward(cell, params, "0", x, state, reverse, lengths)
    np.testing.assert_allclose(layer.outputs(), ref_out, rtol=1e-10, atol=1e-12)
    assert len(final) == len(ref_final)
    for mine, ref in zip(final, ref_final):
        np.testing.assert_allclose(mine, ref, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("reverse", [False, True])
def test_batch_of_one_runs_all_steps_in_one_kernel_equal_to_the_reference(cell, reverse):
    """At batch 1 a block of steps is one kernel call (recurrent product included), in blocks or whole."""
    layer, params, rng = _layer(cell, input_size=5, hidden=6, batch=1, steps=9, reverse=reverse)
    x = rng.standard_normal((9, 1, 5))
    state = _state(cell, rng, 1, 6)
    ref_out, ref_final = layer_forward(cell, params, "0", x, state, reverse)
    layer.forward(x, state)
    np.testing.assert_allclose(layer.outputs(), ref_out, rtol=1e-10, atol=1e-12)
    layer.begin(x, state)
    layer.input_products(0, 9)
    for t0, t1 in ([(5, 9), (2, 5), (0, 2)] if reverse else [(0, 2), (2, 5), (5, 9)]):
        layer.steps(t0, t1)
    np.testing.assert_allclose(layer.outputs(), ref_out, rtol=1e-10, atol=1e-12)
    for mine, ref in zip(layer.final_state(), ref_final):
        np.testing.assert_allclose(mine, ref, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("cell", CELLS)
def test_float32_kernels_stay_close_to_the_reference(cell):
    """The float32 path (polynomial exp) against the float64 reference."""
    layer, params, rng = _layer(cell, input_size=16, hidden=8, batch=4, steps=7, dtype=np.float32, scale=0.5)
    x = rng.standard_normal((7, 4, 16)).astype(np.float32)
    layer.forward(x)
    ref_out, _ = layer_forward(cell, {k: v.astype(np.float64) for k, v in params.items()}, "0", x.astype(np.float64))
    assert layer.outputs().dtype == np.float32
    np.testing.assert_allclose(layer.outputs(), ref_out, rtol=1e-5, atol=2e-6)


def _finite_difference_check(run, arrays, rng, probes=5, eps=1e-6):
    """Worst relative error between analytic gradients and central differences. `run()` returns
    (loss, {name: gradient}); `arrays` maps each name to the array perturbed in place."""
    _, grads = run()
    worst = 0.0
    for name, array in arrays.items():
        for _ in range(probes):
            idx = tuple(int(rng.integers(0, d)) for d in array.shape)
            old = array[idx]
            array[idx] = old + eps
            plus, _ = run()
            array[idx] = old - eps
            minus, _ = run()
            array[idx] = old
            numeric = (plus - minus) / (2 * eps)
            analytic = grads[name][idx]
            worst = max(worst, abs(numeric - analytic) / (abs(numeric) + abs(analytic) + 1e-8))
    return worst


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("lengths", [None, [5, 3]])
def test_layer_gradients_match_finite_differences(cell, reverse, lengths):
    """Weights, inputs and initial state, with a loss on the outputs and on the final state."""
    layer, params, rng = _layer(cell, reverse=reverse)
    x = rng.standard_normal((5, 2, 4))
    state = _state(cell, rng, 2, 3)
    out_weights = rng.standard_normal((5, 2, 3))
    final_weights = [rng.standard_normal((2, 3)) for _ in state]
    lengths = None if lengths is None else np.array(lengths)

    def run():
        final = layer.forward(x, state, lengths)
        loss = float((layer.outputs() * out_weights).sum() + sum((f * w).sum() for f, w in zip(final, final_weights)))
        grads: dict = {}
        dx, dinitial = layer.backward(out_weights, grads, dfinal=tuple(final_weights), need_dinitial=True)
        grads = {name: g.copy() for name, g in grads.items()}
        grads["x"] = dx.copy()
        for i, d in enumerate(dinitial):
            grads[f"state{i}"] = d
        return loss, grads

    arrays = dict(params, x=x, **{f"state{i}": s for i, s in enumerate(state)})
    assert set(run()[1]) == set(arrays)
    assert _finite_difference_check(run, arrays, rng) < 1e-6


@pytest.mark.parametrize("cells", [("lstm", "lstm"), ("gru", "rnn"), ("rnn", "lstm")])
def test_stack_gradients_match_finite_differences(cells):
    """Two layers, the second reading backwards, dropout between them and on both ends."""
    from seqkit.recurrent.layers import init_layer_params, make_layer
    from seqkit.recurrent.stack import Stack

    rng = np.random.default_rng(3)
    params = init_layer_params(cells[0], 4, 3, rng, tag="a", scale=0.6, dtype=np.float64)
    params.update(init_layer_params(cells[1], 3, 5, rng, tag="b", scale=0.6, dtype=np.float64))
    layers = [make_layer(cells[0], params, "a", batch=2, max_steps=6),
              make_layer(cells[1], params, "b", batch=2, max_steps=6, reverse=True)]
    stack = Stack(layers, dropout=0.3)
    x = rng.standard_normal((6, 2, 4))
    out_weights = rng.standard_normal((6, 2, 5))

    def run():  # the same masks every call (same seed)
        stack.forward(x, train=True, rng=np.random.default_rng(9))
        loss = float((stack.output() * out_weights).sum())
        grads: dict = {}
        dx, _ = stack.backward(out_weights, grads)
        return loss, dict({k: g.copy() for k, g in grads.items()}, x=dx.copy())

    arrays = dict(params, x=x)
    assert set(run()[1]) == set(arrays)
    assert all(mask is not None and (mask == 0).any() for mask in stack.masks)  # dropout really applies
    assert _finite_difference_check(run, arrays, rng, probes=6) < 1e-6


@pytest.mark.parametrize("cell", CELLS)
def test_reverse_layer_equals_forward_layer_on_the_reversed_sequence(cell):
    forward, params, rng = _layer(cell, input_size=6, hidden=5, batch=3, steps=8)
    from seqkit.recurrent.layers import make_layer

    backward = make_layer(cell, params, "0", batch=3, max_steps=8, reverse=True)
    x = rng.standard_normal((7, 3, 6))
    state = _state(cell, rng, 3, 5)
    dout = rng.standard_normal((7, 3, 5))
    final_f = forward.forward(np.ascontiguousarray(x[::-1]), state)
    final_b = backward.forward(x, state)
    np.testing.assert_allclose(backward.outputs(), forward.outputs()[::-1], rtol=1e-12, atol=1e-14)
    for a, b in zip(final_b, final_f):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)
    grads_f, grads_b = {}, {}
    dx_f, dinit_f = forward.backward(np.ascontiguousarray(dout[::-1]), grads_f, need_dinitial=True)
    dx_b, dinit_b = backward.backward(dout, grads_b, need_dinitial=True)
    np.testing.assert_allclose(dx_b, dx_f[::-1], rtol=1e-10, atol=1e-12)
    for name in params:
        np.testing.assert_allclose(grads_b[name], grads_f[name], rtol=1e-10, atol=1e-12)
    for a, b in zip(dinit_b, dinit_f):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("reverse", [False, True])
def test_padded_batch_equals_each_sequence_alone(cell, reverse):
    """A batch with lengths gives every sequence the outputs, final state and gradients it has alone."""
    from seqkit.recurrent.layers import make_layer

    batched, params, rng = _layer(cell, batch=3, steps=6, reverse=reverse)
    lengths = np.array([6, 2, 4])
    x = rng.standard_normal((6, 3, 4))
    dout = rng.standard_normal((6, 3, 3))
    for b, length in enumerate(lengths):
        dout[length:, b] = 0  # what a consumer of padded outputs passes back
    final = batched.forward(x, None, lengths)
    grads: dict = {}
    dx, dinitial = batched.backward(dout, grads, need_dinitial=True)
    summed = {name: np.zeros_like(g) for name, g in grads.items()}
    for b, length in enumerate(lengths):
        alone = make_layer(cell, params, "0", batch=1, max_steps=6, reverse=reverse)
        alone_final = alone.forward(np.ascontiguousarray(x[:length, b:b + 1]))
        np.testing.assert_allclose(batched.outputs()[:length, b], alone.outputs()[:, 0], rtol=1e-12, atol=1e-14)
        for mine, theirs in zip(final, alone_final):
            np.testing.assert_allclose(mine[b], theirs[0], rtol=1e-12, atol=1e-14)
        alone_grads: dict = {}
        alone_dx, alone_dinitial = alone.backward(np.ascontiguousarray(dout[:length, b:b + 1]), alone_grads,
                                                  need_dinitial=True)
        np.testing.assert_allclose(dx[:length, b], alone_dx[:, 0], rtol=1e-10, atol=1e-12)
        assert not dx[length:, b].any()
        for mine, theirs in zip(dinitial, alone_dinitial):
            np.testing.assert_allclose(mine[b], theirs[0], rtol=1e-10, atol=1e-12)
        for name in summed:
            summed[name] += alone_grads[name]
    for name in summed:
        np.testing.assert_allclose(grads[name], summed[name], rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("reverse", [False, True])
def test_split_batch_runs_bands_of_rows_on_the_pool_with_the_same_results(cell, reverse):
    """With `split_batch`, each pool thread runs the steps of its own rows: outputs, final state and every
    gradient are those of the whole batch on one thread (padding included)."""
    from seqkit.recurrent.layers import init_layer_params, make_layer
    from seqkit.recurrent.pool import Pool

    rng = np.random.default_rng(3)
    params = init_layer_params(cell, 4, 3, rng, tag="0", scale=0.6, dtype=np.float64)
    x = rng.standard_normal((6, 16, 4))
    state = _state(cell, rng, 16, 3)
    dout = rng.standard_normal((6, 16, 3))
    lengths = rng.integers(1, 7, size=16)
    results = []
    with Pool(2) as pool:
        for split in (False, True):
            layer = make_layer(cell, params, "0", batch=16, max_steps=6, reverse=reverse, pool=pool, split_batch=split)
            assert len(layer.bands) == (2 if split else 1)
            final = layer.forward(x, state, lengths)
            grads: dict = {}
            dx, dinitial = layer.backward(dout, grads, dfinal=final, need_dinitial=True)
            results.append([layer.outputs().copy(), *final, dx.copy(), *dinitial,
                            *(grads[name].copy() for name in sorted(grads))])
    for one, split in zip(*results):
        np.testing.assert_allclose(split, one, rtol=1e-12, atol=1e-14)


def test_stack_output_chains_layers_and_rejects_mismatches():
    from seqkit.recurrent.layers import init_layer_params, make_layer
    from seqkit.recurrent.stack import Stack

    rng = np.random.default_rng(0)
    params = init_layer_params("gru", 4, 3, rng, tag="0", dtype=np.float64)
    params.update(init_layer_params("lstm", 3, 2, rng, tag="1", dtype=np.float64))
    stack = Stack([make_layer("gru", params, "0", batch=2, max_steps=5),
                   make_layer("lstm", params, "1", batch=2, max_steps=5)])
    x = rng.standard_normal((5, 2, 4))
    stack.forward(x)
    hidden, _ = layer_forward("gru", params, "0", x)
    top, _ = layer_forward("lstm", params, "1", hidden)
    np.testing.assert_allclose(stack.output(), top, rtol=1e-10, atol=1e-12)
    with pytest.raises(ValueError, match="do not chain"):
        Stack([make_layer("lstm", params, "1", batch=2, max_steps=5), make_layer("gru", params, "0", batch=2,
                                                                                  max_steps=5)])
    with pytest.raises(ValueError, match="does not fit"):
        stack.forward(rng.standard_normal((6, 2, 4)))
    with pytest.raises(ValueError, match="float32 input"):
        stack.forward(x.astype(np.float32))
    with pytest.raises(ValueError, match="no parameters named"):
        make_layer("gru", params, "1", batch=2, max_steps=5)


def test_blockwise_stack_equals_whole_pass_and_reports_each_block():
    from seqkit.recurrent.layers import init_layer_params, make_layer
    from seqkit.recurrent.stack import Stack

    rng = np.random.default_rng(1)
    params = init_layer_params("lstm", 4, 4, rng, tag="0")
    params.update(init_layer_params("lstm", 4, 4, rng, tag="1"))
    stack = Stack([make_layer("lstm", params, t, batch=3, max_steps=7) for t in "01"], dropout=0.25)
    x = rng.standard_normal((7, 3, 4)).astype(np.float32)
    whole_final = stack.forward(x, train=True, rng=np.random.default_rng(2))
    whole = stack.output().copy()
    seen = []
    blocks = [(0, 3), (3, 6), (6, 7)]
    ready = []
    final = stack.forward(x, train=True, rng=np.random.default_rng(2), blocks=blocks,
                          on_block=lambda t0, t1: (seen.append((t0, t1)), ready.append(stack.output()[t0:t1].copy())))
    assert seen == blocks
    np.testing.assert_allclose(np.concatenate(ready), whole, rtol=1e-6, atol=1e-7)
    for a, b in zip(final, whole_final):
        np.testing.assert_allclose(a[0], b[0], rtol=1e-6, atol=1e-7)


def test_producer_error_stops_the_stream_worker():
    """An error (or Ctrl-C) in the producer must not leave the worker waiting for tasks forever."""
    from seqkit.recurrent.pool import Pool, Stream

    done = []
    with Pool(2) as pool:
        stream = Stream(pool)
        stream.put(lambda: done.append(1))
        stream.abort()
        assert pool.run([lambda: 2, lambda: 3]) == [2, 3]  # the worker is free again
        single = Stream(Pool(1))
        single.put(lambda: done.append(2))  # no workers: runs at once
        single.finish()
    assert 2 in done


def test_single_threaded_blas_is_set_and_restored():
    from seqkit.recurrent.blas import blas_thread_counts, single_threaded_blas

    before = blas_thread_counts()
    assert before, "no OpenBLAS found in the process"
    with single_threaded_blas():
        assert set(blas_thread_counts()) == {1}
    assert blas_thread_counts() == before


def test_package_import_is_light_and_exports_resolve():
    code = ("import sys, seqkit.recurrent as r; "
            "heavy = [m for m in sys.modules if m.split('.')[0] in ('numba', 'llvmlite', 'numpy')]; "
            "print(len(heavy)); print(r.LstmLayer.__name__, r.Stack.__name__, r.Pool.__name__)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split("\n")
    assert out[0] == "0" and out[1] == "LstmLayer Stack Pool"


def test_dropout_flags_choose_where_masks_apply():
    """dropout_input / dropout_output switch the masks on the stack's ends; between layers they stay."""
    from seqkit.recurrent.layers import init_layer_params, make_layer
    from seqkit.recurrent.stack import Stack

    rng = np.random.default_rng(4)
    params = init_layer_params("rnn", 3, 3, rng, tag="0", dtype=np.float64)
    params.update(init_layer_params("rnn", 3, 3, rng, tag="1", dtype=np.float64))
    x = rng.standard_normal((4, 2, 3))
    outputs = {}
    for flags in [(True, True), (False, True), (True, False), (False, False)]:
        stack = Stack([make_layer("rnn", params, t, batch=2, max_steps=4) for t in "01"], dropout=0.5,
                      dropout_input=flags[0], dropout_output=flags[1])
        stack.forward(x, train=True, rng=np.random.default_rng(0))
        assert [m is not None for m in stack.masks] == [flags[0], True, flags[1]]
        if not flags[1]:
            assert np.shares_memory(stack.output(), stack.layers[-1].hs)  # the top layer's own outputs
        outputs[flags] = stack.output().copy()
        stack.forward(x)  # not training: no masks at all
        assert all(m is None for m in stack.masks)
    assert len({o.tobytes() for o in outputs.values()}) == 4
