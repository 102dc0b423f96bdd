"""The query commands behave alike: where queries come from, one output shape, case, unknown words;
`similarity` and `outlier` equal gensim's; `perplexity --per-word` equals KenLM's query."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys

import numpy as np
import pytest

from seqkit.vectors import Embeddings

WORDS = ["king", "queen", "man", "woman", "france", "paris", "apple", "France", "FRANCE"]


@pytest.fixture
def vecs(tmp_path):
    m = np.array([[1, 1, 0], [1, -1, 0], [0, 1, 0.1], [0, -1, 0.1], [0.2, 0, 1], [0.3, 0.1, 1], [0, 0, -1],
                  [-1, 0.5, 0.5], [0.5, -0.5, -0.5]], dtype=np.float32)
    path = tmp_path / "v.txt"
    Embeddings(WORDS, m).save(str(path))
    return path


def rows(stdout: str) -> list[list[str]]:
    return [line.split("\t") for line in stdout.splitlines()]


# --- 1. queries from a pipe, or an interactive prompt on a terminal ---------------------------------

def test_queries_from_a_pipe_one_per_line(vecs, cli_run):
    similar = cli_run("similar", "-v", vecs, "-k", "1", input="king\nman woman\n\n")
    assert similar.exit_code == 0 and [r[:2] for r in rows(similar.stdout)] == [
        ["king", "man"], ["man", "king"], ["woman", "queen"]]
    analogy = cli_run("analogy", "-v", vecs, "-k", "1", input="king man woman\n")
    assert analogy.exit_code == 0 and rows(analogy.stdout)[0][:2] == ["king man woman", "queen"]


def run_on_terminal(*args: str, typed: bytes) -> subprocess.CompletedProcess:
    """Run seqkit with a pseudo-terminal as stdin, type `typed` and then Ctrl-D."""
    import pty

    leader, follower = pty.openpty()
    try:
        proc = subprocess.Popen([sys.executable, "-m", "seqkit", *args], stdin=follower, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)
        os.close(follower)
        os.write(leader, typed + b"\x04")  # canonical mode: Ctrl-D at the start of a line is end of input
        out, err = proc.communicate(timeout=60)
    finally:
        os.close(leader)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def test_similar_and_analogy_prompt_on_a_terminal_until_ctrl_d(vecs):
    proc = run_on_terminal("similar", "-v", str(vecs), "-k", "1", typed=b"king\nnosuch\n")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == b"king\tman\t" + proc.stdout.split(b"\t")[-1]
    assert proc.stderr.count(b"Query word? ") == 3  # before each line and before Ctrl-D
    assert b"'nosuch' is not in the vectors" in proc.stderr
    proc = run_on_terminal("analogy", "-v", str(vecs), "-k", "1", typed=b"king man woman\n")
    assert proc.returncode == 0 and proc.stdout.startswith(b"king man woman\tqueen\t")
    assert b"Query triplet (A - B + C)? " in proc.stderr


# --- 2. one output shape ----------------------------------------------------------------------------

def test_similar_prints_query_neighbour_score_for_one_word_or_many(vecs, cli_run):
    one = rows(cli_run("similar", "-v", vecs, "king", "-k", "2").stdout)
    many = rows(cli_run("similar", "-v", vecs, "king", "apple", "-k", "2").stdout)
    assert [len(r) for r in one + many] == [3] * 6
    assert one == many[:2] and [r[0] for r in many] == ["king", "king", "apple", "apple"]
    named = rows(cli_run("analogy", "-v", vecs, "-p", "king", "-p", "woman", "-n", "man", "-k", "1").stdout)
    assert named[0][:2] == ["+king +woman -man", "queen"] and len(named[0]) == 3
    assert "query<TAB>neighbour<TAB>cosine" in cli_run("similar", "--help").stdout
    assert "query<TAB>answer<TAB>cosine" in cli_run("analogy", "--help").stdout


# --- 3. case, one wording for unknown words, exit 1 only when nothing was answered -----------------

@pytest.mark.parametrize("command", [["similar"], ["print-vectors"], ["analogy", "king", "man"],
                                     ["similarity", "king"], ["outlier", "king", "queen"]])
def test_unknown_word_is_worded_the_same_and_suggests_the_cased_form(vecs, cli_run, command):
    result = cli_run(*command, "Paris", "-v", vecs) if command[0] != "analogy" else \
        cli_run("analogy", "-v", vecs, "king", "man", "Woman")
    word, cased = ("Woman", "woman") if command[0] == "analogy" else ("Paris", "paris")
    if command[0] == "outlier":  # gensim's doesnt_match leaves the unknown word out and answers
        assert result.exit_code == 0 and rows(result.stdout)[0][1] in ("king", "queen")
    else:
        assert result.exit_code == 1 and result.stdout == ""
    assert result.stderr == f"seqkit: '{word}' is not in the vectors; did you mean '{cased}'?\n"


def test_ignore_case_takes_the_most_frequent_case_variant(vecs, cli_run):
    out = cli_run("print-vectors", "-v", vecs, "-i", "FRANCE", "France").stdout
    assert out.splitlines() == ["FRANCE 0.2 0 1", "France 0.2 0 1"]  # france's vector, the first row of the three
    similar = cli_run("similar", "-v", vecs, "--ignore-case", "PARIS", "-k", "1")
    assert similar.exit_code == 0 and rows(similar.stdout)[0][:2] == ["PARIS", "france"]
    analogy = cli_run("analogy", "-v", vecs, "-i", "KING", "Man", "WOMAN", "-k", "1")
    assert rows(analogy.stdout)[0][:2] == ["KING Man WOMAN", "queen"]
    assert cli_run("similarity", "-v", vecs, "-i", "King", "QUEEN").exit_code == 0
    missing = cli_run("similar", "-v", vecs, "-i", "nosuch")
    assert missing.stderr == "seqkit: 'nosuch' is not in the vectors\n" and missing.exit_code == 1


def test_exit_1_only_when_no_query_was_answered(vecs, cli_run):
    some = cli_run("similar", "-v", vecs, "king", "nosuch", "alsonot", "-k", "1")
    assert some.exit_code == 0 and rows(some.stdout)[0][0] == "king"
    assert some.stderr.splitlines() == ["seqkit: 'nosuch' is not in the vectors",
                                        "seqkit: 'alsonot' is not in the vectors"]
    piped = cli_run("analogy", "-v", vecs, "-k", "1", input="king man nope\nking man woman\nbad line\n")
    assert piped.exit_code == 0 and len(rows(piped.stdout)) == 1 and len(piped.stderr.splitlines()) == 2
    none = cli_run("analogy", "-v", vecs, input="king man nope\nbad line\n")
    assert none.exit_code == 1 and none.stdout == ""
    assert cli_run("print-vectors", "-v", vecs, input="apple\nmissing\n").exit_code == 0
    assert cli_run("print-vectors", "-v", vecs, input="missing\n").exit_code == 1


def test_quiet_holds_unknown_words_back_unless_nothing_was_answered(vecs, cli_run):
    """--quiet: stderr stays empty unless there is an error; no answer at all is one (exit 1), and the
    unknown words are then its explanation."""
    some = cli_run("similar", "-v", vecs, "king", "nosuch", "-k", "1", "-q")
    assert some.exit_code == 0 and some.stderr == "" and rows(some.stdout)[0][0] == "king"
    none = cli_run("similarity", "-v", vecs, "king", "nosuch", "-q")
    assert none.exit_code == 1 and none.stderr == "seqkit: 'nosuch' is not in the vectors\n"


# --- 4. similarity and outlier, equal to gensim -----------------------------------------------------

@pytest.fixture
def random_vecs(tmp_path):
    rng = np.random.default_rng(7)
    words = [f"w{i}" for i in range(40)]
    matrix = rng.standard_normal((40, 6)).astype(np.float32)
    path = tmp_path / "r.txt"
    Embeddings(words, matrix).save(str(path))
    return path, words, Embeddings.load(str(path)).matrix  # the values as written to text


def test_similarity_equals_gensim(random_vecs, cli_run):
    gensim = pytest.importorskip("gensim.models")
    path, words, matrix = random_vecs
    kv = gensim.KeyedVectors(matrix.shape[1])
    kv.add_vectors(words, matrix)
    pairs = [("w0", "w1"), ("w3", "w3"), ("w39", "w7"), ("w12", "w30")]
    result = cli_run("similarity", "-v", path, *[w for pair in pairs for w in pair])
    assert result.exit_code == 0
    got = rows(result.stdout)
    assert [tuple(r[:2]) for r in got] == pairs
    for (a, b), row in zip(pairs, got):
        assert float(row[2]) == pytest.approx(float(kv.similarity(a, b)), abs=2e-6)
    piped = cli_run("similarity", "-v", path, input="w0\tw1\nw39 w7\n")
    assert rows(piped.stdout) == [got[0], got[2]]
    assert cli_run("similarity", "-v", path, "w0", "w1", "w2").exit_code == 2


def test_outlier_equals_gensim_doesnt_match(random_vecs, cli_run):
    gensim = pytest.importorskip("gensim.models")
    path, words, matrix = random_vecs
    kv = gensim.KeyedVectors(matrix.shape[1])
    kv.add_vectors(words, matrix)
    rng = np.random.default_rng(3)
    groups = [[words[i] for i in rng.choice(40, size, replace=False)] for size in (3, 4, 5, 8, 8, 8)]
    for group in groups:
        result = cli_run("outlier", "-v", path, *group)
        assert result.exit_code == 0 and rows(result.stdout)[0][:2] == [" ".join(group), kv.doesnt_match(group)]
        scored = rows(cli_run("outlier", "-v", path, "--scores", *group).stdout)
        theirs = sorted(kv.rank_by_centrality(group))  # (cosine to the mean, word), the outlier first
        assert [r[1] for r in scored] == [w for _, w in theirs]
        assert [float(r[2]) for r in scored] == pytest.approx([float(c) for c, _ in theirs], abs=2e-6)
    piped = cli_run("outlier", "-v", path, input="\n".join(" ".join(g) for g in groups[:2]) + "\n")
    assert [r[1] for r in rows(piped.stdout)] == [kv.doesnt_match(g) for g in groups[:2]]


# --- 5. perplexity --per-sentence and --per-word ----------------------------------------------------

ARPA = """\\data\\
ngram 1=6
ngram 2=6
ngram 3=3

\\1-grams:
-1.0\t<unk>\t0
-99\t<s>\t-0.5
-0.8\t</s>
-0.6\ta\t-0.3
-0.7\tb\t-0.2
-0.9\tc\t-0.25

\\2-grams:
-0.3\t<s> a\t-0.1
-0.5\ta b\t-0.15
-0.4\tb c\t-0.05
-0.6\tb </s>
-0.45\tc </s>
-0.35\ta c

\\3-grams:
-0.2\t<s> a b
-0.25\ta b c
-0.15\tb c </s>

\\end\\
"""
TEXT = ["a b c", "a c b", "c zz a b", "b", "b c a b c"]


@pytest.fixture
def arpa(tmp_path):
    path = tmp_path / "tiny.arpa"
    path.write_text(ARPA)
    return path


def test_per_word_equals_kenlm_full_scores(arpa, cli_run):
    kenlm = pytest.importorskip("kenlm")
    result = cli_run("perplexity", "-m", arpa, "--per-word", "-q", input="\n".join(TEXT) + "\n")
    assert result.exit_code == 0 and result.stderr == ""
    table = rows(result.stdout)
    assert table[0] == ["sentence", "word", "id", "logprob10", "ngram_length"]
    model = kenlm.Model(str(arpa))
    expected = [(str(n), word, oov, prob, length) for n, line in enumerate(TEXT, 1)
                for word, (prob, length, oov) in zip(line.split() + ["</s>"], model.full_scores(line))]
    assert len(table) - 1 == len(expected)
    for row, (n, word, oov, prob, length) in zip(table[1:], expected):
        assert row[:2] == [n, word] and (row[2] == "OOV") == oov
        assert float(row[3]) == pytest.approx(prob, abs=1e-4) and int(row[4]) == length
    assert {row[4] for row in table[1:]} == {"1", "2", "3"}  # every length occurs: the check has teeth
    data = json.loads(cli_run("perplexity", "-m", arpa, "--per-word", "--json", input="a zz\n").stdout)
    assert [(w["word"], w["oov"], w["ngram_length"]) for w in data["per_word"]] == [
        ("a", False, 2), ("zz", True, 1), ("</s>", False, 1)]



@pytest.mark.parametrize("unk_line", ["-1.0\t<UNK>\t0", None])
def test_a_model_without_a_lowercase_unk_scores_unknown_words_as_kenlm(tmp_path, cli_run, unk_line):
    """KenLM takes `<UNK>` as the unknown word, and without either spelling gives an unknown word log10
    probability -100 plus its context's back-offs (seqkit gave a flat -99, and missed `<UNK>`)."""
    kenlm = pytest.importorskip("kenlm")
    lines = ARPA.replace("ngram 1=6", "ngram 1=5" if unk_line is None else "ngram 1=6").splitlines()
    lines = [unk_line if line.startswith("-1.0\t<unk>") else line for line in lines]
    arpa = tmp_path / "m.arpa"
    arpa.write_text("\n".join(line for line in lines if line is not None) + "\n")
    text = ["a zz b", "zz", "b c zz a"]
    result = cli_run("perplexity", "-m", arpa, "--per-word", "-q", input="\n".join(text) + "\n")
    assert result.exit_code == 0, result.stderr
    model = kenlm.Model(str(arpa))
    expected = [(prob, length) for line in text for prob, length, _ in model.full_scores(line)]
    got = [(float(row[3]), int(row[4])) for row in rows(result.stdout)[1:]]
    assert len(got) == len(expected)
    for (p, n), (q, m) in zip(got, expected):
        assert p == pytest.approx(q, abs=1e-4) and n == m
    assert any(p < -99.5 for p, _ in got) == (unk_line is None)

def test_per_word_prints_a_dash_for_models_without_ngram_lengths(arpa, cli_run, monkeypatch):
    from seqkit import lm

    class Uniform:  # a third-party model with only the protocol's score_sentence
        vocab_size = 4

        def score_sentence(self, words):
            return lm.SentenceScore(np.full(len(words) + 1, math.log(0.25)), np.array([w == "x" for w in words]
                                                                                      + [False]))

    monkeypatch.setattr(lm, "load_language_model", lambda path: Uniform())
    table = rows(cli_run("perplexity", "-m", arpa, "--per-word", "--no-header", input="y x\n").stdout)
    assert table == [["1", "y", "-", "-0.6021", "-"], ["1", "x", "OOV", "-0.6021", "-"],
                     ["1", "</s>", "-", "-0.6021", "-"]]


def test_per_sentence_is_one_table_with_a_header_and_a_total_row(arpa, cli_run):
    result = cli_run("perplexity", "-m", arpa, "--per-sentence", input="\n".join(TEXT) + "\n")
    table = rows(result.stdout)
    assert table[0] == ["sentence", "logprob10", "tokens", "oovs", "ppl", "ppl_excl_oov", "ppl1"]
    assert [r[0] for r in table[1:]] == ["1", "2", "3", "4", "5", "total"]
    assert all(len(r) == 7 for r in table)
    summary = dict(rows(cli_run("perplexity", "-m", arpa, input="\n".join(TEXT) + "\n").stdout))
    assert table[-1][1] == summary["logprob10"] and table[-1][4] == summary["ppl"]
    assert table[-1][2] == summary["tokens"] and table[-1][6] == summary["ppl1"]
    bare = rows(cli_run("perplexity", "-m", arpa, "--per-sentence", "--no-header", input="b\n").stdout)
    assert [r[0] for r in bare] == ["1", "total"]
    assert cli_run("perplexity", "-m", arpa, "--per-sentence", "--per-word", input="b\n").exit_code == 2


@pytest.mark.parametrize("command,line", [("similar", "king"), ("print-vectors", "king"), ("similarity", "king queen"),
                                          ("analogy", "king man woman"), ("outlier", "king queen apple")])
def test_a_lone_dash_reads_the_queries_from_stdin(vecs, cli_run, command, line):
    """`-` means stdin everywhere: as a query word, it is the same as giving none."""
    piped = cli_run(command, "-v", vecs, input=line + "\n")
    dashed = cli_run(command, "-v", vecs, "-", input=line + "\n")
    assert piped.exit_code == dashed.exit_code == 0 and dashed.stdout == piped.stdout != ""


def test_json_writes_an_infinite_perplexity_as_null(tmp_path, cli_run):
    """A word the model gives probability 0 (-inf in the ARPA, which KenLM accepts) makes the perplexity
    infinite; strict JSON has no Infinity, so --json writes null as it does for a NaN."""
    impossible = tmp_path / "inf.arpa"
    assert "-0.7\tb\t-0.2" in ARPA
    impossible.write_text(ARPA.replace("-0.7\tb\t-0.2", "-inf\tb\t-0.2"))
    text = cli_run("perplexity", "-m", impossible, "-", input="b\n")
    assert text.exit_code == 0 and "inf" in text.stdout, text.output
    result = cli_run("perplexity", "-m", impossible, "-", "--json", input="b\n")
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["ppl"] is None and data["logprob10"] is None
