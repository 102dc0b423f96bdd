"""word2vec: kernels against a slow reference, reproducibility, meaning, options and bad input."""

from __future__ import annotations

import math
import os
import threading

import numpy as np
import pytest

from conftest import require_data, small_training_problem

M64 = (1 << 64) - 1
MAX_EXP, TABLE = 6.0, 1000


# --- a slow, obviously-correct reference of one chunk ----------------------------------------

class Lcg:
    def __init__(self, seed):
        self.state = (seed * 2862933555777941757 + 3037000493) & M64

    def next(self):
        self.state = (self.state * 25214903917 + 11) & M64
        return self.state


def table_index(z):
    return int((z + MAX_EXP) * (TABLE / MAX_EXP / 2.0))


def reference_chunk(ids, offsets, syn0, syn1neg, syn1, keep, prob, alias, codes, points, code_offsets,
                    skip_gram, use_hs, negative, cbow_mean, window, lr_start, lr_end, words_before, total,
                    seed, sig, logsig):
    """word2vec.c's updates written plainly with NumPy rows (float32), same random stream."""
    rng = Lcg(seed)
    loss_sum, raw = 0.0, 0
    vocab = prob.shape[0]

    def unit(inp, target, label, weights, neu1e, lr):
        f = np.float32(np.dot(inp, weights[target]))
        sign = 1.0 if label else -1.0
        z = sign * f
        if z > MAX_EXP:
            return 0.0
        if z >= -MAX_EXP:
            i = table_index(z)
            g = np.float32(sign * (1.0 - sig[i]) * lr)
            loss = -logsig[i]
        else:
            g, loss = np.float32(sign * lr), -z
        neu1e += g * weights[target]
        weights[target] += g * inp
        return loss

    def outputs(inp, word, neu1e, lr):
        loss = 0.0
        inp = inp.copy()
        if use_hs:
            for j in range(code_offsets[word], code_offsets[word + 1]):
                node = points[j]
                f = np.float32(np.dot(inp, syn1[node]))
                sign = 1.0 if codes[j] == 0 else -1.0
                z = sign * f
                if z > MAX_EXP:
                    continue
                if z < -MAX_EXP:
                    loss += -z
                    continue
                g = np.float32((1.0 - codes[j] - sig[table_index(f)]) * lr)
                loss -= logsig[table_index(z)]
                neu1e += g * syn1[node]
                syn1[node] += g * inp
        if negative:
            loss += unit(inp, word, 1, syn1neg, neu1e, lr)
            for _ in range(negative):
                r = rng.next()
                i = ((r >> 32) * vocab) >> 32
                u = np.float32((r >> 11) & 0x1FFFFF) * np.float32(1.0 / 2097152.0)
                target = i if u < prob[i] else int(alias[i])
                if target != word:
                    loss += unit(inp, target, 0, syn1neg, neu1e, lr)
        return loss

    for s in range(len(offsets) - 1):
        lr = max(lr_start - (lr_start - lr_end) * (words_before + raw) / total, lr_end)
        sentence = []
        for k in range(offsets[s], offsets[s + 1]):
            w = ids[k]
            r = rng.next()
            if keep[w] < 1.0 and keep[w] < ((r >> 11) / 9007199254740992.0):
                continue
            sentence.append(w)
        raw += offsets[s + 1] - offsets[s]
        n = len(sentence)
        for pos, word in enumerate(sentence):
            r = rng.next()
            b = ((r >> 32) * window) >> 32
            contexts = [c for c in range(max(pos - window + b, 0), min(pos + window - b + 1, n)) if c != pos]
            if skip_gram:
                for c in contexts:
                    neu1e = np.zeros(syn0.shape[1], np.float32)
                    loss_sum += outputs(syn0[sentence[c]], word, neu1e, lr)
                    syn0[sentence[c]] += neu1e
            elif contexts:
                neu1 = syn0[[sentence[c] for c in contexts]].sum(axis=0, dtype=np.float32)
                if cbow_mean:
                    neu1 *= np.float32(1.0 / len(contexts))
                neu1e = np.zeros(syn0.shape[1], np.float32)
                loss_sum += outputs(neu1, word, neu1e, lr)
                for c in contexts:
                    syn0[sentence[c]] += neu1e
    return loss_sum


@pytest.mark.parametrize("skip_gram", [True, False])
@pytest.mark.parametrize("loss", ["ns", "hs", "ns+hs"])
def test_kernel_equals_numpy_reference(skip_gram, loss):
    from seqkit.vocab import alias_table, huffman_tree, keep_probabilities
    from seqkit_word2vec.kernels import sigmoid_tables, train_chunk

    counts, ids, offsets, syn0, syn1neg = small_training_problem(7, 60, [0, 25, 26, 60])
    vocab, dim = syn0.shape
    syn1 = (np.random.default_rng(8).random((vocab - 1, dim), dtype=np.float32) * 0.2).astype(np.float32)
    keep = keep_probabilities(counts, 0.05)
    prob, alias = alias_table(counts)
    tree = huffman_tree(counts)
    sig, logsig = sigmoid_tables()
    use_hs, negative = "hs" in loss, (3 if "ns" in loss else 0)
    args = (keep, prob, alias, tree.codes, tree.points, tree.offsets, skip_gram, use_hs, negative, True, 3,
            0.5, 0.01, 100, 1000.0, 12345, sig, logsig)
    mats = [m.copy() for m in (syn0, syn1neg, syn1)]
    got_loss, terms, raw, trained = train_chunk(ids, offsets, 0, 3, *mats, *args)
    ref = [m.copy() for m in (syn0, syn1neg, syn1)]
    want_loss = reference_chunk(ids, offsets, *ref, *args)
    for got, want in zip(mats, ref):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    assert got_loss == pytest.approx(want_loss, rel=1e-3)  # table-index rounding may differ by one slot
    assert raw == 60 and 0 < trained <= 60 and terms > 0
    assert not np.allclose(mats[0], syn0)  # training moved the vectors


def _replica_case(skip_gram: bool):
    """A small sg-ns or cbow-ns chunk: (ids, offsets, syn0, syn1neg, the arguments after them)."""
    from seqkit.vocab import alias_table, keep_probabilities
    from seqkit_word2vec.kernels import sigmoid_tables

    counts, ids, offsets, syn0, syn1neg = small_training_problem(11, 200, [0, 90, 91, 200])
    vocab, dim = syn0.shape
    prob, alias = alias_table(counts)
    sig, logsig = sigmoid_tables()
    args = (np.zeros((1, dim), np.float32), keep_probabilities(counts, 0.05), prob, alias, np.zeros(1, np.uint8),
            np.zeros(1, np.int32), np.zeros(vocab + 1, np.int64), skip_gram, False, 3, True, 3, 0.5, 0.01, 100,
            1000.0, 12345, sig, logsig)
    return ids, offsets, syn0, syn1neg, args


@pytest.mark.parametrize("skip_gram", [True, False])
def test_replicated_rows_train_like_the_shared_ones_on_one_thread(skip_gram):
    """With one thread, training the hot rows in a replica merged every few positions changes only rounding;
    a wrong redirection or merge would move the vectors far apart (checked against the NumPy reference)."""
    from seqkit_word2vec.kernels import train_chunk

    ids, offsets, syn0, syn1neg, args = _replica_case(skip_gram)
    vocab, hot, replica = len(syn0), 5, len(syn0) + 1
    plain = [syn0.copy(), syn1neg.copy()]
    plain_loss = train_chunk(ids, offsets, 0, 3, *plain, *args)[0]
    extended = [np.vstack([m, np.full((hot + 1, m.shape[1]), 7.0, np.float32)]) for m in (syn0, syn1neg)]
    replica_loss = train_chunk(ids, offsets, 0, 3, *extended, *args, hot, replica, 4)[0]
    ref = [syn0.copy(), syn1neg.copy()]
    reference_chunk(ids, offsets, *ref, *args)
    for got, want, start in zip(extended, plain, (syn0, syn1neg)):
        np.testing.assert_allclose(got[:vocab], want, rtol=1e-5, atol=1e-6)
        assert np.array_equal(got[replica:replica + hot], got[:hot])  # the last merge left them equal
        assert not np.allclose(got[:hot], start[:hot])  # the hot rows did train
    np.testing.assert_allclose(plain[0], ref[0], rtol=1e-5, atol=1e-6)
    assert replica_loss == pytest.approx(plain_loss, rel=1e-4)


def _hs_case(skip_gram: bool, negative: int):
    """`_replica_case` with hierarchical softmax (and `negative` noise words): (ids, offsets, syn0, syn1neg,
    the arguments after them, syn1 first)."""
    from seqkit.vocab import huffman_tree

    ids, offsets, syn0, syn1neg, args = _replica_case(skip_gram)
    vocab, dim = syn0.shape
    tree = huffman_tree(np.sort(np.random.default_rng(3).integers(1, 50, vocab))[::-1])
    syn1 = (np.random.default_rng(4).random((vocab - 1, dim), dtype=np.float32) * 0.2).astype(np.float32)
    args = (syn1,) + args[1:4] + (tree.codes, tree.points, tree.offsets, skip_gram, True, negative) + args[10:]
    return ids, offsets, syn0, syn1neg, args


@pytest.mark.parametrize("skip_gram,negative", [(True, 0), (False, 0), (True, 3)])
def test_replicated_rows_and_tree_nodes_train_like_the_shared_ones_on_one_thread(skip_gram, negative):
    """With hierarchical softmax the replicas hold the hot words' syn0 rows and the tree's nodes nearest
    the root (the highest ids); with one thread they change only rounding. The path is still looked up
    by the word's own id (a replica row's id indexes past the code table), and a node replica inside the
    tree's rows is refused."""
    from seqkit_word2vec.kernels import train_chunk

    ids, offsets, syn0, syn1neg, args = _hs_case(skip_gram, negative)
    # at the shared case's rate of 0.5, the merges' rounding grows through hs + ns updates to ~1e-3 in 200
    # words (chaotically: merging every position instead of every 4 does the same); at 0.05 it stays ~1e-7
    args = args[:12] + (0.05, 0.001) + args[14:]
    vocab, nodes, hot = len(syn0), len(syn0) - 1, 5
    replica, node_replica = vocab + 1, nodes + 1  # one spare row before each replica, left at 7.0
    plain = [syn0.copy(), syn1neg.copy(), args[0].copy()]
    plain_loss = train_chunk(ids, offsets, 0, 3, *plain, *args[1:])[0]
    extended = [np.vstack([m, np.full((hot + 1, m.shape[1]), 7.0, np.float32)]) for m in (syn0, syn1neg, args[0])]
    replica_loss = train_chunk(ids, offsets, 0, 3, *extended, *args[1:], hot, replica, 4)[0]
    for got, want in zip(extended, plain):
        np.testing.assert_allclose(got[:len(want)], want, rtol=1e-5, atol=1e-6)
    assert replica_loss == pytest.approx(plain_loss, rel=1e-4)
    syn0_got, syn1neg_got, syn1_got = extended
    assert np.array_equal(syn0_got[replica:replica + hot], syn0_got[:hot])  # the last merge left them equal
    top = syn1_got[nodes - hot:nodes]
    assert np.array_equal(syn1_got[node_replica:node_replica + hot], top)
    assert not np.allclose(top, args[0][nodes - hot:])  # the top nodes did train
    if negative == 0:
        assert (syn1neg_got[vocab:] == 7.0).all()  # no noise words: syn1neg has no replica to open
    with pytest.raises(ValueError, match="replica rows"):
        train_chunk(ids, offsets, 0, 3, *extended, *args[1:], hot, nodes - 1, 4)  # node replica at nodes - 2


def test_replica_merge_keeps_the_other_threads_changes():
    from seqkit_word2vec.kernels import _merge_replica, _open_replica

    weights = np.zeros((7, 3), np.float32)
    weights[:2] = [[1, 2, 3], [4, 5, 6]]
    base = np.empty((2, 3), np.float32)
    _open_replica(weights, 2, 4, base)
    assert np.array_equal(weights[4:6], weights[:2]) and np.array_equal(base, weights[:2])
    weights[0] += 10  # another thread merged its change meanwhile
    weights[4:6] += 0.5  # this thread's own change, in its replica
    _merge_replica(weights, 2, 4, base)
    assert np.array_equal(weights[:2], [[11.5, 12.5, 13.5], [4.5, 5.5, 6.5]])
    assert np.array_equal(weights[4:6], weights[:2]) and np.array_equal(base, weights[:2])
    assert not weights[2:4].any() and not weights[6].any()  # nothing else is touched


def test_noise_draws_of_hot_words_go_to_the_threads_replica():
    """With one thread the replicas only change rounding, so the run above cannot tell a redirection that
    does nothing; the noise draws show it directly: the same stream, hot ids moved to the replica, and the
    true word (itself redirected) still skipped."""
    from seqkit.vocab import alias_table
    from seqkit_word2vec.kernels import _draw_noise

    prob, alias = alias_table(np.array([50, 30, 20, 10, 5, 5, 3, 2], np.int64))
    weights = np.zeros((64, 4), np.float32)
    hot, replica, word = 3, 40, 1
    plain, redirected = np.empty(500, np.int64), np.empty(500, np.int64)
    end_plain, state_plain = _draw_noise(word, 500, prob, alias, np.uint64(99), weights, plain, 0, 0, 0)
    end, state = _draw_noise(replica + word, 500, prob, alias, np.uint64(99), weights, redirected, 0,
                             hot, replica)
    assert (end, state) == (end_plain, state_plain) and end < 500  # same draws, the true word skipped alike
    drawn, expected = redirected[:end], plain[:end]
    assert np.array_equal(drawn, np.where(expected < hot, expected + replica, expected))
    assert not (drawn < hot).any() and (drawn >= replica).sum() > 100


@pytest.mark.parametrize("groups", [2, 3])
def test_noise_shares_move_each_draw_within_its_round_of_blocks(groups):
    """The shares split the rows above the hot ones into blocks of 16 dealt round-robin: the same random
    stream gives each share the row at the draw's place in the share's own block of the draw's round (so
    the draw itself is one of them), hot draws still go to the replica, and in the last, short round a
    draw whose place lies past the last row stays where it is."""
    from seqkit.vocab import alias_table
    from seqkit_word2vec.kernels import NOISE_BLOCK_BITS, _draw_noise

    block, hot, replica = 2 ** NOISE_BLOCK_BITS, 5, 400
    vocab = hot + 5 * groups * block + 20  # 5 whole rounds, then 20 rows
    prob, alias = alias_table(np.arange(vocab, 0, -1, dtype=np.int64))
    weights = np.zeros((replica + hot, 4), np.float32)

    def draws(where):
        out = np.empty(30_000, np.int64)
        end, state = _draw_noise(-1, len(out), prob, alias, np.uint64(7), weights, out, 0, *where)
        assert end == len(out)
        return out, state

    plain, plain_state = draws((0, 0, 0, 1))
    shared = [draws((hot, replica, group, groups)) for group in range(groups)]
    assert all(state == plain_state for _, state in shared)  # no extra randomness
    rows = np.stack([out for out, _ in shared])  # rows[g]: share g's draws
    hot_draws = plain < hot
    assert (rows[:, hot_draws] == plain[hot_draws] + replica).all()
    tail = vocab - 20
    rest = ~hot_draws & (plain < tail)
    place = (plain[rest] - hot) % block
    round_start = hot + (plain[rest] - hot) // (groups * block) * groups * block
    for group in range(groups):
        assert (rows[group, rest] == round_start + group * block + place).all()
    assert (rows[:, rest] == plain[rest]).sum(axis=0).tolist() == [1] * rest.sum()
    last = plain >= tail
    for group in range(groups):  # moved where the place exists, else kept
        moved = rows[group, last]
        assert ((((moved - hot) // block) % groups == group) | (moved == plain[last])).all()
        assert (moved < vocab).all()
    assert (rows[0, last] != rows[1, last]).any() and (rows[0, last] == rows[1, last]).any()
    assert rest.sum() > 10_000 and last.sum() > 50 and hot_draws.sum() > 300


def test_noise_shares_go_to_running_chunks_one_each_and_serve_equal_words():
    """No two running chunks hold the same share; a thread that finishes takes the least-used free share,
    so even one thread alone (a corpus of one chunk) or a slow thread leaves every share its turn."""
    from seqkit_word2vec.train import NoiseShares

    shares = NoiseShares(2)
    assert shares.count == 3
    first, second = shares.take(), shares.take()
    assert first != second
    third = shares.take()
    assert {first, second, third} == {0, 1, 2}
    with pytest.raises(ValueError):
        shares.take()  # all held: a fourth running chunk would be a bug in the driver
    for share in (first, second, third):
        shares.give_back(share, 100)
    alone = NoiseShares(2)
    for _ in range(30):  # one thread taking chunks one after another
        share = alone.take()
        alone.give_back(share, 10)
    assert alone.words == [100, 100, 100]
    uneven = NoiseShares(2)
    slow = uneven.take()  # a chunk that takes as long as 20 of the other thread's
    for _ in range(20):
        share = uneven.take()
        assert share != slow
        uneven.give_back(share, 10)
    uneven.give_back(slow, 10)
    assert sorted(uneven.words) == [10, 100, 100]
    for _ in range(9):  # the starved share catches up first
        share = uneven.take()
        assert share == slow
        uneven.give_back(share, 10)
    assert uneven.words == [100, 100, 100]


def test_noise_shares_refuse_what_they_need():
    from seqkit_word2vec.kernels import train_chunk

    ids, offsets, syn0, syn1neg, args = _replica_case(True)
    with pytest.raises(ValueError, match="noise shares"):
        train_chunk(ids, offsets, 0, 3, syn0, syn1neg, *args, 0, 0, 1, 0, 0, 2)  # no hot rows
    with pytest.raises(ValueError, match="noise shares"):
        train_chunk(ids, offsets, 0, 3, syn0, syn1neg, *args, 2, len(syn0) - 2, 4, 0, 2, 2)  # no such share


PAD = 7.0  # a padding sentinel: a kernel reading it would change the results, one writing it would change it


def _padded(matrix: np.ndarray, extra: int = 5) -> np.ndarray:
    """`matrix` in rows `extra` columns wider, the extra columns holding PAD."""
    wide = np.full((matrix.shape[0], matrix.shape[1] + extra), PAD, np.float32)
    wide[:, :matrix.shape[1]] = matrix
    return wide


@pytest.mark.parametrize("case", ["sg-ns, replicas", "cbow-ns, replicas", "sg-ns+hs", "cbow-hs",
                                  "cbow-hs, replicas", "sg-ns+hs, replicas", "sg-ns batch"])
def test_kernels_on_padded_rows_use_only_the_first_dim_columns(case):
    """Rows wider than `dim` (the driver pads them to whole cache lines) train exactly as unpadded rows,
    and the padding is neither read nor written: replicas (their copies, merges and bases), hs and batch."""
    from seqkit.vocab import huffman_tree
    from seqkit_word2vec.kernels import train_chunk, train_chunk_sg_batch

    skip_gram = case.startswith("sg")
    if "hs" in case:
        ids, offsets, syn0, syn1neg, args = _hs_case(skip_gram, 3 if "ns" in case else 0)
    else:
        ids, offsets, syn0, syn1neg, args = _replica_case(skip_gram)
    vocab, dim = syn0.shape
    if "replicas" in case:
        hot, replica = 5, vocab + 1
        syn0, syn1neg = (np.vstack([m, np.zeros((hot + 1, dim), np.float32)]) for m in (syn0, syn1neg))
        if "hs" in case:
            args = (np.vstack([args[0], np.zeros((hot + 1, dim), np.float32)]),) + args[1:]
        tail = (hot, replica, 4)
    else:
        tail = (0, 0, 1)
    plain = [m.copy() for m in (syn0, syn1neg, args[0])]
    wide = [_padded(m) for m in plain]
    if case.endswith("batch"):
        batch_args = args[1:4] + (3, 3) + args[12:]  # keep, prob, alias, negative, window, schedule, tables
        train_chunk_sg_batch(ids, offsets, 0, 3, *plain[:2], *batch_args)
        train_chunk_sg_batch(ids, offsets, 0, 3, *wide[:2], *batch_args, dim)
    else:
        train_chunk(ids, offsets, 0, 3, *plain, *args[1:], *tail)
        train_chunk(ids, offsets, 0, 3, *wide, *args[1:], *tail, dim)
    for got, want in zip(wide, plain):
        assert np.array_equal(got[:, :dim], want)
        assert (got[:, dim:] == PAD).all()
    assert not np.array_equal(plain[0], syn0)  # training did happen
    if "hs" in case:
        assert not np.array_equal(plain[2], args[0])


def test_kernels_refuse_a_dim_wider_than_the_rows():
    from seqkit_word2vec.kernels import train_chunk

    ids, offsets, syn0, syn1neg, args = _replica_case(True)
    with pytest.raises(ValueError, match="wider than a weight row"):
        train_chunk(ids, offsets, 0, 3, syn0, syn1neg, *args, 0, 0, 1, syn0.shape[1] + 1)
    with pytest.raises(ValueError, match="run past"):
        train_chunk(ids, offsets, 0, 3, syn0, syn1neg, *args, 2, len(syn0) - 1, 4)


@pytest.mark.parametrize("options,replicated", [({}, True), ({"skip_gram": False}, True), ({"hs": True}, True),
                                                ({"hs": True, "negative": 0}, True),
                                                ({"batch_negatives": True}, False), ({"threads": 1}, False),
                                                ({"replica_rows": 0}, False),
                                                ({"noise_shares": False}, True)])
def test_training_with_replicas_returns_only_the_vocabulary(tmp_path, options, replicated, monkeypatch):
    """Threads get replicas only where they apply, each thread its own, in rows padded to whole cache lines
    (so no line holds rows of two threads); the vectors returned never include their rows or the padding."""
    from seqkit.progress import Reporter
    from seqkit.vocab import Vocabulary
    from seqkit_word2vec import kernels
    from seqkit_word2vec import train as training

    shapes, calls, syn1_rows = [], [], []
    real_weights, real_chunks, real_kernel = training.initial_weights, training.make_chunks, kernels.train_chunk
    monkeypatch.setattr(training, "initial_weights",
                        lambda n, config, extra_rows=0: shapes.append(extra_rows) or real_weights(n, config, extra_rows))
    monkeypatch.setattr(training, "make_chunks", lambda offsets: real_chunks(offsets, chunk_words=24))

    def recording_kernel(*args):
        syn0, syn1, dim = args[4], args[6], args[-3]
        assert syn0.ctypes.data % 64 == 0 and syn0.strides[0] == 64 and dim == 12  # 12 floats padded to 16
        calls.append((threading.get_ident(), args[-6], args[-5], args[-2], args[-1]))  # thread, hot, replica,
        syn1_rows.append(len(syn1))  # noise share and shares; the tree's rows and its replicas' (hs)
        return real_kernel(*args)

    monkeypatch.setattr(kernels, "train_chunk", recording_kernel)
    lines = [b"the cat sat on the mat".split(), b"the dog sat on the log".split()] * 50
    vocab, _, corpus = Vocabulary.build_encoded(iter(lines), min_count=1, directory=str(tmp_path))
    config = training.Config(**{"epochs": 1, "threads": 2, "dim": 12, **options})
    with corpus:
        vectors, _ = training.train(vocab, corpus, config, Reporter(True))
    assert vectors.shape == (len(vocab), 12) and np.isfinite(vectors).all()
    assert (shapes[0] > 0) == replicated
    shared_noise = not replicated or options.get("noise_shares") is False or options.get("negative") == 0
    assert all(groups == (1 if shared_noise else 3) for *_, groups in calls)  # one share more than threads
    if not shared_noise:
        per_share = np.bincount([group for *_, group, _ in calls], minlength=3)
        # the chunks' words are equal here, so the counts stay close; not within 1, as a thread the OS holds
        # back keeps its share while the other alternates between two (exact balance: the NoiseShares tests)
        assert per_share.min() > 0 and per_share.max() - per_share.min() <= 4
    if replicated:
        replica_of = {thread: replica for thread, _, replica, _, _ in calls}
        assert all(replica_of[thread] == replica for thread, _, replica, _, _ in calls)  # one replica per thread
        starts = sorted(replica_of.values())
        hot = calls[0][1]
        assert starts[0] >= len(vocab) and all(b - a >= hot for a, b in zip(starts, starts[1:]))
        assert starts[-1] + hot <= len(vocab) + shapes[0]
    if replicated and options.get("hs"):  # the tree's top nodes: each thread's at its replica - 1 in syn1
        starts = sorted(replica - 1 for replica in replica_of.values())
        assert starts[0] >= len(vocab) - 1
        assert starts[-1] + min(hot, len(vocab) - 1) <= syn1_rows[0] == len(vocab) - 1 + shapes[0]
    elif not options.get("hs"):
        assert all(rows == 1 for rows in syn1_rows)  # no tree: a one-row stand-in (batch: no such kernel)


def test_row_prefetch_compiles_for_every_index_type_and_changes_nothing():
    """The prefetch intrinsic casts int32 rows (Huffman points) and int64 rows alike, and only hints."""
    from numba import njit
    from seqkit_word2vec.kernels import _prefetch_row

    @njit
    def prefetch_rows(weights, rows):
        for row in rows:
            _prefetch_row(weights, row)

    weights = np.arange(12 * 37, dtype=np.float32).reshape(12, 37)  # rows straddle cache lines
    before = weights.copy()
    for rows in (np.array([0, 11, 5], np.int32), np.array([3, 7], np.int64), np.array([2], np.uint8)):
        prefetch_rows(weights, rows)
    assert np.array_equal(weights, before)


def test_negative_draws_follow_unigram_power():
    """The kernel's noise words come from counts^0.75 (checked through syn1neg rows it touched)."""
    from seqkit.vocab import alias_table
    from seqkit_word2vec.kernels import sigmoid_tables, train_chunk

    counts = np.array([1000, 300, 100, 30, 10, 3], dtype=np.int64)
    prob, alias = alias_table(counts)
    sig, logsig = sigmoid_tables()
    ids = np.zeros(20000, dtype=np.int32)  # always word 0: every other row touched is a negative
    ids[1::2] = 1
    offsets = np.array([0, ids.size], dtype=np.int64)
    hits = np.zeros(6)
    for seed in range(3):
        syn0 = np.ones((6, 4), np.float32) * 0.01
        syn1neg = np.zeros((6, 4), np.float32)
        before = syn1neg.copy()
        train_chunk(ids, offsets, 0, 1, syn0, syn1neg, np.zeros((1, 4), np.float32), np.ones(6, np.float32),
                    prob, alias, np.zeros(1, np.uint8), np.zeros(1, np.int32), np.zeros(7, np.int64), True,
                    False, 5, True, 1, 1e-6, 1e-6, 0, 1e9, seed, sig, logsig)
        hits += np.abs(syn1neg - before).sum(axis=1) > 0
    assert hits[2:].min() > 0  # even rare words get drawn


def test_huffman_paths_used_by_hs_are_valid():
    from seqkit.vocab import huffman_tree

    counts = np.array([40, 30, 20, 5, 5])
    tree = huffman_tree(counts)
    assert tree.points.max() == len(counts) - 2
    assert sum(2.0 ** -(tree.offsets[w + 1] - tree.offsets[w]) for w in range(5)) == pytest.approx(1.0)


def test_chunks_cover_the_corpus_once():
    from seqkit_word2vec.train import make_chunks

    offsets = np.array([0, 3, 10, 25000, 25001, 40000], dtype=np.int64)
    chunks = make_chunks(offsets, chunk_words=10_000)
    covered = [s for first, end, _ in chunks for s in range(first, end)]
    assert covered == list(range(5))
    assert [before for _, _, before in chunks] == [offsets[first] for first, _, _ in chunks]


def test_initial_weights_span_plus_minus_one_over_dim_and_follow_the_seed():
    from seqkit_word2vec.train import Config, initial_weights

    config = Config(dim=50, hs=True, seed=7)
    padded, syn1neg, syn1 = initial_weights(5000, config)  # more rows than one block of the initialisation
    assert padded.dtype == np.float32 and padded.flags.c_contiguous and padded.shape == (5000, 64)
    assert padded.ctypes.data % 64 == 0 and not padded[:, 50:].any()  # whole 64-byte lines, zero padding
    syn0 = padded[:, :50]
    # gensim's and fastText's range: half of it (word2vec.c's) would fail the spread check
    assert syn0.min() >= -1 / 50 and syn0.max() < 1 / 50
    assert syn0.min() < -0.99 / 50 and syn0.max() > 0.99 / 50
    assert abs(float(syn0.mean())) < 0.01 / 50  # centred: the mean of 250k draws has sd 0.0012 / 50
    whole = np.random.default_rng(7).random((5000, 50), dtype=np.float32)  # one stream, block by block
    assert np.array_equal(syn0, (whole * 2 - 1) / np.float32(50))
    assert not syn1neg.any() and syn1neg.shape == (5000, 64) and not syn1.any() and syn1.shape == (4999, 64)
    assert np.array_equal(initial_weights(5000, config)[0], padded)
    assert not np.array_equal(initial_weights(5000, Config(dim=50, seed=8))[0], padded)
    assert initial_weights(0, config)[0].shape == (0, 64)  # an empty vocabulary: empty, not an error


@pytest.mark.parametrize("options", [{}, {"hs": True, "negative": 0, "skip_gram": False},
                                     {"batch_negatives": True}])
def test_padded_rows_train_exactly_like_unpadded_ones(tmp_path, monkeypatch, options):
    """The padding is invisible: one thread gives the same vectors, bit for bit, as rows of exactly `dim`."""
    from seqkit.progress import Reporter
    from seqkit.vocab import Vocabulary
    from seqkit_word2vec import train as training

    lines = [b"the cat sat on the mat".split(), b"the dog sat on the log".split(),
             b"a bird flew over the dog".split()] * 40
    vocab, _, corpus = Vocabulary.build_encoded(iter(lines), min_count=1, directory=str(tmp_path))
    config = training.Config(**{"epochs": 2, "threads": 1, "dim": 21, "sample": 0.0, **options})
    with corpus:
        padded, _ = training.train(vocab, corpus, config, Reporter(True))
        monkeypatch.setattr(training, "ROW_ALIGN_BYTES", 4)  # rows of exactly dim floats
        assert training.padded_zeros(3, 21).shape == (3, 21)
        plain, _ = training.train(vocab, corpus, config, Reporter(True))
    assert padded.shape == plain.shape == (len(vocab), 21) and padded.flags.c_contiguous
    assert np.array_equal(padded, plain)
    assert not np.allclose(plain, training.initial_weights(len(vocab), config)[0])  # training moved them


@pytest.mark.parametrize("batch_negatives", [False, True])
def test_training_from_disk_equals_training_from_memory(tmp_path, batch_negatives):
    """The command trains from the temporary-file corpus; chunks read back must train identically."""
    from seqkit.progress import Reporter
    from seqkit.vocab import Vocabulary
    from seqkit_word2vec.train import Config, train

    rng = np.random.default_rng(5)
    lines = [[f"w{int(i)}".encode() for i in rng.zipf(1.3, rng.integers(1, 400)) % 300] for _ in range(120)]
    vocab, _ = Vocabulary.build(iter(lines), min_count=2)
    config = Config(epochs=2, threads=1, seed=4, dim=16, batch_negatives=batch_negatives)
    from_memory, _ = train(vocab, vocab.encode(iter(lines)), config, Reporter(True))
    with vocab.encode_to_disk(iter(lines), directory=str(tmp_path)) as corpus:
        from_disk, _ = train(vocab, corpus, config, Reporter(True))
    assert from_memory.tobytes() == from_disk.tobytes()
    assert np.abs(from_memory).sum() > 0


@pytest.mark.parametrize("options", [{}, {"skip_gram": False, "hs": True, "negative": 0},
                                     {"hs": True}, {"batch_negatives": True}])
def test_load_kernels_loads_what_the_real_run_calls(tmp_path, options):
    """The warm-up must leave nothing to compile: a new specialisation would bring LLVM's pages back."""
    from seqkit._textformat import format_rows
    from seqkit._token_kernels import encode_block, rehash
    from seqkit.progress import Reporter
    from seqkit.vectors import Embeddings
    from seqkit.vocab import Vocabulary
    from seqkit_word2vec.kernels import train_chunk, train_chunk_sg_batch
    from seqkit_word2vec.train import Config, load_kernels, train

    def signatures():
        return [len(kernel.signatures) for kernel in (train_chunk, train_chunk_sg_batch, encode_block, rehash,
                                                      format_rows)]

    config = Config(epochs=1, threads=2, seed=7, dim=12, lr=0.05, **options)
    load_kernels(config)
    loaded = signatures()
    path = tmp_path / "corpus.txt"
    path.write_text("the cat sat on the mat\nthe dog sat on the log\n" * 50)
    vocab, _, corpus = Vocabulary.read_encoded([str(path)], min_count=1, directory=str(tmp_path))
    with corpus:
        vectors, _ = train(vocab, corpus, config, Reporter(True))
    Embeddings(vocab.words, vectors).save(str(tmp_path / "vectors.txt"))
    assert signatures() == loaded
    assert loaded[:2] != [0, 0] and all(loaded[2:]) and np.abs(vectors).sum() > 0


# --- the command ---------------------------------------------------------------------------------

@pytest.fixture
def small_corpus(tmp_path):
    path = tmp_path / "corpus.txt"
    rng = np.random.default_rng(0)
    words = [f"w{i}" for i in range(30)]
    lines = [" ".join(rng.choice(words, 20)) for _ in range(200)]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_trains_and_writes_loadable_vectors(small_corpus, tmp_path, cli_run):
    out = tmp_path / "v.txt"
    result = cli_run("word2vec", small_corpus, "-o", out, "--dim", "16", "--min-count", "1", "--threads", "2",
                     "--epochs", "2")
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    assert "word2vec sg-ns: 30 words x 16" in result.stderr
    from seqkit.vectors import Embeddings

    emb = Embeddings.load(str(out))
    assert emb.matrix.shape == (30, 16) and np.isfinite(emb.matrix).all()


@pytest.mark.parametrize("model,loss", [("sg", "hs"), ("cbow", "ns"), ("cbow", "hs"), ("sg", "ns+hs")])
def test_every_mode_runs(small_corpus, tmp_path, cli_run, model, loss):
    out = tmp_path / "v.bin"
    result = cli_run("word2vec", small_corpus, "-o", out, "--dim", "8", "--min-count", "1", "--model", model,
                     "--loss", loss, "--binary", "--epochs", "1", "-q")
    assert result.exit_code == 0 and result.stderr == ""
    from seqkit.vectors import Embeddings

    assert Embeddings.load(str(out)).matrix.shape == (30, 8)


@pytest.mark.parametrize("model, default_exponent, other", [("sg", "0.75", "0.5"), ("cbow", "0.5", "0.75")])
def test_ns_exponent_reaches_the_noise_distribution(small_corpus, tmp_path, cli_run, model, default_exponent,
                                                    other):
    """Same seed, one thread: only the noise distribution differs, so the vectors must differ; the
    default is word2vec's counts^0.75 for sg and fastText's counts^0.5 for cbow."""
    from seqkit.vectors import Embeddings

    def train(name, *extra):
        out = tmp_path / f"{name}.txt"
        result = cli_run("word2vec", small_corpus, "-o", out, "--model", model, "--dim", "8", "--min-count", "1",
                         "--epochs", "1", "--threads", "1", "--seed", "3", "-q", *extra)
        assert result.exit_code == 0, result.stderr
        return Embeddings.load(str(out)).matrix

    default = train("default")
    assert np.array_equal(default, train("same", "--ns-exponent", default_exponent))
    assert not np.array_equal(default, train("other", "--ns-exponent", other))
    assert not np.array_equal(default, train("uniform", "--ns-exponent", "0"))


def test_stdout_output_holds_only_vectors(small_corpus, cli_run):
    result = cli_run("word2vec", small_corpus, "-o", "-", "--dim", "4", "--min-count", "1", "--epochs", "1", "-q")
    lines = result.stdout.splitlines()
    assert lines[0] == "30 4" and len(lines) == 31 and result.stderr == ""
    assert all(len(line.split(" ")) == 5 for line in lines[1:])


def test_same_seed_one_thread_is_byte_identical_across_processes(small_corpus, tmp_path, seqkit_proc):
    outs = []
    for run in range(2):
        out = tmp_path / f"v{run}.txt"
        proc = seqkit_proc("word2vec", small_corpus, "-o", out, "--threads", "1", "--seed", "42", "--dim", "10",
                           "--min-count", "1", "--epochs", "2", "-q")
        assert proc.returncode == 0 and proc.stderr == b""
        outs.append(out.read_bytes())
    assert outs[0] == outs[1]
    other = tmp_path / "v-other.txt"
    seqkit_proc("word2vec", small_corpus, "-o", other, "--threads", "1", "--seed", "43", "--dim", "10",
                "--min-count", "1", "--epochs", "2", "-q")
    assert other.read_bytes() != outs[0]


def test_one_pass_and_two_pass_reading_give_identical_vectors(tmp_path, cli_run):
    """No --max-vocab: counted and encoded in one reading; a --max-vocab above the type count: two passes."""
    corpus = tmp_path / "c.txt"
    rng = np.random.default_rng(3)
    lines = [" ".join(f"w{int(i)}" for i in rng.zipf(1.5, 40) if i < 300) for _ in range(200)]
    corpus.write_text("\n".join(lines))
    outputs = []
    for extra in ([], ["--max-vocab", "100000"]):
        out = tmp_path / f"v{len(outputs)}.txt"
        result = cli_run("word2vec", corpus, "-o", out, "--dim", "8", "--min-count", "2", "--threads", "1",
                         "--seed", "5", "--epochs", "1", *extra)
        assert result.exit_code == 0, result.output
        outputs.append(out.read_bytes())
    assert outputs[0] == outputs[1] and outputs[0].count(b"\n") > 50


def test_save_and_read_vocab(small_corpus, tmp_path, cli_run):
    vocab = tmp_path / "vocab.txt"
    out = tmp_path / "v.txt"
    assert cli_run("word2vec", small_corpus, "-o", out, "--save-vocab", vocab, "--min-count", "1", "--dim", "4",
                   "--epochs", "1", "-q").exit_code == 0
    lines = vocab.read_text().splitlines()
    assert len(lines) == 30 and all(len(line.split(" ")) == 2 for line in lines)
    vocab.write_text("\n".join(lines[:5]) + "\n")
    assert cli_run("word2vec", small_corpus, "-o", out, "--read-vocab", vocab, "--min-count", "1", "--dim", "4",
                   "--epochs", "1", "-q").exit_code == 0
    assert out.read_text().splitlines()[0] == "5 4"


@pytest.mark.parametrize("extra,spooled", [([], False), (["--max-vocab", "100"], True)])
def test_stdin_corpus_streams_and_is_spooled_only_for_two_passes(small_corpus, seqkit_proc, extra, spooled):
    """One reading (the default) streams stdin; --max-vocab counts then encodes, so it needs a copy."""
    proc = seqkit_proc("word2vec", "-", "-o", "-", "--min-count", "1", "--dim", "4", "--epochs", "1",
                       "--threads", "1", "--seed", "3", *extra, input=small_corpus.read_bytes())
    assert proc.returncode == 0 and proc.stdout.startswith(b"30 4\n")
    assert (b"spooled stdin" in proc.stderr) == spooled
    from_file = seqkit_proc("word2vec", small_corpus, "-o", "-", "--min-count", "1", "--dim", "4",
                            "--epochs", "1", "--threads", "1", "--seed", "3", *extra)
    assert from_file.stdout == proc.stdout


# --- degenerate and bad input (CONTRACT 5.6) ------------------------------------------------------

def test_empty_corpus_is_a_clean_error(tmp_path, cli_run):
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    out = tmp_path / "v.txt"
    result = cli_run("word2vec", empty, "-o", out)
    assert result.exit_code == 1 and "empty" in result.stderr and not out.exists()


def test_all_words_rare_names_the_counts(tmp_path, cli_run):
    corpus = tmp_path / "c.txt"
    corpus.write_text("a b c d\n")
    result = cli_run("word2vec", corpus, "-o", tmp_path / "v.txt")
    assert result.exit_code == 1
    assert "0 of 4 word types occur >= 5 times; lower --min-count" in result.stderr


def test_one_word_vocabulary(tmp_path, cli_run):
    corpus = tmp_path / "c.txt"
    corpus.write_text("solo " * 50 + "\n")
    for loss in ("ns", "hs"):
        out = tmp_path / f"v-{loss}.txt"
        result = cli_run("word2vec", corpus, "-o", out, "--dim", "4", "--loss", loss, "-q", "--sample", "0")
        assert result.exit_code == 0, result.stderr
        assert out.read_text().splitlines()[0] == "1 4"


def test_long_line_long_word_crlf_and_bom(tmp_path, cli_run):
    corpus = tmp_path / "c.txt"
    long_word = "é" * 100
    body = " ".join(["x", "y", long_word] * 34000)  # a ~100k-token line
    corpus.write_bytes(b"\xef\xbb\xbf" + body.encode() + b"\r\nx y\r\n")
    out = tmp_path / "v.txt"
    result = cli_run("word2vec", corpus, "-o", out, "--dim", "4", "--epochs", "1", "--min-count", "1")
    assert result.exit_code == 0, result.stderr
    assert "long lines split" in result.stderr
    words = {line.split(" ")[0] for line in out.read_text(encoding="utf-8").splitlines()[1:]}
    assert words == {"x", "y", long_word}


def test_contradictory_options_are_usage_errors(small_corpus, tmp_path, cli_run):
    assert cli_run("word2vec", small_corpus, "-o", tmp_path / "v", "--negative", "0").exit_code == 2
    assert cli_run("word2vec", small_corpus, "-o", tmp_path / "v", "--window", "0").exit_code == 2
    assert cli_run("word2vec", small_corpus, "-o", tmp_path / "v", "--model", "glove").exit_code == 2
    assert cli_run("word2vec", small_corpus, "-o", tmp_path / "v", "--ns-exponent", "1.5").exit_code == 2


def test_bad_output_path_fails_before_training(small_corpus, tmp_path, cli_run):
    result = cli_run("word2vec", small_corpus, "-o", tmp_path / "missing-dir" / "v.txt")
    assert result.exit_code == 1 and "does not exist" in result.stderr


def test_divergence_exits_3_and_writes_nothing(small_corpus, tmp_path, seqkit_proc):
    out = tmp_path / "v.txt"
    out.write_text("keep me\n")
    proc = seqkit_proc("word2vec", small_corpus, "-o", out, "--lr", "1e30", "--min-count", "1", "--dim", "8",
                       "--epochs", "3", "-q")
    assert proc.returncode == 3, proc.stderr
    assert b"lower --lr" in proc.stderr
    assert out.read_text() == "keep me\n"


# --- meaning on real text ---------------------------------------------------------------------

@pytest.mark.slow
def test_known_neighbours_on_ptb(tmp_path, cli_run):
    """On PTB, weekdays, buy/sell, he/she and million/billion are close (each ranks <= 4 with the
    defaults; the test asks for the top 20 of 3-epoch, 50-dim vectors so it almost never flakes)."""
    ptb = require_data("ptb", "ptb.train.txt")
    out = tmp_path / "ptb.vec"
    result = cli_run("word2vec", ptb, "-o", out, "--dim", "50", "--epochs", "3", "--threads", "2", "-q")
    assert result.exit_code == 0
    from seqkit.vectors import Embeddings

    emb = Embeddings.load(str(out))
    pairs = [("monday", "tuesday"), ("buy", "sell"), ("he", "she"), ("million", "billion")]
    hits = [b in [w for w, _ in emb.nearest(a, 20)] for a, b in pairs]
    assert sum(hits) >= 3, list(zip(pairs, hits))


def test_plugin_import_is_light():
    import subprocess
    import sys

    code = "import sys, seqkit_word2vec.plugin; print('numba' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "False"


def test_cache_dir_is_used(tmp_path):
    """Kernels are cached on disk (a second run must not recompile)."""
    from seqkit_word2vec import kernels

    assert kernels.train_chunk._cache.__class__.__name__ == "FunctionCache"
    assert os.path.isdir(os.path.dirname(kernels.__file__))
    assert math.isfinite(kernels.MAX_EXP)


@pytest.mark.slow
def test_ctrl_c_stops_cleanly_without_output(tmp_path):
    """SIGINT during training: exit 130, a clear message, and no vectors file (not even a temp file)."""
    import signal
    import subprocess
    import sys
    import time

    from seqkit.options import DATA_DIR

    out = tmp_path / "v.txt"
    # a suite started as a background job inherits SIGINT ignored, and Python keeps it ignored: give the
    # child the default disposition, as an interactive shell would
    proc = subprocess.Popen([sys.executable, "-m", "seqkit", "word2vec", str(DATA_DIR / "sample.txt.xz"), "-o",
                             str(out), "--epochs", "50", "--threads", "1"], stderr=subprocess.PIPE,
                            env={**os.environ, "SEQKIT_LOAD_PLUGINS": "word2vec"},
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    time.sleep(12)  # past counting and encoding, into training
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert b"interrupted" in err and b"Traceback" not in err
    assert list(tmp_path.iterdir()) == []
