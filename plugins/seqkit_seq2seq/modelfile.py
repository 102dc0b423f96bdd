"""The seq2seq and CTC model files: `.npz` arrays plus a JSON metadata entry; never pickle.

A seq2seq file trained with validation holds the best epoch's parameters (`param/`, what `translate`
uses) and, when training has gone on past that epoch, the latest ones beside them (`latest/`, what
`--resume` continues from): one file is both the model and the checkpoint. Loading checks the format,
version, configuration and every parameter's name, dtype and shape against the metadata (sizes before
allocating)."""

from __future__ import annotations

import numpy as np

from seqkit import modelfile
from seqkit.errors import DataError

FORMATS = {"seqkit-seq2seq": 1, "seqkit-ctc": 1}


def save(path: str, fmt: str, params: dict[str, np.ndarray], meta: dict,
         optimizer: dict[str, np.ndarray] | None = None, latest: dict[str, np.ndarray] | None = None) -> None:
    """Atomically; `params` is the model, `latest` (same names and shapes) what --resume continues from."""
    meta = dict(meta, format=fmt, version=FORMATS[fmt], params={k: list(v.shape) for k, v in params.items()})
    arrays = {f"param/{k}": v for k, v in params.items()}
    arrays.update({f"opt/{k}": v for k, v in (optimizer or {}).items()})
    if latest is not None:
        if {k: v.shape for k, v in latest.items()} != {k: v.shape for k, v in params.items()}:
            raise ValueError("the latest parameters must have the model's names and shapes")
        arrays.update({f"latest/{k}": v for k, v in latest.items()})
    modelfile.save(path, meta, arrays)


def sniff(path: str, fmt: str) -> bool:
    return modelfile.sniff(path, fmt)


def load(path: str, fmt: str, *, with_optimizer: bool = False, latest: bool = False):
    """(params, meta, optimizer), validated; with `latest`, the parameters to resume from (the latest ones
    when the file keeps them apart from its model)."""
    with modelfile.Archive(path, fmt, versions=(FORMATS[fmt],)) as archive:
        meta = archive.meta
        expected = meta.get("params")
        if not isinstance(expected, dict):
            raise DataError("metadata lists no parameters", path)
        for name, shape in expected.items():
            modelfile.check_shape(name, shape, path)
        prefix = "latest" if latest and any(k.startswith("latest/") for k in archive.names) else "param"
        params = {name: archive.array(f"{prefix}/{name}", shape) for name, shape in expected.items()}
        optimizer = archive.group("opt") if with_optimizer else {}
    return params, meta, optimizer


def has_latest(path: str, fmt: str) -> bool:
    """Whether the file keeps resume parameters apart from its (best-validation) model."""
    with modelfile.Archive(path, fmt, versions=(FORMATS[fmt],)) as archive:
        return any(k.startswith("latest/") for k in archive.names)
