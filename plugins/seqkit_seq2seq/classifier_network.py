"""The recurrent classifier: word embeddings -> the bidirectional stacked encoder (`encoder.BiEncoder`) ->
one vector per sentence (the maximum over time of every output unit, or the final forward and backward
states) -> dropout -> a linear layer -> softmax cross-entropy.

Batches are time-major [T, B] word ids padded with `<pad>`; the encoder passes padded steps through and
max-pooling looks only at real steps, so a sentence gets the same vector alone or beside longer ones.
The embedding gradient is returned sparse (the rows the batch used), so an update costs the batch's
words, not the vocabulary.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from seqkit.recurrent.output import gather_rows, scatter_add_rows, softmax_xent
from seqkit.recurrent.pool import Pool
from seqkit_seq2seq.classifier_kernels import max_pool, max_pool_backward
from seqkit_seq2seq.encoder import BiEncoder, init_encoder_params

SPECIALS = ("<pad>", "<unk>", "</s>")
PAD, UNK, EOS = range(3)
POOLINGS = ("max", "last")
EMBED_SCALE = 0.1


@dataclass
class Config:
    cell: str = "gru"
    layers: int = 1
    dim: int = 100
    hidden: int = 150
    pool: str = "max"
    dropout: float = 0.5

    def as_dict(self) -> dict:
        return asdict(self)


def init_params(config: Config, vocab: int, labels: int, rng: np.random.Generator,
                dtype=np.float32) -> dict[str, np.ndarray]:
    """Embeddings uniform in +-0.1 (`<pad>` zero), recurrent and output weights uniform in +-1/sqrt(fan-in
    of the recurrence), as PyTorch initialises them."""
    E, H = config.dim, config.hidden
    params = {"embed": rng.uniform(-EMBED_SCALE, EMBED_SCALE, size=(vocab, E))}
    params["embed"][PAD] = 0.0
    params.update(init_encoder_params(config.cell, config.layers, E, H, rng, scale=1.0 / math.sqrt(H)))
    bound = 1.0 / math.sqrt(2 * H)
    params["Wout"] = rng.uniform(-bound, bound, size=(2 * H, labels))
    params["bout"] = rng.uniform(-bound, bound, size=labels)
    return {name: np.ascontiguousarray(value, dtype=dtype) for name, value in params.items()}


class Network:
    """One batch at a time: `forward`, then `loss_and_backward` (training) or `probabilities`."""

    def __init__(self, config: Config, params: dict[str, np.ndarray], *, batch: int, max_steps: int,
                 pool: Pool | None = None):
        self.config, self.params, self.batch = config, params, batch
        self.pool = pool or Pool(1)
        self.dtype = dtype = params["Wout"].dtype
        E, H = config.dim, config.hidden
        self.encoder = BiEncoder(config.cell, params, config.layers, batch=batch, max_steps=max_steps,
                                 dropout=config.dropout, pool=self.pool)
        self.max_steps, self.H = max_steps, H
        self.x = np.empty((max_steps, batch, E), dtype)
        self.dout = np.empty((max_steps, batch, 2 * H), dtype)
        self.pooled = np.empty((batch, 2 * H), dtype)
        self.argmax = np.zeros((batch, 2 * H), np.int64)
        self.losses = np.empty(batch, np.float64)
        self.mask: np.ndarray | None = None

    def forward(self, ids: np.ndarray, lengths: np.ndarray, *, train: bool = False,
                rng: np.random.Generator | None = None) -> np.ndarray:
        """The sentence vectors [B, 2H] of ids [T, B] (before dropout; a view valid until the next call)."""
        T, B = ids.shape
        self.ids, self.lengths = ids, lengths.astype(np.int64)
        x = self.x[:T]
        gather_rows(self.params["embed"], ids.reshape(-1), x.reshape(T * B, -1))
        out, hf, hb = self.encoder.forward(x, self.lengths, train=train, rng=rng)
        if self.config.pool == "max":
            max_pool(out, self.lengths, self.pooled, self.argmax)
        else:
            self.pooled[:, :self.H] = hf
            self.pooled[:, self.H:] = hb
        self.mask = None
        if train and self.config.dropout > 0:
            keep = 1.0 - self.config.dropout
            self.mask = (rng.random(self.pooled.shape) < keep).astype(self.dtype) / self.dtype.type(keep)
        return self.pooled

    def _top(self) -> np.ndarray:
        return self.pooled if self.mask is None else self.pooled * self.mask

    def probabilities(self) -> np.ndarray:
        """Softmax over the labels [B, labels] of the last forward pass (float64)."""
        scores = self._top().astype(np.float64) @ self.params["Wout"] + self.params["bout"]
        scores = np.exp(scores - scores.max(axis=1, keepdims=True))
        return scores / scores.sum(axis=1, keepdims=True)

    def loss_and_backward(self, targets: np.ndarray) -> tuple[float, int, dict[str, np.ndarray], np.ndarray,
                                                               np.ndarray]:
        """(summed loss, examples, gradients of the mean loss, embedding rows used, their gradients);
        targets [B] are label ids, -1 for padding rows (no loss, no gradient)."""
        p, B, H = self.params, self.batch, self.H
        T = self.ids.shape[0]
        count = int((targets >= 0).sum())
        top = self._top()
        logits = top @ p["Wout"]
        dbias = np.zeros(p["bout"].shape, self.dtype)
        softmax_xent(logits, p["bout"], targets, 1.0 / max(count, 1), self.losses, dbias)
        grads = {"bout": dbias, "Wout": top.T @ logits}
        dtop = logits @ p["Wout"].T
        if self.mask is not None:
            dtop *= self.mask
        dout = self.dout[:T]
        if self.config.pool == "max":
            max_pool_backward(dtop, self.argmax, dout)
            dh_fwd = dh_bwd = None
        else:
            dout[:] = 0
            dh_fwd, dh_bwd = np.ascontiguousarray(dtop[:, :H]), np.ascontiguousarray(dtop[:, H:])
        dx = self.encoder.backward(dout, dh_fwd, dh_bwd, grads)
        rows, inverse = np.unique(self.ids.reshape(-1), return_inverse=True)
        row_grads = np.zeros((len(rows), dx.shape[2]), self.dtype)
        scatter_add_rows(inverse.reshape(-1), dx.reshape(T * B, -1), row_grads)
        keep = rows != PAD  # padding reads the zero row and must never learn
        return float(self.losses[:B].sum()), count, grads, rows[keep], row_grads[keep]
