"""Vocabulary counting, pruning, file format, Huffman tree, alias sampler and subsampling."""

from __future__ import annotations

import heapq
import math

import numpy as np
import pytest

from seqkit.errors import DataError, SeqkitError
from seqkit.vocab import Vocabulary, alias_table, huffman_tree, keep_probabilities


def toks(text: str) -> list[list[bytes]]:
    return [line.encode().split() for line in text.splitlines()]


def test_counts_sorted_descending_ties_in_first_seen_order():
    vocab, stats = Vocabulary.build(toks("b a c\nc a d\nd a"), min_count=1)
    assert vocab.words == ["a", "c", "d", "b"]
    assert vocab.counts.tolist() == [3, 2, 2, 1]
    assert (stats.tokens, stats.types, stats.kept_types) == (8, 4, 4)
    assert vocab.id("c") == 1 and vocab.id("zzz") == -1 and "d" in vocab and vocab.total == 8


def test_min_count_filters_and_reports():
    vocab, stats = Vocabulary.build(toks("a a a b b c"), min_count=2)
    assert vocab.words == ["a", "b"]
    assert "2 of 3 word types occur >= 2 times" in stats.describe(2)


def test_nothing_left_after_min_count_names_what_was_seen():
    with pytest.raises(SeqkitError, match=r"0 of 3 word types occur >= 5 times; lower --min-count"):
        Vocabulary.build(toks("a b c a"), min_count=5)


def test_empty_corpus_is_an_error():
    with pytest.raises(SeqkitError, match="empty"):
        Vocabulary.build([], min_count=1)


def test_max_vocab_prunes_while_counting_and_says_so():
    class Collect:
        def __init__(self):
            self.warnings = []

        def warn(self, message):
            self.warnings.append(message)

    # 3 frequent words, then many singletons: the singletons are pruned as the table passes 2*max_vocab.
    text = "x y z " * 10 + " ".join(f"rare{i}" for i in range(50))
    reporter = Collect()
    vocab, stats = Vocabulary.build(toks(text.replace(" ", "\n")), min_count=1, max_vocab=3, reporter=reporter)
    assert vocab.words == ["x", "y", "z"]
    assert stats.pruned_types > 0 and stats.pruned_tokens == stats.pruned_types
    assert stats.pruned_types + stats.truncated_types == 50
    assert reporter.warnings and "pruned" in reporter.warnings[0]
    # the type count is an upper bound once pruning has dropped types that may come back
    assert stats.describe(1).startswith(f"{3 + stats.truncated_types} of at most {stats.types} word types")
    assert f"dropped {stats.pruned_types} rare entries" in stats.describe(1)


def test_max_vocab_truncation_says_how_many_occur_and_how_many_were_kept():
    vocab, stats = Vocabulary.build(toks("a a a b b c"), min_count=1, max_vocab=2)
    assert vocab.words == ["a", "b"] and stats.pruned_types == 0
    assert stats.describe(1) == ("3 of 3 word types occur >= 1 times; --max-vocab kept the 2 most frequent "
                                 "(5 of 6 tokens)")


def test_encode_drops_unknown_words_and_empty_sentences():
    vocab = Vocabulary(["a", "b"], [5, 3])
    encoded = vocab.encode(toks("a zz b\nzz\nb b"))
    assert encoded.ids.dtype == np.int32 and encoded.offsets.dtype == np.int64
    assert encoded.ids.tolist() == [0, 1, 1, 1]
    assert encoded.offsets.tolist() == [0, 2, 4] and encoded.n_sentences == 2


def test_disk_corpus_reads_back_what_memory_holds(tmp_path):
    rng = np.random.default_rng(0)
    text = "\n".join(" ".join(f"w{i}" for i in rng.integers(0, 40, rng.integers(0, 30))) for _ in range(200))
    vocab = Vocabulary([f"w{i}" for i in range(0, 40, 2)], np.arange(20, 0, -1))  # odd words are unknown
    in_memory = vocab.encode(toks(text))
    with vocab.encode_to_disk(toks(text), directory=str(tmp_path)) as on_disk:
        assert list(tmp_path.iterdir()) == []  # the file has no name: nothing is left behind
        assert on_disk.offsets.tolist() == in_memory.offsets.tolist()
        assert on_disk.n_tokens == in_memory.n_tokens == in_memory.ids.size
        for first, end in [(0, in_memory.n_sentences), (3, 4), (10, 57), (5, 5)]:
            ids, offsets = on_disk.slice(first, end)
            want_ids, want_offsets = in_memory.slice(first, end)
            assert ids.dtype == np.int32 and ids.tolist() == want_ids.tolist()
            assert offsets[0] == 0 and offsets.tolist() == want_offsets.tolist()


def test_disk_corpus_write_failure_is_a_clean_error(monkeypatch):
    import tempfile

    class Full:
        def write(self, data):
            raise OSError(28, "No space left on device")

        def close(self):
            self.closed = True

    monkeypatch.setattr(tempfile, "TemporaryFile", lambda dir=None: Full())
    with pytest.raises(SeqkitError, match="No space left on device.*TMPDIR"):
        Vocabulary(["a"], [3]).encode_to_disk(toks("a a"))


@pytest.mark.parametrize("block_tokens", [1, 7, 1 << 22])
@pytest.mark.parametrize("min_count", [1, 3, 9])
def test_one_pass_build_encoded_equals_build_then_encode(tmp_path, monkeypatch, block_tokens, min_count):
    import seqkit.vocab as vocab_module

    # zipf-like words, many of equal count (tie order matters), blank lines, lines emptied by min-count
    rng = np.random.default_rng(min_count)
    lines = [" ".join(f"w{int(i)}" for i in rng.zipf(1.6, rng.integers(0, 25)) if i < 200)
             for _ in range(300)]
    text = "\n".join(lines + ["", "rare1 rare2", "w1"])
    monkeypatch.setattr(vocab_module._id_blocks, "__defaults__", (block_tokens,))
    want, want_stats = Vocabulary.build(toks(text), min_count=min_count)
    vocab, stats, corpus = Vocabulary.build_encoded(toks(text), min_count=min_count, directory=str(tmp_path))
    with corpus, want.encode_to_disk(toks(text), directory=str(tmp_path)) as expected:
        assert list(tmp_path.iterdir()) == []  # both id files are nameless
        assert vocab.words == want.words and vocab.counts.tolist() == want.counts.tolist()
        assert stats == want_stats
        assert corpus.offsets.tolist() == expected.offsets.tolist()
        everything = corpus.slice(0, corpus.n_sentences)[0]
        assert everything.tolist() == expected.slice(0, expected.n_sentences)[0].tolist()


def test_one_pass_errors_match_build():
    with pytest.raises(SeqkitError, match="empty"):
        Vocabulary.build_encoded([[], []], min_count=1)
    with pytest.raises(SeqkitError, match=r"0 of 3 word types occur >= 5 times; lower --min-count"):
        Vocabulary.build_encoded(toks("a b c a"), min_count=5)


def test_one_pass_write_failure_is_a_clean_error(monkeypatch):
    import tempfile

    closed = []

    class Full:
        def write(self, data):
            raise OSError(28, "No space left on device")

        def close(self):
            closed.append(True)

    monkeypatch.setattr(tempfile, "TemporaryFile", lambda dir=None: Full())
    with pytest.raises(SeqkitError, match="No space left on device.*TMPDIR"):
        Vocabulary.build_encoded(toks("a a"), min_count=1)
    assert closed == [True]


def test_save_load_round_trip_with_unusual_words(tmp_path):
    words = ["the", "naïve", "a\u00a0b", "日本", "x\u3000y", "</s>"]
    vocab = Vocabulary(words, [60, 50, 40, 30, 20, 10])
    path = tmp_path / "vocab.txt"
    vocab.save(str(path))
    assert path.read_text(encoding="utf-8").splitlines()[0] == "the 60"
    again = Vocabulary.load(str(path))
    assert again.words == words and again.counts.tolist() == [60, 50, 40, 30, 20, 10]


def test_load_reads_word2vec_c_vocab_and_sorts(tmp_path):
    path = tmp_path / "vocab.txt"
    path.write_bytes(b"</s> 5\r\nb 7\na 9\n\n")
    vocab = Vocabulary.load(str(path))
    assert vocab.words == ["a", "b", "</s>"]


@pytest.mark.parametrize("content,line", [(b"a 1\nb\n", 2), (b"a 1\nb x\n", 2), (b"a 2\na 1\n", 2),
                                          (b"ok 3\n\xff 2\n", 2)])
def test_load_rejects_malformed_lines_naming_them(tmp_path, content, line):
    path = tmp_path / "vocab.txt"
    path.write_bytes(content)
    with pytest.raises(DataError) as info:
        Vocabulary.load(str(path))
    assert f"vocab.txt:{line}:" in info.value.format_message()


def test_load_empty_file(tmp_path):
    path = tmp_path / "vocab.txt"
    path.write_bytes(b"")
    with pytest.raises(DataError, match="empty"):
        Vocabulary.load(str(path))


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
