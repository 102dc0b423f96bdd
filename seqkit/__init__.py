"""seqkit: classic sequence models on text, from the command line."""

import os

__version__ = "0.1.0"

# Compiled kernels are cached in the user's cache directory, not beside the installed sources: a cache
# left in site-packages outlives `pip uninstall` and then hides a later (editable) install of seqkit.
os.environ.setdefault("NUMBA_CACHE_DIR", os.path.join(os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"),
                                                      "seqkit", "numba"))
