"""The attention encoder-decoder's layers: kernels against NumPy, and every gradient against finite
differences (float64, padded batches, both attention kinds, GRU and LSTM)."""

from __future__ import annotations

import numpy as np
import pytest

from reference.seq2seq import attention

from seqkit_seq2seq.kernels import additive_backward, additive_forward, dot_backward, dot_forward
from seqkit_seq2seq.network import Config, Network, init_params


def _attention_inputs(rng, T=3, B=2, S=4, A=5, C=6):
    return (rng.normal(size=(T, B, A)), rng.normal(size=(S, B, A)), rng.normal(size=A), rng.normal(size=(S, B, C)),
            np.array([4, 2], dtype=np.int64))


@pytest.mark.parametrize("kind", ["additive", "dot"])
def test_attention_kernels_equal_numpy(kind):
    rng = np.random.default_rng(0)
    q, k, v, enc, lengths = _attention_inputs(rng, A=6 if kind == "dot" else 5)
    weights = np.full((3, 2, 4), 7.0)
    context = np.empty((3, 2, 6))
    if kind == "additive":
        additive_forward(q, k, v, enc, lengths, weights, context, 0, 2)
    else:
        dot_forward(q, k, enc, lengths, weights, context, 0, 2)
    expected_w, expected_c = attention(q, k, enc, lengths, v if kind == "additive" else None)
    np.testing.assert_allclose(weights, expected_w, atol=1e-12)
    np.testing.assert_allclose(context, expected_c, atol=1e-12)
    assert np.all(weights[:, 1, 2:] == 0)  # padded source positions get no weight


@pytest.mark.parametrize("kind", ["additive", "dot"])
def test_attention_gradients_match_finite_differences(kind):
    rng = np.random.default_rng(1)
    q, k, v, enc, lengths = _attention_inputs(rng, A=6 if kind == "dot" else 5)
    probe = rng.normal(size=(3, 2, 6))

    def loss(q, k, v, enc):
        _, context = attention(q, k, enc, lengths, v if kind == "additive" else None)
        return float((context * probe).sum())

    weights, context = attention(q, k, enc, lengths, v if kind == "additive" else None)
    dq, dk, denc, dv = np.empty_like(q), np.zeros_like(k), np.zeros_like(enc), np.zeros_like(v)
    if kind == "additive":
        additive_backward(q, k, v, enc, lengths, weights, probe, dq, dk, dv, denc, 0, 2)
    else:
        dot_backward(q, k, enc, lengths, weights, probe, dq, dk, denc, 0, 2)
    arrays = {"q": (q, dq), "k": (k, dk), "enc": (enc, denc)} | ({"v": (v, dv)} if kind == "additive" else {})
    for name, (array, grad) in arrays.items():
        numeric = np.zeros_like(array)
        for index in np.ndindex(array.shape):
            old = array[index]
            array[index] = old + 1e-6
            up = loss(q, k, v, enc)
            array[index] = old - 1e-6
            down = loss(q, k, v, enc)
            array[index] = old
            numeric[index] = (up - down) / 2e-6
        np.testing.assert_allclose(grad, numeric, atol=1e-7, err_msg=name)


def _batch(rng, src_vocab, tgt_vocab):
    src = np.array([[4, 5, 6, 7], [5, 6, 0, 0], [7, 4, 4, 0]], dtype=np.int64).T       # [S, B], 0 = <pad>
    src_len = np.array([4, 2, 3])
    tgt_in = np.array([[2, 4, 5], [2, 6, 0], [2, 0, 0]], dtype=np.int64).T            # <s> y1 y2
    tgt_out = np.array([[4, 5, 3], [6, 3, -1], [3, -1, -1]], dtype=np.int64).T        # y1 y2 </s>, -1 = padding
    return src, src_len, tgt_in, tgt_out, np.array([3, 2, 1])


@pytest.mark.parametrize("cell,kind,layers,decoder_layers,dropout", [
    ("gru", "additive", 2, 1, 0.0), ("lstm", "dot", 1, 1, 0.0), ("rnn", "additive", 1, 1, 0.0),
    ("gru", "additive", 1, 2, 0.0), ("lstm", "dot", 2, 2, 0.3), ("gru", "dot", 1, 3, 0.3)])
def test_network_gradients_match_finite_differences(cell, kind, layers, decoder_layers, dropout):
    rng = np.random.default_rng(2)
    config = Config(cell=cell, layers=layers, decoder_layers=decoder_layers, embed=3, hidden=4, attention=kind,
                    attn_size=3, init_scale=0.5, dropout=dropout)
    params = init_params(config, 8, 8, rng, dtype=np.float64)
    network = Network(config, params, batch=3, max_src=4, max_tgt=3)
    src, src_len, tgt_in, tgt_out, tgt_len = _batch(rng, 8, 8)

    def forward():
        """With dropout the same masks every time: training mode on a generator seeded afresh."""
        state = network.encode(src, src_len, train=dropout > 0, rng=np.random.default_rng(5))
        network.decode_teacher(tgt_in, tgt_len, state)

    def mean_loss() -> float:
        forward()
        total, count = network.target_logprobs_sum(tgt_out)
        return total / count

    forward()
    if dropout:
        assert network.mask is not None and all(m is not None for m in network.dec_masks)
    total, count, grads = network.loss_and_backward(tgt_out)
    assert count == 6 and total / count == pytest.approx(mean_loss())
    assert set(grads) == set(params)
    for name, param in params.items():
        flat, grad = param.reshape(-1), grads[name].reshape(-1)
        for i in rng.choice(flat.size, size=min(flat.size, 6), replace=False):
            old = flat[i]
            flat[i] = old + 1e-6
            up = mean_loss()
            flat[i] = old - 1e-6
            down = mean_loss()
            flat[i] = old
            assert grad[i] == pytest.approx((up - down) / 2e-6, abs=1e-7), (name, i)


@pytest.mark.parametrize("decoder_layers,dropout", [(1, 0.0), (2, 0.0), (2, 0.3)])
def test_free_running_decoder_reads_its_own_argmax(decoder_layers, dropout):
    rng = np.random.default_rng(3)
    config = Config(cell="gru", embed=3, hidden=4, attn_size=3, init_scale=0.5, decoder_layers=decoder_layers,
                    dropout=dropout)
    params = init_params(config, 8, 8, rng, dtype=np.float64)
    network = Network(config, params, batch=3, max_src=4, max_tgt=3)
    src, src_len, _, tgt_out, tgt_len = _batch(rng, 8, 8)

    def encode():
        return network.encode(src, src_len, train=dropout > 0, rng=np.random.default_rng(4))

    fed = network.decode_free(3, tgt_len, encode())
    if dropout == 0:  # (with dropout the argmax read the undropped attentional vector)
        logits = network.out[:3] @ params["Wout"] + params["bout"]
        np.testing.assert_array_equal(fed[1:], np.argmax(logits[:2], axis=2))
    # the same inputs given as teacher forcing give the same loss (and the same dropout masks)
    free_loss = network.target_logprobs_sum(tgt_out)
    network.decode_teacher(fed, tgt_len, encode())
    assert network.target_logprobs_sum(tgt_out) == pytest.approx(free_loss)


@pytest.mark.parametrize("cell,kind", [("gru", "additive"), ("lstm", "dot")])
def test_two_threads_give_the_one_thread_loss_and_gradients(cell, kind):
    """On two threads the decoder runs one band of the batch per thread, the output layer and attention split
    their products and a weight gradient runs beside the next input gradient: the same numbers as one thread
    (up to the order of a few float64 sums)."""
    from seqkit.recurrent.pool import Pool

    rng = np.random.default_rng(6)
    config = Config(cell=cell, embed=3, hidden=4, attention=kind, attn_size=3, init_scale=0.5)
    params = init_params(config, 9, 9, rng, dtype=np.float64)
    B, S, T = 16, 5, 4
    src_len, tgt_len = rng.integers(1, S + 1, size=B), rng.integers(1, T + 1, size=B)
    src = np.where(np.arange(S)[:, None] < src_len, rng.integers(4, 9, size=(S, B)), 0)
    tgt_in = np.where(np.arange(T)[:, None] < tgt_len, rng.integers(4, 9, size=(T, B)), 0)
    tgt_out = np.where(np.arange(T)[:, None] < tgt_len, rng.integers(3, 9, size=(T, B)), -1)
    results = []
    for threads in (1, 2):
        with Pool(threads) as pool:
            network = Network(config, params, batch=B, max_src=S, max_tgt=T, pool=pool)
            assert len(network.decoder.bands) == threads
            network.decode_teacher(tgt_in, tgt_len, network.encode(src, src_len))
            results.append(network.loss_and_backward(tgt_out))
    (loss1, count1, grads1), (loss2, count2, grads2) = results
    assert count1 == count2 == int(tgt_len.sum()) and loss2 == pytest.approx(loss1, rel=1e-12)
    assert set(grads1) == set(grads2) == set(params)
    for name in grads1:
        np.testing.assert_allclose(grads2[name], grads1[name], rtol=1e-10, atol=1e-13, err_msg=name)
