"""Click options shared by many commands, so they are spelled and validated the same everywhere."""

from __future__ import annotations

import os
from pathlib import Path

import click

from seqkit.errors import SeqkitError

ENV_VECTORS = "SEQKIT_VECTORS"
DATA_DIR = Path(__file__).parent / "data"
# The bundled vectors ship in the fast format (mapped, not parsed); the others are for older or custom installs.
DEFAULT_VECTOR_FILES = ("default.skv", "default.bin", "default.bin.xz", "default.vec.xz", "default.vec")


def default_vectors_path() -> str | None:
    """The bundled default vectors, if this installation ships them."""
    for name in DEFAULT_VECTOR_FILES:
        candidate = DATA_DIR / name
        if candidate.is_file():
            return str(candidate)
    return None


def resolve_vectors(value: str | None) -> str:
    """-v/--vectors, else $SEQKIT_VECTORS, else the bundled default; a clear error when none exists."""
    if value:
        return value
    env = os.environ.get(ENV_VECTORS)
    if env:
        return env
    bundled = default_vectors_path()
    if bundled is None:
        raise SeqkitError("no vectors given: pass -v/--vectors FILE or set $SEQKIT_VECTORS "
                          "(this installation has no bundled default vectors)")
    return bundled


def _vectors_callback(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if ctx.resilient_parsing:  # shell completion: do not touch the filesystem
        return value
    return resolve_vectors(value)


vectors_option = click.option(
    "-v", "--vectors", "vectors", metavar="PATH", default=None, callback=_vectors_callback,
    help=f"Vector file (word2vec text/binary, GloVe, fastText .vec, seqkit's fast .skv; .gz/.bz2/.xz; '-' = stdin). "
         f"Default: ${ENV_VECTORS}, else the bundled vectors.")

quiet_option = click.option("-q", "--quiet", is_flag=True, help="No progress or messages on stderr (errors only).")

def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity, e.g. under taskset or a container's cpuset),
    not every core of the machine."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except (AttributeError, OSError):  # not on Linux
        return os.cpu_count() or 1


threads_option = click.option(
    "-t", "--threads", type=click.IntRange(min=1), default=usable_cores, show_default="all cores",
    help="Worker threads.")

seed_option = click.option("--seed", type=click.IntRange(min=0), default=1, show_default=True,
                           help="Random seed (with one thread, runs are bit-for-bit reproducible).")

errors_option = click.option(
    "--errors", type=click.Choice(["strict", "replace", "ignore"]), default="strict", show_default=True,
    help="Invalid UTF-8 in the input: stop with file/line/offset (strict), replace with U+FFFD, or drop it.")

max_sentence_len_option = click.option(
    "--max-sentence-len", type=click.IntRange(min=1), default=10000, show_default=True,
    help="Split longer lines into pieces of at most this many tokens (splits are counted).")

json_option = click.option("--json", "as_json", is_flag=True, help="Machine-readable JSON on stdout.")


def json_text(value, indent: int | None = 2) -> str:
    """`value` as strict JSON for `--json`: a NaN (a figure with nothing to average) or an infinity (the
    perplexity of a text with an impossible word) is null, since JSON has neither and strict parsers refuse
    Python's."""
    import json
    import math

    def clean(item):
        if isinstance(item, float) and not math.isfinite(item):
            return None
        if isinstance(item, dict):
            return {key: clean(v) for key, v in item.items()}
        if isinstance(item, (list, tuple)):
            return [clean(v) for v in item]
        return item

    return json.dumps(clean(value), indent=indent, allow_nan=False)

ENV_SCHEDULER = "SEQKIT_SCHEDULER"


def engine_options(command):
    """--engine local|dask and --scheduler ADDRESS (seqkit.scale)."""
    command = click.option(
        "--scheduler", metavar="ADDRESS", default=None, envvar=ENV_SCHEDULER,
        help=f"Dask scheduler for --engine dask (e.g. tcp://host:8786). Default: ${ENV_SCHEDULER}, else a "
             "local cluster sized to this machine.")(command)
    return click.option(
        "--engine", type=click.Choice(["local", "dask"]), default="local", show_default=True,
        help="Count on this machine, or on a Dask cluster (needs seqkit[dask]; same results; inputs may be "
             "globs and fsspec URLs such as s3://...). See docs/scale.md.")(command)


def check_engine(engine: str, scheduler: str | None) -> None:
    """--scheduler typed with the local engine is a mistake (from the environment it is only a default);
    the Dask engine without its extra is a one-line error."""
    ctx = click.get_current_context()
    if engine == "local" and scheduler and ctx.get_parameter_source("scheduler") == click.core.ParameterSource.COMMANDLINE:
        raise click.UsageError("--scheduler needs --engine dask")
    if engine == "dask":
        from seqkit.scale import require_dask

        require_dask()
