"""ARPA files: a writer KenLM and SRILM accept, and a reader with KenLM-grade diagnostics.

Reading tries the vectorised reader (`arpafast`) first; a file it does not find perfectly plain goes
through the line-by-line reader here, which either accepts it too or names the offending line.
"""

from __future__ import annotations

import math
import re
from typing import Iterable

import numpy as np

from seqkit.errors import DataError
from seqkit.textio import atomic_output, open_input
from seqkit_ngram.arpafast import read_fast
from seqkit_ngram.arpaformat import VocabBytes, fits_numbers, format_lines
from seqkit_ngram.estimate import Model

_COUNT_LINE = re.compile(r"^ngram\s+(\d+)\s*=\s*(\d+)\s*$")
_SECTION = re.compile(r"^\\(\d+)-grams:\s*$")
_ASCII_SPACE = re.compile("[ \t\n\r\x0b\x0c]+")
MAX_NGRAMS = 1 << 33  # a header claiming more is refused before anything is allocated


BLOCK_ROWS = 1 << 18


def write_arpa(model: Model, path: str) -> None:
    """Write `model` in ARPA format (compressed by suffix; atomically)."""
    sections = ([(w, p, b)] for w, p, b in zip(model.words, model.logprob, model.backoff))
    write_arpa_blocks(path, model.vocab, [len(w) for w in model.words], sections)


def write_arpa_blocks(path: str, vocab_words: list[str], sizes: list[int], sections: Iterable) -> None:
    """Write an ARPA file whose order n holds sizes[n - 1] n-grams, given per order an iterable of blocks
    (words, log10 probabilities, log10 back-offs) in the file's order, so a model need not be in memory.

    A second thread does the writing (the system call releases the GIL), so the next block is formatted
    while the previous one goes to disk; at most two blocks wait.
    """
    from collections import deque
    from concurrent.futures import ThreadPoolExecutor

    vocab = VocabBytes(vocab_words)
    top = len(sizes)
    with atomic_output(path, binary=True) as out, ThreadPoolExecutor(1) as writer:
        pending: deque = deque()

        def put(piece: bytes) -> None:
            pending.append(writer.submit(out.write, piece))
            while len(pending) > 2:
                pending.popleft().result()

        put(b"\\data\\\n" + b"".join(f"ngram {n}={size}\n".encode() for n, size in enumerate(sizes, 1)))
        for n, blocks in enumerate(sections, 1):
            put(f"\n\\{n}-grams:\n".encode())
            for words, logprob, backoff in blocks:
                if not (np.isfinite(logprob).all() and np.isfinite(backoff).all()):
                    while pending:
                        pending.popleft().result()
                    _write_plain(out, vocab_words, words, logprob, backoff, n < top)
                elif vocab.fits and fits_numbers(logprob, backoff):
                    for piece in format_lines(words, logprob, backoff if n < top else None, vocab):
                        put(piece)
                else:
                    while pending:
                        pending.popleft().result()
                    _write_with_kernel(out, vocab_words, words, logprob, backoff, n < top)
        put(b"\n\\end\\\n")
        while pending:
            pending.popleft().result()


def _write_with_kernel(out, vocab: list[str], words, logprob, backoff, with_backoff: bool) -> None:
    """The Numba formatter, for what the padded-matrix formatter cannot take (NUL bytes or very long
    words in the vocabulary, log values beyond -9999)."""
    from seqkit_ngram.kernels import format_ngram_lines

    encoded = [w.encode("utf-8") for w in vocab]
    lengths = np.fromiter(map(len, encoded), dtype=np.int64, count=len(encoded))
    vocab_offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
    np.cumsum(lengths, out=vocab_offsets[1:])
    vocab_bytes = np.frombuffer(b"".join(encoded), dtype=np.uint8)
    n = words.shape[1]
    for lo in range(0, len(words), BLOCK_ROWS):
        rows = words[lo:lo + BLOCK_ROWS]
        buffer = np.empty(int(lengths[rows].sum()) + len(rows) * (n + 40), dtype=np.uint8)
        used = format_ngram_lines(rows, _micro(logprob[lo:lo + BLOCK_ROWS]), _micro(backoff[lo:lo + BLOCK_ROWS]),
                                  with_backoff, vocab_bytes, vocab_offsets, buffer)
        out.write(memoryview(buffer)[:used])


def _write_plain(out, vocab: list[str], words, logprob, backoff, with_backoff: bool) -> None:
    """Python's formatting, for a block holding an infinite value (KenLM reads `-inf`, which the integer
    formatters cannot print)."""
    def number(x: float) -> str:
        if not math.isfinite(x):
            return "-inf" if x < 0 else "inf"
        text = f"{x:.6f}".rstrip("0").rstrip(".")  # as the other formatters print: -0.3, -99
        return "0" if text in ("-0", "") else text

    lines = []
    for row, p, b in zip(words.tolist(), np.asarray(logprob, dtype=np.float64).tolist(),
                         np.asarray(backoff, dtype=np.float64).tolist()):
        text = " ".join(vocab[w] for w in row)
        lines.append(f"{number(p)}\t{text}\t{number(b)}\n" if with_backoff and b != 0 else f"{number(p)}\t{text}\n")
    out.write("".join(lines).encode("utf-8"))


def _micro(values: np.ndarray) -> np.ndarray:
    """log10 values in millionths (what the formatter prints with six decimals)."""
    return np.round(np.asarray(values, dtype=np.float64) * 1e6).astype(np.int64)


class ArpaData:
    """The parsed content of an ARPA file."""

    def __init__(self, vocab: list[str], words: list[np.ndarray], logprob: list[np.ndarray],
                 backoff: list[np.ndarray], path: str | None = None):
        self.vocab, self.words, self.logprob, self.backoff = vocab, words, logprob, backoff
        self.path = path  # the file read, for messages about what building its tables finds

    @property
    def order(self) -> int:
        return len(self.words)


def read_arpa(path: str) -> ArpaData:
    """Parse an ARPA file, refusing what KenLM refuses and naming the line."""
    with open_input(path, binary=True) as handle:  # gzip/bzip2/xz are recognised by their magic bytes
        data = handle.read()
    if data.startswith(b"mmap lm ") or b"\x00" in data[:4096]:
        raise DataError("looks like a binary (KenLM build_binary?) file, not ARPA text", path, 1)
    data = data.removeprefix(b"\xef\xbb\xbf")  # a byte-order mark some editors write
    fast = read_fast(data, MAX_NGRAMS)
    if fast is not None:
        return ArpaData(*fast, path=path)
    result = _read_lines(data, path)
    result.path = path
    return result


def ngram_line(path: str, words: list[str], occurrence: int = 2) -> int | None:
    """The line number of the `occurrence`-th entry of the n-gram `words` in ARPA file `path` (read again:
    only for an error message)."""
    from seqkit.textio import text_lines

    n, seen, section = len(words), 0, 0
    for number, line in enumerate(text_lines(path, "replace"), 1):
        if line.startswith("\\") and line.rstrip().endswith("-grams:"):
            section = int(line[1:line.index("-")]) if line[1:line.index("-")].isdigit() else 0
        elif section == n:
            fields = line.split()  # tabs or spaces, as the reader takes them: log10 p, the words, a back-off
            if fields[1:1 + n] == words:
                seen += 1
                if seen == occurrence:
                    return number
    return None


def _read_lines(data: bytes, path: str) -> ArpaData:
    """The careful reader: line by line, naming the first line that is wrong (see `arpafast`)."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DataError(f"invalid UTF-8 at byte {exc.start}", path, data.count(b"\n", 0, exc.start) + 1) from None
    lines = text.split("\n")
    i = 0
    n_lines = len(lines)

    def where(index: int) -> int:
        return index + 1

    while i < n_lines and (not lines[i].strip() or lines[i].startswith("#")):
        i += 1
    if i >= n_lines or lines[i].strip() != "\\data\\":
        found = lines[i].strip()[:60] if i < n_lines else "end of file"
        raise DataError(f"first non-empty line was {found!r}, not \\data\\", path, where(i))
    i += 1
    declared: list[int] = []
    while i < n_lines and lines[i].strip():
        match = _COUNT_LINE.match(lines[i].strip())
        if not match:
            raise DataError(f"expected `ngram N=count`, found {lines[i].strip()[:60]!r}", path, where(i))
        n, count = int(match.group(1)), int(match.group(2))
        if n != len(declared) + 1:
            raise DataError(f"ngram orders must be consecutive from 1; found {n} after {len(declared)}", path, where(i))
        if count > MAX_NGRAMS:
            raise DataError(f"claims {count:,} {n}-grams, more than seqkit will allocate", path, where(i))
        declared.append(count)
        i += 1
    if not declared:
        raise DataError("no `ngram N=count` lines after \\data\\", path, where(i))
    top = len(declared)
    vocab_index: dict[str, int] = {}
    vocab: list[str] = []
    words_by_order, logprob_by_order, backoff_by_order = [], [], []
    for n in range(1, top + 1):
        while i < n_lines and not lines[i].strip():
            i += 1
        if i >= n_lines:
            raise DataError(f"file ends before the \\{n}-grams: section", path, where(i))
        match = _SECTION.match(lines[i].strip())
        if not match or int(match.group(1)) != n:
            raise DataError(f"expected \\{n}-grams:, found {lines[i].strip()[:60]!r}", path, where(i))
        i += 1
        count = declared[n - 1]
        words = np.empty((count, n), dtype=np.int32)
        logprob = np.empty(count, dtype=np.float64)
        backoff = np.zeros(count, dtype=np.float64)
        for row in range(count):
            if i >= n_lines or not lines[i].strip() or lines[i].startswith("\\"):
                raise DataError(f"the header says {count:,} {n}-grams but the section has {row:,}", path, where(i))
            fields = lines[i].split("\t")
            if len(fields) == 1:  # some writers use spaces
                parts = lines[i].split()
                fields = [parts[0], " ".join(parts[1:1 + n])] + parts[1 + n:]
            if len(fields) < 2 or len(fields) > 3 or (len(fields) == 3 and n == top):
                raise DataError(f"malformed {n}-gram line {lines[i][:60]!r}", path, where(i))
            try:
                p = float(fields[0])
                b = float(fields[2]) if len(fields) == 3 and fields[2].strip() else 0.0
            except ValueError:
                raise DataError(f"not a number in {lines[i][:60]!r}", path, where(i)) from None
            if math.isnan(p) or p > 0:
                raise DataError(f"probability {fields[0]} is {'NaN' if math.isnan(p) else 'positive'}", path, where(i))
            if not math.isfinite(b):  # KenLM refuses NaN and both infinities ("Bad backoff")
                raise DataError(f"back-off {fields[2].strip()} is not a finite number", path, where(i))
            tokens = [t for t in _ASCII_SPACE.split(fields[1]) if t]  # as bytes.split(): words may hold U+00A0
            if len(tokens) != n:
                raise DataError(f"expected {n} words, found {len(tokens)}", path, where(i))
            for j, token in enumerate(tokens):
                index = vocab_index.get(token)
                if index is None:
                    if n > 1:
                        raise DataError(f"word {token!r} is missing from the unigrams", path, where(i))
                    index = vocab_index[token] = len(vocab)
                    vocab.append(token)
                elif n == 1:  # KenLM would keep the first entry, a later reader the last: neither is safe
                    raise DataError(f"the unigram {token!r} is listed twice", path, where(i))
                words[row, j] = index
            logprob[row] = p
            backoff[row] = b
            i += 1
        if i < n_lines and lines[i].strip() and not lines[i].startswith("\\"):
            raise DataError(f"more {n}-grams than the header's {count:,}", path, where(i))
        words_by_order.append(words)
        logprob_by_order.append(logprob)
        backoff_by_order.append(backoff)
    while i < n_lines and not lines[i].strip():
        i += 1
    if i >= n_lines or lines[i].strip() != "\\end\\":
        found = lines[i].strip()[:60] if i < n_lines else "end of file"
        raise DataError(f"expected \\end\\ after the {top}-grams, found {found!r}", path, where(i))
    i += 1
    while i < n_lines:
        if lines[i].strip():
            raise DataError("text after \\end\\", path, where(i))
        i += 1
    if "<s>" not in vocab_index or "</s>" not in vocab_index:
        raise DataError("the unigrams lack <s> or </s>", path)
    return ArpaData(vocab, words_by_order, logprob_by_order, backoff_by_order)
