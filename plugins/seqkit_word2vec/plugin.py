"""The `seqkit word2vec` command (light imports only: the kernels load when the command runs)."""

from __future__ import annotations

import click

from seqkit.options import check_engine, engine_options, errors_option, max_sentence_len_option, quiet_option, seed_option, threads_option

name = "word2vec"
version = "0.1.0"


@click.command(short_help="Train word vectors: skip-gram or CBOW, negative sampling or hierarchical softmax.")
@click.argument("corpus", nargs=-1, required=True, metavar="CORPUS...")
@click.option("-o", "--output", required=True, metavar="PATH", help="Vector file to write ('-' = stdout).")
@click.option("--model", type=click.Choice(["sg", "cbow"]), default="sg", show_default=True,
              help="Skip-gram or continuous bag of words.")
@click.option("--loss", type=click.Choice(["ns", "hs", "ns+hs"]), default="ns", show_default=True,
              help="Negative sampling, hierarchical softmax (Huffman tree), or both (as word2vec.c allows).")
@click.option("--dim", type=click.IntRange(min=1), default=100, show_default=True, help="Vector dimension.")
@click.option("--window", type=click.IntRange(min=1), default=5, show_default=True,
              help="Maximum context window (each position draws a shrunk window in 1..N).")
@click.option("--negative", type=click.IntRange(min=0), default=5, show_default=True,
              help="Noise words per positive example (drawn from count^--ns-exponent).")
@click.option("--ns-exponent", type=click.FloatRange(min=0.0, max=1.0), default=None,
              help="Noise distribution is count^this: 1 = unigram, 0 = uniform (gensim's ns_exponent). "
                   "[default: 0.75 for sg (word2vec's), 0.5 for cbow and for sg with --maxn (fastText's, which "
                   "trains them better)]")
@click.option("--sample", type=click.FloatRange(min=0), default=1e-3, show_default=True,
              help="Subsampling threshold for frequent words (0 = off), word2vec's formula.")
@click.option("--min-count", type=click.IntRange(min=1), default=5, show_default=True,
              help="Ignore words seen fewer times.")
@click.option("--max-vocab", type=click.IntRange(min=1), default=None,
              help="Keep at most this many words; prunes rare words while counting (reported).")
@click.option("--epochs", type=click.IntRange(min=1), default=5, show_default=True,
              help="Passes over the corpus.")
@click.option("--lr", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Starting learning rate.  [default: 0.025 for sg, 0.05 for cbow and with --minn/--maxn]")
@click.option("--min-lr", type=click.FloatRange(min=0), default=0.0001, show_default=True,
              help="Learning rate at the end; decays linearly by global progress.")
@click.option("--cbow-mean/--cbow-sum", default=True, show_default=True,
              help="CBOW hidden layer: mean or sum of the context vectors.")
@click.option("--batch-negatives", is_flag=True,
              help="sg + ns only: share one set of noise words across each window and update it as a "
                   "minibatch (Ji et al. 2016); faster, slightly different results.")
@click.option("--minn", type=click.IntRange(min=0), default=0, show_default=True,
              help="Shortest character n-gram: with --maxn, fastText's subword vectors (a word is the mean of "
                   "its own row and its n-grams' rows, so unseen words get vectors too). 0 and 0: plain word2vec.")
@click.option("--maxn", type=click.IntRange(min=0), default=0, show_default=True,
              help="Longest character n-gram (fastText's default for word vectors: --minn 3 --maxn 6).")
@click.option("--buckets", type=click.IntRange(min=0, max=2**31 - 1), default=2_000_000, show_default=True,
              help="Hash buckets for the character n-grams (fastText's -bucket; its .bin holds up to 2^31 - 1).")
@click.option("--save-model", metavar="PATH", default=None,
              help="With --minn/--maxn: also write the model (.npz: seqkit's subword format; .bin: fastText's), "
                   "which gives vectors for unseen words (`-m PATH`). -o PATH.npz or PATH.bin writes it instead "
                   "of the vectors.")
@click.option("--binary", is_flag=True, help="Write word2vec binary instead of text (a .bin -o without n-grams "
                                             "implies it).")
@click.option("--save-vocab", metavar="PATH", default=None, help="Also write the vocabulary (`word count`).")
@click.option("--read-vocab", metavar="PATH", default=None,
              help="Use this vocabulary (`word count` lines) instead of counting the corpus.")
@threads_option
@seed_option
@errors_option
@max_sentence_len_option
@engine_options
@quiet_option
def word2vec(corpus, output, model, loss, dim, window, negative, ns_exponent, sample, min_count, max_vocab,
             epochs, lr, min_lr, cbow_mean, batch_negatives, minn, maxn, buckets, save_model, binary, save_vocab, read_vocab, threads, seed, errors,
             max_sentence_len, engine, scheduler, quiet) -> None:
    """Train word vectors on CORPUS (files, .gz/.bz2/.xz, or '-' for stdin) and write them to -o.

    Each line is a sentence of whitespace-separated tokens; context windows never cross lines, and
    lines longer than --max-sentence-len are cut into pieces. Output is word2vec text
    (`COUNT DIM` header, then `word v1 ... vDIM`, most frequent first) or, with --binary, word2vec
    binary; both load in gensim and word2vec.c.

    The encoded corpus (4 bytes per token) is kept in an unnamed temporary file in $TMPDIR, so
    memory does not grow with the corpus.

    With --threads 1 and a --seed, the output is identical run to run.
    """
    from seqkit_word2vec.command import run

    if loss in ("ns", "ns+hs") and negative == 0:
        raise click.UsageError(f"--loss {loss} needs --negative >= 1 (or use --loss hs)")
    given = click.get_current_context().get_parameter_source
    if model == "sg" and not cbow_mean:
        raise click.UsageError("--cbow-sum is for --model cbow (skip-gram has no context to sum)")
    if maxn == 0 and given("buckets") == click.core.ParameterSource.COMMANDLINE:
        raise click.UsageError("--buckets hashes character n-grams: give --minn and --maxn too")
    if batch_negatives and (model != "sg" or loss != "ns"):
        raise click.UsageError("--batch-negatives needs --model sg --loss ns")
    _check_subword_options(minn, maxn, buckets, batch_negatives, save_model, output, binary)
    binary = binary or (maxn == 0 and output.lower().endswith(".bin"))  # as `seqkit convert` reads a .bin name
    check_engine(engine, scheduler)
    run(corpus=list(corpus), output=output, model=model, loss=loss, dim=dim, window=window, negative=negative,
        ns_exponent=ns_exponent, sample=sample, min_count=min_count, max_vocab=max_vocab, epochs=epochs, lr=lr,
        min_lr=min_lr, cbow_mean=cbow_mean, batch_negatives=batch_negatives, binary=binary,
        save_vocab=save_vocab, read_vocab=read_vocab, threads=threads, seed=seed, errors=errors,
        max_sentence_len=max_sentence_len, quiet=quiet, engine=engine, scheduler=scheduler, minn=minn, maxn=maxn,
        buckets=buckets, save_model=save_model)


def _check_subword_options(minn: int, maxn: int, buckets: int, batch_negatives: bool, save_model: str | None,
                           output: str, binary: bool) -> None:
    if maxn == 0:
        if minn > 0:
            raise click.UsageError(f"--minn {minn} needs --maxn >= {minn} (--maxn 0 means no character n-grams)")
        if save_model:
            raise click.UsageError("--save-model needs character n-grams (--minn and --maxn)")
        if output.lower().endswith(".npz"):
            raise click.UsageError(f"-o {output} names a subword model: give --minn and --maxn, or name a "
                                   "vector file (.txt, .vec, .bin for word2vec binary, .skv)")
        return
    if minn == 0:  # fastText reads minn 0 as 1 (single characters); say it rather than guess
        raise click.UsageError("--maxn needs --minn >= 1 (fastText's default for word vectors: --minn 3 --maxn 6)")
    if minn > maxn:
        raise click.UsageError(f"--minn {minn} is greater than --maxn {maxn}")
    if buckets == 0:
        raise click.UsageError("character n-grams need --buckets >= 1")
    if batch_negatives:
        raise click.UsageError("--batch-negatives does not work with character n-grams (--minn/--maxn)")
    suffixes = (".npz", ".bin")
    if save_model and not save_model.lower().endswith(suffixes):
        raise click.UsageError("--save-model takes a .npz (seqkit's subword model) or .bin (fastText's) path")
    if binary and output.lower().endswith(suffixes):
        raise click.UsageError(f"-o {output} writes a model file; --binary is for word2vec binary vectors")


class _FastTextClassifier:
    """fastText's supervised `.bin` for `seqkit predict` / `test` (the reader is in the core; imported on use)."""

    name = "fasttext-bin"

    @staticmethod
    def sniff(path: str) -> bool:
        from seqkit.fasttext_bin import sniff_classifier

        return sniff_classifier(path)

    @staticmethod
    def load(path: str):
        from seqkit.fasttext_predict import FastTextClassifierFormat

        return FastTextClassifierFormat.load(path)


def register(registry) -> None:
    registry.add_command(word2vec)
    if hasattr(registry, "add_classifier"):
        registry.add_classifier(_FastTextClassifier())
