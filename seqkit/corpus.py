"""Corpus files -> validated blocks of text, for the compiled reader (`seqkit.reader`).

Any number of files (or stdin, `-`; .gz/.bz2/.xz) are read in blocks of whole tokens, a UTF-8 BOM
dropped and every line's UTF-8 validated (per the `--errors` policy) so nothing downstream ever sees
invalid text; a 100 MB single-line corpus (text8 style) still streams in bounded memory.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from dataclasses import dataclass
from typing import IO, Iterator, Sequence

from seqkit.errors import DataError, show_as
from seqkit.textio import BOM, invalid_utf8, open_input

BLOCK_SIZE = 1 << 20
ERROR_POLICIES = ("strict", "replace", "ignore")


@dataclass
class CorpusStats:
    """What a pass over the corpus saw; commands print it in their summary."""

    files: int = 0
    lines: int = 0
    tokens: int = 0
    split_lines: int = 0
    bytes: int = 0
    invalid_lines: int = 0

    def describe(self) -> str:
        text = f"{self.tokens:,} tokens in {self.lines:,} lines"
        if self.split_lines:
            text += f" ({self.split_lines:,} long lines split)"
        if self.invalid_lines:
            text += f" ({self.invalid_lines:,} lines with invalid UTF-8 repaired)"
        return text


def text_blocks(paths: Sequence[str], *, errors: str, stats: CorpusStats,
                block_size: int | None = None) -> Iterator[bytes]:
    """The files' text in validated blocks of whole tokens, for readers that handle many lines per call.

    A block ends just after a newline or, inside a line longer than `block_size` bytes, just after a
    space or tab; each file's text ends with a newline (one is added to a file that lacks it), so a
    reader keeping its line state across blocks and files sees every line end. Counts `stats.files`
    and `stats.bytes`; invalid UTF-8 fails or is repaired per `errors`, with the file and line named.
    """
    if errors not in ERROR_POLICIES:
        raise ValueError(f"errors must be one of {ERROR_POLICIES}, not {errors!r}")
    block_size = block_size or BLOCK_SIZE
    for path in paths:
        with open_input(str(path), binary=True) as handle:
            stats.files += 1
            line_no = offset = 0  # completed lines and bytes before the next block (for messages)
            carry, open_line = b"", False
            for block, skipped in read_blocks(handle, block_size, stats):
                offset += skipped
                data = carry + block if carry else block
                cut = block_cut(data, block_size)
                if not cut:
                    carry = data
                    continue
                chunk = validated_utf8(data[:cut], errors, stats, str(path), line_no, offset)
                offset += cut
                line_no += chunk.count(b"\n")
                open_line = not chunk.endswith(b"\n")
                carry = data[cut:]
                yield chunk
            if carry or open_line:
                yield validated_utf8(carry, errors, stats, str(path), line_no, offset) + b"\n"


def block_cut(data: bytes, block_size: int) -> int:
    """Where a block of whole tokens ends in `data`: after its last newline or, inside a line longer than
    `block_size` bytes, after its last space or tab; 0 when `data` must wait for more."""
    cut = data.rfind(b"\n") + 1
    if not cut and len(data) > block_size:
        cut = max(data.rfind(b" "), data.rfind(b"\t")) + 1
    return cut


def read_blocks(handle: IO[bytes], block_size: int, stats: CorpusStats) -> Iterator[tuple[bytes, int]]:
    """The stream in blocks of `block_size` bytes (counted in `stats.bytes`), a leading UTF-8 BOM dropped;
    each block comes with the number of bytes dropped just before it (for the offsets in messages)."""
    first = True
    while block := handle.read(block_size):
        stats.bytes += len(block)
        skipped = 0
        if first:
            first = False
            if block.startswith(BOM):
                block, skipped = block[len(BOM):], len(BOM)
        yield block, skipped


def validated_utf8(chunk: bytes, errors: str, stats: CorpusStats, path: str, line_no: int, offset: int) -> bytes:
    """`chunk` unchanged if it is UTF-8; otherwise fail (naming the file, line and byte offset) or repair
    it line by line per the `--errors` policy. `line_no` lines and `offset` bytes come before it."""
    try:
        chunk.decode("utf-8")
        return chunk
    except UnicodeDecodeError as exc:
        if errors == "strict":
            raise invalid_utf8(chunk, exc, path, line_no + chunk.count(b"\n", 0, exc.start) + 1, offset) from None
    repaired = []
    for line in chunk.split(b"\n"):
        try:
            line.decode("utf-8")
            repaired.append(line)
        except UnicodeDecodeError:
            stats.invalid_lines += 1
            repaired.append(line.decode("utf-8", errors).encode("utf-8"))
    return b"\n".join(repaired)


def materialize_stdin(paths: Sequence[str], reporter=None) -> list[str]:
    """Paths usable for several passes: stdin (`-`) and named pipes (`<(...)`, mkfifo), which can be read
    once only, are spooled to temporary files deleted at exit."""
    result = []
    for path in paths:
        if path != "-" and (os.path.isfile(path) or not os.path.exists(path)):  # a missing file fails later
            result.append(path)
            continue
        directory = tempfile.mkdtemp(prefix="seqkit-stdin-")
        atexit.register(shutil.rmtree, directory, True)
        spooled = os.path.join(directory, "stdin.txt")
        show_as(spooled, "<stdin>" if path == "-" else path)
        with open_input(path, binary=True) as source, open(spooled, "wb") as target:
            shutil.copyfileobj(source, target, BLOCK_SIZE)
        if reporter is not None:
            size = os.path.getsize(spooled)
            what = "stdin" if path == "-" else path
            reporter.info(f"spooled {what} to a temporary file ({size:,} bytes) for multiple passes")
        result.append(spooled)
    return result


def locate_line(paths: Sequence[str], nonempty_index: int) -> tuple[str, int]:
    """(path, 1-based line number) of the `nonempty_index`-th line holding a token (the reader skips the
    others), found by reading the files again: only on the way to an error message."""
    seen = 0
    for path in paths:
        with open_input(str(path), binary=True) as handle:
            for number, line in enumerate(handle, 1):
                if line.split():
                    if seen == nonempty_index:
                        return str(path), number
                    seen += 1
    raise DataError(f"line {nonempty_index + 1} not found", str(paths[-1]))
