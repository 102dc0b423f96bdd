"""What `seqkit ngram-convert` (and `seqkit convert` given an n-gram model) does: ARPA <-> seqkit's binary
n-gram format. Reading a binary model here always checks its tables' checksum: converting reads every
entry anyway."""

from __future__ import annotations

import time

from seqkit.errors import DataError
from seqkit.progress import Reporter
from seqkit.textio import check_output_path, require_regular_file
from seqkit_ngram.arpa import ArpaData, read_arpa, write_arpa
from seqkit_ngram.binary import build_tables, is_binary, read_binary, tables_to_arrays, verify, write_binary


def check(source: str, quiet: bool) -> None:
    """`ngram-convert --verify IN`: the whole binary model against its checksums, or an ARPA file read in full."""
    started = time.perf_counter()
    require_regular_file(source, "a model")  # stdin ('-') is read once, as ARPA text
    if source != "-" and is_binary(source):
        tables = read_binary(source)
        verify(tables, source)
        counts = tables.counts[1:].tolist()
    else:
        _check_text(source)
        data = read_arpa(source)
        build_tables(data.vocab, data.words, data.logprob, data.backoff, source)  # what loading it would find
        counts = [len(w) for w in data.words]
    sizes = " ".join(f"{n}:{c:,}" for n, c in enumerate(counts, 1))
    Reporter(quiet).summary(f"ngram-convert: {source} is intact; n-grams {sizes}; {time.perf_counter() - started:.2f} s")


def _check_text(source: str) -> None:
    if source != "-":
        from seqkit.modelfile import describe_file

        what = describe_file(source)
        if not (what.startswith("text") or what.startswith(("a gzip", "a bzip2", "an xz"))):
            raise DataError(f"{what}, not an ARPA or seqkit binary n-gram model", source)


def convert(source: str, target: str, to: str, quiet: bool) -> None:
    """Read `source` in either format (by its first bytes) and write `target` as `to`."""
    reporter = Reporter(quiet)
    require_regular_file(source, "a model")  # stdin ('-') is read once, as ARPA text
    check_output_path(target, (source,), param_hint="'OUT'", model=to == "binary")
    started = time.perf_counter()
    require_regular_file(source, "a model")  # stdin ('-') is read once, as ARPA text
    if source != "-" and is_binary(source):
        tables = read_binary(source)
        verify(tables, source)
        data = ArpaData(*tables_to_arrays(tables)) if to == "arpa" else None
    else:
        _check_text(source)
        data = read_arpa(source)
        tables = build_tables(data.vocab, data.words, data.logprob, data.backoff, source) if to == "binary" else None
    if to == "binary":
        write_binary(tables, target)
        counts = tables.counts[1:].tolist()
    else:
        write_arpa(data, target)
        counts = [len(w) for w in data.words]
    sizes = " ".join(f"{n}:{c:,}" for n, c in enumerate(counts, 1))
    reporter.summary(f"ngram-convert: n-grams {sizes}; {time.perf_counter() - started:.2f} s -> {target} ({to})")
