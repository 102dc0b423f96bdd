"""The recurrent language model: an embedding, a stack of recurrent layers (`seqkit.recurrent`) and a
softmax output layer, with a hand-written backward pass.

Shapes are time-major: a segment is [T, B] token ids. The output layer (about three quarters of the
work at PTB's 10k words) runs in blocks of time steps: per block the logits (a GEMM per half of the
vocabulary), one fused pass per half of the rows for softmax, cross-entropy, its gradient (written over
the logits) and the bias gradient, and the gradient of the top hidden layer (a GEMM per half of the
vocabulary, the two partial sums then added). In training the stack hands each block over as soon as
its top layer has produced it, and a worker thread runs the block's output layer meanwhile, so the
output layer overlaps the (sequential) recurrence; the halves let both threads share the last blocks
once the recurrence is done (a `Pipeline`), so neither waits long for the other. Its weight gradient, which nothing else waits for,
is computed in column blocks in the background while the recurrent layers run backward. All threads
come from one `Pool`, with OpenBLAS single-threaded.

`Network` allocates every buffer once for segments of up to `bptt` steps; training, evaluation,
scoring and sampling reuse it for every call. Dropout (on the non-recurrent connections, as in Zaremba
et al.) applies to each layer's input and to the softmax input. The embedding gradient is kept sparse
(the rows of the words in the segment) unless the embedding is tied to the output layer.
"""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass

import numpy as np

from seqkit.recurrent.layers import GATES, LayerState, init_layer_params, make_layer
from seqkit.recurrent.pool import Pipeline, Pool, TaskQueue
from seqkit.recurrent.stack import Stack
from seqkit_rnnlm.gradients import Gradients
from seqkit.recurrent.output import gather_rows, log_softmax_at, scatter_add_rows, softmax_xent
from seqkit_rnnlm.kernels import sum_squares

__all__ = ["BLOCK_ROWS", "GATES", "Config", "Gradients", "Network", "init_params", "zero_state"]

BLOCK_ROWS = 140  # rows (steps x batch) per block handed from the recurrence to the output layer
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
    """Uniform(-s, s) everywhere (Zaremba et al.), plus an optional LSTM forget-gate bias; drawn in the
    order embedding, layers bottom up, output weight, output bias."""
    if config.tied and config.embed != config.hidden:
        raise ValueError("tied embeddings need --embed equal to --hidden")
    s, H = config.init_scale, config.hidden
    params = {"embed": rng.uniform(-s, s, size=(vocab_size, config.embed)).astype(dtype)}
    for layer in range(config.layers):
        params.update(init_layer_params(config.cell, config.embed if layer == 0 else H, H, rng, tag=str(layer),
                                        scale=s, forget_bias=config.forget_bias, dtype=dtype))
    if not config.tied:
        params["Wout"] = rng.uniform(-s, s, size=(H, vocab_size)).astype(dtype)
    params["bout"] = rng.uniform(-s, s, size=vocab_size).astype(dtype)
    return params


def zero_state(config: Config, batch: int, dtype=np.float32) -> list[LayerState]:
    """The all-zero state of every layer: (h,) per layer, (h, c) for the LSTM."""
    parts = 2 if config.cell == "lstm" else 1
    return [tuple(np.zeros((batch, config.hidden), dtype) for _ in range(parts)) for _ in range(config.layers)]


class Network:
    """Forward and backward passes over [T <= bptt, B] segments into buffers allocated once.

    `train_step` is the training path: forward, loss and gradients, with the output layer of each block
    of time steps handed to a worker as soon as the recurrent layers have produced it. Otherwise
    `forward` runs the recurrent layers and returns the final state; then `loss_and_backward`,
    `target_logprobs` (scoring) or `logits` (sampling). Parameters are read from `params` at every
    call, so in-place updates between calls are seen. Not for concurrent use from several threads.
    """

    def __init__(self, config: Config, params: dict[str, np.ndarray], batch: int, bptt: int,
                 pool: Pool | None = None, block_rows: int | None = None):
        self.config, self.params, self.batch, self.bptt = config, params, batch, bptt
        self.block_rows = block_rows or BLOCK_ROWS  # rows per output-layer block (BLOCK_ROWS read now)
        self.pool = pool or Pool(1)
        self.dtype = dtype = params["embed"].dtype
        E, H, V = config.embed, config.hidden, params["bout"].shape[0]
        layers = [make_layer(config.cell, params, str(i), batch=batch, max_steps=bptt, pool=self.pool)
                  for i in range(config.layers)]
        self.stack = Stack(layers, dropout=config.dropout)
        self.embedded = np.empty((bptt, batch, E), dtype)
        self.logit_buffer = np.empty((bptt * batch, V), dtype)  # logits, then their gradient
        self.dtop = np.empty((bptt * batch, H), dtype)
        self.dtop_upper = np.empty((bptt * batch, H), dtype)  # the upper half of the vocabulary's part
        self.losses = np.empty(bptt * batch, np.float64)
        self.dbias = np.empty((2 * len(self._blocks(bptt)), V), dtype)  # per block, one row per half of its rows
        # the output weight's gradient; when tied, the embedding's (output side, then the input rows added)
        self.output_weight_grad = np.empty_like(params["embed"] if config.tied else params["Wout"])
        self.steps = 0
        self.inputs = np.zeros((0, batch), np.int64)

    def _blocks(self, T: int) -> list[tuple[int, int]]:
        """The [t0, t1) blocks of time steps that the recurrence hands to the output layer."""
        steps = max(1, self.block_rows // self.batch)
        return [(t0, min(t0 + steps, T)) for t0 in range(0, T, steps)]

    # -- forward ---------------------------------------------------------------------------------------

    def forward(self, inputs: np.ndarray, state: list[LayerState], rng: np.random.Generator | None = None,
                train: bool = False, on_block=None, split: bool = True) -> list[LayerState]:
        """Run the recurrent layers over `inputs` [T, B] from `state`; returns the state after the segment.

        With `on_block`, the steps run block by block through all layers and `on_block(t0, t1)` is
        called as soon as the top layer's output for steps [t0, t1) is ready (`split`: see `Stack.forward`)."""
        T, B = inputs.shape
        if not 0 < T <= self.bptt or B != self.batch:
            raise ValueError(f"segment {inputs.shape} does not fit a network built for ({self.bptt}, {self.batch})")
        inputs = np.ascontiguousarray(inputs, dtype=np.int64)
        self.steps, self.inputs = T, inputs
        x = self.embedded[:T]
        gather_rows(self.params["embed"], inputs.reshape(-1), x.reshape(T * B, -1))
        return self.stack.forward(x, state, train=train, rng=rng, blocks=self._blocks(T) if on_block else None,
                                  on_block=on_block, split=split)

    def top(self) -> np.ndarray:
        """[T*B, H]: the softmax input of the current segment (valid until the next forward pass)."""
        return self._top()

    def _top(self) -> np.ndarray:
        """[T*B, H]: the softmax input of the current segment."""
        return self.stack.output().reshape(self.steps * self.batch, -1)

    def _output_weight(self) -> np.ndarray:
        return self.params["embed"].T if self.config.tied else self.params["Wout"]

    def logits(self) -> np.ndarray:
        """[T*B, V] output scores (bias included) of the last forward pass (a buffer the next call reuses)."""
        rows = self.steps * self.batch
        out = self.pool.matmul(self._top(), self._output_weight(), self.logit_buffer[:rows])
        out += self.params["bout"]
        return out

    def target_logprobs(self, targets: np.ndarray) -> np.ndarray:
        """Natural-log probability of each target, time-major [T, B] flattened (no gradient)."""
        rows = self.steps * self.batch
        flat = np.ascontiguousarray(targets, dtype=np.int64).reshape(-1)
        if flat.size != rows:
            raise ValueError(f"targets {targets.shape} do not match the segment ({self.steps}, {self.batch})")
        out = np.empty(rows, np.float64)
        top = self._top()
        self.pool.run([lambda lo=lo, hi=hi: self.output_logprobs(top[lo:hi], flat[lo:hi], out[lo:hi],
                                                                 self.logit_buffer[lo:hi])
                       for lo, hi in self.pool.ranges(rows)])
        return out

    def output_logprobs(self, top: np.ndarray, targets: np.ndarray, out: np.ndarray, logits: np.ndarray) -> None:
        """out = ln p(targets) given the softmax inputs `top` [n, H]: one GEMM into `logits` (at least n
        rows, overwritten) and the fused log-softmax of the targets only."""
        logits = logits[: len(top)]
        np.matmul(top, self._output_weight(), out=logits)
        log_softmax_at(logits, self.params["bout"], targets, out)

    # -- loss and backward -----------------------------------------------------------------------------

    def train_step(self, inputs: np.ndarray, targets: np.ndarray, state: list[LayerState],
                   rng: np.random.Generator | None = None) -> tuple[float, Gradients, list[LayerState]]:
        """Forward (with dropout) and backward over one segment: (mean loss, gradients, final state).

        Equal, bit for bit, to `forward(train=True)` followed by `loss_and_backward`; the output layer of
        each block of steps runs on a worker while the recurrent layers compute the next block."""
        if targets.shape != inputs.shape:
            raise ValueError(f"targets {targets.shape} do not match the inputs {inputs.shape}")
        flat = np.ascontiguousarray(targets, dtype=np.int64).reshape(-1)
        pipeline = Pipeline(self.pool)
        try:
            new_state = self.forward(inputs, state, rng, train=True,
                                     on_block=lambda t0, t1: pipeline.put(self._output_task(flat, t0, t1)))
        except BaseException:
            pipeline.abort()
            raise
        pipeline.finish()
        return self._loss(), self._backward(), new_state

    def loss_and_backward(self, targets: np.ndarray) -> tuple[float, Gradients]:
        """Mean cross-entropy over the last forward pass's segment and the gradient of every parameter."""
        if targets.shape != (self.steps, self.batch):
            raise ValueError(f"targets {targets.shape} do not match the segment ({self.steps}, {self.batch})")
        flat = np.ascontiguousarray(targets, dtype=np.int64).reshape(-1)
        pipeline = Pipeline(self.pool)
        for t0, t1 in self._blocks(self.steps):
            pipeline.put(self._output_task(flat, t0, t1))
        pipeline.finish()
        return self._loss(), self._backward()

    def _output_task(self, targets: np.ndarray, t0: int, t1: int):
        """The output layer for steps [t0, t1) as a task that splits (see `Pipeline`): the logits per half
        of the vocabulary; once both are done, softmax cross-entropy per half of the rows, its gradient
        written over the logits and the bias gradient into the rows' own `dbias` row; then the gradient of
        the top hidden layer per half of the vocabulary (into `dtop` and `dtop_upper`), then their sum."""
        lo, hi = t0 * self.batch, t1 * self.batch
        mid = (lo + hi) // 2
        slot = 2 * (t0 // max(1, self.block_rows // self.batch))
        top, weight, bias, logits = self._top(), self._output_weight(), self.params["bout"], self.logit_buffer
        vocab = weight.shape[1]
        halves = [(0, vocab // 2), (vocab // 2, vocab)] if vocab >= 2 else [(0, vocab)]
        parts = [self.dtop, self.dtop_upper][:len(halves)]
        scale = 1.0 / (self.steps * self.batch)

        def logits_half(a: int, b: int):
            np.matmul(top[lo:hi], weight[:, a:b], out=logits[lo:hi, a:b])
            return after_logits.arrive()

        def softmax_rows(r0: int, r1: int, row: int):
            self.dbias[row].fill(0)
            softmax_xent(logits[r0:r1], bias, targets[r0:r1], scale, self.losses[r0:r1], self.dbias[row])
            return after_softmax.arrive()

        def dtop_half(a: int, b: int, out: np.ndarray):
            np.matmul(logits[lo:hi, a:b], weight[:, a:b].T, out=out[lo:hi])
            return after_dtop.arrive()

        def add_parts():
            if len(parts) == 2:
                np.add(self.dtop[lo:hi], self.dtop_upper[lo:hi], out=self.dtop[lo:hi])

        after_dtop = _Countdown(len(halves), lambda: [add_parts])
        after_softmax = _Countdown(2, lambda: [lambda a=a, b=b, out=out: dtop_half(a, b, out)
                                               for (a, b), out in zip(halves, parts)])
        after_logits = _Countdown(len(halves), lambda: [lambda: softmax_rows(lo, mid, slot),
                                                        lambda: softmax_rows(mid, hi, slot + 1)])
        return lambda: [lambda a=a, b=b: logits_half(a, b) for a, b in halves]

    def _loss(self) -> float:
        return float(self.losses[: self.steps * self.batch].mean())

    def _backward(self) -> Gradients:
        """Gradients, given the output layer's results: the recurrent layers top down on this thread
        while a worker computes the output weight gradient and, as each layer is done, that layer's
        weight gradients; then the embedding gradient."""
        T, B = self.steps, self.batch
        dense: dict[str, np.ndarray] = {"bout": self.dbias[: 2 * len(self._blocks(T))].sum(axis=0)}
        background, squares = self._start_output_weight_grad(dense)
        try:
            # each layer's weight gradients join the worker's queue while this thread goes down the stack
            dx, _ = self.stack.backward(self.dtop[: T * B].reshape(T, B, -1), dense, defer=background.queue.add)
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
        top, dlogits, grad = self._top(), self.logit_buffer[:rows], self.output_weight_grad
        blocks = self.pool.ranges(dlogits.shape[1], WEIGHT_GRAD_BLOCKS)
        squares = [0.0] * len(blocks)
        if self.config.tied:
            def block(i: int, lo: int, hi: int) -> None:
                np.matmul(dlogits[:, lo:hi].T, top, out=grad[lo:hi])
        else:
            dense["Wout"] = grad

            def block(i: int, lo: int, hi: int) -> None:
                np.matmul(top.T, dlogits[:, lo:hi], out=grad[:, lo:hi])
                squares[i] = sum_squares(grad, lo, hi)

        queue = TaskQueue([lambda i=i, lo=lo, hi=hi: block(i, lo, hi) for i, (lo, hi) in enumerate(blocks)])
        return _Joined(queue, self.pool.start(queue.drain)), squares

    def _embedding_grad(self, dx: np.ndarray, grads: Gradients) -> None:
        """Add the input side: dense when tied (the output side already filled the buffer), else the
        distinct rows of the segment's words."""
        ids = self.inputs.reshape(-1)
        if self.config.tied:
            scatter_add_rows(ids, dx, self.output_weight_grad)
            grads.dense["embed"] = self.output_weight_grad
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


class _Countdown:
    """Counts the parts of a step of a task; the last part to arrive gets the next step's tasks."""

    def __init__(self, parts: int, then):
        self._left, self._then, self._lock = parts, then, threading.Lock()

    def arrive(self):
        with self._lock:
            self._left -= 1
            last = self._left == 0
        return self._then() if last else None
