"""Text -> sentences of whitespace tokens, streamed in blocks.

Tokens stay `bytes` until they reach a vocabulary: splitting and counting bytes is faster than
decoding every token, and each distinct word is decoded only once. UTF-8 is still validated for every
line (per the `--errors` policy) so nothing downstream ever sees invalid text. A line is one sentence;
a line longer than `max_sentence_len` tokens is cut into pieces (never dropped), which also keeps a
100 MB single-line corpus (text8 style) streaming in bounded memory.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from dataclasses import dataclass
from typing import IO, Iterator, Sequence

from seqkit.errors import DataError
from seqkit.textio import open_input

BLOCK_SIZE = 1 << 20
BOM = b"\xef\xbb\xbf"
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


def iter_sentences(paths: Sequence[str] | str, *, errors: str = "strict", max_sentence_len: int = 10000,
                   stats: CorpusStats | None = None) -> Iterator[list[bytes]]:
    """Yield each line's tokens (as UTF-8 bytes), long lines in pieces of at most `max_sentence_len`."""
    if errors not in ERROR_POLICIES:
        raise ValueError(f"errors must be one of {ERROR_POLICIES}, not {errors!r}")
    if max_sentence_len < 1:
        raise ValueError("max_sentence_len must be >= 1")
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    stats = stats if stats is not None else CorpusStats()
    for path in paths:
        with open_input(str(path), binary=True) as handle:
            stats.files += 1
            yield from _FileReader(str(path), handle, errors, max_sentence_len, stats).sentences()


class _FileReader:
    """Splits one binary stream into lines and lines into bounded pieces."""

    def __init__(self, path: str, handle: IO[bytes], errors: str, max_len: int, stats: CorpusStats):
        self.path, self.handle, self.errors, self.max_len, self.stats = path, handle, errors, max_len, stats
        self.line_no = 0          # lines completed so far
        self.offset = 0           # file offset of the start of `carry`
        self.pending: list[bytes] = []  # tokens of the current (unfinished, long) line
        self.line_was_split = False

    def sentences(self) -> Iterator[list[bytes]]:
        carry = b""
        for block, skipped in read_blocks(self.handle, BLOCK_SIZE, self.stats):
            self.offset += skipped
            data = carry + block if carry else block
            cut = data.rfind(b"\n") + 1
            if cut:
                yield from self._complete_lines(data[:cut])
                carry = data[cut:]
            else:
                carry = data
            if len(carry) > BLOCK_SIZE:
                carry = yield from self._drain_long_line(carry)
        if carry or self.pending:
            yield from self._complete_lines(carry + b"\n")

    def _complete_lines(self, chunk: bytes) -> Iterator[list[bytes]]:
        """`chunk` ends with a newline; the first line continues `self.pending`."""
        self.offset += len(chunk)
        chunk = self._validated(chunk, self.offset - len(chunk))
        lines = chunk.split(b"\n")
        lines.pop()  # empty string after the final newline
        stats, max_len = self.stats, self.max_len
        stats.lines += len(lines)
        self.line_no += len(lines)
        if self.pending:
            tokens = self.pending + lines[0].split()
            self.pending = []
            stats.tokens += len(tokens)
            yield from self._pieces(tokens, already_split=self.line_was_split)
            self.line_was_split = False
            lines = lines[1:]
        for line in lines:
            tokens = line.split()
            if not tokens:
                continue
            stats.tokens += len(tokens)
            if len(tokens) <= max_len:
                yield tokens
            else:
                yield from self._pieces(tokens, already_split=False)

    def _pieces(self, tokens: list[bytes], already_split: bool) -> Iterator[list[bytes]]:
        max_len = self.max_len
        if len(tokens) > max_len and not already_split:
            self.stats.split_lines += 1
        for start in range(0, len(tokens), max_len):
            yield tokens[start:start + max_len]

    def _drain_long_line(self, carry: bytes) -> Iterator[list[bytes]]:
        """Move whole tokens of an unfinished long line into `pending`, emitting full pieces."""
        space = max(carry.rfind(b" "), carry.rfind(b"\t"))
        if space <= 0:
            return carry  # one enormous token: keep reading until it ends
        head, carry = carry[:space], carry[space:]
        self.offset += len(head)
        head = self._validated(head, self.offset - len(head))
        self.pending.extend(head.split())
        max_len = self.max_len
        if len(self.pending) > max_len:
            if not self.line_was_split:
                self.stats.split_lines += 1
                self.line_was_split = True
            full = len(self.pending) - len(self.pending) % max_len
            if full == len(self.pending):
                full -= max_len  # keep at least one token back so the final piece is never empty
            self.stats.tokens += full
            for start in range(0, full, max_len):
                yield self.pending[start:start + max_len]
            self.pending = self.pending[full:]
        return carry

    def _validated(self, chunk: bytes, offset: int) -> bytes:
        return validated_utf8(chunk, self.errors, self.stats, self.path, self.line_no, offset)


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
                cut = data.rfind(b"\n") + 1
                if not cut and len(data) > block_size:  # a huge line: cut after its last space or tab
                    cut = max(data.rfind(b" "), data.rfind(b"\t")) + 1
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
            line = line_no + chunk.count(b"\n", 0, exc.start) + 1
            bad = chunk[exc.start:exc.end].hex(" ")
            raise DataError(f"invalid UTF-8 (byte {bad} at offset {offset + exc.start:,}); "
                            "use --errors replace or --errors ignore to read it anyway", path, line) from None
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
    """Paths usable for several passes: stdin (`-`) is spooled to a temporary file deleted at exit."""
    result = []
    for path in paths:
        if path != "-":
            result.append(path)
            continue
        directory = tempfile.mkdtemp(prefix="seqkit-stdin-")
        atexit.register(shutil.rmtree, directory, True)
        spooled = os.path.join(directory, "stdin.txt")
        with open_input("-", binary=True) as source, open(spooled, "wb") as target:
            shutil.copyfileobj(source, target, BLOCK_SIZE)
        if reporter is not None:
            size = os.path.getsize(spooled)
            reporter.info(f"spooled stdin to a temporary file ({size:,} bytes) for multiple passes")
        result.append(spooled)
    return result
