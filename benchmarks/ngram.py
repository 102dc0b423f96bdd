"""seqkit ngram: PTB perplexity next to KenLM's reference figures, estimation time and memory on PTB and
the 17M-word benchmark corpus, and query throughput side by side with the kenlm module.

    python benchmarks/ngram.py [--skip-large]

KenLM reference (lmplz -o N + query, <unk> kept as an ordinary word): the figures the test suite also checks.
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
from seqkit.lm import PerplexityCounter, load_language_model
sentences = [line.split() for line in open(sys.argv[2])]
t = time.perf_counter()
model = load_language_model(sys.argv[1])
loaded = time.perf_counter() - t
model.score_sentence(["warm", "up"])  # Numba's first dispatch (loading the cached kernel) is not querying
t = time.perf_counter()
counter = PerplexityCounter()
for s in model.score_stream(sentences):
    counter.add(s)
r = counter.result()
print(loaded, time.perf_counter() - t, r.tokens, r.ppl)
"""
KENLM_QUERY = """
import sys, time
import kenlm
t = time.perf_counter()
model = kenlm.Model(sys.argv[1])
loaded = time.perf_counter() - t
lines = [line.strip() for line in open(sys.argv[2])]
t = time.perf_counter()
total = sum(model.score(line) for line in lines)
tokens = sum(len(line.split()) + 1 for line in lines)
print(loaded, time.perf_counter() - t, tokens, 10 ** (-total / tokens))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--skip-large", action="store_true", help="skip the 17M-word corpus")
    args = parser.parse_args()
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
                    binary = f"{tmp}/ptb5.bin"
                    timed(seqkit_cmd("ngram-convert", arpa, binary, "-q"))
                    test = str(PTB / "ptb.test.txt")
                    ours = [float(x) for x in timed([SEQKIT_PYTHON, "-c", SEQKIT_QUERY, arpa, test]).stdout.split()]
                    ours_bin = [float(x) for x in timed([SEQKIT_PYTHON, "-c", SEQKIT_QUERY, binary,
                                                         test]).stdout.split()]
                    whole = {name: timed(seqkit_cmd("perplexity", "-m", path, test, "-q")).seconds
                             for name, path in (("arpa", arpa), ("binary", binary))}
                    try:
                        theirs = [float(x) for x in timed([PEER_PYTHON, "-c", KENLM_QUERY, arpa,
                                                           str(PTB / "ptb.test.txt")]).stdout.split()]
                    except RuntimeError:
                        theirs = None
        if not args.skip_large:
            corpus = benchmark_corpus()
            for order in (3, 5):
                run = timed(seqkit_cmd("ngram", str(corpus), "-o", f"{tmp}/big{order}.arpa", "--order", str(order), "-q"))
                speed.append([f"17.2M-word corpus, order {order}", run.seconds, run.peak_mib, "", ""])
                Path(f"{tmp}/big{order}.arpa").unlink()
    print(f"JIT compile (first run, empty Numba cache): {cold.seconds - warm.seconds:.1f} s "
          f"(order-2 PTB run {cold.seconds:.2f} s cold vs {warm.seconds:.2f} s cached)\n")
    print(markdown(["order", "seqkit test ppl", "KenLM test ppl", "diff", "seqkit valid ppl", "KenLM valid ppl",
                    "diff"], quality))
    print()
    print(markdown(["estimation (whole command, cached kernels)", "wall s", "peak MiB", "KenLM lmplz wall s",
                    "seqkit / KenLM"], speed))
    print()
    tokens = ours[2]
    rows = [["seqkit, ARPA", ours[0], ours[2] / ours[1], whole["arpa"], tokens / whole["arpa"], ours[3]],
            ["seqkit, binary (.bin)", ours_bin[0], ours_bin[2] / ours_bin[1], whole["binary"],
             tokens / whole["binary"], ours_bin[3]]]
    if theirs:
        rows.append(["kenlm module, ARPA (Model.score per sentence)", theirs[0], theirs[2] / theirs[1], "", "",
                     theirs[3]])
    print(markdown(["query PTB test, 5-gram", "load s", "in-process tokens/s", "`seqkit perplexity` wall s",
                    "whole-process tokens/s", "ppl"], rows))
    print("(KenLM's binary: no build_binary in the peer environment, so no row.)")


if __name__ == "__main__":
    main()
