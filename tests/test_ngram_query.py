"""Scoring text a block at a time (`seqkit.lm.score_text`, the n-gram model's `score_batch`): equal to the
sentence-by-sentence path, to a brute-force KenLM query and to the kenlm module, on PTB and on awkward
text; the `perplexity` tables equal either way; `seqkit convert` hands n-gram models to their plugin."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from conftest import require_data
from test_ngram import TOY
from test_ngram_binary import arpa_table

ORDER = 3
# empty and blank lines, a line of unknown words, <s> </s> and <unk> written in the text, a long line
AWKWARD = ("the cat sat\n\n   \nzebra qux zebra\n<s> the cat </s> sat\nthe <s> dog\n</s>\n<unk> cat <unk>\n"
           "a dog\t ate  the\tcat food\r\n" + " ".join(["the cat sat on the mat"] * 400) + "\nzebra\n")


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    from click.testing import CliRunner

    from seqkit.cli import cli

    tmp = tmp_path_factory.mktemp("query")
    (tmp / "toy.txt").write_text(TOY)
    (tmp / "awkward.txt").write_text(AWKWARD)
    for args in (["ngram", tmp / "toy.txt", "-o", tmp / "toy.arpa", "--order", ORDER, "--discount-fallback", "-q"],
                 ["ngram-convert", tmp / "toy.arpa", tmp / "toy.bin", "-q"]):
        assert CliRunner().invoke(cli, [str(a) for a in args]).exit_code == 0
    return tmp


def by_sentence(model, path):
    """The sentence-by-sentence path: words from the core reader, scores from score_stream_detail."""
    from seqkit.reader import read_sentences

    sentences = list(read_sentences([str(path)], max_sentence_len=1 << 62))
    return sentences, list(model.score_stream_detail(sentences))


def by_block(model, path, monkeypatch=None, block_size=None):
    from seqkit import corpus
    from seqkit.lm import score_text

    if block_size:
        monkeypatch.setattr(corpus, "BLOCK_SIZE", block_size)
    blocks = list(score_text(model, [str(path)], detail=True))
    logprobs = np.concatenate([b.score.logprobs for b in blocks])
    oov = np.concatenate([b.score.oov for b in blocks])
    lengths = np.concatenate([b.score.lengths for b in blocks])
    return blocks, logprobs, oov, lengths


def assert_block_equals_sentences(model, path, monkeypatch=None, block_size=None):
    from seqkit.lm import LN10, PerplexityCounter

    sentences, scores = by_sentence(model, path)
    blocks, logprobs, oov, lengths = by_block(model, path, monkeypatch, block_size)
    assert sum(len(b.offsets) - 1 for b in blocks) == len(sentences)
    np.testing.assert_array_equal(logprobs, np.concatenate([s.logprobs for s, _ in scores]))
    np.testing.assert_array_equal(oov, np.concatenate([s.oov for s, _ in scores]))
    np.testing.assert_array_equal(lengths, np.concatenate([n for _, n in scores]))
    counter, batched = PerplexityCounter(), PerplexityCounter()
    for score, _ in scores:
        counter.add(score)
    for block in blocks:
        batched.add_batch(block.score, len(block.offsets) - 1)
        assert block.score.logprob == pytest.approx(block.score.logprobs.sum(), rel=1e-12)
        assert block.score.tokens == len(block.score.logprobs) and block.score.oovs == block.score.oov.sum()
        known = block.score.logprobs[~block.score.oov].sum()
        assert block.score.logprob_known == pytest.approx(known, rel=1e-12)
    a, b = counter.result(), batched.result()
    assert (a.sentences, a.tokens, a.oovs) == (b.sentences, b.tokens, b.oovs)
    assert a.logprob10 == pytest.approx(b.logprob10, rel=1e-12) and b.logprob10 < 0
    assert a.logprob10_known * LN10 == pytest.approx(b.logprob10_known * LN10, rel=1e-12)
    return sentences, blocks


@pytest.mark.parametrize("name", ["toy.arpa", "toy.bin"])
def test_block_path_equals_sentence_path_on_awkward_text(toy, name, monkeypatch):
    from seqkit.lm import load_language_model

    model = load_language_model(str(toy / name))
    sentences, blocks = assert_block_equals_sentences(model, toy / "awkward.txt")
    assert len(sentences) == 9 and len(blocks) == 1  # blank lines are no sentences
    # blocks of 64 bytes: the 2,400-word line (17 KB) spans hundreds of blocks and is still one sentence
    sentences, blocks = assert_block_equals_sentences(model, toy / "awkward.txt", monkeypatch, 64)
    assert len(sentences) == 9 and len(blocks) > 1 and max(len(s) for s in sentences) == 2400


def test_block_path_equals_brute_force_and_kenlm(toy):
    from reference.ngram import brute_force_scores
    from seqkit.lm import LN10, load_language_model

    table = arpa_table(toy / "toy.arpa")
    model = load_language_model(str(toy / "toy.bin"))
    sentences, _ = by_sentence(model, toy / "awkward.txt")
    blocks, logprobs, oov, lengths = by_block(model, toy / "awkward.txt")
    expected, expected_lengths, expected_oov = [], [], []
    for words in sentences:
        p, n = brute_force_scores(table, ORDER, words)
        expected += p
        expected_lengths += n
        expected_oov += [(w,) not in table or w == "<unk>" for w in words] + [False]
    np.testing.assert_allclose(logprobs / LN10, expected, rtol=0, atol=1e-12)
    assert lengths.tolist() == expected_lengths and oov.tolist() == expected_oov
    kenlm = pytest.importorskip("kenlm")
    theirs = kenlm.Model(str(toy / "toy.arpa"))
    start = 0
    for words in sentences:  # KenLM scores a <s> written in the text as a word, as seqkit does
        full = list(theirs.full_scores(" ".join(words)))
        end = start + len(words) + 1
        np.testing.assert_allclose(logprobs[start:end] / LN10, [f[0] for f in full], atol=1e-4)
        assert lengths[start:end].tolist() == [f[1] for f in full]
        assert oov[start:end].tolist() == [f[2] for f in full]
        start = end


def test_block_path_equals_sentence_path_on_ptb(tmp_path, cli_run):
    from seqkit.lm import load_language_model

    train = require_data("ptb", "ptb.train.txt")
    test = require_data("ptb", "ptb.test.txt")
    assert cli_run("ngram", train, "-o", tmp_path / "ptb.bin", "--order", "3", "-q").exit_code == 0
    model = load_language_model(str(tmp_path / "ptb.bin"))
    by_block(model, test)
    assert "index" not in vars(model) and "vocab" not in vars(model)  # no word dictionary was built
    sentences, blocks = assert_block_equals_sentences(model, test)
    assert sum(len(s) + 1 for s in sentences) == 82430
    scored = {}
    for threads in (1, 2, 3):  # chunks depend on the sentences alone: the same bits on any threads
        model.threads = threads
        scored[threads] = [model.score_batch(b.ids, b.offsets, detail=True) for b in blocks]
    for threads in (2, 3):
        for a, b in zip(scored[1], scored[threads]):
            assert a[:4] == b[:4]
            for x, y in zip(a[4:], b[4:]):
                np.testing.assert_array_equal(x, y)
    assert len(blocks) == 1 and len(blocks[0].ids) > 4 * 16384  # several chunks


def test_perplexity_tables_equal_either_path(toy, cli_run, monkeypatch):
    """--per-word, --per-sentence, the summary and --json, through blocks and sentence by sentence."""
    from seqkit import lm

    runs = {}
    for path in ("block", "sentence"):
        if path == "sentence":
            monkeypatch.setattr(lm, "scores_batches", lambda model: False)
        for mode in ([], ["--per-word"], ["--per-sentence"], ["--json"], ["--json", "--per-word"],
                     ["--json", "--per-sentence"], ["--per-word", "--no-header"]):
            result = cli_run("perplexity", "-m", toy / "toy.bin", toy / "awkward.txt", "-q", *mode)
            assert result.exit_code == 0, result.stderr
            runs[path, tuple(mode)] = result.stdout
    for (path, mode), out in runs.items():
        if path == "block" and "--json" not in mode:
            assert out == runs["sentence", mode], mode
        elif path == "block":  # the totals may differ in the last bits (summed in another order)
            ours, theirs = json.loads(out), json.loads(runs["sentence", mode])
            for key in ("per_word", "per_sentence"):
                assert ours.pop(key, None) == theirs.pop(key, None)
            assert ours == pytest.approx(theirs, rel=1e-12)
    rows = [line.split("\t") for line in runs["block", ("--per-word",)].splitlines()[1:]]
    assert [r[1] for r in rows[:4]] == ["the", "cat", "sat", "</s>"]
    assert [r[2] for r in rows if r[1] in ("zebra", "<unk>")] == ["OOV"] * 5


def test_text_perplexity_api_and_fallback(toy, cli_run):
    from seqkit.lm import SentenceScore, load_language_model, text_perplexity

    model = load_language_model(str(toy / "toy.bin"))
    result = text_perplexity(model, [str(toy / "awkward.txt")])
    cli = json.loads(cli_run("perplexity", "-m", toy / "toy.bin", toy / "awkward.txt", "--json", "-q").stdout)
    assert result.as_dict() == cli

    class PerSentence:  # a model with only the required method: the core scores it sentence by sentence
        vocab_size = model.vocab_size

        def score_sentence(self, words):
            score = model.score_sentence(words)
            return SentenceScore(score.logprobs, score.oov)

    fallback = text_perplexity(PerSentence(), [str(toy / "awkward.txt")])
    assert fallback.as_dict() == pytest.approx(result.as_dict(), rel=1e-12)


def test_word_ids_use_the_stored_vocabulary_table(toy):
    from seqkit.lm import load_language_model

    model = load_language_model(str(toy / "toy.bin"))
    words = ["the", "zebra", "<unk>", "</s>", "<s>", "", "cat", "caT", "the "]
    data = "".join(words).encode()
    offsets = np.cumsum([0] + [len(w.encode()) for w in words])
    ids = model.word_ids(np.frombuffer(data, dtype=np.uint8), offsets).tolist()
    index = {w: i for i, w in enumerate(model.vocab)}
    assert ids == [index.get(w, -1) for w in words]
    assert ids[2] == model.unk and ids[3] == model.eos and ids[4] == model.bos and ids[1] == ids[7] == -1


def test_convert_routes_ngram_models_to_their_plugin(toy, cli_run, seqkit_proc, tmp_path):
    original = arpa_table(toy / "toy.arpa")
    assert cli_run("convert", toy / "toy.arpa", tmp_path / "a.bin", "-q").exit_code == 0
    assert cli_run("convert", tmp_path / "a.bin", tmp_path / "a.arpa", "-q").exit_code == 0
    assert arpa_table(tmp_path / "a.arpa") == original  # every number, bit for bit
    assert (tmp_path / "a.bin").read_bytes() == (toy / "toy.bin").read_bytes()
    done = seqkit_proc("convert", tmp_path / "a.bin", tmp_path / "model.x", "--to", "binary")
    assert done.returncode == 0, done.stderr
    done = seqkit_proc("convert", tmp_path / "model.x", tmp_path / "b.arpa.gz")
    assert done.returncode == 0 and done.stdout == b"", done.stderr
    assert arpa_table(tmp_path / "b.arpa.gz") == original
    wrong = cli_run("convert", toy / "toy.arpa", tmp_path / "v.txt", "--to", "glove")
    assert wrong.exit_code == 2 and "arpa or binary" in wrong.stderr
    vectors = tmp_path / "v.vec"
    vectors.write_text("2 3\ncat 1 2 3\ndog 4 5 6\n")
    assert cli_run("convert", vectors, tmp_path / "v.bin", "-q").exit_code == 0  # vectors stay vectors
    assert (tmp_path / "v.bin").read_bytes().startswith(b"2 3\n")
    refused = cli_run("convert", vectors, tmp_path / "v.arpa", "--to", "arpa")
    assert refused.exit_code == 2 and "n-gram model" in refused.stderr
    assert not math.isnan(float(json.loads(cli_run("perplexity", "-m", tmp_path / "model.x", toy / "toy.txt",
                                                   "--json").stdout)["ppl"]))
