"""Plain-Python encoding for the n-gram tests: token ids with `</s>` after each sentence."""

from __future__ import annotations

from typing import Iterable

import numpy as np


def encode_text(sentences: Iterable[list[bytes]], vocab: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Ids (new words appended to `vocab`, which starts with <unk>, <s>, </s>) with </s> after each
    sentence, and the sentence lengths including it."""
    index = {word.encode(): i for i, word in enumerate(vocab)}
    ids: list[int] = []
    lengths: list[int] = []
    for tokens in sentences:
        for token in tokens:
            if token not in index:
                index[token] = len(vocab)
                vocab.append(token.decode())
            ids.append(index[token])
        ids.append(2)
        lengths.append(len(tokens) + 1)
    return np.array(ids, dtype=np.int32), np.array(lengths, dtype=np.int64)


def brute_force_scores(table: dict[tuple[str, ...], tuple[float, float]], order: int,
                       words: list[str]) -> tuple[list[float], list[int]]:
    """KenLM's query by dictionary look-ups: log10 p of each word and </s> after <s>, and the length of
    the n-gram found; unknown words are <unk>."""
    vocab = {gram[0] for gram in table if len(gram) == 1}
    tokens = ["<s>"] + [w if w in vocab else "<unk>" for w in words] + ["</s>"]
    logps, lengths = [], []
    for t in range(1, len(tokens)):
        longest = max(n for n in range(1, min(order, t + 1) + 1) if tuple(tokens[t - n + 1:t + 1]) in table)
        p = table[tuple(tokens[t - longest + 1:t + 1])][0]
        for k in range(longest, min(order - 1, t) + 1):  # contexts longer than the found n-gram's
            p += table.get(tuple(tokens[t - k:t]), (0.0, 0.0))[1]
        logps.append(p)
        lengths.append(longest)
    return logps, lengths
