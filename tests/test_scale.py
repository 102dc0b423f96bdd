"""`--engine dask`: the same vocabulary and the same ARPA file, byte for byte, as the local engine.

One LocalCluster (2 worker processes) serves the module; a small partition size spreads a slice of PTB
over many partitions, so merging across partitions and buckets is what the comparisons exercise.
"""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import require_data

pytest.importorskip("distributed")

from seqkit.corpus import CorpusStats  # noqa: E402
from seqkit.scale.partitions import Partition, plan, text_chunks  # noqa: E402

PARTITION = "6000"  # bytes: the PTB slice becomes about fifteen partitions


@pytest.fixture(scope="module")
def cluster():
    import logging

    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                      silence_logs=logging.ERROR) as local, Client(local) as client:
        yield client


@pytest.fixture(scope="module")
def ptb_files(tmp_path_factory) -> list[Path]:
    """The first 1,500 lines of PTB's training text in three files, the last one gzipped."""
    lines = require_data("ptb", "ptb.train.txt").read_bytes().splitlines(keepends=True)[:1500]
    directory = tmp_path_factory.mktemp("ptb")
    files = []
    for i, start in enumerate(range(0, 1500, 500)):
        text = b"".join(lines[start:start + 500])
        if i == 2:
            path = directory / "part2.txt.gz"
            path.write_bytes(gzip.compress(text))
        else:
            path = directory / f"part{i}.txt"
            path.write_bytes(text)
        files.append(path)
    return files


@pytest.fixture(scope="module")
def awkward_files(tmp_path_factory) -> list[Path]:
    """Empty files, a BOM, CRLF, a line far longer than a partition, no final newline, blank lines."""
    directory = tmp_path_factory.mktemp("awkward")
    long_line = " ".join(f"w{i % 97}" for i in range(4000)).encode()  # ~18 kB: spans several partitions
    contents = {
        "0-empty.txt": b"",
        "1-bom.txt": b"\xef\xbb\xbfthe cat sat\r\non the mat\r\n\r\n",
        "2-long.txt": b"a b c\n" + long_line + b"\n\n\nthe end\n" + long_line[:7000] + b"\nw1 w2",
        "3-blank.txt": b"\n\n\n",
        "4-tail.txt": b"\xef\xbb\xbfw3 the the cat\nw96 <unk> mat",
        # a last line longer than a read, ending just after a space with no newline (as a corpus cut at spaces)
        "5-space-end.txt": b"a b\n" + " ".join(f"w{i % 89}" for i in range(300_000)).encode() + b" ",
    }
    paths = []
    for name, data in contents.items():
        (directory / name).write_bytes(data)
        paths.append(directory / name)
    return paths


def _both(cli_run, cluster, tmp_path, command: list[str], inputs: list, name: str) -> tuple[bytes, bytes]:
    """The output of `seqkit COMMAND` with the local engine and with the Dask engine."""
    local, remote = tmp_path / f"local-{name}", tmp_path / f"dask-{name}"
    first = cli_run(*command, *inputs, "-o", local, "-q")
    assert first.exit_code == 0, first.stderr
    second = cli_run(*command, *inputs, "-o", remote, "-q", "--engine", "dask", "--scheduler",
                     cluster.scheduler.address, env={"SEQKIT_PARTITION_SIZE": PARTITION})
    assert second.exit_code == 0, second.stderr
    return local.read_bytes(), remote.read_bytes()


# --- partitions --------------------------------------------------------------------------------------

@pytest.mark.parametrize("block", [1, 2, 3, 5, 8, 13, 40, 1000])
def test_partitions_read_every_line_once(tmp_path, block):
    """Whatever the cut, the partitions' text is the file's text: BOM dropped, final newline added."""
    data = b"\xef\xbb\xbfab cd\n\nefg h\r\nij\n\n\nklmno pq r\nst"
    path = tmp_path / "f.txt"
    path.write_bytes(data)
    parts = plan([str(path)], block)
    assert len(parts) == -(-len(data) // block) if block < len(data) else len(parts) == 1
    stats = CorpusStats()
    text = b"".join(chunk for part in parts for chunk in text_chunks(part, errors="strict", stats=stats))
    assert text == data[3:] + b"\n"
    assert stats.bytes == len(data) and stats.files == 1


@pytest.mark.parametrize("tail", [b"st ", b"st", b"st\n", b"st \t"])
def test_a_long_last_line_gets_its_newline_however_it_ends(tmp_path, monkeypatch, tail):
    """A last line longer than a read and ending in a space is cut at spaces; it must still end."""
    from seqkit.scale import partitions

    monkeypatch.setattr(partitions, "READ_SIZE", 4)
    data = b"ab cd\nefg h ij kl mn op qr " + tail
    path = tmp_path / "f.txt"
    path.write_bytes(data)
    text = b"".join(chunk for part in plan([str(path)], 1000)
                    for chunk in text_chunks(part, errors="strict", stats=CorpusStats()))
    assert text == data + (b"" if data.endswith(b"\n") else b"\n")


def test_globs_expand_in_order_and_missing_files_fail(tmp_path):
    from seqkit.errors import DataError

    for name in ("b.txt", "a.txt", "c.txt.gz"):
        (tmp_path / name).write_bytes(gzip.compress(b"x\n") if name.endswith(".gz") else b"x\n" * 10)
    parts = plan([str(tmp_path / "*.txt"), str(tmp_path / "c.txt.gz")], 4)
    assert [Path(p.path).name for p in parts][:1] == ["a.txt"] and isinstance(parts[0], Partition)
    assert [p.compression for p in parts][-1] == "gzip" and parts[-1].end is None  # compressed: whole
    assert len(parts) == 5 + 5 + 1
    with pytest.raises(DataError, match="no file matches"):
        plan([str(tmp_path / "*.none")], 4)
    with pytest.raises(DataError, match="cannot open"):
        plan([str(tmp_path / "missing.txt")], 4)


# --- byte-identical results -------------------------------------------------------------------------

def test_vocab_matches_local(cli_run, cluster, ptb_files, tmp_path):
    local, remote = _both(cli_run, cluster, tmp_path, ["vocab"], ptb_files, "vocab")
    assert local == remote and local.count(b"\n") > 3000


def test_vocab_ties_follow_first_appearance_across_partitions(cli_run, cluster, tmp_path):
    """Every word once: the order is the corpus order, which only first-appearance keys reproduce."""
    path = tmp_path / "ties.txt"
    words = [f"t{(i * 7919) % 5000}" for i in range(5000)]
    path.write_text("\n".join(" ".join(words[i:i + 10]) for i in range(0, 5000, 10)) + "\n")
    local, remote = _both(cli_run, cluster, tmp_path, ["vocab", "--min-count", "1"], [path], "ties")
    assert local == remote
    assert local.decode().split()[::2] == words


@pytest.mark.parametrize("options", [["--min-count", "2"], ["--max-vocab", "100000"]])
def test_vocab_options_match_local(cli_run, cluster, ptb_files, tmp_path, options):
    local, remote = _both(cli_run, cluster, tmp_path, ["vocab", *options], ptb_files, "vocab")
    assert local == remote


@pytest.mark.parametrize("order,prune", [(2, None), (3, None), (4, None), (5, None), (3, "0,1"), (5, "0,0,1")])
def test_ngram_matches_local(cli_run, cluster, ptb_files, tmp_path, order, prune):
    command = ["ngram", "--order", str(order)] + (["--prune", prune] if prune else [])
    local, remote = _both(cli_run, cluster, tmp_path, command, ptb_files, f"{order}.arpa")
    assert local == remote
    assert local.count(f"\\{order}-grams:".encode()) == 1


def test_ngram_closed_vocabulary_matches_local(cli_run, cluster, ptb_files, tmp_path):
    local, remote = _both(cli_run, cluster, tmp_path, ["ngram", "--order", "3", "--min-count", "2"], ptb_files,
                          "closed.arpa")
    assert local == remote


@pytest.mark.parametrize("command", [["vocab"], ["ngram", "--order", "4", "--discount-fallback"]])
def test_awkward_inputs_match_local(cli_run, cluster, awkward_files, tmp_path, command):
    options = ["--max-sentence-len", "300"]
    local, remote = _both(cli_run, cluster, tmp_path, [*command, *options], awkward_files, "awkward")
    assert local == remote


def test_a_sentence_boundary_in_the_text_is_refused_by_both_engines(cli_run, cluster, tmp_path):
    corpus = tmp_path / "marked.txt"
    corpus.write_bytes(b"w3 the cat\nw96 <unk> <s> mat\n")
    for engine in (["--engine", "local"], ["--engine", "dask", "--scheduler", cluster.scheduler.address]):
        result = cli_run("ngram", corpus, "-o", tmp_path / "m.arpa", "--discount-fallback", *engine)
        assert result.exit_code == 1 and f"{corpus}:2: '<s>' marks a sentence boundary" in result.stderr, engine


def test_summary_counts_match_local(cli_run, cluster, awkward_files, tmp_path):
    """What the workers saw adds up to what the local reader sees (lines, tokens, split lines)."""
    args = ["vocab", *awkward_files, "--max-sentence-len", "300", "-o", tmp_path / "v"]
    local = cli_run(*args)
    remote = cli_run(*args, "--engine", "dask", "--scheduler", cluster.scheduler.address,
                     env={"SEQKIT_PARTITION_SIZE": "1000"})
    assert local.stderr.strip() == remote.stderr.strip()
    assert "long lines split" in local.stderr


def test_word2vec_vocabulary_pass_on_the_cluster(cli_run, cluster, ptb_files, tmp_path):
    common = ["word2vec", *ptb_files[:2], "--dim", "8", "--epochs", "1", "--threads", "1", "--min-count", "2", "-q"]
    for engine in ("local", "dask"):
        result = cli_run(*common, "-o", tmp_path / f"{engine}.vec", "--save-vocab", tmp_path / f"{engine}.vocab",
                         "--engine", engine, *(["--scheduler", cluster.scheduler.address] if engine == "dask" else []),
                         env={"SEQKIT_PARTITION_SIZE": PARTITION})
        assert result.exit_code == 0, result.stderr
    assert (tmp_path / "local.vocab").read_bytes() == (tmp_path / "dask.vocab").read_bytes()
    assert (tmp_path / "local.vec").read_bytes() == (tmp_path / "dask.vec").read_bytes()


# --- faults -------------------------------------------------------------------------------------------

def test_worker_killed_during_counting_gives_the_same_arpa(cli_run, cluster, ptb_files, tmp_path):
    marker = tmp_path / "killed"

    def make_plugin(marker_path: str):
        from distributed import WorkerPlugin

        class KillOnce(WorkerPlugin):
            """Ends its worker's process as the first n-gram counting task starts (once per test)."""

            name = "seqkit-test-kill-once"

            def transition(self, key, start, finish, **kwargs):
                if finish == "executing" and "-ngrams-" in str(key) and "vocabulary" not in str(key):
                    try:  # exclusive creation: of two workers starting at once, only one dies
                        os.close(os.open(marker_path, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
                    except FileExistsError:
                        return
                    os._exit(1)

        return KillOnce()

    cluster.register_plugin(make_plugin(str(marker)))
    try:
        local, remote = _both(cli_run, cluster, tmp_path, ["ngram", "--order", "4"], ptb_files, "killed.arpa")
    finally:
        cluster.unregister_worker_plugin("seqkit-test-kill-once")
    assert marker.exists()  # a worker did die mid-run
    assert local == remote
    cluster.wait_for_workers(2, timeout=60)


def test_interrupt_cancels_the_cluster_work_and_writes_nothing(cli_run, cluster, ptb_files, tmp_path, monkeypatch):
    import distributed

    real = distributed.as_completed

    def interrupted(futures, *args, **kwargs):
        for _ in real(futures, *args, **kwargs):
            raise KeyboardInterrupt

    monkeypatch.setattr(distributed, "as_completed", interrupted)
    output = tmp_path / "model.arpa"
    result = cli_run("ngram", *ptb_files, "-o", output, "--engine", "dask", "--scheduler", cluster.scheduler.address,
                     env={"SEQKIT_PARTITION_SIZE": PARTITION})
    assert result.exit_code == 130
    assert not output.exists() and list(tmp_path.iterdir()) == []
    deadline = time.monotonic() + 20
    while (left := cluster.run_on_scheduler(_seqkit_tasks)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert left == []


def _seqkit_tasks(dask_scheduler) -> list[str]:
    return [str(key) for key in dask_scheduler.tasks if "seqkit" in str(key)]


# --- the command line -------------------------------------------------------------------------------

def test_scheduler_needs_the_dask_engine(cli_run, tmp_path):
    (tmp_path / "c.txt").write_text("a b\n")
    result = cli_run("vocab", tmp_path / "c.txt", "--scheduler", "tcp://127.0.0.1:1")
    assert result.exit_code == 2 and "--scheduler needs --engine dask" in result.stderr


def test_unreachable_scheduler_is_one_line(cli_run, tmp_path, monkeypatch):
    monkeypatch.setattr("seqkit.scale.engine.CONNECT_TIMEOUT", "1s")
    (tmp_path / "c.txt").write_text("a b\n")
    result = cli_run("vocab", tmp_path / "c.txt", "--engine", "dask", env={"SEQKIT_SCHEDULER": "tcp://127.0.0.1:9"})
    assert result.exit_code == 1
    assert result.stderr.startswith("seqkit: error: cannot reach the Dask scheduler at tcp://127.0.0.1:9")


def test_without_the_extra_the_error_names_it(tmp_path):
    """A subprocess where `distributed` cannot be found: one line naming seqkit[dask], exit 1."""
    (tmp_path / "c.txt").write_text("a b\n")
    code = ("import importlib.util, sys\n"
            "real = importlib.util.find_spec\n"
            "importlib.util.find_spec = lambda name, *a: None if name == 'distributed' else real(name, *a)\n"
            "from seqkit.cli import main\n"
            f"sys.argv = ['seqkit', 'ngram', {str(tmp_path / 'c.txt')!r}, '-o', {str(tmp_path / 'm.arpa')!r}, "
            "'--engine', 'dask']\n"
            "main()\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and "pip install 'seqkit[dask]'" in result.stderr
    assert not (tmp_path / "m.arpa").exists()


def test_local_engine_imports_no_dask(tmp_path):
    (tmp_path / "c.txt").write_text("the cat sat\non the mat\n")
    code = ("import sys\n"
            "from seqkit.cli import main\n"
            f"sys.argv = ['seqkit', 'ngram', {str(tmp_path / 'c.txt')!r}, '-o', {str(tmp_path / 'm.arpa')!r}, "
            "'--discount-fallback', '-q']\n"
            "try:\n    main()\nexcept SystemExit as exit:\n    assert not exit.code, exit.code\n"
            "loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('dask', 'distributed', 'fsspec'))\n"
            "print(loaded)\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]" and (tmp_path / "m.arpa").exists()
    help_code = "import sys\nfrom seqkit.cli import main\nsys.argv = ['seqkit', 'vocab', '--help']\n" \
                "try:\n    main()\nexcept SystemExit:\n    pass\n" \
                "print([m for m in sys.modules if m.split('.')[0] in ('dask', 'distributed', 'fsspec')])\n"
    result = subprocess.run([sys.executable, "-c", help_code], capture_output=True, text=True, timeout=120)
    assert result.stdout.strip().endswith("[]") and "--engine [local|dask]" in result.stdout
