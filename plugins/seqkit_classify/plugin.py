"""`seqkit classify` and the classifier model format (light imports only: kernels load when run).

`seqkit classify` trains whichever registered classifier trainer `--model` names (this plugin's bag of
n-grams, `bow`, registered like any other): it parses the options all trainers share
(`seqkit.plugins.CLASSIFIER_TRAINING_OPTIONS`) and those of every registered trainer, and refuses, as a
usage error, an option of a model other than the chosen one.
"""

from __future__ import annotations

import click
from click.core import ParameterSource

from seqkit.options import errors_option, quiet_option, seed_option, threads_option

name = "classify"
version = "0.1.0"
DEFAULT_MODEL = "bow"
GIVEN = (ParameterSource.COMMANDLINE, ParameterSource.ENVIRONMENT)


def _trainers() -> dict:
    from seqkit.plugins import load_registry

    return load_registry().classifier_trainers


class ClassifyCommand(click.Command):
    """The shared options, `--model` (choices: the registered trainers) and every trainer's own options,
    read from the registry when the command line is parsed or its help shown (entry points only, no
    kernels)."""

    _model_options: dict = {}

    def model_option(self, names: tuple[str, ...]) -> click.Option:
        if names not in self._model_options:  # one object per parse: click matches parameters by identity
            self._model_options[names] = click.Option(
                ["--model"], type=click.Choice(names), default=DEFAULT_MODEL, show_default=True,
                help="Which classifier to train (the options of each model are listed below).")
        return self._model_options[names]

    def get_params(self, ctx: click.Context) -> list[click.Parameter]:
        trainers = _trainers()
        params = [self.params[0], self.model_option(tuple(sorted(trainers))), *self.params[1:]]
        params += [p for trainer in trainers.values() for p in trainer.params]
        help_option = self.get_help_option(ctx)
        return params + ([help_option] if help_option is not None else [])

    def format_options(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        trainers = _trainers()
        own = {id(p) for trainer in trainers.values() for p in trainer.params}
        shared = [p for p in self.get_params(ctx) if isinstance(p, click.Option) and id(p) not in own]
        groups = [("Options", "", shared)]
        groups += [(f"Options of --model {n}", trainers[n].help, trainers[n].params) for n in sorted(trainers)]
        for title, about, params in groups:
            records = [record for p in params if (record := p.get_help_record(ctx)) is not None]
            with formatter.section(title):
                if about:
                    formatter.write_text(about + ".")
                if records:
                    formatter.write_dl(records)


@click.command(cls=ClassifyCommand, short_help="Train a text classifier: fastText's bag of n-grams, or another "
                                               "registered model (--model).")
@click.argument("train", nargs=-1, required=True, metavar="TRAIN...")
@click.option("-o", "--output", required=True, metavar="MODEL.npz", help="Model file (NumPy arrays + JSON metadata).")
@click.option("--valid", metavar="FILE", default=None,
              help="Labelled validation lines: scored after every epoch, and the best epoch's model is kept.")
@click.option("--patience", type=click.IntRange(min=1), default=5, show_default=True,
              help="With --valid: stop after this many epochs without a better validation score.")
@click.option("--label-prefix", default="__label__", show_default=True,
              help="Tokens starting with this are labels (anywhere on the line, one or more).")
@click.option("--dim", type=click.IntRange(min=1), default=100, show_default=True, help="Embedding size.")
@click.option("--lr", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Initial learning rate.  [default: the model's, below]")
@click.option("--epochs", type=click.IntRange(min=1), default=None,
              help="Passes over the data.  [default: the model's, below]")
@click.option("--min-count", type=click.IntRange(min=1), default=1, show_default=True,
              help="Rarer words are dropped (bow) or become <unk> (birnn).")
@click.option("-v", "--pretrained-vectors", metavar="VECS", default=None,
              help="Initialise word rows from a vector file (word2vec/fastText/GloVe text or binary, .skv); "
                   "its dimension must be --dim.")
@click.option("--json", "as_json", is_flag=True,
              help="With --autotune-validation: the search as JSON on stdout.")
@click.option("--strict", is_flag=True, help="A line without a label is an error naming it (default: skip and count).")
@threads_option
@seed_option
@errors_option
@quiet_option
def classify(**options) -> None:
    """Train a classifier on TRAIN (fastText's format: `__label__a __label__b words ...` per line; `-` is
    stdin; .gz/.bz2/.xz read as such) and write MODEL.npz.

    The default model (`--model bow`) is fastText's: the mean (or --pooling sqrt) of the embeddings of the
    words, hashed word n-grams (--word-ngrams) and character n-grams (--minn/--maxn) feeds a linear output
    layer; features are hashed exactly as fastText hashes them, `</s>` included. `--model birnn` is a
    bidirectional recurrent network. Use either model with `seqkit predict`, `seqkit test` and
    `seqkit sentence-vectors`.
    """
    ctx = click.get_current_context()
    trainers = _trainers()
    chosen = trainers[options.pop("model")]
    for trainer in trainers.values():
        if trainer is chosen:
            continue
        for param in trainer.params:
            if ctx.get_parameter_source(param.name) in GIVEN:
                raise click.UsageError(f"{param.opts[-1]} is an option of --model {trainer.name}; --model "
                                       f"{chosen.name} does not take it")
            options.pop(param.name, None)
    if not options["label_prefix"].strip():
        raise click.UsageError("--label-prefix must be a non-blank token start (fastText's is __label__)")
    if ctx.get_parameter_source("patience") in GIVEN and options["valid"] is None and \
            options.get("autotune_validation") is None:
        raise click.UsageError("--patience goes with --valid (or --autotune-validation)")
    if options.get("as_json") and options["output"] == "-":
        raise click.UsageError("--json and -o - would both write to stdout: give the model a file name")
    if options["output"].lower().endswith((".bin", ".ftz")):  # fastText would refuse the .npz it would hold
        raise click.UsageError(f"-o {options['output']}: classify writes seqkit's .npz (fastText's .bin "
                               "classifiers are read by predict and test, not written); name it .npz")
    chosen.train(**options)


class BagOfNgramsTrainer:
    """fastText's supervised model: `seqkit classify --model bow` (the default)."""

    name = "bow"
    help = ("fastText's bag of words and n-grams; --lr 0.1 (0.5 on small data; a tenth with --pooling sqrt), "
            "--epochs 5 (up to 25 on small data); --valid scores P@1")
    params = [
        click.Option(["--loss"], type=click.Choice(["softmax", "ns", "hs", "ova"]), default="softmax",
                     show_default=True,
                     help="Full softmax, negative sampling, hierarchical softmax (Huffman tree over label counts), "
                          "or one sigmoid per label (one-vs-all, for multi-label data)."),
        click.Option(["--word-ngrams"], type=click.IntRange(min=1), default=2, show_default=True,
                     help="Also hash word n-grams up to this length into --buckets (fastText's default is 1; word "
                          "pairs gain 3-5 points on the shared sentence sets)."),
        click.Option(["--buckets"], type=click.IntRange(min=1), default=2_000_000, show_default=True,
                     help="Hash buckets for word and character n-grams (only the used ones are stored)."),
        click.Option(["--minn"], type=click.IntRange(min=0), default=0, show_default=True,
                     help="Shortest character n-gram (0 = none)."),
        click.Option(["--maxn"], type=click.IntRange(min=0), default=0, show_default=True,
                     help="Longest character n-gram (0 = none)."),
        click.Option(["--pooling"], type=click.Choice(["mean", "sqrt"]), default="mean", show_default=True,
                     help="The hidden layer: the mean of the feature rows (fastText's), or their sum / sqrt(count), "
                          "which lets longer lines speak louder (sometimes better on phrases; fastText has only "
                          "the mean)."),
        click.Option(["--min-count-label"], type=click.IntRange(min=1), default=1, show_default=True,
                     help="Drop rarer labels."),
        click.Option(["--negative"], type=click.IntRange(min=1), default=5, show_default=True,
                     help="Negative labels per example with --loss ns."),
        click.Option(["--class-weight"], default=None, metavar="balanced|FILE",
                     help="Scale each label's updates: 'balanced' (n / (labels x count)) or a file of `label weight` "
                          "lines."),
        click.Option(["--autotune-validation"], metavar="FILE", default=None,
                     help="Search lr, dim, word n-grams, buckets, loss, character n-grams and pooling (epochs by "
                          "successive halving: many short runs, the best third run again with 3x the epochs) for "
                          "the best --autotune-metric on these labelled lines, then (--autotune-refit) cross-validate "
                          "the best configurations and train the winner on training and validation lines. Options "
                          "given (--lr, --dim, ...) are the first configuration; --epochs is the longest run; "
                          "--json prints the search on stdout."),
        click.Option(["--autotune-duration"], type=click.FloatRange(min=0, min_open=True), default=None,
                     metavar="SECONDS",
                     help="Time budget of the search (the first run always finishes).  [default: training tokens / "
                          "5,000, between 60 and 300 s (fastText: 300 s); none with --autotune-trials]"),
        click.Option(["--autotune-trials"], type=click.IntRange(min=1), default=None, metavar="N",
                     help="Budget as a number of training runs: reproducible with --threads 1 and --seed, whatever "
                          "the machine."),
        click.Option(["--autotune-metric"], default="f1", show_default=True,
                     metavar="f1|f1:LABEL|precision@K|recall@K",
                     help="What the search maximises on the validation lines (f1: micro F1 of the top label)."),
        click.Option(["--autotune-refit/--no-autotune-refit"], default=True, show_default=True,
                     help="End the search by comparing the default and its 4 best configurations by 3-fold "
                          "cross-validation over the training and validation lines together, and train the winner "
                          "on all of them (a quarter of the time budget). Without it, the best search run is saved "
                          "as it is."),
    ]

    def train(self, **options) -> None:
        minn, maxn = options["minn"], options["maxn"]
        if (minn == 0) != (maxn == 0) or minn > maxn:
            raise click.UsageError("--minn and --maxn go together, with 1 <= minn <= maxn (or both 0)")
        if options["autotune_validation"] is not None:
            if options["valid"] is not None or options["pretrained_vectors"] is not None:
                raise click.UsageError("--autotune-validation replaces --valid, and varies --dim (no --pretrained-vectors)")
            from seqkit_classify.autotune import run as tune

            tune(**{k: v for k, v in options.items() if k not in ("valid", "pretrained_vectors")})
            return
        ctx = click.get_current_context()
        given = [name for name in ("autotune_duration", "autotune_trials", "as_json", "autotune_metric",
                                   "autotune_refit") if ctx.get_parameter_source(name) in GIVEN]
        if given:
            refit = "autotune-refit" if options["autotune_refit"] else "no-autotune-refit"
            flag = {"as_json": "json", "autotune_refit": refit}.get(given[0], given[0].replace("_", "-"))
            raise click.UsageError(f"--{flag} goes with "
                                   "--autotune-validation (with --model bow)")
        from seqkit_classify.command import run

        run(**{k: v for k, v in options.items() if not k.startswith("autotune_") and k != "as_json"})


class ClassifierFormat:
    name = "classify-npz"

    def sniff(self, path: str) -> bool:
        from seqkit_classify.modelfile import sniff

        return sniff(path)

    def load(self, path: str):
        from seqkit_classify.model import BagOfNgramsClassifier

        return BagOfNgramsClassifier(path)


def register(registry) -> None:
    registry.add_command(classify)
    registry.add_classifier_trainer(BagOfNgramsTrainer())
    registry.add_classifier(ClassifierFormat())
