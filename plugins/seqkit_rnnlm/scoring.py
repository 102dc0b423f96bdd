"""Scoring a text as one running stream of tokens at batch 1, the recurrence and the output layer overlapped.

The tokens (each sentence's words and its `</s>`) run through the recurrent layers in passes of up to
`network.bptt` steps that carry the state. Each pass hands blocks of steps to the output layer as soon as
the top layer has produced them: one GEMM of the block's rows against the output weight (large enough
that BLAS's packing of that weight is paid once per few hundred tokens, not per sentence) and a fused
log-softmax that keeps only each target's log-probability. A worker takes the blocks while the
recurrence goes on, and the calling thread joins in when its pass is done. The figures are the same on
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
        steps = self.network.bptt
        with single_threaded_blas():
            for start in range(0, len(inputs), steps):
                stop = min(start + steps, len(inputs))
                state = self._pass(inputs[start:stop], targets[start:stop], out[start:stop], state)
        return out, state

    def _pass(self, inputs: np.ndarray, targets: np.ndarray, out: np.ndarray,
              state: list[LayerState]) -> list[LayerState]:
        network, buffers = self.network, self._buffers

        def block(t0: int, t1: int) -> None:
            logits = buffers.get()
            try:
                network.rows_logprobs(t0, t1, targets[t0:t1], out[t0:t1], logits)
            finally:
                buffers.put(logits)

        stream = Stream(network.pool)
        try:
            state = network.forward(inputs[:, None], state,
                                    on_block=lambda t0, t1: stream.put(lambda: block(t0, t1)))
            stream.finish()
        except BaseException:
            stream.abort()
            raise
        return state
