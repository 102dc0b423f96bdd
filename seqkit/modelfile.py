"""seqkit's model files: a `.npz` of NumPy arrays plus a JSON metadata entry, `meta`, naming the format.

Every trainer writes and reads its models through these functions, so that a model file is recognised by
the format its metadata names (whatever the file is called), loading can never run code (no pickle), and
a damaged or hostile file is refused with one clear line before anything large is read.
"""

from __future__ import annotations

import json
import zipfile
import zlib
from typing import Any, Iterable

import numpy as np

from seqkit import npzmap
from seqkit.npzmap import HEADER_ERRORS
from seqkit.errors import DataError
from seqkit.textio import atomic_output

META = "meta"
MAX_ELEMENTS = 1 << 31  # refuse entries claiming more than this many numbers before allocating


def save(path: str, meta: dict, arrays: dict[str, np.ndarray]) -> None:
    """Write `arrays` and the JSON `meta` (which names `format` and `version`) atomically: a failed write
    leaves any previous file intact."""
    if "format" not in meta or "version" not in meta:
        raise ValueError("model metadata must name its format and version")
    entries = dict(arrays)
    entries[META] = np.frombuffer(json.dumps(without_timings(meta)).encode("utf-8"), dtype=np.uint8)
    with atomic_output(path, binary=True) as out:
        npzmap.write(out, entries)


TIMINGS = frozenset({"seconds", "tokens_per_s", "total_seconds"})


def without_timings(value: Any) -> Any:
    """`value` without wall-clock figures at any depth: the same run with one thread and a seed must give
    the same bytes (the timings go to the summary line and `--json` instead)."""
    if isinstance(value, dict):
        return {key: without_timings(item) for key, item in value.items() if key not in TIMINGS}
    if isinstance(value, list):
        return [without_timings(item) for item in value]
    return value


def read_metadata(path: str) -> dict:
    """The JSON metadata of a seqkit `.npz`, without reading any array (a `DataError` if it has none)."""
    try:
        with zipfile.ZipFile(path) as archive, archive.open(f"{META}.npy") as member:
            raw = np.lib.format.read_array(member, allow_pickle=False)
    except FileNotFoundError:
        raise DataError("no such file", path) from None
    except KeyError:
        raise DataError(f"no JSON metadata entry ({META}): not a seqkit model file", path) from None
    except zipfile.BadZipFile:
        raise DataError(f"{describe_file(path)}, not a seqkit model file (.npz with JSON metadata)", path) from None
    except (OSError, ValueError) as exc:
        raise DataError(f"not a seqkit model file (.npz with JSON metadata): {exc}", path) from None
    except HEADER_ERRORS:  # NumPy parses an .npy header as Python source: damage surfaces as these
        raise DataError(f"entry {META} is damaged (its header cannot be read)", path) from None
    return _parse(raw, path)


def sniff(path: str, fmt: str) -> bool:
    """Whether `path` is a seqkit model file of format `fmt`; never raises."""
    try:
        return read_metadata(path).get("format") == fmt
    except DataError:
        return False


class Archive:
    """An open model file whose metadata was checked: `meta`, `names`, and `array(name, shape, dtype)`.

    Use as a context manager: `with Archive(path, "seqkit-x", versions=(1,)) as model: ...`.
    """

    def __init__(self, path: str, fmt: str, versions: Iterable[int]):
        self.path = path
        self._mapped: npzmap.MappedFile | None = None
        what = f"a {fmt} model"
        try:
            with open(path, "rb") as handle:
                head = handle.read(4)
        except FileNotFoundError:
            raise DataError("no such file", path) from None
        except OSError as exc:
            raise DataError(f"cannot be read ({exc.strerror or exc})", path) from None
        if head != b"PK\x03\x04":  # else np.load reads it as a pickle and talks of allow_pickle
            raise DataError(f"{describe_file(path)}, not {what}", path).maybe_other_model(path, wanted=what)
        try:
            self._archive = np.load(path, allow_pickle=False)
        except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
            raise DataError(f"not {what} ({exc or 'an empty file'})", path) from None
        if META not in self._archive.files:
            self._archive.close()
            raise DataError(f"no metadata entry: not {what}", path)
        try:
            self.meta = _parse(self._archive[META], path)
        except DataError:
            self._archive.close()
            raise
        except (ValueError, *HEADER_ERRORS):
            self._archive.close()
            raise DataError(f"entry {META} is damaged (its header cannot be read)", path) from None
        found = self.meta.get("format")
        if found != fmt:
            self._archive.close()
            raise DataError(f"format is {found!r}, expected {fmt!r}", path).maybe_other_model(path, wanted=f"a {fmt} model")
        versions = tuple(versions)
        if self.meta.get("version") not in versions:
            self._archive.close()
            readable = ", ".join(map(str, versions))
            raise DataError(f"model file version {self.meta.get('version')} is not supported "
                            f"(this seqkit reads {readable})", path)

    @property
    def names(self) -> list[str]:
        return list(self._archive.files)

    def array(self, name: str, shape: Any, dtype: Any = np.float32, *, mapped: bool = False) -> np.ndarray:
        """The entry `name`, which must have `shape` (a list of ints from the metadata) and `dtype`; the
        claimed size is checked before the entry is read. With `mapped`, an uncompressed entry is a
        copy-on-write memory map of the file (read as it is used; see seqkit.npzmap), which stays valid
        after `close`."""
        shape = check_shape(name, shape, self.path)
        if name not in self._archive.files:
            raise DataError(f"entry {name} is missing", self.path)
        info = self._archive.zip.getinfo(name + ".npy")
        if mapped and info.compress_type == zipfile.ZIP_STORED:
            if self._mapped is None:
                try:
                    self._mapped = npzmap.MappedFile(self.path)
                except OSError as exc:
                    raise DataError(f"cannot map the model file: {exc.strerror or exc}", self.path) from None
            return self._mapped.member(info, shape, dtype)
        array = self._read(name)
        if list(array.shape) != shape or array.dtype != np.dtype(dtype):
            raise DataError(f"entry {name} is {list(array.shape)} {array.dtype}, expected {shape} "
                            f"{np.dtype(dtype).name}", self.path)
        return array

    def group(self, prefix: str) -> dict[str, np.ndarray]:
        """The entries named `prefix/...` (optimizer state, checkpoints) by the rest of their names; each is
        read only if its stored size is within `MAX_ELEMENTS` numbers."""
        found = {}
        for name in self._archive.files:
            if name.startswith(prefix + "/"):
                if self._archive.zip.getinfo(name + ".npy").file_size > 8 * MAX_ELEMENTS:
                    raise DataError(f"entry {name} is larger than seqkit will read", self.path)
                found[name[len(prefix) + 1:]] = self._read(name)
        return found

    def _read(self, name: str) -> np.ndarray:
        return read_entry(self._archive.zip, name, self.path)

    def close(self) -> None:
        self._archive.close()

    def __enter__(self) -> "Archive":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def npy_header(archive: zipfile.ZipFile, name: str) -> tuple[tuple[int, ...], np.dtype, int]:
    """(shape, dtype, data bytes the member holds) of the `.npy` member `name`, from its header alone, so
    that a claim can be checked before anything is allocated; raises ValueError/EOFError/zipfile errors
    on damage, for the caller to name."""
    info = archive.getinfo(name + ".npy")
    with archive.open(info) as member:
        version = np.lib.format.read_magic(member)
        read_header = {(1, 0): np.lib.format.read_array_header_1_0,
                       (2, 0): np.lib.format.read_array_header_2_0}.get(version)
        if read_header is None:
            raise ValueError(f"npy format version {version}")
        shape, _, dtype = read_header(member)
        return tuple(shape), dtype, info.file_size - member.tell()


def read_entry(archive: zipfile.ZipFile, name: str, path: str,
               shape: tuple[int, ...] | None = None) -> np.ndarray:
    """The `.npy` member `name`, read in full after its header is checked (no Python objects, `shape` if
    given, no more data claimed than the member holds), so nothing is allocated for a damaged or hostile
    entry; any damage (bad checksum, unknown compression, cut short) is one DataError naming the entry."""
    try:
        stored, dtype, held = npy_header(archive, name)
        if shape is not None and stored != tuple(shape):
            raise DataError(f"entry {name} has shape {list(stored)}, expected {list(shape)}", path)
        if dtype.hasobject:
            raise DataError(f"entry {name} holds Python objects; refused (no pickle)", path)
        needed = int(np.prod(stored, dtype=np.float64)) * dtype.itemsize
        if needed > held:
            raise DataError(f"entry {name} is damaged or truncated (its header claims {list(stored)} "
                            f"{dtype}, {needed:,} bytes, in {held:,})", path)
        with archive.open(name + ".npy") as member:
            return np.lib.format.read_array(member, allow_pickle=False)
    except (zipfile.BadZipFile, NotImplementedError, ValueError, OSError, zlib.error, *HEADER_ERRORS) as exc:
        raise DataError(f"entry {name} is damaged ({type(exc).__name__}: {exc})", path) from None


def check_shape(name: str, shape: Any, path: str) -> list[int]:
    """`shape` as a list of non-negative ints within `MAX_ELEMENTS`, else a `DataError` naming the entry."""
    try:
        dims = [int(x) for x in shape]
    except (TypeError, ValueError):
        raise DataError(f"entry {name}: the metadata's shape {shape!r} is not a list of sizes", path) from None
    if any(d < 0 for d in dims) or int(np.prod(dims, dtype=np.float64)) > MAX_ELEMENTS:
        raise DataError(f"entry {name} claims shape {dims}, more than seqkit will allocate", path)
    return dims


def _parse(raw: np.ndarray, path: str) -> dict:
    try:
        meta = json.loads(raw.tobytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, ValueError) as exc:
        raise DataError(f"corrupt metadata: {exc}", path) from None
    if not isinstance(meta, dict):
        raise DataError("the metadata is not a JSON object", path)
    return meta


# magic bytes -> what a file that starts with them is
_MAGIC = [
    (b"mmap lm ", "a KenLM binary model (seqkit reads the ARPA file it was built from)"),
    ((793712314).to_bytes(4, "little"), "a fastText model (.bin)"),
    (b"PK\x03\x04", "a zip archive (.npz)"),
    (b"\x1f\x8b", "a gzip file"),
    (b"BZh", "a bzip2 file"),
    (b"\xfd7zXZ\x00", "an xz file"),
    (b"\x93NUMPY", "a NumPy .npy array"),
]


def describe_file(path: str) -> str:
    """What `path` looks like from its first bytes, for messages about files no format claimed."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(64)
    except OSError as exc:
        return f"unreadable ({exc.strerror or exc})"
    if not head:
        return "an empty file"
    for magic, what in _MAGIC:
        if head.startswith(magic):
            if magic.startswith(b"PK"):
                return what + _npz_entries(path)
            return what
    first_line = head.split(b"\n")[0][:40]
    try:
        text = first_line.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    if text is None or any(ord(c) < 32 and c not in "\t\r" for c in text):
        return f"a binary file of unknown kind (first bytes {head[:8].hex(' ')})"
    return f"text starting {text!r}"


def _npz_entries(path: str) -> str:
    import zipfile

    try:
        with zipfile.ZipFile(path) as archive:
            names = [name.removesuffix(".npy") for name in archive.namelist()]
    except (zipfile.BadZipFile, OSError):
        return " that is damaged or truncated"
    damaged = ""
    if META in names:
        try:
            fmt = read_metadata(path).get("format")
        except DataError as exc:
            damaged = " whose metadata entry is damaged" if "is damaged" in str(exc) else ""
        else:
            if isinstance(fmt, str) and fmt:  # a seqkit model of a format none of the asking kind reads
                return f" holding a {fmt[:60]} model"
    return f" holding {', '.join(names[:6])}{' ...' if len(names) > 6 else ''}{damaged}"
