"""`--engine dask` against the local engine: wall time and peak memory of the client and of each worker.

The corpus (the 17.2M-word benchmark corpus, or PTB's training text with --quick) is split into
--files files at spaces; both engines read the same files, so their outputs must be equal byte for byte
(checked). For 1 and 2 workers (one thread each, a LocalCluster started here per run so each worker's
peak RSS is its own), `seqkit vocab` and `seqkit ngram --order 5` with $SEQKIT_NGRAM_BUCKETS buckets are
timed; the client's peak RSS is GNU time's, a worker's is its process's ru_maxrss read after the run.
Dask's fixed overhead is measured on PTB's test text (82K words): local, Dask on a running cluster,
and Dask starting its own LocalCluster.

    python benchmarks/scale.py            # the 17.2M-word corpus (minutes; uses every core)
    python benchmarks/scale.py --quick    # PTB, seconds
"""

from __future__ import annotations

import argparse
import filecmp
import logging
import resource
import sys
import tempfile
from pathlib import Path

from _common import SHARED, benchmark_corpus, markdown, seqkit_cmd, timed


def split_corpus(source: Path, parts: int, directory: Path) -> list[Path]:
    """`source` cut into `parts` files of about equal size, each cut just after a space or newline."""
    data = source.read_bytes()
    files, start = [], 0
    for i in range(parts):
        end = len(data) if i == parts - 1 else max(data.rfind(b" ", start, len(data) * (i + 1) // parts),
                                                    data.rfind(b"\n", start, len(data) * (i + 1) // parts)) + 1
        path = directory / f"part-{i:02d}.txt"
        path.write_bytes(data[start:end])
        files.append(path)
        start = end
    return files


def worker_peak_mib(client) -> list[float]:
    def peak() -> int:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    return [kib / 1024 for kib in client.run(peak).values()]


def on_cluster(workers: int, args: list[str], env: dict):
    """(run, worker peaks in MiB) for `seqkit ARGS --engine dask` on a fresh LocalCluster."""
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None,
                      silence_logs=logging.ERROR) as cluster, Client(cluster) as client:
        run = timed(seqkit_cmd(*args, "--engine", "dask", "--scheduler", cluster.scheduler_address), env=env)
        return run, worker_peak_mib(client)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="PTB's training text instead of the 17.2M-word corpus")
    parser.add_argument("--files", type=int, default=16, help="split the corpus into this many files")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--order", type=int, default=5)
    parser.add_argument("--buckets", type=int, default=8, help="n-gram buckets ($SEQKIT_NGRAM_BUCKETS)")
    options = parser.parse_args()

    source = SHARED / "ptb" / "ptb.train.txt" if options.quick else benchmark_corpus()
    env = {"SEQKIT_NGRAM_BUCKETS": str(options.buckets)}
    rows, mismatches = [], []
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        files = [str(p) for p in split_corpus(source, options.files, tmp)]
        jobs = {"vocab": ["vocab", *files, "-q"],
                f"ngram {options.order}": ["ngram", *files, "--order", str(options.order), "-q"]}
        for name, args in jobs.items():
            local_out = tmp / f"local-{name.replace(' ', '')}"
            local = timed(seqkit_cmd(*args, "-o", str(local_out)))
            rows.append([name, "local", f"{local.seconds:.2f}", f"{local.peak_mib:.0f}", "", ""])
            for workers in options.workers:
                out = tmp / f"dask{workers}-{name.replace(' ', '')}"
                run, peaks = on_cluster(workers, [*args, "-o", str(out)], env)
                same = filecmp.cmp(local_out, out, shallow=False)
                if not same:
                    mismatches.append(f"{name} with {workers} workers")
                rows.append([name, f"dask, {workers} worker{'s' * (workers > 1)}", f"{run.seconds:.2f}",
                             f"{run.peak_mib:.0f}", " / ".join(f"{p:.0f}" for p in peaks), "yes" if same else "NO"])
        print(f"{source.name} in {options.files} files; n-gram buckets {options.buckets}\n")
        print(markdown(["job", "engine", "wall s", "client peak MiB", "worker peak MiB", "identical"], rows))

        small = str(SHARED / "ptb" / "ptb.test.txt")
        overhead = [["local", f"{timed(seqkit_cmd('vocab', small, '-o', str(tmp / 'o1'), '-q')).seconds:.2f}"]]
        run, _ = on_cluster(1, ["vocab", small, "-o", str(tmp / "o2"), "-q"], {})
        overhead.append(["dask, running 1-worker cluster", f"{run.seconds:.2f}"])
        own = timed(seqkit_cmd("vocab", small, "-o", str(tmp / "o3"), "-q", "--engine", "dask"))
        overhead.append(["dask, starting its own LocalCluster", f"{own.seconds:.2f}"])
        print("\nOverhead on a small input (seqkit vocab, PTB test, 82K words)\n")
        print(markdown(["engine", "wall s"], overhead))
    if mismatches:
        sys.exit(f"outputs differ from the local engine: {', '.join(mismatches)}")


if __name__ == "__main__":
    main()
