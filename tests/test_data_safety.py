"""Inputs are never destroyed or misreported: damaged compressed inputs, outputs that are inputs, Ctrl-C."""

from __future__ import annotations

import bz2
import fcntl
import gzip
import lzma
import os
import re
import signal
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import click
import pytest

from seqkit.errors import DataError
from seqkit.textio import check_output_path, open_input

COMPRESSORS = {"gz": ("gzip", gzip.compress), "bz2": ("bzip2", bz2.compress), "xz": ("xz", lzma.compress)}
WORDS = [f"w{i}" for i in range(300)]
# the project's own plugins only, so that another installed plugin's load message cannot reach stderr
OWN_PLUGINS = {"SEQKIT_LOAD_PLUGINS": "word2vec,ngram,rnnlm"}


def corpus_text() -> str:
    """3,000 lines of ten words from a fixed sequence: about 140 kB, enough for every stream to have a middle."""
    return "".join(" ".join(WORDS[(7 * line + 13 * k * k) % len(WORDS)] for k in range(10)) + "\n"
                   for line in range(3000))


def vectors_text() -> str:
    rows = (w + " " + " ".join(f"{((i * 31 + j * 17) % 97) / 97 - 0.5:.6f}" for j in range(8)) for i, w in enumerate(WORDS))
    return f"{len(WORDS)} 8\n" + "".join(row + "\n" for row in rows)


def arpa_text() -> str:
    """A valid unigram ARPA model over WORDS (the highest order has no back-off column)."""
    lines = ["\\data\\", f"ngram 1={len(WORDS) + 3}", "", "\\1-grams:", "-99\t<s>", "-1.5\t</s>", "-3\t<unk>"]
    lines += [f"{-2.6 - i / 1000:.4f}\t{w}" for i, w in enumerate(WORDS)]
    return "\n".join(lines + ["", "\\end\\", ""])


def truncated(directory: Path, name: str, text: str, suffix: str) -> Path:
    """`name.suffix` holding the first half of `text` compressed by `suffix`'s compressor."""
    packed = COMPRESSORS[suffix][1](text.encode())
    path = directory / f"{name}.{suffix}"
    path.write_bytes(packed[: len(packed) // 2])
    return path


# --- damaged compressed inputs ---------------------------------------------------------------------

@pytest.mark.parametrize("suffix", sorted(COMPRESSORS))
def test_open_input_names_the_damage_and_reads_intact_streams(tmp_path, suffix):
    kind, compress = COMPRESSORS[suffix]
    text = corpus_text()
    whole = tmp_path / f"whole.txt.{suffix}"
    whole.write_bytes(compress(text.encode()))
    with open_input(str(whole), binary=True) as handle:
        assert handle.read() == text.encode()
    with open_input(str(whole)) as handle:  # text mode over the same guard
        assert handle.readline() == text.splitlines(keepends=True)[0]
    cut = truncated(tmp_path, "cut.txt", text, suffix)
    for binary in (True, False):
        with pytest.raises(DataError) as caught, open_input(str(cut), binary=binary) as handle:
            for _ in handle:
                pass
        message = caught.value.format_message()
        found = re.fullmatch(rf"{re.escape(str(cut))}: truncated or corrupt {kind} stream "
                             r"\(after ([\d,]+) bytes of text\)", message)
        assert found, message
        assert int(found.group(1).replace(",", "")) < len(text)


def test_a_file_named_gz_that_is_not_gzip_is_named(tmp_path):
    path = tmp_path / "plain.gz"
    path.write_text("the cat sat\n")
    with pytest.raises(DataError, match=r"plain\.gz: truncated or corrupt gzip stream \(after 0 bytes"):
        with open_input(str(path), binary=True) as handle:
            handle.read()


def _damaged_runs(inputs: Path, out: Path, suffix: str) -> dict[str, tuple[list[str], Path]]:
    corpus = truncated(inputs, "corpus.txt", corpus_text(), suffix)
    vectors = truncated(inputs, "vectors.vec", vectors_text(), suffix)
    model = truncated(inputs, "lm.arpa", arpa_text(), suffix)
    plain = inputs / "test.txt"
    plain.write_text(corpus_text()[:2000])
    return {
        "word2vec": (["word2vec", corpus, "-o", out / "v.txt", "--min-count", "1", "--dim", "8", "--threads", "1"],
                     corpus),
        "vocab": (["vocab", corpus, "-o", out / "vocab.txt"], corpus),
        "ngram": (["ngram", corpus, "-o", out / "lm.arpa", "--order", "2"], corpus),
        "similar": (["similar", "-v", vectors, "w1"], vectors),
        "convert": (["convert", vectors, out / "v.txt"], vectors),
        "perplexity": (["perplexity", "-m", model, plain], model),
    }


@pytest.mark.parametrize("suffix", sorted(COMPRESSORS))
@pytest.mark.parametrize("command", ["word2vec", "vocab", "ngram", "similar", "convert", "perplexity"])
def test_truncated_compressed_input_is_an_error_not_an_interrupt(tmp_path, seqkit_proc, command, suffix):
    inputs, out = tmp_path / "in", tmp_path / "out"
    inputs.mkdir()
    out.mkdir()
    args, damaged = _damaged_runs(inputs, out, suffix)[command]
    proc = seqkit_proc(*args, cwd=str(out), timeout=120, env=OWN_PLUGINS)
    kind = COMPRESSORS[suffix][0]
    stderr = proc.stderr.decode()
    assert proc.returncode == 1, stderr
    assert re.fullmatch(rf"seqkit: error: {re.escape(str(damaged))}: truncated or corrupt {kind} stream "
                        r"\(after [\d,]+ bytes of text\)\n", stderr), stderr
    assert proc.stdout == b""
    assert os.listdir(out) == []  # no output file, and no temporary one


def test_damaged_model_named_when_no_format_claims_it(tmp_path, cli_run):
    """bzip2 gives no text before its first block ends, so the ARPA sniffer sees nothing and declines."""
    model = truncated(tmp_path, "lm.arpa", arpa_text(), "bz2")
    text = tmp_path / "test.txt"
    text.write_text("w1 w2\n")
    result = cli_run("perplexity", "-m", model, text, env=OWN_PLUGINS)
    assert result.exit_code == 1
    assert result.stderr == f"seqkit: error: {model}: truncated or corrupt bzip2 stream (after 0 bytes of text)\n"
    intact = tmp_path / "whole.arpa.bz2"
    intact.write_bytes(bz2.compress(arpa_text().encode()))
    assert cli_run("perplexity", "-m", intact, text, env=OWN_PLUGINS).exit_code == 0


def _pipe_unread(fd: int) -> int:
    return struct.unpack("i", fcntl.ioctl(fd, termios.FIONREAD, b"\0\0\0\0"))[0]


@pytest.mark.parametrize("command", [["vocab", "-", "-o", "vocab.txt"],
                                     ["word2vec", "-", "-o", "v.txt", "--min-count", "1", "--dim", "8"]])
def test_sigint_on_endless_stdin_is_one_line_and_exit_130(tmp_path, command):
    read_end, write_end = os.pipe()
    env = {k: v for k, v in os.environ.items() if k != "SEQKIT_VECTORS"} | OWN_PLUGINS
    # a suite started as a background job inherits SIGINT ignored: give the child the default disposition
    proc = subprocess.Popen([sys.executable, "-m", "seqkit", *command], stdin=read_end, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, cwd=tmp_path, env=env,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        os.write(write_end, b"the cat sat on the mat\n" * 100)
        deadline = time.monotonic() + 120
        while _pipe_unread(read_end) and time.monotonic() < deadline:  # until seqkit is reading its input
            assert proc.poll() is None, proc.communicate()
            time.sleep(0.05)
        time.sleep(0.2)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        os.close(write_end)
        os.close(read_end)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, err
    assert err == b"seqkit: interrupted\n"
    assert out == b""
    assert os.listdir(tmp_path) == []


# --- an output that is an input --------------------------------------------------------------------

def _target(tmp_path: Path, source: Path, how: str) -> Path:
    if how == "same path":
        return source
    target = tmp_path / f"alias-{source.name}"
    if how == "symlink":
        target.symlink_to(source.name)
    else:
        os.link(source, target)
    return target


OUTPUT_CASES = {
    "word2vec -o": lambda c, v, t: ["word2vec", c, "-o", t],
    "word2vec --save-vocab": lambda c, v, t: ["word2vec", c, "-o", t.parent / "fresh.txt", "--save-vocab", t],
    "ngram": lambda c, v, t: ["ngram", c, "-o", t],
    "vocab": lambda c, v, t: ["vocab", c, "-o", t],
    "rnnlm": lambda c, v, t: ["rnnlm", c, "-o", t],
    "convert": lambda c, v, t: ["convert", v, t],
}


@pytest.mark.parametrize("how", ["same path", "symlink", "hard link"])
@pytest.mark.parametrize("case", sorted(OUTPUT_CASES))
def test_output_that_is_an_input_is_a_usage_error(tmp_path, cli_run, case, how):
    corpus, vectors = tmp_path / "corpus.txt", tmp_path / "vectors.txt"
    corpus.write_text(corpus_text()[:5000])
    vectors.write_text(vectors_text())
    source = vectors if case == "convert" else corpus
    before = {p: p.read_bytes() for p in (corpus, vectors)}
    target = _target(tmp_path, source, how)
    listing = sorted(os.listdir(tmp_path))
    result = cli_run(*OUTPUT_CASES[case](corpus, vectors, target), env=OWN_PLUGINS)
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    assert result.stderr.startswith("Usage: seqkit ")
    assert "Error: Invalid value for '" in result.stderr
    assert f"{str(target)!r} is the same file as the input {str(source)!r}; name another file" in result.stderr
    assert {p: p.read_bytes() for p in (corpus, vectors)} == before
    assert sorted(os.listdir(tmp_path)) == listing  # nothing written, not even a temporary file


def test_rnnlm_validation_text_is_an_input_too(tmp_path, cli_run):
    corpus, valid = tmp_path / "train.txt", tmp_path / "valid.txt"
    corpus.write_text("a b c\n" * 50)
    valid.write_text("a b\n")
    result = cli_run("rnnlm", corpus, "--valid", valid, "-o", valid, env=OWN_PLUGINS)
    assert result.exit_code == 2 and f"is the same file as the input {str(valid)!r}" in result.stderr
    assert valid.read_text() == "a b\n"


def test_check_output_path_lets_distinct_files_and_stdout_through(tmp_path):
    source = tmp_path / "in.txt"
    source.write_text("x\n")
    copy = tmp_path / "copy.txt"
    copy.write_text("x\n")  # equal content, another file
    check_output_path(str(copy), [str(source), "-", None])
    check_output_path(str(tmp_path / "new.txt"), [str(source)])
    check_output_path("-", ["-", str(source)])
    with pytest.raises(click.BadParameter) as caught:
        check_output_path(str(source), [str(tmp_path / "other.txt"), str(source)], param_hint="'--save-vocab'")
    assert caught.value.format_message().startswith("Invalid value for '--save-vocab': ")


def test_two_outputs_on_one_file_are_named_as_outputs(tmp_path, cli_run):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text(corpus_text()[:5000])
    target = tmp_path / "x.txt"
    result = cli_run("word2vec", corpus, "-o", target, "--save-vocab", target, env=OWN_PLUGINS)
    assert result.exit_code == 2 and f"{str(target)!r} is the same file as the output {str(target)!r}" in result.stderr
    assert not target.exists()
