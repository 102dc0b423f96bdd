"""A stacked recurrent language model with a hand-written forward and backward pass.

Shapes are time-major: a segment is [T, B]. Per layer, the input-side products for all T steps are one
GEMM; only the recurrent product runs per step, followed by a fused Numba gate kernel; the weight
gradients are again one GEMM each over all steps. The output layer (about three quarters of the work
at PTB's 10k words) runs in blocks of time steps: per block one GEMM for the logits, one fused pass
for softmax, cross-entropy, its gradient (written over the logits) and the bias gradient, and one GEMM
for the gradient of the top hidden layer. In training the forward pass hands each block to a worker
thread as soon as the top layer has produced it, so the output layer overlaps the (sequential)
recurrence. Its weight gradient, which nothing else waits for, is computed in column blocks in the
background while the recurrent layers run backward. All threads come from one `Pool`, with OpenBLAS
single-threaded (`blas.py`).

`Network` allocates every buffer once for segments of up to `bptt` steps; training reuses it for every
batch. Dropout (inverted, on the non-recurrent connections as in Zaremba et al.) applies to each
layer's input and to the softmax input. The embedding gradient is kept sparse (the rows of the words
in the segment) unless the embedding is tied to the output layer.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from seqkit_rnnlm.kernels import (gather_rows, gru_backward, gru_forward, log_softmax_at, lstm_backward,
                                  lstm_forward, rnn_backward, rnn_forward, scaled_subtract, scatter_add_rows,
                                  softmax_xent, subtract_rows, sum_squares)
from seqkit_rnnlm.pool import Pool, Stream, TaskQueue

GATES = {"rnn": 1, "gru": 3, "lstm": 4}
BLOCK_ROWS = 140  # rows (steps x batch) per block handed from the forward pass to the output layer
WEIGHT_GRAD_BLOCKS = 8  # column blocks of the output weight gradient, shared out between the threads


@dataclass
class Config:
    cell: str = "lstm"
    layers: int = 2
    embed: int = 200
    hidden: int = 200
    tied: bool = False
    dropout: float = 0.0
    init_scale: float = 0.1
    forget_bias: float = 0.0

    def as_dict(self) -> dict:
        return asdict(self)


def init_params(config: Config, vocab_size: int, rng: np.random.Generator, dtype=np.float32) -> dict[str, np.ndarray]:
    """Uniform(-s, s) everywhere (Zaremba et al.), plus an optional LSTM forget-gate bias."""
    if config.tied and config.embed != config.hidden:
        raise ValueError("tied embeddings need --embed equal to --hidden")
    s = config.init_scale
    gates = GATES[config.cell]
    H = config.hidden

    def uniform(*shape):
        return rng.uniform(-s, s, size=shape).astype(dtype)

    params = {"embed": uniform(vocab_size, config.embed)}
    for layer in range(config.layers):
        inp = config.embed if layer == 0 else H
        params[f"Wx{layer}"] = uniform(inp, gates * H)
        params[f"Wh{layer}"] = uniform(H, gates * H)
        params[f"b{layer}"] = uniform(gates * H)
        if config.cell == "gru":
            params[f"bh{layer}"] = uniform(gates * H)
        if config.cell == "lstm" and config.forget_bias:
            params[f"b{layer}"][H:2 * H] += dtype(config.forget_bias)
    if not config.tied:
        params["Wout"] = uniform(H, vocab_size)
    params["bout"] = uniform(vocab_size)
    return params


def zero_state(config: Config, batch: int, dtype=np.float32) -> list[tuple[np.ndarray, np.ndarray]]:
    return [(np.zeros((batch, config.hidden), dtype), np.zeros((batch, config.hidden), dtype))
            for _ in range(config.layers)]


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


class Network:
    """Forward and backward passes over [T <= bptt, B] segments into buffers allocated once.

    `train_step` is the training path: forward, loss and gradients, with the output layer of each block
    of time steps handed to a worker as soon as the recurrent layers have produced it. Otherwise
    `forward` runs the recurrent layers and returns the final state; then `loss_and_backward`,
    `target_logprobs` (scoring) or `logits` (sampling). Parameters are read from `params` at every
    call, so in-place updates between calls are seen.
    """

    def __init__(self, config: Config, params: dict[str, np.ndarray], batch: int, bptt: int,
                 pool: Pool | None = None):
        self.config, self.params, self.batch, self.bptt = config, params, batch, bptt
        self.pool = pool or Pool(1)
        self.dtype = dtype = params["embed"].dtype
        E, H, V = config.embed, config.hidden, params["bout"].shape[0]
        layer_class = {"lstm": LstmLayer, "gru": GruLayer, "rnn": RnnLayer}[config.cell]
        self.layers = [layer_class(params, i, E if i == 0 else H, H, batch, bptt, dtype, self.pool)
                       for i in range(config.layers)]
        self.embedded = np.empty((bptt, batch, E), dtype)
        self.masked = [np.empty((bptt, batch, H), dtype) for _ in range(config.layers)]  # inputs 1.., top
        self.logit_buffer = np.empty((bptt * batch, V), dtype)
        self.dtop = np.empty((bptt * batch, H), dtype)
        self.losses = np.empty(bptt * batch, np.float64)
        self.dbias = np.empty((len(self._blocks(bptt)), V), dtype)
        self.grad_buffers: dict[str, np.ndarray] = {}
        self.masks: list[np.ndarray | None] = []
        self.steps = 0
        self.inputs = np.zeros((0, batch), np.int64)

    def _blocks(self, T: int) -> list[tuple[int, int]]:
        """The [t0, t1) blocks of time steps that the forward pass hands to the output layer."""
        steps = max(1, BLOCK_ROWS // self.batch)
        return [(t0, min(t0 + steps, T)) for t0 in range(0, T, steps)]

    # -- forward ---------------------------------------------------------------------------------------

    def forward(self, inputs: np.ndarray, state, rng: np.random.Generator | None = None, train: bool = False,
                on_block=None):
        """Run the recurrent layers over `inputs` [T, B] from `state`; returns the state after the segment.

        With `on_block`, the steps run block by block through all layers and `on_block(t0, t1)` is
        called as soon as the top layer's output for steps [t0, t1) is ready."""
        T, B = inputs.shape
        if T > self.bptt or B != self.batch:
            raise ValueError(f"segment {inputs.shape} does not fit a network built for ({self.bptt}, {self.batch})")
        self.steps, self.inputs = T, inputs
        self._draw_masks(T, 1.0 - self.config.dropout if train else 1.0, rng)
        x = self.embedded[:T]
        gather_rows(self.params["embed"], inputs.reshape(-1), x.reshape(T * B, -1))
        if self.masks[0] is not None:
            x *= self.masks[0]
        self.layer_inputs = [x] + [self._masked_or(i, self.layers[i - 1].outputs(T)) for i in range(1, len(self.layers))]
        self.top = self._masked_or(len(self.layers), self.layers[-1].outputs(T)).reshape(T * B, -1)
        for layer, layer_state in zip(self.layers, state):
            layer.begin(layer_state)
        self.layers[0].input_products(x, 0, T, split=True)
        for t0, t1 in self._blocks(T) if on_block else [(0, T)]:
            self._forward_block(t0, t1, split=on_block is None)
            if on_block:
                on_block(t0, t1)
        return [layer.final_state(T) for layer in self.layers]

    def _forward_block(self, t0: int, t1: int, split: bool) -> None:
        """Steps [t0, t1) of every layer, applying dropout to each layer's output as it is produced."""
        for index, layer in enumerate(self.layers):
            if index > 0:
                self._apply_mask(index, t0, t1)
                layer.input_products(self.layer_inputs[index], t0, t1, split)
            layer.steps(t0, t1)
        self._apply_mask(len(self.layers), t0, t1)

    def _draw_masks(self, T: int, keep: float, rng) -> None:
        """Dropout masks for each layer's input and the softmax input, drawn up front in that order."""
        widths = [self.config.embed] + [self.config.hidden] * len(self.layers)
        self.masks = [None if keep >= 1.0 else
                      (rng.random((T, self.batch, width)) < keep).astype(self.dtype) * self.dtype.type(1.0 / keep)
                      for width in widths]

    def _masked_or(self, index: int, outputs: np.ndarray) -> np.ndarray:
        """Where the input of layer `index` (or the top, index = layers) lives: the mask buffer, or the
        previous layer's outputs themselves when there is no dropout."""
        return outputs if self.masks[index] is None else self.masked[index - 1][: len(outputs)]

    def _apply_mask(self, index: int, t0: int, t1: int) -> None:
        mask = self.masks[index]
        if mask is not None:
            np.multiply(self.layers[index - 1].hs[t0 + 1:t1 + 1], mask[t0:t1], out=self.masked[index - 1][t0:t1])

    def _output_weight(self) -> np.ndarray:
        return self.params["embed"].T if self.config.tied else self.params["Wout"]

    def logits(self) -> np.ndarray:
        """[T*B, V] output scores (bias included) of the last forward pass."""
        rows = self.steps * self.batch
        out = self.pool.matmul(self.top, self._output_weight(), self.logit_buffer[:rows])
        out += self.params["bout"]
        return out

    def target_logprobs(self, targets: np.ndarray) -> np.ndarray:
        """Natural-log probability of each target, time-major [T, B] flattened (no gradient)."""
        rows = self.steps * self.batch
        flat = targets.reshape(-1)
        out = np.empty(rows, np.float64)
        weight, bias, logits = self._output_weight(), self.params["bout"], self.logit_buffer

        def piece(lo: int, hi: int) -> None:
            np.matmul(self.top[lo:hi], weight, out=logits[lo:hi])
            log_softmax_at(logits[lo:hi], bias, flat[lo:hi], out[lo:hi])

        self.pool.run([lambda lo=lo, hi=hi: piece(lo, hi) for lo, hi in self.pool.ranges(rows)])
        return out

    # -- loss and backward -----------------------------------------------------------------------------

    def train_step(self, inputs: np.ndarray, targets: np.ndarray, state, rng: np.random.Generator | None = None,
                   ) -> tuple[float, Gradients, list]:
        """Forward (with dropout) and backward over one segment: (mean loss, gradients, final state).

        Equal, bit for bit, to `forward(train=True)` followed by `loss_and_backward`; the output layer of
        each block of steps runs on a worker while the recurrent layers compute the next block."""
        if targets.shape != inputs.shape:
            raise ValueError(f"targets {targets.shape} do not match the inputs {inputs.shape}")
        flat = targets.reshape(-1)
        stream = Stream(self.pool)
        try:
            new_state = self.forward(inputs, state, rng, train=True,
                                     on_block=lambda t0, t1: stream.put(self._output_task(flat, t0, t1)))
            stream.finish()
        except BaseException:
            stream.abort()
            raise
        return self._loss(), self._backward(), new_state

    def loss_and_backward(self, targets: np.ndarray) -> tuple[float, Gradients]:
        """Mean cross-entropy over the last forward pass's segment and the gradient of every parameter."""
        if targets.shape != (self.steps, self.batch):
            raise ValueError(f"targets {targets.shape} do not match the segment ({self.steps}, {self.batch})")
        flat = targets.reshape(-1)
        queue = TaskQueue([self._output_task(flat, t0, t1) for t0, t1 in self._blocks(self.steps)])
        self.pool.run([queue.drain] * self.pool.size)
        return self._loss(), self._backward()

    def _output_task(self, targets: np.ndarray, t0: int, t1: int):
        """The output layer for steps [t0, t1): logits, softmax cross-entropy with its gradient written
        over the logits, the bias gradient of the block, and the gradient of the top hidden layer."""
        lo, hi = t0 * self.batch, t1 * self.batch
        slot = t0 // max(1, BLOCK_ROWS // self.batch)
        weight, bias, logits = self._output_weight(), self.params["bout"], self.logit_buffer
        scale = 1.0 / (self.steps * self.batch)

        def task() -> None:
            np.matmul(self.top[lo:hi], weight, out=logits[lo:hi])
            self.dbias[slot].fill(0)
            softmax_xent(logits[lo:hi], bias, targets[lo:hi], scale, self.losses[lo:hi], self.dbias[slot])
            np.matmul(logits[lo:hi], weight.T, out=self.dtop[lo:hi])

        return task

    def _loss(self) -> float:
        return float(self.losses[: self.steps * self.batch].mean())

    def _backward(self) -> Gradients:
        """Gradients, given the output layer's results: the recurrent layers top down on this thread
        while a worker computes the output weight gradient; then the embedding gradient."""
        T, B = self.steps, self.batch
        dense: dict[str, np.ndarray] = {"bout": self.dbias[: len(self._blocks(T))].sum(axis=0)}
        background, squares = self._start_output_weight_grad(dense)
        dx = self.dtop[: T * B].reshape(T, B, -1)
        try:
            for index in range(len(self.layers) - 1, -1, -1):
                if self.masks[index + 1] is not None:
                    dx *= self.masks[index + 1]
                dx = self.layers[index].backward(self.layer_inputs[index], dx, dense, T)
            if self.masks[0] is not None:
                dx *= self.masks[0]
        finally:  # the worker's blocks finish (with this thread's help) even when the backward pass fails
            background.drain()
        grads = Gradients(dense)
        if not self.config.tied:
            grads.known_squares["Wout"] = float(sum(squares))
        self._embedding_grad(dx.reshape(T * B, -1), grads)
        return grads

    def _start_output_weight_grad(self, dense: dict[str, np.ndarray]) -> tuple["_Joined", list[float]]:
        """Begin the output weight gradient, top^T @ dlogits, in column blocks on a worker; the caller
        joins in (`drain`) once its recurrent backward pass is done. Returns the handle and the blocks'
        sums of squares (filled in as they finish)."""
        rows = self.steps * self.batch
        top, dlogits = self.top, self.logit_buffer[:rows]
        blocks = self.pool.ranges(dlogits.shape[1], WEIGHT_GRAD_BLOCKS)
        squares = [0.0] * len(blocks)
        if self.config.tied:
            grad = self._grad_buffer("embed")

            def block(i: int, lo: int, hi: int) -> None:
                np.matmul(dlogits[:, lo:hi].T, top, out=grad[lo:hi])
        else:
            grad = dense["Wout"] = self._grad_buffer("Wout")

            def block(i: int, lo: int, hi: int) -> None:
                np.matmul(top.T, dlogits[:, lo:hi], out=grad[:, lo:hi])
                squares[i] = sum_squares(grad, lo, hi)

        queue = TaskQueue([lambda i=i, lo=lo, hi=hi: block(i, lo, hi) for i, (lo, hi) in enumerate(blocks)])
        return _Joined(queue, self.pool.start(queue.drain)), squares

    def _grad_buffer(self, name: str) -> np.ndarray:
        """The gradient buffer for a parameter, allocated on first use (overwritten by every step)."""
        if name not in self.grad_buffers:
            self.grad_buffers[name] = np.empty_like(self.params[name])
        return self.grad_buffers[name]

    def _embedding_grad(self, dx: np.ndarray, grads: Gradients) -> None:
        """Add the input side: dense when tied (the output side already filled the buffer), else the
        distinct rows of the segment's words."""
        ids = self.inputs.reshape(-1)
        if self.config.tied:
            grad = self._grad_buffer("embed")
            scatter_add_rows(ids, dx, grad)
            grads.dense["embed"] = grad
            return
        unique, inverse = np.unique(ids, return_inverse=True)
        rows = np.zeros((len(unique), dx.shape[1]), self.dtype)
        scatter_add_rows(inverse.reshape(-1), dx, rows)
        grads.embed_ids, grads.embed_rows = unique, rows


class _Joined:
    """A background `TaskQueue` that the calling thread helps finish: `drain` returns when all is done."""

    def __init__(self, queue: TaskQueue, future):
        self.queue, self.future = queue, future

    def drain(self) -> None:
        self.queue.drain()
        self.future.result()


class _Layer:
    """One recurrent layer's buffers and parameter names; subclasses hold the cell's arithmetic.

    Forward: `begin(state)`, then for blocks of steps `input_products` and `steps`, then
    `final_state`; `outputs(T)` is the [T, B, H] view of the hidden states the layer writes."""

    cell = ""

    def __init__(self, params: dict, index: int, inp: int, hidden: int, batch: int, bptt: int, dtype, pool: Pool):
        gates = GATES[self.cell]
        self.params, self.pool = params, pool
        self.names = (f"Wx{index}", f"Wh{index}", f"b{index}")
        self.batch, self.hidden = batch, hidden
        self.pre = np.empty((bptt, batch, gates * hidden), dtype)      # input products, then gate values
        self.hs = np.empty((bptt + 1, batch, hidden), dtype)
        self.scratch = np.empty((batch, gates * hidden), dtype)        # the recurrent product of one step
        self.dpre = np.empty((bptt, batch, gates * hidden), dtype)
        self.dh = np.empty((batch, hidden), dtype)
        self.dx = np.empty((bptt, batch, inp), dtype)
        self.grad_buffers: dict[str, np.ndarray] = {}

    def outputs(self, T: int) -> np.ndarray:
        return self.hs[1:T + 1]

    def begin(self, state) -> None:
        self.hs[0] = state[0]
        self.c0 = state[1]

    def final_state(self, T: int):
        return self.hs[T].copy(), self.c0

    def input_products(self, x: np.ndarray, t0: int, t1: int, split: bool) -> None:
        """x @ Wx for steps [t0, t1) as one GEMM (split across the pool if asked); the step kernels add
        the biases."""
        rows = (t1 - t0) * self.batch
        flat_x, out = x[t0:t1].reshape(rows, -1), self.pre[t0:t1].reshape(rows, -1)
        weight = self.params[self.names[0]]
        if split:
            self.pool.matmul(flat_x, weight, out)
        else:
            np.matmul(flat_x, weight, out=out)

    def weight_grads(self, x: np.ndarray, dx_pre: np.ndarray, dh_pre: np.ndarray, dense: dict, T: int) -> np.ndarray:
        """Wx, Wh and b gradients, one GEMM each over all steps, and the gradient of the layer's input."""
        Wx_name, Wh_name, b_name = self.names
        rows = T * self.batch
        flat_x, flat_dh = dx_pre[:T].reshape(rows, -1), dh_pre[:T].reshape(rows, -1)
        dense[Wh_name] = np.matmul(self.hs[:T].reshape(rows, -1).T, flat_dh, out=self._buffer(Wh_name))
        dense[Wx_name] = np.matmul(x.reshape(rows, -1).T, flat_x, out=self._buffer(Wx_name))
        dense[b_name] = flat_x.sum(axis=0, out=self._buffer(b_name))
        return np.matmul(flat_x, self.params[Wx_name].T, out=self.dx[:T].reshape(rows, -1)).reshape(T, self.batch, -1)

    def _buffer(self, name: str) -> np.ndarray:
        if name not in self.grad_buffers:
            self.grad_buffers[name] = np.empty_like(self.params[name])
        return self.grad_buffers[name]


class LstmLayer(_Layer):
    cell = "lstm"

    def __init__(self, *args):
        super().__init__(*args)
        bptt, batch, hidden = self.hs.shape[0] - 1, self.batch, self.hidden
        self.cs = np.empty((bptt + 1, batch, hidden), self.hs.dtype)
        self.tanh_c = np.empty((bptt, batch, hidden), self.hs.dtype)
        self.dc = np.empty((batch, hidden), self.hs.dtype)

    def begin(self, state) -> None:
        self.hs[0], self.cs[0] = state

    def final_state(self, T: int):
        return self.hs[T].copy(), self.cs[T].copy()

    def steps(self, t0: int, t1: int) -> None:
        Wh, b = self.params[self.names[1]], self.params[self.names[2]]
        hs, cs, pre = self.hs, self.cs, self.pre
        for t in range(t0, t1):
            np.matmul(hs[t], Wh, out=self.scratch)
            lstm_forward(pre[t], self.scratch, b, cs[t], cs[t + 1], hs[t + 1], self.tanh_c[t])

    def backward(self, x: np.ndarray, dout: np.ndarray, dense: dict, T: int) -> np.ndarray:
        WhT = self.params[self.names[1]].T
        self.dh.fill(0)
        self.dc.fill(0)
        for t in range(T - 1, -1, -1):
            lstm_backward(self.pre[t], self.cs[t], self.tanh_c[t], dout[t], self.dh, self.dc, self.dpre[t])
            if t:
                np.matmul(self.dpre[t], WhT, out=self.dh)
        return self.weight_grads(x, self.dpre, self.dpre, dense, T)


class GruLayer(_Layer):
    cell = "gru"

    def __init__(self, params: dict, index: int, *args):
        super().__init__(params, index, *args)
        self.bh_name = f"bh{index}"
        bptt, batch, hidden = self.hs.shape[0] - 1, self.batch, self.hidden
        self.gates = np.empty((bptt, batch, 4 * hidden), self.hs.dtype)
        self.dh_pre = np.empty((bptt, batch, 3 * hidden), self.hs.dtype)
        self.direct = np.empty((batch, hidden), self.hs.dtype)

    def steps(self, t0: int, t1: int) -> None:
        Wh, b, bh = self.params[self.names[1]], self.params[self.names[2]], self.params[self.bh_name]
        hs = self.hs
        for t in range(t0, t1):
            np.matmul(hs[t], Wh, out=self.scratch)
            gru_forward(self.pre[t], self.scratch, b, bh, hs[t], hs[t + 1], self.gates[t])

    def backward(self, x: np.ndarray, dout: np.ndarray, dense: dict, T: int) -> np.ndarray:
        WhT = self.params[self.names[1]].T
        self.dh.fill(0)
        for t in range(T - 1, -1, -1):
            gru_backward(self.gates[t], self.hs[t], dout[t], self.dh, self.dpre[t], self.dh_pre[t], self.direct)
            if t:
                np.matmul(self.dh_pre[t], WhT, out=self.dh)
                self.dh += self.direct
        dense[self.bh_name] = self.dh_pre[:T].reshape(T * self.batch, -1).sum(axis=0, out=self._buffer(self.bh_name))
        return self.weight_grads(x, self.dpre, self.dh_pre, dense, T)


class RnnLayer(_Layer):
    cell = "rnn"

    def steps(self, t0: int, t1: int) -> None:
        Wh, b = self.params[self.names[1]], self.params[self.names[2]]
        hs = self.hs
        for t in range(t0, t1):
            np.matmul(hs[t], Wh, out=self.scratch)
            rnn_forward(self.pre[t], self.scratch, b, hs[t + 1])

    def backward(self, x: np.ndarray, dout: np.ndarray, dense: dict, T: int) -> np.ndarray:
        WhT = self.params[self.names[1]].T
        self.dh.fill(0)
        for t in range(T - 1, -1, -1):
            rnn_backward(self.hs[t + 1], dout[t], self.dh, self.dpre[t])
            if t:
                np.matmul(self.dpre[t], WhT, out=self.dh)
        return self.weight_grads(x, self.dpre, self.dpre, dense, T)


class Segment:
    """One forward pass over a [T, B] segment with a network sized for it (scoring, sampling, tests).

    Training builds one `Network` and reuses it; this wrapper keeps the simple interface:
    `.state`, `.logits`, `.target_logprobs(targets)` and `.loss_and_backward(targets)` with dense
    gradients.
    """

    def __init__(self, config: Config, params: dict, inputs: np.ndarray, state, rng=None, train: bool = False):
        T, B = inputs.shape
        self.params = params
        self.network = Network(config, params, B, T)
        state = [tuple(np.asarray(s, dtype=self.network.dtype) for s in layer) for layer in state]
        self.state = self.network.forward(inputs, state, rng=rng, train=train)

    @property
    def logits(self) -> np.ndarray:
        return self.network.logits()

    def target_logprobs(self, targets: np.ndarray) -> np.ndarray:
        return self.network.target_logprobs(targets)

    def loss_and_backward(self, targets: np.ndarray) -> tuple[float, dict[str, np.ndarray]]:
        loss, grads = self.network.loss_and_backward(targets)
        return loss, grads.to_dense(self.params)
