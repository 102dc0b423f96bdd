"""Word-analogy and word-similarity benchmarks, computed exactly as gensim's evaluators define them.

`evaluate_analogies` reproduces `KeyedVectors.evaluate_word_analogies(restrict_vocab=N,
case_insensitive=True)`: words are compared upper-cased, the search runs over the N most frequent rows,
a question with a word outside them is skipped (and counted against coverage), the three question
words are excluded, and the answer is the first of the top candidates whose upper-cased form is not a
question word. The difference is speed: instead of one `most_similar` call per question, the cosines of
the few distinct question words with the whole vocabulary come from one matrix product, and a Numba
kernel adds three of those rows per question while keeping the top candidates. Candidates closer than
float32 rounding could separate are re-ranked exactly as gensim ranks them.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import asdict, dataclass, field

import numpy as np

from seqkit.errors import DataError
from seqkit.options import usable_cores
from seqkit.textio import text_lines
from seqkit.vectors import Embeddings

TOP_CANDIDATES = 5  # gensim asks most_similar for topn=5 and takes the first acceptable one
COSINE_TABLE_BYTES = 128 << 20  # cap on a block's (question words x vocabulary) float32 cosine table
TIE_MARGIN = 1e-5  # scores closer than this are re-ranked by the exact slow path (rounding is ~1e-7)


@dataclass
class Section:
    name: str
    correct: int = 0
    incorrect: int = 0
    skipped: int = 0

    @property
    def answered(self) -> int:
        return self.correct + self.incorrect

    @property
    def accuracy(self) -> float:
        return self.correct / self.answered if self.answered else float("nan")

    @property
    def semantic(self) -> bool:
        return not self.name.startswith("gram")

    def as_dict(self) -> dict:
        return {**asdict(self), "answered": self.answered, "accuracy": self.accuracy}


@dataclass
class AnalogyResult:
    sections: list[Section] = field(default_factory=list)
    method: str = "add"
    restrict: int = 30000

    def _total(self, name: str, chosen: list[Section]) -> Section:
        return Section(name, sum(s.correct for s in chosen), sum(s.incorrect for s in chosen),
                       sum(s.skipped for s in chosen))

    @property
    def total(self) -> Section:
        return self._total("total", self.sections)

    @property
    def semantic(self) -> Section:
        return self._total("semantic", [s for s in self.sections if s.semantic])

    @property
    def syntactic(self) -> Section:
        return self._total("syntactic", [s for s in self.sections if not s.semantic])

    @property
    def coverage(self) -> float:
        total = self.total
        questions = total.answered + total.skipped
        return total.answered / questions if questions else float("nan")

    def as_dict(self) -> dict:
        return {"method": self.method, "restrict": self.restrict,
                "sections": [s.as_dict() for s in self.sections],
                "semantic": self.semantic.as_dict(), "syntactic": self.syntactic.as_dict(),
                "total": self.total.as_dict(), "coverage": self.coverage}


def read_analogies(path: str, errors: str = "strict") -> list[tuple[str, list[tuple[str, str, str, str]]]]:
    """Sections of upper-cased (a, b, c, d) questions; malformed lines are errors naming the line."""
    sections: list[tuple[str, list[tuple[str, str, str, str]]]] = []
    for line_no, line in enumerate(text_lines(path, errors), 1):
        if line.startswith(": "):
            sections.append((line.lstrip(": ").strip(), []))
            continue
        words = line.split()
        if not words:
            continue
        if not sections:
            raise DataError("a question before the first `: section` line", path, line_no)
        if len(words) != 4:
            raise DataError(f"expected 4 words `a b c d`, found {len(words)}", path, line_no)
        a, b, c, d = (w.upper() for w in words)
        sections[-1][1].append((a, b, c, d))
    if not sections:
        raise DataError("no `: section` lines: not an analogy question file", path)
    return sections


def restricted_vocab(vectors: Embeddings, restrict: int) -> dict[str, int]:
    """Upper-cased word -> row among the first `restrict` rows; the most frequent case variant wins."""
    return {w.upper(): i for i, w in reversed(list(enumerate(vectors.words[:restrict])))}


def evaluate_analogies(vectors: Embeddings, path: str, *, restrict: int = 30000, method: str = "add",
                       questions=None, errors: str = "strict") -> AnalogyResult:
    """Answer every question by 3CosAdd (or 3CosMul) over the `restrict` most frequent words."""
    if method not in ("add", "mul"):
        raise ValueError("method must be 'add' or 'mul'")
    questions = questions if questions is not None else read_analogies(path, errors)
    ok_vocab = restricted_vocab(vectors, restrict)
    result = AnalogyResult(method=method, restrict=restrict)
    known: list[tuple[str, str, str, str]] = []
    owner: list[Section] = []
    for name, items in questions:
        section = Section(name)
        result.sections.append(section)
        answerable = [q for q in items if all(w in ok_vocab for w in q)]
        section.skipped = len(items) - len(answerable)
        known += answerable
        owner += [section] * len(answerable)
    if not known:
        return result
    matrix = vectors.matrix[:restrict]
    norms = np.linalg.norm(matrix, axis=1)
    norms[norms == 0] = 1.0
    unit = (matrix / norms[:, None]).astype(np.float32)
    rows = np.array([[ok_vocab[w] for w in q[:3]] for q in known], dtype=np.int64)
    best_rows, best_scores = _top_candidates(unit, rows, method)
    upper = [w.upper() for w in vectors.words[:restrict]]
    positions = np.array([_first_acceptable(best_rows[q], upper, q_words[:3]) for q, q_words in enumerate(known)],
                         dtype=np.int64)
    near_tie = _near_ties(best_scores, positions)
    for q, (a, b, c, expected) in enumerate(known):
        if near_tie[q]:  # float rounding could reorder these candidates: decide exactly as gensim does
            answer = _exact_answer(matrix, norms, unit, rows[q], method, upper, (a, b, c))
        else:
            row = best_rows[q, positions[q]]
            answer = upper[row] if row >= 0 else None
        if answer == expected:
            owner[q].correct += 1
        else:
            owner[q].incorrect += 1
    return result


def _top_candidates(unit: np.ndarray, rows: np.ndarray, method: str) -> tuple[np.ndarray, np.ndarray]:
    """The TOP_CANDIDATES best rows (and scores) of every question, question words excluded.

    Questions are taken in blocks whose distinct words' cosine table (words x vocabulary) stays within
    COSINE_TABLE_BYTES; each block costs one matrix product and one fused kernel pass per question,
    split across threads (the kernel releases the GIL).
    """
    from concurrent.futures import ThreadPoolExecutor

    from seqkit._analogy_kernels import top_candidates

    n = len(rows)
    best_rows = np.empty((n, TOP_CANDIDATES), dtype=np.int64)
    best_scores = np.empty((n, TOP_CANDIDATES), dtype=np.float32)
    max_words = max(64, COSINE_TABLE_BYTES // (4 * max(unit.shape[0], 1)))
    threads = max(1, min(usable_cores(), 8))
    with ThreadPoolExecutor(threads) as pool:
        for first, end in _blocks_of_few_words(rows, max_words):
            words, local = np.unique(rows[first:end], return_inverse=True)
            local = np.ascontiguousarray(local.reshape(-1, 3), dtype=np.int64)
            cosines = unit[words] @ unit.T
            out_rows, out_scores = best_rows[first:end], best_scores[first:end]
            bounds = np.linspace(0, end - first, threads + 1).astype(np.int64)
            jobs = [pool.submit(top_candidates, cosines, local, rows[first:end], method == "mul",
                                int(lo), int(hi), out_rows, out_scores) for lo, hi in zip(bounds, bounds[1:])]
            for job in jobs:
                job.result()
    return best_rows, best_scores


def _blocks_of_few_words(rows: np.ndarray, max_words: int) -> list[tuple[int, int]]:
    """Consecutive runs of questions that together use at most max_words distinct words."""
    blocks, first, seen = [], 0, set()
    for q, words in enumerate(rows.tolist()):
        new = [w for w in words if w not in seen]
        if new and len(seen) + len(set(new)) > max_words and q > first:
            blocks.append((first, q))
            first, seen = q, set(words)
        else:
            seen.update(new)
    blocks.append((first, len(rows)))
    return blocks


def _first_acceptable(candidates: np.ndarray, upper: list[str], ignore: tuple[str, str, str]) -> int:
    """gensim's rule: among the best TOP_CANDIDATES, the first whose upper case is not a question word
    (another case variant of one can still rank high); if all are, the last one examined."""
    for position, row in enumerate(candidates.tolist()):
        if row < 0 or upper[row] not in ignore:
            return position
    return len(candidates) - 1


def _near_ties(scores: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """Questions where two candidates, up to the chosen one and the next, are closer than float32
    rounding could separate (cosines summed in another order than gensim's might then swap them)."""
    with np.errstate(invalid="ignore"):  # -inf - -inf (too few candidates) is NaN: never a tie
        gaps = scores[:, :-1] - scores[:, 1:]
    considered = np.arange(gaps.shape[1])[None, :] <= positions[:, None]
    return ((gaps < TIE_MARGIN) & considered).any(axis=1)


def _exact_answer(matrix: np.ndarray, norms: np.ndarray, unit: np.ndarray, question: np.ndarray, method: str,
                  upper: list[str], ignore: tuple[str, str, str]) -> str | None:
    """One question scored the way gensim's most_similar does it, step for step (the slow path)."""
    a, b, c = (unit[i] for i in question)
    if method == "add":
        mean = (b + c - a) / np.float32(3.0)
        length = np.linalg.norm(mean)
        mean = (mean / (length if length else 1.0)).astype(np.float32)
        scores = (matrix @ mean) / norms
    else:
        def shifted(x: np.ndarray) -> np.ndarray:
            return (unit @ x + 1.0) / 2.0
        scores = shifted(b) * shifted(c) / (shifted(a) + 1e-3)
    scores[question] = -np.inf
    order = np.argsort(-scores, kind="stable")[:TOP_CANDIDATES]
    return upper[order[_first_acceptable(order, upper, ignore)]] if len(order) else None


@dataclass
class SimilarityResult:
    pairs: int       # pairs scored: those the correlations cover
    oov_pairs: int   # pairs with an unknown word: dropped, or scored from subword vectors
    spearman: float
    spearman_p: float
    pearson: float
    pearson_p: float
    total: int = 0   # pairs in the file

    @property
    def oov_ratio(self) -> float:
        return 100.0 * self.oov_pairs / self.total if self.total else float("nan")

    def as_dict(self) -> dict:
        return {**asdict(self), "oov_ratio": self.oov_ratio}


def read_pairs(path: str, errors: str = "strict") -> list[tuple[str, str, float]]:
    """`w1<TAB>w2<TAB>score` lines; `#` comments and blank lines skipped; others are errors."""
    pairs = []
    for line_no, line in enumerate(text_lines(path, errors), 1):
        line = line.rstrip("\r\n")
        if not line.strip() or line.startswith("#"):
            continue
        fields = line.split("\t")
        try:
            if len(fields) != 3:
                raise ValueError
            pairs.append((fields[0].upper(), fields[1].upper(), float(fields[2])))
        except ValueError:
            raise DataError(f"expected `word1<TAB>word2<TAB>score`, found {line[:60]!r}", path,
                            line_no) from None
        if not math.isfinite(pairs[-1][2]):  # nan or inf would make every correlation nan
            raise DataError(f"the score {fields[2]!r} is not a finite number", path, line_no)
    if not pairs:
        raise DataError("no word pairs found", path)
    return pairs


def evaluate_similarity(vectors: Embeddings, path: str, *, restrict: int = 300000,
                        subwords=None, errors: str = "strict") -> SimilarityResult:
    """Spearman and Pearson correlation of cosine similarity with human scores (gensim's definition).

    With `subwords` (word -> vector, e.g. a subword model's), pairs with an unknown word are scored with
    the lower-cased word's vector instead of dropped (fastText's protocol for rare words): `pairs`, the
    pairs the correlations cover, is then every pair."""
    from scipy import stats

    ok_vocab = restricted_vocab(vectors, restrict)
    gold, model = [], []
    oov = 0
    unit = vectors.unit

    def unit_of(word: str) -> np.ndarray:
        if word in ok_vocab:
            return unit[ok_vocab[word]]
        vector = np.asarray(subwords(word.lower()), dtype=np.float32)
        norm = float(np.linalg.norm(vector))
        return vector / norm if norm > 0 else vector

    for a, b, score in read_pairs(path, errors):
        if a not in ok_vocab or b not in ok_vocab:
            oov += 1
            if subwords is None:
                continue
        gold.append(score)
        model.append(float(unit_of(a) @ unit_of(b)))
    if len(gold) < 2:
        raise DataError(f"only {len(gold)} of {len(gold) + oov} pairs have both words in the vectors", path)
    with warnings.catch_warnings():  # constant scores: the coefficients are NaN, reported as such (null in JSON)
        warnings.simplefilter("ignore")
        spearman = stats.spearmanr(gold, model)
        pearson = stats.pearsonr(gold, model)
    return SimilarityResult(len(gold), oov, float(spearman.statistic), float(spearman.pvalue),
                            float(pearson.statistic), float(pearson.pvalue),
                            len(gold) if subwords is not None else len(gold) + oov)
