"""seqkit plot: what is drawn (coordinates, labels, arrows, curves, image size), not only that a file appeared."""

from __future__ import annotations

import json
import os
import re
import shutil
import struct
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

from seqkit.vectors import Embeddings

pytest.importorskip("matplotlib", reason="the plot extra is not installed (pip install 'seqkit[plot]')")

CLUSTERS, PER_CLUSTER, DIM = 4, 15, 24


def clustered(path: Path, seed: int = 0) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Four well-separated clusters of 15 words each (words c{k}w{i}); written as word2vec text."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(CLUSTERS, DIM)) * 3
    labels = np.repeat(np.arange(CLUSTERS), PER_CLUSTER)
    matrix = (centres[labels] + rng.normal(size=(len(labels), DIM))).astype(np.float32)
    words = [f"c{k}w{i}" for k in range(CLUSTERS) for i in range(PER_CLUSTER)]
    order = rng.permutation(len(words))  # clusters interleaved in the file, as frequency would mix them
    words, matrix, labels = [words[i] for i in order], matrix[order], labels[order]
    Embeddings(words, matrix).save(str(path))
    return words, matrix, labels


def unit(matrix: np.ndarray) -> np.ndarray:
    return matrix / np.linalg.norm(matrix, axis=1, keepdims=True)


def read_coordinates(path: Path) -> tuple[list[str], list[str], np.ndarray]:
    lines = path.read_text().splitlines()
    assert lines[0] == "word\tgroup\tx\ty"
    rows = [line.split("\t") for line in lines[1:]]
    return [r[0] for r in rows], [r[1] for r in rows], np.array([[float(r[2]), float(r[3])] for r in rows])


def svg_texts(path: Path) -> list[str]:
    root = ET.parse(path).getroot()
    return [el.text for el in root.iter() if el.tag.endswith("text") and el.text]


def png_size(path: Path) -> tuple[int, int]:
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", head[16:24])


@pytest.fixture
def vecs(tmp_path):
    path = tmp_path / "clusters.vec"
    return path, *clustered(path)


def ok(result):
    assert result.exit_code == 0, result.stderr
    return result


# --- coordinates ------------------------------------------------------------------------------------

def test_pca_coordinates_are_numpys_svd_of_the_unit_rows(cli_run, vecs, tmp_path):
    path, words, matrix, _ = vecs
    coords = tmp_path / "c.tsv"
    ok(cli_run("plot", "vectors", "-v", path, "--top", "60", "--method", "pca", "-o", tmp_path / "m.svg",
               "--coordinates", coords, "-q"))
    drawn_words, _, drawn = read_coordinates(coords)
    assert drawn_words == words
    rows = unit(matrix.astype(np.float64))
    centred = rows - rows.mean(axis=0)
    u, s, _ = np.linalg.svd(centred, full_matrices=False)
    expected = u[:, :2] * s[:2]
    signs = np.sign(np.sum(expected * drawn, axis=0))  # an axis's sign is a convention, its values are not
    np.testing.assert_allclose(drawn, expected * signs, atol=1e-5)


def test_tsne_keeps_the_clusters_and_the_seed_fixes_the_map(cli_run, vecs, tmp_path):
    from sklearn.manifold import trustworthiness

    path, words, matrix, labels = vecs
    runs = []
    for seed in (3, 3, 4):
        coords = tmp_path / f"t{len(runs)}.tsv"
        ok(cli_run("plot", "vectors", "-v", path, "--top", "60", "--method", "tsne", "--seed", seed, "-t", "1",
                   "-o", tmp_path / "t.png", "--coordinates", coords, "-q"))
        runs.append(read_coordinates(coords)[2])
    np.testing.assert_array_equal(runs[0], runs[1])
    assert not np.allclose(runs[0], runs[2])
    score = trustworthiness(unit(matrix), runs[0], n_neighbors=5, metric="cosine")
    assert score > 0.9, score
    # every word's nearest drawn point is in its own cluster
    distances = np.linalg.norm(runs[0][:, None] - runs[0][None], axis=2) + np.eye(len(words)) * 1e9
    assert np.mean(labels[distances.argmin(axis=1)] == labels) == 1.0


def test_umap_keeps_the_clusters(cli_run, vecs, tmp_path):
    from sklearn.manifold import trustworthiness

    path, _, matrix, _ = vecs
    coords = tmp_path / "u.tsv"
    ok(cli_run("plot", "vectors", "-v", path, "--top", "60", "--method", "umap", "--seed", "1",
               "-o", tmp_path / "u.png", "--coordinates", coords, "-q"))
    score = trustworthiness(unit(matrix), read_coordinates(coords)[2], n_neighbors=5, metric="cosine")
    assert score > 0.85, score


def test_neighbours_are_the_nearest_words_and_grouped(cli_run, vecs, tmp_path):
    path, words, matrix, _ = vecs
    coords = tmp_path / "n.tsv"
    asked = [words[0], words[1]]
    ok(cli_run("plot", "vectors", *asked, "-v", path, "--neighbours", "3", "--method", "pca",
               "-o", tmp_path / "n.svg", "--coordinates", coords, "-q"))
    drawn, groups, _ = read_coordinates(coords)
    assert drawn[:2] == asked and groups[:2] == asked
    cosines = unit(matrix) @ unit(matrix).T
    taken = set(asked)  # a given word is never a neighbour, and a word near both joins the first
    for word in asked:
        members = [w for w, g in zip(drawn, groups) if g == word and w != word]
        order = [words[i] for i in np.argsort(-cosines[words.index(word)]) if words[i] not in taken]
        assert members == order[:3]
        taken |= set(members)


# --- what the picture shows ---------------------------------------------------------------------------

def test_svg_labels_the_given_words_and_png_has_the_asked_size(cli_run, vecs, tmp_path):
    path, words, _, _ = vecs
    ok(cli_run("plot", "vectors", *words[:5], "-v", path, "--method", "pca", "-o", tmp_path / "m.svg", "-q"))
    texts = svg_texts(tmp_path / "m.svg")
    assert set(words[:5]) <= set(texts)
    assert not set(words[5:]) & set(texts)  # only what was asked for
    ok(cli_run("plot", "vectors", "-v", path, "--top", "60", "--method", "pca", "--size", "640x480",
               "-o", tmp_path / "m.png", "-q"))
    assert png_size(tmp_path / "m.png") == (640, 480)
    pdf = tmp_path / "m.pdf"
    ok(cli_run("plot", "vectors", "-v", path, "--top", "20", "--method", "pca", "-o", pdf, "-q"))
    assert pdf.read_bytes().startswith(b"%PDF")


def test_labels_never_overlap_unless_required():
    from seqkit_plot.layout import Label, Point, Scene, place_labels, text_box

    rng = np.random.default_rng(0)
    scene = Scene(400, 300)
    scene.points = [Point(f"w{i}", *rng.uniform(20, 280, 2)) for i in range(300)]
    place_labels(scene, [(i, Label(f"word{i}", 0, 0), False) for i in range(300)])
    assert 10 < len(scene.labels) < 300  # a dense map: some fit, many do not
    boxes = [text_box(label) for label in scene.labels]
    for i, a in enumerate(boxes):
        assert 0 <= a[0] and a[2] <= 400 and 0 <= a[1] and a[3] <= 300
        for b in boxes[i + 1:]:
            assert a[2] <= b[0] or b[2] <= a[0] or a[3] <= b[1] or b[3] <= a[1], (a, b)
        for p in scene.points:  # nor does a label cover a point
            assert not (a[0] < p.x < a[2] and a[1] < p.y < a[3])


def analogy_vectors(path: Path) -> None:
    """Unit vectors with king - man + woman = queen exactly (also of unit length), plus unrelated words."""
    man, woman, king = np.eye(16)[0], np.eye(16)[1], 0.8 * np.eye(16)[0] - 0.2 * np.eye(16)[1] + np.sqrt(0.32) * np.eye(16)[2]
    queen = king - man + woman
    others = unit(np.random.default_rng(1).normal(size=(5, 16)))
    matrix = np.vstack([king, man, woman, queen, others]) * 2.0  # the picture scales rows to unit length
    words = ["king", "man", "woman", "queen"] + [f"x{i}" for i in range(5)]
    Embeddings(words, matrix.astype(np.float32)).save(str(path))


def test_analogy_answers_d_and_draws_the_parallelogram(cli_run, tmp_path):
    path = tmp_path / "a.vec"
    analogy_vectors(path)
    out = tmp_path / "a.html"
    result = ok(cli_run("plot", "analogy", "king", "man", "woman", "-v", path, "-o", out))
    assert "= queen" in result.stderr
    root = ET.fromstring(re.search(r"<svg.*</svg>", out.read_text(), re.S).group(0))
    ns = "{http://www.w3.org/2000/svg}"
    labels = {el.text for el in root.iter(f"{ns}text") if el.get("class") == "label"}
    assert {"king", "man", "woman", "queen"} <= labels
    arrows = [el for el in root.iter(f"{ns}line") if el.get("class") == "arrow"]
    offsets = [np.array([float(a.get("x2")) - float(a.get("x1")), float(a.get("y2")) - float(a.get("y1"))])
               for a in arrows]
    assert len(offsets) == 4
    man_king, woman_queen = offsets[0], offsets[1]  # solid: the shared offset, parallel and equal here
    np.testing.assert_allclose(man_king, woman_queen, atol=0.5)
    assert np.linalg.norm(man_king) > 50
    png = tmp_path / "a.png"
    ok(cli_run("plot", "analogy", "king", "man", "woman", "queen", "-v", path, "-o", png, "--size", "500x400", "-q"))
    assert png_size(png) == (500, 400)


# --- training curves -----------------------------------------------------------------------------------

def write_npz(path: Path, meta: dict) -> None:
    np.savez(path, meta=np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8), w=np.zeros(3, np.float32))


def svg_line(root: ET.Element, gid: str) -> np.ndarray:
    """The vertices of matplotlib's line with this gid (x, y in SVG units)."""
    group = next(el for el in root.iter() if el.get("id") == gid)
    path = next(el for el in group.iter() if el.tag.endswith("path"))
    return np.array([[float(v) for v in pair] for pair in re.findall(r"([-\d.]+) ([-\d.]+)", path.get("d"))])


def test_history_of_any_model_with_a_history_list(cli_run, tmp_path):
    model = tmp_path / "clf.npz"
    history = [{"epoch": e, "train_loss": 1.0 / e, "valid_loss": 1.2 / e, "valid_accuracy": 0.5 + e / 20,
                "seconds": 3.0} for e in range(1, 6)]
    write_npz(model, {"format": "seqkit-someclassifier", "version": 1, "history": history})
    out = tmp_path / "h.svg"
    ok(cli_run("plot", "history", "-m", model, "-o", out, "-q"))
    root = ET.parse(out).getroot()
    texts = svg_texts(out)
    assert {"loss", "accuracy", "training", "validation"} <= set(texts) and "seconds" not in texts
    train, valid = svg_line(root, "training:loss"), svg_line(root, "validation:loss")
    assert len(train) == len(valid) == 5
    assert np.all(np.diff(train[:, 1]) > 0)  # the loss falls: SVG's y grows downwards
    assert len(svg_line(root, "validation:accuracy")) == 5
    ok(cli_run("plot", "history", "-m", model, "--metric", "accuracy", "-o", tmp_path / "acc.svg", "-q"))
    assert "loss" not in svg_texts(tmp_path / "acc.svg")


def test_history_of_a_trained_rnnlm(cli_run, tmp_path):
    text = tmp_path / "t.txt"
    text.write_text("the cat sat on the mat\nthe dog sat on the log\na cat and a dog\n" * 40)
    model = tmp_path / "lm.npz"
    ok(cli_run("rnnlm", text, "-o", model, "--valid", text, "--epochs", "3", "--hidden", "8", "--embed", "8",
               "--layers", "1", "--batch", "4", "--bptt", "5", "-t", "1", "-q"))
    from seqkit_plot.history import load_panels

    kind, panels = load_panels(str(model))
    assert kind == "seqkit-rnnlm" and [p.metric for p in panels] == ["perplexity"]
    assert panels[0].epochs == {"training": [1.0, 2.0, 3.0], "validation": [1.0, 2.0, 3.0]}
    out = tmp_path / "h.png"
    ok(cli_run("plot", "history", "-m", model, "-o", out, "--size", "800x300", "-q"))
    assert png_size(out) == (800, 300)


def test_history_errors_are_one_line(cli_run, tmp_path):
    plain = tmp_path / "p.npz"
    write_npz(plain, {"format": "seqkit-x"})
    result = cli_run("plot", "history", "-m", plain, "-o", tmp_path / "h.png")
    assert result.exit_code == 1 and "no training history" in result.stderr and result.stderr.count("\n") == 1
    text = tmp_path / "t.txt"
    text.write_text("hello\n")
    result = cli_run("plot", "history", "-m", text, "-o", tmp_path / "h.png")
    assert result.exit_code == 1 and "not a seqkit model file" in result.stderr
    assert not (tmp_path / "h.png").exists()


# --- attention -------------------------------------------------------------------------------------------

class FakeAttentionFormat:
    """What a sequence-to-sequence plugin registers: its model offers attention(source)."""

    name = "fake-seq2seq"

    def sniff(self, path: str) -> bool:
        from seqkit_plot.history import read_metadata

        try:
            return read_metadata(path).get("format") == "fake-seq2seq"
        except Exception:
            return False

    def load(self, path: str):
        class Model:
            def attention(self, source: str):
                src = source.split() + ["</s>"]
                tgt = [w.upper() for w in source.split()][::-1] + ["</s>"]
                weights = np.zeros((len(tgt), len(src)))
                weights[np.arange(len(tgt)), np.arange(len(src))[::-1] if len(tgt) == len(src) else 0] = 1.0
                return src, tgt, weights

        return Model()


def test_attention_needs_a_model_with_attention(cli_run, tmp_path):
    model = tmp_path / "m.npz"
    write_npz(model, {"format": "seqkit-rnnlm-like", "history": []})
    result = cli_run("plot", "attention", "-m", model, "a cat", "-o", tmp_path / "a.png")
    assert result.exit_code == 1 and result.stderr.count("\n") == 1
    assert "needs a model with attention" in result.stderr and "seqkit-rnnlm-like" in result.stderr
    assert not (tmp_path / "a.png").exists()


def test_attention_heat_map_through_the_hook(cli_run, tmp_path):
    from seqkit.plugins import load_registry

    model = tmp_path / "s2s.npz"
    write_npz(model, {"format": "fake-seq2seq"})
    load_registry().language_models.append(FakeAttentionFormat())  # the registry is fresh for every test
    out = tmp_path / "a.svg"
    ok(cli_run("plot", "attention", "-m", model, "the black cat", "-o", out, "-q"))
    texts = svg_texts(out)
    assert {"the", "black", "cat", "CAT", "BLACK", "THE", "</s>"} <= set(texts)
    assert any(el.get("id") == "attention" for el in ET.parse(out).getroot().iter())


# --- the extra, errors and start-up ----------------------------------------------------------------------

def test_without_the_extra_one_line_names_it(cli_run, vecs, tmp_path, monkeypatch):
    path = vecs[0]
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib now raises ImportError
    result = cli_run("plot", "vectors", "-v", path, "--method", "pca", "-o", tmp_path / "m.png")
    assert result.exit_code == 1 and result.stderr.count("\n") == 1
    assert "seqkit[plot]" in result.stderr and not (tmp_path / "m.png").exists()
    monkeypatch.setitem(sys.modules, "openTSNE", None)
    result = cli_run("plot", "vectors", "-v", path, "--method", "tsne", "-o", tmp_path / "m.html")
    assert result.exit_code == 1 and "openTSNE" in result.stderr and "seqkit[plot]" in result.stderr
    # a PCA page needs none of the extra
    ok(cli_run("plot", "vectors", "-v", path, "--method", "pca", "-o", tmp_path / "m.html", "-q"))


def test_bad_usage_and_unknown_words(cli_run, vecs, tmp_path):
    path, words, _, _ = vecs
    assert cli_run("plot", "vectors", "-v", path, "-o", tmp_path / "m.jpg").exit_code == 2
    assert cli_run("plot", "vectors", "-v", path, "--size", "10x10", "-o", tmp_path / "m.png").exit_code == 2
    assert cli_run("plot", "analogy", "a", "b", "-v", path, "-o", tmp_path / "a.png").exit_code == 2
    result = cli_run("plot", "vectors", "nope", "nada", "-v", path, "--method", "pca", "-o", tmp_path / "m.png")
    assert result.exit_code == 1 and "none of the given words" in result.stderr
    result = ok(cli_run("plot", "vectors", words[0], words[1], "nope", "-v", path, "--method", "pca",
                        "-o", tmp_path / "m.png"))
    assert "nope" in result.stderr and "warning" in result.stderr
    result = cli_run("plot", "vectors", *words[:2], "-v", path, "--method", "tsne", "-o", tmp_path / "t.png")
    assert result.exit_code == 1 and "--method pca" in result.stderr


def test_help_imports_none_of_the_extra(seqkit_proc):
    code = ("import sys; from seqkit.cli import main\n"
            "try:\n    main(['plot', 'vectors', '--help'])\nexcept SystemExit:\n    pass\n"
            "print(','.join(m for m in sys.modules if m.split('.')[0] in "
            "('matplotlib', 'openTSNE', 'umap', 'numba', 'sklearn', 'numpy')), file=sys.stderr)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and "--neighbours" in result.stdout
    assert result.stderr.strip() == ""


# --- the HTML page in a real browser -----------------------------------------------------------------------

CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage")


def chromium_driver(profile: Path):
    """Debian's chromium and chromium-driver through Selenium; skipped only outside CI when absent."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver") or ("/usr/bin/chromedriver" if os.path.exists("/usr/bin/chromedriver") else None)
    reason = None
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        reason = "selenium is not installed (pip install -e '.[test]')"
    if reason is None and not (browser and driver):
        reason = "no chromium/chromedriver (apt-get install chromium chromium-driver; .ci/run does)"
    if reason:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(reason)
        pytest.skip(reason)
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for flag in CHROMIUM_FLAGS + (f"--user-data-dir={profile}", "--window-size=1200,1000"):
        options.add_argument(flag)
    return webdriver.Chrome(service=Service(driver), options=options)


@pytest.mark.timeout(120)
def test_html_map_renders_points_and_labels_in_chromium(cli_run, vecs, tmp_path):
    path, words, _, _ = vecs
    page = tmp_path / "map.html"
    ok(cli_run("plot", "vectors", *words[:3], "-v", path, "--top", "60", "--neighbours", "2", "--method", "pca",
               "-o", page, "-q"))
    html = page.read_text()
    assert "http://" not in html.replace("http://www.w3.org/2000/svg", "") and "https://" not in html
    browser = chromium_driver(tmp_path / "profile")
    try:
        browser.get(page.as_uri())
        found = browser.execute_script("""
            const box = e => { const b = e.getBoundingClientRect(); return [b.width, b.height]; };
            return {
              points: [...document.querySelectorAll('g.pt')].map(g => ({word: g.dataset.word,
                        size: box(g.querySelector('circle'))})),
              labels: [...document.querySelectorAll('text.label')].map(t => ({text: t.textContent,
                        size: box(t), width: t.getComputedTextLength()})),
            };""")
    finally:
        browser.quit()
    assert sorted(p["word"] for p in found["points"]) == sorted(words)
    assert all(p["size"][0] > 2 and p["size"][1] > 2 for p in found["points"])
    rendered = {label["text"] for label in found["labels"] if label["width"] > 5 and label["size"][1] > 5}
    assert set(words[:3]) <= rendered and len(rendered) >= 20


def test_model_vectors_draw_unseen_words_from_their_ngrams(cli_run, tmp_path):
    from seqkit import subword

    words = ["walk", "walked", "walking", "talk", "talked", "house", "houses", "car"]
    rng = np.random.default_rng(3)
    model = subword.SubwordModel(words, rng.standard_normal((len(words) + 50, 12)).astype(np.float32),
                                 minn=3, maxn=4, buckets=50, counts=np.arange(len(words), 0, -1))
    path = tmp_path / "sub.npz"
    subword.save_model(model, str(path), "subword")
    coords = tmp_path / "c.tsv"
    ok(cli_run("plot", "vectors", "walks", "talking", "--top", "8", "-m", path, "--method", "pca",
               "-o", tmp_path / "m.svg", "--coordinates", coords, "-q"))
    drawn, _, xy = read_coordinates(coords)
    assert drawn == ["walks", "talking"] + words
    loaded = subword.load_vector_model(str(path))
    rows = unit(np.vstack([loaded.word_vector(w) for w in drawn]).astype(np.float64))
    centred = rows - rows.mean(axis=0)
    u, s, _ = np.linalg.svd(centred, full_matrices=False)
    expected = u[:, :2] * s[:2]
    np.testing.assert_allclose(np.abs(xy), np.abs(expected), atol=1e-5)
    assert {"walks", "talking"} <= set(svg_texts(tmp_path / "m.svg"))


def test_coordinates_never_overwrite_the_vectors(cli_run, vecs, tmp_path):
    path, *_ = vecs
    before = path.read_bytes()
    result = cli_run("plot", "vectors", "-v", path, "--top", "5", "--method", "pca", "-o", tmp_path / "m.svg",
                     "--coordinates", path)
    assert result.exit_code == 2 and "same file" in result.stderr and path.read_bytes() == before
