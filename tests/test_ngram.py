"""n-gram models: smoothing against a brute-force reference, normalisation, ARPA I/O, perplexity CLI."""

from __future__ import annotations

import json
import math
from collections import Counter, defaultdict

import numpy as np
import pytest

from conftest import require_data
from seqkit.errors import DataError

TOY = """the cat sat on the mat
the dog sat on the log
a cat saw a dog
the cat ate
a dog ate the cat food
the mat was on the floor
a log fell on the dog
the cat sat
on the mat the cat sat
dog food is not cat food
the cat
a dog sat on a mat
"""


def build(text: str, order: int, smoothing: str = "mkn", fallback=None, prune=None):
    from reference.ngram import encode_text
    from seqkit_ngram.counts import count_ngrams
    from seqkit_ngram.estimate import estimate

    vocab = ["<unk>", "<s>", "</s>"]
    ids, lengths = encode_text([line.encode().split() for line in text.splitlines() if line.split()], vocab)
    return estimate(count_ngrams(ids, lengths, order, vocab), smoothing, fallback=fallback, prune=prune)


def as_table(model) -> dict[tuple[str, ...], tuple[float, float]]:
    table = {}
    for words, lp, bo in zip(model.words, model.logprob, model.backoff):
        for row, p, b in zip(words.tolist(), lp.tolist(), bo.tolist()):
            table[tuple(model.vocab[w] for w in row)] = (p, b)
    return table


def raw_counts(text: str, order: int) -> list[Counter]:
    """Occurrences of every n-gram (n <= order) as lmplz counts them: n-grams ending at a token, cut at <s>."""
    raw = [Counter() for _ in range(order)]
    for line in text.splitlines():
        tokens = line.split() + ["</s>"]
        if len(tokens) == 1:
            continue
        for j in range(len(tokens)):
            for n in range(1, min(order, j + 2) + 1):
                gram = tuple(tokens[j - n + 1:j + 1]) if n <= j + 1 else ("<s>", *tokens[:j + 1])
                raw[n - 1][gram] += 1
    return raw


def pruned_set(text: str, order: int, prune) -> set:
    """lmplz --prune from the definition: drop n-grams (n >= 2) seen at most T_n times, but keep every
    prefix and suffix of a kept n-gram."""
    raw = raw_counts(text, order)
    keep = [set(raw[0])] + [{g for g, c in raw[n].items() if c > prune[n]} for n in range(1, order)]
    for n in range(order - 1, 0, -1):
        for gram in keep[n]:
            keep[n - 1].update([gram[:-1], gram[1:]])
    return {g for n in range(1, order) for g in raw[n] if g not in keep[n]}


def reference_mkn(text: str, order: int, fallback=(0.5, 1.0, 1.5), prune=None):
    """lmplz's modified Kneser-Ney written directly from the definitions, with dictionaries. With
    `prune`, discounts still come from all n-grams and a pruned n-gram's whole count goes to its
    context's interpolation weight (lmplz's initial_probabilities)."""
    dropped = pruned_set(text, order, prune) if prune else set()
    sentences = [line.split() for line in text.splitlines() if line.split()]
    counts = [Counter() for _ in range(order)]
    for words in sentences:
        padded = ["<s>"] * (order - 1) + words + ["</s>"]
        for i in range(order - 1, len(padded)):
            gram = tuple(padded[i - order + 1:i + 1])
            while len(gram) > 1 and gram[1] == "<s>":  # collapse <s> <s> ... to one <s>
                gram = gram[1:]
            counts[len(gram) - 1][gram] += 1  # raw count at its natural order
    adjusted = [Counter() for _ in range(order)]
    adjusted[order - 1] = Counter(counts[order - 1])
    for n in range(order - 1, 0, -1):
        for gram in adjusted[n]:
            adjusted[n - 1][gram[1:]] += 1  # continuation count: distinct left extensions
        for gram, c in counts[n - 1].items():
            if gram[0] == "<s>":
                adjusted[n - 1][gram] = c  # nothing precedes <s>: raw count
    for w in ("<unk>", "<s>", "</s>"):
        adjusted[0].setdefault((w,), 0)
    vocab_size = len(adjusted[0]) - 1
    probs: list[dict] = []
    gammas: list[dict] = []
    for n in range(1, order + 1):
        a = adjusted[n - 1]
        t = [sum(1 for c in a.values() if c == k) for k in (1, 2, 3, 4)]
        try:
            y = t[0] / (t[0] + 2 * t[1])
            d = [1 - 2 * y * t[1] / t[0], 2 - 3 * y * t[2] / t[1], 3 - 4 * y * t[3] / t[2]]
            assert all(0 <= dk <= k + 1 for k, dk in enumerate(d))
        except (ZeroDivisionError, AssertionError):
            d = list(fallback)
        disc = lambda c: 0.0 if c == 0 else d[min(c, 3) - 1]  # noqa: E731
        denom, mass = defaultdict(float), defaultdict(float)
        for gram, c in a.items():
            denom[gram[:-1]] += c
            mass[gram[:-1]] += c if gram in dropped else disc(c)
        p = {}
        for gram, c in a.items():
            ctx = gram[:-1]
            lower = 1.0 / vocab_size if n == 1 else probs[-1][gram[1:]]
            p[gram] = (c - disc(c)) / denom[ctx] + mass[ctx] / denom[ctx] * lower
        probs.append(p)
        gammas.append({ctx: mass[ctx] / denom[ctx] for ctx in denom})
    table = {}
    for n in range(1, order + 1):
        for gram, p in probs[n - 1].items():
            if gram in dropped:
                continue
            bo = gammas[n].get(gram) if n < order else None
            table[gram] = (-99.0 if gram == ("<s>",) else math.log10(p), math.log10(bo) if bo else 0.0)
    return table


@pytest.mark.parametrize("order", [1, 2, 3, 4])
def test_modified_kneser_ney_equals_brute_force(order):
    ours = as_table(build(TOY, order, fallback=(0.5, 1.0, 1.5)))
    ref = reference_mkn(TOY, order)
    assert ours.keys() == ref.keys()
    for gram, (p, b) in ref.items():
        assert ours[gram][0] == pytest.approx(p, abs=1e-9), gram
        assert ours[gram][1] == pytest.approx(b, abs=1e-9), gram


def model_from(text, order, smoothing, tmp_path, fallback=(0.5, 1.0, 1.5), prune=None):
    from seqkit_ngram.arpa import read_arpa, write_arpa
    from seqkit_ngram.model import NgramModel

    path = tmp_path / f"m-{smoothing}-{order}.arpa"
    write_arpa(build(text, order, smoothing, fallback=fallback, prune=prune), str(path))
    return NgramModel(read_arpa(str(path)))


@pytest.mark.parametrize("order,prune", [(2, [0, 1]), (3, [0, 0, 1]), (3, [0, 1, 1]), (4, [0, 1, 2, 2])])
def test_pruned_modified_kneser_ney_equals_brute_force(order, prune):
    ours = as_table(build(TOY, order, fallback=(0.5, 1.0, 1.5), prune=prune))
    ref = reference_mkn(TOY, order, prune=prune)
    assert ours.keys() == ref.keys()
    for gram, (p, b) in ref.items():
        assert ours[gram][0] == pytest.approx(p, abs=1e-9), gram
        assert ours[gram][1] == pytest.approx(b, abs=1e-9), gram


def test_pruned_ngrams_are_absent_and_their_contexts_kept():
    prune = [0, 1, 1]
    dropped = pruned_set(TOY, 3, prune)
    raw = raw_counts(TOY, 3)
    kept = set(as_table(build(TOY, 3, fallback=(0.5, 1.0, 1.5), prune=prune)))
    full = set(as_table(build(TOY, 3, fallback=(0.5, 1.0, 1.5))))
    assert dropped and kept == full - dropped
    assert all(raw[len(g) - 1][g] <= 1 for g in dropped)
    rescued = {g for g in kept if len(g) > 1 and raw[len(g) - 1][g] <= 1}  # singletons kept as contexts
    assert all(any(h[:-1] == g or h[1:] == g for h in kept if len(h) == len(g) + 1) for g in rescued)
    assert all(g[:-1] in kept and g[1:] in kept for g in kept if len(g) > 1)


@pytest.mark.parametrize("smoothing", ["mkn", "kn", "wb", "addk"])
@pytest.mark.parametrize("order,prune", [(2, None), (3, None), (2, [0, 1]), (3, [0, 1, 1])])
def test_every_smoothing_sums_to_one_for_every_seen_context(smoothing, order, prune, tmp_path):
    model = model_from(TOY, order, smoothing, tmp_path, prune=prune)
    words = [w for w in model.vocab if w != "<s>"]
    contexts = {()}
    for line in TOY.splitlines():
        tokens = ["<s>"] + line.split()
        for i in range(1, len(tokens)):
            contexts.add(tuple(tokens[max(0, i - order + 1):i]))
    for ctx in contexts:
        rows = np.array([[model.index[w] for w in (*ctx, word)] for word in words])
        if ctx and ctx[0] == "<s>":
            logp = model._score_rows(rows)
        else:
            stream = np.concatenate([np.full((len(rows), 1), model.bos), rows], axis=1)
            logp = model._score_rows(stream) if not ctx else _score_mid(model, ctx, words)
        total = float(np.sum(10.0 ** logp))
        assert total == pytest.approx(1.0, abs=2e-5), (smoothing, ctx)


def _score_mid(model, ctx, words):
    """Scores of each word after a context that does not start at <s> (score_ids with a long history)."""
    out = []
    for word in words:
        stream = np.array([model.bos] + [model.index[w] for w in ctx] + [model.index[word]])
        logp = model.score_ids(stream)
        # drop what <s> contributes by scoring without the sentence start: pad the context on the left
        out.append(logp[-1])
    return np.array(out)


def test_discounts_need_data_and_fallback_is_offered(tmp_path, cli_run):
    corpus = tmp_path / "tiny.txt"
    corpus.write_text("a b c\n")
    out = tmp_path / "m.arpa"
    result = cli_run("ngram", corpus, "-o", out, "--order", "2")
    assert result.exit_code == 1 and "--discount-fallback" in result.stderr and not out.exists()
    result = cli_run("ngram", corpus, "-o", out, "--order", "2", "--discount-fallback")
    assert result.exit_code == 0 and "fallback 0.5 1.0 1.5" in result.stderr
    assert out.read_text().startswith("\\data\\\nngram 1=6\nngram 2=4")


def test_arpa_round_trip_and_gzip(tmp_path, cli_run):
    corpus = tmp_path / "toy.txt"
    corpus.write_text(TOY)
    out = tmp_path / "m.arpa.gz"
    assert cli_run("ngram", corpus, "-o", out, "--order", "3", "--discount-fallback", "-q").exit_code == 0
    from seqkit_ngram.arpa import read_arpa, write_arpa
    from seqkit_ngram.estimate import Model

    data = read_arpa(str(out))
    again = tmp_path / "again.arpa"
    write_arpa(Model(data.vocab, data.words, data.logprob, data.backoff, [], []), str(again))
    import gzip

    assert gzip.open(out, "rt").read() == again.read_text()
    assert data.order == 3 and "<unk>" in data.vocab


ARPA = """\\data\\
ngram 1=4
ngram 2=2

\\1-grams:
-1.0\t<unk>
-99\t<s>\t-0.3
-0.5\t</s>
-0.7\ta\t-0.2

\\2-grams:
-0.1\t<s> a
-0.2\ta </s>

\\end\\
"""


@pytest.mark.parametrize("mutate,message,line", [
    (lambda t: t.replace("\\data\\", "data"), "not \\data\\", 1),
    (lambda t: t.replace("ngram 2=2", "ngram 3=2"), "consecutive", 3),
    (lambda t: t.replace("ngram 2=2", "ngram 2=3"), "has 2", 14),
    (lambda t: t.replace("ngram 2=2", "ngram 2=1"), "more 2-grams than", 13),
    (lambda t: t.replace("-0.7\ta", "0.7\ta"), "positive", 9),
    (lambda t: t.replace("-0.2\n\n", "nan\n\n"), "back-off nan is not a finite number", 9),
    (lambda t: t.replace("-0.2\n\n", "inf\n\n"), "back-off inf is not a finite number", 9),  # KenLM: Bad backoff
    (lambda t: t + "trailing\n", "after \\end\\", 16),
    (lambda t: t.replace("\\end\\\n", ""), "expected \\end\\", 16),
    (lambda t: t.replace("-0.1\t<s> a", "-0.1\t<s> zz"), "missing from the unigrams", 12),
    (lambda t: t.replace("ngram 1=4", "ngram 1=5").replace("-0.7\ta\t-0.2\n", "-0.7\ta\t-0.2\n-0.6\ta\n"),
     "the unigram 'a' is listed twice", 10),
    (lambda t: t.replace("ngram 2=2", "ngram 2=3").replace("-0.2\ta </s>\n", "-0.2\ta </s>\n-0.3\ta </s>\n"),
     "the 2-gram 'a </s>' is listed twice", 14),
])
def test_arpa_corruption_is_named_by_line(tmp_path, cli_run, mutate, message, line):
    """Each damage is one error naming the file and line, whether the file is read, loaded for queries
    (which builds its tables: where a repeated n-gram is found) or verified."""
    from seqkit_ngram.arpa import read_arpa
    from seqkit_ngram.model import NgramModel

    path = tmp_path / "bad.arpa"
    path.write_text(mutate(ARPA))
    with pytest.raises(DataError) as info:
        NgramModel(read_arpa(str(path)))
    text = info.value.format_message()
    assert message in text and f"bad.arpa:{line}:" in text, text
    verified = cli_run("ngram-convert", "--verify", path)
    assert verified.exit_code == 1 and f"bad.arpa:{line}: " in verified.stderr and message in verified.stderr



def test_an_arpa_file_with_a_byte_order_mark_reads_as_without(tmp_path, cli_run):
    plain, marked = tmp_path / "plain.arpa", tmp_path / "marked.txt"  # recognised by content, not by name
    plain.write_text(ARPA)
    marked.write_bytes(b"\xef\xbb\xbf" + ARPA.encode())
    scores = [cli_run("perplexity", "-m", path, "-", "--per-word", input="a a\n").stdout for path in (plain, marked)]
    assert scores[0] == scores[1] and scores[0].count("\n") == 4

def test_binary_file_is_recognised(tmp_path):
    from seqkit_ngram.arpa import read_arpa

    path = tmp_path / "lm.bin"
    path.write_bytes(b"mmap lm http://kheafield.com/code format version 5\x00\x00")
    with pytest.raises(DataError, match="binary"):
        read_arpa(str(path))


def test_scores_match_hand_computed_backoff(tmp_path):
    from seqkit_ngram.arpa import read_arpa
    from seqkit_ngram.model import NgramModel

    path = tmp_path / "m.arpa"
    path.write_text(ARPA)
    model = NgramModel(read_arpa(str(path)))
    s = model.score_sentence(["a", "b"])  # b is OOV -> <unk>
    ln10 = math.log(10)
    # a|<s> = -0.1 ; <unk>|a = bo(a) + p(<unk>) = -0.2 - 1.0 ; </s>|<unk> = p(</s>) = -0.5
    np.testing.assert_allclose(s.logprobs / ln10, [-0.1, -1.2, -0.5])
    assert s.oov.tolist() == [False, True, False]


# --- the commands ------------------------------------------------------------------------------

@pytest.mark.parametrize("value,message", [
    ("1", "unigrams cannot be pruned"), ("0 2 1", "non-decreasing"), ("0,x", "not a count threshold"),
    ("0 0 0 0", "order 3"), ("", "not a count threshold"), ("0 -1", "not a count threshold"),
    ("0 \u00b2", "not a count threshold"),
])
def test_bad_prune_values_are_usage_errors(tmp_path, cli_run, value, message):
    corpus = tmp_path / "toy.txt"
    corpus.write_text(TOY)
    out = tmp_path / "m.arpa"
    result = cli_run("ngram", corpus, "-o", out, "--order", "3", "--prune", value)
    assert result.exit_code == 2 and message in result.stderr and "--prune" in result.stderr, result.stderr
    assert not out.exists()


def test_prune_on_the_command_line_drops_rare_ngrams(tmp_path, cli_run):
    from seqkit_ngram.arpa import read_arpa

    corpus = tmp_path / "toy.txt"
    corpus.write_text(TOY)
    full, pruned = tmp_path / "full.arpa", tmp_path / "pruned.arpa"
    assert cli_run("ngram", corpus, "-o", full, "--order", "3", "--discount-fallback", "-q").exit_code == 0
    result = cli_run("ngram", corpus, "-o", pruned, "--order", "3", "--discount-fallback", "--prune", "0,1")
    assert result.exit_code == 0 and "pruned 0 1 1" in result.stderr
    a, b = read_arpa(str(full)), read_arpa(str(pruned))
    assert len(b.words[0]) == len(a.words[0]) and len(b.words[1]) < len(a.words[1]) and len(b.words[2]) < len(a.words[2])


def sample_lines(count: int) -> str:
    import lzma

    from seqkit.options import DATA_DIR

    with lzma.open(DATA_DIR / "sample.txt.xz", "rt", encoding="utf-8") as handle:
        return "".join(line for _, line in zip(range(count), handle))


@pytest.mark.parametrize("order,extra", [(3, []), (4, ["--prune", "0 1"]), (1, [])])
def test_counting_in_spilled_chunks_gives_the_same_arpa(tmp_path, cli_run, order, extra):
    corpus = tmp_path / "sample.txt"
    corpus.write_text(sample_lines(1500))
    temp = tmp_path / "temp"
    temp.mkdir()
    whole, chunked = tmp_path / "whole.arpa", tmp_path / "chunked.arpa"
    assert cli_run("ngram", corpus, "-o", whole, "--order", str(order), "-q", *extra).exit_code == 0
    result = cli_run("ngram", corpus, "-o", chunked, "--order", str(order), "--memory", "200K", "-T", temp, *extra)
    assert result.exit_code == 0, result.stderr
    assert "merged" in result.stderr and "sorted runs from disk" in result.stderr
    assert chunked.read_bytes() == whole.read_bytes()
    assert list(temp.iterdir()) == []  # the spilled runs are gone


def test_spilled_runs_are_removed_when_counting_fails(tmp_path, cli_run):
    corpus = tmp_path / "sample.txt"
    corpus.write_bytes(sample_lines(1500).encode() + b"bad \xff byte\n")
    temp = tmp_path / "temp"
    temp.mkdir()
    result = cli_run("ngram", corpus, "-o", tmp_path / "m.arpa", "--memory", "100K", "-T", temp)
    assert result.exit_code == 1 and "invalid UTF-8" in result.stderr and "sample.txt:1501:" in result.stderr
    assert list(temp.iterdir()) == []


def test_counting_stays_within_its_memory_budget():
    """Merging held tables costs several times their size; the budget must cover that peak too."""
    import tracemalloc

    from seqkit_ngram.counts import NgramCounter

    budget = 4 << 20
    rng = np.random.default_rng(0)
    with NgramCounter(5, budget) as counter:
        step = counter.chunk_tokens()
        tracemalloc.start()
        try:
            for _ in range(12):
                lengths = rng.integers(5, 30, size=max(1, step // 17))
                ids = rng.integers(3, 5000, size=int(lengths.sum())).astype(np.int32)
                counter.add(ids, lengths, 5000)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert counter.spills > 0  # the data outgrew the budget, so the limit was exercised
    assert peak <= 1.2 * budget, f"peak {peak / 2**20:.1f} MiB over a {budget / 2**20:.0f} MiB budget"


@pytest.mark.parametrize("value", ["lots", "12Q", "0", "-5M", "nanM", "infG", "1e400"])
def test_bad_memory_sizes_are_usage_errors(tmp_path, cli_run, value):
    corpus = tmp_path / "toy.txt"
    corpus.write_text(TOY)
    result = cli_run("ngram", corpus, "-o", tmp_path / "m.arpa", "--memory", value)
    assert result.exit_code == 2 and "--memory" in result.stderr


def test_memory_sizes_parse_like_lmplz():
    from seqkit_ngram.plugin import MemorySize

    size = MemorySize()
    assert size.convert("2G", None, None) == 2 << 30 and size.convert("512", None, None) == 512 << 10
    assert size.convert("10b", None, None) == 10 and size.convert("1.5M", None, None) == 3 << 19
    assert 0 < size.convert("1%", None, None) < size.convert("50%", None, None)


def test_min_count_and_max_vocab_map_rare_words_to_unk(tmp_path, cli_run):
    from seqkit_ngram.arpa import read_arpa

    corpus = tmp_path / "toy.txt"
    corpus.write_text(TOY)
    out = tmp_path / "m.arpa"
    assert cli_run("ngram", corpus, "-o", out, "--order", "2", "--discount-fallback", "--min-count", "3",
                   "-q").exit_code == 0
    counts = Counter(TOY.split())
    assert set(read_arpa(str(out)).vocab) == {"<unk>", "<s>", "</s>"} | {w for w, c in counts.items() if c >= 3}
    assert cli_run("ngram", corpus, "-o", out, "--order", "2", "--discount-fallback", "--max-vocab", "2",
                   "-q").exit_code == 0
    assert read_arpa(str(out)).vocab == ["<unk>", "<s>", "</s>", "the", "cat"]


def test_fast_and_careful_arpa_readers_agree(toy_arpa):
    from seqkit_ngram.arpa import MAX_NGRAMS, _read_lines
    from seqkit_ngram.arpafast import read_fast

    data = toy_arpa.read_bytes()
    fast = read_fast(data, MAX_NGRAMS)
    slow = _read_lines(data, str(toy_arpa))
    assert fast is not None and fast[0] == slow.vocab
    for mine, theirs in zip(fast[1:], (slow.words, slow.logprob, slow.backoff)):
        assert all(np.array_equal(a, b) for a, b in zip(mine, theirs))
    # odd but valid spellings: the same model either way
    odd = data.replace(b"\t", b"\t ", 1).replace(b"-0.757888\t", b"-7.57888e-1\t", 1)
    assert b"e-1" in odd
    fast, slow = read_fast(odd, MAX_NGRAMS), _read_lines(odd, "odd")
    assert fast[0] == slow.vocab and all(np.array_equal(a, b) for a, b in zip(fast[2], slow.logprob))
    spaced = data.replace(b"\t", b" ")  # a layout only the careful reader takes
    assert read_fast(spaced, MAX_NGRAMS) is None
    assert all(np.array_equal(a, b) for a, b in zip(_read_lines(spaced, "spaced").logprob, slow.logprob))


def test_fast_reader_takes_long_words_that_share_a_prefix(tmp_path, cli_run):
    """Words over 16 bytes that agree in their first 16 bytes and length must not push the whole file
    to the slow reader."""
    from seqkit_ngram.arpa import MAX_NGRAMS
    from seqkit_ngram.arpafast import read_fast

    corpus = tmp_path / "long.txt"
    corpus.write_text("the internationalized word\nthe internationalizes words\n" * 3)
    model = tmp_path / "long.arpa"
    assert cli_run("ngram", corpus, "-o", model, "--order", "2", "--discount-fallback", "-q").exit_code == 0
    fast = read_fast(model.read_bytes(), MAX_NGRAMS)
    assert fast is not None and {"internationalized", "internationalizes"} <= set(fast[0])


def test_decimal_parser_equals_python_float():
    from seqkit_ngram.arpafast import parse_decimals

    texts = [b"-1.234567", b"0", b"-99", b"-0.000001", b"12.5", b"+3.25", b"-.5", b"7.", b"-0", b"1e-3",
             b"-2.5E+2", b"-inf", b"0.1234567890123456789", b"-12.75\r"]
    buf = np.frombuffer(b" ".join(texts), dtype=np.uint8)
    ends = np.cumsum([len(t) + 1 for t in texts]) - 1
    starts = ends - [len(t) for t in texts]
    values = parse_decimals(buf, starts, ends)
    assert [float(v) for v in values] == [float(t) for t in texts]

@pytest.fixture
def toy_arpa(tmp_path, cli_run):
    corpus = tmp_path / "toy.txt"
    corpus.write_text(TOY)
    out = tmp_path / "toy.arpa"
    assert cli_run("ngram", corpus, "-o", out, "--order", "3", "--discount-fallback", "-q").exit_code == 0
    return out


def test_perplexity_cli_plain_json_per_sentence_and_stdin(toy_arpa, cli_run):
    text = "the cat sat\nthe zebra ate"  # no final newline: the last line still counts
    result = cli_run("perplexity", "-m", toy_arpa, "--per-sentence", input=text)
    assert result.exit_code == 0, result.stderr
    assert [line.split("\t")[0] for line in result.stdout.splitlines()] == ["sentence", "1", "2", "total"]
    summary = cli_run("perplexity", "-m", toy_arpa, input=text).stdout
    lines = dict(line.split("\t", 1) for line in summary.splitlines())
    assert lines["sentences"] == "2" and lines["tokens"] == "8" and lines["oovs"] == "1"
    data = json.loads(cli_run("perplexity", "-m", toy_arpa, "--json", input=text).stdout)
    assert data["words"] == 6 and data["ppl"] == pytest.approx(float(lines["ppl"]), rel=1e-4)
    assert data["ppl1"] > data["ppl_excl_oov"]


def test_perplexity_equals_kenlm_module(toy_arpa):
    kenlm = pytest.importorskip("kenlm")
    from seqkit_ngram.arpa import read_arpa
    from seqkit_ngram.model import NgramModel

    ours = NgramModel(read_arpa(str(toy_arpa)))
    theirs = kenlm.Model(str(toy_arpa))
    for line in TOY.splitlines() + ["the zebra sat on a cat", "food food food"]:
        assert ours.score_sentence(line.split()).logprobs.sum() / math.log(10) == pytest.approx(
            theirs.score(line), abs=1e-4)


def test_generate_is_reproducible_with_a_seed(toy_arpa, cli_run):
    a = cli_run("generate", "-m", toy_arpa, "-n", "3", "--seed", "5").stdout
    b = cli_run("generate", "-m", toy_arpa, "-n", "3", "--seed", "5").stdout
    assert a == b and len(a.splitlines()) == 3
    words = set(TOY.split())
    assert all(w in words for line in a.splitlines() for w in line.split())
    prefixed = cli_run("generate", "-m", toy_arpa, "--prefix", "the cat", "--seed", "1", "--top-k", "2").stdout
    assert prefixed.startswith("the cat")
    assert cli_run("generate", "-m", toy_arpa, "--beam", "3").exit_code == 2  # n-gram models have no beam search


def test_unknown_model_format_is_a_clean_error(tmp_path, cli_run):
    junk = tmp_path / "model.xyz"
    junk.write_text("hello")
    result = cli_run("perplexity", "-m", junk, input="a\n")
    assert result.exit_code == 1 and "not a language model" in result.stderr


def test_min_count_that_keeps_no_word_is_an_error(tmp_path, cli_run):
    corpus = tmp_path / "toy.txt"
    corpus.write_text(TOY)
    result = cli_run("ngram", corpus, "-o", tmp_path / "m.arpa", "--min-count", "1000")
    assert result.exit_code == 1 and "occur >= 1000 times; lower --min-count" in result.stderr
    assert not (tmp_path / "m.arpa").exists()


@pytest.mark.parametrize("marker", ["<s>", "</s>"])
def test_a_sentence_boundary_written_in_the_text_is_refused_by_line(tmp_path, cli_run, marker):
    """Counted as a word, `<s>` or `</s>` inside a sentence gave `</s>` a back-off and distributions that do not
    sum to one; lmplz refuses such text too."""
    corpus = tmp_path / "toy.txt"
    corpus.write_text(TOY + f"the {marker} cat\n" + TOY)
    line = TOY.count("\n") + 1
    result = cli_run("ngram", corpus, "-o", tmp_path / "m.arpa")
    assert result.exit_code == 1 and f"{corpus}:{line}: {marker!r} marks a sentence boundary" in result.stderr
    assert not (tmp_path / "m.arpa").exists()
    piped = cli_run("ngram", "-", "-o", tmp_path / "m.arpa", input=f"the {marker} cat\n")
    assert piped.exit_code == 1 and "marks a sentence boundary" in piped.stderr
    corpus.write_text(TOY)
    assert cli_run("ngram", corpus, "-o", tmp_path / "m.arpa", "--discount-fallback").exit_code == 0


@pytest.mark.parametrize("content", ["", "\n  \n\t\n"])
def test_empty_corpus(tmp_path, cli_run, content):
    empty = tmp_path / "e.txt"
    empty.write_text(content)
    result = cli_run("ngram", empty, "-o", tmp_path / "m.arpa")
    assert result.exit_code == 1 and result.stdout == ""
    assert result.stderr.strip() == f"seqkit: error: the corpus is empty: no tokens found in {empty}"
    assert not (tmp_path / "m.arpa").exists()


@pytest.mark.slow
@pytest.mark.parametrize("order,test_ppl", [(2, 185.70), (3, 148.28), (5, 141.19)])
def test_ptb_perplexity_matches_kenlm_reference(order, test_ppl, tmp_path, cli_run):
    """KenLM's lmplz + query figures on PTB (lmplz -o N, query; <unk> an ordinary word)."""
    train = require_data("ptb", "ptb.train.txt")
    test = require_data("ptb", "ptb.test.txt")
    out = tmp_path / "ptb.arpa"
    assert cli_run("ngram", train, "-o", out, "--order", str(order), "-q").exit_code == 0
    data = json.loads(cli_run("perplexity", "-m", out, test, "--json").stdout)
    assert data["tokens"] == 82430
    assert data["ppl"] == pytest.approx(test_ppl, abs=0.006)


def test_arpa_format_is_recognised_by_content_not_by_name(tmp_path):
    import numpy as np

    from seqkit_ngram.plugin import ArpaFormat

    arpa = "\\data\\\nngram 1=3\n\n\\1-grams:\n-1.0\t<unk>\t0\n-99\t<s>\t0\n-0.5\t</s>\n\n\\end\\\n"
    unnamed = tmp_path / "model"
    unnamed.write_text("# written by hand\n\n" + arpa)
    npz_named_lm = tmp_path / "model.lm"
    np.savez(npz_named_lm.with_suffix(""), x=np.zeros(3))
    (tmp_path / "model.npz").rename(npz_named_lm)
    damaged = tmp_path / "damaged.arpa"
    damaged.write_text("ngram 1=3\n")
    fmt = ArpaFormat()
    assert fmt.sniff(str(unnamed)) and fmt.sniff(str(damaged))  # the reader then says what is wrong
    assert not fmt.sniff(str(npz_named_lm)) and not fmt.sniff(str(tmp_path / "missing.arpa"))


def test_outputs_that_could_not_be_read_back_are_refused(tmp_path, cli_run):
    corpus = tmp_path / "c.txt"
    corpus.write_text(sample_lines(300))
    result = cli_run("ngram", corpus, "-o", tmp_path / "m.bin.gz", "--binary", "--order", "2")
    assert result.exit_code == 2 and "cannot be written compressed" in result.stderr
    arpa = tmp_path / "m.arpa"
    assert cli_run("ngram", corpus, "-o", arpa, "--order", "2", "-q").exit_code == 0
    assert cli_run("ngram-convert", arpa, tmp_path / "b.arpa.gz", "--to", "binary").exit_code == 2
    for extra in (["--to", "text"], ["--limit", "3"]):
        result = cli_run("convert", arpa, tmp_path / "x.txt", *extra)
        assert result.exit_code == 2, (extra, result.stderr)
    for name in ("x.skv", "x.vec", "x.npz", "x.vec.xz"):  # an n-gram model under a vector or model file's name
        result = cli_run("convert", arpa, tmp_path / name)
        assert result.exit_code == 2 and "name it .arpa" in result.stderr and not (tmp_path / name).exists()


@pytest.mark.parametrize("options,message", [(["-k", "0.5"], "-k is the k of --smoothing addk"),
                                             (["--smoothing", "wb", "--discount-fallback"], "has none")])
def test_options_the_smoothing_does_not_use_are_usage_errors(tmp_path, cli_run, options, message):
    corpus = tmp_path / "toy.txt"
    corpus.write_text(TOY)
    result = cli_run("ngram", corpus, "-o", tmp_path / "m.arpa", *options)
    assert result.exit_code == 2 and message in result.stderr and not (tmp_path / "m.arpa").exists()
