"""The unigram model: its file (`.npz` arrays + JSON metadata, never pickle) and its LanguageModel.

File entries: `magic` (the bytes MAGIC, what `sniff` looks for), `metadata` (UTF-8 JSON: format,
version, vocabulary, add_k, training figures) and `counts` (int64, one per vocabulary word). The
probabilities are recomputed on loading: p(w) = (count(w) + k) / (N + k V), N = sum of counts.
"""

from __future__ import annotations

import json
import zipfile
from typing import Sequence

import numpy as np

from seqkit.errors import DataError
from seqkit.lm import SentenceScore
from seqkit.textio import atomic_output

MAGIC = b"seqkit-unigram"
FORMAT, VERSION = "seqkit-unigram", 1
UNK, EOS = "<unk>", "</s>"
ZIP_MAGIC = b"PK\x03\x04"
MAX_WORDS = 1 << 28  # refuse a vocabulary claiming more before allocating anything


def save(path: str, vocab: Sequence[str], counts: np.ndarray, *, add_k: float, training: dict) -> None:
    """Write the model all-or-nothing: a failure leaves any previous file at `path` untouched."""
    meta = {"format": FORMAT, "version": VERSION, "vocab": list(vocab), "add_k": add_k, "training": training}
    arrays = {"magic": np.frombuffer(MAGIC, dtype=np.uint8),
              "metadata": np.frombuffer(json.dumps(meta).encode("utf-8"), dtype=np.uint8),
              "counts": np.asarray(counts, dtype=np.int64)}
    with atomic_output(path, binary=True) as out:
        np.savez(out, **arrays)


def sniff(path: str) -> bool:
    """True when `path` is a zip whose `magic` entry holds MAGIC; never raises (other formats are asked too)."""
    try:
        with open(path, "rb") as handle:
            if handle.read(4) != ZIP_MAGIC:  # cheap rejection before opening the archive
                return False
        with zipfile.ZipFile(path) as archive, archive.open("magic.npy") as member:
            return np.lib.format.read_array(member, allow_pickle=False).tobytes() == MAGIC
    except (OSError, KeyError, ValueError, zipfile.BadZipFile):
        return False


class UnigramModel:
    """Words and their smoothed log-probabilities; implements `seqkit.lm.LanguageModel`."""

    def __init__(self, vocab: Sequence[str], counts: np.ndarray, add_k: float):
        self.vocab = list(vocab)
        self.index = {word: i for i, word in enumerate(self.vocab)}
        self.vocab_size = len(self.vocab)
        self.unk, self.eos = self.index[UNK], self.index[EOS]
        counts = np.asarray(counts, dtype=np.float64)
        self.logprobs = np.log(counts + add_k) - np.log(counts.sum() + add_k * len(counts))

    @classmethod
    def load(cls, path: str) -> "UnigramModel":
        """Read and validate a model file; every problem is a DataError naming the file."""
        try:
            archive = np.load(path, allow_pickle=False)
        except (OSError, ValueError, zipfile.BadZipFile) as exc:
            raise DataError(f"not a readable unigram model ({exc})", path) from None
        with archive:
            missing = {"metadata", "counts"} - set(archive.files)
            if missing:
                raise DataError(f"damaged unigram model: no {', '.join(sorted(missing))} entry", path)
            try:
                meta = json.loads(archive["metadata"].tobytes().decode("utf-8"))
                vocab, add_k = meta["vocab"], float(meta["add_k"])
            except (ValueError, KeyError, TypeError) as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
                raise DataError(f"damaged unigram model: bad metadata ({type(exc).__name__}: {exc})", path) from None
            if meta.get("format") != FORMAT or meta.get("version") != VERSION:
                raise DataError(f"unsupported model: {meta.get('format')!r} version {meta.get('version')!r}", path)
            if not isinstance(vocab, list) or not 2 <= len(vocab) <= MAX_WORDS or not {UNK, EOS} <= set(vocab):
                raise DataError("damaged unigram model: the vocabulary must list <unk> and </s>", path)
            counts = archive["counts"]
            if counts.shape != (len(vocab),) or counts.dtype != np.int64 or (counts < 0).any() or add_k <= 0:
                raise DataError(f"damaged unigram model: counts {counts.dtype}{list(counts.shape)} do not "
                                f"match a vocabulary of {len(vocab)} words with add_k {add_k}", path)
        return cls(vocab, counts, add_k)

    def score_sentence(self, words: Sequence[str]) -> SentenceScore:
        """ln p of each word and of the final </s>; a word outside the vocabulary scores as <unk>."""
        ids = [self.index.get(word, self.unk) for word in words] + [self.eos]
        oov = [word not in self.index or word == UNK for word in words] + [False]
        return SentenceScore(self.logprobs[ids], np.array(oov, dtype=bool))

    def sample(self, rng: np.random.Generator, *, max_tokens: int, temperature: float,
               prefix: Sequence[str], top_k: int | None = None) -> list[str]:
        """Independent draws until </s> or `max_tokens` (a unigram model ignores the prefix)."""
        logits = self.logprobs / temperature
        if top_k is not None and top_k < len(logits):
            logits = np.where(logits >= np.partition(logits, -top_k)[-top_k], logits, -np.inf)
        p = np.exp(logits - logits.max())
        p /= p.sum()
        out: list[str] = []
        while len(out) < max_tokens:  # in batches: a huge --max-tokens must not allocate its size up front
            draws = rng.choice(len(p), size=min(max_tokens - len(out), 1024), p=p).tolist()
            if self.eos in draws:
                return out + [self.vocab[i] for i in draws[:draws.index(self.eos)]]
            out.extend(self.vocab[i] for i in draws)
        return out
