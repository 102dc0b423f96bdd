"""A corpus as partitions for the workers: files, globs and fsspec URLs, cut on line boundaries.

A compressed file is one partition (it cannot be entered in the middle); a plain file is cut into byte
ranges of about `block_size`, each holding the lines that *begin* in it, so every line is read by exactly
one partition and whole. Partitions are numbered in corpus order (files in the order given, globs sorted,
then by offset): a word's first appearance in the corpus is the smallest (partition, position) pair.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Iterator, Sequence

from seqkit.corpus import BOM, CorpusStats, block_cut, validated_utf8
from seqkit.errors import DataError, SeqkitError

DEFAULT_PARTITION_SIZE = 64 << 20
ENV_PARTITION_SIZE = "SEQKIT_PARTITION_SIZE"
READ_SIZE = 1 << 20


@dataclass(frozen=True)
class Partition:
    index: int
    fs: Any                  # fsspec filesystem (picklable; workers open the file themselves)
    path: str
    start: int
    end: int | None          # None: to the end of the file
    compression: str | None

    @property
    def name(self) -> str:
        protocol = self.fs.protocol if isinstance(self.fs.protocol, str) else self.fs.protocol[0]
        return self.path if protocol == "file" else f"{protocol}://{self.path}"


def partition_size() -> int:
    """$SEQKIT_PARTITION_SIZE bytes (e.g. to spread a small corpus over many workers), else 64 MiB."""
    value = os.environ.get(ENV_PARTITION_SIZE)
    if not value:
        return DEFAULT_PARTITION_SIZE
    if not value.isdigit() or int(value) < 1:
        raise SeqkitError(f"${ENV_PARTITION_SIZE} must be a positive number of bytes, not {value!r}")
    return int(value)


def plan(inputs: Sequence[str], block_size: int) -> list[Partition]:
    """The partitions of `inputs` (paths, globs, URLs) in corpus order; missing files are errors."""
    from fsspec.core import url_to_fs
    from fsspec.utils import infer_compression

    partitions: list[Partition] = []
    for spec in inputs:
        if spec == "-":
            raise click_usage("the Dask engine reads files, not stdin ('-'): save it to a file first")
        try:
            fs, path = url_to_fs(spec)
        except (ImportError, ValueError) as exc:
            raise SeqkitError(f"{spec}: {exc}") from None
        paths = sorted(fs.glob(path)) if any(c in path for c in "*?[") else [path]
        if not paths:
            raise DataError("no file matches this pattern", spec)
        for name in paths:
            try:
                size = fs.size(name)
            except (FileNotFoundError, OSError) as exc:
                raise DataError(f"cannot open: {exc.strerror or exc}", name) from None
            compression = infer_compression(name)
            if compression is not None or size <= block_size:
                partitions.append(Partition(len(partitions), fs, name, 0, None, compression))
                continue
            for start in range(0, size, block_size):
                end = min(start + block_size, size)
                partitions.append(Partition(len(partitions), fs, name, start, None if end == size else end, None))
    return partitions


def click_usage(message: str) -> Exception:
    import click

    return click.UsageError(message)


def text_chunks(part: Partition, *, errors: str, stats: CorpusStats) -> Iterator[bytes]:
    """The partition's lines as validated blocks of whole tokens, as `seqkit.corpus.text_blocks` gives a
    whole file's: the BOM dropped at the file's start, a final newline added where the file lacks one."""
    stats.files += part.start == 0
    carry, open_line = b"", False
    offset = part.start  # of the next chunk, for messages (line numbers only for a file's first partition)
    line_no = 0
    first = part.start == 0
    for block in _raw_lines(part, stats):
        if first:
            first = False
            if block.startswith(BOM):
                block, offset = block[len(BOM):], offset + len(BOM)
        data = carry + block if carry else block
        cut = block_cut(data, READ_SIZE)
        if not cut:
            carry = data
            continue
        yield _validated(data[:cut], errors, stats, part, line_no, offset)
        line_no += data.count(b"\n", 0, cut)
        offset += cut
        open_line = data[cut - 1] != 0x0A
        carry = data[cut:]
    # a file ending inside a line, even just after a space, gets its newline, or that line never ends
    if carry or open_line:
        yield _validated(carry, errors, stats, part, line_no, offset) + b"\n"


def _validated(chunk: bytes, errors: str, stats: CorpusStats, part: Partition, line_no: int, offset: int) -> bytes:
    try:
        return validated_utf8(chunk, errors, stats, part.name, line_no, offset)
    except DataError as exc:
        if part.start == 0:
            raise
        # line numbers count from the partition's start: name the byte offset, which is exact
        raise DataError(exc.format_message().split(": ", 1)[1], part.name) from None


def _raw_lines(part: Partition, stats: CorpusStats) -> Iterator[bytes]:
    """The bytes of the lines beginning in [start, end), in blocks (the last one ends at a newline)."""
    with part.fs.open(part.path, "rb", compression=part.compression) as handle:
        pos = 0
        if part.start > 0:
            handle.seek(part.start - 1)
            pos = part.start - 1
            while True:  # skip the rest of the line that began before `start`
                block = handle.read(READ_SIZE)
                if not block:
                    return
                newline = block.find(b"\n")
                if newline >= 0:
                    pos += newline + 1
                    break
                pos += len(block)
            if part.end is not None and pos >= part.end:
                return
            handle.seek(pos)
        limit = part.end
        while block := handle.read(READ_SIZE):
            if limit is not None and pos + len(block) >= limit:
                newline = block.find(b"\n", max(limit - 1 - pos, 0))
                if newline >= 0:
                    stats.bytes += newline + 1
                    yield block[:newline + 1]
                    return
            stats.bytes += len(block)
            pos += len(block)
            yield block
