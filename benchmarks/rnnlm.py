"""seqkit rnnlm vs the same model in PyTorch on Penn Treebank, in one run.

The "small" configuration of Zaremba et al. (2014): 2-layer LSTM, 200 units, embedding 200, batch 20,
bptt 35, no dropout, uniform init +-0.1, SGD lr 1.0 halved each epoch after epoch 4, clip 5, 2 threads.
Reports training tokens/s, seconds per epoch, peak RSS, and validation/test perplexity after --epochs
epochs (13 for the full configuration; fewer for a throughput comparison).

    python benchmarks/rnnlm.py [--epochs 13] [--tools seqkit,torch] [--cell lstm] [--max-tokens N]
    python benchmarks/rnnlm.py --score-only LM.npz    # seqkit's scoring of ptb.test.txt alone

Scoring is timed in-process (`seqkit.lm.text_perplexity`, the path of `seqkit perplexity`, model loaded)
and as a whole `seqkit perplexity` process.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
from pathlib import Path

from _common import PEER_PYTHON, SHARED, markdown, seqkit_cmd, timed

PTB = SHARED / "ptb"

TORCH = r"""
import json, math, sys, time
import torch, torch.nn as nn
train_path, valid_path, test_path, epochs, cell = sys.argv[1:6]
epochs = int(epochs)
torch.set_num_threads(2)
torch.manual_seed(1)
def read(path):
    return [w for line in open(path) for w in line.split() + ["</s>"]]
train_words = read(train_path)
vocab = sorted(set(train_words) | {"</s>", "<unk>"})
index = {w: i for i, w in enumerate(vocab)}
def ids(words):
    return torch.tensor([index.get(w, index["<unk>"]) for w in words], dtype=torch.long)
def batchify(data, b):
    n = data.size(0) // b
    return data[: n * b].view(b, n).t().contiguous()
train, valid, test = (batchify(ids(read(p)), 20) for p in (train_path, valid_path, test_path))
class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(len(vocab), 200)
        self.rnn = (nn.LSTM if cell == "lstm" else nn.GRU)(200, 200, 2)
        self.out = nn.Linear(200, len(vocab))
        for p in self.parameters():
            nn.init.uniform_(p, -0.1, 0.1)
    def forward(self, x, h):
        y, h = self.rnn(self.embed(x), h)
        return self.out(y), h
model = Model()
loss_fn = nn.CrossEntropyLoss()
def detach(h):
    return tuple(x.detach() for x in h) if isinstance(h, tuple) else h.detach()
def evaluate(data):
    model.eval()
    h = None
    total, count = 0.0, 0
    with torch.no_grad():
        for i in range(0, data.size(0) - 1, 35):
            x, y = data[i:i + 35], data[i + 1:i + 36]
            x = x[: y.size(0)]
            out, h = model(x, h)
            total += loss_fn(out.view(-1, len(vocab)), y.reshape(-1)).item() * y.numel()
            count += y.numel()
    return math.exp(total / count)
lr = 1.0
history = []
for epoch in range(1, epochs + 1):
    model.train()
    h = None
    start = time.perf_counter()
    tokens = 0
    for i in range(0, train.size(0) - 1, 35):
        x, y = train[i:i + 35], train[i + 1:i + 36]
        x = x[: y.size(0)]
        if h is not None:
            h = detach(h)
        out, h = model(x, h)
        # Zaremba et al.'s objective: summed over the steps, averaged over the batch (= seqkit's)
        loss = loss_fn(out.view(-1, len(vocab)), y.reshape(-1)) * y.size(0)
        model.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        with torch.no_grad():
            for p in model.parameters():
                p -= lr * p.grad
        tokens += y.numel()
    seconds = time.perf_counter() - start
    history.append({"epoch": epoch, "seconds": seconds, "tokens_per_s": tokens / seconds, "valid_ppl": evaluate(valid)})
    if epoch >= 4:
        lr *= 0.5
start = time.perf_counter()
test_ppl = evaluate(test)
print(json.dumps({"history": history, "test_ppl": test_ppl,
                  "eval_tokens_per_s": (test.numel() - test.size(1)) / (time.perf_counter() - start)}))
"""

SEQKIT_TEST = r"""
import json, sys, time
from seqkit.lm import PerplexityCounter, load_language_model
model = load_language_model(sys.argv[1])
tokens = sum(len(line.split()) + 1 for line in open(sys.argv[2]) if line.split())
start = time.perf_counter()
try:  # the path of `seqkit perplexity`: the core's reader, a block of sentences per model call
    from seqkit.lm import text_perplexity
    result = text_perplexity(model, [sys.argv[2]])
except ImportError:  # a seqkit without the batch path: sentence by sentence, the state carried
    counter = PerplexityCounter()
    for s in model.score_stream([line.split() for line in open(sys.argv[2]) if line.split()]):
        counter.add(s)
    result = counter.result()
seconds = time.perf_counter() - start
print(json.dumps({"test_ppl": result.ppl, "eval_tokens_per_s": tokens / seconds}))
"""


def score(model: str, text: Path) -> dict:
    """seqkit's test perplexity and scoring speed: in-process (model loaded, kernels compiled) and for the
    whole `seqkit perplexity` process."""
    test = json.loads(timed([sys_python(), "-c", SEQKIT_TEST, model, str(text)]).stdout)
    run = timed(seqkit_cmd("perplexity", "-m", model, str(text), "--json"))
    data = json.loads(run.stdout)
    test["process_tokens_per_s"] = data["tokens"] / run.seconds
    test["process_ppl"] = data["ppl"]
    return test


def truncated(path: Path, max_tokens: int | None, tmp: str) -> Path:
    """The first lines of `path` holding about `max_tokens` tokens (all of it without a limit)."""
    if not max_tokens:
        return path
    out, count = Path(tmp) / path.name, 0
    with open(path) as src, open(out, "w") as dst:
        for line in src:
            if count >= max_tokens:
                break
            dst.write(line)
            count += len(line.split()) + 1
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=13)
    parser.add_argument("--tools", default="seqkit,torch")
    parser.add_argument("--cell", default="lstm", choices=["lstm", "gru"])
    parser.add_argument("--max-tokens", type=int, default=None,
                        help="Train on the first lines of ptb.train.txt holding about this many tokens (a quick run).")
    parser.add_argument("--score-only", metavar="LM.npz", default=None,
                        help="Only time seqkit's scoring of ptb.test.txt with this model (run it under two "
                             "PYTHONPATHs to compare seqkit versions).")
    args = parser.parse_args()
    if args.score_only:
        print(json.dumps(score(args.score_only, PTB / "ptb.test.txt")))
        return
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        train_text = truncated(PTB / "ptb.train.txt", args.max_tokens, tmp)
        tools = args.tools.split(",")
        if "torch" in tools and subprocess.run([PEER_PYTHON, "-c", "import torch"], capture_output=True).returncode:
            print(f"PyTorch is not installed for {PEER_PYTHON} (pip install torch==2.13.0, or set PEER_PYTHON): "
                  "seqkit only", flush=True)
            tools.remove("torch")
        for tool in tools:
            if tool == "seqkit":
                model = f"{tmp}/lm.npz"
                run = timed(seqkit_cmd("rnnlm", str(train_text), "-o", model, "--valid",
                                       str(PTB / "ptb.valid.txt"), "--cell", args.cell, "--epochs", str(args.epochs),
                                       "--threads", "2", "-q"))
                import numpy as np

                meta = json.loads(np.load(model, allow_pickle=False)["meta"].tobytes())
                history = [h for h in meta["training"]["progress"]["history"] if "epoch" in h]
                test = score(model, PTB / "ptb.test.txt")
            else:
                run = timed([PEER_PYTHON, "-c", TORCH, str(train_text), str(PTB / "ptb.valid.txt"),
                             str(PTB / "ptb.test.txt"), str(args.epochs), args.cell])
                out = json.loads(run.stdout)
                history, test = out["history"], out
            tokens_per_s = sum(h["tokens_per_s"] for h in history) / len(history)
            seconds = sum(h["seconds"] for h in history) / len(history)
            # the model tested: seqkit's file keeps the best-validation epoch; the torch script, the last
            valid_ppl = min(h["valid_ppl"] for h in history) if tool == "seqkit" else history[-1]["valid_ppl"]
            rows.append([tool, len(history), tokens_per_s, seconds, run.peak_mib, valid_ppl,
                         test["test_ppl"], test["eval_tokens_per_s"], test.get("process_tokens_per_s", "-")])
            print(f"{tool}: {rows[-1]}", flush=True)
    if len(rows) == 2:
        rows[1] += [""] * 2
        rows[0].append(f"{rows[0][2] / rows[1][2]:.2f}x")
        rows[0].append(f"{rows[0][7] / rows[1][7]:.2f}x")
    print(f"\nPTB, 2-layer {args.cell} 200, batch 20, bptt 35, SGD lr 1 (halved after epoch 4), clip 5, 2 threads")
    print(markdown(["tool", "epochs", "train tokens/s", "s/epoch", "peak MiB", "valid ppl (model tested)", "test ppl",
                    "eval tokens/s", "`seqkit perplexity` process tokens/s", "train seqkit / torch", "eval seqkit / torch"], rows))


def sys_python() -> str:
    import sys

    return sys.executable


if __name__ == "__main__":
    main()
