"""The compiled corpus reader and `seqkit.vocabulary` against the plain-Python reference.

`reference.corpus` is the slow reference: every case must give the same vocabulary (words, counts, tie
order), the same encoded ids and sentence offsets, the same build and corpus statistics, and the same errors.
"""

from __future__ import annotations

import bz2
import gzip

import numpy as np
import pytest

import seqkit.corpus as corpus_module
import seqkit.reader as reader_module
from reference import corpus as reference
from seqkit.corpus import CorpusStats
from seqkit.errors import DataError, SeqkitError
from seqkit.reader import TokenTable, id_blocks, read_sentences
from seqkit.vocabulary import Vocabulary, count_words, read_corpus


def both_ways(paths, tmp_path, *, min_count=1, max_sentence_len=10000, errors="strict"):
    """(reference, fast) as ((words, counts, build stats, ids, offsets), corpus stats) each."""
    paths = [str(p) for p in paths]
    stats = CorpusStats()
    sentences = list(reference.iter_sentences(paths, errors=errors, max_sentence_len=max_sentence_len,
                                              stats=stats))
    words, counts, build = reference.count([sentences], min_count=min_count)
    ids, offsets = reference.encode(words, sentences)
    want = ((words, counts, build, ids.tolist(), offsets.tolist()), stats)
    stats = CorpusStats()
    vocab, build, encoded = read_corpus(paths, min_count=min_count, errors=errors,
                                        max_sentence_len=max_sentence_len, stats=stats, directory=str(tmp_path))
    with encoded:
        ids, offsets = encoded.slice(0, encoded.n_sentences)
    got = ((vocab.words, vocab.counts.tolist(), build, ids.tolist(), offsets.tolist()), stats)
    return want, got


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
    monkeypatch.setattr(reader_module, "INITIAL_TYPES", 2)
    monkeypatch.setattr(reader_module, "INITIAL_ARENA", 1)
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
    for read in (lambda: read_corpus([str(path)]), lambda: count_words([str(path)]),
                 lambda: list(read_sentences([str(path)])), lambda: list(reference.iter_sentences([str(path)]))):
        with pytest.raises(DataError) as info:
            read()
        messages.append(info.value.format_message())
    assert len(set(messages)) == 1 and f"{path}:3:" in messages[0] and "offset 26" in messages[0]


@pytest.mark.parametrize("errors", ["replace", "ignore"])
def test_invalid_utf8_repaired_the_same_way(tmp_path, monkeypatch, errors):
    monkeypatch.setattr(corpus_module, "BLOCK_SIZE", 16)
    path = write(tmp_path, "bad.txt", b"ok a\xffb\n" + b"word " * 20 + b"\xc3\x28 end a\xffb\n")
    got, stats = assert_same([path], tmp_path, errors=errors, max_sentence_len=4)
    assert stats.invalid_lines >= 2 and ("a\ufffdb" if errors == "replace" else "ab") in got[0]


def test_empty_corpus_and_min_count_errors(tmp_path):
    for read in (read_corpus, count_words):
        with pytest.raises(SeqkitError, match="empty"):
            read([str(write(tmp_path, "e.txt", b"\n \n\t\n"))], min_count=1)
        with pytest.raises(SeqkitError, match=r"0 of 3 word types occur >= 5 times; lower --min-count"):
            read([str(write(tmp_path, "s.txt", b"a b c a"))], min_count=5)


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
def test_count_words_equals_the_reference(tmp_path, min_count):
    path = write(tmp_path, "c.txt", corpus_text(min_count))
    want_stats, got_stats = CorpusStats(), CorpusStats()
    sentences = reference.iter_sentences([str(path)], max_sentence_len=7, stats=want_stats)
    words, counts, want_build = reference.count([sentences], min_count=min_count)
    got, got_build = count_words([str(path)], min_count=min_count, max_sentence_len=7, stats=got_stats)
    assert got.words == words and got.counts.tolist() == counts
    assert got_build == want_build and got_stats == want_stats


@pytest.mark.parametrize("max_len", [3, 10000])
@pytest.mark.parametrize("unknown", [None, "w1"])
def test_read_corpus_with_a_given_vocabulary_equals_the_reference(tmp_path, max_len, unknown):
    path = write(tmp_path, "c.txt", corpus_text(7))
    # a vocabulary not in the corpus's order, with words the corpus lacks and corpus words it lacks
    vocab = Vocabulary(["w3", "w1", "absent", "naïve", "w2", "w10"], [9, 8, 7, 6, 5, 4])
    want_stats, got_stats = CorpusStats(), CorpusStats()
    ids, offsets = reference.encode(vocab.words, reference.iter_sentences(
        [str(path)], max_sentence_len=max_len, stats=want_stats), unknown=unknown)
    same, build, got = read_corpus([str(path)], vocabulary=vocab, unknown=unknown, max_sentence_len=max_len,
                                   stats=got_stats, directory=str(tmp_path))
    with got:
        assert same is vocab and build is None
        assert got.offsets.tolist() == offsets.tolist()
        assert got.slice(0, got.n_sentences)[0].tolist() == ids.tolist()
    assert got_stats == want_stats and got_stats.tokens > 0


def test_a_vocabulary_word_holding_whitespace_never_matches(tmp_path):
    path = write(tmp_path, "c.txt", b"a b\x0bc b\n")
    vocab = Vocabulary(["b", "b\x0bc"], [2, 1])  # no token can be "b\vc": only "b" is encoded
    _, _, got = read_corpus([str(path)], vocabulary=vocab, in_memory=True)
    assert got.ids.tolist() == [0, 0] and got.offsets.tolist() == [0, 2]


@pytest.mark.parametrize("max_vocab", [1, 3, 8])
@pytest.mark.parametrize("block_size", [8, 64, 1 << 20])
def test_max_vocab_prunes_while_counting_as_the_reference(tmp_path, monkeypatch, max_vocab, block_size):
    monkeypatch.setattr(corpus_module, "BLOCK_SIZE", block_size)
    rng = np.random.default_rng(max_vocab)
    lines = [" ".join(f"w{int(i)}" for i in rng.zipf(1.4, rng.integers(1, 6))) for _ in range(400)]
    path = write(tmp_path, "c.txt", "\n".join(lines).encode())
    words, counts, want = reference.count(reference.token_blocks([str(path)]), max_vocab=max_vocab)
    got, build = count_words([str(path)], max_vocab=max_vocab)
    assert got.words == words and got.counts.tolist() == counts and build == want
    assert len(got) == max_vocab and (block_size == 1 << 20 or build.pruned_types > 0)


@pytest.mark.parametrize("order", ["frequency", "first-seen"])
def test_specials_come_first_and_the_order_is_as_asked(tmp_path, order):
    path = write(tmp_path, "c.txt", b"b a a <unk> c c c\nd </s> b\n")
    words, counts, want = reference.count([reference.iter_sentences([str(path)])], specials=["<unk>", "</s>"],
                                          min_count=1, first_seen=order == "first-seen")
    vocab, build, corpus = read_corpus([str(path)], specials=["<unk>", "</s>"], order=order, unknown="<unk>",
                                       in_memory=True)
    assert vocab.words == words and vocab.counts.tolist() == counts and build == want
    assert vocab.words[:2] == ["<unk>", "</s>"] and vocab.counts[:2].tolist() == [1, 1]
    ids, offsets = reference.encode(words, reference.iter_sentences([str(path)]), unknown="<unk>")
    assert corpus.ids.tolist() == ids.tolist() and corpus.offsets.tolist() == offsets.tolist()


def test_unknown_words_map_to_the_unknown_word(tmp_path):
    path = write(tmp_path, "c.txt", b"a zz b\nzz\nb b\n")
    vocab = Vocabulary(["<unk>", "a", "b"], [0, 5, 3])
    _, _, dropped = read_corpus([str(path)], vocabulary=vocab, in_memory=True)
    _, _, mapped = read_corpus([str(path)], vocabulary=vocab, unknown="<unk>", in_memory=True)
    assert dropped.ids.tolist() == [1, 2, 2, 2] and dropped.offsets.tolist() == [0, 2, 4]
    assert mapped.ids.tolist() == [1, 0, 2, 0, 2, 2] and mapped.offsets.tolist() == [0, 3, 4, 6]
    with pytest.raises(ValueError, match="not in the vocabulary"):
        read_corpus([str(path)], vocabulary=vocab, unknown="<oov>")


def test_read_sentences_streams_the_reference_words(tmp_path, monkeypatch):
    monkeypatch.setattr(corpus_module, "BLOCK_SIZE", 16)
    path = write(tmp_path, "c.txt", corpus_text(3))
    want_stats, got_stats = CorpusStats(), CorpusStats()
    want = [[t.decode() for t in s] for s in reference.iter_sentences([str(path)], max_sentence_len=5,
                                                                       stats=want_stats)]
    assert list(read_sentences([str(path)], max_sentence_len=5, stats=got_stats)) == want
    assert got_stats == want_stats


def test_table_prune_renumbers_and_keeps_counts():
    table = TokenTable(100)
    table.encode(b"alpha beta gamma beta delta gamma gamma\n")
    table.prune(np.array([1, 2]))
    assert [table.word(i) for i in range(len(table))] == [b"beta", b"gamma"]
    assert table.counts.tolist() == [2, 3]
    ids, _ = table.encode(b"gamma alpha beta\n")  # pruned words come back as new types
    assert ids.tolist() == [1, 2, 0] and table.word(2) == b"alpha" and table.counts.tolist() == [3, 4, 1]


def test_table_seed_numbers_words_without_counting_them():
    table = TokenTable(100)
    assert table.seed([b"x", b"y z", b"w"]).tolist() == [0, -1, 1]
    assert table.counts.tolist() == [0, 0] and table.stat("LINES") == 0 and table.stat("TOKENS") == 0
