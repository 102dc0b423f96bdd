"""The seq2seq and CTC model files: `.npz` arrays plus a JSON metadata entry; never pickle.

Loading checks the format, version, configuration and every parameter's name, dtype and shape against
the metadata (sizes before allocating)."""

from __future__ import annotations

import json
import zipfile

import numpy as np

from seqkit.errors import DataError
from seqkit.textio import atomic_output

FORMATS = {"seqkit-seq2seq": 1, "seqkit-ctc": 1}
MAX_ELEMENTS = 1 << 31


def save(path: str, fmt: str, params: dict[str, np.ndarray], meta: dict,
         optimizer: dict[str, np.ndarray] | None = None) -> None:
    meta = dict(meta, format=fmt, version=FORMATS[fmt], params={k: list(v.shape) for k, v in params.items()})
    arrays = {f"param/{k}": v for k, v in params.items()}
    arrays.update({f"opt/{k}": v for k, v in (optimizer or {}).items()})
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode("utf-8"), dtype=np.uint8)
    with atomic_output(path, binary=True) as out:
        np.savez(out, **arrays)


def sniff(path: str, fmt: str) -> bool:
    try:
        with zipfile.ZipFile(path) as archive, archive.open("meta.npy") as member:
            meta = json.loads(np.lib.format.read_array(member, allow_pickle=False).tobytes().decode("utf-8"))
    except (OSError, KeyError, ValueError, zipfile.BadZipFile, UnicodeDecodeError):
        return False
    return isinstance(meta, dict) and meta.get("format") == fmt


def load(path: str, fmt: str, *, with_optimizer: bool = False):
    """(params, meta, optimizer), validated."""
    what = f"a {fmt} model"
    try:
        archive = np.load(path, allow_pickle=False)
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        raise DataError(f"not {what} ({exc})", path) from None
    with archive:
        if "meta" not in archive.files:
            raise DataError(f"no metadata entry: not {what}", path)
        try:
            meta = json.loads(archive["meta"].tobytes().decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError, ValueError) as exc:
            raise DataError(f"corrupt metadata: {exc}", path) from None
        if not isinstance(meta, dict) or meta.get("format") != fmt:
            raise DataError(f"format is {meta.get('format') if isinstance(meta, dict) else None!r}, expected {fmt!r}",
                            path)
        if meta.get("version") != FORMATS[fmt]:
            raise DataError(f"model file version {meta.get('version')} is not supported", path)
        expected = meta.get("params")
        if not isinstance(expected, dict):
            raise DataError("metadata lists no parameters", path)
        for name, shape in expected.items():
            if not isinstance(shape, list) or int(np.prod(shape, dtype=np.float64)) > MAX_ELEMENTS:
                raise DataError(f"parameter {name} claims shape {shape}, more than seqkit will allocate", path)
        params = {}
        for name, shape in expected.items():
            key = f"param/{name}"
            if key not in archive.files:
                raise DataError(f"parameter {name} is missing", path)
            array = archive[key]
            if list(array.shape) != shape or array.dtype != np.float32:
                raise DataError(f"parameter {name} is {list(array.shape)} {array.dtype}, expected {shape} float32",
                                path)
            params[name] = array
        optimizer = {k[4:]: archive[k] for k in archive.files if k.startswith("opt/")} if with_optimizer else {}
    return params, meta, optimizer
