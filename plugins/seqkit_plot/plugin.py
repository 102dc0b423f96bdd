"""`seqkit plot`: maps of word vectors, analogy parallelograms, training curves and attention (light imports only).

The pictures need the optional extra `seqkit[plot]` (matplotlib, openTSNE, umap-learn), imported only when
a plot command runs; `.html` maps of PCA need none of it.
"""

from __future__ import annotations


import click

from seqkit.options import quiet_option, seed_option, usable_cores, vectors_option

name = "plot"
version = "0.1.0"

OUTPUT_HELP = "Picture to write; its suffix picks the format: .png, .svg, .pdf or .html (one self-contained page)."


def _size(ctx: click.Context, param: click.Parameter, value: str | None) -> tuple[int, int] | None:
    if value is None:
        return None
    width, sep, height = value.lower().partition("x")
    if not sep or not width.isdigit() or not height.isdigit() or not (100 <= int(width) <= 8000 and 100 <= int(height) <= 8000):
        raise click.BadParameter(f"{value!r}: give WIDTHxHEIGHT in pixels, each 100..8000 (e.g. 1000x800)")
    return int(width), int(height)


def size_option(default: str):
    return click.option("--size", metavar="WxH", default=default, show_default=True, callback=_size,
                        help="Picture size in pixels (at 100 dpi).")


model_vectors_option = click.option(
    "-m", "--model", "model", metavar="MODEL", default=None,
    help="A subword vector model (fastText .bin, seqkit subword .npz) instead of -v: given words it has not "
         "seen get vectors from their character n-grams.")


@click.group(short_help="Pictures: word-vector maps, analogies, training curves, attention (extra: seqkit[plot]).")
def plot() -> None:
    """Draw pictures of vectors and models. PNG, SVG and PDF need the optional extra
    (`pip install 'seqkit[plot]'`: matplotlib, openTSNE, umap-learn); an `.html` map by PCA needs nothing more.
    """


@plot.command(short_help="A labelled 2-D map of word vectors (t-SNE, UMAP or PCA).")
@click.argument("words", nargs=-1)
@vectors_option
@model_vectors_option
@click.option("--top", type=click.IntRange(min=0), default=None,
              help="Add the N most frequent words (the first N of the file).  [default: 500 without WORDs]")
@click.option("--words-file", metavar="FILE", default=None, help="Words to draw, the first of each line.")
@click.option("--neighbours", "-k", type=click.IntRange(min=0), default=0, show_default=True,
              help="Add each given word's K nearest neighbours, coloured as the word they belong to.")
@click.option("--method", type=click.Choice(["tsne", "umap", "pca"]), default="tsne", show_default=True,
              help="t-SNE (openTSNE, FFT-accelerated), UMAP (umap-learn) or PCA (NumPy); all over cosine geometry.")
@seed_option
@click.option("--labels", "max_labels", type=click.IntRange(min=0), default=None,
              help="Label at most N words besides the given ones (default: every word whose label fits without overlap).")
@click.option("--coordinates", metavar="FILE.tsv", default=None, help="Also write word, group, x, y per line.")
@click.option("-t", "--threads", type=click.IntRange(min=1), default=usable_cores,
              show_default="all cores", help="Threads for t-SNE (its result does not depend on them).")
@size_option("1000x800")
@click.option("-o", "--output", required=True, metavar="MAP.png", help=OUTPUT_HELP)
@quiet_option
def vectors(words, vectors, model, top, words_file, neighbours, method, seed, max_labels, coordinates, threads,
            size, output, quiet) -> None:
    """Draw WORDs (and/or --top N frequent words, --words-file words) as a 2-D map with non-overlapping
    labels; with --neighbours K, each WORD brings its K nearest neighbours in its own colour. The same
    --seed gives the same map. Rows are scaled to unit length first (cosine geometry, as every query)."""
    if top is None:
        top = 0 if words or words_file else 500
    from seqkit_plot.command import plot_vectors

    plot_vectors(vectors=vectors, model=model, words=list(words), top=top, words_file=words_file,
                 neighbours=neighbours, method=method, seed=seed, output=output, coordinates=coordinates,
                 width=size[0], height=size[1], max_labels=max_labels, threads=threads, quiet=quiet)


@plot.command(short_help="A - B + C = D as a parallelogram of arrows (PCA).")
@click.argument("words", nargs=-1, required=True, metavar="A B C [D]")
@vectors_option
@model_vectors_option
@click.option("--neighbours", "-k", type=click.IntRange(min=0), default=3, show_default=True,
              help="Nearest neighbours of each of the four words drawn in grey for context.")
@size_option("900x700")
@click.option("-o", "--output", required=True, metavar="OUT.png", help=OUTPUT_HELP)
@quiet_option
def analogy(words, vectors, model, neighbours, size, output, quiet) -> None:
    """Draw "A is to B as C is to D" (A - B + C = D, `seqkit analogy`'s order: `king man woman queen`).
    Without D, the answer of `seqkit analogy A B C` is drawn. The offsets B->A and C->D are the solid
    arrows (parallel when the analogy holds), B->C and A->D the dashed ones; the green point is A - B + C."""
    if len(words) not in (3, 4):
        raise click.UsageError(f"give three or four words (A B C [D]), not {len(words)}")
    from seqkit_plot.command import plot_analogy

    plot_analogy(vectors=vectors, model=model, words=list(words), neighbours=neighbours, output=output,
                 width=size[0], height=size[1], quiet=quiet)


@plot.command(short_help="Training curves (loss, perplexity, accuracy per epoch) from a model's history.")
@click.option("-m", "--model", required=True, metavar="MODEL.npz", help="Any seqkit model whose metadata holds a `history`.")
@click.option("--metric", "metrics", multiple=True, metavar="NAME",
              help="Only this metric (perplexity, loss, accuracy, or a key such as valid_ppl; repeatable).")
@click.option("--linear", is_flag=True, help="Perplexity on a linear axis (default: logarithmic).")
@size_option("1000x420")
@click.option("-o", "--output", required=True, metavar="CURVE.png", help=OUTPUT_HELP)
@quiet_option
def history(model, metrics, linear, size, output, quiet) -> None:
    """Draw each metric of the model's per-epoch training history as a panel, training and validation
    as separate lines (rnnlm, and every trainer storing a `history` list of per-epoch dicts)."""
    from seqkit_plot.command import plot_history

    plot_history(model=model, metrics=tuple(metrics), output=output, width=size[0], height=size[1],
                 log_scale=not linear, quiet=quiet)


@plot.command(short_help="A heat map of what an attention decoder looked at.")
@click.option("-m", "--model", required=True, metavar="MODEL", help="A model with attention (sequence to sequence).")
@click.argument("source")
@size_option("800x700")
@click.option("-o", "--output", required=True, metavar="ATT.png", help=OUTPUT_HELP)
@quiet_option
def attention(model, source, size, output, quiet) -> None:
    """Translate SOURCE with the model and draw its attention weights (output tokens x source tokens).
    Needs a model whose plugin offers `attention(source)` (see docs/plugins.md)."""
    from seqkit_plot.command import plot_attention

    plot_attention(model=model, source=source, output=output, width=size[0], height=size[1], quiet=quiet)


def register(registry) -> None:
    registry.add_command(plot)
