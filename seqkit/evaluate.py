"""Word-analogy and word-similarity benchmarks, computed exactly as gensim's evaluators define them.

`evaluate_analogies` reproduces `KeyedVectors.evaluate_word_analogies(restrict_vocab=N,
case_insensitive=True)`: words are compared upper-cased, the search runs over the N most frequent rows,
a question with a word outside them is skipped (and counted against coverage), the three question
words are excluded, and the answer is the first of the top candidates whose upper-cased form is not a
question word. The difference is speed: questions are answered in batches by one matrix product each
instead of one `most_similar` call per question.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from seqkit.errors import DataError
from seqkit.textio import open_input
from seqkit.vectors import Embeddings

TOP_CANDIDATES = 5  # gensim asks most_similar for topn=5 and takes the first acceptable one
BATCH = 1024


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


def read_analogies(path: str) -> list[tuple[str, list[tuple[str, str, str, str]]]]:
    """Sections of upper-cased (a, b, c, d) questions; malformed lines are errors naming the line."""
    sections: list[tuple[str, list[tuple[str, str, str, str]]]] = []
    with open_input(path, binary=True) as handle:
        for line_no, raw in enumerate(handle, 1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise DataError(f"invalid UTF-8 at byte {exc.start}", path, line_no) from None
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
                       questions=None) -> AnalogyResult:
    """Answer every question by 3CosAdd (or 3CosMul) over the `restrict` most frequent words."""
    if method not in ("add", "mul"):
        raise ValueError("method must be 'add' or 'mul'")
    questions = questions if questions is not None else read_analogies(path)
    ok_vocab = restricted_vocab(vectors, restrict)
    result = AnalogyResult(method=method, restrict=restrict)
    # Rows divided by their norms as gensim does (vectors @ mean / norms), in float32.
    matrix = vectors.matrix[:restrict]
    norms = np.linalg.norm(matrix, axis=1)
    norms[norms == 0] = 1.0
    unit = (matrix / norms[:, None]).astype(np.float32)
    upper = [w.upper() for w in vectors.words[:restrict]]
    for name, items in questions:
        section = Section(name)
        result.sections.append(section)
        known = [q for q in items if all(w in ok_vocab for w in q)]
        section.skipped = len(items) - len(known)
        for lo in range(0, len(known), BATCH):
            batch = known[lo:lo + BATCH]
            ids = np.array([[ok_vocab[w] for w in q] for q in batch], dtype=np.int64)
            scores = _batch_scores(matrix, norms, unit, ids, method)
            best = np.argmax(scores, axis=1).tolist()
            for row, (a, b, c, expected) in enumerate(batch):
                answer = upper[best[row]]
                if answer in (a, b, c):  # a case variant of a question word: look further down
                    answer = _first_acceptable(scores[row], vectors.words, (a, b, c))
                if answer == expected:
                    section.correct += 1
                else:
                    section.incorrect += 1
    return result


def _batch_scores(matrix: np.ndarray, norms: np.ndarray, unit: np.ndarray, ids: np.ndarray,
                  method: str) -> np.ndarray:
    """Scores of every restricted row for each question (a, b, c) -> b - a + c; inputs masked out."""
    a, b, c = unit[ids[:, 0]], unit[ids[:, 1]], unit[ids[:, 2]]
    if method == "add":
        query = (b + c - a) / 3.0
        qnorm = np.linalg.norm(query, axis=1, keepdims=True)
        qnorm[qnorm == 0] = 1.0
        scores = (query / qnorm).astype(np.float32) @ matrix.T
        scores /= norms[None, :]
    else:
        def shifted(q: np.ndarray) -> np.ndarray:
            return (q @ unit.T + 1.0) / 2.0
        scores = shifted(b) * shifted(c) / (shifted(a) + 1e-3)
    scores[np.arange(len(ids))[:, None], ids[:, :3]] = -np.inf  # question words are never answers
    return scores


def _first_acceptable(scores: np.ndarray, words: list[str], ignore: tuple[str, str, str]) -> str | None:
    """gensim's rule: among the best TOP_CANDIDATES, the first whose upper case is not a question word
    (another case variant of one can still rank high); if all are, the last one examined."""
    answer = None
    masked: list[tuple[int, float]] = []
    for _ in range(min(TOP_CANDIDATES, scores.size)):
        best = int(np.argmax(scores))
        answer = words[best].upper()
        if answer not in ignore:
            break
        masked.append((best, float(scores[best])))
        scores[best] = -np.inf
    for index, value in masked:
        scores[index] = value
    return answer


@dataclass
class SimilarityResult:
    pairs: int
    oov_pairs: int
    spearman: float
    spearman_p: float
    pearson: float
    pearson_p: float

    @property
    def oov_ratio(self) -> float:
        total = self.pairs + self.oov_pairs
        return 100.0 * self.oov_pairs / total if total else float("nan")

    def as_dict(self) -> dict:
        return {**asdict(self), "oov_ratio": self.oov_ratio}


def read_pairs(path: str) -> list[tuple[str, str, float]]:
    """`w1<TAB>w2<TAB>score` lines; `#` comments and blank lines skipped; others are errors."""
    pairs = []
    with open_input(path, binary=True) as handle:
        for line_no, raw in enumerate(handle, 1):
            try:
                line = raw.decode("utf-8").rstrip("\r\n")
            except UnicodeDecodeError as exc:
                raise DataError(f"invalid UTF-8 at byte {exc.start}", path, line_no) from None
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
    if not pairs:
        raise DataError("no word pairs found", path)
    return pairs


def evaluate_similarity(vectors: Embeddings, path: str, *, restrict: int = 300000) -> SimilarityResult:
    """Spearman and Pearson correlation of cosine similarity with human scores (gensim's definition)."""
    from scipy import stats

    ok_vocab = restricted_vocab(vectors, restrict)
    gold, model = [], []
    oov = 0
    unit = vectors.unit
    for a, b, score in read_pairs(path):
        if a not in ok_vocab or b not in ok_vocab:
            oov += 1
            continue
        gold.append(score)
        model.append(float(unit[ok_vocab[a]] @ unit[ok_vocab[b]]))
    if len(gold) < 2:
        raise DataError(f"only {len(gold)} of {len(gold) + oov} pairs have both words in the vectors", path)
    spearman = stats.spearmanr(gold, model)
    pearson = stats.pearsonr(gold, model)
    return SimilarityResult(len(gold), oov, float(spearman.statistic), float(spearman.pvalue),
                            float(pearson.statistic), float(pearson.pvalue))
