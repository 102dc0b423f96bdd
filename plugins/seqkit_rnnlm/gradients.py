"""The gradient of a language model's parameters after one segment: its norm and the SGD step."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from seqkit.recurrent.pool import Pool
from seqkit.recurrent.output import subtract_rows
from seqkit_rnnlm.kernels import scaled_subtract, sum_squares


@dataclass
class Gradients:
    """The gradient of every parameter: dense arrays, except (untied) the embedding, whose gradient is
    `embed_rows` at rows `embed_ids` and zero elsewhere. `known_squares` holds sums of squares already
    taken while the data was in cache (name -> value), so the clipping norm need not reread them."""

    dense: dict[str, np.ndarray]
    embed_ids: np.ndarray | None = None
    embed_rows: np.ndarray | None = None
    known_squares: dict[str, float] = field(default_factory=dict)

    def squared_norm(self) -> float:
        total = sum(self.known_squares.values())
        for name, grad in self.dense.items():
            if name not in self.known_squares:
                flat = grad.reshape(1, -1) if grad.ndim == 1 else grad
                total += sum_squares(flat, 0, flat.shape[1])
        if self.embed_rows is not None:
            total += sum_squares(self.embed_rows, 0, self.embed_rows.shape[1])
        return float(total)

    def to_dense(self, params: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Every gradient as a full array shaped like its parameter (for Adam and the tests)."""
        grads = dict(self.dense)
        if self.embed_ids is not None:
            embed = np.zeros_like(params["embed"])
            embed[self.embed_ids] = self.embed_rows
            grads["embed"] = embed
        return {name: grads[name] for name in params}

    def sgd_step(self, params: dict[str, np.ndarray], coef: float, pool: Pool) -> None:
        """params -= coef * gradient, in place; large arrays split across the pool."""
        for name, grad in self.dense.items():
            param, flat_grad = params[name].reshape(-1), grad.reshape(-1)
            pieces = pool.ranges(param.size) if param.size >= 1 << 16 else [(0, param.size)]
            pool.run([lambda lo=lo, hi=hi: scaled_subtract(param[lo:hi], flat_grad[lo:hi], coef)
                      for lo, hi in pieces])
        if self.embed_ids is not None:
            subtract_rows(params["embed"], self.embed_ids, self.embed_rows, coef)
