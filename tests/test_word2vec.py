"""word2vec: kernels against a slow reference, reproducibility, meaning, options and bad input."""

from __future__ import annotations

import math
import os
import threading

import numpy as np
import pytest

from conftest import require_data, small_training_problem
from reference.word2vec import reference_chunk


def _problem(seed: int, n_ids: int, offsets: list[int], *, skip_gram=True, hs=False, negative=3, lr=0.5,
             sample=0.05, tree_counts=None):
    """A small training problem in the kernels' groups: (chunk, weights, tables, settings)."""
    from seqkit.sampling import alias_table, huffman_tree, keep_probabilities
    from seqkit_word2vec.kernels import Chunk, Settings, Tables, Weights, sigmoid_tables

    counts, ids, offsets, syn0, syn1neg = small_training_problem(seed, n_ids, offsets)
    vocab, dim = syn0.shape
    prob, alias = alias_table(counts)
    if hs:
        tree = huffman_tree(counts if tree_counts is None else tree_counts)
        codes, points, code_offsets = tree.codes, tree.points, tree.offsets
        syn1 = (np.random.default_rng(seed + 1).random((vocab - 1, dim), dtype=np.float32) * 0.2).astype(np.float32)
    else:
        codes, points, code_offsets = np.zeros(1, np.uint8), np.zeros(1, np.int32), np.zeros(vocab + 1, np.int64)
        syn1 = np.zeros((1, dim), np.float32)
    tables = Tables(keep_probabilities(counts, sample), prob, alias, codes, points, code_offsets, *sigmoid_tables())
    settings = Settings(skip_gram, hs, negative, True, 3, dim, lr, 0.01, 1000.0)
    return Chunk(ids, offsets, 100, 12345), Weights(syn0, syn1neg, syn1), tables, settings


def _copy(weights):
    return type(weights)(*(m.copy() for m in weights))


def _with_rows(weights, rows: int, fill: float = 7.0):
    """`weights` with `rows` more rows of `fill` after each matrix's own (room for replicas)."""
    return type(weights)(*(np.vstack([m, np.full((rows, m.shape[1]), fill, np.float32)]) for m in weights))


@pytest.mark.parametrize("skip_gram", [True, False])
@pytest.mark.parametrize("loss", ["ns", "hs", "ns+hs"])
def test_kernel_equals_numpy_reference(skip_gram, loss):
    from seqkit_word2vec.kernels import NO_REPLICAS, train_chunk

    chunk, start, tables, settings = _problem(7, 60, [0, 25, 26, 60], skip_gram=skip_gram, hs="hs" in loss,
                                              negative=3 if "ns" in loss else 0)
    got = _copy(start)
    got_loss, terms, raw, trained = train_chunk(chunk, got, tables, settings, NO_REPLICAS)
    want = _copy(start)
    want_loss = reference_chunk(chunk, want, tables, settings)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-6)
    assert got_loss == pytest.approx(want_loss, rel=1e-3)  # table-index rounding may differ by one slot
    assert raw == 60 and 0 < trained <= 60 and terms > 0
    assert not np.allclose(got.input, start.input)  # training moved the vectors
    if "hs" in loss:
        assert not np.allclose(got.nodes, start.nodes)


def _replica_case(skip_gram: bool):
    """A small sg-ns or cbow-ns chunk over 200 words."""
    return _problem(11, 200, [0, 90, 91, 200], skip_gram=skip_gram)


@pytest.mark.parametrize("skip_gram", [True, False])
def test_replicated_rows_train_like_the_shared_ones_on_one_thread(skip_gram):
    """With one thread, training the hot rows in a replica merged every few positions changes only rounding;
    a wrong redirection or merge would move the vectors far apart (checked against the NumPy reference)."""
    from seqkit_word2vec.kernels import NO_REPLICAS, Replicas, train_chunk

    chunk, start, tables, settings = _replica_case(skip_gram)
    vocab, hot, replica = len(start.input), 5, len(start.input) + 1
    plain = _copy(start)
    plain_loss = train_chunk(chunk, plain, tables, settings, NO_REPLICAS)[0]
    extended = _with_rows(start, hot + 1)
    replica_loss = train_chunk(chunk, extended, tables, settings, Replicas(hot, replica, 4, 0, 1))[0]
    ref = _copy(start)
    reference_chunk(chunk, ref, tables, settings)
    for got, want, first in zip(extended[:2], plain[:2], start[:2]):
        np.testing.assert_allclose(got[:vocab], want, rtol=1e-5, atol=1e-6)
        assert np.array_equal(got[replica:replica + hot], got[:hot])  # the last merge left them equal
        assert not np.allclose(got[:hot], first[:hot])  # the hot rows did train
    np.testing.assert_allclose(plain.input, ref.input, rtol=1e-5, atol=1e-6)
    assert replica_loss == pytest.approx(plain_loss, rel=1e-4)


def _hs_case(skip_gram: bool, negative: int, lr: float = 0.5):
    """`_replica_case` with hierarchical softmax (and `negative` noise words)."""
    counts = np.sort(np.random.default_rng(3).integers(1, 50, 12))[::-1]
    return _problem(11, 200, [0, 90, 91, 200], skip_gram=skip_gram, hs=True, negative=negative, lr=lr,
                    tree_counts=counts)


@pytest.mark.parametrize("skip_gram,negative", [(True, 0), (False, 0), (True, 3)])
def test_replicated_rows_and_tree_nodes_train_like_the_shared_ones_on_one_thread(skip_gram, negative):
    """With hierarchical softmax the replicas hold the hot words' syn0 rows and the tree's nodes nearest
    the root (the highest ids); with one thread they change only rounding. The path is still looked up
    by the word's own id (a replica row's id indexes past the code table), and a node replica inside the
    tree's rows is refused."""
    from seqkit_word2vec.kernels import NO_REPLICAS, Replicas, train_chunk

    # at a rate of 0.5 the merges' rounding grows through hs + ns updates to ~1e-3 in 200 words
    # (chaotically: merging every position instead of every 4 does the same); at 0.05 it stays ~1e-7
    chunk, start, tables, settings = _hs_case(skip_gram, negative, lr=0.05)
    vocab, nodes, hot = len(start.input), len(start.input) - 1, 5
    replica, node_replica = vocab + 1, nodes + 1  # one spare row before each replica, left at 7.0
    plain = _copy(start)
    plain_loss = train_chunk(chunk, plain, tables, settings, NO_REPLICAS)[0]
    extended = _with_rows(start, hot + 1)
    replica_loss = train_chunk(chunk, extended, tables, settings, Replicas(hot, replica, 4, 0, 1))[0]
    for got, want in zip(extended, plain):
        np.testing.assert_allclose(got[:len(want)], want, rtol=1e-5, atol=1e-6)
    assert replica_loss == pytest.approx(plain_loss, rel=1e-4)
    assert np.array_equal(extended.input[replica:replica + hot], extended.input[:hot])  # the last merge
    top = extended.nodes[nodes - hot:nodes]
    assert np.array_equal(extended.nodes[node_replica:node_replica + hot], top)
    assert not np.allclose(top, start.nodes[nodes - hot:])  # the top nodes did train
    if negative == 0:
        assert (extended.output[vocab:] == 7.0).all()  # no noise words: syn1neg has no replica to open
    with pytest.raises(ValueError, match="replica rows"):  # node replica at nodes - 2
        train_chunk(chunk, extended, tables, settings, Replicas(hot, nodes - 1, 4, 0, 1))


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
    from seqkit.sampling import alias_table
    from seqkit_word2vec.kernels import NO_REPLICAS, Replicas, _draw_noise

    prob, alias = alias_table(np.array([50, 30, 20, 10, 5, 5, 3, 2], np.int64))
    weights = np.zeros((64, 4), np.float32)
    hot, replica, word = 3, 40, 1
    plain, redirected = np.empty(500, np.int64), np.empty(500, np.int64)
    end_plain, state_plain = _draw_noise(word, 500, prob, alias, np.uint64(99), weights, plain, 0, NO_REPLICAS)
    end, state = _draw_noise(replica + word, 500, prob, alias, np.uint64(99), weights, redirected, 0,
                             Replicas(hot, replica, 1, 0, 1))
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
    from seqkit.sampling import alias_table
    from seqkit_word2vec.kernels import NOISE_BLOCK_BITS, Replicas, _draw_noise

    block, hot, replica = 2 ** NOISE_BLOCK_BITS, 5, 400
    vocab = hot + 5 * groups * block + 20  # 5 whole rounds, then 20 rows
    prob, alias = alias_table(np.arange(vocab, 0, -1, dtype=np.int64))
    weights = np.zeros((replica + hot, 4), np.float32)

    def draws(where):
        out = np.empty(30_000, np.int64)
        end, state = _draw_noise(-1, len(out), prob, alias, np.uint64(7), weights, out, 0, where)
        assert end == len(out)
        return out, state

    plain, plain_state = draws(Replicas(0, 0, 1, 0, 1))
    shared = [draws(Replicas(hot, replica, 1, group, groups)) for group in range(groups)]
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
    from seqkit_word2vec.kernels import Replicas, train_chunk

    chunk, weights, tables, settings = _replica_case(True)
    with pytest.raises(ValueError, match="noise shares"):
        train_chunk(chunk, weights, tables, settings, Replicas(0, 0, 1, 0, 2))  # no hot rows
    with pytest.raises(ValueError, match="noise shares"):  # no such share
        train_chunk(chunk, weights, tables, settings, Replicas(2, len(weights.input) - 2, 4, 2, 2))


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
    from seqkit_word2vec.kernels import NO_REPLICAS, Replicas, train_chunk, train_chunk_sg_batch

    skip_gram = case.startswith("sg")
    if "hs" in case:
        chunk, start, tables, settings = _hs_case(skip_gram, 3 if "ns" in case else 0)
    else:
        chunk, start, tables, settings = _replica_case(skip_gram)
    vocab, dim = start.input.shape
    replicas = NO_REPLICAS
    if "replicas" in case:
        start = _with_rows(start, 6, 0.0)
        replicas = Replicas(5, vocab + 1, 4, 0, 1)
    plain = _copy(start)
    wide = type(start)(*(_padded(m) for m in start))
    if case.endswith("batch"):
        train_chunk_sg_batch(chunk, plain, tables, settings)
        train_chunk_sg_batch(chunk, wide, tables, settings)
    else:
        train_chunk(chunk, plain, tables, settings, replicas)
        train_chunk(chunk, wide, tables, settings, replicas)
    for got, want in zip(wide, plain):
        assert np.array_equal(got[:, :dim], want)
        assert (got[:, dim:] == PAD).all()
    assert not np.array_equal(plain.input, start.input)  # training did happen
    if "hs" in case:
        assert not np.array_equal(plain.nodes, start.nodes)


def test_kernels_refuse_a_dim_wider_than_the_rows():
    from seqkit_word2vec.kernels import NO_REPLICAS, Replicas, train_chunk, train_chunk_sg_batch

    chunk, weights, tables, settings = _replica_case(True)
    wider = settings._replace(dim=settings.dim + 1)
    with pytest.raises(ValueError, match="wider than a weight row"):
        train_chunk(chunk, weights, tables, wider, NO_REPLICAS)
    with pytest.raises(ValueError, match="wider than a weight row"):
        train_chunk_sg_batch(chunk, weights, tables, wider)
    with pytest.raises(ValueError, match="run past"):
        train_chunk(chunk, weights, tables, settings, Replicas(2, len(weights.input) - 1, 4, 0, 1))


@pytest.mark.parametrize("options,constants,replicated", [
    ({}, {}, True), ({"skip_gram": False}, {}, True), ({"hs": True}, {}, True),
    ({"hs": True, "negative": 0}, {}, True), ({"batch_negatives": True}, {}, False), ({"threads": 1}, {}, False),
    ({}, {"REPLICA_ROWS": 0}, False), ({}, {"NOISE_SHARES": False}, True)])
def test_training_with_replicas_returns_only_the_vocabulary(tmp_path, options, constants, replicated, monkeypatch):
    """Threads get replicas only where they apply, each thread its own, in rows padded to whole cache lines
    (so no line holds rows of two threads); the vectors returned never include their rows or the padding."""
    from seqkit.encoded import EncodedCorpus
    from seqkit.progress import Reporter
    from seqkit.vocabulary import Vocabulary
    from seqkit_word2vec import kernels
    from seqkit_word2vec import train as training

    for name, value in constants.items():
        monkeypatch.setattr(training, name, value)
    shapes, calls, syn1_rows = [], [], []
    real_weights, real_chunks, real_kernel = training.initial_weights, training.make_chunks, kernels.train_chunk
    monkeypatch.setattr(training, "initial_weights",
                        lambda n, config, extra_rows=0: shapes.append(extra_rows) or real_weights(n, config, extra_rows))
    monkeypatch.setattr(training, "make_chunks",
                        lambda offsets, stretches: real_chunks(offsets, stretches, chunk_words=24))

    def recording_kernel(chunk, weights, tables, settings, replicas):
        syn0 = weights.input
        assert syn0.ctypes.data % 64 == 0 and syn0.strides[0] == 64 and settings.dim == 12  # 12 floats in 16
        calls.append((threading.get_ident(), replicas))
        syn1_rows.append(len(weights.nodes))  # the tree's rows and its replicas' (hs)
        return real_kernel(chunk, weights, tables, settings, replicas)

    monkeypatch.setattr(kernels, "train_chunk", recording_kernel)
    sentences = [[0, 3, 1, 2, 0, 4], [0, 5, 1, 2, 0, 6]] * 50  # the cat sat on the mat / the dog sat on the log
    vocab = Vocabulary(["the", "sat", "on", "cat", "mat", "dog", "log"], [200, 100, 100, 50, 50, 50, 50])
    corpus = EncodedCorpus(np.array(sum(sentences, []), np.int32), np.arange(0, 601, 6, dtype=np.int64))
    config = training.Config(**{"epochs": 1, "threads": 2, "dim": 12, **options})
    vectors, _ = training.train(vocab, corpus, config, Reporter(True))
    assert vectors.shape == (len(vocab), 12) and np.isfinite(vectors).all()
    assert (shapes[0] > 0) == replicated
    shared_noise = not replicated or constants.get("NOISE_SHARES") is False or options.get("negative") == 0
    assert all(replicas.groups == (1 if shared_noise else 3) for _, replicas in calls)  # one share more than threads
    if not shared_noise:
        used = {replicas.group for _, replicas in calls}
        # how many chunks each share serves depends on how the OS schedules the two threads, so only what holds
        # under any schedule is asserted here (a share given back has served words, so the next chunk takes
        # another); the exact balance is the NoiseShares tests'
        assert used <= {0, 1, 2} and len(used) >= 2
    if replicated:
        replica_of = {thread: replicas.replica for thread, replicas in calls}
        assert all(replica_of[thread] == replicas.replica for thread, replicas in calls)  # one per thread
        starts = sorted(replica_of.values())
        hot = calls[0][1].hot
        assert hot == min(training.REPLICA_ROWS, len(vocab)) and calls[0][1].sync_every == training.SYNC_POSITIONS
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


@pytest.mark.parametrize("power", [0.75, 0.5])
def test_negative_draws_follow_unigram_power(power):
    """The kernel's noise words come from counts**power. Words 2-5 never occur, so every change to their
    output rows is a noise update; at a tiny rate each update moves a row by the same amount, so a row's
    total change counts its draws, whose ratios must follow the counts' ratios to the power (uniform noise
    would give 0, the plain unigram 1)."""
    from seqkit.sampling import alias_table
    from seqkit_word2vec.kernels import NO_REPLICAS, Chunk, Settings, Tables, Weights, sigmoid_tables, train_chunk

    counts = np.array([1000, 300, 100, 30, 10, 3], dtype=np.int64)
    ids = np.zeros(20000, dtype=np.int32)  # words 0 and 1 only: rows 2-5 are touched as noise alone
    ids[1::2] = 1
    offsets = np.array([0, ids.size], dtype=np.int64)
    tables = Tables(np.ones(6, np.float32), *alias_table(counts, power), np.zeros(1, np.uint8), np.zeros(1, np.int32),
                    np.zeros(7, np.int64), *sigmoid_tables())
    settings = Settings(True, False, 5, True, 1, 4, 1e-6, 1e-6, 1e9)
    moved = np.zeros(6)
    for seed in range(3):
        weights = Weights(np.full((6, 4), 0.01, np.float32), np.zeros((6, 4), np.float32), np.zeros((1, 4), np.float32))
        train_chunk(Chunk(ids, offsets, 0, seed), weights, tables, settings, NO_REPLICAS)
        moved += np.abs(weights.output).sum(axis=1)
    exponents = np.log(moved[3:] / moved[2]) / np.log(counts[3:] / counts[2])
    assert np.allclose(exponents, power, atol=0.04), exponents


def test_huffman_paths_used_by_hs_are_valid():
    from seqkit.sampling import huffman_tree

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


@pytest.mark.parametrize("threads", [2, 3, 7])
def test_chunks_come_from_distant_stretches_in_turn(threads):
    from seqkit_word2vec.train import make_chunks

    offsets = np.arange(0, 1001, 10, dtype=np.int64)  # 100 sentences of 10 words: runs of 3 sentences
    sequential = make_chunks(offsets, 1, chunk_words=30)
    chunks = make_chunks(offsets, threads, chunk_words=30)
    assert sorted(chunks, key=lambda c: c[0]) != chunks
    assert sorted((first, end) for first, end, _ in chunks) == [(first, end) for first, end, _ in sequential]
    position = {(first, end): i for i, (first, end, _) in enumerate(sequential)}
    stride = -(-len(sequential) // threads)
    firsts = [k * stride for k in range(threads) if k * stride < len(sequential)]
    assert [position[c[:2]] for c in chunks[:threads]] == firsts  # one chunk from the start of every stretch
    words = [int(offsets[end] - offsets[first]) for first, end, _ in chunks]
    assert [before for _, _, before in chunks] == list(np.cumsum([0] + words[:-1]))  # the schedule follows the order


def test_negative_sampling_threads_read_distant_stretches_and_hs_keeps_corpus_order():
    from seqkit_word2vec.train import Config, chunk_stretches

    assert chunk_stretches(Config(threads=2, negative=5, hs=False)) == 2
    assert chunk_stretches(Config(threads=2, negative=0, hs=True)) == 1
    assert chunk_stretches(Config(threads=1, negative=5, hs=False)) == 1


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
    from seqkit.vocabulary import read_corpus
    from seqkit_word2vec import train as training

    path = tmp_path / "corpus.txt"
    path.write_text("the cat sat on the mat\nthe dog sat on the log\na bird flew over the dog\n" * 40)
    vocab, _, corpus = read_corpus([str(path)], min_count=1, directory=str(tmp_path))
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
    from seqkit.encoded import DiskCorpus, EncodedCorpus
    from seqkit.progress import Reporter
    from seqkit.vocabulary import read_corpus
    from seqkit_word2vec.train import Config, train

    rng = np.random.default_rng(5)
    path = tmp_path / "corpus.txt"
    path.write_text("".join(" ".join(f"w{int(i)}" for i in rng.zipf(1.3, rng.integers(1, 400)) % 300) + "\n"
                            for _ in range(120)))
    vocab, _, in_memory = read_corpus([str(path)], min_count=2, in_memory=True)
    config = Config(epochs=2, threads=1, seed=4, dim=16, batch_negatives=batch_negatives)
    assert isinstance(in_memory, EncodedCorpus)
    from_memory, _ = train(vocab, in_memory, config, Reporter(True))
    with read_corpus([str(path)], min_count=2, directory=str(tmp_path))[2] as corpus:
        assert isinstance(corpus, DiskCorpus)
        from_disk, _ = train(vocab, corpus, config, Reporter(True))
    assert from_memory.tobytes() == from_disk.tobytes()
    assert np.abs(from_memory).sum() > 0


@pytest.mark.parametrize("options", [{}, {"skip_gram": False, "hs": True, "negative": 0},
                                     {"hs": True}, {"batch_negatives": True}])
def test_load_kernels_loads_what_the_real_run_calls(tmp_path, options):
    """The warm-up must leave nothing to compile: a new specialisation would bring LLVM's pages back."""
    from seqkit._reader_kernels import encode_block, rehash
    from seqkit._vector_text_writer import format_rows
    from seqkit.progress import Reporter
    from seqkit.vectors import Embeddings
    from seqkit.vocabulary import read_corpus
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
    vocab, _, corpus = read_corpus([str(path)], min_count=1, directory=str(tmp_path))
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


MODES = {"sg-ns": [], "sg-hs": ["--loss", "hs"], "sg-ns+hs": ["--loss", "ns+hs"], "cbow-ns": ["--model", "cbow"],
         "cbow-hs": ["--model", "cbow", "--loss", "hs"], "cbow-ns-sum": ["--model", "cbow", "--cbow-sum"],
         "sg-ns-batch": ["--batch-negatives"]}


@pytest.fixture(scope="module")
def trained_modes(tmp_path_factory):
    """Every mode trained on two planted topics (sentences use words of one topic only): mode -> (vectors,
    final loss)."""
    from click.testing import CliRunner
    from seqkit.cli import cli
    from seqkit.vectors import Embeddings

    tmp = tmp_path_factory.mktemp("modes")
    rng = np.random.default_rng(1)
    corpus = tmp / "topics.txt"
    corpus.write_text("".join(" ".join(f"{topic}{i}" for i in rng.integers(0, 10, 12)) + "\n"
                              for topic in rng.choice(["a", "b"], 300)))
    results = {}
    for mode, extra in MODES.items():
        out = tmp / f"{mode}.bin"
        result = CliRunner().invoke(cli, ["word2vec", str(corpus), "-o", str(out), "--dim", "16", "--min-count", "1",
                                          "--sample", "0", "--epochs", "3", "--threads", "1", "--seed", "2",
                                          "--binary", *extra], catch_exceptions=False)
        assert result.exit_code == 0, result.output
        loss = float(result.stderr.rsplit("final loss ", 1)[1].split()[0])
        results[mode] = (Embeddings.load(str(out)), loss)
    return results


@pytest.mark.parametrize("mode", list(MODES))
def test_every_mode_runs(trained_modes, mode):
    """Each mode learns: its loss per output unit falls well below ln 2 (the loss of the untrained model,
    whose output weights are zero), and every word's nearest neighbour is from its own planted topic."""
    emb, loss = trained_modes[mode]
    assert emb.matrix.shape == (20, 16) and np.isfinite(emb.matrix).all()
    assert loss < 0.9 * math.log(2), loss
    same_topic = [emb.nearest(word, 1)[0][0][0] == word[0] for word in emb.words]
    assert all(same_topic), [w for w, ok in zip(emb.words, same_topic) if not ok]


def test_modes_train_differently(trained_modes):
    """Same corpus, seed and thread: each mode's vectors differ from every other mode's."""
    matrices = {mode: emb.matrix for mode, (emb, _) in trained_modes.items()}
    for first in matrices:
        for second in matrices:
            if first < second:
                assert not np.allclose(matrices[first], matrices[second]), (first, second)


@pytest.mark.parametrize("model, subwords, default_exponent, other",
                         [("sg", [], "0.75", "0.5"), ("cbow", [], "0.5", "0.75"),
                          ("sg", ["--minn", "3", "--maxn", "4", "--buckets", "5000"], "0.5", "0.75"),
                          ("cbow", ["--minn", "3", "--maxn", "4", "--buckets", "5000"], "0.5", "0.75")])
def test_ns_exponent_reaches_the_noise_distribution(small_corpus, tmp_path, cli_run, model, subwords,
                                                    default_exponent, other):
    """Same seed, one thread: only the noise distribution differs, so the vectors must differ; the
    default is word2vec's counts^0.75 for plain sg and fastText's counts^0.5 for cbow and for
    anything with character n-grams."""
    from seqkit.vectors import Embeddings

    def train(name, *extra):
        out = tmp_path / f"{name}.txt"
        result = cli_run("word2vec", small_corpus, "-o", out, "--model", model, "--dim", "8", "--min-count", "1",
                         "--epochs", "1", "--threads", "1", "--seed", "3", "-q", *subwords, *extra)
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
    """One word: negative sampling still trains it against its output row (every noise draw is the word
    itself, so skipped); hierarchical softmax has a tree without inner nodes, so the vector stays as
    initialised."""
    from seqkit.vectors import Embeddings
    from seqkit_word2vec.train import Config, initial_weights

    corpus = tmp_path / "c.txt"
    corpus.write_text("solo " * 50 + "\n")
    start = initial_weights(1, Config(dim=4, seed=3))[0][:, :4]
    for loss in ("ns", "hs"):
        out = tmp_path / f"v-{loss}.bin"
        result = cli_run("word2vec", corpus, "-o", out, "--dim", "4", "--loss", loss, "--sample", "0",
                         "--threads", "1", "--seed", "3", "--binary")
        assert result.exit_code == 0, result.stderr
        emb = Embeddings.load(str(out))
        assert emb.words == ["solo"] and emb.matrix.shape == (1, 4) and np.isfinite(emb.matrix).all()
        final_loss = float(result.stderr.rsplit("final loss ", 1)[1].split()[0])
        if loss == "ns":
            assert not np.allclose(emb.matrix, start) and 0 < final_loss < math.log(2)
        else:
            assert np.array_equal(emb.matrix, start) and final_loss == 0


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


CACHE_PROBE = """
import numpy as np
from seqkit_word2vec.kernels import NO_REPLICAS, Chunk, Settings, Tables, Weights, sigmoid_tables, train_chunk
tables = Tables(np.ones(2, np.float32), np.ones(2, np.float32), np.arange(2, dtype=np.int32), np.zeros(1, np.uint8),
                np.zeros(1, np.int32), np.zeros(3, np.int64), *sigmoid_tables())
weights = Weights(*(np.full((2, 4), 0.1, np.float32) for _ in range(3)))
train_chunk(Chunk(np.array([0, 1, 0], np.int32), np.array([0, 3]), 0, 1), weights, tables,
            Settings(True, False, 1, True, 1, 4, 0.1, 0.1, 3.0), NO_REPLICAS)
stats = train_chunk.stats
print(sum(stats.cache_hits.values()), sum(stats.cache_misses.values()))
"""


def test_cache_dir_is_used(tmp_path):
    """Kernels are cached on disk: the first process compiles and writes the cache, a second one loads
    the kernel from it without compiling."""
    import subprocess
    import sys

    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path)}

    def run():
        out = subprocess.run([sys.executable, "-c", CACHE_PROBE], capture_output=True, text=True, env=env,
                             timeout=300)
        assert out.returncode == 0, out.stderr
        return [int(n) for n in out.stdout.split()]

    assert run() == [0, 1]  # compiled: nothing in the cache yet
    written = [p.name for p in tmp_path.rglob("*") if p.is_file()]
    assert any(name.startswith("kernels.train_chunk") and name.endswith(".nbi") for name in written), written
    assert any(name.startswith("kernels.train_chunk") and name.endswith(".nbc") for name in written), written
    assert run() == [1, 0]  # loaded from the cache, not compiled


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
