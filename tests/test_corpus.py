"""Corpus streaming: tokens, lines, long-line splitting, UTF-8 policies, BOM/CRLF, compression."""

from __future__ import annotations

import bz2
import gzip
import lzma

import pytest

from seqkit import corpus
from seqkit.corpus import CorpusStats
from seqkit.errors import DataError
from seqkit.reader import read_sentences


def sentences(path, **kwargs):
    """The reader's sentences as UTF-8 bytes, and its statistics."""
    stats = CorpusStats()
    return [[word.encode() for word in words] for words in read_sentences([str(path)], stats=stats, **kwargs)], stats


def test_lines_are_sentences_of_whitespace_tokens(tmp_path):
    path = tmp_path / "c.txt"
    path.write_bytes(b"the cat  sat\n\n\tdog\x0bran \x0c\nlast line no newline")
    got, stats = sentences(path)
    assert got == [[b"the", b"cat", b"sat"], [b"dog", b"ran"], [b"last", b"line", b"no", b"newline"]]
    assert (stats.lines, stats.tokens, stats.files) == (4, 9, 1)


def test_non_ascii_whitespace_is_part_of_a_word(tmp_path):
    path = tmp_path / "c.txt"
    path.write_bytes("a\u00a0b c\u3000d\n".encode())
    got, _ = sentences(path)
    assert got == [["a\u00a0b".encode(), "c\u3000d".encode()]]


def test_bom_and_crlf(tmp_path):
    path = tmp_path / "c.txt"
    path.write_bytes(b"\xef\xbb\xbfhello world\r\nsecond\r\n")
    got, _ = sentences(path)
    assert got == [[b"hello", b"world"], [b"second"]]


@pytest.mark.parametrize("opener,suffix", [(gzip.open, ".gz"), (bz2.open, ".bz2"), (lzma.open, ".xz")])
def test_compressed_inputs(tmp_path, opener, suffix):
    path = tmp_path / f"c.txt{suffix}"
    with opener(path, "wb") as handle:
        handle.write(b"one two\nthree\n")
    assert sentences(path)[0] == [[b"one", b"two"], [b"three"]]


def test_several_files_in_order(tmp_path):
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    a.write_text("x y\n")
    b.write_text("z\n")
    stats = CorpusStats()
    assert list(read_sentences([str(a), str(b)], stats=stats)) == [["x", "y"], ["z"]]
    assert stats.files == 2


def test_long_line_split_into_bounded_pieces_without_loss(tmp_path):
    path = tmp_path / "c.txt"
    words = [f"w{i}".encode() for i in range(25)]
    path.write_bytes(b" ".join(words) + b"\nshort line\n")
    got, stats = sentences(path, max_sentence_len=10)
    assert [len(s) for s in got] == [10, 10, 5, 2]
    assert sum(got[:3], []) == words
    assert stats.split_lines == 1 and stats.tokens == 27


def test_huge_single_line_streams_in_blocks(tmp_path, monkeypatch):
    # Small blocks force the unfinished-line path many times; every token must survive in order.
    monkeypatch.setattr(corpus, "BLOCK_SIZE", 64)
    words = [f"tok{i}".encode() for i in range(100_000)]
    path = tmp_path / "c.txt"
    path.write_bytes(b" ".join(words))  # one 100k-token line, no final newline
    got, stats = sentences(path, max_sentence_len=1000)
    assert all(len(s) == 1000 for s in got)
    assert [t for s in got for t in s] == words
    assert stats.split_lines == 1 and stats.tokens == 100_000 and stats.lines == 1


def test_block_boundary_inside_a_multibyte_character(tmp_path, monkeypatch):
    monkeypatch.setattr(corpus, "BLOCK_SIZE", 3)
    path = tmp_path / "c.txt"
    text = "ééé ñandú 日本語 x\nβ γ\n"
    path.write_bytes(text.encode())
    got, _ = sentences(path, max_sentence_len=2)
    assert [t.decode() for s in got for t in s] == text.split()


def test_200_byte_word_kept_whole(tmp_path):
    word = "ü" * 100  # 200 bytes
    path = tmp_path / "c.txt"
    path.write_text(f"a {word} b\n", encoding="utf-8")
    got, _ = sentences(path)
    assert got == [[b"a", word.encode(), b"b"]]


def test_invalid_utf8_strict_names_file_line_and_offset(tmp_path):
    path = tmp_path / "bad.txt"
    path.write_bytes(b"fine line\nsecond ok\nthird \xff\xfe here\n")
    with pytest.raises(DataError) as info:
        sentences(path)
    message = info.value.format_message()
    assert f"{path}:3:" in message and "offset 26" in message and "--errors" in message


def test_invalid_utf8_replace_and_ignore(tmp_path):
    path = tmp_path / "bad.txt"
    path.write_bytes(b"ok a\xffb\n")
    replaced, stats = sentences(path, errors="replace")
    assert replaced == [[b"ok", "a\ufffdb".encode()]] and stats.invalid_lines == 1
    ignored, _ = sentences(path, errors="ignore")
    assert ignored == [[b"ok", b"ab"]]


def test_invalid_utf8_inside_a_streamed_long_line(tmp_path, monkeypatch):
    monkeypatch.setattr(corpus, "BLOCK_SIZE", 16)
    path = tmp_path / "bad.txt"
    path.write_bytes(b"first\n" + b"word " * 20 + b"\xc3\x28 end")
    with pytest.raises(DataError) as info:
        sentences(path, max_sentence_len=4)
    assert ":2:" in info.value.format_message()


def test_empty_file_yields_nothing(tmp_path):
    path = tmp_path / "empty.txt"
    path.write_bytes(b"")
    got, stats = sentences(path)
    assert got == [] and stats.tokens == 0


def test_missing_file_is_a_clean_error(tmp_path):
    from seqkit.errors import SeqkitError

    with pytest.raises(SeqkitError, match="no such file"):
        sentences(tmp_path / "nope.txt")


def test_materialize_stdin_spools_to_a_file(monkeypatch, tmp_path):
    import io
    import sys

    class FakeStdin(io.TextIOWrapper):
        def isatty(self):
            return False

    monkeypatch.setattr(sys, "stdin", FakeStdin(io.BytesIO(b"from stdin\n")))
    (path,) = corpus.materialize_stdin(["-"])
    assert open(path, "rb").read() == b"from stdin\n"
    assert corpus.materialize_stdin(["x.txt"]) == ["x.txt"]
