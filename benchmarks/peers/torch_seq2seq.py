"""The model of `seqkit seq2seq` (defaults: one layer each side, GRU, additive attention) in PyTorch, for
benchmarks/seq2seq.py (run with $PEER_PYTHON and PYTHONPATH=plugins, for seqkit's tokenizer): embedding,
bidirectional nn.GRU (packed), h0 = tanh(W [h_fwd; h_bwd]), nn.GRU decoder with teacher forcing, additive
attention, o = tanh(Wc [context; h]), softmax; Adam, global-norm clipping, batches bucketed by length as
seqkit buckets them. After training it translates VALID_SRC greedily (at most 2 x source length + 10
tokens) into HYP_OUT and prints one JSON line: training seconds (batches only) and tokens per second
(source + target tokens, </s> included, as seqkit counts them).

    python torch_seq2seq.py SRC TGT VALID_SRC HYP_OUT [--lowercase] [--embed 128] [--hidden 256] [--attn 256]
        [--batch 64] [--lr 0.001] [--clip 1] [--epochs 10] [--max-length 50] [--threads 2] [--seed 1]
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch
from torch import nn

from seqkit_seq2seq.text import detokenize, tokenize


def main() -> None:
    parser = argparse.ArgumentParser()
    for name in ("src", "tgt", "valid_src", "hyp_out"):
        parser.add_argument(name)
    parser.add_argument("--lowercase", action="store_true")
    for name, default in (("embed", 128), ("hidden", 256), ("attn", 256), ("batch", 64), ("epochs", 10),
                          ("max-length", 50), ("threads", 2), ("seed", 1)):
        parser.add_argument(f"--{name}", type=int, default=default)
    parser.add_argument("--lr", type=float, default=0.001)
    parser.add_argument("--clip", type=float, default=1.0)
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    read = lambda p: [tokenize(line.rstrip("\n"), lowercase=args.lowercase) for line in open(p, encoding="utf-8")]
    src, tgt = read(args.src), read(args.tgt)
    vs = ["<pad>", "<unk>", "<s>", "</s>"] + sorted({w for s in src for w in s})
    vt = ["<pad>", "<unk>", "<s>", "</s>"] + sorted({w for s in tgt for w in s})
    si, ti = {w: i for i, w in enumerate(vs)}, {w: i for i, w in enumerate(vt)}
    E, H, A = args.embed, args.hidden, args.attn

    class Model(nn.Module):
        def __init__(self):
            super().__init__()
            self.se, self.te = nn.Embedding(len(vs), E), nn.Embedding(len(vt), E)
            self.enc = nn.GRU(E, H, bidirectional=True)
            self.init = nn.Linear(2 * H, H)
            self.dec = nn.GRU(E, H)
            self.k, self.q, self.v = nn.Linear(2 * H, A), nn.Linear(H, A, bias=False), nn.Linear(A, 1, bias=False)
            self.c, self.out = nn.Linear(3 * H, H), nn.Linear(H, len(vt))

        def forward(self, s, sl, t):
            packed = nn.utils.rnn.pack_padded_sequence(self.se(s), sl, enforce_sorted=False)
            enc, hn = self.enc(packed)
            enc, _ = nn.utils.rnn.pad_packed_sequence(enc)
            h0 = torch.tanh(self.init(torch.cat([hn[0], hn[1]], 1)))[None]
            h, _ = self.dec(self.te(t), h0)
            scores = self.v(torch.tanh(self.k(enc)[None] + self.q(h)[:, None])).squeeze(-1)   # [T, S, B]
            mask = torch.arange(enc.shape[0])[:, None] >= sl[None]
            w = torch.softmax(scores.masked_fill(mask[None], -1e9), dim=1)
            ctx = torch.einsum("tsb,sbc->tbc", w, enc)
            return self.out(torch.tanh(self.c(torch.cat([ctx, h], -1))))

    model = Model()
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    loss_fn = nn.CrossEntropyLoss(ignore_index=-1)
    rng = np.random.default_rng(args.seed)
    pairs = [(s, t) for s, t in zip(src, tgt) if s and t and max(len(s), len(t)) <= args.max_length]
    tokens, start = 0, time.perf_counter()
    for _ in range(args.epochs):
        order = np.lexsort((rng.random(len(pairs)), [len(t) for _, t in pairs], [len(s) for s, _ in pairs]))
        chunks = [order[i:i + args.batch] for i in range(0, len(order), args.batch)]
        for c in rng.permutation(len(chunks)):
            batch = [pairs[i] for i in chunks[c]]
            sl = torch.tensor([len(s) for s, _ in batch])
            S, T = int(sl.max()), max(len(t) for _, t in batch) + 1
            s = torch.zeros(S, len(batch), dtype=torch.long)
            t_in = torch.zeros(T, len(batch), dtype=torch.long)
            t_out = torch.full((T, len(batch)), -1, dtype=torch.long)
            for b, (x, y) in enumerate(batch):
                s[:len(x), b] = torch.tensor([si[w] for w in x])
                ids = [ti[w] for w in y]
                t_in[:len(ids) + 1, b] = torch.tensor([2] + ids)
                t_out[:len(ids) + 1, b] = torch.tensor(ids + [3])
            loss = loss_fn(model(s, sl, t_in).reshape(-1, len(vt)), t_out.reshape(-1))
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), args.clip)
            opt.step()
            tokens += int(sl.sum()) + sum(len(t) + 1 for _, t in batch)
    seconds = time.perf_counter() - start
    with torch.no_grad(), open(args.hyp_out, "w", encoding="utf-8") as out:
        for words in read(args.valid_src):
            ids = torch.tensor([[si.get(w, 1)] for w in words] or [[1]])
            hyp, token = [], 2
            enc, hn = model.enc(model.se(ids))
            h = torch.tanh(model.init(torch.cat([hn[0], hn[1]], 1)))[None]
            keys = model.k(enc)
            for _ in range(2 * len(words) + 10):
                o, h = model.dec(model.te(torch.tensor([[token]])), h)
                w = torch.softmax(model.v(torch.tanh(keys + model.q(o))).squeeze(-1), 0)
                ctx = (w[..., None] * enc).sum(0)
                token = int(model.out(torch.tanh(model.c(torch.cat([ctx, o[0]], -1)))).argmax())
                if token == 3:
                    break
                hyp.append(token)
            out.write(detokenize([vt[i] for i in hyp]) + "\n")
    print(json.dumps({"seconds": seconds, "tokens_per_s": tokens / seconds}))


if __name__ == "__main__":
    main()
