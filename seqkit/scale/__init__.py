"""Counting on a Dask cluster: the vocabulary pass and n-gram counting, with the local engine's results.

`--engine dask` sends the corpus's partitions (`partitions`) to Dask workers, which count them with the
same compiled reader and window counter as the local path (`tasks`); the client merges what they return
into exactly the tables the local path builds (`engine`), and everything after counting runs unchanged.
Dask is an optional extra: nothing here imports it until a command asks for the Dask engine.
"""

from __future__ import annotations

import importlib.util

from seqkit.errors import SeqkitError

ENGINES = ("local", "dask")
EXTRA_MODULES = ("dask", "distributed", "fsspec")


def require_dask() -> None:
    """One clear line when the `dask` extra is missing (checked without importing it)."""
    missing = [name for name in EXTRA_MODULES if importlib.util.find_spec(name) is None]
    if missing:
        raise SeqkitError(f"--engine dask needs the dask extra ({', '.join(missing)} missing): "
                          "pip install 'seqkit[dask]'")
