"""Opening inputs and outputs: paths or `-`, compression by suffix, atomic writes.

Every output goes to a temporary file beside the target and is renamed into place only when complete,
so an error or Ctrl-C never leaves a truncated file and never replaces a good one with a bad one.
"""

from __future__ import annotations

import bz2
import contextlib
import errno
import gzip
import io
import lzma
import os
import stat
import sys
import zlib
from typing import IO, Iterable, Iterator

import click

from seqkit.errors import DataError, SeqkitError

BOM = b"\xef\xbb\xbf"  # a UTF-8 byte-order mark: not text

_OPENERS = {".gz": gzip.open, ".bz2": bz2.open, ".xz": lzma.open}
_MAGIC = {b"\x1f\x8b": ".gz", b"BZh": ".bz2", b"\xfd7zXZ\x00": ".xz"}
_KINDS = {".gz": "gzip", ".bz2": "bzip2", ".xz": "xz"}
_READ_BUFFER = 1 << 20  # large enough that the guard's Python call per read costs nothing measurable


def compression_of(path: str) -> str | None:
    """The compression suffix of `path` ('.gz', '.bz2', '.xz') or None."""
    for suffix in _OPENERS:
        if str(path).endswith(suffix):
            return suffix
    return None


def base_name(path: str) -> str:
    """The file name of `path` without its compression suffix ('vecs.txt.gz' -> 'vecs.txt')."""
    name = os.path.basename(path)
    suffix = compression_of(name)
    return name[: -len(suffix)] if suffix else name


def sniff_compression(head: bytes) -> str | None:
    """Compression recognised from a file's first bytes, whatever its name says."""
    for magic, suffix in _MAGIC.items():
        if head.startswith(magic):
            return suffix
    return None


def stdin_is_terminal() -> bool:
    try:
        return sys.stdin.isatty()
    except (AttributeError, ValueError):
        return False


@contextlib.contextmanager
def open_input(path: str, *, binary: bool = False, errors: str = "strict") -> Iterator[IO]:
    """Open a path or `-` for reading; compressed files are decompressed by suffix or magic bytes."""
    if path == "-":
        if stdin_is_terminal():
            raise click.UsageError("input is '-' but stdin is a terminal; pipe data in or name a file")
        raw, owned = sys.stdin.buffer, contextlib.nullcontext()  # stdin stays open for the process
    else:
        try:
            raw = open(path, "rb")
        except FileNotFoundError:
            raise SeqkitError(f"{path}: no such file") from None
        except IsADirectoryError:
            raise SeqkitError(f"{path}: is a directory, not a file") from None
        except PermissionError:
            raise SeqkitError(f"{path}: permission denied") from None
        owned = raw
    with owned:
        # opened once and peeked at, not read: stdin or a named pipe (`<(...)`, mkfifo) cannot be read again
        suffix = _peeked_compression(raw) or compression_of(path)
        if suffix is None:
            yield raw if binary else io.TextIOWrapper(raw, encoding="utf-8", errors=errors, newline=None)
            return
        with _OPENERS[suffix](raw, "rb") as decompressor:
            handle = io.BufferedReader(_DamageGuard(decompressor, path, _KINDS[suffix]), _READ_BUFFER)
            yield handle if binary else io.TextIOWrapper(handle, encoding="utf-8", errors=errors, newline=None)


def invalid_utf8(data: bytes, exc: UnicodeDecodeError, path: str, line: int, offset: int) -> DataError:
    """The one message for invalid UTF-8: the bad bytes, their offset in the file, the way around it."""
    return DataError(f"invalid UTF-8 (byte {data[exc.start:exc.end].hex(' ')} at offset {offset + exc.start:,}); "
                     "use --errors replace or --errors ignore to read it anyway", path, line)


class LineDecoder:
    """Raw lines of one input, in order, as text: a leading byte-order mark dropped, and invalid UTF-8 failing
    with the file, line and byte offset unless `errors` is 'replace' or 'ignore'."""

    def __init__(self, path: str, errors: str = "strict"):
        self.path, self.errors = path, errors
        self.number = self.offset = 0

    def __call__(self, raw: bytes) -> str:
        if self.number == 0 and raw.startswith(BOM):
            raw, self.offset = raw[len(BOM):], len(BOM)
        self.number += 1
        try:
            return raw.decode("utf-8", self.errors)
        except UnicodeDecodeError as exc:
            raise invalid_utf8(raw, exc, self.path, self.number, self.offset) from None
        finally:
            self.offset += len(raw)


def text_lines(path: str, errors: str = "strict") -> Iterator[str]:
    """The lines of a path or `-` (compressed or not) as text (`LineDecoder`)."""
    decode = LineDecoder(path, errors)
    with open_input(path, binary=True) as handle:
        for raw in handle:
            yield decode(raw)


def line_blocks(path: str, errors: str = "strict", most: int = 4096) -> Iterator[list[str]]:
    """The lines of `path` (as `text_lines` gives them) in lists of at most `most`. From a pipe, a list
    ends where the input pauses, so that a reader answering line by line (a co-process,
    `tail -f | ...`) gets each answer at once, while a fast pipe still gives full lists."""
    if path != "-" or not _waits_for_input(sys.stdin.buffer) or stdin_is_terminal() or \
            _peeked_compression(sys.stdin.buffer) is not None:
        block: list[str] = []
        for line in text_lines(path, errors):
            block.append(line)
            if len(block) == most:
                yield block
                block = []
        if block:
            yield block
        return
    stream, decode, carry = sys.stdin.buffer, LineDecoder(path, errors), b""
    while True:
        data = stream.read1(1 << 16)  # what has arrived, without waiting for a full buffer
        lines = (carry + data).split(b"\n")
        carry = lines.pop() if data else b""
        block = [decode(raw + b"\n") for raw in lines] if data else [decode(raw) for raw in lines if raw]
        for start in range(0, len(block), most):
            yield block[start:start + most]
        if not data:
            return


def _peeked_compression(stream) -> str | None:
    """The compression of the data waiting on `stream`, from its first bytes, without consuming them."""
    peek = getattr(stream, "peek", None)
    return sniff_compression(peek(6)[:6]) if peek is not None else None


def _waits_for_input(stream) -> bool:
    """Whether `stream` is a pipe, socket or terminal (reading may wait), not a regular file."""
    try:
        return not stat.S_ISREG(os.fstat(stream.fileno()).st_mode)
    except (AttributeError, OSError, ValueError):
        return False


def check_compressed_intact(path: str) -> None:
    """Read a compressed file to its end, raising the DataError that names its damage if it has any.

    For messages about a file no reader claimed: a format sniffer that met the damage in the first
    bytes declined the file quietly, and "a gzip file, not a model" would hide what is wrong with it.
    """
    if path == "-":
        return
    with open(path, "rb") as probe:
        if sniff_compression(probe.read(6)) is None:
            return
    with open_input(path, binary=True) as handle:
        while handle.read(_READ_BUFFER):
            pass


class _DamageGuard(io.RawIOBase):
    """A decompressing stream whose damage (truncation, corruption) is one error naming the file.

    The decompressors report damage as EOFError, lzma.LZMAError, zlib.error or an OSError without an
    errno; click would turn the EOFError into an abort that looks like Ctrl-C, and the others carry no
    file name, so they become a DataError that says how much text came out before the damage.
    """

    def __init__(self, stream: IO[bytes], path: str, kind: str):
        super().__init__()
        self._stream, self._path, self._kind = stream, path, kind
        self.delivered = 0  # bytes of decompressed text handed out so far

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        try:
            n = self._stream.readinto(buffer)
        except (EOFError, lzma.LZMAError, zlib.error, OSError) as exc:
            raise self._damage(exc) from None
        self.delivered += n
        return n

    def readall(self) -> bytes:
        try:
            data = self._stream.read()
        except (EOFError, lzma.LZMAError, zlib.error, OSError) as exc:
            raise self._damage(exc) from None
        self.delivered += len(data)
        return data

    def _damage(self, exc: BaseException) -> BaseException:
        if isinstance(exc, OSError) and exc.errno is not None:
            return exc  # a real I/O failure (disk, permissions), not damaged data: reported as such
        try:  # the decompressor's position also counts text decoded in the read that failed
            produced = max(self.delivered, self._stream.tell())
        except (OSError, ValueError, EOFError):
            produced = self.delivered
        return DataError(f"truncated or corrupt {self._kind} stream (after {produced:,} bytes of text)", self._path)


def check_output_path(path: str, inputs: Iterable[str | None] = (), *, outputs: Iterable[str | None] = (),
                      param_hint: str = "'-o' / '--output'", model: bool = False) -> None:
    """Fail now, before any expensive work, if `path` cannot be written or is one of `inputs` or of the
    command's other `outputs`.

    An output that is an input (the same path, a symlink or a hard link to it) is a usage error naming
    both, since the finished output would replace the data it was made from; one that is another output
    would lose one of the two. `param_hint` names the
    option or argument that gave `path`; `None` and `-` among `inputs` are ignored. A `model` file (a zip
    archive written with seeks, or a binary table read in place) cannot go through a compressor, so a
    compressed name is refused too.
    """
    if model and compression_of(path):
        raise click.BadParameter(f"{path!r}: a model file cannot be written compressed (it is read in place or "
                                 f"written with seeks); name it without {compression_of(path)}",
                                 ctx=click.get_current_context(silent=True), param_hint=param_hint)
    if path == "-":
        return
    for what, others in (("input", inputs), ("output", outputs)):
        for other in others:
            if other is not None and other != "-" and _same_file(path, str(other)):
                raise click.BadParameter(f"{path!r} is the same file as the {what} {str(other)!r}; name another file",
                                         ctx=click.get_current_context(silent=True), param_hint=param_hint)
    directory = os.path.dirname(os.path.abspath(path)) or "."
    if os.path.isdir(path):
        raise SeqkitError(f"{path}: is a directory; name a file to write")
    if not os.path.isdir(directory):
        raise SeqkitError(f"{path}: directory {directory} does not exist")
    if not os.access(directory, os.W_OK):
        raise SeqkitError(f"{path}: directory {directory} is not writable")
    if os.path.exists(path) and not os.access(path, os.W_OK):
        raise SeqkitError(f"{path}: file exists and is not writable")


def _same_file(a: str, b: str) -> bool:
    """Whether paths `a` and `b` name one file: the same device and inode, or the same resolved path."""
    try:
        first, second = os.stat(a), os.stat(b)
    except OSError:
        return os.path.realpath(a) == os.path.realpath(b)
    return (first.st_dev, first.st_ino) == (second.st_dev, second.st_ino)


@contextlib.contextmanager
def _open_for_writing(tmp: str, path: str, binary: bool) -> Iterator[IO]:
    """The temporary file `tmp` opened for `path`'s contents, compressed as its name says; a gzip header
    names `path` (as `gzip` names the file it compresses), not the temporary file."""
    kind = compression_of(path)
    with contextlib.ExitStack() as stack:
        if kind == ".gz":
            raw = stack.enter_context(open(tmp, "wb"))
            handle = stack.enter_context(gzip.GzipFile(filename=path, mode="wb", fileobj=raw))
            if not binary:
                handle = stack.enter_context(io.TextIOWrapper(handle, encoding="utf-8", newline="\n"))
        else:
            opener = _OPENERS.get(kind, open)
            handle = stack.enter_context(opener(tmp, "wb") if binary
                                         else opener(tmp, "wt", encoding="utf-8", newline="\n"))
        yield handle


_WRITE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}  # what can only come from writing the output



def require_regular_file(path: str, what: str = "a model") -> None:
    """Refuse a pipe or device (`<(zcat ...)`) where `what` is recognised by its first bytes and then read
    again: the second read would miss them. `-` (stdin) and missing paths are left to the caller."""
    if path != "-" and os.path.exists(path) and not os.path.isfile(path) and not os.path.isdir(path):
        raise SeqkitError(f"{path}: a pipe or device, not a file; {what} is read from a regular file (its kind "
                          "is recognised by its first bytes, then it is read again)")

@contextlib.contextmanager
def atomic_output(path: str, *, binary: bool = False) -> Iterator[IO]:
    """Write to `path` (or stdout for `-`) all-or-nothing."""
    if path == "-":  # a full disk met here may be a temporary file's: main names both possibilities
        stream = sys.stdout.buffer if binary else sys.stdout
        yield stream
        stream.flush()
        return
    check_output_path(path)
    if os.path.exists(path) and not os.path.isfile(path):
        # a device or pipe (/dev/null, /dev/stdout, a fifo): written in place; a rename would replace
        # the device node itself with a regular file
        with _naming_write_errors(path), _open_for_writing(path, path, binary) as handle:
            yield handle
        return
    import tempfile  # here, not at the top: queries that write nothing need not import it

    shown, path = path, os.path.realpath(path) if os.path.islink(path) else path  # a link is written through
    directory = os.path.dirname(os.path.abspath(path))
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=directory)
    except OSError as exc:  # named by the output the user gave, not the temporary file
        raise SeqkitError(f"{shown}: cannot write a file in {directory} ({exc.strerror or exc})") from None
    os.close(fd)
    try:
        with _open_for_writing(tmp, path, binary) as handle:
            yield handle
        if os.path.exists(path):
            mode = os.stat(path).st_mode & 0o777
        else:
            umask = os.umask(0)
            os.umask(umask)
            mode = 0o666 & ~umask
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError) and exc.errno in _WRITE_ERRNOS:  # a full disk: name the output, not the temp
            kept = "the file there is kept" if os.path.exists(path) else "nothing was written"
            raise SeqkitError(f"{shown}: cannot be written ({exc.strerror}); {kept}") from None
        raise


@contextlib.contextmanager
def _naming_write_errors(name: str) -> Iterator[None]:
    """A full disk or device met while writing in place is reported with the output's name."""
    try:
        yield
    except OSError as exc:
        if exc.errno in _WRITE_ERRNOS:
            raise SeqkitError(f"{name}: cannot be written ({exc.strerror})") from None
        raise
