"""Fused gate kernels of the recurrent cells: one step forward and one step back, per cell.

The matrix products (input side for all steps, recurrent side per step) go to BLAS through NumPy in
`seqkit.recurrent.layers`; these kernels do the elementwise rest in one pass each way. They are
single-threaded and `nogil`, so a caller's own threads can run them in parallel, and dtype-generic
(float32 to train, float64 for finite-difference checks).

Gate layouts: LSTM pre-activations [B, 4H] in the order i, f, g, o; GRU [B, 3H] in the order r, z, n
(PyTorch's); tanh RNN [B, H].
"""

from __future__ import annotations

from numba import njit

from seqkit.recurrent.fastmath import ftanh, like, sigmoid


@njit(nogil=True, cache=True, fastmath=True, error_model="numpy")
def lstm_forward(xpre, hpre, bias, c_prev, c, h, tanh_c):  # pragma: no cover - jitted
    """One LSTM step. xpre [B, 4H] (input side, i f g o) + hpre [B, 4H] (recurrent side) + bias are the
    pre-activations; xpre is overwritten with the activated gates; writes c, h and tanh(c).

    Two loops per row, each over few arrays, so that LLVM vectorises both (one loop touching seven
    arrays is left scalar for want of alias checks)."""
    batch, four = xpre.shape
    hidden = four // 4
    for b in range(batch):
        gates, hp = xpre[b], hpre[b]
        for j in range(2 * hidden):
            gates[j] = sigmoid(gates[j] + hp[j] + bias[j])
        for j in range(2 * hidden, 3 * hidden):
            gates[j] = ftanh(gates[j] + hp[j] + bias[j])
        for j in range(3 * hidden, four):
            gates[j] = sigmoid(gates[j] + hp[j] + bias[j])
        _lstm_cell(gates, c_prev[b], c[b], h[b], tanh_c[b], hidden)


@njit(nogil=True, cache=True, fastmath=True, error_model="numpy", inline="always")
def _lstm_cell(gates, c_prev, c, h, tanh_c, hidden):
    for k in range(hidden):
        cell = gates[hidden + k] * c_prev[k] + gates[k] * gates[2 * hidden + k]
        c[k] = cell
        t = ftanh(cell)
        tanh_c[k] = t
        h[k] = gates[3 * hidden + k] * t


@njit(nogil=True, cache=True, fastmath=True, error_model="numpy")
def lstm_backward(gates, c_prev, tanh_c, dout, dh, dc, dpre):  # pragma: no cover - jitted
    """One LSTM step back. dL/dh = dout + dh (from above and from the next step); dc (carried dL/dc) is
    replaced by dL/dc_prev; writes dL/dpre [B, 4H]."""
    batch, four = gates.shape
    hidden = four // 4
    one = like(1.0, gates[0, 0])
    for b in range(batch):
        for k in range(hidden):
            i, f = gates[b, k], gates[b, hidden + k]
            g, o = gates[b, 2 * hidden + k], gates[b, 3 * hidden + k]
            t = tanh_c[b, k]
            d = dout[b, k] + dh[b, k]
            dcell = dc[b, k] + d * o * (one - t * t)
            dpre[b, k] = dcell * g * i * (one - i)
            dpre[b, hidden + k] = dcell * c_prev[b, k] * f * (one - f)
            dpre[b, 2 * hidden + k] = dcell * i * (one - g * g)
            dpre[b, 3 * hidden + k] = d * t * o * (one - o)
            dc[b, k] = dcell * f


@njit(nogil=True, cache=True, fastmath=True, error_model="numpy")
def rnn_forward(xpre, hpre, bias, h):  # pragma: no cover - jitted
    """One tanh-RNN step: h = tanh(xpre + hpre + bias)."""
    batch, hidden = xpre.shape
    for b in range(batch):
        for k in range(hidden):
            h[b, k] = ftanh(xpre[b, k] + hpre[b, k] + bias[k])


@njit(nogil=True, cache=True, fastmath=True, error_model="numpy")
def rnn_backward(h, dout, dh, dpre):  # pragma: no cover - jitted
    """One tanh-RNN step back: dpre = (dout + dh) * (1 - h^2)."""
    batch, hidden = h.shape
    one = like(1.0, h[0, 0])
    for b in range(batch):
        for k in range(hidden):
            dpre[b, k] = (dout[b, k] + dh[b, k]) * (one - h[b, k] * h[b, k])


@njit(nogil=True, cache=True, fastmath=True, error_model="numpy")
def gru_forward(xpre, hpre, bias, bias_h, h_prev, h, gates):  # pragma: no cover - jitted
    """PyTorch's GRU: r, z = sigmoid(x + h parts); n = tanh(x_n + r * h_n); h = (1 - z) n + z h_prev.

    xpre, hpre: [B, 3H] input and recurrent products (biases `bias`, `bias_h` added here); gates:
    [B, 4H] stores r, z, n and h_n (needed by the backward pass).
    """
    batch, three = xpre.shape
    hidden = three // 3
    one = like(1.0, xpre[0, 0])
    for b in range(batch):
        x, hp, g, hb, out = xpre[b], hpre[b], gates[b], h_prev[b], h[b]
        # three loops over few arrays each, which LLVM vectorises (one loop over all of them it leaves scalar)
        for j in range(2 * hidden):
            g[j] = sigmoid(x[j] + bias[j] + hp[j] + bias_h[j])
        for k in range(hidden):
            hn = hp[2 * hidden + k] + bias_h[2 * hidden + k]
            g[3 * hidden + k] = hn
            g[2 * hidden + k] = ftanh(x[2 * hidden + k] + bias[2 * hidden + k] + g[k] * hn)
        for k in range(hidden):
            z = g[hidden + k]
            out[k] = (one - z) * g[2 * hidden + k] + z * hb[k]


@njit(nogil=True, cache=True, fastmath=True, error_model="numpy")
def gru_backward(gates, h_prev, dout, dh, dxpre, dhpre, dh_prev_direct):  # pragma: no cover - jitted
    """dL/d(x pre-activations), dL/d(h pre-activations) and the direct dL/dh_prev (through z), given
    dL/dh = dout + dh."""
    batch, four = gates.shape
    hidden = four // 4
    one = like(1.0, gates[0, 0])
    for b in range(batch):
        g, hb, do, dhb, dx, dhp, direct = gates[b], h_prev[b], dout[b], dh[b], dxpre[b], dhpre[b], dh_prev_direct[b]
        # split like `gru_forward`, so that each loop vectorises
        for k in range(hidden):
            z, n = g[hidden + k], g[2 * hidden + k]
            d = do[k] + dhb[k]
            dx[2 * hidden + k] = d * (one - z) * (one - n * n)
            dx[hidden + k] = d * (hb[k] - n) * z * (one - z)
            direct[k] = d * z
        for k in range(hidden):
            r, dn = g[k], dx[2 * hidden + k]
            dx[k] = dn * g[3 * hidden + k] * r * (one - r)
            dhp[2 * hidden + k] = dn * r
        for j in range(2 * hidden):
            dhp[j] = dx[j]


# -- whole runs of steps for a batch of one (scoring a text, generation) -------------------------------
# At batch 1 the recurrent product is a vector times a matrix, and calling BLAS and a gate kernel from
# Python for every step costs more than the arithmetic; these run all steps of a block in one call.

@njit(nogil=True, cache=True, fastmath=True, error_model="numpy")
def recurrent_product(h, Wh, out):  # pragma: no cover - jitted
    """out = h @ Wh for a few rows: four rows of Wh per pass over `out` (fewer loads and stores of it),
    vectorised over Wh's columns."""
    batch, hidden = h.shape
    width = Wh.shape[1]
    for b in range(batch):
        o = out[b]
        for j in range(width):
            o[j] = 0
        k = 0
        while k + 4 <= hidden:
            h0, h1, h2, h3 = h[b, k], h[b, k + 1], h[b, k + 2], h[b, k + 3]
            w0, w1, w2, w3 = Wh[k], Wh[k + 1], Wh[k + 2], Wh[k + 3]
            for j in range(width):
                o[j] += h0 * w0[j] + h1 * w1[j] + h2 * w2[j] + h3 * w3[j]
            k += 4
        while k < hidden:
            hk, w = h[b, k], Wh[k]
            for j in range(width):
                o[j] += hk * w[j]
            k += 1


@njit(nogil=True, cache=True, fastmath=True, error_model="numpy", inline="always")
def _step_index(i, t0, t1, reverse):
    return t1 - 1 - i if reverse else t0 + i


@njit(nogil=True, cache=True, fastmath=True, error_model="numpy")
def lstm_run(pre, Wh, bias, hs, cs, tanh_c, scratch, t0, t1, prev, out, reverse):  # pragma: no cover - jitted
    """Steps [t0, t1) of an LSTM layer (in its direction): step t reads hs/cs[t + prev] and writes
    hs/cs[t + out], as `lstm_forward` after the recurrent product would."""
    for i in range(t1 - t0):
        t = _step_index(i, t0, t1, reverse)
        recurrent_product(hs[t + prev], Wh, scratch)
        lstm_forward(pre[t], scratch, bias, cs[t + prev], cs[t + out], hs[t + out], tanh_c[t])


@njit(nogil=True, cache=True, fastmath=True, error_model="numpy")
def gru_run(pre, Wh, bias, bias_h, hs, gates, scratch, t0, t1, prev, out, reverse):  # pragma: no cover - jitted
    """Steps [t0, t1) of a GRU layer (see `lstm_run`)."""
    for i in range(t1 - t0):
        t = _step_index(i, t0, t1, reverse)
        recurrent_product(hs[t + prev], Wh, scratch)
        gru_forward(pre[t], scratch, bias, bias_h, hs[t + prev], hs[t + out], gates[t])


@njit(nogil=True, cache=True, fastmath=True, error_model="numpy")
def rnn_run(pre, Wh, bias, hs, scratch, t0, t1, prev, out, reverse):  # pragma: no cover - jitted
    """Steps [t0, t1) of a tanh-RNN layer (see `lstm_run`)."""
    for i in range(t1 - t0):
        t = _step_index(i, t0, t1, reverse)
        recurrent_product(hs[t + prev], Wh, scratch)
        rnn_forward(pre[t], scratch, bias, hs[t + out])
