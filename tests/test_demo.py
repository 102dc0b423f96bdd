"""`seqkit demo` runs the whole loop on the bundled data, through a real subprocess."""

from __future__ import annotations

import pytest


@pytest.mark.slow
def test_demo_runs_end_to_end(tmp_path, seqkit_proc):
    proc = seqkit_proc("demo", "--keep", tmp_path, timeout=600)
    assert proc.returncode == 0, proc.stderr.decode()[-2000:]
    err = proc.stderr.decode()
    assert "$ seqkit word2vec" in err and "$ seqkit eval analogy" in err
    out = proc.stdout.decode().splitlines()
    assert any(line.startswith("queen\t") for line in out)  # the bundled vectors answer king - man + woman
    assert any(line.startswith("total\t") for line in out)
    assert (tmp_path / "sample-vectors.txt").exists()
