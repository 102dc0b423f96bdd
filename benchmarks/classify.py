"""seqkit classify against fastText (fasttext-wheel) and TF-IDF + LinearSVC (scikit-learn) on the shared
classification sets: test accuracy (P@1) with each tool's defaults, and training speed with the same
hyper-parameters and threads. Prints markdown tables.

    python benchmarks/classify.py [--sets rt-polarity,trec] [--threads 2]

The peers run under $PEER_PYTHON (see _common.py); seqkit under $SEQKIT_PYTHON.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import tempfile
from pathlib import Path

from _common import PEER_PYTHON, SHARED, markdown, seqkit_cmd, timed

DATA = SHARED / "classification"

FASTTEXT = """
import json, sys, time, fasttext
train, test, kw = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
start = time.perf_counter()
model = fasttext.train_supervised(train, verbose=0, **kw)
seconds = time.perf_counter() - start
n, p1, _ = model.test(test, k=1)
print(json.dumps({"p1": p1, "seconds": seconds}))
"""

SVC = """
import json, sys, time
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.svm import LinearSVC
def read(path):
    xs, ys = [], []
    for line in open(path, encoding="utf-8"):
        toks = line.split()
        labels = [t for t in toks if t.startswith("__label__")]
        if labels:
            xs.append(" ".join(t for t in toks if not t.startswith("__label__"))); ys.append(labels[0])
    return xs, ys
(xs, ys), (xt, yt) = read(sys.argv[1]), read(sys.argv[2])
start = time.perf_counter()
vec = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, token_pattern=r"\\S+")
clf = LinearSVC().fit(vec.fit_transform(xs), ys)
print(json.dumps({"p1": float((clf.predict(vec.transform(xt)) == yt).mean()), "seconds": time.perf_counter() - start}))
"""


def splits(workdir: Path) -> dict[str, tuple[Path, Path]]:
    """(train, test) per set; SUBJ has no official split, so every 10th line is held out."""
    subj_train, subj_test = workdir / "subj.train", workdir / "subj.test"
    lines = (DATA / "subj" / "subj.txt").read_text(encoding="utf-8").splitlines(keepends=True)
    subj_train.write_text("".join(x for i, x in enumerate(lines) if i % 10), encoding="utf-8")
    subj_test.write_text("".join(x for i, x in enumerate(lines) if not i % 10), encoding="utf-8")
    return {"rt-polarity": (DATA / "rt-polarity" / "train.txt", DATA / "rt-polarity" / "test.txt"),
            "trec": (DATA / "trec" / "train.txt", DATA / "trec" / "test.txt"),
            "sst2": (DATA / "sst2" / "train.txt", DATA / "sst2" / "dev.txt"),
            "subj": (subj_train, subj_test),
            "cooking": (DATA / "cooking" / "train.txt", DATA / "cooking" / "valid.txt")}


def peer(script: str, *args: str) -> dict:
    out = subprocess.run([PEER_PYTHON, "-c", script, *args], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def seqkit(train: Path, test: Path, model: Path, *options: str) -> dict:
    run = timed(seqkit_cmd("classify", str(train), "-o", str(model), *options))
    speed = re.search(r"\(([\d,]+) tokens/s", run.stderr)
    seconds = re.search(r" in ([\d.]+) s \(", run.stderr)
    result = json.loads(subprocess.run(seqkit_cmd("test", "-m", str(model), str(test), "--json", "-q"),
                                       capture_output=True, text=True, check=True).stdout)
    return {"p1": result["P@1"], "wall": run.seconds, "seconds": float(seconds.group(1)) if seconds else None,
            "tokens_per_s": float(speed.group(1).replace(",", "")) if speed else None}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", default="rt-polarity,trec,sst2,subj,cooking")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    quality, speed = [], []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        model = work / "model.npz"
        for name, (train, test) in splits(work).items():
            if name not in args.sets.split(","):
                continue
            ours = seqkit(train, test, model, "-q", "-t", "1")
            ft = peer(FASTTEXT, str(train), str(test), json.dumps({"thread": 1}))
            svc = peer(SVC, str(train), str(test)) if name != "cooking" else {"p1": float("nan")}
            quality.append([name, f"{ours['p1']:.3f}", f"{ft['p1']:.3f}", f"{svc['p1']:.3f}"])
            same = {"epoch": 5, "lr": 0.1, "wordNgrams": 2, "thread": args.threads}
            ft_same = peer(FASTTEXT, str(train), str(test), json.dumps(same))
            ours_same = seqkit(train, test, model, "-t", str(args.threads), "--epochs", "5", "--lr", "0.1",
                               "--word-ngrams", "2")
            speed.append([name, f"{ours_same['wall']:.2f}", f"{ours_same['seconds']:.2f}", f"{ft_same['seconds']:.2f}",
                          f"{ours_same['p1']:.3f}", f"{ft_same['p1']:.3f}"])
    print("Test P@1 with each tool's defaults (seqkit and fastText one thread; LinearSVC: TF-IDF 1-2 grams)\n")
    print(markdown(["set", "seqkit", "fastText", "LinearSVC"], quality))
    print(f"\nTraining with the same settings (5 epochs, lr 0.1, word n-grams 2, {args.threads} threads): seconds "
          "(seqkit: the whole process, and its training loop alone; fastText: train_supervised), and P@1\n")
    print(markdown(["set", "seqkit s (process)", "seqkit s (training)", "fastText s", "seqkit P@1", "fastText P@1"],
                   speed))


if __name__ == "__main__":
    main()
