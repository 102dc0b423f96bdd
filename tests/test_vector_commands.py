"""The vector commands through click's runner and a real subprocess."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from seqkit.vectors import Embeddings


@pytest.fixture
def vecs(tmp_path):
    words = ["king", "queen", "man", "woman", "apple", "King"]
    m = np.array([[1, 1, 0], [1, -1, 0], [0, 1, 0.1], [0, -1, 0.1], [0, 0, 1], [0.9, 1, 0]], dtype=np.float32)
    path = tmp_path / "v.txt"
    Embeddings(words, m).save(str(path))
    return path


def test_analogy_uses_fasttext_order(vecs, cli_run):
    result = cli_run("analogy", "-v", vecs, "king", "man", "woman", "-k", "1")
    assert result.exit_code == 0 and result.stdout.split("\t")[:2] == ["king man woman", "queen"]
    named = cli_run("analogy", "-v", vecs, "--positive", "king", "--positive", "woman", "--negative", "man", "-k", "1")
    assert named.stdout == result.stdout.replace("king man woman", "+king +woman -man")
    assert cli_run("analogy", "-v", vecs, "king", "man").exit_code == 2
    assert cli_run("analogy", "-v", vecs, "king", "man", "woman", "--positive", "x").exit_code == 2


def test_analogy_triples_from_stdin(vecs, cli_run):
    result = cli_run("analogy", "-v", vecs, "-k", "1", input="king man woman\nking nope woman\n")
    assert result.stdout.startswith("king man woman\tqueen\t")
    assert "nope" in result.stderr and result.exit_code == 0  # one of the two answered


def test_similar_outputs_tab_separated_and_unknown_words_fail(vecs, cli_run):
    result = cli_run("similar", "-v", vecs, "king", "-k", "2")
    lines = result.stdout.splitlines()
    assert result.exit_code == 0 and len(lines) == 2 and lines[0].split("\t")[:2] == ["king", "King"]
    both = cli_run("similar", "-v", vecs, "king", "apple", "-k", "1").stdout.splitlines()
    assert [line.split("\t")[0] for line in both] == ["king", "apple"]
    missing = cli_run("similar", "-v", vecs, "nosuchword")
    assert missing.exit_code == 1 and "not in the vectors" in missing.stderr and missing.stdout == ""


def test_similar_reads_queries_from_stdin_keeping_nbsp_words(tmp_path, cli_run):
    words = ["new\u00a0york", "new", "york", "boston"]
    m = np.array([[1, 0, 0], [0, 1, 0], [0, 0.5, 1], [0.9, 0.1, 0]], dtype=np.float32)
    path = tmp_path / "nbsp.txt"
    Embeddings(words, m).save(str(path))
    result = cli_run("similar", "-v", path, "-k", "1", input="new\u00a0york\nyork\tnew\n\n")
    assert result.exit_code == 0, result.stderr
    assert [line.split("\t")[:2] for line in result.stdout.splitlines()] == [
        ["new\u00a0york", "boston"], ["york", "new"], ["new", "york"]]


def test_vectors_env_and_bundled_default(vecs, cli_run, monkeypatch):
    monkeypatch.setenv("SEQKIT_VECTORS", str(vecs))
    assert cli_run("similar", "apple", "-k", "1").exit_code == 0
    monkeypatch.delenv("SEQKIT_VECTORS")
    from seqkit import options

    monkeypatch.setattr(options, "DEFAULT_VECTOR_FILES", ())
    result = cli_run("similar", "apple")
    assert result.exit_code == 1 and "no vectors given" in result.stderr


def test_bundled_default_vectors_answer_queen(seqkit_proc):
    from seqkit.options import default_vectors_path

    if default_vectors_path() is None:
        pytest.skip("no bundled vectors in this installation")
    proc = seqkit_proc("analogy", "king", "man", "woman", "-k", "1")
    assert proc.returncode == 0 and proc.stdout.split(b"\t")[1] == b"queen"
    proc = seqkit_proc("similar", "france", "-k", "10")
    assert {b"spain", b"italy", b"belgium"} & {line.split(b"\t")[1] for line in proc.stdout.splitlines()}


def test_print_vectors_args_and_stdin(vecs, cli_run):
    result = cli_run("print-vectors", "-v", vecs, "apple", "queen")
    assert result.stdout.splitlines()[0] == "apple 0 0 1"
    piped = cli_run("print-vectors", "-v", vecs, input="apple\nmissing\n")
    assert piped.stdout == "apple 0 0 1\n" and piped.exit_code == 0 and "missing" in piped.stderr


@pytest.mark.parametrize("target,fmt", [("out.bin", "binary"), ("out.txt.gz", "text"), ("out.glove", None)])
def test_convert_between_formats(vecs, tmp_path, cli_run, target, fmt):
    out = tmp_path / target
    args = ["convert", vecs, out, "-q"] + (["--to", "glove"] if fmt is None else [])
    result = cli_run(*args)
    assert result.exit_code == 0 and result.stderr == ""
    back = Embeddings.load(str(out))
    assert back.words == Embeddings.load(str(vecs)).words
    if fmt is None:
        assert not out.read_text().startswith("6 3")


def test_eval_commands_plain_and_json(vecs, tmp_path, cli_run):
    q = tmp_path / "q.txt"
    q.write_text(": family\nman woman king queen\nman king woman queen\n: gram1\napple king man woman\n")
    result = cli_run("eval", "analogy", q, "-v", vecs)
    assert result.exit_code == 0
    rows = {line.split("\t")[0]: line.split("\t")[1:] for line in result.stdout.splitlines()[1:]}
    assert rows["family"][:2] == ["2", "2"] and rows["total"][1] == "3"
    data = json.loads(cli_run("eval", "analogy", q, "-v", vecs, "--json", "--method", "mul").stdout)
    assert data["method"] == "mul" and data["total"]["answered"] == 3 and data["coverage"] == 1.0
    pairs = tmp_path / "p.tsv"
    pairs.write_text("king\tqueen\t8\nking\tapple\t1\nman\twoman\t7\napple\tqueen\t2\n")
    sim = json.loads(cli_run("eval", "similarity", pairs, "-v", vecs, "--json").stdout)
    assert sim["pairs"] == 4 and -1 <= sim["spearman"] <= 1
    plain = cli_run("eval", "similarity", pairs, "-v", vecs).stdout
    assert plain.startswith("spearman\t")


def test_malformed_vectors_give_one_clean_line(tmp_path, seqkit_proc):
    bad = tmp_path / "bad.txt"
    bad.write_text("2 3\na 1 2 3\nb 1 2\n")
    proc = seqkit_proc("similar", "-v", bad, "a")
    assert proc.returncode == 1
    err = proc.stderr.decode().strip().splitlines()
    assert len(err) == 1 and err[0] == f"seqkit: error: {bad}:3: expected 3 values after the word, found 2"


def test_quiet_keeps_stderr_empty_and_head_exits_quietly(vecs, tmp_path):
    proc = subprocess.run([sys.executable, "-m", "seqkit", "similar", "-v", str(vecs), "king", "-q"],
                          capture_output=True, timeout=60)
    assert proc.stderr == b"" and proc.returncode == 0
    big = tmp_path / "big.txt"
    rng = np.random.default_rng(0)
    Embeddings([f"w{i}" for i in range(3000)], rng.standard_normal((3000, 5)).astype(np.float32)).save(str(big))
    pipe = subprocess.run(["bash", "-o", "pipefail", "-c",
                           f"{sys.executable} -m seqkit print-vectors -v {big} " + " ".join(f"w{i}" for i in range(3000))
                           + " | head -1"], capture_output=True, timeout=60)
    assert pipe.stdout.startswith(b"w0 ") and pipe.stderr == b"" and pipe.returncode == 0
