"""The classifier's model file: `.npz` arrays plus a JSON metadata entry; loading it can never run code.

The arrays are memory-mapped when loaded (seqkit.npzmap): prediction reads only the rows its lines use, and
a large model opens at once. Only the input rows of n-gram buckets that training saw are stored (`bucket_ids`, sorted): a bucket no
training line used would hold its random initial vector, noise that the file need not carry. Loading
checks format, version, names, dtypes and shapes against the metadata before trusting anything.
"""

from __future__ import annotations

from dataclasses import asdict

import numpy as np

from seqkit import modelfile
from seqkit.errors import DataError
from seqkit_classify.data import POOLINGS, Dictionary, Settings

FORMAT = "seqkit-classify"
VERSION = 1
LOSSES = ("softmax", "ns", "hs", "ova")


def save(path: str, dictionary: Dictionary, settings: Settings, loss: str, input_rows: np.ndarray,
         output_rows: np.ndarray, bucket_ids: np.ndarray, training: dict) -> None:
    """Write the model atomically (a failed write leaves any previous file intact)."""
    meta = {"format": FORMAT, "version": VERSION, "settings": asdict(settings), "loss": loss,
            "dim": int(input_rows.shape[1]), "words": dictionary.words, "labels": dictionary.labels,
            "word_counts": dictionary.word_counts.tolist(), "label_counts": dictionary.label_counts.tolist(),
            "shapes": {"input": list(input_rows.shape), "output": list(output_rows.shape),
                       "bucket_ids": [len(bucket_ids)]},
            "training": training}
    arrays = {"input": np.ascontiguousarray(input_rows, dtype=np.float32),
              "output": np.ascontiguousarray(output_rows, dtype=np.float32),
              "bucket_ids": np.ascontiguousarray(bucket_ids, dtype=np.int64),
              "word_hashes": np.ascontiguousarray(dictionary.word_hashes, dtype=np.int32)}
    modelfile.save(path, meta, arrays)


def sniff(path: str) -> bool:
    """Whether `path` is a zip whose JSON metadata names this format (whatever the file is called)."""
    return modelfile.sniff(path, FORMAT)


def load(path: str) -> tuple[dict, Dictionary, Settings, dict[str, np.ndarray]]:
    """(metadata, dictionary, settings, arrays) from a model file, validated."""
    with modelfile.Archive(path, FORMAT, versions=(VERSION,)) as archive:
        meta = archive.meta
        try:
            settings = Settings(**meta["settings"])
            words, labels, loss, dim = list(meta["words"]), list(meta["labels"]), meta["loss"], int(meta["dim"])
            shapes = {k: [int(x) for x in v] for k, v in meta["shapes"].items()}
            word_counts = np.array(meta["word_counts"], dtype=np.int64)
            label_counts = np.array(meta["label_counts"], dtype=np.int64)
        except (KeyError, TypeError, ValueError) as exc:
            raise DataError(f"bad metadata: {exc}", path) from None
        if loss not in LOSSES or len(labels) < 2 or len(label_counts) != len(labels) or len(word_counts) != len(words):
            raise DataError("bad metadata: loss, labels or counts do not fit together", path)
        if settings.pooling not in POOLINGS:
            raise DataError(f"bad metadata: pooling {settings.pooling!r} is not one of {', '.join(POOLINGS)}", path)
        numbers = (settings.word_ngrams, settings.buckets, settings.minn, settings.maxn)
        if not (isinstance(settings.label_prefix, str) and settings.label_prefix.strip()
                and all(isinstance(x, int) and not isinstance(x, bool) for x in numbers)
                and settings.word_ngrams >= 1 and settings.buckets >= 0 and 0 <= settings.minn <= settings.maxn
                and (settings.minn > 0) == (settings.maxn > 0)):
            raise DataError(f"bad metadata: settings {meta['settings']} are not a model's (a changed file?)", path)
        if not all(isinstance(x, str) for x in words + labels) or len(set(labels)) != len(labels):
            raise DataError("bad metadata: words or labels are not distinct strings", path)
        n_output = len(labels) - 1 if loss == "hs" else len(labels)
        expected = {"input": ([len(words) + shapes.get("bucket_ids", [0])[0], dim], np.float32),
                    "output": ([n_output, dim], np.float32), "bucket_ids": (shapes.get("bucket_ids"), np.int64),
                    "word_hashes": ([len(words)], np.int32)}
        arrays = {}
        for name, (shape, dtype) in expected.items():
            if shape is None or shapes.get(name, shape) != shape:
                raise DataError(f"entry {name}: metadata shape {shapes.get(name)} does not fit the model", path)
            arrays[name] = archive.array(name, shape, dtype, mapped=True)
    bucket_ids = arrays["bucket_ids"]
    if len(bucket_ids) and (np.any(np.diff(bucket_ids) <= 0) or bucket_ids[0] < 0
                            or bucket_ids[-1] >= settings.buckets):
        raise DataError("bucket ids are not sorted, distinct and below the bucket count", path)
    dictionary = Dictionary(words, word_counts, labels, label_counts, arrays["word_hashes"])
    return meta, dictionary, settings, arrays
