"""seqkit: classic sequence models on text, from the command line."""

__version__ = "0.1.0"
