"""Scoring a text as one running stream of tokens at batch 1, the recurrence and the output layer overlapped.

The tokens (each sentence's words and its `</s>`) run through the recurrent layers in passes of up to
`network.bptt` steps that carry the state. Each pass hands blocks of steps to the output layer as soon as
the top layer has produced them: one GEMM of the block's rows against the output weight (large enough
that BLAS's packing of that weight is paid once per few hundred tokens, not per sentence) and a fused
log-softmax that keeps only each target's log-probability. A worker takes the blocks while the
recurrence goes on; when more than `BACKLOG` blocks wait, the recurrence's thread takes one itself, so
both threads stay busy across passes and only the end of a call waits. The figures are the same on
every run with the same threads; other thread counts or pass sizes cut BLAS's products differently and
may change a log-probability in its last bits (relative 1e-7), not more.
"""

from __future__ import annotations

import queue

import numpy as np

from seqkit.recurrent.blas import single_threaded_blas
from seqkit.recurrent.layers import LayerState
from seqkit.recurrent.pool import Stream
from seqkit_rnnlm.network import Network

BACKLOG = 2  # output blocks allowed to wait for the worker before the recurrence's thread helps


class StreamScorer:
    """Log-probabilities of a token stream on a batch-1 `network` (built with `block_rows`, the rows of
    one output GEMM). Not for use from several threads at once."""

    def __init__(self, network: Network):
        if network.batch != 1:
            raise ValueError("stream scoring runs a network built for batch 1")
        self.network = network
        self._buffers: queue.SimpleQueue = queue.SimpleQueue()  # one [block, V] logits buffer per thread
        rows, vocab = network.block_rows, network.params["bout"].shape[0]
        for _ in range(network.pool.size):
            self._buffers.put(np.empty((rows, vocab), network.dtype))

    def logprobs(self, inputs: np.ndarray, targets: np.ndarray,
                 state: list[LayerState]) -> tuple[np.ndarray, list[LayerState]]:
        """(ln p(targets[i]) after reading inputs[: i + 1] from `state`, float64; the state after the last
        input)."""
        inputs = np.ascontiguousarray(inputs, dtype=np.int64)
        targets = np.ascontiguousarray(targets, dtype=np.int64)
        if inputs.shape != targets.shape or inputs.ndim != 1:
            raise ValueError(f"inputs {inputs.shape} and targets {targets.shape} must be equal 1-d arrays")
        out = np.empty(len(targets), np.float64)
        network, buffers, steps = self.network, self._buffers, self.network.bptt

        def block(top: np.ndarray, lo: int, hi: int) -> None:
            logits = buffers.get()
            try:
                network.output_logprobs(top, targets[lo:hi], out[lo:hi], logits)
            finally:
                buffers.put(logits)

        def hand_over(start: int, t0: int, t1: int) -> None:
            top = network.top()[t0:t1].copy()  # the next pass overwrites the network's buffers
            stream.put(lambda: block(top, start + t0, start + t1))
            stream.help(BACKLOG)

        with single_threaded_blas():
            stream = Stream(network.pool)
            try:
                for start in range(0, len(inputs), steps):
                    piece = inputs[start:start + steps, None]
                    state = network.forward(piece, state, on_block=lambda t0, t1, s=start: hand_over(s, t0, t1),
                                            split=False)  # the worker may still be on the last pass's blocks
                stream.finish()
            except BaseException:
                stream.abort()
                raise
        return out, state
