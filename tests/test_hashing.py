"""seqkit.hashing gives fastText's buckets: against a transcription of its C++ and values fastText printed."""

from __future__ import annotations

import numpy as np
import pytest

from reference.hashing import fasttext_hash, word_ngram_buckets
from seqkit.hashing import (char_ngram_buckets, char_ngrams, fnv1a, line_ngram_buckets, word_hash,
                            word_hashes)


@pytest.mark.parametrize("seed", range(4))
def test_fnv1a_equals_the_reference_on_random_bytes(seed):
    rng = np.random.default_rng(seed)
    for _ in range(200):
        data = rng.integers(0, 256, int(rng.integers(0, 20)), dtype=np.uint8)
        assert int(fnv1a(data, 0, len(data))) == fasttext_hash(data.tobytes())
    data = np.frombuffer(b"xx\xc3\xa9yy", dtype=np.uint8)
    assert int(fnv1a(data, 2, 4)) == fasttext_hash(b"\xc3\xa9")  # a slice hashes as its own bytes


def test_bytes_above_0x7f_are_sign_extended_as_fasttext_does():
    # plain FNV-1a would XOR 0xC3 and 0xA9; fastText XORs 0xFFFFFFC3 and 0xFFFFFFA9
    plain = 2166136261
    for byte in "é".encode():
        plain = ((plain ^ byte) * 16777619) & 0xFFFFFFFF
    assert word_hash("é") == fasttext_hash("é".encode()) != plain
    assert word_hash("abc") == fasttext_hash(b"abc")


def test_values_fasttext_gave():
    """fastText 0.9.2 (fasttext-wheel): word hashes, `get_subwords` with minn 2, maxn 5, bucket 997, and
    the n-gram rows whose mean is `get_sentence_vector` of a supervised model with wordNgrams 3, bucket 1009."""
    assert [word_hash(w) for w in ["the", "naïve", "</s>", "日本語"]] == [3020861980, 3440832043, 3617362777,
                                                                      308035559]
    assert char_ngram_buckets("naïve", 2, 5, 997).tolist() == [156, 753, 508, 156, 409, 650, 276, 598, 839,
                                                                474, 333, 404, 753, 77, 935, 947, 933, 839]
    assert char_ngram_buckets("日本語", 2, 5, 997).tolist() == [675, 113, 855, 592, 163, 445, 819, 576, 555, 815]
    assert char_ngram_buckets("a", 2, 5, 997).tolist() == [671, 158, 246]
    line = "naïve café über unknownword straße </s>".split()
    assert sorted(line_ngram_buckets(word_hashes(line), 3, 1009).tolist()) == sorted(
        [201, 364, 295, 418, 241, 383, 31, 139, 197])


@pytest.mark.parametrize("n", [1, 2, 3, 5])
def test_word_ngrams_in_fasttexts_order(n):
    words = "a rose is a rose is naïve 日本 </s>".split()
    assert line_ngram_buckets(word_hashes(words), n, 2_000_000).tolist() == word_ngram_buckets(words, n, 2_000_000)
    assert len(line_ngram_buckets(word_hashes(words), n, 7)) == sum(min(n - 1, len(words) - 1 - i)
                                                                    for i in range(len(words)))


def test_char_ngrams_count_characters_and_skip_the_bare_markers():
    assert char_ngrams("ab", 1, 2) == ["<a", "a", "ab", "b", "b>"]
    assert char_ngrams("é", 1, 3) == ["<é", "<é>", "é", "é>"]
    assert char_ngrams("word", 0, 0) == [] and char_ngrams("word", 3, 2) == []
    assert char_ngrams("cat", 3, 6) == ["<ca", "<cat", "<cat>", "cat", "cat>", "at>"]
