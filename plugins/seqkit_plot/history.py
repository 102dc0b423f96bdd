"""Training curves from any seqkit model file: an `.npz` whose JSON metadata holds a `history` list.

The history is looked for generically (at the top of the metadata, or nested, e.g. rnnlm's
`training.progress.history`), so every trainer that stores per-epoch dicts there is plotted the same way.
A metric `train_X` / `valid_X` (also `val_`, `dev_`, `test_`, or no prefix) is one curve of panel X.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from seqkit import modelfile
from seqkit.errors import DataError

SPLITS = {"train": "training", "training": "training", "valid": "validation", "validation": "validation",
          "val": "validation", "dev": "validation", "test": "test"}
BOOKKEEPING = {"epoch", "lr", "seconds", "tokens_per_s", "total_seconds", "tokens", "step", "time",
               "words_per_s", "examples_per_s", "batch", "batches"}
NAMES = {"ppl": "perplexity", "acc": "accuracy", "loss": "loss"}


@dataclass
class Panel:
    metric: str
    epochs: dict[str, list[float]] = field(default_factory=dict)   # split -> epoch numbers
    values: dict[str, list[float]] = field(default_factory=dict)   # split -> values


def read_metadata(path: str) -> dict:
    """The JSON metadata entry (`meta`) of a seqkit `.npz`, without loading any array."""
    return modelfile.read_metadata(path)


def find_history(meta: dict) -> list[dict] | None:
    """The shallowest `history` list of dicts in the metadata (breadth-first), or None."""
    queue = [meta]
    while queue:
        node = queue.pop(0)
        history = node.get("history")
        if isinstance(history, list) and any(isinstance(record, dict) for record in history):
            return [record for record in history if isinstance(record, dict)]
        queue.extend(value for value in node.values() if isinstance(value, dict))
    return None


def split_key(key: str) -> tuple[str, str]:
    """('validation', 'perplexity') from 'valid_ppl'; ('training', 'loss') from 'loss'."""
    head, _, rest = key.partition("_")
    if rest and head.lower() in SPLITS:
        split, metric = SPLITS[head.lower()], rest
    else:
        split, metric = "training", key
    return split, NAMES.get(metric.lower(), metric)


def panels(records: list[dict], wanted: tuple[str, ...] = ()) -> list[Panel]:
    """Per metric, the curve of each split, over the records that have an epoch (or in order)."""
    found: dict[str, Panel] = {}
    for position, record in enumerate(records, start=1):
        if "epoch" not in record and set(record) <= BOOKKEEPING:
            continue  # a run summary (total time, tokens), not an epoch
        epoch = record.get("epoch", position)
        for key, value in record.items():
            if key in BOOKKEEPING or isinstance(value, bool) or not isinstance(value, (int, float)):
                continue
            split, metric = split_key(key)
            if wanted and metric not in wanted and key not in wanted:
                continue
            panel = found.setdefault(metric, Panel(metric))
            panel.epochs.setdefault(split, []).append(float(epoch))
            panel.values.setdefault(split, []).append(float(value))
    return list(found.values())


def load_panels(path: str, wanted: tuple[str, ...] = ()) -> tuple[str, list[Panel]]:
    """(the model's format name, its panels); a file without history or metrics is a DataError."""
    meta = read_metadata(path)
    kind = str(meta.get("format", "seqkit model"))
    records = find_history(meta)
    if not records:
        raise DataError(f"this {kind} file stores no training history (a 'history' list in its metadata)", path)
    found = panels(records, wanted)
    if not found:
        what = f"none of {', '.join(wanted)} in" if wanted else "no numeric metric in"
        raise DataError(f"{what} the training history of this {kind} file", path)
    return kind, found
