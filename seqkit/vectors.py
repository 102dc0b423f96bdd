"""An embedding table: loading and saving it, unit normalisation, neighbours and analogies.

Formats (auto-detected): word2vec text (`N D` header; word2vec.c, fastText `.vec` with trailing spaces,
gensim), headerless GloVe text and word2vec binary (read by `seqkit.vector_text`), and seqkit's
memory-mapped fast format (`.skv`, `seqkit.vector_store`), recognised by its magic bytes.
"""

from __future__ import annotations

import os
from typing import Sequence

import numpy as np

from seqkit import vector_store
from seqkit.errors import DataError
from seqkit.textio import atomic_output, base_name, compression_of, open_input, sniff_compression
from seqkit.vector_store import Stored, WordTable
from seqkit.vector_text import parse

FORMATS = ("auto", "text", "binary", "glove", "fast")


_SAVE_ROWS = 4096  # rows formatted per write when saving text


class Embeddings:
    """Words and their float32 vectors; row order is the file's (most frequent first by convention).

    Queries divide by the row norms instead of normalising the whole matrix, so a memory-mapped file is
    answered without a second copy of it and only the query rows are ever normalised.
    """

    def __init__(self, words: Sequence[str], matrix: np.ndarray, *, duplicates: int = 0,
                 norms: np.ndarray | None = None):
        matrix = np.ascontiguousarray(matrix, dtype=np.float32)
        if matrix.ndim != 2 or matrix.shape[0] != len(words):
            raise ValueError(f"matrix shape {matrix.shape} does not match {len(words)} words")
        self.matrix = matrix
        self._words: list[str] | None = list(words)
        self._table: WordTable | None = None
        self._index: dict[str, int] | None = None
        self._norms = norms
        self._safe_norms: np.ndarray | None = None
        self._unit: np.ndarray | None = None
        self.duplicates = duplicates or len(self._words) - len(self.index)

    @classmethod
    def _from_store(cls, stored: Stored) -> "Embeddings":
        """Over a mapped fast file: the word list and its index are built only if something asks for them."""
        emb = cls.__new__(cls)
        emb.matrix = np.asarray(stored.matrix, dtype=np.float32)  # float16 files are widened once, here
        emb._words, emb._table, emb._index = None, stored.words, None
        emb._norms, emb._safe_norms, emb._unit = stored.norms, None, None
        emb.duplicates = stored.duplicates
        return emb

    @property
    def words(self) -> list[str]:
        if self._words is None:
            self._words = self._table.all()
        return self._words

    @property
    def index(self) -> dict[str, int]:
        if self._index is None:
            self._index = {}
            for i, word in enumerate(self.words):
                self._index.setdefault(word, i)  # a duplicate word keeps its first (most frequent) row
        return self._index

    def row(self, word: str) -> int | None:
        """The row of `word` (its first, if duplicated), or None."""
        if self._index is None and self._table is not None:
            return self._table.find(word)
        return self.index.get(word)

    def word_at(self, row: int) -> str:
        return self._table.word(row) if self._words is None else self._words[row]

    def __len__(self) -> int:
        return self.matrix.shape[0]

    def __contains__(self, word: str) -> bool:
        return self.row(word) is not None

    @property
    def dim(self) -> int:
        return self.matrix.shape[1]

    @property
    def norms(self) -> np.ndarray:
        if self._norms is None:
            self._norms = np.linalg.norm(self.matrix, axis=1)
        return self._norms

    def _divisors(self) -> np.ndarray:
        """Norms with zeros made 1, so zero rows stay zero (and score 0) instead of becoming NaN."""
        if self._safe_norms is None:
            self._safe_norms = np.where(self.norms == 0, np.float32(1), self.norms).astype(np.float32)
        return self._safe_norms

    @property
    def unit(self) -> np.ndarray:
        """Rows scaled to unit length (zero rows stay zero), computed once on first use."""
        if self._unit is None:
            self._unit = self.matrix / self._divisors()[:, None]
        return self._unit

    def _unit_rows(self, rows: Sequence[int]) -> np.ndarray:
        return self.matrix[list(rows)] / self._divisors()[list(rows), None]

    def _cosines(self, target: np.ndarray, restrict: int | None) -> np.ndarray:
        """Cosine of every row (up to `restrict`) with a unit-length target."""
        return (self.matrix[:restrict] @ target) / self._divisors()[:restrict]

    def _required_row(self, word: str) -> int:
        row = self.row(word)
        if row is None:
            raise KeyError(word)
        return row

    def vector(self, word: str) -> np.ndarray:
        return self.matrix[self._required_row(word)]

    # --- queries ---------------------------------------------------------------------------------

    def nearest(self, word_or_vector: str | np.ndarray, k: int = 10, *, restrict: int | None = None,
                exclude: Sequence[int] = ()) -> list[tuple[str, float]]:
        """The k words with the highest cosine similarity to a word (itself excluded) or a vector."""
        if isinstance(word_or_vector, str):
            row = self._required_row(word_or_vector)
            target = self._unit_rows([row])[0]
            exclude = [*exclude, row]
        else:
            target = _unit_vector(np.asarray(word_or_vector, dtype=np.float32))
        return self._top(self._cosines(target, restrict), k, exclude)

    def analogy(self, positive: Sequence[str], negative: Sequence[str] = (), k: int = 10, *,
                method: str = "add", restrict: int | None = None) -> list[tuple[str, float]]:
        """3CosAdd (gensim's most_similar) or 3CosMul (Levy & Goldberg 2014) over unit vectors."""
        pos = [self._required_row(w) for w in positive]
        neg = [self._required_row(w) for w in negative]
        pos_unit, neg_unit = self._unit_rows(pos), self._unit_rows(neg)
        if method == "add":
            query = (pos_unit.sum(axis=0) - neg_unit.sum(axis=0)) / max(len(pos) + len(neg), 1)
            scores = self._cosines(_unit_vector(query), restrict)
        elif method == "mul":
            scores = _cosmul(len(self.matrix[:restrict]), [self._cosines(p, restrict) for p in pos_unit],
                             [self._cosines(q, restrict) for q in neg_unit])
        else:
            raise ValueError(f"method must be 'add' or 'mul', not {method!r}")
        return self._top(scores, k, pos + neg)

    def _top(self, scores: np.ndarray, k: int, exclude: Sequence[int]) -> list[tuple[str, float]]:
        scores = scores.astype(np.float64, copy=True)
        excluded = [i for i in exclude if i < scores.size]
        scores[excluded] = -np.inf
        available = scores.size - len(set(excluded))
        want = min(k, available)
        if want <= 0:
            return []
        # a duplicate word's later rows are no answer (its first row stands for it): enough candidates
        # to drop them and still have k, checked by lookup (a mapped file's word list stays unread)
        take = min(available, want + self.duplicates)
        best = np.argpartition(-scores, take - 1)[:take]
        best = best[np.argsort(-scores[best], kind="stable")]
        found = []
        for i in best.tolist():
            word = self.word_at(i)
            if self.duplicates and self.row(word) != i:
                continue
            found.append((word, float(scores[i])))
            if len(found) == want:
                break
        return found

    # --- files -----------------------------------------------------------------------------------

    @classmethod
    def load(cls, path: str, fmt: str = "auto", *, errors: str = "strict", limit: int | None = None,
             reporter=None) -> "Embeddings":
        """Read a vector file in any supported format (compressed or `-` too).

        A fast (`.skv`) file is recognised by its magic bytes and memory-mapped unless it is compressed
        or stdin; `limit` then keeps its first rows without reading the others.
        """
        if fmt not in FORMATS:
            raise ValueError(f"fmt must be one of {FORMATS}")
        with open_input(path, binary=True) as handle:
            head = handle.read(len(vector_store.MAGIC))
            _refuse_model(head, str(path))
            mappable = (path != "-" and os.path.isfile(path) and compression_of(str(path)) is None
                        and sniff_compression(head) is None)
            if mappable and (vector_store.is_fast(head) or fmt == "fast"):
                loaded = cls._from_store(vector_store.map_file(str(path)))
            else:
                data = head + handle.read()
                if vector_store.is_fast(data) or fmt == "fast":
                    loaded = cls._from_store(vector_store.from_bytes(data, str(path)))
                else:
                    try:
                        loaded = cls(*parse(data, str(path), fmt, errors, limit))
                    except DataError as exc:
                        if _named_fast(str(path)) and (b"\0" in data[:4096] or data[:1] == b"\x89"):
                            vector_store.from_bytes(data, str(path))  # binary under an .skv name: a damaged one
                        raise exc.maybe_other_model(str(path)) if path != "-" else exc
        if limit is not None and limit < len(loaded) and loaded._table is not None:
            loaded = Embeddings(loaded.words[:limit], loaded.matrix[:limit])
        if loaded.duplicates and reporter is not None:
            reporter.warn(f"{path}: {loaded.duplicates:,} duplicate words; the first vector of each is used")
        return loaded

    def save(self, path: str, *, binary: bool = False, fmt: str | None = None, dtype: str = "float32") -> None:
        """Write word2vec text (default), word2vec binary (`binary=True`), GloVe text (`fmt='glove'`) or
        the fast memory-mapped format (`fmt='fast'`, values as `dtype`: float32 or float16)."""
        fmt = fmt or ("binary" if binary else "text")
        n, dim = self.matrix.shape
        if fmt == "fast" and n == 0:
            raise DataError("no vectors to write", path)
        with atomic_output(path, binary=True) as out:
            if fmt == "fast":
                vector_store.write(out, self.words, self.matrix, dtype=dtype, duplicates=self.duplicates, path=path)
                return
            if fmt != "glove":
                out.write(f"{n} {dim}\n".encode())
            if fmt == "binary":
                little = self.matrix.astype("<f4", copy=False)
                for word, row in zip(self.words, little):
                    out.write(word.encode("utf-8") + b" " + row.tobytes() + b"\n")
                return
            from seqkit._vector_text_writer import vector_lines

            for lo in range(0, n, _SAVE_ROWS):  # a block of rows at a time: a few MB of text at most
                out.write(vector_lines(self.words[lo:lo + _SAVE_ROWS], self.matrix[lo:lo + _SAVE_ROWS]))


def cosmul_scores(unit: np.ndarray, pos: np.ndarray, neg: np.ndarray, eps: float = 1e-3) -> np.ndarray:
    """3CosMul: prod of (cos+1)/2 over positives divided by the same over negatives plus eps."""
    return _cosmul(unit.shape[0], [unit @ p for p in pos], [unit @ q for q in neg], eps)


def _cosmul(size: int, pos_cosines: Sequence[np.ndarray], neg_cosines: Sequence[np.ndarray],
            eps: float = 1e-3) -> np.ndarray:
    num = np.ones(size, dtype=np.float64)
    den = np.ones_like(num)
    for cos in pos_cosines:
        num *= (cos + 1.0) / 2.0
    for cos in neg_cosines:
        den *= (cos + 1.0) / 2.0
    return num / (den + eps) if len(neg_cosines) else num


def _unit_vector(v: np.ndarray) -> np.ndarray:
    norm = float(np.linalg.norm(v))
    return v / norm if norm > 0 else v


def _named_fast(path: str) -> bool:
    return base_name(path).endswith(vector_store.SUFFIX)


def vector_model_advice(path: str, command=None) -> str:
    """What to do with a subword model given where a vector file is read: -m when the command (the click
    command running, by default) takes it, else its vectors written out (classify -v, seq2seq -v)."""
    import click

    if command is None:
        ctx = click.get_current_context(silent=True)
        command = ctx.command if ctx is not None else None
    convert = f"write its vectors with `seqkit convert {path} vectors.txt`"
    if command is not None and any("-m" in getattr(p, "opts", ()) for p in command.params):
        return f"give it with -m instead of -v (every word gets a vector, unseen ones from their n-grams), or {convert}"
    return f"{convert} and give that file"


def _refuse_model(head: bytes, path: str) -> None:
    """A model file given where vectors are read gets a pointer to the command that reads it, not a parse
    error about text."""
    from seqkit.fasttext_bin import is_fasttext_bin
    from seqkit.modelfile import describe_file

    if is_fasttext_bin(head):
        raise DataError(f"a fastText model, not a vector file; {vector_model_advice(path)}", path)
    if head.startswith(b"PK\x03\x04"):
        what = describe_file(path) if path != "-" else "a zip archive (.npz)"
        error = DataError(f"{what}, not a vector file; a subword model is given with -m instead of -v, or "
                          "its vectors written with `seqkit convert`", path)
        raise error.maybe_other_model(path) if path != "-" else error


def sniff_format(path: str) -> str:
    """'fast' for a .skv suffix, 'binary' for .bin, else 'text' (used for outputs)."""
    name = base_name(path)
    if name.endswith(vector_store.SUFFIX):
        return "fast"
    return "binary" if name.endswith(".bin") else "text"


def load_kernels() -> None:
    """Load (or compile) the text writer's kernels now, e.g. before `seqkit.memory.release_compiler_pages`."""
    from seqkit._vector_text_writer import vector_lines

    vector_lines(["a"], np.zeros((1, 1), dtype=np.float32))
