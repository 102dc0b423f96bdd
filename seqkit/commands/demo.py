"""`seqkit demo`: the whole loop on the bundled sample corpus, through the same commands users run."""

from __future__ import annotations

import click

from seqkit.options import threads_option


@click.command(short_help="Train, query and evaluate on the bundled sample corpus (~1 minute).")
@click.option("--keep", metavar="DIR", default=None,
              help="Keep the trained vectors in DIR (default: a temporary directory, removed afterwards).")
@threads_option
def demo(keep: str | None, threads: int) -> None:
    """Train skip-gram vectors on the bundled 1M-word Wikipedia sample, show nearest neighbours and an
    analogy, and evaluate on the Google analogy set; then the same queries on the bundled default
    vectors (trained on 17M words), to show what more data buys.

    Every step is an ordinary seqkit command, printed before it runs.
    """
    import os
    import shlex
    import tempfile

    from seqkit.cli import cli
    from seqkit.errors import SeqkitError
    from seqkit.options import DATA_DIR, default_vectors_path
    from seqkit.plugins import load_registry

    if keep and os.path.exists(keep) and not os.path.isdir(keep):
        raise click.BadParameter(f"{keep} is a file, not a directory", param_hint="'--keep'")
    if "word2vec" not in load_registry().commands:
        raise SeqkitError("the demo needs the word2vec plugin, which is not loaded (see `seqkit plugins`)")
    sample = str(DATA_DIR / "sample.txt.xz")
    questions = str(DATA_DIR / "questions-words.txt.xz")
    with tempfile.TemporaryDirectory(prefix="seqkit-demo-") as tmp:
        directory = keep or tmp
        os.makedirs(directory, exist_ok=True)
        vectors = os.path.join(directory, "sample-vectors.txt")

        def run(*args: str) -> None:
            click.secho(f"\n$ seqkit {shlex.join(args)}", bold=True, err=True)
            code = cli.main(list(args), prog_name="seqkit", standalone_mode=False)
            if code not in (None, 0):
                raise SeqkitError(f"demo step failed with exit code {code}")

        run("word2vec", sample, "-o", vectors, "--model", "sg", "--threads", str(threads))
        run("similar", "-v", vectors, "-k", "8", "france", "computer")
        run("analogy", "-v", vectors, "-k", "3", "paris", "france", "italy")
        run("eval", "analogy", "-v", vectors, questions)
        default = default_vectors_path()
        if default:
            run("similar", "-k", "8", "france", "computer")
            run("analogy", "-k", "3", "king", "man", "woman")
            run("eval", "analogy", questions)
        if keep:
            click.echo(f"\nvectors kept in {vectors}", err=True)
