"""Which kind of model a file is, for the message a command gives when it was handed the wrong kind.

A command that fails to read a file as what it expects (vectors, a language model, a seqkit model of
some format) marks its error with `SeqkitError.maybe_other_model`; the CLI then asks here whether a
format of another kind claims the file, and says what the file is and which command reads it. Kept
above the readers (it looks at every registered format and the core's own vector-model formats), so
that they need not know of each other.
"""

from __future__ import annotations

from typing import Any

from seqkit.plugins import FORMAT_KINDS, load_registry, sniffs
from seqkit.subword import BUILTIN_FORMATS
from seqkit.vectors import vector_model_advice

# What to do with a model file of each kind, for a command that was given one of another kind.
MODEL_USE = {
    "language_models": "score or sample with it with `seqkit perplexity -m` or `seqkit generate -m`",
    "classifiers": "use it with `seqkit predict -m`, `seqkit test -m` or `seqkit sentence-vectors -m`",
    "vector_models": "use it with `seqkit print-vectors -m`, `similar -m`, `analogy -m`, `eval similarity -m` or "
                     "`sentence-vectors -m`",
    "translation_models": "use it with `seqkit translate -m`",
}


def other_kind(path: str, expected: str | None = None, wanted: str | None = None, command=None) -> str | None:
    """When formats of another kind than `expected` (a `FORMAT_KINDS` key; None: vectors) claim `path`:
    "a classifier, not a vector file; use it with ...", else None. `wanted` overrides what the message
    says was expected. Sniffers of several kinds may claim a file by the same magic bytes (a fastText
    .bin): the kind is then the first whose format loads it. `command`: the click command that was given
    the file (what it takes decides the advice for a subword model)."""
    registry = load_registry()
    builtin = {"vector_models": list(BUILTIN_FORMATS)}
    claims = [(kind, fmt) for kind in FORMAT_KINDS if kind != expected
              for fmt in [*builtin.get(kind, ()), *getattr(registry, kind)] if sniffs(registry, fmt, path)]
    if len({kind for kind, _ in claims}) > 1:
        loaded = next((claim for claim in claims if _loads(claim[1], path)), None)
        claims = [loaded] if loaded else []
    if not claims:
        return None
    kind = claims[0][0]
    what = "a subword model" if kind == "vector_models" else f"a {FORMAT_KINDS[kind].replace('-', ' ')}"
    if wanted is None:
        wanted = "a vector file" if expected is None else f"a {FORMAT_KINDS[expected].replace('-', ' ')}"
    use = vector_model_advice(path, command) if kind == "vector_models" and expected is None else MODEL_USE[kind]
    return f"{what}, not {wanted}; {use}"


def _loads(fmt: Any, path: str) -> bool:
    try:
        fmt.load(path)
        return True
    except Exception:  # noqa: BLE001 - any failure means "not this format's file"
        return False
