"""Analogy and similarity evaluation: equal to a slow reference always, and to gensim when installed."""

from __future__ import annotations

import json
import lzma

import numpy as np
import pytest

from seqkit.errors import DataError
from seqkit.evaluate import evaluate_analogies, evaluate_similarity, read_analogies
from seqkit.options import DATA_DIR
from seqkit.vectors import Embeddings

QUESTIONS = DATA_DIR / "questions-words.txt.xz"


@pytest.fixture(scope="module")
def questions_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("q") / "questions-words.txt"
    path.write_bytes(lzma.decompress(QUESTIONS.read_bytes()))
    return path


@pytest.fixture(scope="module")
def planted(questions_file, tmp_path_factory):
    """Vectors where many analogies hold (b - a + c near d), plus case variants and noise words."""
    rng = np.random.default_rng(3)
    words = []
    for line in questions_file.read_text().splitlines():
        if not line.startswith(":"):
            words.extend(line.split())
    vocab = list(dict.fromkeys(words))[:1500]
    dim = 32
    base = {w: rng.standard_normal(dim) for w in vocab}
    offsets = [rng.standard_normal(dim) for _ in range(8)]
    for i, w in enumerate(vocab):  # a shared offset per word "class" makes some analogies solvable
        base[w] = base[w] * 0.3 + offsets[i % 8] * (i % 2)
    extra = ["King", "PARIS", "zzz1", "zzz2"]
    for w in extra:
        base[w] = rng.standard_normal(dim)
    all_words = vocab[:300] + extra + vocab[300:]
    matrix = np.array([base[w] for w in all_words], dtype=np.float32)
    matrix[5] = 0.0  # a zero vector must not break anything
    path = tmp_path_factory.mktemp("v") / "planted.txt"
    Embeddings(all_words, matrix).save(str(path), binary=False)
    return path


def slow_reference(vectors: Embeddings, path, restrict: int):
    """gensim's evaluate_word_analogies algorithm, one question at a time, in plain Python + NumPy."""
    ok = {}
    for i, w in reversed(list(enumerate(vectors.words[:restrict]))):
        ok[w.upper()] = i
    m = vectors.matrix[:restrict]
    norms = np.linalg.norm(m, axis=1)
    norms[norms == 0] = 1
    results = {}
    section = None
    for line in open(path, encoding="utf-8"):
        if line.startswith(": "):
            section = line[2:].strip()
            results[section] = [0, 0]
            continue
        a, b, c, d = [w.upper() for w in line.split()]
        if not all(w in ok for w in (a, b, c, d)):
            continue
        unit = lambda w: m[ok[w]] / norms[ok[w]]  # noqa: E731
        mean = (unit(b) + unit(c) - unit(a)) / 3
        mean = (mean / np.linalg.norm(mean)).astype(np.float32)
        dists = (m @ mean) / norms
        for i in (ok[a], ok[b], ok[c]):
            dists[i] = -np.inf
        predicted = None
        for i in np.argsort(-dists, kind="stable")[:5]:
            predicted = vectors.words[i].upper()
            if predicted not in (a, b, c):
                break
        results[section][0 if predicted == d else 1] += 1
    return results


def test_batched_evaluation_equals_slow_reference(planted, questions_file):
    vectors = Embeddings.load(str(planted))
    result = evaluate_analogies(vectors, str(questions_file), restrict=1000)
    ref = slow_reference(vectors, questions_file, 1000)
    got = {s.name: [s.correct, s.incorrect] for s in result.sections}
    assert got == ref
    assert result.total.correct > 20  # the planted structure is found: the test can fail
    assert result.total.answered + result.total.skipped == 19544
    assert result.semantic.answered + result.syntactic.answered == result.total.answered


def test_blocks_of_few_words_give_the_same_answers(planted, questions_file, monkeypatch):
    """A cosine-table budget of a few dozen words forces many blocks; the answers must not change."""
    import seqkit.evaluate as evaluate

    vectors = Embeddings.load(str(planted))
    whole = evaluate_analogies(vectors, str(questions_file), restrict=1000)
    monkeypatch.setattr(evaluate, "COSINE_TABLE_BYTES", 70 * 4 * 1000)
    assert len(evaluate._blocks_of_few_words(np.arange(300).reshape(100, 3), 70)) == 5
    split = evaluate_analogies(vectors, str(questions_file), restrict=1000)
    assert [s.as_dict() for s in split.sections] == [s.as_dict() for s in whole.sections]


def test_exact_ties_are_ranked_as_a_stable_sort_ranks_them(planted, questions_file, tmp_path):
    """Rows duplicated under other names tie exactly; the earlier row must win, as in gensim's order."""
    vectors = Embeddings.load(str(planted))
    words, matrix = list(vectors.words[:600]), vectors.matrix[:600].copy()
    clones = [f"clone{i}" for i in range(0, 600, 3)]
    words[1::3] = clones  # every third word is replaced by a twin of the word before it
    matrix[1::3] = matrix[0::3][:len(clones)]
    twins = tmp_path / "twins.txt"
    Embeddings(words, matrix).save(str(twins))
    loaded = Embeddings.load(str(twins))
    result = evaluate_analogies(loaded, str(questions_file), restrict=600)
    ref = slow_reference(loaded, questions_file, 600)
    assert {s.name: [s.correct, s.incorrect] for s in result.sections} == ref
    assert result.total.answered > 100


def slow_cosmul(vectors: Embeddings, path, restrict: int) -> int:
    """3CosMul (Levy & Goldberg 2014, epsilon 1e-3) one question at a time; the number correct."""
    ok = {w.upper(): i for i, w in reversed(list(enumerate(vectors.words[:restrict])))}
    unit = vectors.unit[:restrict].astype(np.float64)
    correct = 0
    for line in open(path, encoding="utf-8"):
        words = [w.upper() for w in line.split()]
        if line.startswith(":") or not all(w in ok for w in words):
            continue
        a, b, c, d = words
        shifted = {w: (unit @ unit[ok[w]] + 1) / 2 for w in (a, b, c)}
        scores = shifted[b] * shifted[c] / (shifted[a] + 1e-3)
        scores[[ok[a], ok[b], ok[c]]] = -np.inf
        predicted = None
        for i in np.argsort(-scores, kind="stable")[:5]:
            predicted = vectors.words[i].upper()
            if predicted not in (a, b, c):
                break
        correct += predicted == d
    return correct


def test_cosmul_equals_slow_reference(planted, questions_file):
    vectors = Embeddings.load(str(planted))
    mul = evaluate_analogies(vectors, str(questions_file), restrict=1000, method="mul")
    assert mul.total.correct == slow_cosmul(vectors, questions_file, 1000)


def test_equals_gensim_evaluate_word_analogies(planted, questions_file):
    pytest.importorskip("gensim")
    from gensim.models import KeyedVectors

    kv = KeyedVectors.load_word2vec_format(str(planted))
    score, sections = kv.evaluate_word_analogies(str(questions_file), restrict_vocab=1000, case_insensitive=True)
    result = evaluate_analogies(Embeddings.load(str(planted)), str(questions_file), restrict=1000)
    theirs = {s["section"]: (len(s["correct"]), len(s["incorrect"])) for s in sections}
    ours = {s.name: (s.correct, s.incorrect) for s in result.sections}
    ours["Total accuracy"] = (result.total.correct, result.total.incorrect)
    assert ours == theirs
    assert result.total.accuracy == pytest.approx(score)


def test_cosmul_differs_and_is_sane(planted, questions_file):
    vectors = Embeddings.load(str(planted))
    add = evaluate_analogies(vectors, str(questions_file), restrict=1000)
    mul = evaluate_analogies(vectors, str(questions_file), restrict=1000, method="mul")
    assert mul.total.answered == add.total.answered
    assert 0 < mul.total.correct


def test_similarity_equals_gensim_and_scipy(planted, tmp_path):
    vectors = Embeddings.load(str(planted))
    pairs = tmp_path / "pairs.tsv"
    words = vectors.words
    rng = np.random.default_rng(0)
    lines = ["# a comment", "w1\tw2\tscore"]
    lines = ["# header comment"] + [f"{words[i]}\t{words[j].upper()}\t{rng.uniform(0, 10):.2f}"
                                    for i, j in rng.integers(0, 600, (60, 2))]
    lines.append("unknownword\tthe\t5.0")
    pairs.write_text("\n".join(lines) + "\n")
    result = evaluate_similarity(vectors, str(pairs))
    assert result.pairs == 60 and result.oov_pairs == 1
    from scipy import stats

    u = vectors.unit
    first_variant = {}
    for k, w in enumerate(words):  # case-insensitive: the most frequent spelling's vector
        first_variant.setdefault(w.upper(), k)
    model = [float(u[first_variant[words[i].upper()]] @ u[first_variant[words[j].upper()]]) for i, j in
             np.random.default_rng(0).integers(0, 600, (60, 2))]
    gold = [float(line.split("\t")[2]) for line in lines[1:-1]]
    assert result.spearman == pytest.approx(stats.spearmanr(gold, model).statistic)
    gensim = pytest.importorskip("gensim")
    from gensim.models import KeyedVectors

    kv = KeyedVectors.load_word2vec_format(str(planted))
    pearson, spearman, oov = kv.evaluate_word_pairs(str(pairs))
    assert result.spearman == pytest.approx(spearman.statistic, abs=1e-12)
    assert result.pearson == pytest.approx(pearson.statistic, abs=1e-6)
    assert result.oov_ratio == pytest.approx(oov)
    assert gensim


def test_malformed_question_files(tmp_path):
    bad = tmp_path / "q.txt"
    bad.write_text("a b c d\n")
    with pytest.raises(DataError, match="q.txt:1: a question before the first"):
        read_analogies(str(bad))
    bad.write_text(": s\na b c\n")
    with pytest.raises(DataError, match="q.txt:2: expected 4 words"):
        read_analogies(str(bad))
    bad.write_text("")
    with pytest.raises(DataError, match="no `: section`"):
        read_analogies(str(bad))


def test_malformed_pairs_file(tmp_path, planted):
    bad = tmp_path / "p.tsv"
    bad.write_text("a\tb\n")
    with pytest.raises(DataError, match="p.tsv:1:"):
        evaluate_similarity(Embeddings.load(str(planted)), str(bad))


def test_json_has_null_for_a_figure_that_is_not_a_number(tmp_path, cli_run):
    """Constant cosines have no rank correlation: strict JSON says null, and no warning reaches stderr."""
    vectors = tmp_path / "v.txt"
    vectors.write_text("3 2\ncat 1 1\ndog 1 1\ncar 1 1\n")
    pairs = tmp_path / "p.tsv"
    pairs.write_text("cat\tdog\t8\ncat\tcar\t2\ndog\tcar\t3\n")
    result = cli_run("eval", "similarity", pairs, "-v", vectors, "--json", "-q")
    assert result.exit_code == 0 and result.stderr == "", result.stderr
    assert json.loads(result.stdout)["spearman"] is None


def test_errors_applies_to_the_benchmark_file_too(tmp_path, cli_run):
    vectors = tmp_path / "v.txt"
    vectors.write_text("4 2\nking 1 0\nqueen 0 1\nman 1 0.1\nwoman 0.1 1\n")
    questions = tmp_path / "q.txt"
    questions.write_bytes(b": family\nking queen man woman\nman woman king qu\xffeen\n")
    result = cli_run("eval", "analogy", questions, "-v", vectors)
    assert result.exit_code == 1 and f"{questions}:3: invalid UTF-8" in result.stderr, result.stderr
    result = cli_run("eval", "analogy", questions, "-v", vectors, "--errors", "replace", "--json", "-q")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["total"]["correct"] + json.loads(result.stdout)["total"]["incorrect"] == 1


@pytest.mark.parametrize("json_flag", [[], ["--json"]])
def test_eval_analogy_with_no_answerable_question_is_an_error_not_nan(planted, questions_file, cli_run, json_flag):
    result = cli_run("eval", "analogy", questions_file, "-v", planted, "--restrict", "1", *json_flag)
    assert result.exit_code == 1 and result.stdout == ""
    assert "none of its 19,544 questions has all four words among the 1 most frequent" in result.stderr


def test_eval_analogy_of_a_file_without_questions_says_so(planted, tmp_path, cli_run):
    empty = tmp_path / "q.txt"
    empty.write_text(": capital-common-countries\n")
    result = cli_run("eval", "analogy", empty, "-v", planted)
    assert result.exit_code == 1 and "no questions (only `: section` lines)" in result.stderr


@pytest.mark.parametrize("score", ["nan", "inf"])
def test_a_gold_score_that_is_no_number_is_named_with_its_line(planted, tmp_path, cli_run, score):
    pairs = tmp_path / "ws.txt"
    pairs.write_text(f"# word pairs\nking\tqueen\t8.5\nking\tparis\t{score}\n")
    result = cli_run("eval", "similarity", pairs, "-v", planted)
    assert result.exit_code == 1 and f"ws.txt:3: the score '{score}' is not a finite number" in result.stderr
