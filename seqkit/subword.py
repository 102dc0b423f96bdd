"""Subword vector models: a word's vector is the mean of its own row and its character n-gram rows.

The rule is fastText's `getWordVector`: the n-grams of `<word>` of minn..maxn characters (UTF-8
characters; a lone `<` or `>` left out) go to row `nwords + fnv1a(ngram) % buckets`; a vocabulary word
adds its own row, an unseen word has only its n-grams (no n-gram at all: a zero vector), and `</s>` has
no n-grams. The hashing here is pure Python (the same FNV-1a as `seqkit.hashing`, which needs numba), so
a query never compiles anything.

Files: fastText's `.bin` (`seqkit.fasttext_bin`) and seqkit's `.npz` (format "seqkit-subword": an
`input` array of (words + buckets) x dim float32, an optional `output` array, `counts`, and JSON `meta`
holding the vocabulary and the hashing settings; never pickle).
"""

from __future__ import annotations

import json
import os
import zipfile
from typing import Any, Protocol, Sequence, runtime_checkable

import numpy as np

from seqkit import fasttext_bin
from seqkit.errors import DataError
from seqkit.modelfile import HEADER_ERRORS, read_entry

FORMAT = "seqkit-subword"
VERSION = 1
EOS = "</s>"
_MASK32, _MASK64 = 0xFFFFFFFF, 0xFFFFFFFFFFFFFFFF
MAX_VALUES = 1 << 33  # refuse a stored matrix claiming more values than this before reading it


@runtime_checkable
class VectorModel(Protocol):
    """What `-m MODEL` needs: a vocabulary (most frequent first) and a vector for any word."""

    words: Sequence[str]
    dim: int

    def word_vector(self, word: str) -> np.ndarray:
        """float32[dim] for any word (zeros when the model has nothing for it)."""
        ...

    def vocab_vectors(self) -> np.ndarray:
        """float32[len(words), dim]: every vocabulary word's vector, in `words` order."""
        ...


def fnv1a(data: bytes) -> int:
    """fastText's `Dictionary::hash`: 32-bit FNV-1a over sign-extended bytes (as `seqkit.hashing.fnv1a`)."""
    h = 2166136261
    for byte in data:
        h = ((h ^ (byte | 0xFFFFFF00 if byte >= 0x80 else byte)) * 16777619) & _MASK32
    return h


def ngram_hashes(word: str, minn: int, maxn: int) -> list[int]:
    """The hashes of `<word>`'s character n-grams, in fastText's order (`computeSubwords`)."""
    if maxn < 1 or maxn < minn:
        return []
    text = b"<" + word.encode("utf-8", "surrogateescape") + b">"
    starts = [i for i, byte in enumerate(text) if byte & 0xC0 != 0x80] + [len(text)]
    chars = len(starts) - 1
    hashes = []
    for i in range(chars):
        h = 2166136261  # FNV-1a of the n-gram so far: each longer n-gram extends the shorter one's hash
        for n in range(1, min(maxn, chars - i) + 1):
            for byte in text[starts[i + n - 1]:starts[i + n]]:
                h = ((h ^ (byte | 0xFFFFFF00 if byte >= 0x80 else byte)) * 16777619) & _MASK32
            if n < minn or (n == 1 and (i == 0 or i + 1 == chars)):
                continue  # too short, or the bare `<` and `>`, which carry nothing
            hashes.append(h)
    return hashes


def word_ngram_buckets(hashes: Sequence[int], n: int, buckets: int) -> list[int]:
    """fastText's `addWordNgrams` over 32-bit word hashes (each sign-extended, combined in 64 bits)."""
    signed = [h - (1 << 32) if h >= 1 << 31 else h for h in hashes]
    out = []
    for i in range(len(signed)):
        h = signed[i] & _MASK64
        for j in range(i + 1, min(len(signed), i + n)):
            h = (h * 116049371 + (signed[j] & _MASK64)) & _MASK64
            out.append(h % buckets)
    return out


class SubwordModel:
    """Rows of words then n-gram buckets, looked up as fastText does (see the module's docstring)."""

    def __init__(self, words: Sequence[str], input_matrix: np.ndarray, *, minn: int, maxn: int, buckets: int,
                 counts: np.ndarray | None = None, output_matrix: np.ndarray | None = None,
                 pruneidx: dict[int, int] | None = None, source: Any = None, settings: dict | None = None):
        self.words = list(words)
        self.settings = dict(settings or {})  # how it was trained (model, loss, window, ...), kept across formats
        self.nwords = len(self.words)
        self.input_matrix = input_matrix
        self.output_matrix = output_matrix
        self.minn, self.maxn, self.buckets = minn, maxn, buckets
        self.counts = counts
        self.pruneidx = pruneidx
        self.source = source  # the FastTextModel read, when there is one (for its labels and settings)
        self.index: dict[str, int] = {}
        for i, word in enumerate(self.words):
            self.index.setdefault(word, i)
        if input_matrix.ndim != 2 or input_matrix.shape[0] != self.nwords + (
                len(pruneidx) if pruneidx is not None else buckets):
            raise ValueError(f"input matrix {input_matrix.shape} does not fit {self.nwords} words + {buckets} buckets")

    @property
    def dim(self) -> int:
        return self.input_matrix.shape[1]

    def bucket_row(self, bucket: int) -> int | None:
        """The input row of an n-gram bucket (None when a pruned model dropped it)."""
        if self.pruneidx is None:
            return self.nwords + bucket
        row = self.pruneidx.get(bucket)
        return None if row is None else self.nwords + row

    def ngram_rows(self, word: str) -> list[int]:
        if word == EOS or self.buckets == 0:
            return []
        rows = (self.bucket_row(h % self.buckets) for h in ngram_hashes(word, self.minn, self.maxn))
        return [row for row in rows if row is not None]

    def rows(self, word: str) -> list[int]:
        """fastText's `getSubwords(word)`: its own row when it is in the vocabulary, then its n-gram rows."""
        own = self.index.get(word)
        return ([] if own is None else [own]) + self.ngram_rows(word)

    def knows(self, word: str) -> bool:
        """Whether `word` gets a non-trivial vector (in the vocabulary, or has n-grams)."""
        return word in self.index or bool(self.ngram_rows(word))

    def word_vector(self, word: str) -> np.ndarray:
        rows = self.rows(word)
        if not rows:
            return np.zeros(self.dim, dtype=np.float32)
        total = self.input_matrix[rows].sum(axis=0, dtype=np.float64)
        return (total / len(rows)).astype(np.float32)

    def vocab_vectors(self) -> np.ndarray:
        out = np.empty((self.nwords, self.dim), dtype=np.float32)
        for i, word in enumerate(self.words):
            out[i] = self.word_vector(word)
        return out

    @classmethod
    def from_fasttext(cls, model: fasttext_bin.FastTextModel) -> "SubwordModel":
        a = model.args
        words = model.words[:model.nwords]
        settings = {"model": a.model, "loss": a.loss, "window": a.ws, "negative": a.neg, "epochs": a.epoch,
                    "sample": a.t, "min_count": a.min_count, "output": "noise" if a.loss == "ns" else "tree nodes"}
        return cls(words, model.input_matrix, minn=a.minn, maxn=a.maxn, buckets=a.bucket, settings=settings,
                   counts=model.counts[:model.nwords], output_matrix=model.output_matrix,
                   pruneidx=model.pruneidx, source=model)

    # --- seqkit's .npz ---------------------------------------------------------------------------

    def save(self, out, settings: dict | None = None) -> None:
        """Write the `.npz` form to an open binary file (`seqkit.textio.atomic_output` gives one)."""
        meta = {"format": FORMAT, "version": VERSION, "minn": self.minn, "maxn": self.maxn,
                "buckets": self.buckets, "dim": self.dim, "words": self.words, "settings": settings or {}}
        arrays = {"input": np.ascontiguousarray(self.input_matrix, dtype=np.float32),
                  "counts": np.asarray(self.counts if self.counts is not None else np.zeros(self.nwords), np.int64),
                  "meta": np.frombuffer(json.dumps(meta).encode("utf-8"), dtype=np.uint8)}
        if self.output_matrix is not None:
            arrays["output"] = np.ascontiguousarray(self.output_matrix, dtype=np.float32)
        np.savez(out, **arrays)

    @classmethod
    def load_npz(cls, path: str) -> "SubwordModel":
        meta = _npz_meta(path)
        if meta is None or meta.get("format") != FORMAT:
            raise DataError("not a seqkit subword model (no metadata naming format 'seqkit-subword')", path)
        if meta.get("version") != VERSION:
            raise DataError(f"subword model version {meta.get('version')}; this seqkit reads {VERSION}", path)
        try:
            words, minn, maxn, buckets, dim = (meta["words"], int(meta["minn"]), int(meta["maxn"]),
                                               int(meta["buckets"]), int(meta["dim"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise DataError(f"bad metadata: {exc!r}", path) from None
        if not isinstance(words, list) or not all(isinstance(w, str) for w in words):
            raise DataError("bad metadata: the word list must be a list of strings", path)
        if min(minn, maxn, buckets) < 0 or dim < 1:
            raise DataError(f"bad metadata: minn {minn}, maxn {maxn}, buckets {buckets}, dim {dim}", path)
        shapes = {"input": (len(words) + buckets, dim), "output": (len(words), dim), "counts": (len(words),)}
        arrays = {}
        with zipfile.ZipFile(path) as archive:
            names = {name.removesuffix(".npy") for name in archive.namelist()}
            for name, shape in shapes.items():
                if name not in names:
                    if name == "output":
                        continue
                    raise DataError(f"the {name} array is missing", path)
                arrays[name] = _read_member(archive, name, shape, path)
        settings = meta.get("settings")
        return cls(words, arrays["input"], minn=minn, maxn=maxn, buckets=buckets, counts=arrays["counts"],
                   output_matrix=arrays.get("output"), settings=settings if isinstance(settings, dict) else None)


def _npz_meta(path: str) -> dict | None:
    """The JSON metadata of an `.npz`, or None when the file is not one or has none."""
    try:
        with zipfile.ZipFile(path) as archive, archive.open("meta.npy") as member:
            meta = json.loads(np.lib.format.read_array(member, allow_pickle=False).tobytes().decode("utf-8"))
    except (OSError, KeyError, ValueError, zipfile.BadZipFile, UnicodeDecodeError, *HEADER_ERRORS):
        return None
    return meta if isinstance(meta, dict) else None


def _read_member(archive: zipfile.ZipFile, name: str, shape: tuple, path: str) -> np.ndarray:
    """One array of the archive, its header checked against `shape` before its data is read."""
    if int(np.prod(shape, dtype=np.float64)) > MAX_VALUES:
        raise DataError(f"entry {name} claims shape {list(shape)}, more than seqkit will read", path)
    array = read_entry(archive, name, path, shape)
    return array.astype(np.float32 if name != "counts" else np.int64, copy=False)


# --- formats and loading ---------------------------------------------------------------------------

class _FastTextBin:
    name = "fasttext-bin"

    @staticmethod
    def sniff(path: str) -> bool:
        return fasttext_bin.sniff(path)

    @staticmethod
    def load(path: str) -> SubwordModel:
        return SubwordModel.from_fasttext(fasttext_bin.read(path))


class _SeqkitNpz:
    name = FORMAT

    @staticmethod
    def sniff(path: str) -> bool:
        meta = _npz_meta(path)
        return meta is not None and meta.get("format") == FORMAT

    @staticmethod
    def load(path: str) -> SubwordModel:
        return SubwordModel.load_npz(path)


BUILTIN_FORMATS = (_FastTextBin(), _SeqkitNpz())


def load_vector_model(path: str) -> VectorModel:
    """Load `path` with the first format (built in, then registered by plugins) whose `sniff` accepts it."""
    from seqkit.plugins import load_model

    return load_model("vector_models", path, builtin=BUILTIN_FORMATS)


# --- queries over a model ----------------------------------------------------------------------------

def model_embeddings(path: str):
    """The vector commands' table for `-m MODEL`: its vocabulary's vectors, and a vector for any other word."""
    from seqkit.vectors import Embeddings, _cosmul, _unit_vector

    class SubwordEmbeddings(Embeddings):
        """Neighbours and analogies among the vocabulary; query words may be unseen (built from n-grams)."""

        def __init__(self, model: VectorModel):
            self.model, self._matrix = model, None
            self._words, self._table, self._index = [_printable(w) for w in model.words], None, None
            self._norms = self._safe_norms = self._unit = None
            self.duplicates = 0

        @property
        def matrix(self) -> np.ndarray:
            if self._matrix is None:  # computed on first need: print-vectors never needs it
                self._matrix = np.ascontiguousarray(self.model.vocab_vectors(), dtype=np.float32)
            return self._matrix

        def __len__(self) -> int:
            return len(self._words)

        @property
        def dim(self) -> int:
            return self.model.dim

        def __contains__(self, word: str) -> bool:
            knows = getattr(self.model, "knows", None)
            return self.row(word) is not None or (knows(word) if knows else True)

        def vector(self, word: str) -> np.ndarray:
            return np.asarray(self.model.word_vector(word), dtype=np.float32)

        def nearest(self, word_or_vector, k: int = 10, *, restrict: int | None = None, exclude=()):
            if isinstance(word_or_vector, str) and self.row(word_or_vector) is None:
                word_or_vector = self.vector(word_or_vector)
            return super().nearest(word_or_vector, k, restrict=restrict, exclude=exclude)

        def analogy(self, positive, negative=(), k: int = 10, *, method: str = "add", restrict: int | None = None):
            pos = [_unit_vector(self.vector(w)) for w in positive]
            neg = [_unit_vector(self.vector(w)) for w in negative]
            if method == "add":
                query = (np.sum(pos, axis=0) - np.sum(neg, axis=0)) / max(len(pos) + len(neg), 1)
                scores = self._cosines(_unit_vector(query.astype(np.float32)), restrict)
            elif method == "mul":
                scores = _cosmul(len(self.matrix[:restrict]), [self._cosines(p, restrict) for p in pos],
                                 [self._cosines(q, restrict) for q in neg])
            else:
                raise ValueError(f"method must be 'add' or 'mul', not {method!r}")
            rows = [self.row(w) for w in [*positive, *negative]]
            return self._top(scores, k, [r for r in rows if r is not None])

    return SubwordEmbeddings(load_vector_model(path))


def _printable(word: str) -> str:
    """`word` as valid UTF-8 text: fastText stores raw bytes, and a byte that is not UTF-8 (kept as a
    surrogate for hashing) becomes U+FFFD, so that every output stays UTF-8."""
    try:
        word.encode("utf-8")
        return word
    except UnicodeEncodeError:
        return word.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def is_model(path: str) -> bool:
    """Whether a built-in subword-model format claims `path` (a regular file only)."""
    return os.path.isfile(path) and any(fmt.sniff(path) for fmt in BUILTIN_FORMATS)


def save_model(model: SubwordModel, path: str, fmt: str) -> None:
    """Write `model` atomically as fastText's `.bin` (`fmt='fasttext-bin'`) or seqkit's `.npz` ('subword')."""
    from seqkit.textio import atomic_output

    if model.pruneidx is not None:
        raise DataError("a pruned fastText model cannot be converted (its n-gram rows are a subset)", path)
    output = model.output_matrix if model.output_matrix is not None else np.zeros((model.nwords, model.dim),
                                                                                  np.float32)
    counts = model.counts if model.counts is not None else np.zeros(model.nwords, np.int64)
    if fmt == "subword" and model.source is not None and model.source.supervised:
        raise DataError("the model is a supervised fastText model: its labels do not fit seqkit's subword .npz "
                        "(predict and test read the .bin itself; its word vectors convert to a vector file)")
    with atomic_output(path, binary=True) as out:
        if fmt == "subword":
            model.save(out, model.settings)
            return
        source = model.source
        if source is not None:
            fasttext_bin.write(out, source)
            return
        args = fasttext_args(model.settings, dim=model.dim, buckets=model.buckets, minn=model.minn, maxn=model.maxn)
        fasttext_bin.write(out, fasttext_bin.unsupervised(model.words, counts, model.input_matrix, output, args))


def fasttext_args(known: dict, *, dim: int, buckets: int, minn: int, maxn: int) -> fasttext_bin.FastTextArgs:
    """The `.bin` header of a model trained by seqkit from its training settings (the `.npz`'s `settings`:
    model, output, window, negative, epochs, sample, min_count), fastText's defaults where one is unknown.
    fastText stores one loss: with ns+hs the output rows are the noise ones, so it is `ns`."""
    defaults = fasttext_bin.FastTextArgs()

    def setting(key: str, kind: type, default):
        value = known.get(key)
        return kind(value) if isinstance(value, (int, float, str)) and not isinstance(value, bool) else default

    model_name = setting("model", str, defaults.model)
    return fasttext_bin.FastTextArgs(
        dim=dim, bucket=buckets, minn=minn, maxn=maxn,
        model=model_name if model_name in ("sg", "cbow") else defaults.model,
        loss="hs" if known.get("output") == "tree nodes" else "ns",
        ws=setting("window", int, defaults.ws), epoch=setting("epochs", int, defaults.epoch),
        min_count=setting("min_count", int, defaults.min_count), neg=setting("negative", int, 0) or defaults.neg,
        t=setting("sample", float, defaults.t))
