"""Transitional aliases for `seqkit.vocabulary`, `seqkit.encoded` and `seqkit.sampling` (removed once every
caller imports the new names)."""
from seqkit.encoded import DiskCorpus, EncodedCorpus, sentence_runs  # noqa: F401
from seqkit.memory import memory_estimate  # noqa: F401
from seqkit.sampling import HuffmanTree, alias_table, huffman_tree, keep_probabilities  # noqa: F401
from seqkit.vocabulary import BuildStats, Vocabulary  # noqa: F401
