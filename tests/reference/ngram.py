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
