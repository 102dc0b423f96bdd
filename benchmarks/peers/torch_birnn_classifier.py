"""The architecture of `seqkit classify --model birnn` in PyTorch, for benchmarks/classify.py (run with
$PEER_PYTHON): embeddings (from the same word2vec text vectors) -> bidirectional GRU/LSTM -> max over the
real steps (or the last forward and backward states) -> dropout -> linear -> cross-entropy; Adam with the
learning rate decayed linearly to 0 over the epochs (per batch), global-norm clipping.

Its data are seqkit's: the same vocabulary (<pad>, <unk>, </s>, then words by count, ties by first
appearance), `</s>` ending every line, and the same batches in the same order (numpy's generator seeded
with (seed, epoch), lengths sorted with random ties, batches shuffled). It prints one JSON line: dev
accuracy after the last epoch, training seconds (batches only) and tokens per second.

    python torch_birnn_classifier.py TRAIN DEV [--vectors VECS.txt] [--cell gru] [--dim 100] [--hidden 150]
        [--pool max] [--dropout 0.5] [--lr 0.001] [--epochs 3] [--batch 64] [--clip 5] [--threads 2] [--seed 1]
"""

from __future__ import annotations

import argparse
import json
import time
from collections import Counter

import numpy as np
import torch
import torch.nn as nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

SPECIALS = ("<pad>", "<unk>", "</s>")


def read(path: str) -> list[tuple[list[str], str]]:
    lines = []
    for line in open(path, encoding="utf-8"):
        tokens = line.split()
        labels = [t for t in tokens if t.startswith("__label__")]
        if labels:
            lines.append(([t for t in tokens if not t.startswith("__label__")], labels[0]))
    return lines


def vocabulary(lines):
    counts, first = Counter(), {}
    for words, _ in lines:
        for w in words:
            counts[w] += 1
            first.setdefault(w, len(first))
    words = sorted((w for w in counts if w not in SPECIALS), key=lambda w: (-counts[w], first[w]))
    label_counts, label_first = Counter(label for _, label in lines), {}
    for _, label in lines:
        label_first.setdefault(label, len(label_first))
    labels = sorted(label_counts, key=lambda x: (-label_counts[x], label_first[x]))
    return list(SPECIALS) + words, labels


def encode(lines, index, label_index):
    ids = [[index.get(w, 1) for w in words] + [2] for words, label in lines if label in label_index]
    labels = [label_index[label] for _, label in lines if label in label_index]
    return ids, np.array(labels)


def batches(lengths: np.ndarray, batch: int, rng: np.random.Generator) -> list[np.ndarray]:
    order = np.lexsort((rng.random(len(lengths)), lengths))
    chunks = [order[i:i + batch] for i in range(0, len(order), batch)]
    return [chunks[i] for i in rng.permutation(len(chunks))]


def load_vectors(path: str) -> dict[str, np.ndarray]:
    table = {}
    with open(path, encoding="utf-8") as handle:
        first = handle.readline().split()
        if len(first) != 2:
            table[first[0]] = np.array(first[1:], dtype=np.float32)
        for line in handle:
            parts = line.rstrip("\n").rstrip(" ").split(" ")
            table[parts[0]] = np.array(parts[1:], dtype=np.float32)
    return table


class Model(nn.Module):
    def __init__(self, vocab: int, labels: int, args):
        super().__init__()
        self.pool = args.pool
        self.embed = nn.Embedding(vocab, args.dim, padding_idx=0)
        nn.init.uniform_(self.embed.weight, -0.1, 0.1)
        with torch.no_grad():
            self.embed.weight[0].zero_()
        rnn = nn.LSTM if args.cell == "lstm" else nn.GRU
        self.rnn = rnn(args.dim, args.hidden, num_layers=args.layers, bidirectional=True)
        self.drop = nn.Dropout(args.dropout)
        self.out = nn.Linear(2 * args.hidden, labels)

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        packed = pack_padded_sequence(self.embed(ids), lengths, enforce_sorted=False)
        outputs, state = self.rnn(packed)
        if self.pool == "max":
            padded, _ = pad_packed_sequence(outputs, padding_value=float("-inf"))
            pooled = padded.max(dim=0).values
        else:
            h = state[0] if isinstance(state, tuple) else state
            pooled = torch.cat([h[-2], h[-1]], dim=1)
        return self.out(self.drop(pooled))


def padded(ids: list[list[int]], index: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    lengths = [len(ids[i]) for i in index]
    out = torch.zeros((max(lengths), len(index)), dtype=torch.long)
    for b, i in enumerate(index):
        out[:lengths[b], b] = torch.tensor(ids[i])
    return out, torch.tensor(lengths)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("train")
    parser.add_argument("dev")
    parser.add_argument("--vectors")
    parser.add_argument("--cell", default="gru")
    parser.add_argument("--layers", type=int, default=1)
    parser.add_argument("--dim", type=int, default=100)
    parser.add_argument("--hidden", type=int, default=150)
    parser.add_argument("--pool", default="max")
    parser.add_argument("--dropout", type=float, default=0.5)
    parser.add_argument("--lr", type=float, default=0.001)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--clip", type=float, default=5.0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    train_lines, dev_lines = read(args.train), read(args.dev)
    words, labels = vocabulary(train_lines)
    index, label_index = {w: i for i, w in enumerate(words)}, {x: i for i, x in enumerate(labels)}
    train_ids, train_y = encode(train_lines, index, label_index)
    dev_ids, dev_y = encode(dev_lines, index, label_index)
    model = Model(len(words), len(labels), args)
    if args.vectors:
        table = load_vectors(args.vectors)
        with torch.no_grad():
            for i, w in enumerate(words[1:], 1):
                if w in table:
                    model.embed.weight[i] = torch.from_numpy(table[w])
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    loss_fn = nn.CrossEntropyLoss()
    lengths = np.array([len(x) for x in train_ids])
    total_steps = args.epochs * -(-len(lengths) // args.batch)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0 - step / total_steps)
    seconds, tokens = 0.0, 0
    for epoch in range(1, args.epochs + 1):
        model.train()
        started = time.perf_counter()
        for index_ in batches(lengths, args.batch, np.random.default_rng([args.seed, epoch])):
            ids, lens = padded(train_ids, index_)
            optimizer.zero_grad()
            loss = loss_fn(model(ids, lens), torch.from_numpy(train_y[index_]))
            loss.backward()
            if args.clip > 0:
                nn.utils.clip_grad_norm_(model.parameters(), args.clip)
            optimizer.step()
            schedule.step()
            tokens += int(lens.sum())
        seconds += time.perf_counter() - started
    model.eval()
    right = 0
    with torch.no_grad():
        for start in range(0, len(dev_ids), args.batch):
            index_ = np.arange(start, min(start + args.batch, len(dev_ids)))
            ids, lens = padded(dev_ids, index_)
            right += int((model(ids, lens).argmax(dim=1).numpy() == dev_y[index_]).sum())
    print(json.dumps({"accuracy": right / len(dev_ids), "seconds": seconds, "tokens_per_s": tokens / seconds}))


if __name__ == "__main__":
    main()
