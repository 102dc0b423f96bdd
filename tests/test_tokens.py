"""The compiled one-pass reader (`seqkit.tokens`, `Vocabulary.read_encoded`) against the Python reader.

`iter_sentences` + `Vocabulary.build_encoded` is the slow reference: every case must give the same
vocabulary (words, counts, tie order), the same encoded ids and sentence offsets, the same build and
corpus statistics, and the same errors.
"""

from __future__ import annotations

import bz2
import gzip

import numpy as np
import pytest

import seqkit.corpus as corpus_module
import seqkit.tokens as tokens_module
from seqkit.corpus import CorpusStats, iter_sentences
from seqkit.errors import DataError, SeqkitError
from seqkit.tokens import TokenTable, id_blocks
from seqkit.vocab import Vocabulary


def both_ways(paths, tmp_path, *, min_count=1, max_sentence_len=10000, errors="strict"):
    """(reference, fast) as ((vocab, build stats, ids, offsets), corpus stats) each."""
    results = []
    for fast in (False, True):
        stats = CorpusStats()
        if fast:
            vocab, build, encoded = Vocabulary.read_encoded(
                [str(p) for p in paths], min_count=min_count, errors=errors,
                max_sentence_len=max_sentence_len, stats=stats, directory=str(tmp_path))
        else:
            sentences = iter_sentences([str(p) for p in paths], errors=errors, max_sentence_len=max_sentence_len,
                                       stats=stats)
            vocab, build, encoded = Vocabulary.build_encoded(sentences, min_count=min_count, directory=str(tmp_path))
        with encoded:
            ids, offsets = encoded.slice(0, encoded.n_sentences)
        results.append(((vocab.words, vocab.counts.tolist(), build, ids.tolist(), offsets.tolist()), stats))
    return results


def assert_same(paths, tmp_path, **options):
    (want, want_stats), (got, got_stats) = both_ways(paths, tmp_path, **options)
    assert got[0] == want[0]  # words in the same order
    assert got[1:] == want[1:]
    assert got_stats == want_stats
    return got, got_stats


def write(tmp_path, name, data: bytes):
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_lines_whitespace_and_empty_lines(tmp_path):
    # every byte bytes.split() splits on; non-ASCII spaces (NBSP, ideographic) are part of words
    text = "a b\tc\x0bd\x0ce\rf\n\n  \n\t\nb a\u00a0b x\u3000y a\r\nc  a\n".encode()
    got, stats = assert_same([write(tmp_path, "c.txt", text)], tmp_path)
    assert got[0][:3] == ["a", "b", "c"] and stats.lines == 6 and stats.tokens == 12


def test_bom_final_line_without_newline_and_several_files(tmp_path):
    first = write(tmp_path, "1.txt", b"\xef\xbb\xbfthe cat\nsat")
    second = write(tmp_path, "2.txt", b"sat on\n\nthe mat")  # "sat" of file 1 is not glued to file 2's line
    got, stats = assert_same([first, second], tmp_path)
    assert stats.files == 2 and stats.lines == 5 and len(got[4]) == 5


@pytest.mark.parametrize("max_len", [1, 2, 3, 5, 10])
def test_long_lines_cut_exactly_as_the_python_reader(tmp_path, max_len):
    # lines of exactly max_len and 2 * max_len tokens are not cut into an empty piece
    lines = [" ".join(f"w{i % 7}" for i in range(n)) for n in (0, 1, max_len, max_len + 1, 2 * max_len, 23)]
    got, stats = assert_same([write(tmp_path, "c.txt", "\n".join(lines).encode())], tmp_path, max_sentence_len=max_len)
    assert stats.split_lines == sum(n > max_len for n in (0, 1, max_len, max_len + 1, 2 * max_len, 23))


@pytest.mark.parametrize("block_size", [3, 16, 64, 1 << 20])
def test_blocks_cut_inside_long_lines_and_multibyte_characters(tmp_path, monkeypatch, block_size):
    monkeypatch.setattr(corpus_module, "BLOCK_SIZE", block_size)
    words = [f"tök{i % 301}" for i in range(5000)]
    text = ("ééé ñandú 日本語 x\nβ γ\n" + " ".join(words) + "\n" + "\t".join(words[:50])).encode()
    got, stats = assert_same([write(tmp_path, "c.txt", text)], tmp_path, max_sentence_len=97)
    assert stats.tokens == 4 + 2 + 5000 + 50 and stats.split_lines == 1


def test_tables_growing_many_times_keep_every_word(tmp_path, monkeypatch):
    # tiny initial tables: the arena, type arrays and slots grow and rehash again and again mid-chunk
    monkeypatch.setattr(tokens_module, "INITIAL_TYPES", 2)
    monkeypatch.setattr(tokens_module, "INITIAL_ARENA", 1)
    rng = np.random.default_rng(5)
    lines = [" ".join(f"w{int(i)}" * int(rng.integers(1, 4)) for i in rng.zipf(1.3, rng.integers(0, 30)))
             for _ in range(400)]
    got, _ = assert_same([write(tmp_path, "c.txt", "\n".join(lines).encode())], tmp_path, min_count=2)
    assert len(got[0]) > 50


@pytest.mark.parametrize("seed", range(6))
def test_random_texts_equal_the_reference(tmp_path, monkeypatch, seed):
    """Random bytes from a small alphabet of letters and every kind of whitespace, odd block sizes."""
    rng = np.random.default_rng(seed)
    monkeypatch.setattr(corpus_module, "BLOCK_SIZE", int(rng.integers(2, 200)))
    alphabet = np.frombuffer(b"abcab \t\n\n\r\x0b\x0c  ", dtype=np.uint8)
    text = alphabet[rng.integers(0, len(alphabet), int(rng.integers(0, 3000)))].tobytes()
    if not text.split():
        text += b" a"
    assert_same([write(tmp_path, "c.txt", text)], tmp_path, max_sentence_len=int(rng.integers(1, 9)),
                min_count=int(rng.integers(1, 4)))


@pytest.mark.parametrize("opener,suffix", [(gzip.open, ".gz"), (bz2.open, ".bz2")])
def test_compressed_input(tmp_path, opener, suffix):
    path = tmp_path / f"c.txt{suffix}"
    with opener(path, "wb") as f:
        f.write(b"the cat sat\non the mat\n" * 100)
    got, stats = assert_same([path], tmp_path)
    assert got[0][0] == "the" and stats.lines == 200


def test_invalid_utf8_strict_is_the_same_error(tmp_path):
    path = write(tmp_path, "bad.txt", b"fine line\nsecond ok\nthird \xff\xfe here\n")
    messages = []
    for read in (lambda: Vocabulary.read_encoded([str(path)], min_count=1),
                 lambda: Vocabulary.build_encoded(iter_sentences([str(path)]), min_count=1)):
        with pytest.raises(DataError) as info:
            read()
        messages.append(info.value.format_message())
    assert messages[0] == messages[1] and f"{path}:3:" in messages[0] and "offset 26" in messages[0]


@pytest.mark.parametrize("errors", ["replace", "ignore"])
def test_invalid_utf8_repaired_the_same_way(tmp_path, monkeypatch, errors):
    monkeypatch.setattr(corpus_module, "BLOCK_SIZE", 16)
    path = write(tmp_path, "bad.txt", b"ok a\xffb\n" + b"word " * 20 + b"\xc3\x28 end a\xffb\n")
    got, stats = assert_same([path], tmp_path, errors=errors, max_sentence_len=4)
    assert stats.invalid_lines >= 2 and ("a\ufffdb" if errors == "replace" else "ab") in got[0]


def test_empty_corpus_and_min_count_errors(tmp_path):
    with pytest.raises(SeqkitError, match="empty"):
        Vocabulary.read_encoded([str(write(tmp_path, "e.txt", b"\n \n\t\n"))], min_count=1)
    with pytest.raises(SeqkitError, match=r"0 of 3 word types occur >= 5 times; lower --min-count"):
        Vocabulary.read_encoded([str(write(tmp_path, "s.txt", b"a b c a"))], min_count=5)


def test_table_numbers_in_first_seen_order_and_counts(tmp_path):
    table = TokenTable(max_sentence_len=2)
    ids, finished = table.encode(b"b a b\nc a\n\nd ")
    assert ids.tolist() == [0, 1, 0, 2, 1, 3]
    assert finished.tolist() == [2, 1, 2]  # "b a" | "b" | "c a"; "d" is unfinished
    assert [table.word(i) for i in range(len(table))] == [b"b", b"a", b"c", b"d"]
    assert table.counts.tolist() == [2, 2, 1, 1]
    ids, finished = table.encode(b"d d\n")
    assert ids.tolist() == [3, 3] and finished.tolist() == [2, 1]  # "d d" | "d": the line was split
    assert table.stat("SPLIT_LINES") == 2 and table.stat("LINES") == 4 and table.stat("TOKENS") == 8


def test_id_blocks_count_into_given_stats(tmp_path):
    stats = CorpusStats(lines=10, tokens=100)
    blocks = list(id_blocks([str(write(tmp_path, "c.txt", b"a b\nc\n"))], TokenTable(10), stats=stats))
    assert sum(len(ids) for ids, _ in blocks) == 3
    assert (stats.lines, stats.tokens, stats.files, stats.bytes) == (12, 103, 1, 6)


def test_max_sentence_len_must_be_positive():
    with pytest.raises(ValueError):
        TokenTable(0)


def corpus_text(seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    lines = [" ".join(f"w{int(i)}" for i in rng.zipf(1.5, rng.integers(0, 40))) for _ in range(300)]
    return ("\n".join(lines) + "\n\nnaïve café w1").encode()


@pytest.mark.parametrize("min_count", [1, 2, 5])
def test_count_files_equals_build(tmp_path, min_count):
    path = write(tmp_path, "c.txt", corpus_text(min_count))
    want_stats, got_stats = CorpusStats(), CorpusStats()
    want, want_build = Vocabulary.build(iter_sentences([str(path)], max_sentence_len=7, stats=want_stats),
                                        min_count=min_count)
    got, got_build = Vocabulary.count_files([str(path)], min_count=min_count, max_sentence_len=7, stats=got_stats)
    assert got.words == want.words and got.counts.tolist() == want.counts.tolist()
    assert got_build == want_build and got_stats == want_stats


@pytest.mark.parametrize("max_len", [3, 10000])
def test_encode_files_with_a_given_vocabulary_equals_encode_to_disk(tmp_path, max_len):
    path = write(tmp_path, "c.txt", corpus_text(7))
    # a vocabulary not in the corpus's order, with words the corpus lacks and corpus words it lacks
    vocab = Vocabulary(["w3", "w1", "absent", "naïve", "w2", "w10"], [9, 8, 7, 6, 5, 4])
    want_stats, got_stats = CorpusStats(), CorpusStats()
    sentences = iter_sentences([str(path)], max_sentence_len=max_len, stats=want_stats)
    with vocab.encode_to_disk(sentences, str(tmp_path)) as want, \
            vocab.encode_files([str(path)], max_sentence_len=max_len, stats=got_stats, directory=str(tmp_path)) as got:
        assert got.offsets.tolist() == want.offsets.tolist()
        assert got.slice(0, got.n_sentences)[0].tolist() == want.slice(0, want.n_sentences)[0].tolist()
    assert got_stats == want_stats and got_stats.tokens > 0


def test_encode_files_with_a_word_holding_whitespace_falls_back(tmp_path):
    path = write(tmp_path, "c.txt", b"a b\x0bc b\n")
    vocab = Vocabulary(["b", "b\x0bc"], [2, 1])  # no token can be "b\vc": only "b" is encoded
    with vocab.encode_files([str(path)]) as got:
        assert got.slice(0, got.n_sentences)[0].tolist() == [0, 0]
