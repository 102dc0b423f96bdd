"""The vocabulary, and the one way to read a corpus into a vocabulary and word ids.

`read_corpus` is what every trainer calls: files (or stdin) in, a `Vocabulary` and the corpus as word
ids (`seqkit.encoded`) out, through the compiled reader (`seqkit.reader`). Without `--max-vocab` the text
is read once: each token gets a provisional id in order of first appearance, written to a temporary file,
and once the counts are known the kept words are numbered and the file rewritten. With `--max-vocab` the
counting pass prunes the rarest words whenever more than twice that many are held (as word2vec.c does,
so memory stays bounded) and reports what it dropped; the ids then come from a second pass. Words are
ordered as word2vec.c orders them: count descending, ties in order of first appearance.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Sequence

import numpy as np

from seqkit.corpus import CorpusStats, materialize_stdin
from seqkit.encoded import DiskCorpus, IdFile, Sentences, iter_runs, offsets_from_lengths
from seqkit.errors import DataError, SeqkitError, display_path
from seqkit.textio import atomic_output, open_input

if TYPE_CHECKING:
    from seqkit.progress import Reporter
    from seqkit.reader import TokenTable

ORDERS = ("frequency", "first-seen")
# A vocabulary file line longer than this is certainly not `word count` (refuse before allocating).
_MAX_VOCAB_LINE = 1 << 20


@dataclass
class BuildStats:
    """What counting saw and what it dropped."""

    tokens: int = 0
    types: int = 0
    kept_types: int = 0
    kept_tokens: int = 0
    pruned_types: int = 0      # dropped during counting to respect --max-vocab
    pruned_tokens: int = 0
    prune_threshold: int = 0   # the largest count dropped while counting
    truncated_types: int = 0   # dropped after counting because more than --max-vocab remained

    def describe(self, min_count: int) -> str:
        # a type pruned while counting and seen again is counted again, so `types` is then an upper bound
        types = f"at most {self.types:,}" if self.pruned_types else f"{self.types:,}"
        text = f"{self.kept_types + self.truncated_types:,} of {types} word types occur >= {min_count} times"
        if self.truncated_types:
            text += f"; --max-vocab kept the {self.kept_types:,} most frequent"
        text += f" ({self.kept_tokens:,} of {self.tokens:,} tokens)"
        if self.pruned_types:
            text += (f"; --max-vocab dropped {self.pruned_types:,} rare entries ({self.pruned_tokens:,} tokens, "
                     f"counts <= {self.prune_threshold}) while counting")
        return text


class Vocabulary:
    """Words with counts; a word's id is its position."""

    def __init__(self, words: Sequence[str], counts: Sequence[int] | np.ndarray):
        self.words = list(words)
        self.counts = np.asarray(counts, dtype=np.int64)
        if len(self.words) != len(self.counts):
            raise ValueError("words and counts differ in length")
        self.index = {word: i for i, word in enumerate(self.words)}
        if len(self.index) != len(self.words):
            raise ValueError("duplicate words in vocabulary")

    def __len__(self) -> int:
        return len(self.words)

    def __contains__(self, word: str) -> bool:
        return word in self.index

    def id(self, word: str) -> int:
        """The word's id, or -1 when it is not in the vocabulary."""
        return self.index.get(word, -1)

    @property
    def total(self) -> int:
        return int(self.counts.sum())

    def save(self, path: str) -> None:
        """word2vec.c's `-save-vocab` format: `word count` per line, most frequent first."""
        with atomic_output(path) as out:
            out.writelines(f"{word} {count}\n" for word, count in zip(self.words, self.counts.tolist()))

    @classmethod
    def load(cls, path: str, *, errors: str = "strict") -> "Vocabulary":
        """Read `word count` lines (word2vec.c, seqkit); the word is everything before the last space."""
        words: list[str] = []
        counts: list[int] = []
        seen: set[str] = set()
        with open_input(path, binary=True) as handle:
            for line_no, raw in enumerate(handle, 1):
                if len(raw) > _MAX_VOCAB_LINE:
                    raise DataError("line too long for a `word count` vocabulary line", path, line_no)
                try:
                    line = raw.decode("utf-8", errors)
                except UnicodeDecodeError as exc:
                    raise DataError(f"invalid UTF-8 at byte {exc.start}", path, line_no) from None
                line = line.rstrip("\r\n")
                if line_no == 1 and line.startswith("\ufeff"):
                    line = line[1:]
                if not line.strip():
                    continue
                word, sep, count = line.rpartition(" ")
                if not sep or not word or not count.isdigit():
                    raise DataError(f"expected `word count`, found {line[:60]!r}", path, line_no)
                if word in seen:
                    raise DataError(f"word {word!r} appears twice", path, line_no)
                seen.add(word)
                words.append(word)
                counts.append(int(count))
        if not words:
            raise DataError("vocabulary file is empty", path)
        vocab = cls(words, counts)
        if np.any(np.diff(vocab.counts) > 0):
            order = np.argsort(-vocab.counts, kind="stable")
            vocab = cls([words[i] for i in order], vocab.counts[order])
        return vocab


def count_words(paths: Sequence[str], *, min_count: int = 1, max_vocab: int | None = None,
                specials: Sequence[str] = (), order: str = "frequency", errors: str = "strict",
                max_sentence_len: int = 10000, stats: CorpusStats | None = None,
                reporter: "Reporter | None" = None) -> tuple[Vocabulary, BuildStats]:
    """The corpus's vocabulary: `specials` first (always kept), then the words seen >= `min_count` times,
    at most `max_vocab` of them, most frequent first (`order="first-seen"`: in order of appearance)."""
    from seqkit.reader import TokenTable, id_blocks

    _check_order(order)
    table = TokenTable(max_sentence_len)
    n_specials = _seed_specials(table, specials)
    build = BuildStats()
    for ids, _ in id_blocks(paths, table, errors=errors, stats=stats):
        build.tokens += len(ids)
        if max_vocab is not None and len(table) - n_specials > 2 * max_vocab:
            _prune(table, n_specials, max_vocab, build)
    vocab, _ = _chosen(table, n_specials, min_count, max_vocab, order, build, paths)
    if reporter is not None and build.pruned_types:
        reporter.warn(f"--max-vocab {max_vocab:,}: pruned {build.pruned_types:,} rare word types "
                      f"({build.pruned_tokens:,} tokens, counts <= {build.prune_threshold}) while counting; "
                      "counts of words seen again later are underestimated")
    return vocab, build


def read_corpus(paths: Sequence[str], *, vocabulary: Vocabulary | None = None, min_count: int = 1,
                max_vocab: int | None = None, specials: Sequence[str] = (), order: str = "frequency",
                unknown: str | None = None, errors: str = "strict", max_sentence_len: int = 10000,
                stats: CorpusStats | None = None, reporter: "Reporter | None" = None,
                in_memory: bool = False, directory: str | None = None,
                ) -> tuple[Vocabulary, BuildStats | None, Sentences]:
    """The corpus as word ids, with its vocabulary (built as `count_words` builds it, or `vocabulary`).

    Tokens outside the vocabulary are dropped (as word2vec.c does; sentences left empty vanish) or, with
    `unknown` (a word of the vocabulary, e.g. `<unk>`), become that word. The ids go to an anonymous file
    in $TMPDIR or `directory` (memory does not grow with the corpus) or, with `in_memory`, to an array.
    `BuildStats` is None when the vocabulary was given. Stdin (`-`) is spooled to a file when it must be
    read twice (a given vocabulary is not; `max_vocab` is).
    """
    from seqkit.reader import TokenTable

    _check_order(order)
    if vocabulary is None and max_vocab is not None:
        paths = materialize_stdin(paths, reporter)
        vocabulary, build = count_words(paths, min_count=min_count, max_vocab=max_vocab, specials=specials,
                                        order=order, errors=errors, max_sentence_len=max_sentence_len,
                                        stats=CorpusStats(), reporter=reporter)
    else:
        build = None
    table = TokenTable(max_sentence_len)
    with IdFile(directory) as provisional:
        if vocabulary is not None:
            seeded = table.seed([word.encode("utf-8") for word in vocabulary.words])
            offsets = _encode_into(provisional, table, paths, errors, stats)
            final_id = np.full(len(table), -1, dtype=np.int32)
            final_id[seeded[seeded >= 0]] = np.flatnonzero(seeded >= 0)  # a word with whitespace never occurs
        else:
            n_specials = _seed_specials(table, specials)
            offsets = _encode_into(provisional, table, paths, errors, stats)
            build = BuildStats(tokens=int(offsets[-1]))
            vocabulary, table_ids = _chosen(table, n_specials, min_count, None, order, build, paths)
            final_id = np.full(len(table), -1, dtype=np.int32)
            final_id[table_ids] = np.arange(len(vocabulary), dtype=np.int32)
        del table
        if unknown is not None:
            if unknown not in vocabulary:
                raise ValueError(f"the unknown-word token {unknown!r} is not in the vocabulary")
            final_id[final_id < 0] = vocabulary.id(unknown)
        corpus = _renumbered(provisional, offsets, final_id, directory)
    return vocabulary, build, corpus.in_memory() if in_memory else corpus


def _check_order(order: str) -> None:
    if order not in ORDERS:
        raise ValueError(f"order must be one of {ORDERS}, not {order!r}")


def _seed_specials(table: "TokenTable", specials: Sequence[str]) -> int:
    """Number the special words 0, 1, ... before any text is read; their count."""
    ids = table.seed([word.encode("utf-8") for word in specials])
    if not np.array_equal(ids, np.arange(len(specials))):
        raise ValueError(f"special words must be distinct and free of whitespace: {list(specials)}")
    return len(specials)


def _prune(table: "TokenTable", n_specials: int, keep: int, build: BuildStats) -> None:
    """Keep the specials and the `keep` most frequent words (ties: first seen); tally what was dropped."""
    counts = table.counts[n_specials:]
    ranked = np.argsort(-counts, kind="stable")
    doomed = counts[ranked[keep:]]
    build.pruned_types += len(doomed)
    build.pruned_tokens += int(doomed.sum())
    build.prune_threshold = max(build.prune_threshold, int(doomed.max(initial=0)))
    kept = np.sort(ranked[:keep]) + n_specials
    table.prune(np.concatenate([np.arange(n_specials), kept]))


def _chosen(table: "TokenTable", n_specials: int, min_count: int, max_vocab: int | None, order: str,
            build: BuildStats, paths: Sequence[str] = ()) -> tuple[Vocabulary, np.ndarray]:
    """The vocabulary `table` has counted, as `count_words` describes it, and each word's id in `table`;
    fills in `build`."""
    counts = table.counts[n_specials:]
    build.types = len(counts) + build.pruned_types
    kept = np.flatnonzero(counts >= min_count)
    chosen = kept[np.argsort(-counts[kept], kind="stable")]
    if max_vocab is not None and len(chosen) > max_vocab:
        build.truncated_types = len(chosen) - max_vocab
        chosen = chosen[:max_vocab]
    if not chosen.size:
        if build.tokens == 0:
            named = ", ".join(display_path(str(p)) for p in paths)
            raise SeqkitError(f"the corpus is empty: no tokens found{' in ' + named if named else ''}")
        raise SeqkitError(f"0 of {build.types:,} word types occur >= {min_count} times; lower --min-count")
    if order == "first-seen":
        chosen = np.sort(chosen)
    build.kept_types, build.kept_tokens = len(chosen), int(counts[chosen].sum())
    ids = np.concatenate([np.arange(n_specials), chosen + n_specials])
    return Vocabulary([table.word(i).decode("utf-8") for i in ids.tolist()], table.counts[ids]), ids


def _encode_into(provisional: IO[bytes], table: "TokenTable", paths: Sequence[str], errors: str,
                 stats: CorpusStats | None) -> np.ndarray:
    """The files' provisional ids (numbered by `table`) written to `provisional`; their sentence offsets."""
    from seqkit.reader import id_blocks

    lengths = [np.zeros(0, dtype=np.int64)]
    for ids, finished in id_blocks(paths, table, errors=errors, stats=stats):
        provisional.write(ids.tobytes())
        lengths.append(finished)
    provisional.flush()
    return offsets_from_lengths(np.concatenate(lengths))


def _renumbered(provisional: IO[bytes], offsets: np.ndarray, final_id: np.ndarray,
                directory: str | None) -> DiskCorpus:
    """The provisional id file rewritten through `final_id` (-1: the token is dropped); sentences left
    empty vanish. Closes the provisional file."""
    final_lengths = [np.zeros(0, dtype=np.int64)]
    with IdFile(directory) as final:
        for ids, block_offsets in iter_runs(DiskCorpus(provisional, offsets)):
            mapped = final_id[ids]
            known = mapped >= 0
            final.write(mapped[known].tobytes())
            final_lengths.append(np.add.reduceat(known, block_offsets[:-1], dtype=np.int64))
        final.flush()
    provisional.close()
    lengths_kept = np.concatenate(final_lengths)
    return DiskCorpus(final, offsets_from_lengths(lengths_kept[lengths_kept > 0]))
