"""word2vec with character n-grams (--minn/--maxn): the kernel against fastText's algorithm written plainly,
the n-gram table against seqkit.subword, model files that fastText and gensim load, options and quality."""

from __future__ import annotations

import hashlib
import lzma

import numpy as np
import pytest

from reference.subword_word2vec import reference_subword_chunk

WORDS = ["the", "aaaa", "of", "anana", "banana", "bandana", "x", "é𝄞é", "naan", "an", "to", "tototo"]
SUB = ["--minn", "3", "--maxn", "6", "--buckets", "20000"]


def _sample_lines(n: int) -> str:
    from seqkit.options import DATA_DIR

    with lzma.open(DATA_DIR / "sample.txt.xz", "rt", encoding="utf-8") as handle:
        return "".join(line for _, line in zip(range(n), handle))


@pytest.fixture(scope="module")
def small_corpus(tmp_path_factory):
    path = tmp_path_factory.mktemp("subword") / "head.txt"
    path.write_text(_sample_lines(20), encoding="utf-8")
    return path


def test_ngram_table_equals_seqkit_subword():
    from seqkit.subword import ngram_hashes
    from seqkit_word2vec.subword_train import subword_table

    words = WORDS + ["</s>"]
    table = subword_table(words, 2, 4, 7)
    nwords = len(words)
    for w, word in enumerate(words):
        rows = table.rows[table.offsets[w]:table.offsets[w + 1]].tolist()
        grams = [] if word == "</s>" else [h % 7 for h in ngram_hashes(word, 2, 4)]
        assert rows[0] == w  # the word's own row first, then its n-grams in fastText's order
        assert [int(table.bucket_ids[r - nwords]) for r in rows[1:]] == grams
        counts = np.unique(rows, return_counts=True)[1]
        assert table.shift[w] == pytest.approx((counts ** 2).sum() / len(rows))
    assert len(set(table.bucket_ids)) == len(table.bucket_ids)
    assert table.shift.max() > 1  # 7 buckets: some word repeats a row, which the kernel's shift must cover


def _problem(skip_gram: bool, loss: str, cbow_mean: bool = True):
    from seqkit.sampling import alias_table, huffman_tree, keep_probabilities
    from seqkit_word2vec.kernels import Chunk, Settings, Tables, Weights, sigmoid_tables
    from seqkit_word2vec.subword_train import subword_table

    rng = np.random.default_rng(3)
    counts = np.sort(rng.integers(1, 50, len(WORDS)))[::-1].astype(np.int64)
    table = subword_table(WORDS, 2, 4, 7)
    dim = 8
    win = (rng.random((table.compact_rows, dim), dtype=np.float32) - 0.5).astype(np.float32)
    out = (rng.random((len(WORDS), dim), dtype=np.float32) * 0.2).astype(np.float32)
    hs, negative = "hs" in loss, 3 if "ns" in loss else 0
    if hs:
        tree = huffman_tree(counts)
        codes, points, code_offsets = tree.codes, tree.points, tree.offsets
        nodes = (rng.random((len(WORDS) - 1, dim), dtype=np.float32) * 0.2).astype(np.float32)
    else:
        codes, points, code_offsets = np.zeros(1, np.uint8), np.zeros(1, np.int32), np.zeros(len(WORDS) + 1, np.int64)
        nodes = np.zeros((1, dim), np.float32)
    prob, alias = alias_table(counts)
    tables = Tables(keep_probabilities(counts, 0.05), prob, alias, codes, points, code_offsets, *sigmoid_tables())
    lr = 0.3 if cbow_mean else 0.01  # a sum over every context word's rows needs small steps
    settings = Settings(skip_gram, hs, negative, cbow_mean, 3, dim, lr, lr / 30, 1000.0)
    ids = rng.integers(0, len(WORDS), 80).astype(np.int32)
    chunk = Chunk(ids, np.array([0, 30, 31, 80], np.int64), 100, 12345)
    return chunk, Weights(win, out, nodes), tables, settings, table.kernel_form()


@pytest.mark.parametrize("skip_gram,loss,cbow_mean", [(True, "ns", True), (False, "ns", True), (True, "hs", True),
                                                      (False, "hs", True), (True, "ns+hs", True),
                                                      (False, "ns", False)])
def test_kernel_equals_fasttexts_updates_written_plainly(skip_gram, loss, cbow_mean):
    from seqkit_word2vec.subword_kernels import NO_HOT_ROWS, train_chunk_subword

    chunk, start, tables, settings, subwords = _problem(skip_gram, loss, cbow_mean)
    got = type(start)(*(m.copy() for m in start))
    got_loss, terms, raw, trained = train_chunk_subword(chunk, got, tables, settings, subwords, NO_HOT_ROWS)
    want = type(start)(*(m.copy() for m in start))
    want_loss = reference_subword_chunk(chunk, want, tables, settings, subwords)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-5)
    assert got_loss == pytest.approx(want_loss, rel=1e-3)  # table-index rounding may differ by one slot
    assert raw == 80 and 0 < trained <= 80 and terms > 0
    assert not np.allclose(got.input[len(WORDS):], start.input[len(WORDS):])  # the n-gram rows learned too


@pytest.mark.parametrize("skip_gram", [True, False])
def test_a_saturated_tree_node_gets_fasttexts_full_step(skip_gram):
    """Tree nodes so large that every score is beyond +-6: a node whose code says "no" is then far on the
    wrong side, where fastText steps by the whole rate (word2vec.c would skip it)."""
    from seqkit_word2vec.subword_kernels import NO_HOT_ROWS, train_chunk_subword

    chunk, start, tables, settings, subwords = _problem(skip_gram, "hs", True)
    start = type(start)(start.input, start.output, start.nodes * np.float32(400.0))
    got = type(start)(*(m.copy() for m in start))
    train_chunk_subword(chunk, got, tables, settings, subwords, NO_HOT_ROWS)
    want = type(start)(*(m.copy() for m in start))
    reference_subword_chunk(chunk, want, tables, settings, subwords)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=2e-4, atol=1e-4)  # large values, float32 sums in other orders
    assert not np.allclose(got.nodes, start.nodes)  # only the saturated steps can have moved them


def test_full_input_holds_trained_rows_and_the_seeds_initial_values_elsewhere():
    from seqkit_word2vec.subword_train import FullInput, initial_rows, subword_table

    table = subword_table(WORDS, 3, 5, 10000)
    compact = np.random.default_rng(0).random((table.compact_rows, 4), dtype=np.float32)
    full = FullInput(compact, table, seed=9)
    whole = np.concatenate([full[lo:lo + 777] for lo in range(0, len(full), 777)])  # awkward block sizes
    assert whole.shape == (len(WORDS) + 10000, 4)
    np.testing.assert_array_equal(whole[:len(WORDS)], compact[:len(WORDS)])
    np.testing.assert_array_equal(whole[len(WORDS) + table.bucket_ids], compact[len(WORDS):])
    unused = np.setdiff1d(np.arange(len(WORDS), len(full)), len(WORDS) + table.bucket_ids)
    np.testing.assert_array_equal(whole[unused], initial_rows(9, unused, 4))
    assert np.abs(whole[unused]).max() <= 1 / 4 and np.abs(whole[unused]).min() > 0


@pytest.mark.parametrize("mode,expected", [
    (["--model", "sg", "--loss", "ns"], "c59e8010f981506fe32b6551e9cbf7bb51b46c3aa72034154550a17d861692dd"),
    (["--model", "cbow", "--loss", "hs"], "e528b98f8bed132fe82ba77fca72e524de363c04f48abee55383e58df84e402c"),
])
def test_without_ngrams_the_output_is_what_it_was(tmp_path, cli_run, mode, expected):
    """Hashes written by word2vec before subword training existed (same machine type; --threads 1)."""
    corpus = tmp_path / "head.txt"
    corpus.write_text(_sample_lines(50), encoding="utf-8")
    out = tmp_path / "v.txt"
    result = cli_run("word2vec", corpus, "-o", out, *mode, "--threads", "1", "--seed", "5", "--epochs", "1", "-q",
                     "--dim", "16", "--min-count", "3", "--minn", "0", "--maxn", "0")
    assert result.exit_code == 0, result.output
    assert hashlib.sha256(out.read_bytes()).hexdigest() == expected


def test_one_thread_with_a_seed_is_reproducible_across_processes(tmp_path, seqkit_proc, small_corpus):
    outputs = []
    for run in range(2):
        out = tmp_path / f"m{run}.npz"
        proc = seqkit_proc("word2vec", small_corpus, "-o", out, *SUB, "--dim", "12", "--epochs", "1", "--threads", "1",
                           "--seed", "7", "--min-count", "2", "-q")
        assert proc.returncode == 0, proc.stderr.decode()
        assert proc.stderr == b""
        outputs.append(out.read_bytes())
    assert outputs[0] == outputs[1]


@pytest.mark.parametrize("model,loss", [("sg", "ns"), ("cbow", "ns"), ("sg", "hs"), ("cbow", "hs")])
def test_saved_models_give_the_written_vectors_and_load_in_fasttext(tmp_path, cli_run, small_corpus, model, loss):
    from seqkit.subword import load_vector_model
    from seqkit.vectors import Embeddings

    vecs, npz, binary = tmp_path / "v.txt", tmp_path / "m.npz", tmp_path / "m.bin"
    common = [small_corpus, *SUB, "--dim", "12", "--epochs", "1", "--threads", "1", "--seed", "3", "--min-count",
              "2", "--model", model, "--loss", loss]
    result = cli_run("word2vec", *common, "-o", vecs, "--save-model", npz)
    assert result.exit_code == 0, result.output
    assert f"word2vec {model}-{loss} with 3-6 character n-grams" in result.stderr
    assert "20,000 buckets" in result.stderr and "in use" in result.stderr
    assert cli_run("word2vec", *common, "-o", binary, "-q").exit_code == 0  # by extension: the model, no text
    text = Embeddings.load(str(vecs))
    for path in (npz, binary):
        loaded = load_vector_model(str(path))
        assert loaded.words == text.words
        np.testing.assert_allclose(loaded.vocab_vectors(), text.matrix, atol=1e-5)
    fasttext = pytest.importorskip("fasttext")
    ft = fasttext.load_model(str(binary))
    ours = load_vector_model(str(binary))
    unseen = "unforeseeablyness"
    assert unseen not in ours.words
    for word in [text.words[0], text.words[-1], unseen]:
        np.testing.assert_allclose(ft.get_word_vector(word), ours.word_vector(word), atol=1e-5)
    assert np.linalg.norm(ours.word_vector(unseen)) > 0


def test_gensim_loads_the_bin(tmp_path, cli_run, small_corpus):
    gensim_fasttext = pytest.importorskip("gensim.models.fasttext")
    from seqkit.subword import load_vector_model

    path = tmp_path / "m.bin"
    assert cli_run("word2vec", small_corpus, "-o", path, *SUB, "--dim", "12", "--epochs", "1", "--min-count", "2",
                   "-q").exit_code == 0
    loaded = gensim_fasttext.load_facebook_model(str(path))
    ours = load_vector_model(str(path))
    for word in [ours.words[0], "unforeseeablyness"]:
        np.testing.assert_allclose(loaded.wv[word], ours.word_vector(word), atol=1e-5)


def test_read_vocab_and_a_subprocess_run(tmp_path, cli_run, seqkit_proc, small_corpus):
    vocab = tmp_path / "vocab.txt"
    assert cli_run("vocab", small_corpus, "-o", vocab).exit_code == 0
    out = tmp_path / "v.txt"
    proc = seqkit_proc("word2vec", small_corpus, "-o", out, *SUB, "--read-vocab", vocab, "--min-count", "3",
                       "--dim", "8", "--epochs", "1", "--model", "cbow")
    assert proc.returncode == 0, proc.stderr.decode()
    assert b"cbow-ns with 3-6 character n-grams" in proc.stderr and proc.stdout == b""
    header = out.read_text(encoding="utf-8").split("\n", 1)[0]
    counts = [int(line.rsplit(" ", 1)[1]) for line in vocab.read_text(encoding="utf-8").splitlines()]
    assert header == f"{sum(c >= 3 for c in counts)} 8"


@pytest.mark.parametrize("args,message", [
    (["--minn", "4", "--maxn", "3"], "--minn 4 is greater than --maxn 3"),
    (["--minn", "3"], "--minn 3 needs --maxn >= 3"),
    (["--minn", "0", "--maxn", "5"], "--maxn needs --minn >= 1"),
    (["--minn", "3", "--maxn", "6", "--buckets", "0"], "--buckets >= 1"),
    (["--minn", "3", "--maxn", "6", "--batch-negatives"], "--batch-negatives does not work"),
    (["--save-model", "m.npz"], "--save-model needs character n-grams"),
    (["--minn", "3", "--maxn", "6", "--save-model", "m.txt"], "--save-model takes a .npz"),
    (["--buckets", "5"], "--buckets hashes character n-grams"),
    (["--cbow-sum"], "--cbow-sum is for --model cbow"),
    (["--loss", "ns+hs", "--negative", "0"], "--loss ns+hs needs --negative >= 1"),
])
def test_usage_errors(tmp_path, cli_run, small_corpus, args, message):
    result = cli_run("word2vec", small_corpus, "-o", tmp_path / "v.txt", *args)
    assert result.exit_code == 2
    assert message in result.stderr
    assert not (tmp_path / "v.txt").exists()


def test_binary_with_a_model_output_is_refused(tmp_path, cli_run, small_corpus):
    result = cli_run("word2vec", small_corpus, "-o", tmp_path / "m.bin", *SUB, "--binary")
    assert result.exit_code == 2 and "--binary is for word2vec binary vectors" in result.stderr


def test_a_misspelling_finds_the_word(tmp_path, cli_run):
    """Quality: on the bundled sample corpus (1M words), unseen misspellings get vectors near the words."""
    from seqkit.options import DATA_DIR
    from seqkit.subword import model_embeddings

    model = tmp_path / "m.npz"
    result = cli_run("word2vec", DATA_DIR / "sample.txt.xz", "-o", model, "--minn", "3", "--maxn", "6", "--buckets",
                     "200000", "--dim", "50", "--epochs", "2", "--threads", "1", "--seed", "1", "-q")
    assert result.exit_code == 0, result.output
    table = model_embeddings(str(model))
    for typo, word in [("goverment", "government"), ("presidnet", "president"), ("footbal", "football")]:
        assert table.row(typo) is None  # unseen: built from its n-grams alone
        assert word in [w for w, _ in table.nearest(typo, 10)], (typo, table.nearest(typo, 10))


def test_kernel_refuses_rows_outside_the_matrix():
    from seqkit_word2vec.subword_kernels import NO_HOT_ROWS, Subwords, train_chunk_subword

    chunk, weights, tables, settings, subwords = _problem(True, "ns")
    bad = subwords.rows.copy()
    bad[-1] = weights.input.shape[0]
    with pytest.raises(ValueError, match="outside the input matrix"):
        train_chunk_subword(chunk, weights, tables, settings, Subwords(subwords.offsets, bad, subwords.shift),
                            NO_HOT_ROWS)


def test_memory_estimate_counts_only_the_buckets_in_use(tmp_path, cli_run, small_corpus):
    result = cli_run("word2vec", small_corpus, "-o", tmp_path / "v.txt", "--minn", "3", "--maxn", "6", "--dim", "8",
                     "--epochs", "1", "--min-count", "2")
    assert result.exit_code == 0, result.output
    line = next(line for line in result.stderr.splitlines() if "model needs about" in line)
    from seqkit.memory import memory_estimate

    words, used = _words_and_buckets(line)
    # rows padded to 16 float32 at dim 8: the words' and the used buckets' input rows, the words' output rows
    assert f"model needs about {memory_estimate(2 * words + used, 16, 1)} " in line
    assert f"every bucket kept, about {memory_estimate(2 * words + 2_000_000, 8, 1)})" in line


def _words_and_buckets(line: str) -> tuple[int, int]:
    import re

    words = re.search(r"([\d,]+) of [\d,]+ word types", line).group(1)
    used = re.search(r"([\d,]+) of 2,000,000 n-gram buckets in use", line).group(1)
    return int(words.replace(",", "")), int(used.replace(",", ""))


@pytest.mark.parametrize("skip_gram", [True, False])
def test_replicated_hot_rows_train_like_the_shared_ones_on_one_thread(skip_gram):
    """A thread's replica of the most used rows, merged every few positions, changes nothing on one thread
    (bar rounding); a wrong redirection or merge would move the rows far apart."""
    from seqkit_word2vec.subword_kernels import HotRows, Subwords, train_chunk_subword

    chunk, start, tables, settings, subwords = _problem(skip_gram, "ns")
    rows = len(start.input)
    hot_ids = np.array([0, 2, len(WORDS), len(WORDS) + 3], np.int64)  # two words' rows and two n-grams'
    slot = np.full(rows, -1)
    slot[hot_ids] = np.arange(len(hot_ids))
    redirected = np.where(slot[subwords.rows] >= 0, rows + slot[subwords.rows], subwords.rows).astype(np.int32)
    got = type(start)(np.vstack([start.input, np.full((len(hot_ids), start.input.shape[1]), 7, np.float32)]),
                      start.output.copy(), start.nodes.copy())
    train_chunk_subword(chunk, got, tables, settings, Subwords(subwords.offsets, redirected, subwords.shift),
                        HotRows(hot_ids, rows, 5))
    want = type(start)(*(m.copy() for m in start))
    reference_subword_chunk(chunk, want, tables, settings, subwords)
    np.testing.assert_allclose(got.input[:rows], want.input, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(got.output, want.output, rtol=1e-5, atol=1e-5)
    assert (redirected != subwords.rows).any()


def test_hot_rows_are_the_most_used(small_corpus):
    from seqkit.vocabulary import Vocabulary
    from seqkit_word2vec.subword_train import hot_rows, subword_table

    vocab = Vocabulary(["the", "then", "cat"], [100, 10, 1])
    table = subword_table(vocab.words, 3, 3, 1000)
    hot = hot_rows(vocab, table, 2)
    the_rows = table.rows[table.offsets[0]:table.offsets[1]]
    shared = set(the_rows) & set(table.rows[table.offsets[1]:table.offsets[2]])  # `<th`, `the`: 110 uses each
    assert set(hot) == shared and len(shared) == 2


def test_mean_shift_counts_repeated_rows_and_stays_fast_on_long_words():
    """`mean_shifts` is sum(multiplicity^2) / rows per word (the mean's move per unit of gradient)."""
    from seqkit_word2vec.subword_kernels import mean_shifts

    rng = np.random.default_rng(3)
    sizes = rng.integers(0, 30, 200)
    offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    rows = rng.integers(0, 8, int(offsets[-1])).astype(np.int32)
    expected = np.ones(len(sizes), np.float32)
    for w in range(len(sizes)):
        counts = np.unique(rows[offsets[w]:offsets[w + 1]], return_counts=True)[1]
        if counts.size:
            expected[w] = (counts ** 2).sum() / counts.sum()
    np.testing.assert_allclose(mean_shifts(offsets, rows), expected, rtol=1e-6)
    long_word = (np.arange(2_000_000) % 1000).astype(np.int32)  # quadratic counting would take hours here
    assert mean_shifts(np.array([0, long_word.size], np.int64), long_word)[0] == 2000.0


def test_output_names_mean_what_convert_reads_them_as(tmp_path, cli_run, small_corpus):
    from seqkit.vector_text import parse

    out = tmp_path / "v.bin"
    result = cli_run("word2vec", small_corpus, "-o", out, "--dim", "4", "--epochs", "1", "-q")
    assert result.exit_code == 0, result.stderr
    words, matrix = parse(out.read_bytes(), str(out), "binary", "strict", None)  # word2vec binary, as named
    assert matrix.shape == (len(words), 4)
    result = cli_run("word2vec", small_corpus, "-o", tmp_path / "v.npz")
    assert result.exit_code == 2 and "names a subword model" in result.stderr


def test_two_outputs_on_one_path_are_refused(tmp_path, cli_run, small_corpus):
    out = tmp_path / "v.txt"
    result = cli_run("word2vec", small_corpus, "-o", out, "--save-vocab", out)
    assert result.exit_code == 2 and "--save-vocab" in result.stderr and not out.exists()


def test_a_word_with_a_nul_byte_is_refused_before_training_a_bin(tmp_path, cli_run):
    """fastText's .bin ends each word at a NUL byte: such a word was an internal error after training."""
    corpus = tmp_path / "nul.txt"
    corpus.write_bytes(b"the cat sat on\x00the mat\n" * 50)
    common = ["--minn", "3", "--maxn", "4", "--buckets", "1000", "--epochs", "1", "-t", "1", "--min-count", "1"]
    result = cli_run("word2vec", corpus, "-o", tmp_path / "m.bin", *common)
    assert result.exit_code == 1 and "holds a NUL byte" in result.stderr and "training" not in result.stderr
    assert not (tmp_path / "m.bin").exists()
    assert cli_run("word2vec", corpus, "-o", tmp_path / "m.npz", *common, "-q").exit_code == 0
    converted = cli_run("convert", tmp_path / "m.npz", tmp_path / "m2.bin")
    assert converted.exit_code == 1 and "holds a NUL byte" in converted.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.npz", "nul.txt"]
