"""CTC on the bidirectional encoder: a softmax over the output symbols plus a blank (id 0) at every
input step, trained by the CTC loss (forward-backward in log space, `kernels.ctc_loss_grad`), decoded
by best path (argmax, merge repeats, drop blanks) or prefix beam search."""

from __future__ import annotations

import math
from collections import defaultdict

import numpy as np

from seqkit_seq2seq.encoder import BiEncoder, init_encoder_params
from seqkit.recurrent.output import gather_rows, scatter_add_rows
from seqkit_seq2seq.kernels import ctc_loss_grad

BLANK = 0


def init_ctc_params(cell: str, layers: int, vocab_in: int, vocab_out: int, embed: int, hidden: int,
                    rng: np.random.Generator, scale: float = 0.1) -> dict[str, np.ndarray]:
    params = {"embed": rng.uniform(-scale, scale, (vocab_in, embed)).astype(np.float32)}
    params.update(init_encoder_params(cell, layers, embed, hidden, rng, scale=scale))
    params["W"] = rng.uniform(-scale, scale, (2 * hidden, vocab_out)).astype(np.float32)
    params["b"] = np.zeros(vocab_out, np.float32)
    return params


def log_softmax(x: np.ndarray) -> np.ndarray:
    top = x.max(axis=-1, keepdims=True)
    return x - top - np.log(np.exp(x - top).sum(axis=-1, keepdims=True))


class CtcNetwork:
    def __init__(self, cell: str, layers: int, params: dict[str, np.ndarray], *, batch: int, max_steps: int, pool=None):
        self.params, self.batch = params, batch
        self.encoder = BiEncoder(cell, params, layers, batch=batch, max_steps=max_steps, pool=pool)

    def logprobs(self, x_ids: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        """[T, B, V] log-probabilities for padded input ids [T, B]."""
        T, B = x_ids.shape
        p = self.params
        self.ids, self.lengths = x_ids, lengths
        x = np.empty((T, B, p["embed"].shape[1]), p["embed"].dtype)
        gather_rows(p["embed"], x_ids.reshape(-1), x.reshape(T * B, -1))
        self.enc, _, _ = self.encoder.forward(x, lengths)
        logits = self.enc.reshape(T * B, -1) @ p["W"] + p["b"]
        return log_softmax(logits.astype(np.float64)).reshape(T, B, -1)

    def loss_and_backward(self, x_ids, lengths, labels: list[np.ndarray]) -> tuple[float, dict[str, np.ndarray]]:
        """Summed CTC loss over the batch and gradients of the mean loss per sequence."""
        logprobs = self.logprobs(x_ids, lengths)
        T, B, V = logprobs.shape
        dlogits = np.zeros((T, B, V))
        total = 0.0
        real = [b for b in range(B) if labels[b] is not None]
        for b in real:
            grad = np.zeros((int(lengths[b]), V))
            loss = ctc_loss_grad(np.ascontiguousarray(logprobs[:lengths[b], b]), labels[b], BLANK, grad)
            if math.isnan(loss):
                return loss, {}  # the network diverged (an unalignable line is +inf, skipped below)
            if math.isfinite(loss):
                total += loss
                dlogits[:lengths[b], b] = grad / len(real)
        p = self.params
        flat = dlogits.reshape(T * B, V).astype(np.float32)
        grads = {"W": self.enc.reshape(T * B, -1).T @ flat, "b": flat.sum(axis=0)}
        denc = (flat @ p["W"].T).reshape(T, B, -1)
        dx = self.encoder.backward(denc, None, None, grads)
        grads["embed"] = np.zeros_like(p["embed"])
        scatter_add_rows(x_ids.reshape(-1), dx.reshape(T * B, -1), grads["embed"])
        return total, grads


def best_path(logprobs: np.ndarray) -> list[int]:
    """Argmax per step, repeats merged, blanks dropped."""
    best = np.argmax(logprobs, axis=1)
    return [int(k) for i, k in enumerate(best) if k != BLANK and (i == 0 or best[i - 1] != k)]


def prefix_beam_search(logprobs: np.ndarray, beam: int) -> list[int]:
    """The most probable labelling by prefix beam search: per prefix, the probability of its alignments
    ending in a blank and in its last symbol, summed over alignments (log space)."""
    beams: dict[tuple, tuple[float, float]] = {(): (0.0, -math.inf)}
    for frame in logprobs:
        nxt: dict[tuple, list[float]] = defaultdict(lambda: [-math.inf, -math.inf])
        for prefix, (p_blank, p_last) in beams.items():
            total = np.logaddexp(p_blank, p_last)
            entry = nxt[prefix]
            entry[0] = np.logaddexp(entry[0], total + frame[BLANK])
            if prefix:
                entry[1] = np.logaddexp(entry[1], p_last + frame[prefix[-1]])
            for k in range(len(frame)):
                if k == BLANK:
                    continue
                extended = nxt[prefix + (k,)]
                # a repeated symbol starts a new one only after a blank
                source = p_blank if prefix and prefix[-1] == k else total
                extended[1] = np.logaddexp(extended[1], source + frame[k])
        ranked = sorted(nxt.items(), key=lambda item: -np.logaddexp(*item[1]))[:beam]
        beams = {prefix: (pb, pl) for prefix, (pb, pl) in ranked}
    return list(max(beams.items(), key=lambda item: np.logaddexp(*item[1]))[0])


def edit_distance(a, b) -> int:
    row = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        prev, row[0] = row[0], i
        for j, y in enumerate(b, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (x != y))
    return row[-1]
