"""`seqkit generate`: --prefix with unknown words, distinct beam hypotheses, --no-unk, older models."""

from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner

UNK_TEXT = "the <unk> sat on the mat\n<unk> dog sat\na <unk> saw a <unk>\nthe dog ate\n" * 4
ARPA = "\\data\\\nngram 1=5\n\n\\1-grams:\n-1.0\t</s>\n-99\t<s>\n-0.3\t<unk>\n-1.0\ta\n-1.0\tb\n\n\\end\\\n"


@pytest.fixture(scope="module")
def rnnlm_model(tmp_path_factory) -> str:
    """A tiny LSTM trained on text where <unk> is the commonest word."""
    from seqkit.cli import cli

    folder = tmp_path_factory.mktemp("generate")
    corpus, model = folder / "train.txt", folder / "lm.npz"
    corpus.write_text(UNK_TEXT)
    result = CliRunner().invoke(cli, ["rnnlm", str(corpus), "-o", str(model), "--epochs", "6", "--optimizer", "adam",
                                      "--lr", "0.02", "--hidden", "12", "--embed", "12", "--batch", "2", "--bptt", "6",
                                      "--threads", "1", "--seed", "1", "-q"])
    assert result.exit_code == 0, result.output
    return str(model)


@pytest.fixture
def arpa_model(tmp_path) -> str:
    path = tmp_path / "unk.arpa"
    path.write_text(ARPA)
    return str(path)


@pytest.mark.parametrize("kind", ["rnnlm", "arpa"])
def test_a_prefix_word_the_model_does_not_know_is_one_warning_naming_unk(kind, rnnlm_model, arpa_model, cli_run):
    model = rnnlm_model if kind == "rnnlm" else arpa_model
    known = "the dog" if kind == "rnnlm" else "a b"
    result = cli_run("generate", "-m", model, "--prefix", f"{known} zebra", "--seed", "1", "--max-tokens", "3")
    assert result.exit_code == 0 and result.stdout.startswith(f"{known} zebra")
    assert result.stderr == "seqkit: warning: --prefix: 'zebra' is not in the model's vocabulary, read as <unk>\n"
    result = cli_run("generate", "-m", model, "--prefix", f"zebra {known} yak <unk>", "--seed", "1")
    assert result.stderr == ("seqkit: warning: --prefix: 'zebra', 'yak' are not in the model's vocabulary, "
                             "read as <unk>\n")
    for args in (["--prefix", known], ["--prefix", "zebra", "-q"]):
        result = cli_run("generate", "-m", model, "--seed", "1", *args)
        assert result.exit_code == 0 and result.stderr == "" and result.stdout.strip()


def test_beam_gives_the_n_best_distinct_hypotheses_and_says_when_there_are_fewer(rnnlm_model, cli_run):
    from seqkit.lm import load_language_model

    best = cli_run("generate", "-m", rnnlm_model, "--beam", "3", "--prefix", "the", "--max-tokens", "6")
    three = cli_run("generate", "-m", rnnlm_model, "--beam", "3", "-n", "3", "--prefix", "the", "--max-tokens", "6")
    assert three.exit_code == 0 and three.stderr == ""
    lines = three.stdout.splitlines()
    assert len(lines) == 3 == len(set(lines)) and lines[0] == best.stdout.strip()
    assert all(line.startswith("the") for line in lines)
    # the model's own list: best first by length-normalised log-probability, and distinct
    model = load_language_model(rnnlm_model)
    hypotheses = model.beam_search(["the"], beam=3, max_tokens=6, count=3)
    assert [" ".join(["the", *h]) for h in hypotheses] == lines
    # one-word sentences over a vocabulary of 9 words: at most 9 distinct ones exist, fewer than 20
    many = cli_run("generate", "-m", rnnlm_model, "--beam", "2", "-n", "20", "--max-tokens", "1")
    found = many.stdout.splitlines()
    assert many.exit_code == 0 and 1 < len(found) < 20 and len(set(found)) == len(found)
    assert many.stderr == (f"seqkit: warning: beam search found {len(found)} distinct sentences, fewer than the 20 "
                           "asked for (a wider --beam or a larger --max-tokens may find more)\n")


def test_no_unk_keeps_unk_out_of_sampled_and_beam_text_from_a_recurrent_model(rnnlm_model, cli_run):
    sampled = cli_run("generate", "-m", rnnlm_model, "-n", "30", "--seed", "3").stdout.split()
    assert sampled.count("<unk>") > 5  # the model likes <unk>: so leaving it out is a real constraint
    kept_out = cli_run("generate", "-m", rnnlm_model, "-n", "30", "--seed", "3", "--no-unk")
    assert kept_out.exit_code == 0 and "<unk>" not in kept_out.stdout and len(kept_out.stdout.split()) > 10
    beam = cli_run("generate", "-m", rnnlm_model, "--beam", "3", "-n", "3", "--max-tokens", "6").stdout
    assert "<unk>" in beam
    no_unk = cli_run("generate", "-m", rnnlm_model, "--beam", "3", "-n", "3", "--max-tokens", "6", "--no-unk")
    assert no_unk.exit_code == 0 and "<unk>" not in no_unk.stdout and len(no_unk.stdout.splitlines()) == 3
    top = ["generate", "-m", rnnlm_model, "-n", "20", "--seed", "3", "--top-k", "2", "--prefix", "a"]
    assert "<unk>" in cli_run(*top).stdout
    assert "<unk>" not in cli_run(*top, "--no-unk").stdout  # the two likeliest words other than <unk>


def test_no_unk_renormalises_an_ngram_models_sampling(arpa_model, cli_run):
    """Unigrams </s> 0.1, <unk> 0.5, a 0.1, b 0.1: without <unk>, each of the rest has probability 1/3, so
    a sentence holds 2 words on average (a geometric count with stopping probability 1/3)."""
    with_unk = cli_run("generate", "-m", arpa_model, "-n", "200", "--seed", "2").stdout.split()
    assert with_unk.count("<unk>") > 100
    result = cli_run("generate", "-m", arpa_model, "-n", "600", "--seed", "2", "--no-unk")
    assert result.exit_code == 0 and result.stderr == ""
    lines = result.stdout.splitlines()
    words = " ".join(lines).split()
    assert "<unk>" not in words and set(words) == {"a", "b"}
    assert len(words) / len(lines) == pytest.approx(2.0, abs=0.3)


class _OlderModel:
    """A third-party model written before `count` and `no_unk`: the older sample and beam_search."""

    vocab_size = 3

    def score_sentence(self, words):
        from seqkit.lm import SentenceScore

        return SentenceScore(np.zeros(len(words) + 1), np.array([w not in ("a", "b") for w in words] + [False]))

    def sample(self, rng, *, max_tokens, temperature, prefix, top_k=None):
        return ["a"]

    def beam_search(self, prefix, *, beam, max_tokens):
        return ["a", "b"]


def test_an_older_model_still_works_and_no_unk_on_it_is_a_clean_error(cli_run, monkeypatch, tmp_path):
    import seqkit.lm

    monkeypatch.setattr(seqkit.lm, "load_language_model", lambda path: _OlderModel())
    assert cli_run("generate", "-m", "old", "-n", "2").stdout == "a\na\n"
    result = cli_run("generate", "-m", "old", "--beam", "2", "-n", "2")
    assert result.exit_code == 0 and result.stdout == "a b\n"
    assert result.stderr.startswith("seqkit: warning: beam search found 1 distinct sentence, fewer than the 2 ")
    for extra in ([], ["--beam", "2"]):
        result = cli_run("generate", "-m", "old", "--no-unk", *extra)
        assert result.exit_code == 2 and result.stdout == ""  # an option this model type lacks: usage
        assert "Error: old: this model type" in result.stderr and "--no-unk" in result.stderr


def test_beam_search_refuses_the_sampling_options(cli_run, rnnlm_model):
    for extra in (["--temperature", "2"], ["--top-k", "1"], ["--seed", "3"]):
        result = cli_run("generate", "-m", rnnlm_model, "--beam", "3", *extra)
        assert result.exit_code == 2 and "are for sampling" in result.stderr, extra
