"""`seqkit bleu` equals sacreBLEU (the library, with its defaults) to 0.01."""

from __future__ import annotations

import json

import pytest

sacrebleu = pytest.importorskip("sacrebleu")

REFS = ["The cat sat on the mat.", "", "A man, in a red shirt, is running!", "Two dogs play in the snow.",
        "Hello world"]
HYPS = ["The cat sat on a mat.", "", "A man in a red shirt runs!",
        "Two big dogs are playing in the white snow , which is much longer than the reference sentence here .",
        ""]
REFS2 = ["A cat was sitting on the mat.", "Nothing.", "A man wearing red is running.", "Two big dogs are playing in the snow.",
         "Hi world"]


def _write(tmp_path, name, lines):
    path = tmp_path / name
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def test_corpus_bleu_equals_sacrebleu_with_empty_lines_and_a_long_hypothesis(cli_run, tmp_path):
    ref, hyp = _write(tmp_path, "ref", REFS), _write(tmp_path, "hyp", HYPS)
    result = cli_run("bleu", ref, hyp, "--json")
    assert result.exit_code == 0, result.output
    got = json.loads(result.stdout)
    expected = sacrebleu.corpus_bleu(HYPS, [REFS])
    assert got["score"] == pytest.approx(expected.score, abs=0.01)
    assert 0 < got["score"] < 100
    assert got["signature"].startswith("nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp")
    plain = cli_run("bleu", ref, hyp).stdout.splitlines()
    assert plain[0].startswith(f"BLEU = {expected.score:.2f}") and plain[1] == got["signature"]


def test_several_references_and_stdin(cli_run, tmp_path):
    ref, ref2 = _write(tmp_path, "ref", REFS), _write(tmp_path, "ref2", REFS2)
    result = cli_run("bleu", ref, "-", "--ref", ref2, "--json", input="".join(h + "\n" for h in HYPS))
    expected = sacrebleu.corpus_bleu(HYPS, [REFS, REFS2]).score
    assert json.loads(result.stdout)["score"] == pytest.approx(expected, abs=0.01)
    assert expected != pytest.approx(sacrebleu.corpus_bleu(HYPS, [REFS]).score, abs=0.01)


def test_sentence_bleu_per_line(cli_run, tmp_path):
    ref, hyp = _write(tmp_path, "ref", REFS), _write(tmp_path, "hyp", HYPS)
    lines = cli_run("bleu", ref, hyp, "--sentence").stdout.splitlines()
    expected = [sacrebleu.sentence_bleu(h, [r]).score for h, r in zip(HYPS, REFS)]
    assert [float(x) for x in lines] == pytest.approx(expected, abs=0.01)


def test_line_count_mismatch_is_one_line_naming_the_file(seqkit_proc, tmp_path):
    ref, hyp = _write(tmp_path, "ref", REFS), _write(tmp_path, "hyp", HYPS[:3])
    proc = seqkit_proc("bleu", ref, hyp)
    assert proc.returncode == 1
    err = proc.stderr.decode()
    assert err.count("\n") == 1 and f"{ref}:4: 5 reference lines but 3 hypothesis lines in {hyp}" in err, err
    longer = _write(tmp_path, "long", HYPS + ["one more"])
    err = seqkit_proc("bleu", ref, longer).stderr.decode()  # the extra line is the hypothesis file's
    assert f"{longer}:6: 6 hypothesis lines but 5 reference lines in {ref}" in err, err


def test_missing_sacrebleu_names_the_extra(seqkit_proc, tmp_path):
    ref = _write(tmp_path, "ref", REFS)
    blocker = tmp_path / "block"
    blocker.mkdir()
    (blocker / "sacrebleu.py").write_text("raise ImportError('blocked')\n")
    import os
    proc = seqkit_proc("bleu", ref, ref, env={"PYTHONPATH": f"{blocker}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"})
    assert proc.returncode == 1
    assert proc.stderr.decode().strip() == "seqkit: error: BLEU needs sacreBLEU: pip install 'seqkit[translate]'"
