"""seqkit seq2seq vs the same model in PyTorch (2 threads, same sizes, Adam, epochs, clipping, batch size):
training tokens/s (source + target tokens, </s> included), peak RSS and validation BLEU (greedy).

    /work/benchenv/bin/python benchmarks/seq2seq.py [--pairs N] [--epochs E]

Run with the benchenv interpreter (torch, sacrebleu) and PYTHONPATH=.:plugins. Data: Multi30K de->en.
The PyTorch model: embedding, bidirectional nn.GRU (packed), h0 = tanh(W [h_fwd; h_bwd]), nn.GRU decoder
with teacher forcing, additive attention, o = tanh(Wc [context; h]), softmax; batches bucketed the same way.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(os.environ.get("SEQKIT_TEST_DATA") or ROOT.parent / "shared" / "data") / "translation" / "multi30k"
SIZES = dict(embed=128, hidden=256, attn=256, batch=64, lr=0.001, clip=1.0)


def torch_run(src_path, tgt_path, valid_src, valid_tgt, epochs: int) -> dict:
    import numpy as np
    import sacrebleu
    import torch
    from torch import nn

    from seqkit_seq2seq.text import detokenize, tokenize

    torch.set_num_threads(2)
    torch.manual_seed(1)
    read = lambda p: [tokenize(l.rstrip("\n"), lowercase=True) for l in open(p, encoding="utf-8")]
    src, tgt = read(src_path), read(tgt_path)
    vs = ["<pad>", "<unk>", "<s>", "</s>"] + sorted({w for s in src for w in s})
    vt = ["<pad>", "<unk>", "<s>", "</s>"] + sorted({w for s in tgt for w in s})
    si, ti = {w: i for i, w in enumerate(vs)}, {w: i for i, w in enumerate(vt)}
    E, H, A = SIZES["embed"], SIZES["hidden"], SIZES["attn"]

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
    opt = torch.optim.Adam(model.parameters(), lr=SIZES["lr"])
    loss_fn = nn.CrossEntropyLoss(ignore_index=-1)
    rng = np.random.default_rng(1)
    pairs = [(s, t) for s, t in zip(src, tgt) if s and t and max(len(s), len(t)) <= 50]
    tokens, start = 0, time.perf_counter()
    for _ in range(epochs):
        order = np.lexsort((rng.random(len(pairs)), [len(t) for _, t in pairs], [len(s) for s, _ in pairs]))
        chunks = [order[i:i + SIZES["batch"]] for i in range(0, len(order), SIZES["batch"])]
        for c in rng.permutation(len(chunks)):
            batch = [pairs[i] for i in chunks[c]]
            sl = torch.tensor([len(s) for s, _ in batch])
            S, T = int(sl.max()), max(len(t) for _, t in batch) + 1
            s = torch.zeros(S, len(batch), dtype=torch.long)
            ti_ = torch.zeros(T, len(batch), dtype=torch.long)
            to = torch.full((T, len(batch)), -1, dtype=torch.long)
            for b, (x, y) in enumerate(batch):
                s[:len(x), b] = torch.tensor([si[w] for w in x])
                ids = [ti[w] for w in y]
                ti_[:len(ids) + 1, b] = torch.tensor([2] + ids)
                to[:len(ids) + 1, b] = torch.tensor(ids + [3])
            loss = loss_fn(model(s, sl, ti_).reshape(-1, len(vt)), to.reshape(-1))
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), SIZES["clip"])
            opt.step()
            tokens += int(sl.sum()) + sum(len(t) + 1 for _, t in batch)
    seconds = time.perf_counter() - start
    hyps = []
    with torch.no_grad():
        for words in read(valid_src):
            ids = torch.tensor([[si.get(w, 1)] for w in words] or [[1]])
            out, token = [], 2
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
                out.append(token)
            hyps.append(detokenize([vt[i] for i in out]))
    refs = [l.rstrip("\n").lower() for l in open(valid_tgt, encoding="utf-8")]
    return {"tokens_per_s": tokens / seconds, "bleu": sacrebleu.corpus_bleu(hyps, [refs]).score,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def seqkit_run(src, tgt, vsrc, vtgt, epochs: int, tmp: str) -> dict:
    import json

    import numpy as np

    model = os.path.join(tmp, "m.npz")
    env = dict(os.environ, PYTHONPATH=f"{ROOT}:{ROOT / 'plugins'}")
    code = ("import resource, sys; from seqkit.cli import main; sys.argv = ['seqkit'] + sys.argv[1:]\n"
            "try: main()\nfinally: print('RSS', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)")
    proc = subprocess.run([sys.executable, "-c", code, "seq2seq", src, tgt, "-o", model, "--lowercase", "--threads", "2",
                           "--embed", str(SIZES["embed"]), "--hidden", str(SIZES["hidden"]), "--attn-size",
                           str(SIZES["attn"]), "--batch", str(SIZES["batch"]), "--lr", str(SIZES["lr"]), "--clip",
                           str(SIZES["clip"]), "--epochs", str(epochs), "--max-length", "50"],
                          env=env, capture_output=True, text=True)
    if proc.returncode:
        raise SystemExit(proc.stderr)
    rss = int(proc.stderr.split("RSS ")[-1].split()[0]) / 1024
    history = json.loads(np.load(model)["meta"].tobytes())["history"]
    speed = sum(h["tokens_per_s"] * h["seconds"] for h in history if "epoch" in h) / sum(
        h["seconds"] for h in history if "epoch" in h)
    result = {"tokens_per_s": speed, "peak_rss_mb": rss}
    for beam in (1, 5):
        hyp = os.path.join(tmp, f"hyp{beam}")
        with open(hyp, "w") as out:
            subprocess.run([sys.executable, "-m", "seqkit", "translate", "-m", model, vsrc, "--beam", str(beam), "-q"],
                           env=env, stdout=out, check=True)
        ref = os.path.join(tmp, "ref")
        Path(ref).write_text(Path(vtgt).read_text(encoding="utf-8").lower(), encoding="utf-8")
        bleu = subprocess.run([sys.executable, "-m", "seqkit", "bleu", ref, hyp, "--json"], env=env,
                              capture_output=True, text=True, check=True)
        result[f"bleu_beam{beam}"] = json.loads(bleu.stdout)["score"]
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pairs", type=int, default=29000)
    parser.add_argument("--valid", type=int, default=1014)
    parser.add_argument("--epochs", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        files = {}
        for name, source, count in (("src", "train.de", args.pairs), ("tgt", "train.en", args.pairs),
                                    ("vsrc", "val.de", args.valid), ("vtgt", "val.en", args.valid)):
            files[name] = os.path.join(tmp, name)
            lines = (DATA / source).read_text(encoding="utf-8").splitlines(keepends=True)[:count]
            Path(files[name]).write_text("".join(lines), encoding="utf-8")
        ours = seqkit_run(files["src"], files["tgt"], files["vsrc"], files["vtgt"], args.epochs, tmp)
        theirs = torch_run(files["src"], files["tgt"], files["vsrc"], files["vtgt"], args.epochs)
    print(f"Multi30K de->en, {args.pairs:,} pairs, {args.epochs} epochs, GRU {SIZES['hidden']}, 2 threads\n")
    print("| system | train tokens/s | peak RSS MB | BLEU greedy | BLEU beam 5 |")
    print("|---|---:|---:|---:|---:|")
    print(f"| seqkit | {ours['tokens_per_s']:,.0f} | {ours['peak_rss_mb']:.0f} | {ours['bleu_beam1']:.2f} | "
          f"{ours['bleu_beam5']:.2f} |")
    print(f"| PyTorch {__import__('torch').__version__} | {theirs['tokens_per_s']:,.0f} | {theirs['peak_rss_mb']:.0f} | "
          f"{theirs['bleu']:.2f} | - |")


if __name__ == "__main__":
    main()
