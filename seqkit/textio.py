"""Opening inputs and outputs: paths or `-`, compression by suffix, atomic writes.

Every output goes to a temporary file beside the target and is renamed into place only when complete,
so an error or Ctrl-C never leaves a truncated file and never replaces a good one with a bad one.
"""

from __future__ import annotations

import bz2
import contextlib
import gzip
import io
import lzma
import os
import sys
import tempfile
from typing import IO, Iterator

import click

from seqkit.errors import SeqkitError

_OPENERS = {".gz": gzip.open, ".bz2": bz2.open, ".xz": lzma.open}
_MAGIC = {b"\x1f\x8b": ".gz", b"BZh": ".bz2", b"\xfd7zXZ\x00": ".xz"}


def compression_of(path: str) -> str | None:
    """The compression suffix of `path` ('.gz', '.bz2', '.xz') or None."""
    for suffix in _OPENERS:
        if str(path).endswith(suffix):
            return suffix
    return None


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
        raw = sys.stdin.buffer
        yield raw if binary else io.TextIOWrapper(raw, encoding="utf-8", errors=errors, newline=None)
        return
    try:
        with open(path, "rb") as probe:
            head = probe.read(6)
    except FileNotFoundError:
        raise SeqkitError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise SeqkitError(f"{path}: is a directory, not a file") from None
    except PermissionError:
        raise SeqkitError(f"{path}: permission denied") from None
    suffix = sniff_compression(head) or compression_of(path)
    opener = _OPENERS.get(suffix, open)
    mode = "rb" if binary else "rt"
    kwargs = {} if binary else {"encoding": "utf-8", "errors": errors}
    with opener(path, mode, **kwargs) as handle:
        yield handle


def check_output_path(path: str) -> None:
    """Fail now, before any expensive work, if `path` cannot be written."""
    if path == "-":
        return
    directory = os.path.dirname(os.path.abspath(path)) or "."
    if os.path.isdir(path):
        raise SeqkitError(f"{path}: is a directory; name a file to write")
    if not os.path.isdir(directory):
        raise SeqkitError(f"{path}: directory {directory} does not exist")
    if not os.access(directory, os.W_OK):
        raise SeqkitError(f"{path}: directory {directory} is not writable")
    if os.path.exists(path) and not os.access(path, os.W_OK):
        raise SeqkitError(f"{path}: file exists and is not writable")


@contextlib.contextmanager
def atomic_output(path: str, *, binary: bool = False) -> Iterator[IO]:
    """Write to `path` (or stdout for `-`) all-or-nothing."""
    if path == "-":
        stream = sys.stdout.buffer if binary else sys.stdout
        yield stream
        stream.flush()
        return
    check_output_path(path)
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=directory)
    os.close(fd)
    try:
        opener = _OPENERS.get(compression_of(path), open)
        if binary:
            handle = opener(tmp, "wb")
        else:
            handle = opener(tmp, "wt", encoding="utf-8", newline="\n")
        with handle:
            yield handle
        if os.path.exists(path):
            mode = os.stat(path).st_mode & 0o777
        else:
            umask = os.umask(0)
            os.umask(umask)
            mode = 0o666 & ~umask
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
