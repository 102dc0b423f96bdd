"""A model file of one kind given where another kind (or a vector file) is read is named for what it is,
with the command that reads it: never a parse error about text, nor "format is X, expected Y"."""

from __future__ import annotations

import pytest

TEXT = "".join(f"the cat sat on the mat {i % 7}\nthe dog ran to the park {i % 5}\n" for i in range(60))


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    from click.testing import CliRunner

    from seqkit.cli import cli

    work = tmp_path_factory.mktemp("kinds")
    (work / "text.txt").write_text(TEXT)
    (work / "labelled.txt").write_text("".join(f"__label__{i % 2} the {'good' if i % 2 else 'bad'} film {i}\n"
                                               for i in range(40)))
    runner = CliRunner()
    text, labelled = str(work / "text.txt"), str(work / "labelled.txt")
    for args in (["ngram", text, "-o", str(work / "lm.arpa"), "--order", "2", "--discount-fallback", "-q"],
                 ["ngram", text, "-o", str(work / "lm.bin"), "--order", "2", "--discount-fallback", "-q"],
                 ["classify", labelled, "-o", str(work / "clf.npz"), "-t", "1", "-q", "--dim", "4", "--epochs", "2"],
                 ["word2vec", text, "-o", str(work / "sub.npz"), "--minn", "3", "--maxn", "4", "--buckets", "100",
                  "--dim", "4", "--epochs", "1", "-t", "1", "--min-count", "1", "-q"]):
        done = runner.invoke(cli, args, catch_exceptions=False)
        assert done.exit_code == 0, done.output
    return work


@pytest.fixture(autouse=True)
def _inside(models, monkeypatch):
    monkeypatch.chdir(models)


@pytest.mark.parametrize("model", ["lm.arpa", "lm.bin"])
def test_a_language_model_given_as_vectors(cli_run, model):
    done = cli_run("similar", "-v", model, "the")
    assert done.exit_code == 1
    assert f"{model}: a language model, not a vector file" in done.stderr and "seqkit perplexity -m" in done.stderr


def test_a_classifier_given_as_vectors_or_as_a_subword_model(cli_run):
    for option in ("-v", "-m"):
        done = cli_run("similar", option, "clf.npz", "the")
        assert done.exit_code == 1 and "clf.npz: a classifier, not a" in done.stderr, done.stderr
        assert "seqkit predict -m" in done.stderr


def test_a_language_model_given_as_a_classifier_and_back(cli_run):
    done = cli_run("predict", "-m", "lm.arpa", "text.txt")
    assert done.exit_code == 1 and "lm.arpa: a language model, not a classifier" in done.stderr
    done = cli_run("perplexity", "-m", "clf.npz", "text.txt")
    assert done.exit_code == 1 and "clf.npz: a classifier, not a language model" in done.stderr


def test_a_subword_model_given_as_vectors_or_as_a_classifier_says_which_commands_read_it(cli_run):
    done = cli_run("similar", "-v", "sub.npz", "the")
    assert done.exit_code == 1 and "sub.npz: a subword model, not a vector file" in done.stderr, done.stderr
    assert "-m instead of -v" in done.stderr and "seqkit convert sub.npz vectors.txt" in done.stderr
    done = cli_run("classify", "labelled.txt", "-o", "x.npz", "-v", "sub.npz", "--dim", "4")  # no -m there
    assert done.exit_code == 1 and "seqkit convert sub.npz vectors.txt` and give that file" in done.stderr
    assert "-m instead" not in done.stderr, done.stderr
    done = cli_run("predict", "-m", "sub.npz", "text.txt")
    assert done.exit_code == 1 and "sub.npz: a subword model, not a classifier" in done.stderr, done.stderr
    assert "seqkit print-vectors -m" in done.stderr and "give it with -m" not in done.stderr


def test_a_classifier_given_to_translate_names_what_it_is(cli_run):
    done = cli_run("translate", "-m", "clf.npz", "text.txt")
    assert done.exit_code == 1 and "clf.npz: a classifier, not a seqkit-seq2seq model" in done.stderr, done.stderr


def test_a_text_that_is_no_model_keeps_the_parse_message(cli_run):
    done = cli_run("similar", "-v", "text.txt", "the")
    assert done.exit_code == 1 and "does not look like a vector file" in done.stderr


def test_a_model_in_a_pipe_is_refused_before_any_byte_is_read(cli_run, tmp_path):
    """Sniffing formats reads a model's first bytes, then loading reads it again: from a pipe (`-m <(zcat
    ...)`) the second read lost them and the error spoke of a damaged file. Nothing is read: no writer
    is needed on the fifo."""
    import os

    fifo = tmp_path / "model.fifo"
    os.mkfifo(fifo)
    for command in (["perplexity", "-m", fifo, "text.txt"], ["predict", "-m", fifo, "text.txt"],
                    ["print-vectors", "-m", fifo, "the"], ["convert", fifo, "out.txt"],
                    ["ngram-convert", fifo, "out.bin"], ["ngram-convert", "--verify", fifo]):
        done = cli_run(*command)
        assert done.exit_code == 1 and "a pipe or device, not a file" in done.stderr, done.stderr
