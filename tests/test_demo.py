"""`seqkit demo` runs the whole loop on the bundled data, through a real subprocess."""

from __future__ import annotations

import pytest

NEAR_FRANCE = {"spain", "belgium", "italy", "germany", "austria", "netherlands", "portugal", "england",
               "britain", "french", "paris", "europe", "switzerland", "luxembourg", "flanders", "prussia",
               "poland", "spanish", "german", "italian", "dutch", "european"}


@pytest.mark.slow
def test_demo_trains_vectors_that_mean_something_and_queries_them(tmp_path, seqkit_proc):
    from seqkit.vectors import Embeddings

    proc = seqkit_proc("demo", "--keep", tmp_path, "--threads", "1", timeout=600)  # one thread: reproducible
    assert proc.returncode == 0, proc.stderr.decode()[-2000:]
    err = proc.stderr.decode()
    assert "$ seqkit word2vec" in err and "$ seqkit eval analogy" in err
    out = proc.stdout.decode().splitlines()
    trained = Embeddings.load(str(tmp_path / "sample-vectors.txt"))
    # the first `similar` answers come from the vectors the demo just trained, as the kept file says
    shown = [line.split("\t")[1] for line in out if line.startswith("france\t")][:8]
    neighbours = [word for word, _ in trained.nearest("france", k=8)]
    assert shown == neighbours
    assert len(NEAR_FRANCE.intersection(neighbours)) >= 2  # 1M words are enough to place France in Europe
    totals = [line.split("\t") for line in out if line.startswith("total\t")]
    assert len(totals) == 2 and float(totals[0][3]) > 1.0  # the trained vectors solve some analogies
    assert any(line.startswith("king man woman\tqueen\t") for line in out)  # the bundled vectors answer queen
