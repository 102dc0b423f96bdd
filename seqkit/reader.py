"""The corpus reader: text files -> word ids and sentence lengths, in one compiled pass.

A Numba kernel splits, hashes and numbers the tokens of a whole block of text at a time (`TokenTable`),
three times faster than splitting lines into Python lists. The contract every command relies on:
tokens are separated by ASCII whitespace (what `bytes.split()` splits on, so a non-breaking space is part
of a word), a line is a sentence, empty lines are skipped, a line longer than `max_sentence_len` tokens is
cut into pieces (never dropped) and counted in `CorpusStats`. Ids are in order of first appearance and
the table keeps each type's count; `seqkit.vocabulary` turns them into a vocabulary and an encoded corpus.
"""

from __future__ import annotations

import re
from typing import Iterator, Sequence

import numpy as np

from seqkit.corpus import CorpusStats, text_blocks

INITIAL_TYPES = 1 << 16
INITIAL_ARENA = 1 << 20
_ASCII_SPACE = re.compile(rb"[\t\n\v\f\r ]")


class TokenTable:
    """Distinct tokens (bytes) numbered in order of first appearance, with their counts.

    `encode` carries the line being read across calls, so blocks may end inside a long line.
    """

    def __init__(self, max_sentence_len: int):
        from seqkit import _reader_kernels as kernels

        if max_sentence_len < 1:
            raise ValueError("max_sentence_len must be >= 1")
        self._kernels = kernels
        self.max_sentence_len = max_sentence_len
        self.state = np.zeros(kernels.STATE_SIZE, dtype=np.int64)
        self.slots = np.full(2 * INITIAL_TYPES, -1, dtype=np.int32)
        self.hashes = np.empty(INITIAL_TYPES, dtype=np.uint64)
        self.starts = np.empty(INITIAL_TYPES, dtype=np.int64)
        self.lengths = np.empty(INITIAL_TYPES, dtype=np.int32)
        self._counts = np.empty(INITIAL_TYPES, dtype=np.int64)
        self.arena = np.empty(INITIAL_ARENA, dtype=np.uint8)
        self._ids = np.empty(0, dtype=np.int32)
        self._finished = np.empty(0, dtype=np.int64)

    def __len__(self) -> int:
        return int(self.state[self._kernels.N_TYPES])

    @property
    def counts(self) -> np.ndarray:
        """int64 count of each type, by id (a view: it changes as more text is encoded)."""
        return self._counts[:len(self)]

    def word(self, type_id: int) -> bytes:
        start = int(self.starts[type_id])
        return self.arena[start:start + int(self.lengths[type_id])].tobytes()

    def stat(self, field: str) -> int:
        return int(self.state[getattr(self._kernels, field)])

    def encode(self, chunk: bytes) -> tuple[np.ndarray, np.ndarray]:
        """(ids of the chunk's tokens, lengths of the sentence pieces the chunk completed), new arrays.

        `chunk` must end at a token boundary (after whitespace or a newline)."""
        k = self._kernels
        data = np.frombuffer(chunk, dtype=np.uint8)
        most = len(data) // 2 + 1  # tokens (and so finished pieces) a chunk can hold at most
        if len(self._ids) < most:  # output buffers reused from chunk to chunk
            self._ids = np.empty(most, dtype=np.int32)
            self._finished = np.empty(most, dtype=np.int64)
        self.state[k.N_IDS] = self.state[k.N_LENGTHS] = 0
        pos = 0
        while True:
            pos = k.encode_block(data, pos, self.state, self.slots, self.hashes, self.starts, self.lengths,
                                 self._counts, self.arena, self._ids, self._finished, self.max_sentence_len)
            if pos == len(data):
                break
            self._grow(len(data) - pos)
        return self._ids[:self.state[k.N_IDS]].copy(), self._finished[:self.state[k.N_LENGTHS]].copy()

    def seed(self, words: Sequence[bytes]) -> np.ndarray:
        """Give `words` ids (new words the next ones) without counting them; -1 for a word holding ASCII
        whitespace, which no token can equal. Call it between lines (before reading, or between files)."""
        ids = np.full(len(words), -1, dtype=np.int64)
        clean = [i for i, word in enumerate(words) if word and not _ASCII_SPACE.search(word)]
        if not clean:
            return ids
        k = self._kernels
        saved = self.state[[k.LINES, k.TOKENS, k.SPLIT_LINES]].copy()
        got, _ = self.encode(b"\n".join(words[i] for i in clean) + b"\n")
        np.subtract.at(self._counts, got, 1)
        self.state[[k.LINES, k.TOKENS, k.SPLIT_LINES]] = saved
        ids[clean] = got
        return ids

    def prune(self, keep: np.ndarray) -> None:
        """Keep only the types `keep` (ids, ascending), renumbered 0, 1, ... in that order with their counts.

        Bounds the table's memory while counting (`--max-vocab`); ids handed out before are void after."""
        k = self._kernels
        keep = np.asarray(keep, dtype=np.int64)
        n = len(self)
        starts, lengths = self.starts[keep], self.lengths[keep].astype(np.int64)
        new_starts = np.zeros(len(keep), dtype=np.int64)
        np.cumsum(lengths[:-1], out=new_starts[1:])
        # gather each kept word's bytes: position j of the new arena comes from starts[word] + offset in word
        word_of_byte = np.repeat(np.arange(len(keep)), lengths)
        source = starts[word_of_byte] + np.arange(int(lengths.sum())) - new_starts[word_of_byte]
        self.arena[:len(source)] = self.arena[source]
        for name in ("hashes", "lengths", "_counts"):
            array = getattr(self, name)
            array[:len(keep)] = array[:n][keep]
        self.starts[:len(keep)] = new_starts
        self.state[k.N_TYPES] = len(keep)
        self.state[k.ARENA_USED] = int(lengths.sum())
        self.slots.fill(-1)
        k.rehash(self.slots, self.hashes, len(keep))

    def _grow(self, bytes_left: int) -> None:
        """Double the type arrays and slots, and make room in the arena for the rest of the chunk."""
        k = self._kernels
        types, used = len(self), int(self.state[k.ARENA_USED])
        if used + bytes_left > len(self.arena):
            self.arena = np.resize(self.arena, max(2 * len(self.arena), used + bytes_left))
        if types >= len(self.hashes) or 2 * (types + 1) > len(self.slots):
            size = 2 * len(self.hashes)
            self.hashes = np.resize(self.hashes, size)
            self.starts = np.resize(self.starts, size)
            self.lengths = np.resize(self.lengths, size)
            self._counts = np.resize(self._counts, size)
            self.slots = np.full(2 * size, -1, dtype=np.int32)
            k.rehash(self.slots, self.hashes, types)


def load_kernels() -> None:
    """Load (or compile) the tokenizer's kernels now, e.g. before `seqkit.memory.release_compiler_pages`."""
    from seqkit import _reader_kernels as kernels

    TokenTable(1).encode(b"a b\n")
    kernels.rehash(np.full(2, -1, dtype=np.int32), np.zeros(1, dtype=np.uint64), 1)


def id_blocks(paths: Sequence[str], table: TokenTable, *, errors: str = "strict",
              stats: CorpusStats | None = None) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(provisional ids, finished sentence lengths) block by block, the files read once through `table`.

    The lengths of a block may cover ids of earlier blocks (a long line spans blocks); over the whole
    run they cover every id exactly. `stats` gets the files, lines, tokens, bytes and split lines.
    """
    stats = stats if stats is not None else CorpusStats()
    before = {field: table.stat(field) for field in ("LINES", "TOKENS", "SPLIT_LINES")}
    try:
        for chunk in text_blocks(paths, errors=errors, stats=stats):
            yield table.encode(chunk)
    finally:
        stats.lines += table.stat("LINES") - before["LINES"]
        stats.tokens += table.stat("TOKENS") - before["TOKENS"]
        stats.split_lines += table.stat("SPLIT_LINES") - before["SPLIT_LINES"]


def read_sentences(paths: Sequence[str], *, errors: str = "strict", max_sentence_len: int = 10000,
                   stats: CorpusStats | None = None) -> Iterator[list[str]]:
    """Each sentence's words, streamed: for commands that hand text to a model word by word (`perplexity`).

    The words are decoded once per distinct word, so a long text costs one list per sentence."""
    table = TokenTable(max_sentence_len)
    words: list[str] = []
    ids: list[int] = []
    for block_ids, finished in id_blocks(paths, table, errors=errors, stats=stats):
        words.extend(table.word(i).decode("utf-8") for i in range(len(words), len(table)))
        ids.extend(block_ids.tolist())
        start = 0
        for length in finished.tolist():
            yield [words[i] for i in ids[start:start + length]]
            start += length
        del ids[:start]
