"""The bidirectional, stacked recurrent encoder shared by the attention model and CTC.

Each layer is a forward and a reverse `seqkit.recurrent` layer reading the same input; their outputs
are concatenated, [S, B, 2H], and feed the next layer (through dropout in training). Padded steps
(`lengths`) pass the state through unchanged, so the reverse layer starts at each sentence's last
real word and a batch of mixed lengths costs what its longest sentence costs, nothing more.
"""

from __future__ import annotations

import numpy as np

from seqkit.recurrent.layers import init_layer_params, make_layer
from seqkit.recurrent.pool import Pool


def init_encoder_params(cell: str, layers: int, input_size: int, hidden: int, rng: np.random.Generator, *,
                        scale: float, prefix: str = "enc") -> dict[str, np.ndarray]:
    params: dict[str, np.ndarray] = {}
    for layer in range(layers):
        size = input_size if layer == 0 else 2 * hidden
        for side in "fb":
            params.update(init_layer_params(cell, size, hidden, rng, tag=f"{prefix}{layer}{side}", scale=scale))
    return params


class BiEncoder:
    """Forward and backward over [S <= max_steps, batch, input] into buffers allocated once."""

    def __init__(self, cell: str, params: dict[str, np.ndarray], layers: int, *, batch: int, max_steps: int,
                 dropout: float = 0.0, pool: Pool | None = None, prefix: str = "enc"):
        self.cell, self.dropout, self.batch = cell, dropout, batch
        self.pool = pool or Pool(1)
        # the two directions run on the pool's threads side by side, so each layer keeps its own
        # products on its thread (a pool task may not wait on the same pool)
        alone = Pool(1)
        self.fwd = [make_layer(cell, params, f"{prefix}{i}f", batch=batch, max_steps=max_steps, pool=alone)
                    for i in range(layers)]
        self.bwd = [make_layer(cell, params, f"{prefix}{i}b", batch=batch, max_steps=max_steps, reverse=True,
                               pool=alone) for i in range(layers)]
        self.hidden = H = self.fwd[0].hidden
        self.dtype = dtype = self.fwd[0].dtype
        self.outs = [np.empty((max_steps, batch, 2 * H), dtype) for _ in range(layers)]
        self.inputs: list[np.ndarray] = []
        self.masks: list[np.ndarray | None] = []
        self.length = 0

    def forward(self, x: np.ndarray, lengths: np.ndarray, *, train: bool = False,
                rng: np.random.Generator | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(outputs [S, B, 2H], the top forward layer's final h, the top reverse layer's final h)."""
        S, H = x.shape[0], self.hidden
        self.length, self.inputs, self.masks = S, [], []
        layer_input = x
        for index, (fwd, bwd) in enumerate(zip(self.fwd, self.bwd)):
            mask = None
            if index > 0 and train and self.dropout > 0:
                keep = 1.0 - self.dropout
                mask = (rng.random(layer_input.shape) < keep).astype(self.dtype) / self.dtype.type(keep)
                layer_input = layer_input * mask
            self.masks.append(mask)
            self.inputs.append(layer_input)
            self.pool.run([lambda: fwd.forward(layer_input, None, lengths),
                           lambda: bwd.forward(layer_input, None, lengths)])
            out = self.outs[index][:S]
            out[:, :, :H] = fwd.outputs()
            out[:, :, H:] = bwd.outputs()
            layer_input = out
        return layer_input, self.fwd[-1].final_state()[0], self.bwd[-1].final_state()[0]

    def _dfinal(self, dh: np.ndarray | None):
        if dh is None:
            return None
        return (dh,) if self.cell != "lstm" else (dh, np.zeros_like(dh))

    def backward(self, dout: np.ndarray, dh_fwd: np.ndarray | None, dh_bwd: np.ndarray | None,
                 grads: dict[str, np.ndarray]) -> np.ndarray:
        """dL/dx [S, B, input] given dL/d outputs and dL/d the top layer's final states; fills `grads`.

        Both directions' backward passes run at once: each is sequential in time, so two threads."""
        H = self.hidden
        top = len(self.fwd) - 1
        for index in range(top, -1, -1):
            fwd, bwd = self.fwd[index], self.bwd[index]
            d_f = np.ascontiguousarray(dout[:, :, :H])
            d_b = np.ascontiguousarray(dout[:, :, H:])
            final_f = self._dfinal(dh_fwd if index == top else None)
            final_b = self._dfinal(dh_bwd if index == top else None)
            (dx_f, _), (dx_b, _) = self.pool.run([lambda: fwd.backward(d_f, grads, final_f),
                                                   lambda: bwd.backward(d_b, grads, final_b)])
            dout = dx_f + dx_b
            if self.masks[index] is not None:
                dout *= self.masks[index]
        return dout
