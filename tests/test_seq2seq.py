"""The seq2seq commands: beam search against greedy and brute force, the date task end to end,
one-thread reproducibility, exact --resume, and damaged model files."""

from __future__ import annotations

import datetime
import itertools
import random

import numpy as np
import pytest

from seqkit_seq2seq.decode import Translator
from seqkit_seq2seq.network import BOS, EOS, Config, init_params

MONTHS = ["january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
          "november", "december"]


def dates(seed: int, count: int) -> tuple[list[str], list[str]]:
    """Dates written four ways -> ISO 8601 spelt digit by digit."""
    rng = random.Random(seed)
    src, tgt = [], []
    for _ in range(count):
        d = datetime.date(1950, 1, 1) + datetime.timedelta(days=rng.randrange(40000))
        m = MONTHS[d.month - 1]
        src.append([f"{d.day} {m} {d.year}", f"{m} {d.day} , {d.year}", f"{d.month} / {d.day} / {d.year}",
                    f"{d.day:02d} . {d.month:02d} . {d.year}"][rng.randrange(4)])
        tgt.append(" ".join(d.isoformat()))
    return src, tgt


def _tiny(cell="gru", kind="additive", tgt_vocab=6, seed=0, decoder_layers=1):
    config = Config(cell=cell, embed=4, hidden=5, attention=kind, attn_size=4, init_scale=1.0,
                    decoder_layers=decoder_layers)
    return Translator(config, init_params(config, 9, tgt_vocab, np.random.default_rng(seed)))


def _score(translator, ids, out, finished) -> float:
    enc, keys, state = translator.encode(ids)
    total, token = 0.0, BOS
    for nxt in list(out) + ([EOS] if finished else []):
        logprobs, state, _ = translator.step(np.array([token]), state, enc, keys)
        total += logprobs[0, nxt]
        token = nxt
    return total


@pytest.mark.parametrize("cell,kind,decoder_layers", [("gru", "additive", 1), ("lstm", "dot", 1), ("lstm", "additive", 2)])
def test_beam_one_equals_greedy(cell, kind, decoder_layers):
    translator = _tiny(cell, kind, tgt_vocab=12, decoder_layers=decoder_layers)
    for ids in ([4, 5, 6], [7], [8, 8, 4, 5, 6, 7]):
        out, score, _ = translator.greedy(ids, 8)
        (beam_out, beam_score), = translator.beam(ids, 1, 8, alpha=0.0)
        assert beam_out == out and beam_score == pytest.approx(score)


def test_best_first_is_the_prefix_of_a_stable_sort():
    from seqkit_seq2seq.decode import _best_first

    rng = np.random.default_rng(0)
    for shape, count in (((5, 40), 10), ((1, 7), 10), ((3, 6), 4)):
        totals = np.round(rng.normal(size=shape), 1)  # many ties
        full = np.argsort(-totals, axis=None, kind="stable")
        got = _best_first(totals, count)
        assert len(got) >= min(count, totals.size)
        np.testing.assert_array_equal(got, full[:len(got)])


@pytest.mark.parametrize("alpha", [0.0, 1.0])
def test_wide_beam_finds_the_brute_force_best(alpha):
    translator = _tiny(seed=3)
    ids, limit = [4, 5, 6, 7], 3
    words = [k for k in range(6) if k != EOS]
    candidates = []
    for length in range(limit + 1):
        for out in itertools.product(words, repeat=length):
            finished = length < limit
            score = _score(translator, ids, out, finished)
            candidates.append((score / (length + 1) ** alpha if alpha else score, list(out)))
    best_score, best = max(candidates)
    (out, score), = translator.beam(ids, 200, limit, alpha=alpha)
    assert out == best and score == pytest.approx(best_score)
    # and a narrow beam is a real approximation: it never beats the exhaustive search
    assert translator.beam(ids, 2, limit, alpha=alpha)[0][1] <= best_score + 1e-5


@pytest.mark.parametrize("cell,decoder_layers", [("gru", 1), ("gru", 3), ("lstm", 2)])
def test_translator_scores_what_the_training_network_scores(cell, decoder_layers):
    """Decoding one step at a time gives the log-probabilities of the batched teacher-forced network."""
    from seqkit_seq2seq.network import Network

    translator = _tiny(cell, tgt_vocab=12, seed=5, decoder_layers=decoder_layers)
    ids, out = [4, 5, 6, 7, 8], [6, 9, 4]
    network = Network(translator.config, translator.params, batch=1, max_src=5, max_tgt=4)
    network.decode_teacher(np.array([[BOS] + out]).T, np.array([4]),
                           network.encode(np.array([ids]).T, np.array([5])))
    loss, count = network.target_logprobs_sum(np.array([out + [EOS]]).T)
    assert count == 4 and -loss == pytest.approx(_score(translator, ids, out, True), abs=1e-4)


def _write(directory, name, lines):
    path = directory / name
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def greedy_of(line: str, cli_run, model) -> str:
    return cli_run("translate", "-m", model, input=line + "\n").stdout.rstrip("\n")


TRAIN_OPTIONS = ["--pretokenized", "--embed", "32", "--hidden", "64", "--attn-size", "32", "--batch", "32",
                 "--lr", "0.005"]


def test_date_task_is_learnt_and_translated(cli_run, tmp_path):
    src, tgt = dates(1, 3000)
    test_src, test_tgt = dates(2, 100)
    model = tmp_path / "dates.npz"
    result = cli_run("seq2seq", _write(tmp_path, "s", src), _write(tmp_path, "t", tgt), "-o", model, "--epochs", "5",
                     "--threads", "2", "-q", *TRAIN_OPTIONS)
    assert result.exit_code == 0, result.output
    inputs = "".join(line + "\n" for line in test_src)
    greedy = cli_run("translate", "-m", model, input=inputs).stdout.splitlines()
    beam = cli_run("translate", "-m", model, "--beam", "4", input=inputs).stdout.splitlines()
    assert np.mean([g == t for g, t in zip(greedy, test_tgt)]) >= 0.99
    assert np.mean([b == t for b, t in zip(beam, test_tgt)]) >= 0.99
    gapped = cli_run("translate", "-m", model, input="21 june 1999\n\n3 may 2001\n").stdout.splitlines()
    assert gapped == [greedy_of("21 june 1999", cli_run, model), "", greedy_of("3 may 2001", cli_run, model)]
    listed = cli_run("translate", "-m", model, "--nbest", "2", input="\n21 june 1999\n").stdout.splitlines()
    assert listed[0] == "1\t0.0000\t" and [row.split("\t")[0] for row in listed[1:]] == ["2", "2"]

    from seqkit_seq2seq import command

    with pytest.MonkeyPatch.context() as patch:  # the default length is capped for very long lines
        patch.setattr(command, "DEFAULT_LENGTH_CAP", 3)
        assert cli_run("translate", "-m", model, input="21 june 1999\n").stdout == "1 9 9\n"

    from seqkit_seq2seq.command import TranslationModel

    loaded = TranslationModel(str(model))
    source, target, weights = loaded.attention("21 june 1999")
    assert source == ["21", "june", "1999"] and target[-1] == "</s>" and " ".join(target[:-1]) == "1 9 9 9 - 0 6 - 2 1"
    assert weights.shape == (len(target), 3) and np.allclose(weights.sum(axis=1), 1, atol=1e-5)
    assert b"Infinity" not in np.load(model)["meta"].tobytes()  # strict JSON: no validation, no best yet
    history = __import__("json").loads(np.load(model)["meta"].tobytes())["history"]
    assert [h["epoch"] for h in history if "epoch" in h] == [1, 2, 3, 4, 5]
    # the model's format is registered, so `seqkit plot attention` finds its attention weights
    picture = tmp_path / "attention.svg"
    drawn = cli_run("plot", "attention", "-m", model, "21 june 1999", "-o", picture)
    assert drawn.exit_code == 0, drawn.output
    import xml.etree.ElementTree as ET

    texts = {el.text for el in ET.parse(picture).getroot().iter() if el.tag.endswith("text") and el.text}
    assert {"21", "june", "1999", "</s>"} <= texts


def test_beam_five_scores_at_least_as_well_as_greedy_on_the_date_task(cli_run, tmp_path):
    """On a half-trained model (one epoch) beam search often finds another translation; by the score it
    ranks with (log-probability, / (length + 1)^alpha with a length penalty) it is never worse than greedy."""
    from seqkit_seq2seq.command import TranslationModel
    from seqkit_seq2seq.decode import _normalised

    src, tgt = dates(1, 3000)
    model = tmp_path / "dates.npz"
    result = cli_run("seq2seq", _write(tmp_path, "s", src), _write(tmp_path, "t", tgt), "-o", model, "--epochs", "1",
                     "--threads", "1", "--seed", "1", "-q", *TRAIN_OPTIONS)
    assert result.exit_code == 0, result.output
    loaded = TranslationModel(str(model))
    translator = loaded.translator
    for alpha in (0.0, 1.0):
        differ = 0
        for line in dates(2, 100)[0]:
            words, ids = loaded._ids(line)
            limit = 2 * len(words) + 10
            greedy, greedy_sum, _ = translator.greedy(ids, limit)
            assert greedy_sum == pytest.approx(_score(translator, ids, greedy, len(greedy) < limit), abs=1e-4)
            (beam, beam_score), = translator.beam(ids, 5, limit, alpha)
            assert beam_score == pytest.approx(_normalised((beam, _score(translator, ids, beam, len(beam) < limit)),
                                                           alpha), abs=1e-4)
            assert beam_score >= _normalised((greedy, greedy_sum), alpha) - 1e-5, line
            differ += beam != greedy
        assert differ >= 5  # the search is doing something


def _params(path):
    with np.load(path) as archive:
        return {k: archive[k] for k in archive.files if k.startswith("param/")}


def test_one_thread_reproducible_and_resume_is_exact(seqkit_proc, tmp_path):
    src, tgt = dates(3, 200)
    s, t = _write(tmp_path, "s", src), _write(tmp_path, "t", tgt)
    common = ["--threads", "1", "--seed", "7", "--dropout", "0.2", "--teacher-forcing", "0.5", "-q", *TRAIN_OPTIONS]
    for name in ("a", "b"):
        assert seqkit_proc("seq2seq", s, t, "-o", tmp_path / f"{name}.npz", "--epochs", "2", *common).returncode == 0
    assert seqkit_proc("seq2seq", s, t, "-o", tmp_path / "c.npz", "--epochs", "1", *common).returncode == 0
    assert seqkit_proc("seq2seq", s, t, "-o", tmp_path / "c.npz", "--epochs", "2", "--resume", *common).returncode == 0
    a, b, c = (_params(tmp_path / f"{n}.npz") for n in "abc")
    for key in a:
        np.testing.assert_array_equal(a[key], b[key])
        np.testing.assert_array_equal(a[key], c[key])
    other = seqkit_proc("seq2seq", s, t, "-o", tmp_path / "c.npz", "--epochs", "3", "--resume", *common, "--hidden", "32")
    assert other.returncode == 2 and b"--hidden 32 differs from its 64" in other.stderr  # it would be ignored
    s2, t2 = _write(tmp_path, "s2", src[:100]), _write(tmp_path, "t2", tgt[:100])
    loud = [a for a in common if a != "-q"]
    another = seqkit_proc("seq2seq", s2, t2, "-o", tmp_path / "c.npz", "--epochs", "3", "--resume", *loud)
    assert another.returncode == 0 and b"has 100 pairs, but the run in" in another.stderr, another.stderr


def test_damaged_model_is_one_line(seqkit_proc, tmp_path):
    bad = tmp_path / "bad.npz"
    np.savez(bad, meta=np.frombuffer(b'{"format": "seqkit-seq2seq", "version": 1, "params": {"Wout": [99999999999, 9]}}',
                                     dtype=np.uint8))
    proc = seqkit_proc("translate", "-m", bad, input=b"hello\n")
    assert proc.returncode == 1
    assert proc.stderr.decode().count("\n") == 1 and "bad.npz" in proc.stderr.decode()


def test_bleu_of_empty_files_is_a_clean_error_and_errors_is_an_option(tmp_path, cli_run):
    pytest.importorskip("sacrebleu")
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    result = cli_run("bleu", empty, empty)
    assert result.exit_code == 1 and "no lines to score" in result.stderr and result.stderr.count("\n") == 1
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"the cat\xff sat\n")
    result = cli_run("bleu", bad, bad)
    assert result.exit_code == 1 and "bad.txt:1: invalid UTF-8" in result.stderr
    result = cli_run("bleu", bad, bad, "--errors", "replace")
    assert result.exit_code == 0 and result.stdout.startswith("BLEU = ") and "hyp_len = 3" in result.stdout, result.stderr


def test_translate_answers_each_line_of_a_pipe_before_the_input_ends(seqkit_proc, tmp_path):
    """As fastText's `predict model -`: a line in, its translation out, while the input stays open."""
    from conftest import ask_while_open

    src, tgt = dates(3, 100)
    s, t = _write(tmp_path, "s", src), _write(tmp_path, "t", tgt)
    model = tmp_path / "m.npz"
    assert seqkit_proc("seq2seq", s, t, "-o", model, "--epochs", "1", "-t", "1", "-q", *TRAIN_OPTIONS).returncode == 0
    expected = seqkit_proc("translate", "-m", model, input="1 may 1999\n3 june 2001\n").stdout.decode().splitlines()
    first, rest, code = ask_while_open(["translate", "-m", model, "-"], b"1 may 1999\n", b"3 june 2001\n")
    assert first.decode() == expected[0] + "\n" and rest.decode() == expected[1] + "\n" and code == 0


def test_a_diverging_run_stops_with_exit_3_and_no_model(seqkit_proc, tmp_path):
    """A loss past float range per token (as rnnlm's check) or non-finite is divergence: exit 3, one
    line, no model written, and no numpy warning from the worker threads."""
    src, tgt = dates(3, 64)
    s, t = _write(tmp_path, "s", src), _write(tmp_path, "t", tgt)
    model = tmp_path / "m.npz"
    proc = seqkit_proc("seq2seq", s, t, "-o", model, "--epochs", "1", "--lr", "1e30", "--clip", "0", "-t", "2", "-q",
                       *TRAIN_OPTIONS[:-2])
    err = proc.stderr.decode()
    assert proc.returncode == 3 and err.count("\n") == 1 and "lower --lr" in err, err
    assert "no epoch had finished, so no model was saved" in err and not model.exists()


def test_empty_training_files_are_named(cli_run, tmp_path):
    empty, blank = tmp_path / "empty.txt", tmp_path / "blank.txt"
    empty.write_text("")
    blank.write_text("\n\n")
    result = cli_run("seq2seq", empty, empty, "-o", tmp_path / "m.npz", "-q")
    assert result.exit_code == 1 and result.stderr == f"seqkit: error: {empty}: an empty file\n"
    result = cli_run("seq2seq", blank, blank, "-o", tmp_path / "m.npz", "-q")
    assert result.exit_code == 1 and result.stderr == f"seqkit: error: {blank}: no sentences (every line is empty)\n"


def test_bleu_ties_are_broken_by_validation_perplexity(cli_run, tmp_path):
    """With few validation lines BLEU often stays level for epochs while perplexity falls: the kept
    epoch is the best (BLEU, then lower perplexity), not the first of the tie."""
    import re

    (s, t), (vs, vt) = dates(3, 64), dates(5, 16)
    paths = [_write(tmp_path, name, lines) for name, lines in (("s", s), ("t", t), ("vs", vs), ("vt", vt))]
    result = cli_run("seq2seq", paths[0], paths[1], "-o", tmp_path / "m.npz", "--valid-src", paths[2], "--valid-tgt",
                     paths[3], "--epochs", "3", "--pretokenized", "--embed", "8", "--hidden", "8", "--attn-size", "8",
                     "--lr", "0.001", "-t", "1", "--seed", "2")
    assert result.exit_code == 0, result.stderr
    epochs = [(float(bleu), -float(ppl)) for ppl, bleu in re.findall(r"valid ppl ([\d.]+), valid BLEU ([\d.]+)",
                                                                      result.stderr)]
    assert len(epochs) == 3 and len({bleu for bleu, _ in epochs}) < 3  # a tie happened (else the test shows nothing)
    best = max(range(3), key=lambda e: (epochs[e], -e)) + 1
    assert f"kept epoch {best} " in result.stderr


def test_an_embed_size_that_contradicts_the_vectors_is_a_usage_error(cli_run, tmp_path):
    src, tgt = dates(3, 32)
    s, t = _write(tmp_path, "s", src), _write(tmp_path, "t", tgt)
    vectors = tmp_path / "v.txt"
    vectors.write_text("2 4\nmay 1 0 0 0\njune 0 1 0 0\n")
    common = ["--epochs", "1", "--pretokenized", "--hidden", "8", "--attn-size", "8", "-q"]
    result = cli_run("seq2seq", s, t, "-o", tmp_path / "m.npz", "-v", vectors, "--embed", "64", *common)
    assert result.exit_code == 2 and "64, but the -v vectors have dimension 4" in result.stderr
    assert cli_run("seq2seq", s, t, "-o", tmp_path / "m.npz", "-v", vectors, *common).exit_code == 0
    assert cli_run("seq2seq", s, t, "-o", tmp_path / "m.npz", "-v", vectors, "--embed", "4", *common).exit_code == 0


def test_both_sides_from_stdin_is_a_usage_error(cli_run, tmp_path):
    result = cli_run("seq2seq", "-", "-", "-o", tmp_path / "m.npz", input="a b\nc d\n")
    assert result.exit_code == 2 and "only one of the parallel files can be stdin" in result.stderr



def test_options_that_would_do_nothing_are_usage_errors(cli_run, tmp_path):
    src, tgt = dates(3, 32)
    s, t = _write(tmp_path, "s", src), _write(tmp_path, "t", tgt)
    for extra, message in ((["--freeze-vectors"], "--freeze-vectors goes with -v"),
                           (["--patience", "2"], "--patience goes with --valid-src")):
        result = cli_run("seq2seq", s, t, "-o", tmp_path / "m.npz", *extra)
        assert result.exit_code == 2 and message in result.stderr, result.stderr
    result = cli_run("translate", "-m", tmp_path / "m.npz", "--attention-json", "-", input="1 may 1999\n")
    assert result.exit_code == 2 and "stdout holds the translations" in result.stderr
