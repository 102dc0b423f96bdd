"""Huffman tree, alias sampler and subsampling (`seqkit.sampling`)."""

from __future__ import annotations

import heapq
import math

import numpy as np
import pytest

from seqkit.sampling import alias_table, huffman_tree, keep_probabilities


# --- Huffman tree -------------------------------------------------------------------------------

def heapq_tree(counts):
    """Reference: a heap of (count, id) nodes, merged ids numbered V, V+1, ... in creation order; the first
    popped takes bit 0. Returns each word's (codes, points) from the root, points as merged id - V."""
    n = len(counts)
    heap = [(c, i) for i, c in enumerate(counts)]
    heapq.heapify(heap)
    children = {}
    for new_id in range(n, 2 * n - 1):
        (c1, a), (c2, b) = heapq.heappop(heap), heapq.heappop(heap)
        children[new_id] = (a, b)
        heapq.heappush(heap, (c1 + c2, new_id))
    paths = {}
    stack = [(2 * n - 2, [], [])]
    while stack:
        node, codes, points = stack.pop()
        if node < n:
            paths[node] = (codes, points)
            continue
        for bit, child in enumerate(children[node]):
            stack.append((child, codes + [bit], points + [node - n]))
    return [paths[w] for w in range(n)]


@pytest.mark.parametrize("seed", range(5))
def test_huffman_matches_heapq_cost_kraft_and_prefix_free(seed):
    rng = np.random.default_rng(seed)
    counts = np.sort(rng.zipf(1.3, size=300).astype(np.int64))[::-1]
    tree = huffman_tree(counts)
    lengths = np.diff(tree.offsets)
    ref = [len(codes) for codes, _ in heapq_tree(counts.tolist())]
    # Huffman codes are not unique, but every optimal code has the same weighted length.
    assert int((lengths * counts).sum()) == int((np.array(ref) * counts).sum())
    assert math.isclose(sum(2.0 ** -l for l in lengths.tolist()), 1.0)
    codes = {bytes(tree.codes[tree.offsets[w]:tree.offsets[w + 1]]) for w in range(len(counts))}
    assert len(codes) == len(counts)
    as_str = sorted("".join(map(str, c)) for c in codes)
    assert not any(b.startswith(a) for a, b in zip(as_str, as_str[1:]))


@pytest.mark.parametrize("seed", range(4))
def test_huffman_equals_a_heap_of_count_and_id_with_many_ties(seed):
    """The exact tree, not only an optimal one: the tie rule changes quality (see huffman_tree)."""
    rng = np.random.default_rng(seed)
    counts = np.sort(np.minimum(rng.zipf(1.5, size=400), 50))[::-1]  # hundreds of equal counts
    rng.shuffle(counts[:40])  # and some unsorted ones
    tree = huffman_tree(counts)
    for w, (codes, points) in enumerate(heapq_tree(counts.tolist())):
        span = slice(tree.offsets[w], tree.offsets[w + 1])
        assert tree.codes[span].tolist() == codes, w
        assert tree.points[span].tolist() == points, w


def test_huffman_points_walk_a_consistent_tree():
    counts = np.array([50, 30, 10, 5, 3, 2])
    tree = huffman_tree(counts)
    n = len(counts)
    child = {}
    for w in range(n):
        code = tree.codes[tree.offsets[w]:tree.offsets[w + 1]]
        point = tree.points[tree.offsets[w]:tree.offsets[w + 1]]
        assert point[0] == n - 2  # root first, as word2vec.c
        assert ((0 <= point) & (point < n - 1)).all()
        for depth, (node, bit) in enumerate(zip(point, code)):
            nxt = point[depth + 1] if depth + 1 < len(point) else ("leaf", w)
            assert child.setdefault((int(node), int(bit)), nxt) == nxt  # same edge, same child
    assert np.diff(tree.offsets)[0] <= np.diff(tree.offsets)[-1]  # frequent words get short codes


def test_huffman_unsorted_counts_and_single_word():
    tree = huffman_tree([1, 100, 10])
    assert np.diff(tree.offsets).tolist()[1] == 1
    single = huffman_tree([7])
    assert single.offsets.tolist() == [0, 0]


# --- negative sampling and subsampling ---------------------------------------------------------

def test_alias_table_reproduces_unigram_power_exactly():
    counts = np.array([100, 40, 7, 1, 1, 300])
    prob, alias = alias_table(counts, 0.75)
    assert prob.dtype == np.float32 and alias.dtype == np.int32
    n = len(counts)
    mass = np.zeros(n)
    for i in range(n):  # draw i uniformly (1/n), keep with prob[i], else alias[i]
        mass[i] += prob[i] / n
        mass[alias[i]] += (1 - prob[i]) / n
    expected = counts ** 0.75 / (counts ** 0.75).sum()
    np.testing.assert_allclose(mass, expected, rtol=1e-6)


def test_alias_table_sampling_frequencies():
    counts = np.array([1000, 100, 10, 1])
    prob, alias = alias_table(counts)
    rng = np.random.default_rng(0)
    i = rng.integers(0, 4, 200_000)
    draws = np.where(rng.random(200_000) < prob[i], i, alias[i])
    freq = np.bincount(draws, minlength=4) / 200_000
    np.testing.assert_allclose(freq, counts ** 0.75 / (counts ** 0.75).sum(), atol=0.005)


def test_keep_probabilities_follow_word2vec_c():
    counts = np.array([1_000_000, 10_000, 100, 1])
    total = counts.sum()
    sample = 1e-3
    keep = keep_probabilities(counts, sample)
    for c, k in zip(counts, keep):
        ran = (math.sqrt(c / (sample * total)) + 1) * (sample * total) / c  # word2vec.c line for line
        assert k == pytest.approx(min(ran, 1.0), rel=1e-6)
    assert keep[0] < 0.1 and keep[-1] == 1.0
    assert (keep_probabilities(counts, 0) == 1).all()
