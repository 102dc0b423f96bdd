"""Corpus text -> int32 word ids in blocks, with NumPy instead of a Python loop per line.

`seqkit.corpus.iter_sentences` yields one Python list per line, which costs more than the whole n-gram
count on PTB. This reader keeps its contract (ASCII-whitespace tokens, one sentence per line, empty lines
skipped, a BOM dropped, `--errors` for invalid UTF-8 with the same message, long lines cut into pieces of
at most `max_sentence_len` tokens and counted) but handles a block of lines at a time: `bytes.split()` for
the tokens, one dictionary lookup per token through `map`, and array arithmetic for the line lengths.
Each block is handed on as (ids with `</s>` after each sentence, sentence lengths), so a caller can count
in bounded memory.
"""

from __future__ import annotations

from typing import Iterator, Sequence

import numpy as np

from seqkit.corpus import CorpusStats, read_blocks, validated_utf8
from seqkit.textio import open_input

BLOCK_SIZE = 8 << 20
EOS = 2
_SPACE = np.zeros(256, dtype=bool)
_SPACE[[9, 10, 11, 12, 13, 32]] = True  # exactly what bytes.split() splits on


class GrowingIndex(dict):
    """bytes -> id; an unseen word gets the next id and is appended to the vocabulary."""

    def __init__(self, index: dict[bytes, int], vocab: list[str]):
        super().__init__(index)
        self.vocab = vocab

    def __missing__(self, token: bytes) -> int:
        i = self[token] = len(self.vocab)
        self.vocab.append(token.decode("utf-8"))
        return i


class ClosedIndex(dict):
    """bytes -> id for a fixed vocabulary; anything else is <unk> (id 0)."""

    def __missing__(self, token: bytes) -> int:
        return 0


def iter_blocks(paths: Sequence[str], lookup, *, errors: str, max_sentence_len: int, stats: CorpusStats,
                block_size: int = BLOCK_SIZE) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(ids with </s> after each sentence, sentence lengths incl. </s>) for successive blocks of lines."""
    for path in paths:
        with open_input(str(path), binary=True) as handle:
            stats.files += 1
            yield from _FileBlocks(str(path), handle, lookup, errors, max_sentence_len, stats, block_size).run()


class _FileBlocks:
    """One file: blocks cut after a newline (or, inside a huge line, after whitespace)."""

    def __init__(self, path, handle, lookup, errors, max_len, stats, block_size):
        self.path, self.handle, self.lookup, self.errors = path, handle, lookup, errors
        self.max_len, self.stats, self.block_size = max_len, stats, block_size
        self.line_no = 0      # completed lines so far (for error messages)
        self.offset = 0       # file offset of the next byte handed to _block
        self.partial: list[np.ndarray] = []  # ids of an unfinished (huge) line

    def run(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        carry = b""
        for block, skipped in read_blocks(self.handle, self.block_size, self.stats):
            self.offset += skipped
            data = carry + block if carry else block
            cut = data.rfind(b"\n") + 1
            if not cut and len(data) > self.block_size:  # a huge line: cut after its last whitespace
                cut = max(data.rfind(b" "), data.rfind(b"\t")) + 1
            if cut:
                out = self._block(data[:cut], ends_line=data[cut - 1] == 10)
                if out is not None:
                    yield out
                carry = data[cut:]
            else:
                carry = data
        if carry or self.partial:
            out = self._block(carry + b"\n", ends_line=True)
            if out is not None:
                yield out

    def _block(self, chunk: bytes, ends_line: bool) -> tuple[np.ndarray, np.ndarray] | None:
        chunk = self._validated(chunk)
        self.offset += len(chunk)
        tokens = chunk.split()
        ids = np.fromiter(map(self.lookup, tokens), dtype=np.int32, count=len(tokens))
        per_line = _tokens_per_line(chunk)  # one entry per line; the last is unfinished unless ends_line
        self.line_no += int(per_line.size) - (0 if ends_line else 1)
        self.stats.lines += int(per_line.size) - (0 if ends_line else 1)
        self.stats.tokens += len(tokens)
        if self.partial:  # the first line continues an unfinished one
            head = np.concatenate(self.partial)
            self.partial = []
            ids = np.concatenate([head, ids])
            per_line = per_line.copy()
            per_line[0] += len(head)
        if not ends_line:
            tail = int(per_line[-1])
            if tail:
                self.partial.append(ids[len(ids) - tail:])
                ids = ids[:len(ids) - tail]
            per_line = per_line[:-1]
        return _sentences(ids, per_line, self.max_len, self.stats)

    def _validated(self, chunk: bytes) -> bytes:
        return validated_utf8(chunk, self.errors, self.stats, self.path, self.line_no, self.offset)


def _tokens_per_line(chunk: bytes) -> np.ndarray:
    """Token count of every line of `chunk` (a final piece without newline counts as a line)."""
    buf = np.frombuffer(chunk, dtype=np.uint8)
    space = _SPACE[buf]
    starts = ~space
    starts[1:] &= space[:-1]
    newlines = np.flatnonzero(buf == 10)
    n_lines = len(newlines) + (0 if chunk.endswith(b"\n") else 1)
    line_of = np.searchsorted(newlines, np.flatnonzero(starts))
    return np.bincount(line_of, minlength=n_lines).astype(np.int64)


def _sentences(ids: np.ndarray, per_line: np.ndarray, max_len: int, stats: CorpusStats):
    """Drop empty lines, cut long ones, and put </s> after every sentence."""
    lines = per_line[per_line > 0]
    if len(lines) == 0:
        return None
    long = lines > max_len
    if long.any():
        stats.split_lines += int(long.sum())
        pieces = (lines + max_len - 1) // max_len
        lengths = np.full(int(pieces.sum()), max_len, dtype=np.int64)
        last = np.cumsum(pieces) - 1
        lengths[last] = lines - (pieces - 1) * max_len
    else:
        lengths = lines
    n = len(lengths)
    out = np.empty(len(ids) + n, dtype=np.int32)
    ends = np.cumsum(lengths + 1) - 1
    is_token = np.ones(len(out), dtype=bool)
    is_token[ends] = False
    out[is_token] = ids
    out[ends] = EOS
    return out, lengths + 1
