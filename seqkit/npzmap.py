"""`.npz` members written aligned and read in place: a large model opens in milliseconds, not seconds.

`write` stores each array uncompressed with its data at a 64-byte boundary of the file (a padding field in
the member's local zip header, as Android's zipalign does), so `member` can hand back a NumPy view of a
private memory map of the file. The sizes are checked against the zip entry and the file before anything is
mapped, and then the member's CRC in one sequential pass (about half a second per gigabyte): a damaged
model must fail, not predict wrong numbers. A member that is not aligned (a file numpy's `savez` wrote) is
copied into a new array instead, so older model files load the same as before; a compressed one is for
zipfile to read.
"""

from __future__ import annotations

import mmap
import os
import struct
import tokenize
import zipfile
import zlib
from typing import IO, Any

import numpy as np

from seqkit.errors import DataError

ALIGN = 64
PAD_FIELD = 0xD935  # the extra-field id zipalign uses for padding; zip readers skip unknown ids
ZIP64_FIELD_SIZE = 20  # numpy's writer forces zip64: 4 bytes of field header + two 8-byte sizes
LOCAL_HEADER = struct.Struct("<4s5H3L2H")  # signature ... file name length, extra field length
LOCAL_SIGNATURE = b"PK\x03\x04"
NPY_HEADER_LIMIT = 1 << 16  # a longer .npy header is not one numpy wrote
WRITE_CHUNK = 1 << 20
CRC_CHUNK = 1 << 24


def write(handle: IO[bytes], arrays: dict[str, np.ndarray]) -> None:
    """An uncompressed `.npz` of `arrays` (which `np.load` reads) with every member's data aligned; the
    dates are fixed, so the same arrays make the same bytes."""
    with zipfile.ZipFile(handle, mode="w", compression=zipfile.ZIP_STORED, allowZip64=True) as archive:
        for name, value in arrays.items():
            info = zipfile.ZipInfo(name + ".npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_STORED
            info.external_attr = 0o600 << 16
            # the .npy header pads itself to a multiple of 64, so aligning the member aligns the data
            end = archive.start_dir + LOCAL_HEADER.size + len(info.filename.encode("utf-8")) + 4 + ZIP64_FIELD_SIZE
            pad = -end % ALIGN
            info.extra = struct.pack("<HH", PAD_FIELD, pad) + bytes(pad)
            with archive.open(info, "w", force_zip64=True) as member:
                _write_npy(member, np.asanyarray(value))


def _write_npy(member: IO[bytes], array: np.ndarray) -> None:
    """What `np.lib.format.write_array` writes, the data passed on in WRITE_CHUNK pieces without copies
    (numpy copies 16 MiB at a time into a new bytes object when the target is not a real file)."""
    if array.dtype.hasobject:
        raise ValueError("model arrays hold numbers, not Python objects")
    array = np.asarray(array, order="C")  # (np.ascontiguousarray would make a 0-d array 1-d)
    np.lib.format.write_array_header_1_0(member, np.lib.format.header_data_from_array_1_0(array))
    data = memoryview(array.reshape(-1).view(np.uint8)) if array.size else memoryview(b"")
    for start in range(0, len(data), WRITE_CHUNK):
        member.write(data[start:start + WRITE_CHUNK])


HEADER_ERRORS = (SyntaxError, EOFError, tokenize.TokenError)  # besides ValueError, from a damaged .npy header
# (NumPy parses the header as Python source)

class MappedFile:
    """One private (copy-on-write) map of a whole file, shared by the arrays taken from it: they can be
    written like loaded arrays without the file changing, and a file replaced later (atomic writes rename
    a new file over the old) leaves them as they were."""

    def __init__(self, path: str):
        self.path = path
        with open(path, "rb") as handle:
            self.size = os.fstat(handle.fileno()).st_size
            self.map = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_COPY) if self.size else None

    def member(self, info: zipfile.ZipInfo, shape: list[int], dtype: Any) -> np.ndarray:
        """The array of zip member `info`, which must hold `shape` and `dtype` (C order): a view of the
        map when the member is aligned, else a copy. The member must be stored (not compressed)."""
        dtype = np.dtype(dtype)
        name = info.filename.removesuffix(".npy")
        if info.compress_type != zipfile.ZIP_STORED:
            raise ValueError(f"entry {name} is compressed: read it with zipfile")
        header_end, data_end = self._locate(info, name)
        self._check_crc(info, header_end, data_end, name)
        stored_shape, fortran, stored_dtype = self._npy_header(header_end, name)
        if stored_shape != shape or stored_dtype != dtype or fortran:
            raise DataError(f"entry {name} is {stored_shape} {stored_dtype}{' (Fortran order)' if fortran else ''}"
                            f", expected {shape} {dtype.name}", self.path)
        start = self._data_start
        nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
        if start + nbytes != data_end:
            raise DataError(f"entry {name}: {nbytes} bytes of data expected, the zip entry holds "
                            f"{data_end - start}", self.path)
        if nbytes == 0:
            return np.zeros(shape, dtype=dtype)
        if start % dtype.alignment:
            return np.frombuffer(self.map, dtype=dtype, count=nbytes // dtype.itemsize, offset=start).reshape(
                shape).copy()
        return np.frombuffer(self.map, dtype=dtype, count=nbytes // dtype.itemsize, offset=start).reshape(shape)

    def _check_crc(self, info: zipfile.ZipInfo, start: int, end: int, name: str) -> None:
        crc = 0
        view = memoryview(self.map)
        try:
            for at in range(start, end, CRC_CHUNK):
                crc = zlib.crc32(view[at:min(at + CRC_CHUNK, end)], crc)
        finally:
            view.release()
        if crc != info.CRC:
            raise DataError(f"entry {name} is damaged (its checksum does not match)", self.path)

    def _locate(self, info: zipfile.ZipInfo, name: str) -> tuple[int, int]:
        """(where the member's bytes start, where they end), checked against the file's size."""
        at = info.header_offset
        if self.map is None or at < 0 or at + LOCAL_HEADER.size > self.size:
            raise DataError(f"entry {name}: its zip header lies outside the file (truncated?)", self.path)
        fields = LOCAL_HEADER.unpack_from(self.map, at)
        if fields[0] != LOCAL_SIGNATURE:
            raise DataError(f"entry {name}: no zip header where the directory says (damaged file)", self.path)
        start = at + LOCAL_HEADER.size + fields[-2] + fields[-1]
        end = start + info.compress_size
        if end > self.size:
            raise DataError(f"entry {name} runs past the end of the file (truncated?)", self.path)
        return start, end

    def _npy_header(self, start: int, name: str) -> tuple[list[int], bool, np.dtype]:
        """(shape, Fortran order, dtype) from the .npy header at `start`; sets `_data_start`."""
        import io

        head = io.BytesIO(self.map[start:min(start + NPY_HEADER_LIMIT, self.size)])
        try:
            version = np.lib.format.read_magic(head)
            if version == (1, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_1_0(head)
            else:
                shape, fortran, dtype = np.lib.format.read_array_header_2_0(head)
        except (ValueError, *HEADER_ERRORS) as exc:
            raise DataError(f"entry {name}: not a NumPy array ({exc})", self.path) from None
        if dtype.hasobject:
            raise DataError(f"entry {name} holds Python objects, which seqkit never reads", self.path)
        self._data_start = start + head.tell()
        return [int(x) for x in shape], bool(fortran), dtype
