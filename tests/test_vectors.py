"""Vector files: every format round-trips, corruption is reported with file and line."""

from __future__ import annotations

import gzip
import struct

import numpy as np
import pytest

from seqkit import vectors as vectors_module
from seqkit.errors import DataError
from seqkit.vectors import Embeddings

WORDS = ["the", "naïve", "a\u00a0b", "日本", "x\u3000y", "</s>"]


@pytest.fixture
def emb():
    rng = np.random.default_rng(0)
    return Embeddings(WORDS, rng.standard_normal((len(WORDS), 5)).astype(np.float32))


def write_text(path, rows, header=True, trailing_space=False, dim=None):
    dim = dim or len(rows[0][1])
    lines = [f"{len(rows)} {dim}"] if header else []
    for word, values in rows:
        lines.append(word + " " + " ".join(values) + (" " if trailing_space else ""))
    path.write_bytes(("\n".join(lines) + "\n").encode("utf-8"))


def test_text_round_trip_keeps_unicode_words(tmp_path, emb):
    path = tmp_path / "v.txt"
    emb.save(str(path))
    back = Embeddings.load(str(path))
    assert back.words == WORDS
    np.testing.assert_allclose(back.matrix, emb.matrix, rtol=1e-5, atol=1e-6)


def python_lines(words, matrix) -> bytes:
    """The slow reference: Python's own '%.6g' of every value."""
    return "".join(word + " " + " ".join("%.6g" % x for x in row) + "\n"
                   for word, row in zip(words, matrix.tolist())).encode("utf-8")


def awkward_values() -> np.ndarray:
    """float32 values where six-digit formatting can go wrong: ties, carries, powers of ten and their
    neighbours, the edges of the kernel's exact range, and the values it leaves to Python."""
    rng = np.random.default_rng(7)
    values = [0.0, -0.0, 0.5, 1.0, -1.0, 2.0 ** -10, 2.0 ** -20, 123456.5, 999999.5, 999999.6, 9.999995e-05,
              9.9999e-05, 1e-4, 1e-5, 1e-7, 0.99999951, 1e6, 3e7, 1e-8, 1e-30, 3.4e38,
              np.nan, np.inf, -np.inf]
    values += [float(2.0 ** k) for k in range(-30, 25)]
    for k in range(-9, 8):  # each power of ten and its float32 neighbours
        p = np.float32(10.0 ** k)
        values += [p, np.nextafter(p, np.float32(0)), np.nextafter(p, np.float32(np.inf))]
    scales = 10.0 ** rng.uniform(-8, 7, 20_000)
    values += (rng.standard_normal(20_000) * scales).tolist()
    values += (rng.standard_normal(20_000) * 0.1).tolist()  # what trained vectors look like
    array = np.array(values, dtype=np.float32)
    return np.concatenate([array, -array])


def test_text_numbers_are_pythons_six_digit_formatting_byte_for_byte():
    from seqkit._vector_text_writer import format_rows, vector_lines

    values = awkward_values()
    for dim in (1, 7):  # with one value a row, every value the kernel can format goes through it
        matrix = values[: len(values) // dim * dim].reshape(-1, dim)
        words = [f"w{i}" for i in range(len(matrix))]
        assert vector_lines(words, matrix) == python_lines(words, matrix)
    # the kernel formats most values itself and leaves the rest (nan, inf, tiny, huge) to Python
    single = values.reshape(-1, 1)
    out = np.empty(len(single) * 16, np.uint8)
    row_end, slow = np.empty(len(single), np.int64), np.empty(len(single), np.uint8)
    format_rows(single, np.full(len(single), ord("x"), np.uint8), np.arange(len(single) + 1, dtype=np.int64),
                out, row_end, slow)
    size = np.abs(values.astype(np.float64))
    exact = np.isfinite(size) & ((size >= 1e-7) | (size == 0)) & (size < 999999.5)  # 999999.5 prints as 1e+06
    assert slow.any() and not slow.all() and np.array_equal(slow == 0, exact)


def test_text_save_writes_the_slow_rows_in_place(tmp_path):
    words = ["a", "b c", "d", "日本", "e"]
    matrix = np.array([[0.25, -1.5], [np.nan, 1.0], [1e-9, 2.0], [-np.inf, 3e9], [7.0, 0.0]], np.float32)
    path = tmp_path / "v.txt"
    Embeddings(words, matrix).save(str(path))
    assert path.read_bytes() == b"5 2\n" + python_lines(words, matrix)


@pytest.mark.parametrize("newline", [True, False])
def test_binary_round_trip_with_and_without_newlines(tmp_path, emb, newline):
    path = tmp_path / "v.bin"
    body = b"".join(w.encode() + b" " + emb.matrix[i].astype("<f4").tobytes() + (b"\n" if newline else b"")
                    for i, w in enumerate(WORDS))
    path.write_bytes(f"{len(WORDS)} 5\n".encode() + body)
    back = Embeddings.load(str(path))
    assert back.words == WORDS
    assert np.array_equal(back.matrix, emb.matrix)  # binary is exact


def test_binary_written_by_seqkit_is_word2vec_c_layout(tmp_path, emb):
    path = tmp_path / "v.bin"
    emb.save(str(path), binary=True)
    data = path.read_bytes()
    assert data.startswith(b"6 5\nthe ")
    first = struct.unpack("<5f", data[len(b"6 5\nthe "):len(b"6 5\nthe ") + 20])
    np.testing.assert_array_equal(first, emb.matrix[0])
    assert data[len(b"6 5\nthe ") + 20:len(b"6 5\nthe ") + 21] == b"\n"


def test_glove_headerless_and_fasttext_trailing_spaces_and_crlf(tmp_path):
    rows = [("a", ["1", "2", "3"]), ("b", ["-1e-3", "0.5", "4"])]
    glove = tmp_path / "g.txt"
    write_text(glove, rows, header=False)
    e = Embeddings.load(str(glove))
    assert e.words == ["a", "b"] and e.matrix.shape == (2, 3)
    ft = tmp_path / "f.vec"
    write_text(ft, rows, trailing_space=True)
    ft.write_bytes(ft.read_bytes().replace(b"\n", b"\r\n"))
    e = Embeddings.load(str(ft))
    np.testing.assert_array_equal(e.matrix[1], np.array([-1e-3, 0.5, 4], dtype=np.float32))


def test_fast_parser_equals_python_float_exactly(tmp_path):
    rng = np.random.default_rng(1)
    values = rng.standard_normal((200, 7)) * 10.0 ** rng.integers(-8, 4, (200, 7))
    texts = [[repr(float(np.float32(v))) if i % 3 else f"{v:.9e}" for v in row] for i, row in enumerate(values)]
    path = tmp_path / "v.txt"
    write_text(path, [(f"w{i}", row) for i, row in enumerate(texts)])
    got = Embeddings.load(str(path)).matrix
    want = np.array([[float(x) for x in row] for row in texts]).astype(np.float32)
    assert np.array_equal(got, want)


def test_nan_and_long_digits_take_the_exact_slow_path(tmp_path):
    path = tmp_path / "v.txt"
    write_text(path, [("a", ["1e-3", "1.0000000000000000000001"]), ("b", ["2.5E+2", "-2"])])
    e = Embeddings.load(str(path))
    assert e.matrix[0, 0] == np.float32(1e-3) and e.matrix[0, 1] == 1.0 and e.matrix[1, 0] == 250.0
    write_text(path, [("a", ["nan", "1"]), ("b", ["inf", "-2"])])  # both read, then both refused
    with pytest.raises(DataError, match=r"v.txt:2: the vector of 'a' .* not a finite number \(2 such vectors\)"):
        Embeddings.load(str(path))


def test_compressed_and_stdin(tmp_path, emb, monkeypatch):
    path = tmp_path / "v.txt.gz"
    emb.save(str(path))
    with gzip.open(path, "rb") as handle:
        assert handle.read().startswith(b"6 5\n")
    assert Embeddings.load(str(path)).words == WORDS


def test_binary_read_at_awkward_offsets(tmp_path):
    # words of every length 1..40 so vectors start at every byte alignment
    words = ["w" * k for k in range(1, 41)]
    matrix = np.arange(40 * 3, dtype=np.float32).reshape(40, 3) / 7
    emb = Embeddings(words, matrix)
    path = tmp_path / "v.bin"
    emb.save(str(path), binary=True)
    back = Embeddings.load(str(path))
    assert back.words == words and np.array_equal(back.matrix, matrix)
    assert np.array_equal(Embeddings.load(str(path), limit=7).matrix, matrix[:7])


def test_gensim_interoperability(tmp_path, emb):
    gensim = pytest.importorskip("gensim")
    from gensim.models import KeyedVectors

    ours = tmp_path / "ours.txt"
    emb.save(str(ours))
    kv = KeyedVectors.load_word2vec_format(str(ours))
    assert list(kv.index_to_key) == WORDS
    ours_bin = tmp_path / "ours.bin"
    emb.save(str(ours_bin), binary=True)
    kv_bin = KeyedVectors.load_word2vec_format(str(ours_bin), binary=True)
    np.testing.assert_array_equal(kv_bin.vectors, emb.matrix)
    theirs = tmp_path / "theirs.bin"
    kv_bin.save_word2vec_format(str(theirs), binary=True)
    back = Embeddings.load(str(theirs))
    assert back.words == WORDS and np.array_equal(back.matrix, emb.matrix)
    theirs_txt = tmp_path / "theirs.txt"
    kv_bin.save_word2vec_format(str(theirs_txt))
    np.testing.assert_allclose(Embeddings.load(str(theirs_txt)).matrix, emb.matrix, rtol=1e-6)
    assert gensim.__version__


# --- corruption suite (CONTRACT 5.5) -----------------------------------------------------------

def load_error(path) -> str:
    with pytest.raises(DataError) as info:
        Embeddings.load(str(path))
    return info.value.format_message()


def test_header_count_too_large(tmp_path):
    path = tmp_path / "v.txt"
    path.write_text("3 2\na 1 2\nb 3 4\n")
    assert "header promises 3 vectors but the file ends after 2" in load_error(path)


def test_header_count_too_small(tmp_path):
    path = tmp_path / "v.txt"
    path.write_text("1 2\na 1 2\nb 3 4\n")
    message = load_error(path)
    assert "v.txt:3:" in message and "more vectors than the header's 1" in message


def test_non_numeric_header(tmp_path):
    path = tmp_path / "v.txt"
    path.write_text("12\na 1 2\n")
    assert "v.txt:1:" in load_error(path)


def test_short_and_long_vector_lines_name_line_and_dims(tmp_path):
    path = tmp_path / "v.txt"
    path.write_text("3 3\na 1 2 3\nb 1 2\nc 1 2 3\n")
    message = load_error(path)
    assert "v.txt:3:" in message and "expected 3 values after the word, found 2" in message
    path.write_text("2 3\na 1 2 3\nb 1 2 3 4\n")
    message = load_error(path)
    assert "v.txt:3:" in message and "found 4" in message


def test_not_a_number_names_the_line(tmp_path):
    path = tmp_path / "v.txt"
    path.write_text("2 2\na 1 2\nb 1 zz\n")
    message = load_error(path)
    assert "v.txt:3:" in message and "'zz'" in message


def test_truncated_binary(tmp_path, emb):
    path = tmp_path / "v.bin"
    emb.save(str(path), binary=True)
    data = path.read_bytes()
    path.write_bytes(data[:-30])
    assert "truncated" in load_error(path)


def test_invalid_utf8_word_under_each_policy(tmp_path):
    path = tmp_path / "v.txt"
    path.write_bytes(b"2 2\nok 1 2\nb\xffd 3 4\n")
    message = load_error(path)
    assert "v.txt:3:" in message and "invalid UTF-8" in message
    assert Embeddings.load(str(path), errors="replace").words == ["ok", "b\ufffdd"]
    assert Embeddings.load(str(path), errors="ignore").words == ["ok", "bd"]


@pytest.mark.parametrize("binary", [False, True])
def test_a_word_of_only_invalid_bytes_is_dropped_with_its_vector_under_ignore(tmp_path, binary):
    path = tmp_path / "v.bin"
    rows = [(b"ok", [1, 2]), (b"\xff\xfe", [3, 4]), (b"end", [5, 6])]
    if binary:
        body = b"".join(w + b" " + np.array(v, "<f4").tobytes() + b"\n" for w, v in rows)
    else:
        body = b"".join(w + b" " + b" ".join(b"%d" % x for x in v) + b"\n" for w, v in rows)
    path.write_bytes(b"3 2\n" + body)
    e = Embeddings.load(str(path), fmt="binary" if binary else "text", errors="ignore")
    assert e.words == ["ok", "end"] and e.matrix.tolist() == [[1, 2], [5, 6]]
    assert [w for w, _ in e.nearest("ok")] == ["end"]


def test_duplicate_words_warn_once_and_keep_the_first(tmp_path):
    class Collect:
        def __init__(self):
            self.messages = []

        def warn(self, message):
            self.messages.append(message)

    path = tmp_path / "v.txt"
    path.write_text("3 1\na 1\nb 2\na 3\n")
    reporter = Collect()
    e = Embeddings.load(str(path), reporter=reporter)
    assert len(reporter.messages) == 1 and "1 duplicate words" in reporter.messages[0]
    assert e.vector("a")[0] == 1.0 and len(e) == 3


@pytest.mark.parametrize("fast", [False, True])
def test_a_duplicate_row_is_never_a_neighbour(tmp_path, fast):
    path = tmp_path / "v.txt"
    path.write_text("4 2\ncat 1 0\ndog 0.9 0.1\ncat 0.95 0.05\nfish 0 1\n")
    e = Embeddings.load(str(path))
    if fast:
        e.save(str(tmp_path / "v.skv"), fmt="fast")
        e = Embeddings.load(str(tmp_path / "v.skv"))
    assert [w for w, _ in e.nearest("cat", k=5)] == ["dog", "fish"]  # not its own second row
    assert [w for w, _ in e.nearest("dog", k=5)] == ["cat", "fish"]  # cat once, by its first row
    assert [w for w, _ in e.nearest(np.array([1, 0], np.float32), k=5)] == ["cat", "dog", "fish"]
    assert [w for w, _ in e.analogy(["dog"], ["fish"], k=5)] == ["cat"]


@pytest.mark.parametrize("content,expect", [(b"", "empty"), (b"\n\n", "empty"), (b"2 3\n", "ends after 0")])
def test_empty_and_header_only_files(tmp_path, content, expect):
    path = tmp_path / "v.txt"
    path.write_bytes(content)
    assert expect in load_error(path)


def test_absurd_header_rejected_before_allocation(tmp_path, monkeypatch):
    path = tmp_path / "v.txt"
    path.write_text("99999999999 99999\na 1\n")
    assert "more than seqkit will allocate" in load_error(path)


# --- queries ----------------------------------------------------------------------------------

def test_nearest_and_analogy_on_planted_geometry():
    words = ["king", "queen", "man", "woman", "apple"]
    m = np.array([[1, 1, 0], [1, -1, 0], [0, 1, 0.1], [0, -1, 0.1], [0, 0, 1]], dtype=np.float32)
    e = Embeddings(words, m)
    assert e.analogy(["king", "woman"], ["man"], 1)[0][0] == "queen"
    assert e.analogy(["king", "woman"], ["man"], 1, method="mul")[0][0] == "queen"
    assert "king" not in [w for w, _ in e.nearest("king", 4)]
    assert e.nearest(np.array([0, 0, 1.0]), 1)[0][0] == "apple"
    assert len(e.nearest("king", 2, restrict=3)) == 2


def test_zero_rows_stay_zero_in_the_unit_view():
    e = Embeddings(["a", "b"], np.array([[0, 0], [3, 4]], dtype=np.float32))
    np.testing.assert_allclose(e.unit, [[0, 0], [0.6, 0.8]])


def test_unknown_format_name_is_rejected():
    with pytest.raises(ValueError):
        Embeddings.load("x", fmt="word2vec-ish")
    assert vectors_module.sniff_format("a.bin.gz") == "binary" and vectors_module.sniff_format("a.vec") == "text"


def test_a_text_corpus_is_said_not_to_be_a_vector_file(tmp_path, cli_run):
    """Not "small.txt:1: not a number: 'aer'": what the file is not, and what a vector file looks like."""
    corpus = tmp_path / "small.txt"
    corpus.write_text("the aer of it\nand more words here\n")
    message = load_error(corpus)
    assert message.startswith(f"{corpus}:1: does not look like a vector file")
    assert "'aer' is not a number" in message
    assert "word2vec text: a first line 'COUNT DIM', then 'word v1 ... vDIM' lines" in message
    result = cli_run("similar", "-v", corpus, "the")
    assert result.exit_code == 1 and result.stderr.count("\n") == 1 and "does not look like a vector file" in result.stderr
    one_word_lines = tmp_path / "words.txt"
    one_word_lines.write_text("the\nand\n")
    assert "does not look like a vector file" in load_error(one_word_lines)
    assert "'COUNT DIM'" in load_error(one_word_lines)


def test_named_glove_format_keeps_the_plain_message(tmp_path):
    path = tmp_path / "g.txt"
    path.write_text("a 1 2\nb 1 zz\n")
    assert "g.txt:2:" in load_error(path) and "'zz'" in load_error(path)
    with pytest.raises(DataError, match=r"g.txt:1: not a number: 'x'"):
        path.write_text("a x 2\n")
        Embeddings.load(str(path), fmt="glove")



def test_a_word_on_the_first_vector_line_is_named_there_not_taken_for_binary(tmp_path):
    """A field that is no number on the first line after the header made the file look binary, and the
    error spoke of a truncated file."""
    path = tmp_path / "v.txt"
    path.write_text("2 2\nthe 1 x\nof 3 4\n")
    assert "v.txt:2: not a number: 'x'" in load_error(path) and "truncated" not in load_error(path)
    path.write_text("2 2\nthe 1 2\nof 3 x\n")
    assert "v.txt:3: not a number: 'x'" in load_error(path)
    path.write_text("2 2\nthe 1 x \nof 3 4 \n")  # word2vec.c and fastText end each line with a space
    assert "v.txt:2: not a number: 'x'" in load_error(path)

@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "1e39"])
def test_a_value_that_is_not_a_finite_float32_is_refused_naming_its_word(tmp_path, value):
    path = tmp_path / "v.txt"
    path.write_text(f"3 2\nb 3 4\na {value} 2\nc 5 6\n")
    with pytest.raises(DataError, match=r"v.txt:3: the vector of 'a' holds a value that is not a finite number"):
        Embeddings.load(str(path))
    path.write_text(f"b 3 4\na {value} 2\n")  # GloVe: no header line
    with pytest.raises(DataError, match=r"v.txt:2: the vector of 'a' holds a value that is not a finite number"):
        Embeddings.load(str(path))
    binary = tmp_path / "v.bin"
    with np.errstate(over="ignore"):  # 1e39 becomes inf in float32, as in a file that holds it
        rows = np.array([[3, 4], [float(value), 2]], dtype=np.float64).astype(np.float32)
    binary.write_bytes(b"2 2\nb " + rows[0].tobytes() + b"\na " + rows[1].tobytes() + b"\n")
    with pytest.raises(DataError, match=r"v.bin: record 2: the vector of 'a' holds a value that is not a finite"):
        Embeddings.load(str(binary))


def test_a_dropped_word_takes_its_non_finite_vector_with_it(tmp_path):
    """With --errors ignore a word of nothing but invalid bytes is dropped with its vector, nan or not."""
    path = tmp_path / "v.txt"
    path.write_bytes(b"2 2\n\xff\xfe 1 nan\ny 1 2\n")
    loaded = Embeddings.load(str(path), errors="ignore")
    assert loaded.words == ["y"] and loaded.matrix.tolist() == [[1.0, 2.0]]
    path.write_bytes(b"2 2\n\xffx 1 nan\ny 1 2\n")  # a word is left: its vector is refused, by its line
    with pytest.raises(DataError, match=r"v.txt:2: the vector of 'x' holds a value that is not a finite number"):
        Embeddings.load(str(path), errors="ignore")


def test_a_vocabulary_file_is_not_taken_for_one_dimensional_glove(tmp_path):
    path = tmp_path / "v.vocab"
    path.write_text("the 10\ncat 5\n")
    with pytest.raises(DataError, match="vocabulary"):
        Embeddings.load(str(path))
