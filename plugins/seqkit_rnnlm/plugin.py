"""`seqkit rnnlm` and the rnnlm model format (light imports only)."""

from __future__ import annotations

import click

from seqkit.options import errors_option, quiet_option, seed_option, threads_option

name = "rnnlm"
version = "0.1.0"


@click.command(short_help="Train an RNN/GRU/LSTM language model (hand-written BPTT on Numba/BLAS).")
@click.argument("corpus", nargs=-1, required=True, metavar="CORPUS...")
@click.option("-o", "--output", required=True, metavar="LM.npz",
              help="Model file; rewritten (atomically) after every epoch, so it is also the checkpoint. "
                   "With --valid its model is the best-validation epoch (and --resume goes on from the latest); "
                   "without it, the last epoch's.")
@click.option("--valid", metavar="FILE", default=None, help="Validation text (perplexity each epoch, lr halving, early stop, best-epoch selection). "
                   "Without it: none of these; every --epochs epoch runs and the last one is kept.")
@click.option("--cell", type=click.Choice(["rnn", "gru", "lstm"]), default="lstm", show_default=True)
@click.option("--layers", type=click.IntRange(min=1), default=2, show_default=True)
@click.option("--embed", type=click.IntRange(min=1), default=200, show_default=True, help="Embedding size.")
@click.option("--hidden", type=click.IntRange(min=1), default=200, show_default=True, help="Hidden units per layer.")
@click.option("--tied", is_flag=True, help="Tie input and output embeddings (needs --embed = --hidden).")
@click.option("--dropout", type=click.FloatRange(0, 1, max_open=True), default=0.0, show_default=True,
              help="Dropout on non-recurrent connections (between layers and before the softmax).")
@click.option("--bptt", type=click.IntRange(min=1), default=35, show_default=True, help="Truncated BPTT length.")
@click.option("--batch", type=click.IntRange(min=1), default=20, show_default=True)
@click.option("--epochs", type=click.IntRange(min=1), default=13, show_default=True)
@click.option("--optimizer", type=click.Choice(["sgd", "adam"]), default="sgd", show_default=True)
@click.option("--lr", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Learning rate. The objective is Zaremba et al.'s: cross-entropy summed over the --bptt "
                   "steps of a segment and averaged over the batch (so lr 1 is their lr 1; PyTorch's "
                   "per-token mean needs about --bptt times the lr).  [default: 1.0 for sgd, 0.001 for adam]")
@click.option("--lr-decay", type=click.FloatRange(0, 1), default=0.5, show_default=True,
              help="SGD: multiply the lr by this after each epoch from --decay-start on.")
@click.option("--decay-start", type=click.IntRange(min=1), default=4, show_default=True)
@click.option("--clip", type=click.FloatRange(min=0), default=5.0, show_default=True,
              help="Clip the gradient of that objective to this global L2 norm (0 = off).")
@click.option("--init-scale", type=click.FloatRange(min=0, min_open=True), default=0.1, show_default=True,
              help="Uniform initialisation in [-s, s].")
@click.option("--forget-bias", type=float, default=0.0, show_default=True, help="Added to the LSTM forget-gate bias.")
@click.option("--patience", type=click.IntRange(min=1), default=3, show_default=True,
              help="Stop after this many epochs without validation improvement (only with --valid).")
@click.option("--resume", is_flag=True,
              help="Continue the training saved in -o, from the batch where Ctrl-C stopped it (with --threads 1 "
                   "the result equals an uninterrupted run's), or for more --epochs; other settings are the "
                   "saved ones.")
@threads_option
@seed_option
@errors_option
@quiet_option
def rnnlm(corpus, output, valid, cell, layers, embed, hidden, tied, dropout, bptt, batch, epochs, optimizer, lr,
          lr_decay, decay_start, clip, init_scale, forget_bias, patience, resume, threads, seed, errors, quiet) -> None:
    """Train a recurrent language model on CORPUS (one sentence per line; `</s>` ends each line) and
    write LM.npz (NumPy arrays + JSON metadata, never pickle).

    Defaults are the "small" configuration of Zaremba et al. (2014). The vocabulary is every word of the
    training text (use a corpus with <unk> for rare words, as PTB does); unknown words at scoring time
    map to <unk>. Score with `seqkit perplexity -m LM.npz` (which reads a text as training does: one
    stream, each line starting from the state the line before left, so a sentence's --per-sentence
    figures depend on the lines before it), sample with `seqkit generate -m LM.npz`.
    Ctrl-C finishes the current batch and saves a checkpoint (exit 130; a second Ctrl-C stops at once
    without saving); a non-finite loss stops with exit 3 and keeps the last good
    epoch's file.
    """
    if tied and embed != hidden:
        raise click.UsageError("--tied needs --embed equal to --hidden")
    given = click.get_current_context().get_parameter_source
    if given("patience") == click.core.ParameterSource.COMMANDLINE and valid is None and not resume:
        raise click.UsageError("--patience goes with --valid")
    if forget_bias and cell != "lstm":
        raise click.UsageError(f"--forget-bias is for --cell lstm (a {cell} has no forget gate)")
    from seqkit_rnnlm.command import run

    run(corpus=list(corpus), output=output, valid=valid, cell=cell, layers=layers, embed=embed, hidden=hidden,
        tied=tied, dropout=dropout, bptt=bptt, batch=batch, epochs=epochs, optimizer=optimizer, lr=lr,
        lr_decay=lr_decay, decay_start=decay_start, clip=clip, init_scale=init_scale, forget_bias=forget_bias,
        patience=patience, resume=resume, threads=threads, seed=seed, errors=errors, quiet=quiet)


class RnnFormat:
    name = "rnnlm-npz"

    def sniff(self, path: str) -> bool:
        from seqkit_rnnlm.modelfile import sniff

        return sniff(path)

    def load(self, path: str):
        from seqkit_rnnlm.lm import RnnLanguageModel

        return RnnLanguageModel(path)


def register(registry) -> None:
    registry.add_command(rnnlm)
    registry.add_language_model(RnnFormat())
