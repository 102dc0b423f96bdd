"""seqkit ngram: PTB perplexity next to KenLM's reference figures, estimation time and memory on PTB and
the 17M-word benchmark corpus (the 5-gram also within `-S 1G`, which must write the same file), and query
throughput side by side with the kenlm module.

    python benchmarks/ngram.py [--skip-large] [--query-only] [--repeat N]

KenLM reference (lmplz -o N + query, <unk> kept as an ordinary word): the figures the test suite also checks.

Query (PTB test, PTB 5-gram), for seqkit's ARPA and binary forms, the kenlm module on the ARPA and, when
KenLM's `build_binary` is on the PATH, on KenLM's own binary: the model's load in-process (plugin discovery
done before the clock starts; for seqkit a second load of the file, since the process's first also starts
Numba; both costs printed apart); in-process tokens/s through the documented API
(`seqkit.lm.text_perplexity(model, [path])`, which reads and tokenizes the file too; the kenlm module's
`Model.score` per line of text already in memory); and the whole process (`seqkit perplexity -m MODEL
TEXT`; for KenLM a Python process that imports kenlm, loads the model and scores the file). Best of
`--repeat` runs each.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from _common import PEER_PYTHON, SEQKIT_PYTHON, SHARED, benchmark_corpus, markdown, seqkit_cmd, timed

KENLM = {2: (185.70, 199.02, 0.29), 3: (148.28, 157.77, 0.47), 4: (142.72, 149.90, 0.88), 5: (141.19, 148.01, 1.07)}
PTB = SHARED / "ptb"

SEQKIT_QUERY = """
import sys, time
from seqkit.lm import load_language_model, text_perplexity
from seqkit.plugins import load_registry
t = time.perf_counter()
load_registry()  # plugin discovery: once per process, whatever the model
discovered = time.perf_counter() - t
t = time.perf_counter()
model = load_language_model(sys.argv[1])  # the first load also starts Numba (import, first cached kernel)
first = time.perf_counter() - t
t = time.perf_counter()
model = load_language_model(sys.argv[1])  # the model's own load
loaded = time.perf_counter() - t
text_perplexity(model, [sys.argv[3]])  # Numba's first dispatch (loading the cached kernels) is not querying
best = float("inf")
for _ in range(int(sys.argv[4])):
    t = time.perf_counter()
    r = text_perplexity(model, [sys.argv[2]])
    best = min(best, time.perf_counter() - t)
print(loaded, best, r.tokens, r.ppl, discovered, first)
"""
KENLM_QUERY = """
import sys, time
import kenlm
t = time.perf_counter()
model = kenlm.Model(sys.argv[1])
loaded = time.perf_counter() - t
lines = [line.strip() for line in open(sys.argv[2])]
tokens = sum(len(line.split()) + 1 for line in lines)
best = float("inf")
for _ in range(int(sys.argv[4])):
    t = time.perf_counter()
    total = sum(model.score(line) for line in lines)
    best = min(best, time.perf_counter() - t)
print(loaded, best, tokens, 10 ** (-total / tokens), 0.0, loaded)
"""
# KenLM's whole process as a Python user runs it: start, import, load, score the file, print
KENLM_WHOLE = """
import sys, kenlm
model = kenlm.Model(sys.argv[1])
print(sum(model.score(line.strip()) for line in open(sys.argv[2])))
"""


def query_rows(tmp: str, arpa: str, repeat: int) -> tuple[list[list], list[str]]:
    """The query table's rows (PTB test, the 5-gram `arpa`) and notes on what was measured apart or not."""
    import shutil

    test = str(PTB / "ptb.test.txt")
    warm = f"{tmp}/warm.txt"
    Path(warm).write_text("the cat\n")
    binary = f"{tmp}/ptb5.bin"
    timed(seqkit_cmd("convert", arpa, binary, "-q"))
    models = [("seqkit, ARPA", SEQKIT_PYTHON, SEQKIT_QUERY, arpa,
               seqkit_cmd("perplexity", "-m", arpa, test, "-q")),
              ("seqkit, binary (.bin)", SEQKIT_PYTHON, SEQKIT_QUERY, binary,
               seqkit_cmd("perplexity", "-m", binary, test, "-q")),
              ("kenlm module, ARPA (Model.score per line)", PEER_PYTHON, KENLM_QUERY, arpa,
               [PEER_PYTHON, "-c", KENLM_WHOLE, arpa, test])]
    notes = []
    build_binary = shutil.which("build_binary")
    if build_binary:
        kenlm_binary = f"{tmp}/ptb5.kenlm"
        timed([build_binary, arpa, kenlm_binary])
        models.append(("kenlm module, KenLM binary (build_binary)", PEER_PYTHON, KENLM_QUERY, kenlm_binary,
                       [PEER_PYTHON, "-c", KENLM_WHOLE, kenlm_binary, test]))
    else:
        notes.append("KenLM binary: no row, KenLM's `build_binary` is not installed here (the kenlm module "
                     "cannot write KenLM's binary format)")
    rows = []
    for name, python, script, path, whole_cmd in models:
        try:
            run = timed([python, "-c", script, path, test, warm, str(repeat)])
            fields = [float(x) for x in run.stdout.split()]
        except RuntimeError as exc:
            notes.append(f"{name}: failed ({str(exc).splitlines()[0]})")
            continue
        loaded, seconds, tokens, ppl, discovered, first = fields
        whole = min(timed(whole_cmd).seconds for _ in range(repeat))
        rows.append([name, f"{loaded:.3f}", f"{tokens / seconds:,.0f}", f"{whole:.2f}",
                     f"{tokens / whole:,.0f}", f"{ppl:.2f}"])
        if discovered:
            notes.append(f"{name}: plugin discovery before the load took {discovered * 1000:.0f} ms; the "
                         f"process's first load took {first * 1000:.0f} ms (with Numba's start-up: its import "
                         "and first cached kernel), the column is a second load of the same file")
    return rows, notes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--skip-large", action="store_true", help="skip the 17M-word corpus")
    parser.add_argument("--query-only", action="store_true",
                        help="only the query table (builds the PTB 5-gram)")
    parser.add_argument("--repeat", type=int, default=15,
                        help="runs per query measure; the best counts (a PTB-test pass takes about 15 ms)")
    args = parser.parse_args()
    if args.query_only:
        with tempfile.TemporaryDirectory() as tmp:
            arpa = f"{tmp}/ptb5.arpa"
            timed(seqkit_cmd("ngram", str(PTB / "ptb.train.txt"), "-o", arpa, "--order", "5", "-q"))
            print_query(*query_rows(tmp, arpa, args.repeat))
        return
    with tempfile.TemporaryDirectory() as tmp:
        cold = timed(seqkit_cmd("ngram", str(PTB / "ptb.train.txt"), "-o", f"{tmp}/c.arpa", "--order", "2", "-q"),
                     env={"NUMBA_CACHE_DIR": f"{tmp}/numba-cold"})
        warm = timed(seqkit_cmd("ngram", str(PTB / "ptb.train.txt"), "-o", f"{tmp}/c.arpa", "--order", "2", "-q"),
                     env={"NUMBA_CACHE_DIR": f"{tmp}/numba-cold"})
        quality, speed = [], []
        for order in (2, 3, 4, 5):
            arpa = f"{tmp}/ptb{order}.arpa"
            run = timed(seqkit_cmd("ngram", str(PTB / "ptb.train.txt"), "-o", arpa, "--order", str(order), "-q"))
            ppl = {}
            for split in ("test", "valid"):
                data = json.loads(timed(seqkit_cmd("perplexity", "-m", arpa, str(PTB / f"ptb.{split}.txt"),
                                                   "--json", "-q")).stdout)
                ppl[split] = data["ppl"]
            ref = KENLM[order]
            quality.append([order, ppl["test"], ref[0], f"{100 * (ppl['test'] / ref[0] - 1):+.3f}%", ppl["valid"],
                            ref[1], f"{100 * (ppl['valid'] / ref[1] - 1):+.3f}%"])
            if order in (3, 5):
                speed.append([f"PTB order {order}", run.seconds, run.peak_mib, ref[2], f"{run.seconds / ref[2]:.2f}x"])
                if order == 5:
                    query = query_rows(tmp, arpa, args.repeat)
        if not args.skip_large:
            corpus = benchmark_corpus()
            for order in (3, 5):
                run = timed(seqkit_cmd("ngram", str(corpus), "-o", f"{tmp}/big{order}.arpa", "--order", str(order), "-q"))
                speed.append([f"17.2M-word corpus, order {order}", run.seconds, run.peak_mib, "", ""])
                if order == 5:  # the same model within a 1 GiB budget (on disk), and the same file
                    run = timed(seqkit_cmd("ngram", str(corpus), "-o", f"{tmp}/bounded.arpa", "--order", "5",
                                           "-S", "1G", "-T", tmp, "-q"))
                    same = Path(f"{tmp}/bounded.arpa").read_bytes() == Path(f"{tmp}/big5.arpa").read_bytes()
                    speed.append(["17.2M-word corpus, order 5, -S 1G", run.seconds, run.peak_mib, "",
                                  "same ARPA" if same else "ARPA DIFFERS"])
                    Path(f"{tmp}/bounded.arpa").unlink()
                Path(f"{tmp}/big{order}.arpa").unlink()
    print(f"JIT compile (first run, empty Numba cache): {cold.seconds - warm.seconds:.1f} s "
          f"(order-2 PTB run {cold.seconds:.2f} s cold vs {warm.seconds:.2f} s cached)\n")
    print(markdown(["order", "seqkit test ppl", "KenLM test ppl", "diff", "seqkit valid ppl", "KenLM valid ppl",
                    "diff"], quality))
    print()
    print(markdown(["estimation (whole command, cached kernels)", "wall s", "peak MiB", "KenLM lmplz wall s",
                    "seqkit / KenLM"], speed))
    print()
    print_query(*query)


def print_query(rows: list[list], notes: list[str]) -> None:
    print(markdown(["query PTB test, 5-gram", "load s (in-process)", "in-process tokens/s",
                    "whole process wall s", "whole-process tokens/s", "ppl"], rows))
    for note in notes:
        print(f"- {note}")


if __name__ == "__main__":
    main()
