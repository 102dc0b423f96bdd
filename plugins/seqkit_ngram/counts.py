"""Counting n-grams as sorted integer keys, with KenLM lmplz's adjusted counts.

An n-gram is identified by (index of its (n-1)-word prefix among the sorted (n-1)-grams, last word),
packed into one int64, so each order is one `np.unique` over an int64 array: memory grows with the
number of distinct n-grams and the token stream, and no Python dictionaries hold n-grams.

Counts follow lmplz: sentences are padded with N-1 `<s>`; an N-gram window that starts with two or more
`<s>` is collapsed to the shorter n-gram starting with one `<s>`, which keeps its raw count (nothing can
precede `<s>`). Every other lower-order n-gram gets the Kneser-Ney continuation count: the number of
distinct words that precede it among the next order's n-grams.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

BOS, EOS, UNK = "<s>", "</s>", "<unk>"


@dataclass
class Order:
    """The n-grams of one order: `words[:, j]` is the j-th word id, sorted by (prefix, last word)."""

    words: np.ndarray        # int32[count, n]
    prefix: np.ndarray       # int64[count]: row of the first n-1 words at order n-1 (-1 for unigrams)
    suffix: np.ndarray       # int64[count]: row of the last n-1 words at order n-1 (-1 for unigrams)
    count: np.ndarray        # int64[count]: adjusted count (raw at the top order and for <s>-initial n-grams)
    raw: np.ndarray          # int64[count]: raw occurrences (for Witten-Bell and add-k)
    bos: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))  # starts with <s>
    full_rows: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))  # rows in np.unique's table

    def __len__(self) -> int:
        return len(self.count)


@dataclass
class Counts:
    vocab: list[str]         # id -> word; ids 0, 1, 2 are <unk>, <s>, </s>
    orders: list[Order]
    tokens: int
    sentences: int


class _GrowingIndex(dict):
    """bytes -> id; an unseen word gets the next id (and is appended to the vocabulary)."""

    def __init__(self, index: dict[bytes, int], vocab: list[str]):
        super().__init__(index)
        self.vocab = vocab

    def __missing__(self, token: bytes) -> int:
        i = self[token] = len(self.vocab)
        self.vocab.append(token.decode("utf-8"))
        return i


def encode_text(sentences, vocab_index: dict[bytes, int], vocab: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Token ids (growing the vocabulary) with </s> (id 2) after each sentence, and sentence lengths."""
    index = _GrowingIndex(vocab_index, vocab)
    lookup = index.__getitem__
    pieces: list[np.ndarray] = []
    lengths: list[int] = []
    eos = np.array([2], dtype=np.int32)
    for tokens in sentences:
        pieces.append(np.fromiter(map(lookup, tokens), dtype=np.int32, count=len(tokens)))
        pieces.append(eos)
        lengths.append(len(tokens) + 1)
    vocab_index.update(index)
    if not lengths:
        return np.zeros(0, np.int32), np.zeros(0, np.int64)
    return np.concatenate(pieces), np.asarray(lengths, dtype=np.int64)


def count_ngrams(ids: np.ndarray, lengths: np.ndarray, order: int, vocab: list[str]) -> Counts:
    """All orders' n-grams with lmplz's counts, from token ids (with </s>) and sentence lengths."""
    n_sent = len(lengths)
    pad = order - 1
    # Padded stream: per sentence pad x <s>, then its tokens.
    total = int(lengths.sum()) + pad * n_sent
    stream = np.full(total, 1, dtype=np.int64)  # 1 = <s>
    starts = np.zeros(n_sent, dtype=np.int64)
    if n_sent:
        starts[1:] = np.cumsum(lengths[:-1] + pad)
    token_pos = np.repeat(starts + pad, lengths) + (np.arange(len(ids)) - np.repeat(np.cumsum(lengths) - lengths, lengths))
    stream[token_pos] = ids
    # j = index of the token within its sentence (0 = first word); natural order = min(N, j + 2)
    within = np.arange(len(ids)) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    natural = np.minimum(order, within + 2)
    V = len(vocab)

    # ids_n[p] = row of the n-gram ending at stream position p (valid only where used)
    prev_rows = stream.copy()           # order 1: the word id itself
    position_rows: list[np.ndarray] = [prev_rows]
    uniques: list[tuple[np.ndarray, np.ndarray]] = []  # (keys, first position) per order >= 2
    for n in range(2, order + 1):
        keys = np.full(total, -1, dtype=np.int64)
        keys[1:] = prev_rows[:-1] * V + stream[1:]
        # only positions inside a sentence's padded span matter; the rest never get counted
        uniq, first, inverse = _unique_with_positions(keys)
        prev_rows = inverse
        position_rows.append(prev_rows)
        uniques.append((uniq, first))

    orders: list[Order | None] = [None] * order
    # Raw counts at each order over positions whose natural order reaches n.
    raw_by_order = []
    for n in range(1, order + 1):
        rows = position_rows[n - 1][token_pos[natural >= n]]
        size = V if n == 1 else len(uniques[n - 2][0])
        raw_by_order.append(np.bincount(rows, minlength=size))

    # Top order: full n-grams (natural == N) keep raw counts.
    top_rows = position_rows[order - 1][token_pos[natural == order]]
    size = V if order == 1 else len(uniques[order - 2][0])
    adjusted = np.bincount(top_rows, minlength=size)
    for n in range(order, 0, -1):
        size = V if n == 1 else len(uniques[n - 2][0])
        if n < order:
            # continuation counts from order n+1 entries (regular and <s>-initial alike)
            upper = orders[n]
            adjusted = np.bincount(upper.suffix, minlength=size).astype(np.int64)
            bos_rows = position_rows[n - 1][token_pos[natural == n]]
            bos_counts = np.bincount(bos_rows, minlength=size)
            is_bos_row = bos_counts > 0
            adjusted[is_bos_row] = bos_counts[is_bos_row]
        present = np.nonzero(adjusted > 0)[0]
        if n == 1:
            present = np.union1d(present, np.array([0, 1, 2]))  # <unk>, <s>, </s> always listed
        orders[n - 1] = _make_order(n, present, adjusted, raw_by_order[n - 1], stream, uniques, position_rows, V)
    # Map prefix/suffix from "row in the full unique table" to "row in the kept entries" of order n-1.
    for n in range(2, order + 1):
        lower = orders[n - 2]
        lower_full_rows = lower.full_rows
        remap = np.full(int(lower_full_rows.max()) + 2 if len(lower_full_rows) else 1, -1, dtype=np.int64)
        remap[lower_full_rows] = np.arange(len(lower))
        cur = orders[n - 1]
        cur.prefix = remap[cur.prefix]
        cur.suffix = remap[cur.suffix]
        if (cur.prefix < 0).any() or (cur.suffix < 0).any():  # pragma: no cover - invariant of the counts
            raise AssertionError(f"order {n}: an n-gram's prefix or suffix is missing at order {n - 1}")
    return Counts(vocab=vocab, orders=orders, tokens=len(ids), sentences=n_sent)


def _unique_with_positions(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """np.unique(keys, return_index, return_inverse) with an unstable sort: any occurrence will do as
    the representative position, and introsort is about twice as fast as the stable sort unique uses."""
    perm = np.argsort(keys)
    ordered = keys[perm]
    boundary = np.empty(len(ordered), dtype=bool)
    boundary[:1] = True
    np.not_equal(ordered[1:], ordered[:-1], out=boundary[1:])
    group = np.cumsum(boundary) - 1
    inverse = np.empty(len(keys), dtype=np.int64)
    inverse[perm] = group
    return ordered[boundary], perm[boundary], inverse


def _make_order(n, present, adjusted, raw, stream, uniques, position_rows, V) -> Order:
    count = adjusted[present].astype(np.int64)
    raw_counts = raw[present].astype(np.int64) if len(raw) else np.zeros(len(present), np.int64)
    if n == 1:
        words = present.astype(np.int32)[:, None]
        return Order(words, np.full(len(present), -1), np.full(len(present), -1), count, raw_counts,
                     bos=words[:, 0] == 1, full_rows=present)
    keys, first = uniques[n - 2]
    pos = first[present]  # a stream position where each n-gram ends
    words = np.stack([stream[pos - (n - 1 - j)] for j in range(n)], axis=1).astype(np.int32)
    return Order(words, position_rows[n - 2][pos - 1], position_rows[n - 2][pos], count, raw_counts,
                 bos=words[:, 0] == 1, full_rows=present)
