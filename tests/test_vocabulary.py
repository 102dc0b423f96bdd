"""The vocabulary: counting through `seqkit.vocabulary`, its statistics and errors, the encoded corpus
in memory and on disk, and the `word count` file format."""

from __future__ import annotations

import numpy as np
import pytest

from seqkit.errors import DataError, SeqkitError
from seqkit.vocabulary import Vocabulary, count_words, read_corpus


def corpus(tmp_path, text: str, name: str = "c.txt") -> list[str]:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return [str(path)]


def test_counts_sorted_descending_ties_in_first_seen_order(tmp_path):
    vocab, stats = count_words(corpus(tmp_path, "b a c\nc a d\nd a"), min_count=1)
    assert vocab.words == ["a", "c", "d", "b"]
    assert vocab.counts.tolist() == [3, 2, 2, 1]
    assert (stats.tokens, stats.types, stats.kept_types) == (8, 4, 4)
    assert vocab.id("c") == 1 and vocab.id("zzz") == -1 and "d" in vocab and vocab.total == 8


def test_min_count_filters_and_reports(tmp_path):
    vocab, stats = count_words(corpus(tmp_path, "a a a b b c"), min_count=2)
    assert vocab.words == ["a", "b"]
    assert "2 of 3 word types occur >= 2 times" in stats.describe(2)


def test_nothing_left_after_min_count_names_what_was_seen(tmp_path):
    with pytest.raises(SeqkitError, match=r"0 of 3 word types occur >= 5 times; lower --min-count"):
        count_words(corpus(tmp_path, "a b c a"), min_count=5)


def test_empty_corpus_is_an_error(tmp_path):
    with pytest.raises(SeqkitError, match="empty"):
        count_words(corpus(tmp_path, "\n\n"), min_count=1)


def test_max_vocab_prunes_while_counting_and_says_so(tmp_path, monkeypatch):
    import seqkit.corpus as corpus_module

    class Collect:
        def __init__(self):
            self.warnings = []

        def warn(self, message):
            self.warnings.append(message)

    # 3 frequent words, then many singletons: the singletons are pruned as the table passes 2*max_vocab.
    monkeypatch.setattr(corpus_module, "BLOCK_SIZE", 32)
    text = "x y z " * 10 + " ".join(f"rare{i}" for i in range(50))
    reporter = Collect()
    vocab, stats = count_words(corpus(tmp_path, text.replace(" ", "\n")), max_vocab=3, reporter=reporter)
    assert vocab.words == ["x", "y", "z"]
    assert stats.pruned_types > 0 and stats.pruned_tokens == stats.pruned_types
    assert stats.pruned_types + stats.truncated_types == 50
    assert reporter.warnings and "pruned" in reporter.warnings[0]
    # the type count is an upper bound once pruning has dropped types that may come back
    assert stats.describe(1).startswith(f"{3 + stats.truncated_types} of at most {stats.types} word types")


def test_max_vocab_truncation_says_how_many_occur_and_how_many_were_kept(tmp_path):
    vocab, stats = count_words(corpus(tmp_path, "a a a b b c"), max_vocab=2)
    assert vocab.words == ["a", "b"] and stats.truncated_types == 1 and stats.pruned_types == 0
    assert stats.describe(1) == ("3 of 3 word types occur >= 1 times; --max-vocab kept the 2 most frequent "
                                 "(5 of 6 tokens)")


def test_read_corpus_with_max_vocab_reads_twice_and_encodes_the_kept_words(tmp_path):
    vocab, stats, encoded = read_corpus(corpus(tmp_path, "a a a b b c\nc d\n"), max_vocab=2, in_memory=True)
    assert vocab.words == ["a", "b"] and stats.truncated_types == 2
    assert encoded.ids.tolist() == [0, 0, 0, 1, 1] and encoded.offsets.tolist() == [0, 5]


def test_encode_drops_unknown_words_and_empty_sentences(tmp_path):
    vocab = Vocabulary(["a", "b"], [5, 3])
    _, _, encoded = read_corpus(corpus(tmp_path, "a zz b\nzz\nb b"), vocabulary=vocab, in_memory=True)
    assert encoded.ids.dtype == np.int32 and encoded.offsets.dtype == np.int64
    assert encoded.ids.tolist() == [0, 1, 1, 1]
    assert encoded.offsets.tolist() == [0, 2, 4] and encoded.n_sentences == 2


def test_disk_corpus_reads_back_what_memory_holds(tmp_path):
    rng = np.random.default_rng(0)
    text = "\n".join(" ".join(f"w{i}" for i in rng.integers(0, 40, rng.integers(0, 30))) for _ in range(200))
    vocab = Vocabulary([f"w{i}" for i in range(0, 40, 2)], np.arange(20, 0, -1))  # odd words are unknown
    paths = corpus(tmp_path, text)
    _, _, in_memory = read_corpus(paths, vocabulary=vocab, in_memory=True)
    spool = tmp_path / "spool"
    spool.mkdir()
    with read_corpus(paths, vocabulary=vocab, directory=str(spool))[2] as on_disk:
        assert list(spool.iterdir()) == []  # the file has no name: nothing is left behind
        assert on_disk.offsets.tolist() == in_memory.offsets.tolist()
        assert on_disk.n_tokens == in_memory.n_tokens == in_memory.ids.size
        for first, end in [(0, in_memory.n_sentences), (3, 4), (10, 57), (5, 5)]:
            ids, offsets = on_disk.slice(first, end)
            want_ids, want_offsets = in_memory.slice(first, end)
            assert ids.dtype == np.int32 and ids.tolist() == want_ids.tolist()
            assert offsets[0] == 0 and offsets.tolist() == want_offsets.tolist()


def test_disk_corpus_write_failure_is_a_clean_error(tmp_path, monkeypatch):
    import tempfile

    closed = []

    class Full:
        def write(self, data):
            raise OSError(28, "No space left on device")

        def close(self):
            closed.append(True)

    paths = corpus(tmp_path, "a a")
    monkeypatch.setattr(tempfile, "TemporaryFile", lambda dir=None: Full())
    with pytest.raises(SeqkitError, match="No space left on device.*TMPDIR"):
        read_corpus(paths)
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
