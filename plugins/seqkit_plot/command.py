"""The drivers of `seqkit plot ...`: check the output and the extra, load, project, lay out, draw."""

from __future__ import annotations

import os
import time

import numpy as np

from seqkit.errors import SeqkitError
from seqkit.progress import Reporter
from seqkit.textio import check_output_path, text_lines
from seqkit.vectors import Embeddings
from seqkit_plot import layout, project, render
from seqkit_plot.layout import Label, Point, Scene

METHOD_NAMES = {"tsne": "t-SNE", "umap": "UMAP", "pca": "PCA"}
ANALOGY_RESTRICT = 30000  # the conventional analogy search space (word2vec.c, gensim)


def prepare(output: str, inputs: list[str | None], needs_matplotlib: bool) -> str:
    """The output's format, after failing fast on a bad path or a missing extra."""
    fmt = render.output_format(output)
    check_output_path(output, inputs)
    if needs_matplotlib or fmt != "html":
        project.require("matplotlib", "seqkit plot")
    return fmt


def load_table(vectors: str, model: str | None, extra_words: list[str], reporter: Reporter) -> Embeddings:
    """The -v vector file, or -m's vocabulary plus a subword vector for each asked-for unseen word."""
    if model is None:
        return Embeddings.load(vectors, reporter=reporter)
    from seqkit.subword import load_vector_model

    vector_model = load_vector_model(model)
    words, matrix = list(vector_model.words), vector_model.vocab_vectors()
    known = set(words)
    unseen = [w for w in dict.fromkeys(extra_words) if w not in known]
    if unseen:
        words += unseen
        matrix = np.vstack([matrix, np.stack([vector_model.word_vector(w) for w in unseen])])
    return Embeddings(words, matrix)


def read_words_file(path: str) -> list[str]:
    """The first word of each non-empty line (a vocabulary file's `word count` lines work as they are)."""
    return [line.split()[0] for line in text_lines(path) if line.split()]


def select(emb: Embeddings, given: list[str], top: int, neighbours: int,
           reporter: Reporter) -> tuple[list[int], list[int], list[str]]:
    """Rows to draw, each one's group (-1: none), and the given words found; unknown words are warned."""
    rows: list[int] = []
    groups: list[int] = []
    seen: set[int] = set()
    found, missing = [], []
    for word in dict.fromkeys(given):
        row = emb.row(word)
        if row is None:
            missing.append(word)
            continue
        found.append(word)
        rows.append(row)
        groups.append(len(found) - 1 if neighbours else -1)
        seen.add(row)
    if missing:
        reporter.warn(f"not in the vectors, left out: {' '.join(missing[:10])}"
                      + (f" (and {len(missing) - 10:,} more)" if len(missing) > 10 else ""))
    for group, word in enumerate(found if neighbours else []):
        added = 0
        for neighbour, _ in emb.nearest(word, neighbours + len(found)):
            row = emb.row(neighbour)
            if added < neighbours and row not in seen:  # a word near two given words joins the first
                rows.append(row)
                groups.append(group)
                seen.add(row)
                added += 1
    for row in range(min(top, len(emb))):
        if row not in seen:
            rows.append(row)
            groups.append(-1)
            seen.add(row)
    return rows, groups, found


def vectors_scene(emb: Embeddings, rows: list[int], groups: list[int], n_given: int, coords: np.ndarray,
                  width: int, height: int, title: str, max_labels: int | None) -> Scene:
    pixels, _ = layout.to_pixels(coords, width, height)
    scene = Scene(width, height, title)
    wanted = []
    for i, (row, group) in enumerate(zip(rows, groups)):
        word = emb.word_at(row)
        given = i < n_given
        colour = layout.PALETTE[group % len(layout.PALETTE)] if group >= 0 else ("#222222" if given else layout.PLAIN)
        scene.points.append(Point(word, *pixels[i], colour=colour, radius=4.0 if given else (3.0 if group >= 0 else 2.2),
                                  group=emb.word_at(rows[group]) if group >= 0 else ""))
        label = Label(word, 0, 0, colour if group >= 0 else "#222222", 12.0 if given else 10.0, bold=given)
        wanted.append((i, label, given))
    optional = wanted[n_given:]
    optional.sort(key=lambda item: (groups[item[0]] < 0, item[0]))  # neighbours before the --top words
    if max_labels is not None:
        optional = optional[:max_labels]
    layout.place_labels(scene, wanted[:n_given] + optional)
    return scene


def plot_vectors(*, vectors: str, model: str | None, words: list[str], top: int, words_file: str | None,
                 neighbours: int, method: str, seed: int, output: str, coordinates: str | None,
                 width: int, height: int, max_labels: int | None, threads: int, quiet: bool) -> None:
    reporter = Reporter(quiet)
    fmt = prepare(output, [vectors, model, words_file, coordinates], needs_matplotlib=False)
    if coordinates:
        check_output_path(coordinates, [vectors, model, words_file], outputs=[output], param_hint="'--coordinates'")
    if method != "pca":
        project.require("openTSNE" if method == "tsne" else "umap", f"--method {method}")
    given = list(words) + (read_words_file(words_file) if words_file else [])
    emb = load_table(vectors, model, given, reporter)
    rows, groups, found = select(emb, given, top, neighbours, reporter)
    if not rows:
        raise SeqkitError("none of the given words is in the vectors: nothing to draw")
    started = time.perf_counter()
    coords = project.project(emb.matrix[rows], method, seed=seed, threads=threads)
    seconds = time.perf_counter() - started
    seeded = "" if method == "pca" else f", seed {seed}"
    title = f"{METHOD_NAMES[method]} of {len(rows):,} words ({os.path.basename(model or vectors)}{seeded})"
    scene = vectors_scene(emb, rows, groups, len(found), coords, width, height, title, max_labels)
    render.draw_scene(scene, output, fmt)
    if coordinates:
        write_coordinates(coordinates, [emb.word_at(r) for r in rows],
                          [emb.word_at(rows[g]) if g >= 0 else "" for g in groups], coords)
    reporter.summary(f"plot vectors: {len(rows):,} words by {METHOD_NAMES[method]} in {seconds:.1f}s, "
                     f"{len(scene.labels):,} labelled -> {output}")


def write_coordinates(path: str, words: list[str], groups: list[str], coords: np.ndarray) -> None:
    """word, group, x, y per line (exact float repr), for scripts and tests."""
    from seqkit.textio import atomic_output

    with atomic_output(path) as out:
        out.write("word\tgroup\tx\ty\n")
        for word, group, (x, y) in zip(words, groups, coords.tolist()):
            out.write(f"{word}\t{group}\t{x!r}\t{y!r}\n")


def plot_analogy(*, vectors: str, model: str | None, words: list[str], neighbours: int, output: str,
                 width: int, height: int, quiet: bool) -> None:
    """A − B + C ≈ D drawn as a parallelogram: arrows B→A and C→D (the shared offset), dashed B→C and A→D."""
    reporter = Reporter(quiet)
    fmt = prepare(output, [vectors, model], needs_matplotlib=False)
    emb = load_table(vectors, model, words, reporter)
    missing = [w for w in words if emb.row(w) is None]
    if missing:
        raise SeqkitError(f"not in the vectors: {' '.join(missing)}")
    a, b, c = words[:3]
    if len(words) == 4:
        d = words[3]
    else:
        answers = emb.analogy([a, c], [b], k=1, restrict=max(ANALOGY_RESTRICT, *(emb.row(w) + 1 for w in words)))
        if not answers:
            raise SeqkitError("the vectors hold no word to answer with")
        d = answers[0][0]
    four = [emb.row(w) for w in (a, b, c, d)]
    rows = list(four)
    for row in four:
        for neighbour, _ in emb.nearest(emb.word_at(row), neighbours):
            if emb.row(neighbour) not in rows:
                rows.append(emb.row(neighbour))
    unit = project.unit_rows(emb.matrix[rows])
    predicted = unit[0] - unit[1] + unit[2]
    predicted /= np.linalg.norm(predicted) or 1.0
    # fitted on the four words alone: a linear map keeps parallel offsets parallel, and these four spread most
    fitted, placed = project.pca(unit[:4], np.vstack([unit[4:], predicted[None, :]]))
    coords = np.vstack([fitted, placed])
    pixels, _ = layout.to_pixels(coords, width, height, margin=70.0, top=40.0)
    cosine = float(unit[3] @ predicted)
    scene = Scene(width, height, f"{a} − {b} + {c} ≈ {d} (cosine {cosine:.3f}; PCA of the four words)")
    colours = ("#d62728", "#1f77b4", "#d62728", "#1f77b4")
    for i, row in enumerate(rows):
        scene.points.append(Point(emb.word_at(row), *pixels[i], colour=colours[i] if i < 4 else "#9a9a9a",
                                  radius=5.0 if i < 4 else 2.5, group="analogy" if i < 4 else "neighbour"))
    scene.points.append(Point(f"{a} − {b} + {c}", *pixels[-1], colour="#2ca02c", radius=4.0, group="predicted"))
    (ax, ay), (bx, by), (cx, cy), (dx, dy) = pixels[:4]
    scene.arrows += [layout.Arrow(bx, by, ax, ay, "#ff7f0e"), layout.Arrow(cx, cy, dx, dy, "#ff7f0e"),
                     layout.Arrow(bx, by, cx, cy, "#7f7f7f", dashed=True),
                     layout.Arrow(ax, ay, dx, dy, "#7f7f7f", dashed=True)]
    wanted = [(i, Label(emb.word_at(rows[i]), 0, 0, colours[i], 14.0, bold=True), True) for i in range(4)]
    wanted.append((len(rows), Label(f"{a} − {b} + {c}", 0, 0, "#2ca02c", 11.0), True))
    wanted += [(i, Label(emb.word_at(rows[i]), 0, 0, "#666666", 10.0), False) for i in range(4, len(rows))]
    layout.place_labels(scene, wanted)
    render.draw_scene(scene, output, fmt)
    reporter.summary(f"plot analogy: {a} - {b} + {c} = {d} (cosine {cosine:.3f}), "
                     f"{len(rows) - 4} neighbours -> {output}")


def plot_history(*, model: str, metrics: tuple[str, ...], output: str, width: int, height: int, log_scale: bool,
                 quiet: bool) -> None:
    from seqkit_plot.charts import draw_history
    from seqkit_plot.history import load_panels

    reporter = Reporter(quiet)
    fmt = prepare(output, [model], needs_matplotlib=True)
    kind, panels = load_panels(model, metrics)
    draw_history(panels, f"{os.path.basename(model)} ({kind})", output, fmt, width, height, log_scale)
    epochs = max(len(v) for p in panels for v in p.values.values())
    reporter.summary(f"plot history: {', '.join(p.metric for p in panels)} over {epochs} epochs -> {output}")


def plot_attention(*, model: str, source: str, output: str, width: int, height: int, quiet: bool) -> None:
    from seqkit_plot.attention import weights_of

    reporter = Reporter(quiet)
    fmt = render.output_format(output)
    check_output_path(output, [model])
    src, tgt, weights = weights_of(model, source)  # first: without a model with attention there is nothing to draw
    project.require("matplotlib", "seqkit plot")
    from seqkit_plot.charts import draw_attention

    draw_attention(src, tgt, weights, " ".join(tgt), output, fmt, width, height)
    reporter.summary(f"plot attention: {len(src)} source x {len(tgt)} output tokens -> {output}")
