"""seqkit classify against fastText (fasttext-wheel) and TF-IDF + LinearSVC (scikit-learn) on the shared
classification sets: test accuracy (P@1) with each tool's defaults, and training speed with the same
hyper-parameters and threads; with --autotune SECONDS, `seqkit classify --autotune-validation` against
fastText's autotune with the same budget (both tuned on every 10th training line, held out; SST-2: every
10th sentence, its phrases not trained on). Prints
markdown tables. With `--sets sst2-birnn`: `seqkit classify --model birnn` against the same network in
PyTorch (benchmarks/peers/torch_birnn_classifier.py: same vectors, sizes, optimizer, learning rate,
epochs, batches in the same order) and seqkit's bag of n-grams with its defaults, on SST-2 (train -> dev).

    python benchmarks/classify.py [--sets rt-polarity,trec,sst2-birnn] [--threads 2] [--autotune 60|default [--autotune-only]]

The peers run under $PEER_PYTHON (see _common.py); seqkit under $SEQKIT_PYTHON.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import tempfile
from pathlib import Path

from _common import PEER_PYTHON, ROOT, SHARED, markdown, seqkit_cmd, timed

DATA = SHARED / "classification"
TORCH_BIRNN = ROOT / "benchmarks" / "peers" / "torch_birnn_classifier.py"
# The recurrent classifier's settings, given to seqkit and PyTorch alike (the embeddings start from the
# bundled default vectors, 100-dimensional, converted to word2vec text so both read the same file).
BIRNN = {"cell": "gru", "dim": 100, "hidden": 150, "pool": "max", "dropout": 0.5, "lr": 0.001, "epochs": 3,
         "batch": 64, "clip": 5.0, "seed": 1}

FASTTEXT = """
import json, sys, time, fasttext
train, test, kw = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
start = time.perf_counter()
model = fasttext.train_supervised(train, verbose=0, **kw)
seconds = time.perf_counter() - start
n, p1, _ = model.test(test, k=1)
print(json.dumps({"p1": p1, "seconds": seconds}))
"""

FASTTEXT_AUTOTUNE = """
import json, re, sys, time, fasttext
train, valid, test, seconds, threads = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
start = time.perf_counter()
model = fasttext.train_supervised(train, autotuneValidationFile=valid, autotuneDuration=seconds, thread=threads,
                                  seed=int(sys.argv[6]), verbose=0)
elapsed = time.perf_counter() - start
n, p1, _ = model.test(test, k=1)
print(json.dumps({"p1": p1, "seconds": elapsed, "lr": model.lr, "dim": model.dim, "epoch": model.epoch,
                  "wordNgrams": model.wordNgrams, "loss": str(model.loss).split(".")[-1], "minn": model.minn,
                  "maxn": model.maxn, "bucket": model.bucket}))
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


AUTOTUNE_MEMORY = 6 << 30  # fastText's autotune samples up to 10M buckets x 1000 dims (40 GB): it gets bad_alloc instead


AUTOTUNE_OVERRUN = 3


def fasttext_autotune(fit: Path, valid: Path, test: Path, seconds: int, threads: int) -> dict:
    """fastText's autotune under a memory cap; when a sampled model does not fit, once more with another seed."""
    import resource

    def cap() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (AUTOTUNE_MEMORY, AUTOTUNE_MEMORY))

    failures = []
    for seed in (0, 1):
        try:  # a sampled configuration can run far past the budget (a 10M-bucket x 1000-dim model): cut it
            out = subprocess.run([PEER_PYTHON, "-c", FASTTEXT_AUTOTUNE, str(fit), str(valid), str(test),
                                  str(seconds), str(threads), str(seed)], capture_output=True, text=True,
                                  preexec_fn=cap, timeout=AUTOTUNE_OVERRUN * seconds)
        except subprocess.TimeoutExpired:
            failures.append(f"seed {seed}: still running after {AUTOTUNE_OVERRUN}x its budget")
            continue
        if out.returncode == 0:
            return {**json.loads(out.stdout), "failures": failures}
        failures.append(f"seed {seed}: {(out.stderr.strip().splitlines() or ['exit ' + str(out.returncode)])[-1]}")
    return {"p1": float("nan"), "seconds": float("nan"), "failures": failures}


FASTTEXT_TRAIN = """
import json, sys, time, fasttext
train, kw, model_path = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3]
start = time.perf_counter()
model = fasttext.train_supervised(train, verbose=0, **kw)
seconds = time.perf_counter() - start
model.save_model(model_path)
print(json.dumps({"seconds": seconds, "p1": model.test(sys.argv[4], k=1)[1] if len(sys.argv) > 4 else None}))
"""

# what `fasttext predict MODEL FILE` does, from the Python module: label tokens in the text are ignored
FASTTEXT_PREDICT = """
import sys, fasttext
model = fasttext.load_model(sys.argv[1])
with open(sys.argv[2], encoding="utf-8") as handle:
    lines = handle.read().splitlines()
labels, _ = model.predict(lines, k=1)
sys.stdout.write("".join(" ".join(found) + "\\n" for found in labels))
"""
SEQKIT_FLAGS = {"lr": "--lr", "epoch": "--epochs", "wordNgrams": "--word-ngrams", "bucket": "--buckets", "dim": "--dim",
                "loss": "--loss"}


def seqkit_flags(settings: dict) -> list[str]:
    """fastText's hyper-parameters as `seqkit classify` options, so both tools get one set of settings."""
    return [arg for name, value in settings.items() for arg in (SEQKIT_FLAGS[name], str(value))]


# fastText's cooking tutorial: its recipe, fastText's names; the same given to seqkit
RECIPE = {"lr": 1.0, "epoch": 25, "wordNgrams": 2, "bucket": 200000, "dim": 50, "loss": "hs"}
FASTTEXT_RECIPE = """
import json, sys, fasttext
model = fasttext.train_supervised(sys.argv[1], verbose=0, thread=int(sys.argv[3]), **json.loads(sys.argv[4]))
n, p5, r5 = model.test(sys.argv[2], k=5)
n, p1, r1 = model.test(sys.argv[2], k=1)
print(json.dumps({"p1": p1, "p5": p5, "r5": r5}))
"""


def recipe_row(train: Path, test: Path, work: Path, threads: int) -> list:
    """Cooking with fastText's tutorial recipe, both tools: P@1, P@5 and R@5 as `fasttext test` computes them."""
    model = work / "recipe.npz"
    timed(seqkit_cmd("classify", str(train), "-o", str(model), "-q", "-t", str(threads), *seqkit_flags(RECIPE)))
    ours = {k: json.loads(timed(seqkit_cmd("test", "-m", str(model), str(test), "-k", str(k), "--json",
                                           "-q")).stdout) for k in (1, 5)}
    ft = json.loads(timed([PEER_PYTHON, "-c", FASTTEXT_RECIPE, str(train), str(test), str(threads),
                           json.dumps(RECIPE)]).stdout)
    return [f"{ours[1]['P@1']:.3f}", f"{ft['p1']:.3f}", f"{ours[5]['P@5']:.3f}", f"{ft['p5']:.3f}",
            f"{ours[5]['R@5']:.3f}", f"{ft['r5']:.3f}"]


SPEED_SETTINGS = {"epoch": 5, "lr": 0.1, "wordNgrams": 2}  # fastText's names; the same given to seqkit
THROUGHPUT_LABELS = 20


def throughput_file(work: Path) -> Path:
    """The first 10^8 bytes of the English corpus, newlines kept, line i labelled i mod 20: a large input
    whose accuracy means nothing and whose speed does."""
    import lzma

    path = work / "throughput.txt"
    with lzma.open(SHARED / "english" / "corpus.txt.xz", "rb") as source:
        data = source.read(100_000_000)
    lines = data.decode("utf-8", "ignore").splitlines()
    path.write_text("".join(f"__label__{i % THROUGHPUT_LABELS} {line}\n" for i, line in enumerate(lines)),
                    encoding="utf-8")
    return path


def tokens_in(path: Path) -> int:
    """Words and labels, plus each line's end-of-line token: what both tools count per epoch."""
    text = path.read_text(encoding="utf-8")
    return len(text.split()) + text.count("\n")


def speed_rows(name: str, train: Path, test: Path | None, work: Path, threads: int) -> tuple[list, list]:
    """Training with the same settings (softmax and hs): tokens/s, peak RSS, model size, P@1; and the
    whole `predict` process of each tool over `test` (or the training file): lines/s."""
    tokens = tokens_in(train) * SPEED_SETTINGS["epoch"]
    training, prediction = [], []
    for loss in ("softmax", "hs"):
        ours_model, ft_model = work / f"speed-{loss}.npz", work / f"speed-{loss}.bin"
        ours = timed(seqkit_cmd("classify", str(train), "-o", str(ours_model), "-t", str(threads),
                                *seqkit_flags({**SPEED_SETTINGS, "loss": loss})))
        # the summary's tokens/s comes from the unrounded training time (its seconds are rounded to 0.1 s)
        ours_seconds = tokens / float(re.search(r" s \(([\d,]+) tokens/s", ours.stderr).group(1).replace(",", ""))
        theirs = timed([PEER_PYTHON, "-c", FASTTEXT_TRAIN, str(train),
                        json.dumps({**SPEED_SETTINGS, "loss": loss, "thread": threads}), str(ft_model),
                        *([str(test)] if test else [])])
        ft = json.loads(theirs.stdout)
        ours_p1 = json.loads(subprocess.run(seqkit_cmd("test", "-m", str(ours_model), str(test), "--json", "-q"),
                                            capture_output=True, text=True, check=True).stdout)["P@1"] if test else None
        training.append([name, loss, f"{tokens / ours_seconds:,.0f}", f"{tokens / ft['seconds']:,.0f}",
                         f"{ft['seconds'] / ours_seconds:.2f}x", f"{ours.peak_mib:.0f}", f"{theirs.peak_mib:.0f}",
                         f"{ours_model.stat().st_size / 2**20:.1f}", f"{ft_model.stat().st_size / 2**20:.1f}",
                         f"{ours_p1:.3f}" if test else "-", f"{ft['p1']:.3f}" if test else "-"])
        if loss == "softmax":
            text = test or train
            lines = text.read_text(encoding="utf-8").count("\n")
            ours_run = timed(seqkit_cmd("predict", "-m", str(ours_model), str(text)))
            ft_run = timed([PEER_PYTHON, "-c", FASTTEXT_PREDICT, str(ft_model), str(text)])
            prediction.append([name, f"{lines:,}", f"{lines / ours_run.seconds:,.0f}",
                               f"{lines / ft_run.seconds:,.0f}", f"{ft_run.seconds / ours_run.seconds:.2f}x",
                               f"{ours_run.peak_mib:.0f}", f"{ft_run.peak_mib:.0f}"])
        for model in (ours_model, ft_model):
            model.unlink()
    return training, prediction


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


PHRASE_SETS = ("sst2",)  # training lines are the phrases of parsed sentences, each sentence with its parts
SENTENCE_TOKENS = 8      # a held-out sentence is a line of at least this many words that no other line contains


def held_out(train: Path, workdir: Path) -> tuple[Path, Path]:
    """(training lines, held-out lines for tuning): every 10th line; for a set of phrases every 10th
    sentence, and its phrases are not trained on (else the held-out lines are parts of training lines, every
    configuration scores 0.93 on them and tuning has nothing to tell apart)."""
    lines = train.read_text(encoding="utf-8").splitlines(keepends=True)
    fit, valid = workdir / f"{train.parent.name}.fit", workdir / f"{train.parent.name}.valid"
    if train.parent.name in PHRASE_SETS:
        kept, held = sentence_split(lines)
    else:
        kept, held = [x for i, x in enumerate(lines) if i % 10 != 9], [x for i, x in enumerate(lines) if i % 10 == 9]
    fit.write_text("".join(kept), encoding="utf-8")
    valid.write_text("".join(held), encoding="utf-8")
    return fit, valid


def sentence_split(lines: list[str]) -> tuple[list[str], list[str]]:
    """(training lines, held out): every 10th whole sentence in file order; training loses the lines
    inside a held-out sentence."""
    texts = [" " + " ".join(t for t in x.split() if not t.startswith("__label__")) + " " for x in lines]
    everything = "\n".join(texts)  # spaces around every word: a phrase matches whole words only
    sentences = [i for i, t in enumerate(texts)
                 if len(t.split()) >= SENTENCE_TOKENS and everything.count(t) == 1]
    held = set(sentences[9::10])
    inside = "\n".join(texts[i] for i in sorted(held))
    kept = [x for i, (x, t) in enumerate(zip(lines, texts)) if i not in held and t not in inside]
    return kept, [lines[i] for i in sorted(held)]


def default_budget(train: Path) -> int:
    """`seqkit classify --autotune-validation`'s default budget for these lines (tokens and one end marker a
    line), in whole seconds as fastText takes it."""
    from seqkit_classify.autotune import default_duration

    text = train.read_text(encoding="utf-8")
    return round(default_duration(len(text.split()) + text.count("\n")))


def autotune_row(name: str, train: Path, test: Path, work: Path, seconds: int | None, threads: int) -> list:
    """seqkit's and fastText's autotune on the same held-out slice and budget (None: seqkit's default for the
    set); LinearSVC on the same lines."""
    fit, valid = held_out(train, work)
    seconds = default_budget(fit) if seconds is None else seconds
    model = work / "tuned.npz"
    run = timed(seqkit_cmd("classify", str(fit), "-o", str(model), "--autotune-validation", str(valid),
                           "--autotune-duration", str(seconds), "-t", str(threads), "--json", "-q"))
    report = json.loads(run.stdout)
    tested = json.loads(subprocess.run(seqkit_cmd("test", "-m", str(model), str(test), "--json", "-q"),
                                       capture_output=True, text=True, check=True).stdout)
    c = report["chosen"]
    ours = (f"lr {c['lr']:g} dim {c['dim']} ep {c['best_epoch']}/{c['epochs']} ng {c['word_ngrams']} {c['loss']}"
            + (f" {c['minn']}-{c['maxn']}" if c["maxn"] else "") + (" sqrt" if c["pooling"] == "sqrt" else ""))
    epochs = sum(t["epochs_run"] for t in report["trials"])
    ft = fasttext_autotune(fit, valid, test, seconds, threads)
    theirs = "; ".join(ft["failures"])
    if "lr" in ft:
        theirs = (f"lr {ft['lr']:.3g} dim {ft['dim']} ep {ft['epoch']} ng {ft['wordNgrams']} {ft['loss']}"
                  + (f" {ft['minn']}-{ft['maxn']}" if ft["maxn"] else "") + (f" (after {theirs})" if theirs else ""))
    svc = peer(SVC, str(fit), str(test))["p1"] if name != "cooking" else float("nan")
    search = f"{len(report['trials'])} runs, {len({t['config'] for t in report['trials']})} configs, {epochs} epochs"
    return [name, f"{seconds:.0f}", f"{tested['P@1']:.3f}", f"{ft['p1']:.3f}", f"{svc:.3f}", f"{run.seconds:.0f}",
            f"{ft['seconds']:.0f}", search, ours, theirs]


def birnn_rows(work: Path, threads: int) -> list[list]:
    """SST-2 train -> dev: seqkit's birnn, the PyTorch network and seqkit's bow (defaults); dev accuracy after
    the last epoch (no early stopping), training tokens/s (batches only; words + one end marker per line)
    and the process's peak RSS."""
    train, dev = DATA / "sst2" / "train.txt", DATA / "sst2" / "dev.txt"
    vectors = work / "default.vec"
    subprocess.run(seqkit_cmd("convert", str(ROOT / "seqkit" / "data" / "default.skv"), str(vectors), "-q"),
                   check=True)
    model = work / "birnn.npz"
    options = [f"--{key}={value}" for key, value in BIRNN.items()]
    ours = timed(seqkit_cmd("classify", str(train), "-o", str(model), "--model", "birnn", "-v", str(vectors),
                            "-t", str(threads), *options))
    ours_speed = float(re.search(r"\(([\d,]+) tokens/s", ours.stderr).group(1).replace(",", ""))
    ours_seconds = float(re.search(r" in ([\d.]+) s \(", ours.stderr).group(1))
    torch_run = timed([PEER_PYTHON, str(TORCH_BIRNN), str(train), str(dev), "--vectors", str(vectors), "--threads",
                       str(threads), *options])
    theirs = json.loads(torch_run.stdout)
    bow_model = work / "bow.npz"
    bow = timed(seqkit_cmd("classify", str(train), "-o", str(bow_model), "-t", str(threads)))
    bow_speed = float(re.search(r"\(([\d,]+) tokens/s", bow.stderr).group(1).replace(",", ""))
    bow_seconds = float(re.search(r" in ([\d.]+) s \(", bow.stderr).group(1))

    def accuracy(path: Path) -> float:
        out = subprocess.run(seqkit_cmd("test", "-m", str(path), str(dev), "--json", "-q"), capture_output=True,
                             text=True, check=True)
        return json.loads(out.stdout)["accuracy"]

    return [["seqkit --model birnn", f"{accuracy(model):.4f}", f"{ours_speed:,.0f}", f"{ours_seconds:.1f}",
             f"{ours.seconds:.1f}", f"{ours.peak_mib:.0f}"],
            ["PyTorch, same network", f"{theirs['accuracy']:.4f}", f"{theirs['tokens_per_s']:,.0f}",
             f"{theirs['seconds']:.1f}", f"{torch_run.seconds:.1f}", f"{torch_run.peak_mib:.0f}"],
            ["seqkit --model bow (defaults)", f"{accuracy(bow_model):.4f}", f"{bow_speed:,.0f}", f"{bow_seconds:.1f}",
             f"{bow.seconds:.1f}", f"{bow.peak_mib:.0f}"]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", default="rt-polarity,trec,sst2,subj,cooking")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--autotune", default=None, metavar="SECONDS|default",
                        help="also compare the autotuners with this budget, or each set's default budget of seqkit "
                             "(fastText's default is 300)")
    parser.add_argument("--autotune-only", action="store_true", help="skip the default and speed tables")
    parser.add_argument("--throughput", action="store_true",
                        help="also the speed rows on a 100 MB labelled file (the English corpus, labels by line)")
    parser.add_argument("--speed-only", action="store_true", help="only the speed tables")
    args = parser.parse_args()
    quality, speed, predicting, tuned, recurrent, recipe = [], [], [], [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        model = work / "model.npz"
        if "sst2-birnn" in args.sets.split(","):
            recurrent = birnn_rows(work, args.threads)
        for name, (train, test) in splits(work).items():
            if name not in args.sets.split(","):
                continue
            if args.autotune:
                budget = None if args.autotune == "default" else int(args.autotune)
                tuned.append(autotune_row(name, train, test, work, budget, args.threads))
            if args.autotune_only:
                continue
            if not args.speed_only:
                ours = seqkit(train, test, model, "-q", "-t", "1")
                ft = peer(FASTTEXT, str(train), str(test), json.dumps({"thread": 1}))
                svc = peer(SVC, str(train), str(test)) if name != "cooking" else {"p1": float("nan")}
                quality.append([name, f"{ours['p1']:.3f}", f"{ft['p1']:.3f}", f"{svc['p1']:.3f}"])
                if name == "cooking":
                    recipe = recipe_row(train, test, work, args.threads)
            trained, predicted = speed_rows(name, train, test, work, args.threads)
            speed += trained
            predicting += predicted
        if args.throughput:
            trained, predicted = speed_rows("100 MB, 20 labels", throughput_file(work), None, work, args.threads)
            speed += trained
            predicting += predicted
    if recurrent:
        settings = ", ".join(f"{key} {value}" for key, value in BIRNN.items())
        print(f"SST-2 (train -> dev), {args.threads} threads; birnn and PyTorch: bidirectional {settings}, Adam, "
              "embeddings from the bundled vectors; accuracy after the last epoch\n")
        print(markdown(["model", "dev accuracy", "training tokens/s", "training s", "process s", "peak RSS MiB"],
                       recurrent))
        print()
    if tuned:
        print(f"Autotune, the same budget for both, {args.threads} threads, tuned on every 10th training line (SST-2: "
              "every 10th sentence, its phrases not trained on): test P@1 (LinearSVC fitted on the same lines), wall "
              "seconds, and what seqkit's search spent its budget on\n")
        print(markdown(["set", "budget s", "seqkit", "fastText", "LinearSVC", "seqkit s", "fastText s",
                        "seqkit search", "seqkit chose", "fastText chose"], tuned))
        print()
    if quality:
        print("Test P@1 with each tool's defaults (seqkit and fastText one thread; LinearSVC: TF-IDF 1-2 grams)\n")
        print(markdown(["set", "seqkit", "fastText", "LinearSVC"], quality))
        print()
    if recipe:
        print(f"Cooking (multi-label) with fastText's tutorial recipe ({', '.join(f'{k} {v}' for k, v in RECIPE.items())}"
              f", {args.threads} threads), as `fasttext test` computes P@k and R@k\n")
        print(markdown(["seqkit P@1", "fastText P@1", "seqkit P@5", "fastText P@5", "seqkit R@5", "fastText R@5"],
                       [recipe]))
        print()
    if speed:
        print(f"Training with the same settings (5 epochs, lr 0.1, word n-grams 2, {args.threads} threads): "
              "tokens/s (seqkit: its training loop; fastText: train_supervised, which reads the file too), "
              "peak RSS of the whole process, model file size, test P@1\n")
        print(markdown(["set", "loss", "seqkit tokens/s", "fastText tokens/s", "seqkit / fastText",
                        "seqkit peak MiB", "fastText peak MiB", "seqkit model MiB", "fastText model MiB",
                        "seqkit P@1", "fastText P@1"], speed))
        print("\nPrediction (the softmax model above): a whole `predict` process over the test lines (the "
              "training file for the 100 MB row), loading the model and writing one label per line\n")
        print(markdown(["set", "lines", "seqkit lines/s", "fastText lines/s", "seqkit / fastText",
                        "seqkit peak MiB", "fastText peak MiB"], predicting))


if __name__ == "__main__":
    main()
