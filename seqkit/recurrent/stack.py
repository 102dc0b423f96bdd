"""Recurrent layers stacked: each layer reads the one below's outputs, with dropout between them.

Dropout is inverted dropout on the non-recurrent connections (Zaremba et al.): always between layers,
and on the stack's own input (with `dropout_input`) and output (with `dropout_output`). Masks are drawn
up front for a pass, bottom up (input of layer 0, 1, ..., then the output), from the caller's generator.

A forward pass can run in blocks of steps through all layers, calling `on_block(t0, t1)` as soon as
the top layer's outputs for steps [t0, t1) are ready, so a caller can overlap its own work on them
(a language model's output layer) with the rest of the recurrence.
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from seqkit.recurrent.layers import LayerState, RecurrentLayer


class Stack:
    """Layers applied in order; layer i's `input_size` must equal layer i-1's `hidden`. All layers
    share the batch size and step capacity."""

    def __init__(self, layers: Sequence[RecurrentLayer], *, dropout: float = 0.0, dropout_input: bool = True,
                 dropout_output: bool = True):
        if not layers:
            raise ValueError("a stack needs at least one layer")
        for below, above in zip(layers, layers[1:]):
            if above.input_size != below.hidden or (above.batch, above.max_steps) != (below.batch, below.max_steps):
                raise ValueError(f"layer sizes do not chain: {below.hidden} outputs into {above.input_size} inputs "
                                 f"(or batch/steps differ)")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout {dropout} is not in [0, 1)")
        self.layers = list(layers)
        self.dropout, self.dropout_input, self.dropout_output = dropout, dropout_input, dropout_output
        first, top = self.layers[0], self.layers[-1]
        self.batch, self.max_steps, self.dtype = first.batch, first.max_steps, first.dtype
        shape = (self.max_steps, self.batch)
        # dropped[i]: the input of layer i after dropout (i = len(layers): the stack's output)
        self.dropped = [np.empty(shape + (first.input_size,), self.dtype)] + \
                       [np.empty(shape + (layer.hidden,), self.dtype) for layer in self.layers]
        self.dtop = np.empty(shape + (top.hidden,), self.dtype)
        self.masks: list[np.ndarray | None] = [None] * (len(self.layers) + 1)
        self.inputs: list[np.ndarray] = []      # what each layer reads in the current pass
        self.length = 0

    @property
    def input_size(self) -> int:
        return self.layers[0].input_size

    @property
    def hidden(self) -> int:
        return self.layers[-1].hidden

    def zero_state(self) -> list[LayerState]:
        return [layer.zero_state() for layer in self.layers]

    def forward(self, x: np.ndarray, state: Sequence[LayerState] | None = None, *, train: bool = False,
                rng: np.random.Generator | None = None, lengths: np.ndarray | None = None,
                blocks: Sequence[tuple[int, int]] | None = None,
                on_block: Callable[[int, int], None] | None = None, split: bool = True) -> list[LayerState]:
        """Run all layers over `x` [T, B, input] from `state` (zeros if None); returns the final state of
        every layer. Dropout applies when `train` and `dropout` > 0 (then `rng` draws the masks).

        With `blocks` ([t0, t1) ranges covering 0..T in order), the steps run block by block through all
        layers and `on_block(t0, t1)` is called when the output for the block is ready; the layers' large
        products are then not split across the pool (the caller uses the other threads). A stack with a
        reverse layer runs whole layers and calls `on_block` for every block at the end. With `split`
        False the first layer's input products run on this thread alone too (the pool's workers are busy
        with the caller's own work, e.g. a `Stream` still running)."""
        T = x.shape[0]
        if x.shape[1:] != (self.batch, self.input_size) or not 0 < T <= self.max_steps:
            raise ValueError(f"input {x.shape} does not fit a stack built for "
                             f"(<= {self.max_steps}, {self.batch}, {self.input_size})")
        state = self.zero_state() if state is None else state
        self.length = T
        self._draw_masks(T, 1.0 - self.dropout if train else 1.0, rng)
        first_input = x
        if self.masks[0] is not None:
            first_input = np.multiply(x, self.masks[0], out=self.dropped[0][:T])
        self.inputs = [first_input] + [self._dropped_or(i, self.layers[i - 1].outputs(T))
                                       for i in range(1, len(self.layers))]
        for layer, layer_input, layer_state in zip(self.layers, self.inputs, state):
            layer.begin(layer_input, layer_state, lengths)
        reverse = any(layer.reverse for layer in self.layers)
        if blocks is None or reverse:
            for index, layer in enumerate(self.layers):
                self._apply_mask(index, 0, T)
                layer.input_products(0, T, split=True)
                layer.steps(0, T)
            self._apply_mask(len(self.layers), 0, T)
            for t0, t1 in (blocks or []) if on_block else []:
                on_block(t0, t1)
        else:
            self.layers[0].input_products(0, T, split=split)
            for t0, t1 in blocks:
                for index, layer in enumerate(self.layers):
                    if index > 0:
                        self._apply_mask(index, t0, t1)
                        layer.input_products(t0, t1)
                    layer.steps(t0, t1)
                self._apply_mask(len(self.layers), t0, t1)
                if on_block:
                    on_block(t0, t1)
        return [layer.final_state() for layer in self.layers]

    def output(self) -> np.ndarray:
        """[T, B, hidden]: the stack's output of the current pass (after dropout), valid until the next."""
        return self._dropped_or(len(self.layers), self.layers[-1].outputs(self.length))

    def _draw_masks(self, T: int, keep: float, rng: np.random.Generator | None) -> None:
        """Masks for each layer's input and the output, drawn in that order (None where none applies)."""
        widths = [self.input_size] + [layer.hidden for layer in self.layers]
        wanted = [self.dropout_input] + [True] * (len(self.layers) - 1) + [self.dropout_output]
        if keep < 1.0 and rng is None:
            raise ValueError("dropout in training needs a random generator")
        self.masks = [None if keep >= 1.0 or not want else
                      (rng.random((T, self.batch, width)) < keep).astype(self.dtype) * self.dtype.type(1.0 / keep)
                      for width, want in zip(widths, wanted)]

    def _dropped_or(self, index: int, outputs: np.ndarray) -> np.ndarray:
        """Where the input of layer `index` (or the output, index = len(layers)) lives: its dropout
        buffer, or the layer below's outputs themselves when no mask applies."""
        return outputs if self.masks[index] is None else self.dropped[index][: len(outputs)]

    def _apply_mask(self, index: int, t0: int, t1: int) -> None:
        mask = self.masks[index]
        if index > 0 and mask is not None:
            below = self.layers[index - 1].outputs(self.length)
            np.multiply(below[t0:t1], mask[t0:t1], out=self.dropped[index][t0:t1])

    def backward(self, dout: np.ndarray, grads: dict[str, np.ndarray],
                 dfinal: Sequence[LayerState] | None = None,
                 need_dinitial: bool = False, defer=None) -> tuple[np.ndarray, list[LayerState] | None]:
        """Gradients of the current pass given `dout` [T, B, hidden] (dL/d output; not modified) and
        optionally `dfinal` (dL/d each layer's final state). Fills `grads` with every layer's weight
        gradients and returns (dL/dx [T, B, input], a buffer the next call overwrites; dL/d each layer's
        initial state if `need_dinitial`, else None). `defer`: each layer's weight gradients go to it as a
        task (see `RecurrentLayer.backward`)."""
        T = self.length
        top = len(self.layers)
        dx = dout
        if self.masks[top] is not None:
            dx = np.multiply(dout, self.masks[top], out=self.dtop[:T])
        dinitial: list[LayerState] = []
        for index in range(top - 1, -1, -1):
            if index < top - 1 and self.masks[index + 1] is not None:
                dx *= self.masks[index + 1]
            dx, layer_dinitial = self.layers[index].backward(dx, grads, None if dfinal is None else dfinal[index],
                                                              need_dinitial, defer)
            dinitial.append(layer_dinitial)
        if self.masks[0] is not None:
            dx *= self.masks[0]
        return dx, (dinitial[::-1] if need_dinitial else None)
