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

from seqkit.corpus import CorpusStats, text_blocks

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
    partial: list[np.ndarray] = []  # ids of an unfinished (huge) line: blocks end inside it
    for chunk in text_blocks(paths, errors=errors, stats=stats, block_size=block_size):
        out = _block(chunk, lookup, partial, max_sentence_len, stats)
        if out is not None:
            yield out


def _block(chunk: bytes, lookup, partial: list[np.ndarray], max_len: int,
           stats: CorpusStats) -> tuple[np.ndarray, np.ndarray] | None:
    """The sentences `chunk` completes; the ids of a line it leaves unfinished go to `partial`."""
    ends_line = chunk.endswith(b"\n")
    tokens = chunk.split()
    ids = np.fromiter(map(lookup, tokens), dtype=np.int32, count=len(tokens))
    per_line = _tokens_per_line(chunk)  # one entry per line; the last is unfinished unless ends_line
    stats.lines += int(per_line.size) - (0 if ends_line else 1)
    stats.tokens += len(tokens)
    if partial:  # the first line continues an unfinished one
        head = np.concatenate(partial)
        partial.clear()
        ids = np.concatenate([head, ids])
        per_line = per_line.copy()
        per_line[0] += len(head)
    if not ends_line:
        tail = int(per_line[-1])
        if tail:
            partial.append(ids[len(ids) - tail:])
            ids = ids[:len(ids) - tail]
        per_line = per_line[:-1]
    return _sentences(ids, per_line, max_len, stats)


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
