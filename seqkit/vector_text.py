"""Reading the vector formats other tools write: word2vec text, headerless GloVe text, word2vec binary.

Lines are split on single ASCII spaces only, because real vocabularies contain words with non-breaking
or other Unicode spaces. Sizes are checked against the header before anything large is allocated, and
every problem is reported with the file and line (or record) it was found at.
"""

from __future__ import annotations

import re

import numpy as np

from seqkit.errors import DataError

# What a text vector file looks like, for the error that says a file is not one.
EXPECTED_TEXT = "word2vec text: a first line 'COUNT DIM', then 'word v1 ... vDIM' lines"
# Refuse headers claiming more than this many floats (16 GiB) before allocating anything.
MAX_FLOATS = 1 << 32
_HEADER = re.compile(rb"^\s*(\d+)\s+(\d+)\s*$")


def parse(data: bytes, path: str, fmt: str, errors: str, limit: int | None) -> tuple[list[str], np.ndarray]:
    """Words and float32 matrix of a text or binary vector file's bytes (`fmt`: auto, text, binary, glove);
    a value that is not a finite float32 (nan, inf, 1e39) is refused, naming its word and line (or
    record): it would poison every cosine it touches."""
    with np.errstate(over="ignore", invalid="ignore"):  # a value beyond float32 becomes inf, refused below
        words, matrix, line_of = _parse_any(data, path, fmt, errors, limit)
    rows = np.arange(len(words))  # each kept vector's row in the file
    if errors == "ignore" and "" in words:  # a word of nothing but invalid bytes goes with its vector
        rows = np.array([i for i, word in enumerate(words) if word], dtype=np.int64)
        words, matrix = [words[i] for i in rows], np.ascontiguousarray(matrix[rows])
    bad = np.flatnonzero(~np.isfinite(matrix).all(axis=1)) if matrix.size else ()
    if len(bad):
        row = int(rows[bad[0]])
        line = line_of(row) if line_of is not None else None
        raise DataError(f"{'' if line_of else f'record {row + 1:,}: '}the vector of {words[bad[0]]!r} holds a "
                        f"value that is not a finite number ({len(bad):,} such vectors)", path, line)
    return words, matrix


def _parse_any(data: bytes, path: str, fmt: str, errors: str, limit: int | None):
    """(words, matrix, the line of a row in the file; None for binary records, numbered from 1)."""
    if not data.strip():
        raise DataError("empty vector file", path)
    if data[:2] == b"\x1f\x8b" or data[:3] == b"BZh" or data[:6] == b"\xfd7zXZ\x00":
        raise DataError("still compressed after decompressing (compressed twice?)", path)
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
    if newline == 0 or not re.search(rb"[^0-9eE+\-. \rnaifNAIF]", head):
        return newline == 0
    # a line of text with a word and `dim` fields is text even with a field that is no number: the text
    # parser then names that line (binary bytes seldom make exactly that shape without a control byte)
    end = data.find(b"\n", start, start + 64 * dim + 4096)
    line = data[start:end].rstrip(b"\r").rstrip(b" ") if end >= 0 else b""  # word2vec.c ends lines with a space
    return not (line and len(line.split(b" ")) == dim + 1 and not re.search(rb"[\x00-\x08\x0b-\x1f]", line))


def _parse_text(data: bytes, start: int, n: int | None, dim: int, rows: int, path: str, errors: str,
                first_line: int):
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
    def line_of(row: int) -> int:
        return first_line + data.count(b"\n", start, int(starts[row]))

    words = _decode_words([data[s:e] for s, e in zip(starts.tolist(), ends.tolist())], path, errors, line_of)
    return words, matrix, line_of


def _is_float(text: bytes) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


def _parse_glove(data: bytes, path: str, errors: str, limit: int | None, guessed: bool = False):
    """Headerless text; `guessed`: the format was not named, so a first line of words means "not vectors"."""
    first = data.split(b"\n", 1)[0].rstrip(b"\r").rstrip(b" ")
    dim = first.count(b" ")
    if guessed and dim == 1 and re.fullmatch(rb"\S+ \d+", first):
        raise DataError("does not look like a vector file: one whole number per word is a vocabulary "
                        f"(`word count`); expected {EXPECTED_TEXT}", path, 1)
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


def _parse_binary(data: bytes, start: int, n: int, dim: int, rows: int, path: str, errors: str):
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
    return _decode_words(words, path, errors, lambda i: None, record=True), matrix, None


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


def text_line(word: str, row: np.ndarray) -> str:
    """One `word v1 ... vD` line of word2vec text formatted by Python ('%.6g'): what `save`'s kernel
    prints byte for byte, its fallback for values outside the kernel's exact path, and `print-vectors`'
    format."""
    return word + " " + " ".join("%.6g" % value for value in row.tolist()) + "\n"
