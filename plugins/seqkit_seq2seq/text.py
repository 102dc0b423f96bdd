"""Raw text to tokens and back, and parallel text to padded batches bucketed by length.

The tokenizer splits words from punctuation (keeping inner hyphens, apostrophes and dots, as in
"e-mail", "don't", "3.5"); detokenization glues punctuation back, so BLEU with sacreBLEU's own
tokenizer sees ordinary text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

TOKEN = re.compile(r"\w+(?:['’\-.,]\w+)*|[^\w\s]", re.UNICODE)
NO_SPACE_BEFORE = set(".,!?;:%)]}'’\"") | {"n't", "'s"}
NO_SPACE_AFTER = set("([{$")


def tokenize(line: str, *, lowercase: bool = False, pretokenized: bool = False) -> list[str]:
    if lowercase:
        line = line.lower()
    return line.split() if pretokenized else TOKEN.findall(line)


def detokenize(tokens: list[str]) -> str:
    out: list[str] = []
    for token in tokens:
        if out and token not in NO_SPACE_BEFORE and out[-1] not in NO_SPACE_AFTER:
            out.append(" ")
        out.append(token)
    return "".join(out)


@dataclass
class Pairs:
    """Encoded sentence pairs: ids of pair i are src[src_off[i]:src_off[i+1]] (no markers added)."""

    src: np.ndarray
    src_off: np.ndarray
    tgt: np.ndarray
    tgt_off: np.ndarray

    def __len__(self) -> int:
        return len(self.src_off) - 1

    def lengths(self) -> tuple[np.ndarray, np.ndarray]:
        return np.diff(self.src_off), np.diff(self.tgt_off)


def buckets(pairs: Pairs, batch: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Batches of pair indices of similar lengths (sorted by source then target length, ties broken at
    random), in random order: padding stays small, so a batch costs about what its tokens cost."""
    src_len, tgt_len = pairs.lengths()
    order = np.lexsort((rng.random(len(pairs)), tgt_len, src_len))
    chunks = [order[i:i + batch] for i in range(0, len(order), batch)]
    return [chunks[i] for i in rng.permutation(len(chunks))]


def make_batch(pairs: Pairs, index: np.ndarray, batch: int, bos: int, eos: int, pad: int):
    """Time-major padded arrays for the pairs `index` (a short last batch is filled by repeating its
    first pair with no loss): src [S, B], src_len, tgt_in [T, B] (<s> y), tgt_out [T, B] (y </s>, -1 at
    padding), tgt_len, and the number of real source + target tokens."""
    count = len(index)
    full = np.concatenate([index, np.full(batch - count, index[0])]) if count < batch else index
    src_len = np.array([pairs.src_off[i + 1] - pairs.src_off[i] for i in full], dtype=np.int64)
    tgt_len = np.array([pairs.tgt_off[i + 1] - pairs.tgt_off[i] + 1 for i in full], dtype=np.int64)
    S, T = int(src_len.max()), int(tgt_len.max())
    src = np.full((S, batch), pad, np.int64)
    tgt_in = np.full((T, batch), pad, np.int64)
    tgt_out = np.full((T, batch), -1, np.int64)
    for b, i in enumerate(full):
        words = pairs.tgt[pairs.tgt_off[i]:pairs.tgt_off[i + 1]]
        src[:src_len[b], b] = pairs.src[pairs.src_off[i]:pairs.src_off[i + 1]]
        tgt_in[0, b] = bos
        tgt_in[1:tgt_len[b], b] = words
        if b < count:
            tgt_out[:tgt_len[b] - 1, b] = words
            tgt_out[tgt_len[b] - 1, b] = eos
    tokens = int(src_len[:count].sum() + tgt_len[:count].sum())
    return src, src_len, tgt_in, tgt_out, tgt_len, tokens
