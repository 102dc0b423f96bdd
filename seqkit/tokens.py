"""Transitional alias of `seqkit.reader` (removed once every caller imports the new name)."""
from seqkit.reader import TokenTable, id_blocks, load_kernels  # noqa: F401
