"""The seq2seq and CTC model files: `.npz` arrays plus a JSON metadata entry; never pickle.

Loading checks the format, version, configuration and every parameter's name, dtype and shape against
the metadata (sizes before allocating)."""

from __future__ import annotations

import numpy as np

from seqkit import modelfile
from seqkit.errors import DataError

FORMATS = {"seqkit-seq2seq": 1, "seqkit-ctc": 1}


def save(path: str, fmt: str, params: dict[str, np.ndarray], meta: dict,
         optimizer: dict[str, np.ndarray] | None = None) -> None:
    meta = dict(meta, format=fmt, version=FORMATS[fmt], params={k: list(v.shape) for k, v in params.items()})
    arrays = {f"param/{k}": v for k, v in params.items()}
    arrays.update({f"opt/{k}": v for k, v in (optimizer or {}).items()})
    modelfile.save(path, meta, arrays)


def sniff(path: str, fmt: str) -> bool:
    return modelfile.sniff(path, fmt)


def load(path: str, fmt: str, *, with_optimizer: bool = False):
    """(params, meta, optimizer), validated."""
    with modelfile.Archive(path, fmt, versions=(FORMATS[fmt],)) as archive:
        meta = archive.meta
        expected = meta.get("params")
        if not isinstance(expected, dict):
            raise DataError("metadata lists no parameters", path)
        for name, shape in expected.items():
            modelfile.check_shape(name, shape, path)
        params = {name: archive.array(f"param/{name}", shape) for name, shape in expected.items()}
        optimizer = archive.group("opt") if with_optimizer else {}
    return params, meta, optimizer
