"""seqkit seq2seq vs the same model in PyTorch (benchmarks/peers/torch_seq2seq.py): the same sizes, Adam,
clipping, epochs, batch size and length buckets, 2 threads each, in two tasks:

- dates: the synthetic task of the tests (a date written four ways -> ISO 8601 spelt digit by digit), 3,000
  training pairs, 1,000 test pairs; exact-match accuracy of greedy (and, for seqkit, beam 5) translations.
  seqkit's target is >= 99 %.
- Multi30K de->en (lowercased): validation BLEU (sacreBLEU) of greedy and, for seqkit, beam 5 translations.

Both report training tokens/s (source + target tokens, </s> included; batches only, no validation) and the
training process's peak RSS (GNU time). Both translate with the last epoch's parameters (no validation
during training, so seqkit's model file is its last epoch, as PyTorch's is).

    python benchmarks/seq2seq.py [--tasks dates,multi30k] [--pairs N] [--epochs E] [--date-epochs E]

Run with seqkit's interpreter; PyTorch runs under $PEER_PYTHON (e.g. /work/benchenv/bin/python).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import random
import tempfile
from pathlib import Path

import numpy as np

from _common import PEER_PYTHON, ROOT, SHARED, markdown, seqkit_cmd, timed

MULTI30K = Path(os.environ.get("SEQKIT_TEST_DATA") or SHARED) / "translation" / "multi30k"
PEER = ROOT / "benchmarks" / "peers" / "torch_seq2seq.py"
MONTHS = ["january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
          "november", "december"]
TASKS = {  # sizes, and the options both systems share
    "dates": dict(embed=32, hidden=64, attn=32, batch=32, lr=0.005, clip=1.0),
    "multi30k": dict(embed=128, hidden=256, attn=256, batch=64, lr=0.001, clip=1.0),
}


def dates(seed: int, count: int) -> tuple[list[str], list[str]]:
    """The generator of tests/test_seq2seq.py: dates written four ways -> ISO 8601 spelt digit by digit."""
    rng = random.Random(seed)
    src, tgt = [], []
    for _ in range(count):
        d = datetime.date(1950, 1, 1) + datetime.timedelta(days=rng.randrange(40000))
        m = MONTHS[d.month - 1]
        src.append([f"{d.day} {m} {d.year}", f"{m} {d.day} , {d.year}", f"{d.month} / {d.day} / {d.year}",
                    f"{d.day:02d} . {d.month:02d} . {d.year}"][rng.randrange(4)])
        tgt.append(" ".join(d.isoformat()))
    return src, tgt


def _write(path: str, lines: list[str]) -> str:
    Path(path).write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def _lines(path: str) -> list[str]:
    return Path(path).read_text(encoding="utf-8").splitlines()


def seqkit_run(files: dict, sizes: dict, epochs: int, lowercase: bool, tmp: str) -> dict:
    model = os.path.join(tmp, "seqkit.npz")
    run = timed(seqkit_cmd("seq2seq", files["src"], files["tgt"], "-o", model, "--threads", "2", "-q",
                           "--embed", str(sizes["embed"]), "--hidden", str(sizes["hidden"]), "--attn-size",
                           str(sizes["attn"]), "--batch", str(sizes["batch"]), "--lr", str(sizes["lr"]), "--clip",
                           str(sizes["clip"]), "--epochs", str(epochs), "--max-length", "50",
                           *(["--lowercase"] if lowercase else [])))
    with np.load(model) as archive:
        history = [h for h in json.loads(archive["meta"].tobytes())["history"] if "epoch" in h]
    seconds = sum(h["seconds"] for h in history)
    result = {"tokens_per_s": sum(h["tokens_per_s"] * h["seconds"] for h in history) / seconds,
              "peak_rss_mb": run.peak_mib}
    for beam in (1, 5):
        out = timed(seqkit_cmd("translate", "-m", model, files["vsrc"], "--beam", str(beam), "-q"))
        result[f"hyps{beam}"] = out.stdout.splitlines()
    return result


def torch_run(files: dict, sizes: dict, epochs: int, lowercase: bool, tmp: str) -> dict:
    hyp = os.path.join(tmp, "torch.hyp")
    run = timed([PEER_PYTHON, str(PEER), files["src"], files["tgt"], files["vsrc"], hyp, "--threads", "2",
                 "--embed", str(sizes["embed"]), "--hidden", str(sizes["hidden"]), "--attn", str(sizes["attn"]),
                 "--batch", str(sizes["batch"]), "--lr", str(sizes["lr"]), "--clip", str(sizes["clip"]),
                 "--epochs", str(epochs), *(["--lowercase"] if lowercase else [])],
                env={"PYTHONPATH": str(ROOT / "plugins")})
    report = json.loads(run.stdout.strip().splitlines()[-1])
    return {"tokens_per_s": report["tokens_per_s"], "peak_rss_mb": run.peak_mib, "hyps1": _lines(hyp)}


def bleu(hyps: list[str], refs: list[str]) -> float:
    import sacrebleu

    return sacrebleu.corpus_bleu(hyps, [refs]).score


def run_dates(epochs: int, tmp: str, torch_version: str) -> str:
    files = {}
    for name, lines in zip(("src", "tgt"), dates(1, 3000)):
        files[name] = _write(os.path.join(tmp, f"dates.{name}"), lines)
    test_src, test_tgt = dates(2, 1000)
    files["vsrc"] = _write(os.path.join(tmp, "dates.vsrc"), test_src)
    ours = seqkit_run(files, TASKS["dates"], epochs, False, tmp)
    theirs = torch_run(files, TASKS["dates"], epochs, False, tmp)

    def exact(hyps: list[str]) -> float:
        return 100.0 * float(np.mean([h == t for h, t in zip(hyps, test_tgt)]))

    rows = [["seqkit", ours["tokens_per_s"], ours["peak_rss_mb"], exact(ours["hyps1"]), exact(ours["hyps5"])],
            [f"PyTorch {torch_version}", theirs["tokens_per_s"], theirs["peak_rss_mb"], exact(theirs["hyps1"]), "-"]]
    return (f"Dates -> ISO 8601, 3,000 pairs, {epochs} epochs, GRU 64, 2 threads; exact match on 1,000 test dates "
            f"(target >= 99 %)\n\n"
            + markdown(["system", "train tokens/s", "peak RSS MB", "exact % greedy", "exact % beam 5"], rows))


def run_multi30k(pairs: int, valid: int, epochs: int, tmp: str, torch_version: str) -> str:
    files = {}
    for name, source, count in (("src", "train.de", pairs), ("tgt", "train.en", pairs),
                                ("vsrc", "val.de", valid), ("vtgt", "val.en", valid)):
        files[name] = _write(os.path.join(tmp, f"m30k.{name}"), _lines(str(MULTI30K / source))[:count])
    refs = [line.lower() for line in _lines(files["vtgt"])]
    ours = seqkit_run(files, TASKS["multi30k"], epochs, True, tmp)
    theirs = torch_run(files, TASKS["multi30k"], epochs, True, tmp)
    rows = [["seqkit", ours["tokens_per_s"], ours["peak_rss_mb"], bleu(ours["hyps1"], refs), bleu(ours["hyps5"], refs)],
            [f"PyTorch {torch_version}", theirs["tokens_per_s"], theirs["peak_rss_mb"], bleu(theirs["hyps1"], refs),
             "-"]]
    return (f"Multi30K de->en, {pairs:,} pairs, {epochs} epochs, GRU {TASKS['multi30k']['hidden']}, 2 threads; "
            f"BLEU on {len(refs):,} validation sentences\n\n"
            + markdown(["system", "train tokens/s", "peak RSS MB", "BLEU greedy", "BLEU beam 5"], rows))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tasks", default="dates,multi30k", help="comma-separated: dates, multi30k")
    parser.add_argument("--pairs", type=int, default=29000, help="Multi30K training pairs")
    parser.add_argument("--valid", type=int, default=1014, help="Multi30K validation pairs")
    parser.add_argument("--epochs", type=int, default=10, help="Multi30K epochs")
    parser.add_argument("--date-epochs", type=int, default=5)
    args = parser.parse_args()
    tasks = args.tasks.split(",")
    unknown = set(tasks) - set(TASKS)
    if unknown:
        parser.error(f"unknown task(s): {', '.join(sorted(unknown))}")
    torch_version = timed([PEER_PYTHON, "-c", "import torch; print(torch.__version__)"]).stdout.strip()
    with tempfile.TemporaryDirectory() as tmp:
        if "dates" in tasks:
            print(run_dates(args.date_epochs, tmp, torch_version) + "\n", flush=True)
        if "multi30k" in tasks:
            print(run_multi30k(args.pairs, args.valid, args.epochs, tmp, torch_version) + "\n", flush=True)


if __name__ == "__main__":
    main()
