"""fastText's `.bin`: read against real fastText (word vectors, unseen words, supervised predictions),
written so that fastText and gensim load it, and refused cleanly when damaged."""

from __future__ import annotations

import io
import random
import struct
import tracemalloc

import numpy as np
import pytest

from seqkit import fasttext_bin, subword
from seqkit.errors import DataError

fasttext = pytest.importorskip("fasttext")
fasttext.FastText.eprint = lambda *a: None  # its load_model warning is noise here

VOCAB = ["chat", "chien", "école", "été", "naïve", "猫", "犬", "😀", "the", "a", "and", "über", "straße",
         *(f"w{i}" for i in range(40))]
PROBES = ["chat", "école", "猫", "😀", "über", "w7", "unseenword", "naïveté", "犬猫", "😀😀", "Ünïcödé", "x", "",
          "</s>"]
LABELS = ["pos", "neg", "mid", "odd"]


@pytest.fixture(scope="module")
def corpora(tmp_path_factory):
    root = tmp_path_factory.mktemp("ft")
    rng = random.Random(0)
    plain, sup = root / "corpus.txt", root / "sup.txt"
    plain.write_text("".join(" ".join(rng.choice(VOCAB) for _ in range(12)) + "\n" for _ in range(300)),
                     encoding="utf-8")
    lines = []
    for _ in range(300):
        label = rng.choice(LABELS)
        pool = VOCAB[:20] if label in ("pos", "odd") else VOCAB[10:]
        lines.append(f"__label__{label} " + " ".join(rng.choice(pool) for _ in range(8)))
    sup.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return root, plain, sup, lines


@pytest.fixture(scope="module")
def skipgram(corpora):
    root, plain, _, _ = corpora
    model = fasttext.train_unsupervised(str(plain), model="skipgram", dim=8, minn=2, maxn=4, bucket=500,
                                        epoch=1, minCount=1, thread=1, verbose=0)
    path = root / "sg.bin"
    model.save_model(str(path))
    return model, path


def test_hash_and_ngram_ids_equal_fasttexts(skipgram):
    ft, path = skipgram
    model = subword.load_vector_model(str(path))
    from seqkit.hashing import word_hash

    for word in PROBES:
        assert subword.fnv1a(word.encode()) == word_hash(word)
        _, ids = ft.get_subwords(word)
        assert model.rows(word) == list(ids), word
    assert subword.fnv1a(b"a") == 0xE40C292C  # plain FNV-1a for ASCII; bytes >= 0x80 differ (sign-extended)


def test_word_vectors_equal_fasttexts_known_and_unseen(skipgram):
    ft, path = skipgram
    model = subword.load_vector_model(str(path))
    assert model.words == ft.get_words(include_freq=False)
    unseen = [w for w in PROBES if w not in model.index]
    assert len(unseen) >= 5
    for word in PROBES:
        np.testing.assert_allclose(model.word_vector(word), ft.get_word_vector(word), atol=1e-6, err_msg=word)
    np.testing.assert_allclose(model.vocab_vectors(), np.array([ft.get_word_vector(w) for w in model.words]),
                               atol=1e-6)


def test_read_then_write_is_byte_identical(skipgram, corpora):
    _, path = skipgram
    out = io.BytesIO()
    fasttext_bin.write(out, fasttext_bin.read(str(path)))
    assert out.getvalue() == path.read_bytes()


def _seqkit_model() -> fasttext_bin.FastTextModel:
    rng = np.random.default_rng(0)
    words = ["</s>", "the", "école", "猫", "😀", "naïve"]
    args = fasttext_bin.FastTextArgs(dim=6, bucket=50, minn=2, maxn=4, min_count=1)
    return fasttext_bin.unsupervised(words, [10, 8, 5, 3, 2, 1],
                                     rng.standard_normal((len(words) + 50, 6)).astype(np.float32),
                                     rng.standard_normal((len(words), 6)).astype(np.float32), args)


def test_written_model_loads_in_fasttext_and_gensim(tmp_path):
    made = _seqkit_model()
    path = tmp_path / "mine.bin"
    with open(path, "wb") as out:
        fasttext_bin.write(out, made)
    ours = subword.SubwordModel.from_fasttext(made)
    ft = fasttext.load_model(str(path))
    probes = ["the", "école", "猫", "😀", "naïve", "unseen", "écoles", "猫猫"]
    assert ft.get_words(include_freq=False) == made.words
    for word in ["</s>", *probes]:
        np.testing.assert_allclose(ft.get_word_vector(word), ours.word_vector(word), atol=1e-6, err_msg=word)
    gensim_fasttext = pytest.importorskip("gensim.models.fasttext")
    loaded = gensim_fasttext.load_facebook_model(str(path))
    for word in probes:  # gensim gives `</s>` n-grams, which fastText does not: left out
        np.testing.assert_allclose(loaded.wv[word], ours.word_vector(word), atol=1e-6, err_msg=word)


@pytest.mark.parametrize("loss", ["softmax", "ova", "hs", "ns"])
def test_supervised_predictions_equal_fasttexts(corpora, loss):
    from seqkit.fasttext_predict import FastTextClassifier

    root, _, sup, lines = corpora
    ft = fasttext.train_supervised(str(sup), dim=8, bucket=300, epoch=3, minCount=1, wordNgrams=2, minn=2,
                                   maxn=3, thread=1, verbose=0, loss=loss)
    path = root / f"sup-{loss}.bin"
    ft.save_model(str(path))
    clf = FastTextClassifier(fasttext_bin.read(str(path)))
    assert clf.labels == ft.get_labels(include_freq=False) and clf.label_prefix == "__label__"
    for line in [*lines[:120], "unseen zzz école"]:
        words = [t for t in line.split() if not t.startswith("__label__")]
        for k in (1, 3):
            expected = ft.f.predict(" ".join(words) + "\n", k, 0.0, "strict")  # ft.predict needs NumPy < 2
            got = clf.predict(words, k, 0.0)
            assert [label for _, label in expected] == [label for label, _ in got], (line, k)
            np.testing.assert_allclose([p for p, _ in expected], [p for _, p in got], atol=1e-6)
        np.testing.assert_allclose(clf.sentence_vector(words), ft.get_sentence_vector(" ".join(words)), atol=1e-6)


def test_a_bin_trained_with_another_label_prefix_tells_labels_apart_as_fasttext(corpora, cli_run, tmp_path):
    """A `.bin` does not store its label prefix: a loaded model's labels are its dictionary's label entries,
    and an unknown token is a label only with fastText's default prefix, so `#swonderful` is a word here
    (a prefix guessed from the labels, `#s`, dropped it)."""
    root, _, _, lines = corpora
    hashed = tmp_path / "hash.txt"
    hashed.write_text("".join(line.replace("__label__pos", "#spos").replace("__label__neg", "#sneg")
                              .replace("__label__mid", "#smid").replace("__label__odd", "#sodd") + "\n"
                              for line in lines), encoding="utf-8")
    ft = fasttext.train_supervised(str(hashed), label="#", dim=8, bucket=300, epoch=3, minCount=1, wordNgrams=2,
                                   minn=2, maxn=3, thread=1, verbose=0)
    path = tmp_path / "hash.bin"
    ft.save_model(str(path))
    ft = fasttext.load_model(str(path))  # as loaded, not as trained: the trained model still knows its prefix
    probes = ["#swonderful #sgreat chat école", "__label__pos chat école", "#spos chat école", "chat #smid w3"]
    out = cli_run("predict", "-m", path, "-", "--prob", input="".join(p + "\n" for p in probes)).stdout
    for probe, line in zip(probes, out.splitlines()):
        (p, label), = ft.f.predict(probe + "\n", 1, 0.0, "strict")
        got_label, got_p = line.split(" ")
        assert got_label == label and abs(float(got_p) - p) < 1e-5, probe
    figures = dict(row.split("\t") for row in cli_run("test", "-m", path, hashed).stdout.splitlines())
    n, precision, _ = ft.test(str(hashed))
    assert int(figures["N"]) == n and abs(float(figures["P@1"]) - precision) < 1e-3


# --- damaged files -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def good_bytes() -> bytes:
    out = io.BytesIO()
    fasttext_bin.write(out, _seqkit_model())
    return out.getvalue()


def _expect_refused(data: bytes, *fragments: str) -> str:
    tracemalloc.start()
    try:
        with pytest.raises(DataError) as caught:
            fasttext_bin.parse(data, "bad.bin")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    message = str(caught.value)
    assert message.startswith("bad.bin: ") and "\n" not in message
    for fragment in fragments:
        assert fragment in message, message
    assert peak < 8 * len(data) + (1 << 20), peak  # refused from the header, before allocating what it claims
    return message


def test_truncated_anywhere_is_one_clear_error(good_bytes):
    for cut in sorted({0, 3, 7, 8, 30, 63, 64, 70, 100, len(good_bytes) // 2, len(good_bytes) - 1}):
        _expect_refused(good_bytes[:cut])


def test_wrong_magic_and_version(good_bytes):
    _expect_refused(struct.pack("<i", 12345) + good_bytes[4:], "magic number 12345")
    _expect_refused(good_bytes[:4] + struct.pack("<i", 13) + good_bytes[8:], "version 13")
    assert "not a fastText model" in _expect_refused(b"hello world, this is text\n")


def _patched(data: bytes, offset: int, fmt: str, value) -> bytes:
    buffer = bytearray(data)
    struct.pack_into(fmt, buffer, offset, value)
    return bytes(buffer)


def test_sizes_that_do_not_add_up(good_bytes):
    dict_at = 8 + 56
    _expect_refused(_patched(good_bytes, dict_at, "<i", 2_000_000_000), "dictionary")  # entries claimed
    _expect_refused(_patched(good_bytes, dict_at + 4, "<i", 5), "cannot hold")         # nwords != size
    _expect_refused(_patched(good_bytes, 8 + 32, "<i", 10 ** 9), "input matrix")       # buckets in args
    _expect_refused(_patched(good_bytes, 8, "<i", 7), "input matrix")                  # dim in args
    _expect_refused(_patched(good_bytes, 8, "<i", -1), "impossible settings")
    _expect_refused(good_bytes + b"\0\0\0\0", "unexpected bytes")
    matrix_at = good_bytes.index("naïve".encode() + b"\0") + len("naïve".encode()) + 1 + 9
    _expect_refused(_patched(good_bytes, matrix_at + 1, "<q", 1 << 40), "input matrix")
    _expect_refused(_patched(good_bytes, matrix_at, "<B", 1), "quantized")


def test_quantized_ftz_is_refused_with_a_clear_line(corpora):
    root, _, sup, _ = corpora
    ft = fasttext.train_supervised(str(sup), dim=8, bucket=300, epoch=1, minCount=1, wordNgrams=2, thread=1, verbose=0)
    ft.quantize(input=str(sup), retrain=False, cutoff=0, dsub=2, qnorm=False)
    path = root / "q.ftz"
    ft.save_model(str(path))
    with pytest.raises(DataError, match="quantized fastText model"):
        fasttext_bin.read(str(path))


def test_supervised_bin_through_seqkit_predict_and_test(corpora):
    import subprocess
    import sys

    root, _, sup, lines = corpora
    ft = fasttext.train_supervised(str(sup), dim=8, bucket=300, epoch=5, minCount=1, wordNgrams=2, thread=1,
                                   verbose=0)
    path = root / "cli.bin"
    ft.save_model(str(path))
    run = [sys.executable, "-m", "seqkit"]
    done = subprocess.run([*run, "test", "-m", str(path), str(sup)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    figures = dict(line.split("\t") for line in done.stdout.splitlines())
    n, precision, _ = ft.test(str(sup))
    assert int(figures["N"]) == n and abs(float(figures["P@1"]) - precision) < 1e-3
    text = "\n".join(" ".join(t for t in line.split() if not t.startswith("__label__")) for line in lines[:20])
    done = subprocess.run([*run, "predict", "-m", str(path), "-"], input=text + "\n", capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    expected = [ft.f.predict(line + "\n", 1, 0.0, "strict")[0][1] for line in text.splitlines()]
    assert done.stdout.split() == expected


def test_sentence_vectors_of_a_word_vector_model_equal_fasttexts(skipgram, cli_run, tmp_path):
    """fastText's print-sentence-vectors on an unsupervised model: the mean of unit-length word vectors."""
    ft, path = skipgram
    lines = ["chat w7 unseenword école", "x", "", "w1 w1 w2"]
    result = cli_run("sentence-vectors", "-m", path, input="\n".join(lines) + "\n")
    assert result.exit_code == 0, result.stderr
    printed = [np.array(row.split(), dtype=np.float64) for row in result.stdout.splitlines()]
    assert len(printed) == len(lines)
    for line, row in zip(lines, printed):
        np.testing.assert_allclose(row, ft.get_sentence_vector(line), rtol=2e-4, atol=2e-5, err_msg=line)
    damaged = tmp_path / "notamodel.txt"
    damaged.write_text("plain text\n")
    result = cli_run("sentence-vectors", "-m", damaged, input="x\n")
    assert result.exit_code == 1 and "not a classifier" in result.stderr and result.stderr.count("\n") == 1


def test_a_model_and_a_vector_file_together_are_a_usage_error(skipgram, cli_run, tmp_path):
    _, path = skipgram
    vectors = tmp_path / "v.txt"
    vectors.write_text("1 2\nchat 0.1 0.2\n")
    for command in (["print-vectors", "chat"], ["similar", "chat"], ["analogy", "a", "b", "c"]):
        result = cli_run(*command, "-m", path, "-v", vectors)
        assert result.exit_code == 2 and "alternatives" in result.stderr, command
    result = cli_run("print-vectors", "chat", "-m", path, env={"SEQKIT_VECTORS": str(vectors)})
    assert result.exit_code == 0 and result.stdout.startswith("chat ")


def test_a_supervised_bin_does_not_convert_to_a_subword_npz(corpora, cli_run, tmp_path):
    root, _, sup, _ = corpora
    ft = fasttext.train_supervised(str(sup), dim=8, bucket=300, epoch=1, minCount=1, minn=2, maxn=3, thread=1,
                                   verbose=0)
    path = root / "sup_convert.bin"
    ft.save_model(str(path))
    target = tmp_path / "sup.npz"
    result = cli_run("convert", path, target, "--to", "subword")
    assert result.exit_code == 1 and "supervised fastText model" in result.stderr and not target.exists()
    assert result.stderr.count("\n") == 1
    vectors = tmp_path / "sup.vec"  # its word vectors still convert
    assert cli_run("convert", path, vectors, "-q").exit_code == 0
    assert vectors.read_text(encoding="utf-8").split("\n")[0] == f"{len(ft.words)} 8"


def test_training_settings_survive_npz_and_bin_round_trips(corpora, tmp_path, cli_run):
    """A CBOW/hs model keeps its name through .npz and back to .bin (fastText reads the header's settings)."""
    root, plain, _, _ = corpora
    ft = fasttext.train_unsupervised(str(plain), model="cbow", loss="hs", dim=8, minn=2, maxn=4, bucket=500,
                                     epoch=2, minCount=2, ws=3, thread=1, verbose=0)
    source = root / "cbow_hs.bin"
    ft.save_model(str(source))
    npz, back = tmp_path / "m.npz", tmp_path / "back.bin"
    assert cli_run("convert", source, npz, "-q").exit_code == 0   # the .npz name asks for the whole model
    assert cli_run("convert", npz, back, "-q").exit_code == 0     # and .bin for fastText's
    args = fasttext.load_model(str(back)).f.getArgs()
    assert (str(args.model), str(args.loss)) == ("model_name.cbow", "loss_name.hs")
    assert (args.epoch, args.minCount, args.ws) == (2, 2, 3)
    assert back.read_bytes() == source.read_bytes()
    result = cli_run("convert", source, tmp_path / "cut.bin", "--limit", "3")
    assert result.exit_code == 2 and "--limit" in result.stderr
    vectors = tmp_path / "v.txt"
    vectors.write_text("1 2\nchat 0.1 0.2\n")
    result = cli_run("convert", vectors, tmp_path / "v.npz")
    assert result.exit_code == 2 and "needs a subword model IN" in result.stderr


def test_a_word_that_is_not_utf8_in_a_bin_is_printed_as_utf8(skipgram, tmp_path, cli_run):
    """fastText stores a word's raw bytes; outputs stay UTF-8 (U+FFFD for the bad byte)."""
    _, path = skipgram
    data = bytearray(path.read_bytes())
    at = data.index(b"chien\0")
    data[at + 4] = 0xFF  # `chie\xff`
    damaged = tmp_path / "latin1.bin"
    damaged.write_bytes(bytes(data))
    out = tmp_path / "v.vec"
    result = cli_run("convert", damaged, out, "-q")
    assert result.exit_code == 0, result.stderr
    words = [line.split(" ")[0] for line in out.read_text(encoding="utf-8").splitlines()[1:]]
    assert "chie\ufffd" in words and "chien" not in words


def test_the_kind_of_a_bin_comes_from_its_header(skipgram, corpora, cli_run, monkeypatch):
    """A skip-gram `.bin` given where a classifier or a language model is read is named as a subword model
    from its 64-byte header; its dictionary is never parsed (a real one has millions of words)."""
    from seqkit.fasttext_predict import FastTextClassifierFormat

    _, path = skipgram
    root, _, sup, _ = corpora
    supervised = root / "kind.bin"
    fasttext.train_supervised(str(sup), dim=4, bucket=100, epoch=1, minCount=1, thread=1, verbose=0) \
        .save_model(str(supervised))
    assert FastTextClassifierFormat.sniff(str(supervised)) and not FastTextClassifierFormat.sniff(str(path))
    assert fasttext_bin.sniff_unsupervised(str(path)) and not fasttext_bin.sniff_unsupervised(str(supervised))
    damaged = root / "kind-damaged.bin"
    data = bytearray(path.read_bytes())
    struct.pack_into("<i", data, 8 + 7 * 4, 9)  # the `model` setting: no such model
    damaged.write_bytes(bytes(data))
    assert FastTextClassifierFormat.sniff(str(damaged))  # claimed, so that loading it names the damage

    def no_parsing(*args, **kwargs):
        raise AssertionError("the dictionary was parsed")

    monkeypatch.setattr(fasttext_bin, "parse", no_parsing)
    for command, expected in ((["predict", "-m", path], "a subword model, not a classifier"),
                              (["perplexity", "-m", path], "a subword model, not a language model")):
        result = cli_run(*command, input="chat w7\n")
        assert result.exit_code == 1 and f"{path}: {expected}" in result.stderr, result.stderr
