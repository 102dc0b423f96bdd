"""word2vec --batch-negatives (skip-gram, negatives shared across a window): kernel vs a NumPy
minibatch reference, reproducibility, and the option's validation."""

from __future__ import annotations

import numpy as np
import pytest

from reference.word2vec import reference_batch_chunk

def test_batch_kernel_equals_numpy_minibatch_reference():
    from test_word2vec import _copy, _problem

    from seqkit_word2vec.kernels import train_chunk_sg_batch

    chunk, start, tables, settings = _problem(3, 60, [0, 25, 26, 60])
    got = _copy(start)
    got_loss, terms, raw, trained = train_chunk_sg_batch(chunk, got, tables, settings)
    want = _copy(start)
    want_loss = reference_batch_chunk(chunk, want, tables, settings)
    for g, w in zip(got[:2], want[:2]):
        np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-6)
    assert got_loss == pytest.approx(want_loss, rel=1e-3)
    assert raw == 60 and 0 < trained <= 60 and terms > 0
    assert not np.allclose(got.input, start.input) and not np.allclose(got.output, start.output)


def test_batch_differs_from_per_pair_updates():
    """The minibatch is a different algorithm: on the same stream it must not equal train_chunk."""
    from test_word2vec import _copy, _problem

    from seqkit_word2vec.kernels import NO_REPLICAS, train_chunk, train_chunk_sg_batch

    chunk, start, tables, settings = _problem(5, 40, [0, 40], negative=2, sample=0.0)
    settings = settings._replace(window=2, lr_start=0.5, lr_end=0.5)
    batch, per_pair = _copy(start), _copy(start)
    train_chunk_sg_batch(chunk, batch, tables, settings)
    train_chunk(chunk, per_pair, tables, settings, NO_REPLICAS)
    assert not np.allclose(batch.input, per_pair.input)
    assert not np.allclose(batch.input, start.input)


@pytest.fixture
def small_corpus(tmp_path):
    path = tmp_path / "corpus.txt"
    rng = np.random.default_rng(0)
    words = [f"w{i}" for i in range(30)]
    path.write_text("\n".join(" ".join(rng.choice(words, 20)) for _ in range(200)) + "\n")
    return path


def test_batch_negatives_option_trains_reproducibly(small_corpus, tmp_path, seqkit_proc):
    outs = []
    for run in range(2):
        out = tmp_path / f"v{run}.txt"
        proc = seqkit_proc("word2vec", small_corpus, "-o", out, "--dim", "8", "--min-count", "1",
                           "--epochs", "2", "--threads", "1", "--seed", "42", "--batch-negatives")
        assert proc.returncode == 0, proc.stderr
        assert b"sg-ns (batch negatives)" in proc.stderr
        outs.append(out.read_bytes())
    assert outs[0] == outs[1]
    plain = tmp_path / "plain.txt"
    proc = seqkit_proc("word2vec", small_corpus, "-o", plain, "--dim", "8", "--min-count", "1",
                       "--epochs", "2", "--threads", "1", "--seed", "42", "-q")
    assert proc.returncode == 0 and plain.read_bytes() != outs[0]


@pytest.mark.parametrize("extra", [["--model", "cbow"], ["--loss", "hs"], ["--loss", "ns+hs"]])
def test_batch_negatives_needs_sg_ns(small_corpus, tmp_path, cli_run, extra):
    out = tmp_path / "v.txt"
    result = cli_run("word2vec", small_corpus, "-o", out, "--batch-negatives", *extra)
    assert result.exit_code == 2
    assert "--batch-negatives needs --model sg --loss ns" in result.stderr
    assert not out.exists()


@pytest.mark.slow
def test_batch_negatives_known_neighbours_on_ptb(tmp_path, cli_run):
    """The same meaning check as the per-pair mode (test_word2vec.py): the minibatch variant must learn
    the same neighbourhoods (weekdays, buy/sell, he/she, million/billion in each other's top 20; over
    seeds 1-5 the worst rank seen was 8, so 3 of 4 in the top 20 almost never flakes)."""
    from conftest import require_data
    from seqkit.vectors import Embeddings

    ptb = require_data("ptb", "ptb.train.txt")
    out = tmp_path / "ptb.vec"
    result = cli_run("word2vec", ptb, "-o", out, "--dim", "50", "--epochs", "3", "--threads", "2", "-q",
                     "--batch-negatives")
    assert result.exit_code == 0
    emb = Embeddings.load(str(out))
    pairs = [("monday", "tuesday"), ("buy", "sell"), ("he", "she"), ("million", "billion")]
    hits = [b in [w for w, _ in emb.nearest(a, 20)] for a, b in pairs]
    assert sum(hits) >= 3, list(zip(pairs, hits))
