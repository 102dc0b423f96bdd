"""Perplexity accounting (KenLM and SRILM conventions) and language-model format lookup."""

from __future__ import annotations

import math

import numpy as np
import pytest

from seqkit.errors import SeqkitError
from seqkit.lm import PerplexityCounter, SentenceScore, load_language_model, score_all, sentence_perplexity


def score(log10s, oov):
    return SentenceScore(np.array(log10s, dtype=np.float64) * math.log(10), np.array(oov, dtype=bool))


def test_counter_matches_kenlm_and_srilm_definitions():
    counter = PerplexityCounter()
    counter.add(score([-1.0, -2.0, -0.5], [False, True, False]))  # "a OOV </s>"
    counter.add(score([-1.5, -0.25], [False, False]))            # "b </s>"
    r = counter.result()
    assert (r.sentences, r.words, r.tokens, r.oovs) == (2, 3, 5, 1)
    total = -1.0 - 2.0 - 0.5 - 1.5 - 0.25
    known = total + 2.0
    assert r.logprob10 == pytest.approx(total) and r.logprob10_known == pytest.approx(known)
    assert r.ppl == pytest.approx(10 ** (-total / 5))                 # KenLM "including OOVs"
    assert r.ppl_excluding_oov == pytest.approx(10 ** (-known / 4))   # KenLM "excluding OOVs" = SRILM ppl
    assert r.ppl1 == pytest.approx(10 ** (-known / 2))                # SRILM ppl1: no </s> in the count
    assert r.as_dict()["tokens"] == 5


def test_single_sentence_and_empty_counter():
    r = sentence_perplexity(score([-1.0], [False]))
    assert r.ppl == pytest.approx(10.0) and math.isnan(r.ppl1)
    assert math.isnan(PerplexityCounter().result().ppl)


def test_counter_rejects_malformed_scores():
    with pytest.raises(ValueError):
        PerplexityCounter().add(SentenceScore(np.zeros(2), np.zeros(3, dtype=bool)))
    with pytest.raises(ValueError):
        PerplexityCounter().add(SentenceScore(np.zeros(0), np.zeros(0, dtype=bool)))


def test_score_all_prefers_a_stateful_stream():
    class Stateless:
        def score_sentence(self, words):
            return score([-1.0] * (len(words) + 1), [False] * (len(words) + 1))

    class Stateful(Stateless):
        def score_stream(self, sentences):
            for i, words in enumerate(sentences):
                yield score([-0.5 * (i + 1)] * (len(words) + 1), [False] * (len(words) + 1))

    data = [["a"], ["b", "c"]]
    assert [s.logprobs.size for s in score_all(Stateless(), data)] == [2, 3]
    second = list(score_all(Stateful(), data))[1]
    assert second.logprobs[0] == pytest.approx(-1.0 * math.log(10))


def test_load_language_model_through_a_registered_format(tmp_path, monkeypatch):
    from test_cli_plugins import install_fake_dists

    site = install_fake_dists(tmp_path / "site", "hello")
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setenv("SEQKIT_LOAD_PLUGINS", "hello")
    model_path = tmp_path / "m.unigram"
    model_path.write_text("a 3\n</s> 1\n")
    model = load_language_model(str(model_path))
    s = model.score_sentence(["a", "zzz"])
    assert s.oov.tolist() == [False, True, False]
    other = tmp_path / "m.other"
    other.write_text("x")
    with pytest.raises(SeqkitError, match="not a language model any installed plugin can read.*unigram"):
        load_language_model(str(other))
    with pytest.raises(SeqkitError, match="no such file"):
        load_language_model(str(tmp_path / "missing.unigram"))


@pytest.mark.parametrize("make,says", [
    (lambda p: p.write_bytes(b"mmap lm http://kheafield.com/code format version 5\n\0\0"), "a KenLM binary model"),
    (lambda p: p.write_bytes((793712314).to_bytes(4, "little") + (12).to_bytes(4, "little")), "a fastText model"),
    (lambda p: p.write_bytes(b"PK\x03\x04" + b"\0" * 40), "a zip archive (.npz) that is damaged or truncated"),
    (lambda p: p.write_text("hello world\n"), "text starting 'hello world'"),
    (lambda p: p.write_bytes(b""), "an empty file"),
])
def test_a_file_no_format_claims_is_described(tmp_path, cli_run, make, says):
    model = tmp_path / "model"
    make(model)
    text = tmp_path / "t.txt"
    text.write_text("a b\n")
    result = cli_run("perplexity", "-m", model, text)
    assert result.exit_code == 1 and result.stdout == ""
    assert result.stderr.startswith(f"seqkit: error: {model}: {says}")
    assert "not a language model any installed plugin can read" in result.stderr


def test_a_model_is_not_read_from_stdin(cli_run):
    result = cli_run("perplexity", "-m", "-", input="a b\n")
    assert result.exit_code == 2 and "a model is read from a file" in result.stderr
