"""`seqkit vocab`: count a corpus's words, for inspection or for `word2vec --read-vocab`."""

from __future__ import annotations

import click

from seqkit.options import check_engine, engine_options, errors_option, max_sentence_len_option, quiet_option


@click.command(short_help="Count words: `word count` lines, most frequent first.")
@click.argument("corpus", nargs=-1, required=True, metavar="CORPUS...")
@click.option("-o", "--output", default="-", show_default=True, metavar="PATH",
              help="Where to write the vocabulary ('-' = stdout).")
@click.option("--min-count", type=click.IntRange(min=1), default=1, show_default=True,
              help="Keep words seen at least this many times.")
@click.option("--max-vocab", type=click.IntRange(min=1), default=None,
              help="Bound memory while counting: prune the rarest words when more types than this "
                   "are held (reported), and keep at most this many.")
@errors_option
@max_sentence_len_option
@engine_options
@quiet_option
def vocab(corpus: tuple[str, ...], output: str, min_count: int, max_vocab: int | None, errors: str,
          max_sentence_len: int, engine: str, scheduler: str | None, quiet: bool) -> None:
    """Count the words of CORPUS (files, .gz/.bz2/.xz, or '-' for stdin) and write `word count`
    lines, most frequent first, in word2vec.c's `-save-vocab` format.

    Tokens are separated by ASCII whitespace; each line is a sentence.
    """
    from seqkit.corpus import CorpusStats
    from seqkit.progress import Reporter
    from seqkit.textio import check_output_path
    from seqkit.vocabulary import count_words

    check_engine(engine, scheduler)
    reporter = Reporter(quiet)
    check_output_path(output, corpus)
    stats = CorpusStats()
    if engine == "dask":  # exact counts: --max-vocab truncates but never prunes while counting
        from seqkit.scale.engine import cluster_client, count_words as count_on_cluster

        with cluster_client(scheduler, reporter) as client:
            vocabulary, build = count_on_cluster(client, list(corpus), min_count=min_count, max_vocab=max_vocab,
                                                 errors=errors, max_sentence_len=max_sentence_len, stats=stats,
                                                 reporter=reporter)
        vocabulary.save(output)
        reporter.summary(f"vocab: {stats.describe()}; {build.describe(min_count)}")
        return
    with reporter.task("counting", total=None):
        vocabulary, build = count_words(list(corpus), min_count=min_count, max_vocab=max_vocab, errors=errors,
                                        max_sentence_len=max_sentence_len, stats=stats, reporter=reporter)
    vocabulary.save(output)
    reporter.summary(f"vocab: {stats.describe()}; {build.describe(min_count)}")
