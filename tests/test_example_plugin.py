"""The worked example of docs/plugins.md, installed as a third-party plugin and run through the real CLI,
and the guide itself checked against the code (every `seqkit.<module>.<name>` it mentions exists)."""

from __future__ import annotations

import ast
import importlib
import json
import math
import os
import re
import subprocess
import sys
import zipfile
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
GUIDE = ROOT / "docs" / "plugins.md"
EXAMPLE = ROOT / "docs" / "example_plugin"
TRAIN = "the cat sat on the mat\nthe dog sat\na cat ran\nthe cat\n"
TEST = "the cat barked\nsat the\n\nmat the the\n"  # the empty line is no sentence; barked and mat are OOV
MIN_COUNT, ADD_K = 2, 0.5


def install_example(site: Path) -> Path:
    """Make `site` look like site-packages holding seqkit-unigram (a real dist-info, no pip)."""
    dist = site / "seqkit_unigram-0.1.0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: seqkit-unigram\nVersion: 0.1.0\n")
    (dist / "entry_points.txt").write_text("[seqkit.plugins]\nunigram = seqkit_unigram.plugin\n")
    return site


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """`python -m seqkit ARGS...` with the example installed beside the first-party plugins."""
    site = install_example(tmp_path_factory.mktemp("site"))
    env = dict(os.environ)
    env.pop("SEQKIT_LOAD_PLUGINS", None)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(site), str(EXAMPLE), env.get("PYTHONPATH")) if p)

    def run(*args, input: str | None = None) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, *map(str, args)], input=input, capture_output=True, text=True,
                              env=env, timeout=120)

    return run


@pytest.fixture(scope="module")
def trained(run, tmp_path_factory):
    work = tmp_path_factory.mktemp("work")
    (work / "train.txt").write_text(TRAIN)
    (work / "test.txt").write_text(TEST)
    proc = run("-m", "seqkit", "unigram", work / "train.txt", "-o", work / "model.npz",
               "--min-count", MIN_COUNT, "--add-k", ADD_K)
    assert proc.returncode == 0, proc.stderr
    return work, proc


def expected_model() -> dict[str, float]:
    """ln p per word, by hand: rare words pooled into <unk>, one </s> per line, add-k over the vocabulary."""
    counts = Counter(TRAIN.split())
    kept = {w: c for w, c in counts.items() if c >= MIN_COUNT}
    table = {"<unk>": sum(c for c in counts.values() if c < MIN_COUNT), "</s>": TRAIN.count("\n"), **kept}
    total = sum(table.values())
    return {w: math.log((c + ADD_K) / (total + ADD_K * len(table))) for w, c in table.items()}


def test_plugins_lists_the_example(run):
    proc = run("-m", "seqkit", "plugins", "--json")
    assert proc.returncode == 0 and proc.stderr == ""
    info = next(p for p in json.loads(proc.stdout) if p["name"] == "unigram")
    assert info == {"name": "unigram", "version": "0.1.0", "distribution": "seqkit-unigram",
                    "commands": ["unigram"], "language_models": ["unigram-npz"], "classifiers": [], "vector_models": [],
                    "translation_models": [], "classifier_trainers": [],
                    "error": None}


def test_training_writes_npz_with_json_metadata_and_one_summary_line(trained):
    work, proc = trained
    assert proc.stdout == ""
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("unigram: 14 tokens in 4 lines")
    with np.load(work / "model.npz", allow_pickle=False) as archive:
        assert archive["magic"].tobytes() == b"seqkit-unigram"
        meta = json.loads(archive["metadata"].tobytes())
        counts = dict(zip(meta["vocab"], archive["counts"].tolist()))
    assert meta["format"] == "seqkit-unigram" and meta["add_k"] == ADD_K
    assert counts == {"<unk>": 5, "</s>": 4, "the": 4, "cat": 3, "sat": 2}
    assert [p.name for p in work.iterdir() if p.name.startswith(".")] == []  # no temporary file left


def test_perplexity_equals_the_hand_computation(trained, run):
    work, _ = trained
    logp = expected_model()
    sentences = [line.split() for line in TEST.splitlines() if line.split()]
    scores = np.array([logp.get(w, logp["<unk>"]) for s in sentences for w in [*s, "</s>"]])
    oov = np.array([w not in logp for s in sentences for w in [*s, "</s>"]])
    proc = run("-m", "seqkit", "perplexity", "-m", work / "model.npz", work / "test.txt", "--json")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert (result["tokens"], result["oovs"], result["sentences"]) == (len(scores), 2, 3)
    assert result["ppl"] == pytest.approx(math.exp(-scores.sum() / len(scores)), rel=1e-12)
    assert result["ppl_excl_oov"] == pytest.approx(math.exp(-scores[~oov].sum() / (~oov).sum()), rel=1e-12)


def test_generate_samples_the_model(trained, run):
    work, _ = trained
    proc = run("-m", "seqkit", "generate", "-m", work / "model.npz", "-n", 400, "--seed", 7, "--max-tokens", 1000)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    words = Counter(w for line in lines for w in line.split())
    logp = expected_model()
    assert len(lines) == 400 and set(words) <= set(logp) - {"</s>"}
    renamed = work / "unigram-model"  # no suffix: found by its magic entry, and neither ARPA nor rnnlm claims it
    renamed.write_bytes((work / "model.npz").read_bytes())
    again = run("-m", "seqkit", "generate", "-m", renamed, "-n", 400, "--seed", 7, "--max-tokens", 1000)
    assert again.returncode == 0 and again.stdout == proc.stdout, again.stderr
    drawn = sum(words.values()) + len(lines)  # every sentence ended with a drawn </s>
    for word, lp in logp.items():  # frequencies within ~5 standard deviations of the model's
        assert abs((words[word] if word != "</s>" else len(lines)) / drawn - math.exp(lp)) < 0.05, word


def test_damaged_models_give_one_clear_line(trained, run, tmp_path):
    work, _ = trained
    data = (work / "model.npz").read_bytes()
    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(data[: len(data) // 2])
    proc = run("-m", "seqkit", "perplexity", "-m", truncated, work / "test.txt")
    assert proc.returncode == 1 and proc.stdout == ""
    assert proc.stderr.splitlines() == [f"seqkit: error: {truncated}: a zip archive (.npz) that is damaged or "
                                        "truncated, not a language model any installed plugin can read "
                                        "(formats: arpa, ngram-binary, rnnlm-npz, unigram-npz)"]
    bad_meta = tmp_path / "bad-meta.npz"  # the magic is right, so this format loads it and must explain
    with zipfile.ZipFile(work / "model.npz") as source, zipfile.ZipFile(bad_meta, "w") as target:
        for item in source.infolist():
            body = source.read(item)
            target.writestr(item, body[:-5] if item.filename == "metadata.npy" else body)
    for command in ("perplexity", "generate"):
        proc = run("-m", "seqkit", command, "-m", bad_meta, *([work / "test.txt"] if command == "perplexity" else []))
        assert proc.returncode == 1 and proc.stdout == ""
        assert len(proc.stderr.splitlines()) == 1
        assert proc.stderr.startswith(f"seqkit: error: {bad_meta}: ") and "Traceback" not in proc.stderr


def test_bad_output_path_errors_policy_and_quiet(trained, run, tmp_path):
    work, _ = trained
    proc = run("-m", "seqkit", "unigram", work / "missing.txt", "-o", tmp_path / "no" / "dir" / "m.npz")
    assert proc.returncode == 1 and "does not exist" in proc.stderr  # the output, not the missing corpus
    invalid = tmp_path / "invalid.txt"
    invalid.write_bytes(b"the cat\nthe \xff dog\n")
    proc = run("-m", "seqkit", "unigram", invalid, "-o", tmp_path / "strict.npz")
    assert proc.returncode == 1 and proc.stderr.startswith(f"seqkit: error: {invalid}:2: invalid UTF-8")
    assert len(proc.stderr.splitlines()) == 1 and not (tmp_path / "strict.npz").exists()
    proc = run("-m", "seqkit", "unigram", invalid, "-o", tmp_path / "q.npz", "--errors", "replace", "--quiet")
    assert proc.returncode == 0 and proc.stdout == proc.stderr == ""
    with np.load(tmp_path / "q.npz", allow_pickle=False) as archive:
        assert "\ufffd" in json.loads(archive["metadata"].tobytes())["vocab"]
    proc = run("-m", "seqkit", "unigram", work / "train.txt", "-o", tmp_path / "k.npz", "--add-k", 0)
    assert proc.returncode == 2


def test_help_imports_neither_numba_nor_the_plugins_heavy_modules(run):
    code = ("import sys\nfrom click.testing import CliRunner\nimport seqkit.cli\n"
            "r = CliRunner().invoke(seqkit.cli.cli, ['--help'])\n"
            "assert r.exit_code == 0 and ' unigram ' in r.output, r.output\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('numba', 'llvmlite', 'seqkit_unigram')))")
    proc = run("-c", code)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "['seqkit_unigram', 'seqkit_unigram.plugin']"


def test_the_example_imports_only_the_public_core():
    for path in (EXAMPLE / "seqkit_unigram").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            for name in names:
                parts = name.split(".")
                assert not (parts[0] == "seqkit" and any(p.startswith("_") for p in parts[1:])), (path, name)
                assert parts[0] not in ("pickle", "numba"), (path, name)


# --- the guide cannot drift ------------------------------------------------------------------------

PUBLIC_MODULES = ("plugins", "corpus", "reader", "vocabulary", "encoded", "sampling", "vectors", "lm",
                  "recurrent", "progress", "errors", "textio", "options", "memory")


def resolve(dotted: str):
    """Import the longest importable prefix of `dotted`, then look the rest up as attributes."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError:
            continue
        for attr in parts[cut:]:
            obj = getattr(obj, attr)
        return obj
    raise ModuleNotFoundError(dotted)


def guide_names() -> set[str]:
    """Dotted `seqkit...` / `seqkit_unigram...` names in backticks and in the code blocks' imports."""
    text = GUIDE.read_text(encoding="utf-8")
    names = set()
    for span in re.findall(r"`([^`\n]+)`", text):
        names.update(re.findall(r"\bseqkit(?:_unigram)?(?:\.[A-Za-z_]\w*)+", span))
    for module, imported in re.findall(r"^\s*from (seqkit[\w.]*) import ([\w, ]+)$", text, re.M):
        names.update(f"{module}.{name.strip()}" for name in imported.split(","))
    return names


def test_every_name_the_guide_mentions_exists(monkeypatch):
    monkeypatch.syspath_prepend(str(EXAMPLE))
    names = guide_names()
    missing = []
    for name in sorted(names):
        try:
            resolve(name)
        except (ImportError, AttributeError) as exc:
            missing.append(f"{name}: {exc}")
    assert missing == []
    assert {f"seqkit.{m}" for m in PUBLIC_MODULES} <= {".".join(n.split(".")[:2]) for n in names}
    assert len(names) > 60  # the guide names the API it documents
    assert not (ROOT / "docs" / "core-api.md").exists()
