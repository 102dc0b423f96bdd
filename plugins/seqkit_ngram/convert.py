"""What `seqkit ngram-convert` does: ARPA <-> seqkit's binary n-gram format."""

from __future__ import annotations

import time

from seqkit.errors import DataError
from seqkit.progress import Reporter
from seqkit.textio import check_output_path
from seqkit_ngram.arpa import ArpaData, read_arpa, write_arpa
from seqkit_ngram.binary import build_tables, is_binary, read_binary, tables_to_arrays, write_binary


def convert(source: str, target: str, to: str, quiet: bool) -> None:
    """Read `source` in either format (by its first bytes) and write `target` as `to`."""
    reporter = Reporter(quiet)
    check_output_path(target, (source,), param_hint="'OUT'")
    started = time.perf_counter()
    if source != "-" and is_binary(source):
        tables = read_binary(source)
        data = ArpaData(*tables_to_arrays(tables)) if to == "arpa" else None
    else:
        if source != "-":
            from seqkit.modelfile import describe_file

            what = describe_file(source)
            if not (what.startswith("text") or what.startswith(("a gzip", "a bzip2", "an xz"))):
                raise DataError(f"{what}, not an ARPA or seqkit binary n-gram model", source)
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
