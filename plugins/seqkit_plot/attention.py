"""The attention hook: a model whose plugin's loader returns an object with

    attention(source: str) -> (source_tokens: list[str], target_tokens: list[str], weights)

where `weights[t, s]` is how much output token t attended to source token s (rows sum to 1), for the
translation the model itself produces of `source`. Any registered model format may offer it; the first
format whose `sniff` accepts the file loads it (as `seqkit perplexity` finds a language model).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from seqkit.errors import DataError, SeqkitError
from seqkit.plugins import load_registry

NEEDS = "plot attention needs a model with attention (a sequence-to-sequence model whose plugin offers attention(source))"


def _formats() -> list[Any]:
    """Every registered model format, whatever hook registered it (translation models, language models, ...)."""
    return load_registry().formats()


def _kind(path: str) -> str:
    """What the file is, for the message: its metadata's `format`, else 'not a seqkit model'."""
    from seqkit_plot.history import read_metadata

    try:
        return f"a {read_metadata(path).get('format', 'seqkit')} model"
    except DataError:
        return "not a seqkit model file"


def weights_of(path: str, source: str) -> tuple[list[str], list[str], np.ndarray]:
    """Source tokens, output tokens and the [output, source] weights from the model at `path`."""
    import os

    if not os.path.exists(path):
        raise DataError("no such file", path)
    for fmt in _formats():
        try:
            claimed = bool(fmt.sniff(path))
        except Exception:  # a sniff must never raise; one that does just does not claim the file
            claimed = False
        if not claimed:
            continue
        model = fmt.load(path)
        if not callable(getattr(model, "attention", None)):
            raise SeqkitError(f"{NEEDS}; {path} is a model of format {fmt.name} without one")
        src, tgt, weights = model.attention(source)
        weights = np.asarray(weights, dtype=np.float64)
        if weights.shape != (len(tgt), len(src)) or not np.all(np.isfinite(weights)):
            raise DataError(f"the {fmt.name} model gave attention of shape {weights.shape} for "
                            f"{len(tgt)} output and {len(src)} source tokens", path)
        return list(src), list(tgt), weights
    raise SeqkitError(f"{NEEDS}; {path} is {_kind(path)} that no installed plugin reads with attention")
