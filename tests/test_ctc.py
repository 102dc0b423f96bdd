"""CTC: the loss against a brute-force sum over alignments, its gradient against finite differences,
the decoders, and the command on a synthetic spelling task."""

from __future__ import annotations

import random

import numpy as np
import pytest

from reference.seq2seq import ctc_brute_force, log_softmax

from seqkit_seq2seq.ctc import best_path, prefix_beam_search
from seqkit_seq2seq.kernels import ctc_loss_grad


@pytest.mark.parametrize("labels", [[1], [1, 2], [2, 2], [1, 2, 1], []])
def test_loss_equals_brute_force_over_alignments(labels):
    rng = np.random.default_rng(len(labels))
    logprobs = log_softmax(rng.normal(size=(5, 3)))
    grad = np.empty_like(logprobs)
    loss = ctc_loss_grad(logprobs, np.array(labels, dtype=np.int64), 0, grad)
    assert loss == pytest.approx(ctc_brute_force(logprobs, labels), rel=1e-10)


def test_gradient_matches_finite_differences():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(6, 4))
    labels = np.array([1, 3, 3], dtype=np.int64)
    grad = np.empty_like(logits)
    ctc_loss_grad(log_softmax(logits), labels, 0, grad)
    numeric = np.zeros_like(logits)
    scratch = np.empty_like(logits)
    for index in np.ndindex(logits.shape):
        up, down = logits.copy(), logits.copy()
        up[index] += 1e-6
        down[index] -= 1e-6
        numeric[index] = (ctc_loss_grad(log_softmax(up), labels, 0, scratch)
                          - ctc_loss_grad(log_softmax(down), labels, 0, scratch)) / 2e-6
    np.testing.assert_allclose(grad, numeric, atol=1e-7)


def test_infeasible_labelling_is_infinite_with_no_gradient():
    grad = np.ones((2, 3))
    assert ctc_loss_grad(log_softmax(np.zeros((2, 3))), np.array([1, 1], dtype=np.int64), 0, grad) == np.inf
    assert not grad.any()


def test_prefix_beam_search_beats_best_path_where_alignments_add_up():
    # best path says blank,blank; but "1" summed over its alignments is likelier than the empty output
    probs = np.array([[0.55, 0.45, 1e-9], [0.55, 0.45, 1e-9]])
    logprobs = np.log(probs)
    assert best_path(logprobs) == []
    assert prefix_beam_search(logprobs, 4) == [1]
    scores = {tuple(l): -ctc_brute_force(logprobs, l) for l in ([], [1], [2], [1, 1])}
    assert max(scores, key=scores.get) == (1,)


def spelling(seed: int, count: int) -> list[str]:
    """A word spelt by a stream of repeated character frames with pauses and noise frames inserted:
    'c c _ a # a a t t' -> 'c a t' (no letter twice in a row, so every output is recoverable)."""
    rng = random.Random(seed)
    lines = []
    for _ in range(count):
        word = [rng.choice("abcdefgh")]
        while len(word) < rng.randint(2, 5):
            word.append(rng.choice([c for c in "abcdefgh" if c != word[-1]]))
        frames = []
        for ch in word:
            frames += [ch] * rng.randint(1, 3) + (["_"] * rng.randint(0, 2))
        frames = [f if rng.random() > 0.1 else f"{f} {rng.choice('#%&')}" for f in frames]
        lines.append(" ".join(frames) + "\t" + " ".join(word))
    return lines


def test_ctc_command_learns_the_spelling_task(seqkit_proc, tmp_path):
    train, test = tmp_path / "train.tsv", tmp_path / "test.tsv"
    train.write_text("\n".join(spelling(1, 2000)) + "\n")
    test.write_text("\n".join(spelling(2, 200)) + "\n")
    model = tmp_path / "ctc.npz"
    proc = seqkit_proc("ctc", train, "-o", model, "--epochs", "8", "--lr", "0.01", "--threads", "2", "--valid", test)
    assert proc.returncode == 0, proc.stderr.decode()
    out = seqkit_proc("ctc-decode", "-m", model, test, "--beam", "4")
    assert out.returncode == 0, out.stderr.decode()
    cer = float(out.stderr.decode().split("CER ")[1].split("%")[0])
    assert cer < 5.0 and "over 200 lines with a reference\n" in out.stderr.decode()
    assert len(out.stdout.decode().splitlines()) == 200
    mixed = "\n".join(line.split("\t")[0] if i % 2 else line for i, line in enumerate(spelling(2, 200)))
    out = seqkit_proc("ctc-decode", "-m", model, "-", input=mixed.encode() + b"\n")  # half without a reference
    assert "over 100 lines with a reference (100 lines without one not scored)" in out.stderr.decode()


def test_lines_ctc_cannot_align_are_reported_not_dropped_silently(cli_run, tmp_path):
    from seqkit_seq2seq.ctc_command import alignable

    assert alignable(["a", "b"], ["x", "y"]) and not alignable(["a"], ["x", "y"])
    assert not alignable(["a", "b"], ["x", "x"]) and alignable(["a", "b", "c"], ["x", "x"])  # a blank between
    train = tmp_path / "train.tsv"
    train.write_text("a b c\tx y\nd\tx y z w\nb c\ty\n")
    result = cli_run("ctc", train, "-o", tmp_path / "m.npz", "--epochs", "1", "--hidden", "4", "--embed", "4")
    assert result.exit_code == 0 and "1 of 3 lines have more output tokens" in result.stderr, result.stderr
    train.write_text("d\tx y z w\n")
    result = cli_run("ctc", train, "-o", tmp_path / "m.npz", "--epochs", "1")
    assert result.exit_code == 1 and "no line has an output CTC can align" in result.stderr


def test_ctc_decode_keeps_one_line_per_input_line_and_streams(cli_run, tmp_path):
    """A blank input line gives a blank output line (the output stays aligned with the input), answers
    come per block as the input arrives."""
    from conftest import ask_while_open

    train = tmp_path / "train.tsv"
    train.write_text("\n".join(spelling(1, 200)) + "\n")
    model = tmp_path / "m.npz"
    assert cli_run("ctc", train, "-o", model, "--epochs", "1", "--hidden", "8", "--embed", "8", "-q").exit_code == 0
    lines = [line.split("\t")[0] for line in spelling(2, 3)]
    alone = [cli_run("ctc-decode", "-m", model, input=line + "\n").stdout for line in lines]
    result = cli_run("ctc-decode", "-m", model, input=f"{lines[0]}\n\n{lines[1]}\n   \n{lines[2]}\n")
    assert result.exit_code == 0
    assert result.stdout == alone[0] + "\n" + alone[1] + "\n" + alone[2]
    first, rest, code = ask_while_open(["ctc-decode", "-m", model, "-"], lines[0].encode() + b"\n")
    assert first.decode() == alone[0] and rest == b"" and code == 0


def test_a_diverging_ctc_run_stops_with_exit_3_and_no_model(seqkit_proc, tmp_path):
    train = tmp_path / "train.tsv"
    train.write_text("\n".join(spelling(1, 300)) + "\n")
    model = tmp_path / "m.npz"
    proc = seqkit_proc("ctc", train, "-o", model, "--epochs", "2", "--lr", "1e8", "--clip", "0", "-t", "2", "-q")
    err = proc.stderr.decode()
    assert proc.returncode == 3 and err.count("\n") == 1 and "lower --lr" in err, err
    assert not model.exists()
