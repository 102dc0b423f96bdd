"""`seqkit ngram -S`: a model larger than the budget is built, smoothed and written on disk a slice at a
time (plugins/seqkit_ngram/streaming.py), and the ARPA file is the in-memory path's byte for byte."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import require_data

BUDGET = "4M"  # small enough that counting, the suffix sorts and every pass run in many slices on PTB


@pytest.fixture(scope="module")
def in_memory(tmp_path_factory):
    """The in-memory path's ARPA files, built once per option set."""
    made: dict[tuple, bytes] = {}

    def get(cli_run, train, order: int, extra: tuple[str, ...]) -> bytes:
        key = (order, extra)
        if key not in made:
            out = tmp_path_factory.mktemp("whole") / "m.arpa"
            result = cli_run("ngram", train, "-o", out, "--order", str(order), *extra)
            assert result.exit_code == 0, result.stderr
            assert "(in memory)" in result.stderr
            made[key] = out.read_bytes()
        return made[key]

    return get


@pytest.mark.parametrize("order", [2, 3, 4, 5])
@pytest.mark.parametrize("extra", [(), ("--prune", "0 1"), ("--discount-fallback",)])
def test_bounded_run_writes_the_in_memory_arpa(tmp_path, cli_run, in_memory, order, extra):
    train = require_data("ptb", "ptb.train.txt")
    temp = tmp_path / "temp"
    temp.mkdir()
    out = tmp_path / "bounded.arpa"
    result = cli_run("ngram", train, "-o", out, "--order", str(order), "-S", BUDGET, "-T", temp, *extra)
    assert result.exit_code == 0, result.stderr
    assert "memory 4.0M (on disk)" in result.stderr and "peak RSS" in result.stderr
    assert out.read_bytes() == in_memory(cli_run, train, order, extra)
    assert list(temp.iterdir()) == []  # every temporary column and run is gone


@pytest.mark.parametrize("extra", [("--smoothing", "wb", "--prune", "0 1"),
                                   ("--smoothing", "addk", "-k", "0.5"), ("--smoothing", "kn")])
def test_bounded_run_matches_for_every_smoothing(tmp_path, cli_run, in_memory, extra):
    train = require_data("ptb", "ptb.train.txt")
    out = tmp_path / "bounded.arpa"
    result = cli_run("ngram", train, "-o", out, "--order", "3", "-S", BUDGET, *extra)
    assert result.exit_code == 0, result.stderr
    assert out.read_bytes() == in_memory(cli_run, train, 3, extra)


def test_bounded_binary_model_equals_the_in_memory_one(tmp_path, cli_run):
    corpus = tmp_path / "toy.txt"
    verbs = ("sat", "lay", "ran", "hid")
    corpus.write_text("".join(f"the cat {w} on the mat\nthe dog {w} too\n" for w in verbs))
    whole, bounded = tmp_path / "whole.bin", tmp_path / "bounded.bin"
    options = ("--order", "3", "--binary", "--discount-fallback")
    assert cli_run("ngram", corpus, "-o", whole, *options).exit_code == 0
    result = cli_run("ngram", corpus, "-o", bounded, *options, "-S", "1b")
    assert result.exit_code == 0 and "(on disk)" in result.stderr, result.stderr
    assert bounded.read_bytes() == whole.read_bytes()


def test_run_sorter_sums_tables_across_spilled_runs(tmp_path, monkeypatch):
    from seqkit_ngram import external
    from seqkit_ngram.counts import unique_rows
    from seqkit_ngram.external import RunSorter, Spool

    monkeypatch.setattr(external, "MIN_HELD", 1)  # let a 4 KiB budget spill

    rng = np.random.default_rng(3)
    words = rng.integers(0, 7, size=(5000, 3)).astype(np.int32)
    values = rng.integers(1, 5, size=(5000, 2)).astype(np.int64)
    expected: dict[tuple, np.ndarray] = {}
    for w, v in zip(map(tuple, words.tolist()), values):
        expected[w] = expected.get(w, 0) + v
    with Spool(str(tmp_path)) as spool:
        sorter = RunSorter(3, 2, 4096, spool, 7)
        for lo in range(0, 5000, 250):  # unsorted pieces in, each summed and sorted first
            sorter.add(*unique_rows(words[lo:lo + 250], values[lo:lo + 250], 7))
        blocks = list(sorter.blocks())
        assert len(sorter.runs) > 1 and len(blocks) > 1
    got_words = np.concatenate([w for w, _ in blocks])
    got_values = np.concatenate([v for _, v in blocks])
    assert [tuple(r) for r in got_words.tolist()] == sorted(expected)
    assert all((got_values[i] == expected[tuple(r)]).all() for i, r in enumerate(got_words.tolist()))
    assert list(tmp_path.iterdir()) == []


def test_find_keys_matches_a_linear_search():
    """The row index's galloping search: sorted queries, ascending runs, repeats, absent keys and keys at
    both ends give each query's row among the keys, -1 when absent (as a plain scan finds)."""
    from seqkit_ngram.kernels import find_keys

    rng = np.random.default_rng(0)
    for trial in range(300):
        keys = np.unique(rng.integers(0, int(rng.integers(1, 400)), int(rng.integers(0, 80)))).astype(np.int64)
        queries = rng.integers(-3, 410, int(rng.integers(0, 60))).astype(np.int64)
        if len(keys) and trial % 4 == 0:
            queries = np.concatenate([queries, keys[[0, -1]]])
        if trial % 4 == 1:
            queries = np.sort(queries)
        elif trial % 4 == 2:  # ascending runs, as the suffixes of sorted n-grams come
            queries = np.concatenate([np.sort(part) for part in np.array_split(queries, 3)])
        found = np.empty(len(queries), dtype=np.int64)
        find_keys(keys, queries, found)
        expected = [next((row for row, key in enumerate(keys.tolist()) if key == q), -1) for q in queries.tolist()]
        assert found.tolist() == expected
