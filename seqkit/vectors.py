"""An embedding table: the vector file formats, unit normalisation, neighbours and analogies.

Formats (auto-detected): word2vec text (`N D` header; word2vec.c, fastText `.vec` with trailing spaces,
gensim), headerless GloVe text, word2vec binary (with or without the newline after each vector), and
seqkit's memory-mapped fast format (`.skv`, see `seqkit.vector_store`), recognised by its magic bytes.
Lines are split on single ASCII spaces only, because real vocabularies contain words with non-breaking
or other Unicode spaces. Sizes are checked against the header before anything large is allocated, and
every problem is reported with the file and line (or record) it was found at.
"""

from __future__ import annotations

import os
import re
from typing import Sequence

import numpy as np

from seqkit import vector_store
from seqkit.errors import DataError
from seqkit.textio import atomic_output, compression_of, open_input, sniff_compression
from seqkit.vector_store import Stored, WordTable

FORMATS = ("auto", "text", "binary", "glove", "fast")
# What a text vector file looks like, for the error that says a file is not one.
EXPECTED_TEXT = "word2vec text: a first line 'COUNT DIM', then 'word v1 ... vDIM' lines"
# Refuse headers claiming more than this many floats (16 GiB) before allocating anything.
MAX_FLOATS = 1 << 32
_HEADER = re.compile(rb"^\s*(\d+)\s+(\d+)\s*$")


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
        k = min(k, scores.size - len(set(excluded)))
        if k <= 0:
            return []
        best = np.argpartition(-scores, k - 1)[:k]
        best = best[np.argsort(-scores[best], kind="stable")]
        return [(self.word_at(i), float(scores[i])) for i in best.tolist()]

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
            mappable = path != "-" and compression_of(str(path)) is None and sniff_compression(head) is None
            if mappable and (vector_store.is_fast(head) or fmt == "fast" or _named_fast(str(path))):
                loaded = cls._from_store(vector_store.map_file(str(path)))
            else:
                data = head + handle.read()
                if vector_store.is_fast(data) or fmt == "fast" or _named_fast(str(path)):
                    loaded = cls._from_store(vector_store.from_bytes(data, str(path)))
                else:
                    loaded = _parse(data, str(path), fmt, errors, limit)
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


# --- parsing -----------------------------------------------------------------------------------

def _parse(data: bytes, path: str, fmt: str, errors: str, limit: int | None) -> Embeddings:
    if not data.strip():
        raise DataError("empty vector file", path)
    if data[:2] == b"\x1f\x8b" or data[:3] == b"BZh" or data[:6] == b"\xfd7zXZ\x00":
        raise DataError("looks compressed but its name has no .gz/.bz2/.xz suffix; rename it", path)
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    first_end = data.find(b"\n")
    first = data[: first_end if first_end >= 0 else len(data)]
    header = _HEADER.match(first)
    if fmt == "glove" or (fmt == "auto" and header is None):
        if fmt != "glove" and re.match(rb"^\s*\d+\s*$", first):
            raise DataError(f"header {first.decode('latin-1').strip()!r} should be `COUNT DIM`", path, 1)
        return _parse_glove(data, path, errors, limit, guessed=fmt == "auto")
    if header is None:
        raise DataError(f"expected a `COUNT DIM` header, found {first[:60].decode('utf-8', 'replace')!r}", path, 1)
    n, dim = int(header.group(1)), int(header.group(2))
    if dim == 0:
        raise DataError("header says dimension 0", path, 1)
    if n * dim > MAX_FLOATS:
        raise DataError(f"header claims {n:,} x {dim:,} values, more than seqkit will allocate", path, 1)
    body_start = first_end + 1 if first_end >= 0 else len(data)
    if fmt == "auto":
        fmt = "binary" if _looks_binary(data, body_start, dim) else "text"
    rows = n if limit is None else min(n, limit)
    if fmt == "binary":
        return _parse_binary(data, body_start, n, dim, rows, path, errors)
    return _parse_text(data, body_start, n, dim, rows, path, errors, first_line=2)


def _looks_binary(data: bytes, start: int, dim: int) -> bool:
    """Binary if the bytes after the first word are not a plausible line of numbers."""
    space = data.find(b" ", start)
    if space < 0:
        return False
    first_vector = data[space + 1: space + 1 + 4 * dim]  # what a binary record would hold
    newline = first_vector.find(b"\n")
    head = first_vector if newline < 0 else first_vector[:newline]
    return newline == 0 or bool(re.search(rb"[^0-9eE+\-. \rnaifNAIF]", head))


def _parse_text(data: bytes, start: int, n: int | None, dim: int, rows: int, path: str, errors: str,
                first_line: int) -> Embeddings:
    """Fast path through the Numba kernel; `n` is the header's count (None: headerless GloVe)."""
    from seqkit._vector_text_parser import OK, parse_vector_lines

    buf = np.frombuffer(data, dtype=np.uint8)
    matrix = np.empty((rows, dim), dtype=np.float32)
    starts = np.empty(rows, dtype=np.int64)
    ends = np.empty(rows, dtype=np.int64)
    needs_exact = np.zeros(rows, dtype=np.uint8)
    status, done, found, pos = parse_vector_lines(buf, start, rows, dim, matrix, starts, ends, needs_exact)
    if status != OK:
        line = first_line + data.count(b"\n", start, pos)
        raise DataError(f"expected {dim} values after the word, found {found}", path, line)
    for row in np.nonzero(needs_exact[:done])[0].tolist():  # nan, inf, very long or tiny numbers
        line_end = data.find(b"\n", int(ends[row]))
        text = data[int(ends[row]) + 1: line_end if line_end >= 0 else len(data)].rstrip(b"\r").rstrip(b" ")
        fields = text.split(b" ")
        line = first_line + data.count(b"\n", start, int(starts[row]))
        if len(fields) != dim:
            raise DataError(f"expected {dim} values after the word, found {len(fields)}", path, line)
        try:
            matrix[row] = [float(x) for x in fields]
        except ValueError:
            bad = next(x for x in fields if not _is_float(x))
            raise DataError(f"not a number: {bad[:40].decode('utf-8', 'replace')!r}", path, line) from None
    if n is None:
        if done == 0:
            raise DataError("no vectors found", path)
        matrix, starts, ends = matrix[:done], starts[:done], ends[:done]
    elif done < rows:
        line = first_line + data.count(b"\n", start)
        raise DataError(f"header promises {n:,} vectors but the file ends after {done:,}", path, line)
    elif rows == n:
        rest = data[int(pos):]
        if rest.strip():
            line = first_line + data.count(b"\n", start, pos)
            raise DataError(f"more vectors than the header's {n:,}", path, line)
    words = _decode_words([data[s:e] for s, e in zip(starts.tolist(), ends.tolist())], path, errors,
                          lambda i: first_line + data.count(b"\n", start, int(starts[i])))
    return Embeddings(words, matrix)


def _is_float(text: bytes) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


def _parse_glove(data: bytes, path: str, errors: str, limit: int | None, guessed: bool = False) -> Embeddings:
    """Headerless text; `guessed`: the format was not named, so a first line of words means "not vectors"."""
    first = data.split(b"\n", 1)[0].rstrip(b"\r").rstrip(b" ")
    dim = first.count(b" ")
    if dim == 0:
        raise DataError(f"does not look like a vector file: the first line has no values; expected {EXPECTED_TEXT}",
                        path, 1)
    bad = next((x for x in first.split(b" ")[1:] if not _is_float(x)), None)
    if guessed and bad is not None:  # e.g. a text corpus given as -v
        raise DataError(f"does not look like a vector file: the first line has no 'COUNT DIM' header and "
                        f"{bad[:40].decode('utf-8', 'replace')!r} is not a number; expected {EXPECTED_TEXT} "
                        "(or GloVe text: the same lines without the header)", path, 1)
    upper = data.count(b"\n") + 1  # no header: at most this many lines hold vectors
    rows = upper if limit is None else min(upper, limit)
    return _parse_text(data, 0, None, dim, rows, path, errors, first_line=1)


def _parse_binary(data: bytes, start: int, n: int, dim: int, rows: int, path: str, errors: str) -> Embeddings:
    width = 4 * dim
    if len(data) - start < n * (width + 2) - n:  # every record needs at least a 1-byte word and a space
        raise DataError(f"truncated: {len(data) - start:,} bytes cannot hold the header's {n:,} vectors "
                        f"of dimension {dim}", path)
    words: list[bytes] = []
    offsets = np.empty(rows, dtype=np.int64)
    pos = start
    find = data.find
    for i in range(rows):
        while pos < len(data) and data[pos] in (10, 13):  # word2vec.c writes '\n' after a vector
            pos += 1
        space = find(b" ", pos, pos + 65536)
        if space < 0:
            raise DataError(f"record {i + 1:,}: no word or truncated file", path)
        if space + 1 + width > len(data):
            raise DataError(f"truncated: record {i + 1:,} ({data[pos:space][:40]!r}) lacks its vector", path)
        words.append(data[pos:space])
        offsets[i] = space + 1
        pos = space + 1 + width
    matrix = np.empty((rows, dim), dtype=np.float32)
    flat = np.frombuffer(data, dtype=np.uint8)
    for lo in range(0, rows, 8192):  # gather vectors at their irregular offsets, a block at a time
        hi = min(rows, lo + 8192)
        index = offsets[lo:hi, None] + np.arange(width)
        matrix[lo:hi] = flat[index].view("<f4").reshape(hi - lo, dim)
    if rows == n and data[pos:].strip(b"\r\n"):
        raise DataError(f"{len(data) - pos:,} bytes after the header's {n:,} vectors (wrong header "
                        "or a text file with binary-looking words?)", path)
    return Embeddings(_decode_words(words, path, errors, lambda i: None, record=True), matrix)


def _decode_words(raw: list[bytes], path: str, errors: str, line_of, record: bool = False) -> list[str]:
    try:
        return [w.decode("utf-8") for w in raw]
    except UnicodeDecodeError:
        pass
    words = []
    for i, w in enumerate(raw):
        try:
            words.append(w.decode("utf-8"))
        except UnicodeDecodeError as exc:
            if errors == "strict":
                where = f"record {i + 1:,}: " if record or line_of(i) is None else ""
                raise DataError(f"{where}invalid UTF-8 in word {w[:40]!r} at byte {exc.start}; "
                                "use --errors replace or ignore", path, None if where else line_of(i)) from None
            words.append(w.decode("utf-8", errors))
    return words


def _base_name(path: str) -> str:
    name = os.path.basename(path)
    for suffix in (".gz", ".bz2", ".xz"):
        if name.endswith(suffix):
            name = name[: -len(suffix)]
    return name


def _named_fast(path: str) -> bool:
    return _base_name(path).endswith(vector_store.SUFFIX)


def sniff_format(path: str) -> str:
    """'fast' for a .skv suffix, 'binary' for .bin, else 'text' (used for outputs)."""
    name = _base_name(path)
    if name.endswith(vector_store.SUFFIX):
        return "fast"
    return "binary" if name.endswith(".bin") else "text"


def load_kernels() -> None:
    """Load (or compile) the text writer's kernels now, e.g. before `seqkit.memory.release_compiler_pages`."""
    from seqkit._vector_text_writer import vector_lines

    vector_lines(["a"], np.zeros((1, 1), dtype=np.float32))
