"""Transitional alias of seqkit._vector_text_writer (removed once every caller imports the new name)."""
from seqkit._vector_text_writer import format_rows, vector_lines  # noqa: F401
