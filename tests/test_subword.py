"""Subword vector models: fastText's rule against a naive reference, seqkit's .npz, the loader and its
registry, and `-m MODEL` on the vector commands (unseen words, eval similarity's two conventions, convert)."""

from __future__ import annotations

import json
import subprocess
import sys
import types

import numpy as np
import pytest

from seqkit import subword
from seqkit.errors import DataError, SeqkitError
from seqkit.plugins import Registry
from tests.reference import subword as reference

WORDS = ["</s>", "the", "cat", "dog", "école", "猫", "😀", "naïve"]
PROBES = [*WORDS, "cats", "unseen", "écoles", "猫猫", "😀😀", "Ünïcödé", "x", ""]
BUCKETS, MINN, MAXN, DIM = 40, 2, 4, 5


@pytest.fixture(scope="module")
def model() -> subword.SubwordModel:
    rng = np.random.default_rng(7)
    return subword.SubwordModel(WORDS, rng.standard_normal((len(WORDS) + BUCKETS, DIM)).astype(np.float32),
                                minn=MINN, maxn=MAXN, buckets=BUCKETS, counts=np.arange(len(WORDS), 0, -1),
                                output_matrix=rng.standard_normal((len(WORDS), DIM)).astype(np.float32))


@pytest.fixture(scope="module")
def model_bin(model, tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("sub") / "m.bin"
    subword.save_model(model, str(path), "fasttext-bin")
    return str(path)


def test_hashes_equal_seqkit_hashing_and_the_reference():
    from seqkit.hashing import char_ngram_buckets, word_hash

    for word in PROBES:
        assert subword.fnv1a(word.encode()) == word_hash(word) == reference.fnv1a_signed_bytes(word.encode())
        expected = char_ngram_buckets(word, MINN, MAXN, 1000).tolist()
        assert [h % 1000 for h in subword.ngram_hashes(word, MINN, MAXN)] == expected, word
    assert subword.ngram_hashes("ab", 0, 0) == [] and subword.ngram_hashes("ab", 3, 2) == []


def test_word_vector_is_fasttexts_rule(model):
    for word in PROBES:
        expected = reference.word_vector(WORDS, model.input_matrix, word, MINN, MAXN, BUCKETS)
        np.testing.assert_allclose(model.word_vector(word), expected, atol=1e-6, err_msg=word)
    assert model.rows("cat")[0] == WORDS.index("cat") and WORDS.index("cat") not in model.rows("cats")
    assert model.rows("</s>") == [0]                       # the end of line has no n-grams
    assert len(model.ngram_rows("")) == 1                  # `<>` itself, as fastText has it
    plain = subword.SubwordModel(WORDS, model.input_matrix[:len(WORDS)], minn=0, maxn=0, buckets=0)
    assert not plain.knows("cats") and not plain.word_vector("cats").any()  # nothing to build it from
    np.testing.assert_allclose(model.vocab_vectors()[4], model.word_vector("école"))


def test_npz_round_trip_and_validation(model, tmp_path):
    path = tmp_path / "m.npz"
    with open(path, "wb") as out:
        model.save(out)
    loaded = subword.load_vector_model(str(path))
    assert loaded.words == WORDS and (loaded.minn, loaded.maxn, loaded.buckets) == (MINN, MAXN, BUCKETS)
    for word in PROBES:
        np.testing.assert_array_equal(loaded.word_vector(word), model.word_vector(word))
    with np.load(path) as archive:
        arrays = {name: archive[name] for name in archive.files}
    meta = json.loads(arrays["meta"].tobytes())
    meta["buckets"] = 10 ** 9  # the stored matrix no longer fits: refused before reading it
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    bad = tmp_path / "bad.npz"
    np.savez(bad, **arrays)
    with pytest.raises(DataError, match="entry input has shape"):
        subword.load_vector_model(str(bad))


def test_loader_sniffs_by_content_and_asks_the_registry(model_bin, tmp_path, monkeypatch):
    renamed = tmp_path / "model.npz"
    renamed.write_bytes(open(model_bin, "rb").read())
    assert subword.load_vector_model(str(renamed)).words == WORDS  # the magic decides, not the suffix
    text = tmp_path / "v.txt"
    text.write_text("2 1\na 1\nb 2\n")
    with pytest.raises(SeqkitError, match="text starting '2 1', not a vector model"):
        subword.load_vector_model(str(text))
    with pytest.raises(SeqkitError, match="no such file"):
        subword.load_vector_model(str(tmp_path / "missing.bin"))

    class Constant:
        words, dim = ["a"], 2

        def word_vector(self, word):
            return np.ones(2, np.float32)

        def vocab_vectors(self):
            return np.ones((1, 2), np.float32)

    fmt = types.SimpleNamespace(name="const", sniff=lambda p: p.endswith(".txt"), load=lambda p: Constant())
    registry = Registry()
    registry.add_vector_model(fmt)
    with pytest.raises(TypeError):
        registry.add_vector_model(object())
    monkeypatch.setattr("seqkit.plugins.load_registry", lambda: registry)
    assert isinstance(subword.load_vector_model(str(text)), Constant)


def _seqkit(*args, stdin: str = ""):
    return subprocess.run([sys.executable, "-m", "seqkit", *args], input=stdin, capture_output=True, text=True,
                          timeout=120)


def test_print_vectors_similar_and_analogy_answer_unseen_words(model, model_bin):
    done = _seqkit("print-vectors", "-m", model_bin, "cats", "猫猫", "cat")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert [line.split(" ")[0] for line in lines] == ["cats", "猫猫", "cat"]
    for line in lines:
        word, *values = line.split(" ")
        np.testing.assert_allclose(np.array(values, float), model.word_vector(word), rtol=1e-5, atol=1e-6)
    done = _seqkit("similar", "-m", model_bin, "-k", "2", "cats")
    assert done.returncode == 0, done.stderr
    unit = model.vocab_vectors() / np.linalg.norm(model.vocab_vectors(), axis=1)[:, None]
    query = model.word_vector("cats") / np.linalg.norm(model.word_vector("cats"))
    best = [WORDS[i] for i in np.argsort(-(unit @ query))[:2]]
    assert [line.split("\t")[1] for line in done.stdout.splitlines()] == best
    done = _seqkit("analogy", "-m", model_bin, "cats", "dog", "猫猫", "-k", "1")
    assert done.returncode == 0 and done.stdout.startswith("cats dog 猫猫\t"), done.stderr
    assert _seqkit("similar", "-v", model_bin.replace(".bin", ".txt"), "cats").returncode != 0


def test_eval_similarity_reports_both_conventions(model_bin, tmp_path):
    pairs = tmp_path / "pairs.tsv"
    pairs.write_text("cat\tdog\t8\nthe\tcat\t2\nnaïve\tthe\t1\ncats\tdog\t7\nunseen\tcat\t3\n", encoding="utf-8")
    done = _seqkit("eval", "similarity", "-m", model_bin, str(pairs), "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["pairs"] == 3 and result["oov_pairs"] == 2
    assert result["subword"]["pairs"] == 5 and result["subword"]["oov_pairs"] == 2  # every pair is scored
    assert result["subword"]["oov_ratio"] == result["oov_ratio"] == 40.0
    assert result["subword"]["spearman"] != result["spearman"]


def test_convert_model_to_text_npz_and_back(model, model_bin, tmp_path):
    vec, npz, back = tmp_path / "v.vec", tmp_path / "m.npz", tmp_path / "back.bin"
    assert _seqkit("convert", model_bin, str(vec), "-q").returncode == 0
    assert vec.read_text(encoding="utf-8").splitlines()[0] == f"{len(WORDS)} {DIM}"
    assert _seqkit("convert", model_bin, str(npz), "--to", "subword", "-q").returncode == 0
    assert _seqkit("convert", str(npz), str(back), "--to", "fasttext-bin", "-q").returncode == 0
    assert back.read_bytes() == open(model_bin, "rb").read()
    refused = _seqkit("convert", str(vec), str(tmp_path / "x.bin"), "--to", "fasttext-bin")
    assert refused.returncode == 2 and "needs a subword model" in refused.stderr


def test_damaged_bin_on_the_command_line_is_one_line_exit_1(model_bin, tmp_path):
    data = open(model_bin, "rb").read()
    for name, damaged in [("short.bin", data[:100]), ("long.bin", data + b"x"),
                          ("magic.bin", b"\0\0\0\0" + data[4:])]:
        path = tmp_path / name
        path.write_bytes(damaged)
        done = _seqkit("print-vectors", "-m", str(path), "cat")
        assert done.returncode == 1 and done.stdout == "", done.stderr
        assert len(done.stderr.strip().splitlines()) == 1 and str(path) in done.stderr


def _npz_member(archive, name: str, shape: tuple, dtype: str, data: bytes) -> None:
    with archive.open(name + ".npy", "w", force_zip64=True) as handle:
        np.lib.format.write_array_header_2_0(handle, {"descr": dtype, "fortran_order": False, "shape": shape})
        handle.write(data)


def _crafted_npz(path, *, words, buckets: int, dim: int, input_bytes: bytes) -> str:
    """An .npz whose header promises (words + buckets) x dim values but whose data is `input_bytes`."""
    import zipfile

    meta = {"format": subword.FORMAT, "version": subword.VERSION, "minn": 2, "maxn": 3, "buckets": buckets,
            "dim": dim, "words": words, "settings": {}}
    with zipfile.ZipFile(path, "w") as archive:
        _npz_member(archive, "input", (len(words) + buckets, dim), "<f4", input_bytes)
        _npz_member(archive, "counts", (len(words),), "<i8", b"\0" * 8 * len(words))
        raw = json.dumps(meta).encode()
        _npz_member(archive, "meta", (len(raw),), "|u1", raw)
    return str(path)


def test_damaged_npz_is_refused_before_any_large_allocation(model, tmp_path):
    huge = _crafted_npz(tmp_path / "huge.npz", words=["a"], buckets=10 ** 9, dim=8, input_bytes=b"\0" * 64)
    with pytest.raises(DataError, match="entry input is damaged or truncated"):  # 32 GB promised, 64 bytes stored
        subword.load_vector_model(huge)
    short = _crafted_npz(tmp_path / "short.npz", words=["a"], buckets=10, dim=4, input_bytes=b"\0" * 20)
    with pytest.raises(DataError, match="entry input is damaged or truncated"):
        subword.load_vector_model(short)
    names = _crafted_npz(tmp_path / "names.npz", words=["a", 5], buckets=10, dim=4, input_bytes=b"\0" * 192)
    with pytest.raises(DataError, match="list of strings"):
        subword.load_vector_model(names)
    good = tmp_path / "good.npz"
    with open(good, "wb") as out:
        model.save(out)
    data = bytearray(good.read_bytes())
    at = data.index(b"input.npy") + 200  # inside the input array's data: its CRC no longer matches
    data[at:at + 8] = bytes(255 - b for b in data[at:at + 8])
    flipped = tmp_path / "flipped.npz"
    flipped.write_bytes(bytes(data))
    with pytest.raises(DataError, match="entry input is damaged"):
        subword.load_vector_model(str(flipped))
    done = _seqkit("print-vectors", "-m", str(flipped), "cat")
    assert done.returncode == 1 and done.stderr.count("\n") == 1 and "internal error" not in done.stderr


def test_query_lines_with_invalid_utf8_name_the_line(model_bin, tmp_path):
    done = subprocess.run([sys.executable, "-m", "seqkit", "print-vectors", "-m", model_bin],
                          input=b"cat\ncaf\xe9\n", capture_output=True, timeout=120)
    assert done.returncode == 1 and b"<stdin>:2: invalid UTF-8 (byte e9" in done.stderr, done.stderr
    assert done.stderr.count(b"\n") == 1
    text = tmp_path / "lines.txt"
    text.write_bytes(b"the cat\nna\xefve dog\n")
    done = _seqkit("sentence-vectors", "-m", model_bin, str(text))
    assert done.returncode == 1 and f"{text}:2: invalid UTF-8 (byte ef" in done.stderr, done.stderr
    done = _seqkit("sentence-vectors", "-m", model_bin, str(text), "--errors", "replace")
    assert done.returncode == 0 and len(done.stdout.splitlines()) == 2, done.stderr


def test_ignore_case_with_a_model_still_builds_unseen_words(model, model_bin):
    done = _seqkit("print-vectors", "-m", model_bin, "-i", "CAT", "Cats")
    assert done.returncode == 0, done.stderr
    (first, *cat), (second, *cats) = (line.split(" ") for line in done.stdout.splitlines())
    np.testing.assert_allclose(np.array(cat, float), model.word_vector("cat"), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.array(cats, float), model.word_vector("Cats"), rtol=1e-5, atol=1e-6)


def test_a_model_given_as_vectors_points_to_dash_m(model, model_bin, tmp_path):
    npz = tmp_path / "m.npz"
    with open(npz, "wb") as out:
        model.save(out)
    for path, what in ((model_bin, "a fastText model"), (str(npz), "a subword model")):
        done = _seqkit("similar", "-v", path, "cat")
        assert done.returncode == 1 and what in done.stderr and "-m" in done.stderr, done.stderr


def test_a_model_from_stdin_is_a_usage_error():
    done = _seqkit("print-vectors", "-m", "-", "cat", stdin="")
    assert done.returncode == 2 and "a model is read from a file" in done.stderr
