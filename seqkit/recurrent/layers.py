"""Recurrent layers (tanh RNN, GRU, LSTM): forward and backward over a batch of sequences [T, B, input].

Per layer, the input-side products for all steps are one GEMM; only the recurrent product runs per
step, followed by a fused gate kernel (`seqkit.recurrent.cells`); the weight gradients are again one
GEMM each over all steps. Every buffer is allocated once, for up to `max_steps` steps of `batch`
sequences, and reused by every call.

A layer reads its weights from a shared `params` dict at every call (so in-place updates between calls
are seen) under names that end in the layer's `tag`: `Wx{tag}` [input, G*H], `Wh{tag}` [H, G*H],
`b{tag}` [G*H] and, for the GRU, `bh{tag}` [G*H] (G = 1, 3, 4 gates for rnn, gru, lstm).

State: a tuple per layer, `(h,)` for the RNN and GRU and `(h, c)` for the LSTM, each [B, H].

Direction: with `reverse=True` the layer reads the sequence from its last step to its first; outputs
stay aligned with the inputs (output t is the state after reading step t), and the final state is the
one after step 0.

Variable lengths: with `lengths` [B], steps at or past a sequence's length are padding: its state
passes through them unchanged (a forward layer's final state is the state after its last real step;
a reverse layer starts from the initial state at its last real step), its output there is that
carried state, and padding adds nothing to any gradient.

Use: `forward(x, state)` then `backward(dout, grads)`; a caller that interleaves layers block by block
(a stack overlapping other work with the recurrence) calls `begin`, `input_products`, `steps` and
`final_state` itself.

Threads: with `split_batch`, the steps forward and back run as one band of batch rows per pool thread
(rows never interact in the recurrence, so each band runs all its steps without waiting for the others);
the results are those of one band, row for row. Only for a caller that leaves the pool idle meanwhile.

The module is longer than 400 lines because the three cells share one step order and padding logic
that would otherwise be split across files for no reader's benefit.
"""

from __future__ import annotations

from typing import ClassVar, Sequence

import numpy as np

from seqkit.recurrent.cells import (gru_backward, gru_forward, gru_run, lstm_backward, lstm_forward, lstm_run,
                                   rnn_backward, rnn_forward, rnn_run)
from seqkit.recurrent.pool import Pool

GATES = {"rnn": 1, "gru": 3, "lstm": 4}
LayerState = tuple  # (h,) or (h, c), each [B, H]


def param_names(cell: str, tag: str) -> dict[str, str]:
    """Role -> key in the parameter dict for a `cell` layer tagged `tag`: Wx, Wh, b (and bh for GRU)."""
    names = {"Wx": f"Wx{tag}", "Wh": f"Wh{tag}", "b": f"b{tag}"}
    if cell == "gru":
        names["bh"] = f"bh{tag}"
    return names


def init_layer_params(cell: str, input_size: int, hidden: int, rng: np.random.Generator, *, tag: str = "",
                      scale: float = 0.1, forget_bias: float = 0.0, dtype=np.float32) -> dict[str, np.ndarray]:
    """Uniform(-scale, scale) weights and biases for one layer, drawn in the order Wx, Wh, b, bh; the
    LSTM's forget-gate bias gets `forget_bias` added."""
    gates, names = GATES[cell], param_names(cell, tag)

    def uniform(*shape):
        return rng.uniform(-scale, scale, size=shape).astype(dtype)

    params = {names["Wx"]: uniform(input_size, gates * hidden), names["Wh"]: uniform(hidden, gates * hidden),
              names["b"]: uniform(gates * hidden)}
    if cell == "gru":
        params[names["bh"]] = uniform(gates * hidden)
    if cell == "lstm" and forget_bias:
        params[names["b"]][hidden:2 * hidden] += np.dtype(dtype).type(forget_bias)
    return params


class RecurrentLayer:
    """One recurrent layer's buffers and step order; subclasses hold the cell's arithmetic."""

    cell: ClassVar[str] = ""

    def __init__(self, params: dict[str, np.ndarray], tag: str, *, batch: int, max_steps: int,
                 reverse: bool = False, pool: Pool | None = None, split_batch: bool = False):
        self.params = params
        self.names = param_names(self.cell, tag)
        missing = [name for name in self.names.values() if name not in params]
        if missing:
            raise ValueError(f"{self.cell} layer {tag!r}: no parameters named {missing}")
        weight = params[self.names["Wx"]]
        self.input_size, self.hidden = weight.shape[0], params[self.names["Wh"]].shape[0]
        gates = GATES[self.cell]
        if weight.shape[1] != gates * self.hidden or params[self.names["Wh"]].shape[1] != gates * self.hidden:
            raise ValueError(f"{self.cell} layer {tag!r}: weights {weight.shape}, "
                             f"{params[self.names['Wh']].shape} do not have {gates} gates of {self.hidden}")
        self.batch, self.max_steps, self.reverse = batch, max_steps, reverse
        self.pool = pool or Pool(1)
        # row bands of at least 8 rows, so that each band's products still run as matrix products
        self.bands = self.pool.ranges(batch, min(self.pool.size, batch // 8)) if split_batch else [(0, batch)]
        self.dtype = dtype = weight.dtype
        H, G = self.hidden, gates * self.hidden
        # hs[prev(t)] is the state step t reads, hs[out(t)] the one it writes: forward hs[t] -> hs[t + 1]
        # (initial state at 0), reverse hs[t + 1] -> hs[t] (initial state at T)
        self._prev, self._out = (1, 0) if reverse else (0, 1)
        self.pre = np.empty((max_steps, batch, G), dtype)      # input products, then gate values
        self.hs = np.empty((max_steps + 1, batch, H), dtype)
        self.scratch = np.empty((batch, G), dtype)              # the recurrent product of one step
        self.dpre = np.empty((max_steps, batch, G), dtype)
        self.dh = np.empty((batch, H), dtype)
        self.dx = np.empty((max_steps, batch, self.input_size), dtype)
        self.grads = {name: np.empty_like(params[name]) for name in self.names.values()}
        self.length = 0                                        # steps of the current sequence batch
        self.x = np.empty((0, batch, self.input_size), dtype)  # the input of the current forward pass
        self.padding: np.ndarray | None = None                 # [T, B] True at padded steps

    # -- forward ---------------------------------------------------------------------------------------

    def zero_state(self) -> LayerState:
        return (np.zeros((self.batch, self.hidden), self.dtype),)

    def forward(self, x: np.ndarray, state: LayerState | None = None,
                lengths: np.ndarray | None = None) -> LayerState:
        """Read all of `x` [T, B, input] from `state` (zeros if None); returns the final state. The
        outputs are then `outputs()`."""
        self.begin(x, state, lengths)
        self.input_products(0, self.length, split=True)
        self.steps(0, self.length)
        return self.final_state()

    def begin(self, x: np.ndarray, state: LayerState | None, lengths: np.ndarray | None = None) -> None:
        """Start a pass over `x` [T, B, input]; x is read (not copied) by later `input_products` calls."""
        T = x.shape[0]
        if x.shape[1:] != (self.batch, self.input_size) or not 0 < T <= self.max_steps:
            raise ValueError(f"input {x.shape} does not fit a layer built for "
                             f"(<= {self.max_steps}, {self.batch}, {self.input_size})")
        if x.dtype != self.dtype:
            raise ValueError(f"{x.dtype} input to a {self.dtype} layer")
        self.length, self.x = T, x
        self.padding = None
        if lengths is not None:
            lengths = np.asarray(lengths)
            if lengths.shape != (self.batch,):
                raise ValueError(f"lengths {lengths.shape} do not match the batch {self.batch}")
            padding = np.arange(T)[:, None] >= lengths[None, :]
            self.padding = padding if padding.any() else None
        self._set_state(self.zero_state() if state is None else state)

    def _set_state(self, state: LayerState) -> None:
        self.hs[self._initial()] = state[0]

    def _initial(self) -> int:
        return self.length if self.reverse else 0

    def final_state(self) -> LayerState:
        """A copy of the state after the last step read (step 0 for a reverse layer)."""
        return (self.hs[self.length - self._initial()].copy(),)

    def outputs(self, T: int | None = None) -> np.ndarray:
        """[T, B, H] view of the outputs, aligned with the inputs (valid until the next pass); T defaults
        to the current pass's length (a caller wiring layers together asks before `begin`)."""
        return self.hs[self._out:self._out + (self.length if T is None else T)]

    def input_products(self, t0: int, t1: int, split: bool = False) -> None:
        """x @ Wx for steps [t0, t1) as one GEMM (rows split across the pool if `split`); the step
        kernels add the biases."""
        rows = (t1 - t0) * self.batch
        flat_x, out = self.x[t0:t1].reshape(rows, -1), self.pre[t0:t1].reshape(rows, -1)
        weight = self.params[self.names["Wx"]]
        if split:
            self.pool.matmul(flat_x, weight, out)
        else:
            np.matmul(flat_x, weight, out=out)

    def steps(self, t0: int, t1: int) -> None:
        """Run steps [t0, t1) (in the layer's direction); their input products must be done."""
        Wh = self.params[self.names["Wh"]]
        if self.batch == 1 and self.padding is None:  # one kernel call for all the steps (see cells.lstm_run)
            self._run(t0, t1, Wh)
            return
        if len(self.bands) == 1:
            self._band_steps(t0, t1, Wh, slice(0, self.batch))
        else:
            self.pool.run([lambda b0=b0, b1=b1: self._band_steps(t0, t1, Wh, slice(b0, b1)) for b0, b1 in self.bands])

    def _band_steps(self, t0: int, t1: int, Wh: np.ndarray, r: slice) -> None:
        """Steps [t0, t1) for the batch rows `r`."""
        for t in (range(t1 - 1, t0 - 1, -1) if self.reverse else range(t0, t1)):
            np.matmul(self.hs[t + self._prev, r], Wh, out=self.scratch[r])
            self._step(t, t + self._prev, t + self._out, r)
            if self.padding is not None:
                padded = self.padding[t, r]
                if padded.any():
                    self._carry(padded, t + self._prev, t + self._out, r)

    def _step(self, t: int, prev: int, out: int, r: slice) -> None:
        raise NotImplementedError

    def _run(self, t0: int, t1: int, Wh: np.ndarray) -> None:
        """Steps [t0, t1) in one kernel call, recurrent products included (batch 1, no padding)."""
        raise NotImplementedError

    def _carry(self, rows: np.ndarray, prev: int, out: int, r: slice) -> None:
        """Padded rows (a mask over the band `r`) keep the state they had."""
        self.hs[out, r][rows] = self.hs[prev, r][rows]

    # -- backward --------------------------------------------------------------------------------------

    def backward(self, dout: np.ndarray, grads: dict[str, np.ndarray], dfinal: LayerState | None = None,
                 need_dinitial: bool = False, defer=None) -> tuple[np.ndarray, LayerState | None]:
        """Gradients of the last forward pass, given `dout` [T, B, H] (dL/d outputs) and optionally
        `dfinal` (dL/d final state). Writes the weight gradients into `grads` under the parameter names
        (the layer's own buffers, overwritten by the next call) and returns (dL/dx [T, B, input], a
        buffer the next call overwrites; dL/d initial state if `need_dinitial`, else None). With `defer`
        (a function taking a task), the weight gradients are handed to it as one task instead of computed
        here: a caller's worker can run them while this thread goes on to the layer below; they are in
        `grads` once the caller has run the task."""
        T = self.length
        if dout.shape != (T, self.batch, self.hidden):
            raise ValueError(f"dout {dout.shape} does not match the outputs ({T}, {self.batch}, {self.hidden})")
        self._begin_backward(dfinal)
        if len(self.bands) == 1:
            self._band_backward(dout, need_dinitial, slice(0, self.batch))
        else:
            self.pool.run([lambda b0=b0, b1=b1: self._band_backward(dout, need_dinitial, slice(b0, b1))
                           for b0, b1 in self.bands])
        dinitial = self._dstate() if need_dinitial else None
        return self._weight_grads(grads, defer=defer), dinitial

    def _band_backward(self, dout: np.ndarray, need_dinitial: bool, r: slice) -> None:
        """The steps back for the batch rows `r`."""
        T = self.length
        order = range(T) if self.reverse else range(T - 1, -1, -1)
        last = order[-1]
        WhT = self.params[self.names["Wh"]].T
        for t in order:
            rows = None
            if self.padding is not None:
                rows = self.padding[t, r]
                rows = rows if rows.any() else None
            carried = self._save_carry(dout[t, r], rows, r) if rows is not None else None
            self._step_back(t, t + self._prev, t + self._out, dout[t, r], r)
            if rows is not None:
                self._drop_padded(t, rows, carried, r)
            if t != last or need_dinitial:
                self._recurrent_grad(t, WhT, r)
                if rows is not None:
                    self.dh[r][rows] = carried[0]

    def _begin_backward(self, dfinal: LayerState | None) -> None:
        if dfinal is None:
            self.dh.fill(0)
        else:
            self.dh[:] = dfinal[0]

    def _dstate(self) -> LayerState:
        return (self.dh.copy(),)

    def _save_carry(self, dout_t: np.ndarray, rows: np.ndarray, r: slice) -> tuple:
        """What padded rows (a mask over the band `r`; dout_t is the band's) pass straight back to the
        previous state: dL/dh (and the LSTM's dL/dc)."""
        return (dout_t[rows] + self.dh[r][rows],)

    def _drop_padded(self, t: int, rows: np.ndarray, carried: tuple, r: slice) -> None:
        self.dpre[t, r][rows] = 0

    def _step_back(self, t: int, prev: int, out: int, dout_t: np.ndarray, r: slice) -> None:
        raise NotImplementedError

    def _recurrent_grad(self, t: int, WhT: np.ndarray, r: slice) -> None:
        """dL/d(previous state) of the rows `r` through the recurrent product, into `dh`."""
        np.matmul(self.dpre[t, r], WhT, out=self.dh[r])

    def _previous_states(self) -> np.ndarray:
        """[T, B, H]: the state each step read."""
        return self.hs[self._prev:self._prev + self.length]

    def _weight_grads(self, grads: dict[str, np.ndarray], dh_pre: np.ndarray | None = None,
                      defer=None) -> np.ndarray:
        """Wx, Wh and b gradients, one GEMM each over all steps (now, or as a task given to `defer`), and
        the gradient of the layer's input. `dh_pre` is dL/d(recurrent pre-activations) when it differs
        from the input side's (GRU)."""
        T, B = self.length, self.batch
        rows = T * B
        flat_dx_pre = self.dpre[:T].reshape(rows, -1)
        flat_dh_pre = flat_dx_pre if dh_pre is None else dh_pre[:T].reshape(rows, -1)
        Wx, Wh, b = self.names["Wx"], self.names["Wh"], self.names["b"]
        states, x = self._previous_states().reshape(rows, -1), self.x.reshape(rows, -1)

        dx = self.dx[:T].reshape(rows, -1)

        def recurrent_side() -> None:
            grads[Wh] = np.matmul(states.T, flat_dh_pre, out=self.grads[Wh])

        def input_side() -> None:
            grads[Wx] = np.matmul(x.T, flat_dx_pre, out=self.grads[Wx])
            grads[b] = flat_dx_pre.sum(axis=0, out=self.grads[b])

        def input_grad() -> None:
            np.matmul(flat_dx_pre, self.params[Wx].T, out=dx)

        if defer is not None:
            defer(lambda: (recurrent_side(), input_side()))
            input_grad()
        elif len(self.bands) > 1:  # the pool is this layer's: two halves of about equal work
            self.pool.run([recurrent_side, lambda: (input_side(), input_grad())])
        else:
            recurrent_side()
            input_side()
            input_grad()
        return dx.reshape(T, B, -1)


class RnnLayer(RecurrentLayer):
    """Elman RNN: h = tanh(x Wx + h_prev Wh + b)."""

    cell = "rnn"

    def _step(self, t: int, prev: int, out: int, r: slice) -> None:
        rnn_forward(self.pre[t, r], self.scratch[r], self.params[self.names["b"]], self.hs[out, r])

    def _run(self, t0: int, t1: int, Wh: np.ndarray) -> None:
        rnn_run(self.pre, Wh, self.params[self.names["b"]], self.hs, self.scratch, t0, t1, self._prev, self._out,
                self.reverse)

    def _step_back(self, t: int, prev: int, out: int, dout_t: np.ndarray, r: slice) -> None:
        rnn_backward(self.hs[out, r], dout_t, self.dh[r], self.dpre[t, r])


class GruLayer(RecurrentLayer):
    """PyTorch's GRU: r, z = sigmoid(...); n = tanh(x_n + r * (h Wh_n + bh_n)); h = (1 - z) n + z h_prev."""

    cell = "gru"

    def __init__(self, params: dict[str, np.ndarray], tag: str, **kwargs):
        super().__init__(params, tag, **kwargs)
        shape = (self.max_steps, self.batch)
        self.gates = np.empty(shape + (4 * self.hidden,), self.dtype)   # r, z, n and the recurrent n part
        self.dh_pre = np.empty(shape + (3 * self.hidden,), self.dtype)
        self.direct = np.empty((self.batch, self.hidden), self.dtype)   # dL/dh_prev through z

    def _step(self, t: int, prev: int, out: int, r: slice) -> None:
        gru_forward(self.pre[t, r], self.scratch[r], self.params[self.names["b"]], self.params[self.names["bh"]],
                    self.hs[prev, r], self.hs[out, r], self.gates[t, r])

    def _run(self, t0: int, t1: int, Wh: np.ndarray) -> None:
        gru_run(self.pre, Wh, self.params[self.names["b"]], self.params[self.names["bh"]], self.hs, self.gates,
                self.scratch, t0, t1, self._prev, self._out, self.reverse)

    def _step_back(self, t: int, prev: int, out: int, dout_t: np.ndarray, r: slice) -> None:
        gru_backward(self.gates[t, r], self.hs[prev, r], dout_t, self.dh[r], self.dpre[t, r], self.dh_pre[t, r],
                     self.direct[r])

    def _drop_padded(self, t: int, rows: np.ndarray, carried: tuple, r: slice) -> None:
        self.dpre[t, r][rows] = 0
        self.dh_pre[t, r][rows] = 0

    def _recurrent_grad(self, t: int, WhT: np.ndarray, r: slice) -> None:
        dh = self.dh[r]
        np.matmul(self.dh_pre[t, r], WhT, out=dh)
        dh += self.direct[r]

    def _weight_grads(self, grads: dict[str, np.ndarray], dh_pre: np.ndarray | None = None,
                      defer=None) -> np.ndarray:
        T, bh = self.length, self.names["bh"]
        grads[bh] = self.dh_pre[:T].reshape(T * self.batch, -1).sum(axis=0, out=self.grads[bh])
        return super()._weight_grads(grads, self.dh_pre, defer)


class LstmLayer(RecurrentLayer):
    """LSTM without peepholes, gates i, f, g, o: c = f c_prev + i g; h = o tanh(c)."""

    cell = "lstm"

    def __init__(self, params: dict[str, np.ndarray], tag: str, **kwargs):
        super().__init__(params, tag, **kwargs)
        self.cs = np.empty((self.max_steps + 1, self.batch, self.hidden), self.dtype)
        self.tanh_c = np.empty((self.max_steps, self.batch, self.hidden), self.dtype)
        self.dc = np.empty((self.batch, self.hidden), self.dtype)

    def zero_state(self) -> LayerState:
        return (np.zeros((self.batch, self.hidden), self.dtype), np.zeros((self.batch, self.hidden), self.dtype))

    def _set_state(self, state: LayerState) -> None:
        self.hs[self._initial()], self.cs[self._initial()] = state

    def final_state(self) -> LayerState:
        end = self.length - self._initial()
        return self.hs[end].copy(), self.cs[end].copy()

    def _step(self, t: int, prev: int, out: int, r: slice) -> None:
        lstm_forward(self.pre[t, r], self.scratch[r], self.params[self.names["b"]], self.cs[prev, r], self.cs[out, r],
                     self.hs[out, r], self.tanh_c[t, r])

    def _run(self, t0: int, t1: int, Wh: np.ndarray) -> None:
        lstm_run(self.pre, Wh, self.params[self.names["b"]], self.hs, self.cs, self.tanh_c, self.scratch, t0, t1,
                 self._prev, self._out, self.reverse)

    def _carry(self, rows: np.ndarray, prev: int, out: int, r: slice) -> None:
        self.hs[out, r][rows] = self.hs[prev, r][rows]
        self.cs[out, r][rows] = self.cs[prev, r][rows]

    def _begin_backward(self, dfinal: LayerState | None) -> None:
        super()._begin_backward(dfinal)
        if dfinal is None:
            self.dc.fill(0)
        else:
            self.dc[:] = dfinal[1]

    def _dstate(self) -> LayerState:
        return self.dh.copy(), self.dc.copy()

    def _save_carry(self, dout_t: np.ndarray, rows: np.ndarray, r: slice) -> tuple:
        return dout_t[rows] + self.dh[r][rows], self.dc[r][rows]

    def _drop_padded(self, t: int, rows: np.ndarray, carried: tuple, r: slice) -> None:
        self.dpre[t, r][rows] = 0
        self.dc[r][rows] = carried[1]

    def _step_back(self, t: int, prev: int, out: int, dout_t: np.ndarray, r: slice) -> None:
        lstm_backward(self.pre[t, r], self.cs[prev, r], self.tanh_c[t, r], dout_t, self.dh[r], self.dc[r],
                      self.dpre[t, r])


LAYERS: dict[str, type[RecurrentLayer]] = {"rnn": RnnLayer, "gru": GruLayer, "lstm": LstmLayer}


def make_layer(cell: str, params: dict[str, np.ndarray], tag: str, *, batch: int, max_steps: int,
               reverse: bool = False, pool: Pool | None = None, split_batch: bool = False) -> RecurrentLayer:
    """A `cell` layer ("rnn", "gru" or "lstm") on the parameters tagged `tag` in `params`."""
    if cell not in LAYERS:
        raise ValueError(f"unknown cell {cell!r} (expected one of {', '.join(LAYERS)})")
    return LAYERS[cell](params, tag, batch=batch, max_steps=max_steps, reverse=reverse, pool=pool,
                        split_batch=split_batch)


def zero_states(layers: Sequence[RecurrentLayer]) -> list[LayerState]:
    return [layer.zero_state() for layer in layers]
