"""`seqkit classify --pooling mean|sqrt` at a few learning rates on the single-label sets: test P@1 per seed,
one thread (reproducible). SST-2 trains on the autotune benchmark's training lines (its held-out sentences
and their phrases removed), the others on their whole training lines. Prints a markdown table.

    python benchmarks/experiments/classify_pooling.py [--seeds 1,2]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _common import markdown, seqkit_cmd  # noqa: E402
from classify import held_out, splits  # noqa: E402

SETTINGS = [("mean", None), ("sqrt", 0.05), ("sqrt", 0.02), ("sqrt", 0.01)]  # None: seqkit's default rate


def p_at_1(train: Path, test: Path, model: Path, pooling: str, lr: float | None, seed: int) -> float:
    rate = ["--lr", str(lr)] if lr is not None else []
    subprocess.run(seqkit_cmd("classify", str(train), "-o", str(model), "--pooling", pooling, *rate, "-t", "1",
                              "--seed", str(seed), "-q"), check=True)
    out = subprocess.run(seqkit_cmd("test", "-m", str(model), str(test), "--json", "-q"), check=True,
                         capture_output=True, text=True).stdout
    return json.loads(out)["P@1"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="1,2")
    seeds = [int(s) for s in parser.parse_args().seeds.split(",")]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        sets = splits(work)
        for name in ("rt-polarity", "trec", "sst2", "subj"):
            train, test = sets[name]
            if name == "sst2":
                train, _ = held_out(train, work)
            row = [name]
            for pooling, lr in SETTINGS:
                scores = [p_at_1(train, test, work / "m.npz", pooling, lr, s) for s in seeds]
                row.append(" ".join(f"{x:.3f}" for x in scores))
            rows.append(row)
    print(markdown([f"set (P@1, seeds {','.join(map(str, seeds))})"]
                   + [f"{p} lr {lr}" if lr else f"{p} (default lr)" for p, lr in SETTINGS], rows))


if __name__ == "__main__":
    main()
