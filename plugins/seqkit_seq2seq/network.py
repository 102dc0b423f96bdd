"""The attention encoder-decoder: a bidirectional encoder (`encoder.BiEncoder`), a GRU/LSTM decoder
whose initial state is tanh(W [last forward h; first backward h]), attention over the encoder outputs
(Bahdanau's additive score, or Luong's multiplicative "general" score), Luong's attentional layer
o = tanh(Wc [context; h]) and a softmax over the target words.

With `decoder_layers` > 1 the decoder is a stack (dropout between its layers) and, as in Luong et al.,
attention reads the top layer's state; every layer starts from the same initial state (the LSTM's cells
from zero). The layers above the first are drawn after every other parameter, so a one-layer model is
what it always was.

The decoder reads the previous target word (teacher forcing) so in training it runs over the whole
sentence as one recurrent layer, and attention, the attentional layer and the softmax are each one
batched pass over all steps; without teacher forcing it feeds back its own argmax step by step.
Backward is written by hand; every buffer is allocated once for batches of up to
(max_src, max_tgt) steps.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from seqkit.recurrent.layers import init_layer_params, make_layer
from seqkit.recurrent.pool import Pool
from seqkit_seq2seq.encoder import BiEncoder, init_encoder_params
from seqkit.recurrent.output import gather_rows, scatter_add_rows, softmax_xent
from seqkit_seq2seq.kernels import additive_backward, additive_forward, dot_backward, dot_forward

SPECIALS = ("<pad>", "<unk>", "<s>", "</s>")
PAD, UNK, BOS, EOS = range(4)


@dataclass
class Config:
    cell: str = "gru"
    layers: int = 1
    embed: int = 128
    hidden: int = 256
    attention: str = "additive"
    attn_size: int = 256
    dropout: float = 0.0
    init_scale: float = 0.1
    decoder_layers: int = 1

    def as_dict(self) -> dict:
        return asdict(self)


def init_params(config: Config, src_vocab: int, tgt_vocab: int, rng: np.random.Generator,
                dtype=np.float32) -> dict[str, np.ndarray]:
    s, E, H = config.init_scale, config.embed, config.hidden
    C, D, A = 2 * H, H, config.attn_size

    def uniform(*shape):
        return rng.uniform(-s, s, size=shape).astype(dtype)

    params = {"src_embed": uniform(src_vocab, E), "tgt_embed": uniform(tgt_vocab, E)}
    params.update({k: v.astype(dtype) for k, v in init_encoder_params(
        config.cell, config.layers, E, H, rng, scale=s).items()})
    params.update({"Winit": uniform(C, D), "binit": uniform(D)})
    params.update({k: v.astype(dtype) for k, v in init_layer_params(config.cell, E, D, rng, tag="dec", scale=s).items()})
    if config.attention == "additive":
        params.update({"Wk": uniform(C, A), "bk": uniform(A), "Wq": uniform(D, A), "va": uniform(A)})
    else:
        params["Wg"] = uniform(C, D)
    params.update({"Wc": uniform(C + D, D), "bc": uniform(D), "Wout": uniform(D, tgt_vocab), "bout": uniform(tgt_vocab)})
    for layer in range(1, config.decoder_layers):
        params.update({k: v.astype(dtype) for k, v in init_layer_params(config.cell, D, D, rng, tag=f"dec{layer}",
                                                                         scale=s).items()})
    return params


def decoder_tags(config: Config) -> list[str]:
    """The parameter tags of the decoder's layers, bottom up."""
    return ["dec"] + [f"dec{layer}" for layer in range(1, config.decoder_layers)]


class Network:
    """One batch at a time: `encode`, then `decode_teacher` or `decode_free`, then `loss_and_backward`."""

    def __init__(self, config: Config, params: dict[str, np.ndarray], *, batch: int, max_src: int, max_tgt: int,
                 pool: Pool | None = None):
        self.config, self.params, self.batch = config, params, batch
        self.pool = pool or Pool(1)
        self.dtype = dtype = params["Wout"].dtype
        E, H = config.embed, config.hidden
        C, D, V = 2 * H, H, params["Wout"].shape[1]
        A = config.attn_size if config.attention == "additive" else D
        self.encoder = BiEncoder(config.cell, params, config.layers, batch=batch, max_steps=max_src,
                                 dropout=config.dropout, pool=self.pool)
        # the decoder's recurrence has the pool to itself: one band of the batch per thread
        self.decoders = [make_layer(config.cell, params, tag, batch=batch, max_steps=max_tgt, pool=self.pool,
                                    split_batch=True) for tag in decoder_tags(config)]
        self.decoder, self.top = self.decoders[0], self.decoders[-1]
        self.dec_in = [np.empty((max_tgt, batch, D), dtype) for _ in self.decoders[1:]]  # inputs of layers 1..
        self.dec_masks: list[np.ndarray | None] = [None] * len(self.dec_in)
        self.src_x = np.empty((max_src, batch, E), dtype)
        self.tgt_x = np.empty((max_tgt, batch, E), dtype)
        self.keys = np.empty((max_src, batch, A), dtype)
        self.queries = np.empty((max_tgt, batch, A), dtype)
        self.weights = np.zeros((max_tgt, batch, max_src), dtype)
        self.cat = np.empty((max_tgt, batch, C + D), dtype)     # [context; h]
        self.out = np.empty((max_tgt, batch, D), dtype)          # the attentional vector
        self.logits = np.empty((max_tgt * batch, V), dtype)
        self.top_rows = np.empty((max_tgt * batch, D), dtype)   # the output layer's real (unpadded) rows
        self.dtop = np.empty((max_tgt * batch, D), dtype)
        self.losses = np.empty(max_tgt * batch, np.float64)
        self.C, self.D = C, D
        self.S = self.T = 0

    # -- forward ---------------------------------------------------------------------------------------

    def encode(self, src: np.ndarray, src_len: np.ndarray, *, train: bool = False,
               rng: np.random.Generator | None = None) -> tuple:
        """Run the encoder over src [S, B] (padded with PAD); returns the decoder's initial state."""
        S, B = src.shape
        p = self.params
        self.S, self.src, self.src_len, self.train, self.rng = S, src, src_len.astype(np.int64), train, rng
        x = self.src_x[:S]
        gather_rows(p["src_embed"], src.reshape(-1), x.reshape(S * B, -1))
        self.enc, hf, hb = self.encoder.forward(x, self.src_len, train=train, rng=rng)
        self.final = np.concatenate([hf, hb], axis=1)
        self.init_h = np.tanh(self.final @ p["Winit"] + p["binit"])
        flat = self.enc.reshape(S * B, -1)
        keys = self.keys[:S].reshape(S * B, -1)
        if self.config.attention == "additive":
            self.pool.matmul(flat, p["Wk"], keys)
            keys += p["bk"]
        else:
            self.pool.matmul(flat, p["Wg"], keys)
        return (self.init_h,) if self.config.cell != "lstm" else (self.init_h, np.zeros_like(self.init_h))

    def decode_teacher(self, tgt_in: np.ndarray, tgt_len: np.ndarray, state: tuple) -> None:
        """The decoder over the reference's previous words tgt_in [T, B], and attention over all steps."""
        T, B = tgt_in.shape
        self.T, self.tgt_in = T, tgt_in
        y = self.tgt_x[:T]
        gather_rows(self.params["tgt_embed"], tgt_in.reshape(-1), y.reshape(T * B, -1))
        self._decoder_masks(T)
        self.decoder.forward(y, state, tgt_len)
        for below, layer, x, mask in zip(self.decoders, self.decoders[1:], self.dec_in, self.dec_masks):
            self._layer_input(below, x, mask, 0, T)
            layer.forward(x[:T], state, tgt_len)
        self._attend(0, T)

    def _decoder_masks(self, T: int) -> None:
        """Dropout masks on the inputs of decoder layers 1.. for T steps, drawn bottom up (training only)."""
        self.dec_masks = [None] * len(self.dec_in)
        if self.train and self.config.dropout > 0:
            keep = 1.0 - self.config.dropout
            shape = (T, self.batch, self.D)
            self.dec_masks = [(self.rng.random(shape) < keep).astype(self.dtype) / self.dtype.type(keep)
                              for _ in self.dec_in]

    def _layer_input(self, below, x: np.ndarray, mask: np.ndarray | None, t0: int, t1: int) -> None:
        """Steps [t0, t1) of the layer below's outputs, through dropout, into `x`."""
        h = below.outputs(self.T)[t0:t1]
        if mask is None:
            x[t0:t1] = h
        else:
            np.multiply(h, mask[t0:t1], out=x[t0:t1])

    def decode_free(self, T: int, tgt_len: np.ndarray, state: tuple) -> np.ndarray:
        """The decoder fed its own previous argmax (starting from <s>) for T steps; returns the inputs it read."""
        B = self.batch
        p = self.params
        tgt_in = np.empty((T, B), np.int64)
        tgt_in[0] = BOS
        self.T, y = T, self.tgt_x[:T]
        self._decoder_masks(T)
        self.decoder.begin(y, state, tgt_len)
        for layer, x in zip(self.decoders[1:], self.dec_in):
            layer.begin(x[:T], state, tgt_len)
        for t in range(T):
            gather_rows(p["tgt_embed"], tgt_in[t], y[t])
            self.decoder.input_products(t, t + 1)
            self.decoder.steps(t, t + 1)
            for below, layer, x, mask in zip(self.decoders, self.decoders[1:], self.dec_in, self.dec_masks):
                self._layer_input(below, x, mask, t, t + 1)
                layer.input_products(t, t + 1)
                layer.steps(t, t + 1)
            if t + 1 < T:
                self._attend(t, t + 1, dropout=False)
                tgt_in[t + 1] = np.argmax(self.out[t] @ p["Wout"] + p["bout"], axis=1)
        self.tgt_in = tgt_in
        self._attend(0, T)
        return tgt_in

    def _attend(self, t0: int, t1: int, dropout: bool = True) -> None:
        """Attention weights, context and the attentional vector for decoder steps [t0, t1)."""
        p, S, B, D, C = self.params, self.S, self.batch, self.D, self.C
        h = self.top.outputs(self.T)[t0:t1]
        n = (t1 - t0) * B
        queries, weights = self.queries[t0:t1], self.weights[t0:t1, :, :S]
        context = self.cat[t0:t1, :, :C]
        self.cat[t0:t1, :, C:] = h
        if self.config.attention == "additive":
            self.pool.matmul(h.reshape(n, D), p["Wq"], queries.reshape(n, -1))
            tasks = [lambda b0=b0, b1=b1: additive_forward(queries, self.keys[:S], p["va"], self.enc, self.src_len,
                                                           weights, context, b0, b1) for b0, b1 in self.pool.ranges(B)]
        else:
            tasks = [lambda b0=b0, b1=b1: dot_forward(h, self.keys[:S], self.enc, self.src_len, weights, context, b0, b1)
                     for b0, b1 in self.pool.ranges(B)]
        self.pool.run(tasks)
        out = self.out[t0:t1].reshape(n, D)
        self.pool.matmul(self.cat[t0:t1].reshape(n, -1), p["Wc"], out)
        out += p["bc"]
        np.tanh(out, out=out)
        self.mask = None
        if dropout and self.train and self.config.dropout > 0:
            keep = 1.0 - self.config.dropout
            self.mask = (self.rng.random(out.shape) < keep).astype(self.dtype) / self.dtype.type(keep)

    def _top(self) -> np.ndarray:
        top = self.out[:self.T].reshape(self.T * self.batch, -1)
        return top if self.mask is None else top * self.mask

    # -- loss and backward -----------------------------------------------------------------------------

    def loss_and_backward(self, tgt_out: np.ndarray) -> tuple[float, int, dict[str, np.ndarray]]:
        """(summed loss, target tokens, gradients of the mean loss per token); tgt_out [T, B] is -1 at padding."""
        p, T, B, S, C, D = self.params, self.T, self.batch, self.S, self.C, self.D
        rows = T * B
        flat = np.ascontiguousarray(tgt_out, dtype=np.int64).reshape(-1)
        real = np.flatnonzero(flat >= 0)
        count = len(real)
        top, targets = self._top(), flat
        if count < rows:  # padded positions have no loss and no gradient: the output layer skips them
            top, targets = np.take(top, real, axis=0, out=self.top_rows[:count]), flat[real]
        logits = self.pool.matmul(top, p["Wout"], self.logits[:count])
        ranges = self.pool.ranges(count)
        dbias = np.zeros((len(ranges), logits.shape[1]), self.dtype)
        scale = 1.0 / max(count, 1)
        self.pool.run([lambda i=i, lo=lo, hi=hi: softmax_xent(logits[lo:hi], p["bout"], targets[lo:hi], scale,
                                                              self.losses[lo:hi], dbias[i])
                       for i, (lo, hi) in enumerate(ranges)])
        loss = float(self.losses[:count].sum())
        grads: dict[str, np.ndarray] = {"bout": dbias.sum(axis=0)}
        dWout = np.empty_like(p["Wout"])
        columns = self.pool.ranges(dWout.shape[1])
        self.pool.run([lambda lo=lo, hi=hi: np.matmul(top.T, logits[:, lo:hi], out=dWout[:, lo:hi])
                       for lo, hi in columns])
        grads["Wout"] = dWout
        dout = self.pool.matmul(logits, p["Wout"].T, self.dtop[:count])
        if count < rows:
            dout = np.zeros((rows, D), self.dtype)
            dout[real] = self.dtop[:count]
        if self.mask is not None:
            dout *= self.mask
        out = self.out[:T].reshape(rows, D)
        dpre = dout * (1 - out * out)
        cat = self.cat[:T].reshape(rows, -1)
        dcat = np.empty((rows, C + D), self.dtype)

        def attentional_weights() -> None:
            grads["Wc"], grads["bc"] = cat.T @ dpre, dpre.sum(axis=0)

        # here and below: a weight gradient on the worker while this thread goes on (the pool is idle else)
        self.pool.run([lambda: np.matmul(dpre, p["Wc"].T, out=dcat), attentional_weights])
        dcontext = np.ascontiguousarray(dcat[:, :C]).reshape(T, B, C)
        dh = np.ascontiguousarray(dcat[:, C:])
        denc = np.zeros((S, B, C), self.dtype)
        dkeys = np.zeros((S, B, self.keys.shape[2]), self.dtype)
        dqueries = np.empty((T, B, self.keys.shape[2]), self.dtype)
        h = self.top.outputs(T)
        weights, keys = self.weights[:T, :, :S], self.keys[:S]
        bands = self.pool.ranges(B)
        if self.config.attention == "additive":
            dv = np.zeros((len(bands), p["va"].shape[0]), self.dtype)
            self.pool.run([lambda i=i, b0=b0, b1=b1: additive_backward(
                self.queries[:T], keys, p["va"], self.enc, self.src_len, weights, dcontext, dqueries, dkeys, dv[i],
                denc, b0, b1) for i, (b0, b1) in enumerate(bands)])
            flat_dq, flat_dk = dqueries.reshape(rows, -1), dkeys.reshape(S * B, -1)
            grads["va"] = dv.sum(axis=0)

            def attention_weights() -> None:
                grads["Wq"] = h.reshape(rows, D).T @ flat_dq
                grads["Wk"], grads["bk"] = self.enc.reshape(S * B, -1).T @ flat_dk, flat_dk.sum(axis=0)

            def attention_inputs() -> None:
                dh[:] += flat_dq @ p["Wq"].T
                denc[:] += (flat_dk @ p["Wk"].T).reshape(S, B, C)

            self.pool.run([attention_inputs, attention_weights])
        else:
            self.pool.run([lambda b0=b0, b1=b1: dot_backward(h, keys, self.enc, self.src_len, weights, dcontext,
                                                             dqueries, dkeys, denc, b0, b1) for b0, b1 in bands])
            dh += dqueries.reshape(rows, -1)
            flat_dk = dkeys.reshape(S * B, -1)

            def attention_weights() -> None:
                grads["Wg"] = self.enc.reshape(S * B, -1).T @ flat_dk

            def attention_inputs() -> None:
                denc[:] += (flat_dk @ p["Wg"].T).reshape(S, B, C)

            self.pool.run([attention_inputs, attention_weights])
        dy, dinit_h = dh.reshape(T, B, D), None
        for index in range(len(self.decoders) - 1, -1, -1):
            dy, dinit = self.decoders[index].backward(dy, grads, need_dinitial=True)
            dinit_h = dinit[0] if dinit_h is None else dinit_h + dinit[0]  # every layer starts from init_h
            if index and self.dec_masks[index - 1] is not None:
                dy = dy * self.dec_masks[index - 1]
        grads["tgt_embed"] = np.zeros_like(p["tgt_embed"])
        scatter_add_rows(self.tgt_in.reshape(-1), dy.reshape(rows, -1), grads["tgt_embed"])
        dpre0 = dinit_h * (1 - self.init_h * self.init_h)
        grads["Winit"], grads["binit"] = self.final.T @ dpre0, dpre0.sum(axis=0)
        dfinal = dpre0 @ p["Winit"].T
        H = self.config.hidden
        dx = self.encoder.backward(denc, np.ascontiguousarray(dfinal[:, :H]), np.ascontiguousarray(dfinal[:, H:]),
                                   grads)
        grads["src_embed"] = np.zeros_like(p["src_embed"])
        scatter_add_rows(self.src.reshape(-1), dx.reshape(S * B, -1), grads["src_embed"])
        return loss, count, grads

    def target_logprobs_sum(self, tgt_out: np.ndarray) -> tuple[float, int]:
        """Summed loss and token count of the current teacher-forced pass, without gradients."""
        rows = self.T * self.batch
        flat = np.ascontiguousarray(tgt_out, dtype=np.int64).reshape(-1)
        logits = self.pool.matmul(self._top(), self.params["Wout"], self.logits[:rows])
        logits += self.params["bout"]
        top = logits.max(axis=1, keepdims=True)
        lse = np.log(np.exp(logits - top).sum(axis=1)) + top[:, 0]
        valid = flat >= 0
        picked = logits[np.arange(rows), np.where(valid, flat, 0)]
        return float(((lse - picked) * valid).sum()), int(valid.sum())
