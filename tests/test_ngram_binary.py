"""seqkit's binary n-gram format: exact round trips with ARPA, queries equal to the ARPA form and to a
brute-force KenLM query, per-word output, and one clear error for every kind of damaged file.

Loading checks the header, the vocabulary (CRC-32) and every size, not the n-gram tables (that would read
the whole file): a damaged table entry is caught by `ngram-convert` (which reads every entry) and by
`ngram-convert --verify`, and meanwhile scoring stays safe (a number may be wrong; nothing crashes)."""

from __future__ import annotations

import random
import struct

import numpy as np
import pytest

from test_ngram import TOY

ORDER = 4


def arpa_table(path) -> dict[tuple[str, ...], tuple[float, float]]:
    from seqkit_ngram.arpa import read_arpa

    data = read_arpa(str(path))
    return {tuple(data.vocab[w] for w in row): (p, b)
            for words, lp, bo in zip(data.words, data.logprob, data.backoff)
            for row, p, b in zip(words.tolist(), lp.tolist(), bo.tolist())}


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """The toy corpus's 4-gram as ARPA, converted to binary, and written as binary by `seqkit ngram`."""
    from click.testing import CliRunner

    from seqkit.cli import cli

    tmp = tmp_path_factory.mktemp("bin")
    (tmp / "toy.txt").write_text(TOY)
    runner = CliRunner()
    for args in (["ngram", tmp / "toy.txt", "-o", tmp / "toy.arpa", "--order", ORDER, "--discount-fallback", "-q"],
                 ["ngram", tmp / "toy.txt", "-o", tmp / "direct.bin", "--order", ORDER, "--discount-fallback", "-q"],
                 ["ngram-convert", tmp / "toy.arpa", tmp / "toy.bin", "-q"],
                 ["ngram-convert", tmp / "toy.bin", tmp / "back.arpa", "-q"],
                 ["ngram-convert", tmp / "direct.bin", tmp / "direct.arpa", "-q"]):
        result = runner.invoke(cli, [str(a) for a in args], catch_exceptions=False)
        assert result.exit_code == 0, result.output
    return tmp


def test_round_trip_is_exact(models):
    original = arpa_table(models / "toy.arpa")
    assert len(original) > 100
    assert arpa_table(models / "back.arpa") == original  # every probability and back-off, bit for bit
    assert arpa_table(models / "direct.arpa") == original  # `ngram -o x.bin` holds what the ARPA would


def test_binary_recognised_by_magic_not_suffix(models, cli_run):
    renamed = models / "model.arpa"
    renamed.write_bytes((models / "toy.bin").read_bytes())
    outputs = [cli_run("perplexity", "-m", path, models / "toy.txt", "--json", "-q").output
               for path in (models / "toy.arpa", models / "toy.bin", renamed)]
    assert outputs[0] == outputs[1] == outputs[2]


def random_sentences(vocab: list[str], count: int, seed: int) -> list[list[str]]:
    rng = random.Random(seed)
    words = [w for w in vocab if w not in ("<s>", "</s>")] + ["zebra", "qux"]  # and two unknown words
    return [[rng.choice(words) for _ in range(rng.randrange(0, 12))] for _ in range(count)]


def test_queries_equal_arpa_form_and_brute_force(models):
    from reference.ngram import brute_force_scores
    from seqkit.lm import LN10
    from seqkit_ngram.arpa import read_arpa
    from seqkit_ngram.binary import read_binary
    from seqkit_ngram.model import NgramModel

    text_model = NgramModel(read_arpa(str(models / "toy.arpa")))
    binary_model = NgramModel(read_binary(str(models / "toy.bin")))
    table = arpa_table(models / "toy.arpa")
    sentences = random_sentences(text_model.vocab, 300, seed=7) + [line.split() for line in TOY.splitlines()]
    ours = list(text_model.score_stream_detail(sentences))
    theirs = list(binary_model.score_stream_detail(sentences))
    assert len(ours) == len(theirs) == len(sentences)
    for words, (a, la), (b, lb) in zip(sentences, ours, theirs):
        np.testing.assert_array_equal(a.logprobs, b.logprobs)
        np.testing.assert_array_equal(a.oov, b.oov)
        np.testing.assert_array_equal(la, lb)
        expected, lengths = brute_force_scores(table, ORDER, words)
        np.testing.assert_allclose(b.logprobs / LN10, expected, rtol=0, atol=1e-12)
        assert lb.tolist() == lengths
        assert b.oov.tolist() == [w not in table_vocab(table) for w in words] + [False]
    assert max(int(lb.max()) for _, lb in theirs) == ORDER


def table_vocab(table) -> set[str]:
    return {g[0] for g in table if len(g) == 1} - {"<unk>"}


def test_per_word_output_matches_brute_force(models, cli_run, tmp_path):
    from reference.ngram import brute_force_scores

    sentences = random_sentences(sorted(table_vocab(arpa_table(models / "toy.arpa"))), 20, seed=3)
    text = tmp_path / "q.txt"
    text.write_text("".join(" ".join(s) + "\n" for s in sentences))
    table = arpa_table(models / "toy.arpa")
    out_bin = cli_run("perplexity", "-m", models / "toy.bin", text, "--per-word", "-q")
    out_arpa = cli_run("perplexity", "-m", models / "toy.arpa", text, "--per-word", "-q")
    assert out_bin.exit_code == 0 and out_bin.stdout == out_arpa.stdout
    rows = [line.split("\t") for line in out_bin.stdout.splitlines() if line and line[0].isdigit()]
    expected = [(i, w, p, n) for i, s in enumerate(sentences, 1)
                for w, p, n in zip([*s, "</s>"], *brute_force_scores(table, ORDER, s))]
    assert len(rows) == len(expected)
    for row, (number, word, p, n) in zip(rows, expected):
        assert (int(row[0]), row[1], int(row[4])) == (number, word, n)
        assert float(row[3]) == pytest.approx(p, abs=1e-4)
        assert (row[2] == "OOV") == (word not in table_vocab(table))


def test_generate_reads_binary(models, cli_run):
    result = cli_run("generate", "-m", models / "toy.bin", "--seed", "1", "-n", "3", "-q")
    assert result.exit_code == 0, result.output
    vocab = table_vocab(arpa_table(models / "toy.arpa")) | {"<unk>"}
    assert all(w in vocab for w in result.stdout.split())


def damaged(models, tmp_path, how: str):
    data = bytearray((models / "toy.bin").read_bytes())
    path = tmp_path / "damaged.bin"
    if how == "truncated":
        data = data[:-8]
    elif how == "header-only":
        data = data[:100]
    elif how == "longer":
        data += bytes(8)
    elif how == "magic":
        data[:4] = b"XXXX"
    elif how == "sizes":  # the 4-gram count, consistently wrong in both count and table size
        offset = struct.calcsize("<16sIIQQqqq") + 8 * (ORDER - 1)
        data[offset:offset + 8] = struct.pack("<Q", 5)
    elif how == "vocabulary":
        data[300] ^= 0x01
    elif how == "slots":  # the vocabulary's hash table, just before the aligned n-gram data
        from seqkit_ngram.binary import read_binary

        from seqkit_ngram.binary import HEADER_BYTES

        tables = read_binary(str(models / "toy.bin"))
        at = HEADER_BYTES + 8 * (tables.vocab_size + 1) + len(tables.vocab_bytes)
        data[at + -len(tables.vocab_bytes) % 8] ^= 0x01
    elif how == "version":
        data[16] = 9
    path.write_bytes(bytes(data))
    return path


@pytest.mark.parametrize("how,message", [
    ("truncated", "truncated"), ("header-only", "truncated"), ("longer", "longer than its header says"),
    ("sizes", "counts and table sizes disagree"), ("vocabulary", "fails its checksum"),
    ("slots", "fails its checksum"), ("version", "version 9")])
def test_damaged_binary_is_one_clear_error(models, tmp_path, cli_run, how, message):
    path = damaged(models, tmp_path, how)
    result = cli_run("perplexity", "-m", path, models / "toy.txt")
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0] and "damaged.bin" in lines[0], result.stderr
    for args in (["ngram-convert", path, tmp_path / "out.arpa"], ["convert", path, tmp_path / "out.arpa"],
                 ["ngram-convert", "--verify", path]):
        converted = cli_run(*args)
        assert converted.exit_code == 1 and message in converted.stderr, (args, converted.stderr)
    assert not (tmp_path / "out.arpa").exists()


@pytest.mark.parametrize("offset", [-5, -20, -30, -2000])
def test_damaged_table_entry_is_caught_by_conversion_and_verify(models, tmp_path, cli_run, offset):
    """A flipped bit in a key, probability or back-off: loading does not read the tables, so scoring runs
    (ending normally, whatever it gives); converting and --verify name the damage."""
    data = bytearray((models / "toy.bin").read_bytes())
    data[offset] ^= 0x40
    path = tmp_path / "damaged.bin"
    path.write_bytes(bytes(data))
    result = cli_run("perplexity", "-m", path, models / "toy.txt", "--per-word", "-q")
    text = (models / "toy.txt").read_text()
    assert result.exit_code == 0 and len(result.stdout.splitlines()) == 1 + len(text.split()) + len(text.splitlines())
    for args in (["ngram-convert", path, tmp_path / "out.arpa"], ["ngram-convert", "--verify", path],
                 ["convert", path, tmp_path / "out.arpa"]):
        checked = cli_run(*args)
        assert checked.exit_code == 1 and "tables fail their checksum" in checked.stderr, checked.stderr
        assert "damaged.bin" in checked.stderr and len(checked.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "out.arpa").exists()
    intact = cli_run("ngram-convert", "--verify", models / "toy.bin")
    assert intact.exit_code == 0 and "intact" in intact.stderr


def test_verify_takes_no_output(models, cli_run, tmp_path):
    assert cli_run("ngram-convert", "--verify", models / "toy.bin", tmp_path / "x.arpa").exit_code == 2
    assert cli_run("ngram-convert", models / "toy.bin").exit_code == 2
    assert cli_run("ngram-convert", "--verify", models / "toy.arpa", "-q").exit_code == 0


def test_wrong_magic_and_foreign_binaries_are_named(models, tmp_path, cli_run):
    cases = {"damaged.bin": (damaged(models, tmp_path, "magic"), "not a language model"),
             "kenlm.bin": (tmp_path / "kenlm.bin", "KenLM binary"),
             "fasttext.bin": (tmp_path / "fasttext.bin", "fastText model")}
    (tmp_path / "kenlm.bin").write_bytes(b"mmap lm http://kheafield.com/code format version 5\n\0" + bytes(100))
    (tmp_path / "fasttext.bin").write_bytes((793712314).to_bytes(4, "little") + bytes(100))
    for name, (path, message) in cases.items():
        result = cli_run("perplexity", "-m", path, models / "toy.txt")
        assert result.exit_code == 1 and message in result.stderr and name in result.stderr, result.stderr
        converted = cli_run("ngram-convert", path, tmp_path / "out.bin")
        assert converted.exit_code == 1, converted.stderr
        assert name in converted.stderr and (message in converted.stderr or name == "damaged.bin")


def test_an_impossible_word_survives_the_binary_round_trip(tmp_path, cli_run):
    """KenLM reads -inf in an ARPA; through the binary format and back it stays -inf (the integer
    formatters once printed garbage for it) and scores -inf."""
    arpa = tmp_path / "m.arpa"
    arpa.write_text("\\data\\\nngram 1=5\nngram 2=3\n\n\\1-grams:\n-1.0\t<unk>\t-0.3\n-99\t<s>\t-0.5\n-0.7\t</s>\n"
                    "-inf\ta\t-0.2\n-0.8\tb\t-0.1\n\n\\2-grams:\n-0.3\t<s> a\n-0.4\ta b\n-0.2\tb </s>\n\n\\end\\\n")
    binary, back = tmp_path / "m.bin", tmp_path / "back.arpa"
    for source, target in ((arpa, binary), (binary, back)):
        result = cli_run("ngram-convert", "-q", source, target)
        assert result.exit_code == 0 and result.stderr == "", result.stderr
    unigrams = back.read_text().split("\\1-grams:\n")[1].split("\n\n")[0].splitlines()
    assert "-inf\ta\t-0.2" in unigrams and "-99\t<s>\t-0.5" in unigrams
    scored = cli_run("perplexity", "-m", back, "--per-word", "-q", input="b a\n").stdout.splitlines()
    assert scored[2].split("\t")[3] == "-inf"
