"""The fast vector format (.skv): round trips, recognition by magic, damage reported, queries without numba."""

from __future__ import annotations

import gzip
import lzma
import mmap
import struct
import subprocess
import sys

import numpy as np
import pytest

from seqkit import vector_store
from seqkit.errors import DataError
from seqkit.vectors import Embeddings

WORDS = ["the", "naïve", "a\u00a0b", "日本", "x\u3000y", "</s>", "king", "queen", "man", "woman"]


@pytest.fixture
def emb():
    rng = np.random.default_rng(3)
    matrix = rng.standard_normal((len(WORDS), 7)).astype(np.float32)
    matrix[5] = 0  # a zero row must stay zero (and not become NaN) in every query
    return Embeddings(WORDS, matrix)


@pytest.fixture
def text_file(tmp_path, emb):
    path = tmp_path / "vecs.txt"
    emb.save(str(path))
    return path


@pytest.fixture
def fast_file(tmp_path, text_file, cli_run):
    path = tmp_path / "vecs.skv"
    result = cli_run("convert", text_file, path, "-q")
    assert result.exit_code == 0, result.stderr
    return path


def load_error(path) -> str:
    with pytest.raises(DataError) as info:
        Embeddings.load(str(path))
    return info.value.format_message()


# --- round trips ---------------------------------------------------------------------------------

def test_text_to_fast_to_text_keeps_every_value_and_word(tmp_path, text_file, fast_file, cli_run):
    assert fast_file.read_bytes().startswith(vector_store.MAGIC)
    back = tmp_path / "back.txt"
    assert cli_run("convert", fast_file, back, "-q").exit_code == 0
    assert back.read_bytes() == text_file.read_bytes()
    original, fast = Embeddings.load(str(text_file)), Embeddings.load(str(fast_file))
    assert fast.words == WORDS and len(fast) == len(WORDS) and fast.dim == 7
    np.testing.assert_array_equal(fast.matrix, original.matrix)


def test_words_with_ascii_spaces_and_duplicates_round_trip(tmp_path):
    words = ["a b", "", "dup", "ü ü", "dup"]
    matrix = np.arange(15, dtype=np.float32).reshape(5, 3)
    path = tmp_path / "v.skv"
    Embeddings(words, matrix).save(str(path), fmt="fast")
    back = Embeddings.load(str(path))
    assert [back.word_at(i) for i in range(5)] == words and back.words == words
    assert back.row("a b") == 0 and back.row("") == 1 and back.row("ü ü") == 3
    assert back.row("dup") == 2 and back.duplicates == 1  # the first row of a duplicate, as the text reader
    assert back.row("a") is None and back.row("b") is None and "\ud800" not in back
    np.testing.assert_array_equal(back.vector("dup"), matrix[2])


def test_float16_keeps_values_to_float16_precision(tmp_path, emb):
    path = tmp_path / "v.skv"
    emb.save(str(path), fmt="fast", dtype="float16")
    back = Embeddings.load(str(path))
    assert back.matrix.dtype == np.float32
    np.testing.assert_array_equal(back.matrix, emb.matrix.astype(np.float16).astype(np.float32))
    assert path.stat().st_size < Embeddings.load(str(path)).matrix.nbytes + 1024  # 2 bytes a value


def test_recognised_by_magic_whatever_the_name_compressed_and_stdin(tmp_path, fast_file, cli_run, monkeypatch):
    renamed = tmp_path / "vectors.data"
    renamed.write_bytes(fast_file.read_bytes())
    packed = tmp_path / "vecs.skv.xz"
    packed.write_bytes(lzma.compress(fast_file.read_bytes()))
    want = cli_run("similar", "-v", fast_file, "king", "-k", "3").stdout
    assert want.count("\n") == 3
    assert cli_run("similar", "-v", renamed, "king", "-k", "3").stdout == want
    assert cli_run("similar", "-v", packed, "king", "-k", "3").stdout == want
    assert cli_run("similar", "-v", "-", "king", "-k", "3", input=fast_file.read_bytes()).stdout == want


def test_limit_keeps_the_first_rows(tmp_path, fast_file, cli_run):
    out = tmp_path / "four.txt"
    assert cli_run("convert", fast_file, out, "--limit", "4", "-q").exit_code == 0
    assert Embeddings.load(str(out)).words == WORDS[:4]


def test_empty_and_newline_words_are_refused_on_writing(tmp_path):
    with pytest.raises(DataError, match="no vectors to write"):
        Embeddings([], np.zeros((0, 3), dtype=np.float32)).save(str(tmp_path / "e.skv"), fmt="fast")
    with pytest.raises(DataError, match="contains a newline"):
        Embeddings(["a\nb"], np.ones((1, 3), dtype=np.float32)).save(str(tmp_path / "n.skv"), fmt="fast")
    assert not list(tmp_path.iterdir())  # atomic: nothing half-written is left


# --- queries -------------------------------------------------------------------------------------

@pytest.mark.parametrize("args", [("similar", "king", "naïve", "-k", "4"),
                                  ("similar", "a\u00a0b", "--restrict", "5", "-k", "3"),
                                  ("analogy", "king", "man", "woman", "-k", "5"),
                                  ("analogy", "king", "man", "woman", "--method", "mul", "-k", "5"),
                                  ("print-vectors", "日本", "</s>")])
def test_cli_queries_answer_as_on_the_text_file(text_file, fast_file, cli_run, args):
    on_text = cli_run(*args, "-v", text_file)
    on_fast = cli_run(*args, "-v", fast_file)
    assert on_text.exit_code == 0 and on_text.stdout
    assert (on_fast.exit_code, on_fast.stdout, on_fast.stderr) == (on_text.exit_code, on_text.stdout, on_text.stderr)


def test_unknown_word_on_a_fast_file(fast_file, cli_run):
    result = cli_run("similar", "-v", fast_file, "nosuchword")
    assert result.exit_code == 1 and "nosuchword" in result.stderr and not result.stdout


def test_a_query_maps_the_file_and_normalises_only_the_query_rows(fast_file):
    loaded = Embeddings.load(str(fast_file))
    base = loaded.matrix
    while isinstance(base, np.ndarray):
        base = base.base
    base = base.obj if isinstance(base, memoryview) else base
    assert isinstance(base, mmap.mmap) and not loaded.matrix.flags.writeable
    assert loaded.nearest("king", 3)[0][0] in WORDS and loaded.analogy(["king", "woman"], ["man"], 2)
    assert loaded._unit is None and loaded._index is None and loaded._words is None


def test_query_path_imports_no_numba(fast_file):
    """The text parser is a Numba kernel; a query on a fast file must not pay for importing it."""
    code = ("import sys; from seqkit.cli import main; sys.argv = ['seqkit', 'analogy', '-v', sys.argv[1], "
            "'king', 'man', 'woman'];\ntry:\n    main()\nexcept SystemExit:\n    pass\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('numba', 'scipy')), file=sys.stderr)")
    proc = subprocess.run([sys.executable, "-c", code, str(fast_file)], capture_output=True, timeout=120)
    assert proc.returncode == 0 and proc.stdout.startswith(b"king man woman\t")
    assert proc.stderr.strip().splitlines()[-1] == b"[]"


def test_bundled_vectors_are_mapped_not_parsed():
    from seqkit.options import default_vectors_path

    path = default_vectors_path()
    if path is None:
        pytest.skip("no bundled vectors in this installation")
    with open(path, "rb") as handle:
        assert vector_store.is_fast(handle.read(len(vector_store.MAGIC)))
    bundled = Embeddings.load(path)
    assert len(bundled) >= 30000 and bundled.analogy(["king", "woman"], ["man"], 1)[0][0] == "queen"


# --- damage --------------------------------------------------------------------------------------

def header_fields(path) -> list:
    return list(struct.unpack_from("<8sII9Q", path.read_bytes()))


def rewrite_header(path, **changes) -> None:
    names = ["magic", "version", "dtype", "rows", "dim", "duplicates", "norms", "matrix", "offsets", "words",
             "words_len", "size"]
    fields = dict(zip(names, header_fields(path)))
    fields.update(changes)
    data = bytearray(path.read_bytes())
    struct.pack_into("<8sII9Q", data, 0, *[fields[n] for n in names])
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("damage,expect", [
    (lambda p: p.write_bytes(p.read_bytes()[:-1]), "header describes"),
    (lambda p: p.write_bytes(p.read_bytes()[:60]), "cannot hold the 128-byte header"),
    (lambda p: p.write_bytes(b""), "empty vector file"),
    (lambda p: p.write_bytes(p.read_bytes() + b"\0"), "header describes"),
    (lambda p: p.write_bytes(b"\x89SKV\n\x1a\n\0" + p.read_bytes()[8:]), "not a seqkit vector file"),
    (lambda p: rewrite_header(p, version=2), "version 2"),
    (lambda p: rewrite_header(p, dtype=9), "unknown value type"),
    (lambda p: rewrite_header(p, rows=100), "section offsets do not fit"),
    (lambda p: rewrite_header(p, dim=60), "section offsets do not fit"),
    (lambda p: rewrite_header(p, rows=11), "damaged word list"),  # same padded layout: the words disagree
    (lambda p: rewrite_header(p, rows=1 << 40, dim=1 << 40), "more than seqkit will map"),
    (lambda p: rewrite_header(p, rows=0), "0 vectors"),
    (lambda p: rewrite_header(p, duplicates=10), "duplicate words"),
])
def test_damaged_file_is_one_error_naming_it(fast_file, cli_run, damage, expect):
    damage(fast_file)
    assert expect in load_error(fast_file)
    result = cli_run("similar", "-v", fast_file, "king")
    assert result.exit_code == 1 and not result.stdout
    assert result.stderr.count("\n") == 1 and f"{fast_file}: " in result.stderr and expect in result.stderr


def test_damaged_word_list(fast_file):
    fields = header_fields(fast_file)
    offsets_at, words_at = fields[8], fields[9]
    data = bytearray(fast_file.read_bytes())
    struct.pack_into("<q", data, offsets_at + 8, 2)  # the second word would start inside the first
    fast_file.write_bytes(bytes(data))
    assert "words and their offsets disagree" in load_error(fast_file)
    data[offsets_at + 8:offsets_at + 16] = struct.pack("<q", 4)
    data[words_at + 1] = ord("\n")  # a newline inside "the"
    fast_file.write_bytes(bytes(data))
    assert "words and their offsets disagree" in load_error(fast_file)
    data[words_at + 1] = ord("h")
    data[words_at + 5] = 0xFF  # invalid UTF-8 inside "naïve"
    fast_file.write_bytes(bytes(data))
    assert "invalid UTF-8" in load_error(fast_file)
    struct.pack_into("<q", data, offsets_at + 8, -5)
    fast_file.write_bytes(bytes(data))
    assert "offsets are not increasing" in load_error(fast_file)


def test_a_compressed_skv_name_is_read_by_content_too(tmp_path):
    path = tmp_path / "v.skv.gz"
    path.write_bytes(gzip.compress(b"2 2\na 1 2\nb 3 4\n"))
    assert Embeddings.load(str(path)).words == ["a", "b"]
    path.write_bytes(gzip.compress(b"\x89SKW\r\n\x1a\n" + bytes(200)))
    assert "not a seqkit vector file" in load_error(path)


def test_convert_writes_a_float16_skv_on_request(tmp_path, cli_run):
    from seqkit.vectors import Embeddings

    rng = np.random.default_rng(0)
    words = [f"w{i}" for i in range(200)]
    source = tmp_path / "v.txt"
    Embeddings(words, rng.standard_normal((200, 16)).astype(np.float32)).save(str(source))
    single, half = tmp_path / "single.skv", tmp_path / "half.skv"
    assert cli_run("convert", source, single, "-q").exit_code == 0
    assert cli_run("convert", source, half, "--dtype", "float16", "-q").exit_code == 0
    assert half.stat().st_size < 0.7 * single.stat().st_size
    a, b = Embeddings.load(str(single)), Embeddings.load(str(half))
    np.testing.assert_allclose(np.asarray(b.matrix, np.float32), a.matrix, rtol=1e-3, atol=1e-3)
    assert cli_run("convert", source, tmp_path / "x.txt", "--dtype", "float16").exit_code == 2


def test_a_text_file_named_skv_is_read_by_its_content(tmp_path):
    """`convert vecs.txt x.skv --to text` writes text under an .skv name: reading goes by the magic bytes."""
    path = tmp_path / "x.skv"
    path.write_text("2 2\na 1 0\nb 0 1\n")
    assert Embeddings.load(str(path)).words == ["a", "b"]
    path.write_bytes(b"garbage\0\1")  # neither: named as the .skv damage it most likely is
    with pytest.raises(DataError, match="not a seqkit vector file"):
        Embeddings.load(str(path))
    path.write_text("3 2\na 1 0\nb 0 1\nc 1\n")  # text with a bad line: the line is named
    with pytest.raises(DataError, match="x.skv:4: expected 2 values"):
        Embeddings.load(str(path))
