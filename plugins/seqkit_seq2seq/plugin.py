"""`seqkit seq2seq`, `translate`, `bleu`, `ctc` and `ctc-decode`, and the recurrent classifier behind
`seqkit classify --model birnn` (light imports only)."""

from __future__ import annotations

import click

from seqkit.options import errors_option, json_option, quiet_option, seed_option, threads_option

name = "seq2seq"
version = "0.1.0"


@click.command(short_help="Train an attention encoder-decoder (bidirectional encoder, GRU/LSTM decoder).")
@click.argument("source", metavar="SRC")
@click.argument("target", metavar="TGT")
@click.option("-o", "--output", required=True, metavar="MODEL.npz",
              help="Model file, rewritten atomically after every epoch and at Ctrl-C (it is also the checkpoint for "
                   "--resume). With validation its model is the best epoch's.")
@click.option("--valid-src", metavar="FILE", default=None, help="Validation source text (perplexity, BLEU).")
@click.option("--valid-tgt", metavar="FILE", default=None, help="Validation target text.")
@click.option("--cell", type=click.Choice(["rnn", "gru", "lstm"]), default="gru", show_default=True)
@click.option("--layers", type=click.IntRange(min=1), default=1, show_default=True, help="Encoder layers.")
@click.option("--decoder-layers", type=click.IntRange(min=1), default=1, show_default=True,
              help="Stacked decoder layers (dropout between them); attention reads the top one.")
@click.option("--embed", type=click.IntRange(min=1), default=128, show_default=True,
              help="Embedding size (with -v: the vectors' dimension).")
@click.option("--hidden", type=click.IntRange(min=1), default=256, show_default=True,
              help="Hidden units per direction of the encoder, and of the decoder.")
@click.option("--attention", type=click.Choice(["additive", "dot"]), default="additive", show_default=True,
              help="Bahdanau's additive score, or Luong's multiplicative ('general') one.")
@click.option("--attn-size", type=click.IntRange(min=1), default=256, show_default=True)
@click.option("--dropout", type=click.FloatRange(0, 1, max_open=True), default=0.0, show_default=True,
              help="Between encoder layers and on the attentional vector.")
@click.option("--teacher-forcing", type=click.FloatRange(0, 1), default=1.0, show_default=True,
              help="Share of batches that read the reference's previous word (the rest read their own argmax).")
@click.option("--batch", type=click.IntRange(min=1), default=64, show_default=True)
@click.option("--epochs", type=click.IntRange(min=1), default=10, show_default=True)
@click.option("--patience", type=click.IntRange(min=0), default=0, show_default=True,
              help="With validation: stop after this many epochs without a better validation BLEU (perplexity "
                   "without sacrebleu); 0 = run all --epochs (the model kept is the best epoch either way).")
@click.option("--lr", type=click.FloatRange(min=0, min_open=True), default=0.001, show_default=True, help="Adam's.")
@click.option("--clip", type=click.FloatRange(min=0), default=1.0, show_default=True,
              help="Clip the gradient to this global L2 norm (0 = off).")
@click.option("--min-count", type=click.IntRange(min=1), default=1, show_default=True,
              help="Rarer words become <unk>.")
@click.option("--max-length", type=click.IntRange(min=1), default=50, show_default=True,
              help="Skip training pairs with a side longer than this many tokens (counted in the summary).")
@click.option("--lowercase", is_flag=True, help="Lowercase both sides before tokenizing.")
@click.option("--pretokenized", is_flag=True, help="Split on whitespace only (text already tokenized).")
@click.option("-v", "--vectors", metavar="VECS", default=None,
              help="Initialise the source embedding from these word vectors (their dimension sets --embed).")
@click.option("--freeze-vectors", is_flag=True, help="Keep the -v embedding fixed.")
@click.option("--init-scale", type=click.FloatRange(min=0, min_open=True), default=0.1, show_default=True)
@click.option("--resume", is_flag=True,
              help="Continue the training saved in -o (after Ctrl-C: from the next batch); with --threads 1 the "
                   "result equals an uninterrupted run's.")
@threads_option
@seed_option
@errors_option
@quiet_option
def seq2seq(**options) -> None:
    """Train a translation model on parallel text: line i of TGT translates line i of SRC.

    Raw text is tokenized (punctuation split off) unless --pretokenized; translate with
    `seqkit translate -m MODEL.npz`. Each epoch reports validation perplexity and BLEU (BLEU needs the
    `translate` extra) and is recorded in the model's metadata (`history`); with validation the model
    file holds the epoch with the best validation BLEU (perplexity without the extra)."""
    from seqkit_seq2seq.command import run_train

    given = click.get_current_context().get_parameter_source
    if options["freeze_vectors"] and options["vectors"] is None:
        raise click.UsageError("--freeze-vectors goes with -v (the vectors it keeps fixed)")
    if given("patience") == click.core.ParameterSource.COMMANDLINE and options["valid_src"] is None:
        raise click.UsageError("--patience goes with --valid-src and --valid-tgt")
    run_train(**options)


@click.command(short_help="Translate text with a seq2seq model (greedy or beam search).")
@click.argument("input_path", metavar="[FILE|-]", default="-")
@click.option("-m", "--model", required=True, metavar="MODEL.npz")
@click.option("--beam", type=click.IntRange(min=1), default=1, show_default=True, help="Beam width (1 = greedy).")
@click.option("--length-penalty", type=click.FloatRange(min=0), default=1.0, show_default=True,
              help="Rank finished hypotheses by log-probability / length^A (0: raw log-probability).")
@click.option("--max-length", type=click.IntRange(min=1), default=None,
              help="Most target tokens  [default: 2 x source length + 10, at most 1000].")
@click.option("--nbest", type=click.IntRange(min=1), default=1, show_default=True,
              help="Print this many hypotheses per line (line number, score, text; tab-separated) when > 1; "
                   "the beam is widened to at least this.")
@click.option("--attention-json", metavar="FILE", default=None,
              help="Write every sentence's tokens and attention weights as JSON lines.")
@errors_option
@quiet_option
def translate(**options) -> None:
    """Translate FILE (or stdin), one sentence per line, to stdout; each translation is written as soon as
    its line is read, so it can serve as a co-process."""
    from seqkit_seq2seq.command import run_translate

    run_translate(**options)


@click.command(short_help="BLEU as sacreBLEU computes it (corpus, or per sentence).")
@click.argument("reference", metavar="REF")
@click.argument("hypothesis", metavar="[HYP|-]", default="-")
@click.option("--ref", "more_references", multiple=True, metavar="FILE", help="A further reference (repeatable).")
@click.option("--sentence", is_flag=True, help="Sentence BLEU per line instead of corpus BLEU.")
@json_option
@errors_option
@quiet_option
def bleu(reference, hypothesis, more_references, sentence, as_json, errors, quiet) -> None:
    """Corpus BLEU of HYP against REF with sacreBLEU's defaults (13a tokenization, exponential smoothing,
    4-grams), then its signature line. Needs the `translate` extra (sacrebleu)."""
    from seqkit_seq2seq.bleu import run

    run(reference, hypothesis, more_references, sentence, as_json, errors)


@click.command(short_help="Train a CTC model on 'input tokens<TAB>output tokens' lines.")
@click.argument("train_path", metavar="TRAIN")
@click.option("-o", "--output", required=True, metavar="MODEL.npz")
@click.option("--valid", metavar="FILE", default=None, help="Validation lines (character error rate each epoch).")
@click.option("--cell", type=click.Choice(["rnn", "gru", "lstm"]), default="gru", show_default=True)
@click.option("--layers", type=click.IntRange(min=1), default=1, show_default=True)
@click.option("--embed", type=click.IntRange(min=1), default=32, show_default=True)
@click.option("--hidden", type=click.IntRange(min=1), default=64, show_default=True)
@click.option("--batch", type=click.IntRange(min=1), default=32, show_default=True)
@click.option("--epochs", type=click.IntRange(min=1), default=10, show_default=True)
@click.option("--lr", type=click.FloatRange(min=0, min_open=True), default=0.003, show_default=True)
@click.option("--clip", type=click.FloatRange(min=0), default=5.0, show_default=True)
@threads_option
@seed_option
@errors_option
@quiet_option
def ctc(**options) -> None:
    """Train a bidirectional recurrent encoder with a CTC output layer: each line maps input tokens to a
    shorter, unaligned sequence of output tokens."""
    from seqkit_seq2seq.ctc_command import run_train

    run_train(**options)


@click.command("ctc-decode", short_help="Decode with a CTC model (best path or prefix beam search).")
@click.argument("input_path", metavar="[FILE|-]", default="-")
@click.option("-m", "--model", required=True, metavar="MODEL.npz")
@click.option("--beam", type=click.IntRange(min=1), default=1, show_default=True,
              help="Prefix beam search width (1 = best path).")
@errors_option
@quiet_option
def ctc_decode(**options) -> None:
    """Print the output tokens for each line of input tokens, one line out per line in (a blank line for a
    blank line); text after a TAB is a reference, and the character error rate over the lines that have
    one is then reported on stderr. Answers are written as the input arrives, so it can serve as a
    co-process."""
    from seqkit_seq2seq.ctc_command import run_decode

    run_decode(**options)


class Seq2seqFormat:
    """seqkit seq2seq model files, recognised by the format their metadata names (for `seqkit plot attention`)."""

    name = "seq2seq-npz"

    def sniff(self, path: str) -> bool:
        from seqkit_seq2seq.modelfile import sniff

        return sniff(path, "seqkit-seq2seq")

    def load(self, path: str):
        from seqkit_seq2seq.command import TranslationModel

        return TranslationModel(path)


class BiRnnTrainer:
    """`seqkit classify --model birnn`: embeddings, a bidirectional recurrent encoder, pooling, softmax."""

    name = "birnn"
    help = ("a bidirectional GRU/LSTM/RNN over the words, max-pooled over time, then a softmax (single-label); "
            "--lr 0.001 (adam) or 0.1 (sgd), decayed linearly to 0, --epochs 5; --valid scores accuracy; the two "
            "directions run side by side (-t 2 is all it uses), with the same result as -t 1")
    params = [
        click.Option(["--cell"], type=click.Choice(["gru", "lstm", "rnn"]), default="gru", show_default=True),
        click.Option(["--hidden"], type=click.IntRange(min=1), default=150, show_default=True,
                     help="Hidden units per direction."),
        click.Option(["--layers"], type=click.IntRange(min=1), default=1, show_default=True,
                     help="Stacked bidirectional layers."),
        click.Option(["--pool"], type=click.Choice(["max", "last"]), default="max", show_default=True,
                     help="Sentence vector: each unit's maximum over the words, or the last forward and "
                          "backward states."),
        click.Option(["--dropout"], type=click.FloatRange(0, 1, max_open=True), default=0.5, show_default=True,
                     help="On the sentence vector, and between layers."),
        click.Option(["--optimizer"], type=click.Choice(["adam", "sgd"]), default="adam", show_default=True,
                     help="Adam (on the embedding: only the rows a batch used), or plain SGD."),
        click.Option(["--batch"], type=click.IntRange(min=1), default=64, show_default=True,
                     help="Lines per batch (of similar lengths)."),
        click.Option(["--clip"], type=click.FloatRange(min=0), default=5.0, show_default=True,
                     help="Clip the gradient to this global L2 norm (0 = off)."),
        click.Option(["--freeze-embeddings"], is_flag=True, help="Keep the -v embedding fixed."),
        click.Option(["--max-length"], type=click.IntRange(min=2), default=1000, show_default=True,
                     help="Train on at most this many tokens of a line (`</s>` included; longer lines are cut "
                          "and counted in a warning): a batch's memory grows with its longest line."),
    ]

    def train(self, **options) -> None:
        from seqkit_seq2seq.classifier_command import run

        run(**options)


class BiRnnClassifierFormat:
    """`seqkit classify --model birnn` model files, for `seqkit predict`, `test` and `sentence-vectors`."""

    name = "birnn-classifier-npz"

    def sniff(self, path: str) -> bool:
        from seqkit_seq2seq.classifier_model import sniff

        return sniff(path)

    def load(self, path: str):
        from seqkit_seq2seq.classifier_model import BiRnnClassifier

        return BiRnnClassifier(path)


def register(registry) -> None:
    for command in (seq2seq, translate, bleu, ctc, ctc_decode):
        registry.add_command(command)
    registry.add_translation_model(Seq2seqFormat())
    registry.add_classifier_trainer(BiRnnTrainer())
    registry.add_classifier(BiRnnClassifierFormat())
