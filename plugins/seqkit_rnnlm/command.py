"""What `seqkit rnnlm` does (imported only when the command runs)."""

from __future__ import annotations

import os

import click

from seqkit.errors import SeqkitError
from seqkit.progress import Reporter
from seqkit.textio import check_output_path


def _resumed_schedule(config, schedule, given: dict, epochs: int, output: str):
    """The saved run's schedule, with --epochs if given (to train longer); any other option given on the
    command line must equal the saved one, since a resumed run goes on with the saved network and schedule."""
    from dataclasses import replace

    source = click.get_current_context().get_parameter_source
    saved = {**vars(config), **vars(schedule), "lr_decay": schedule.decay}
    for name, value in given.items():
        if source(name) == click.core.ParameterSource.COMMANDLINE and saved.get(name, value) != value:
            raise click.UsageError(f"--resume goes on with {output}'s settings: --{name.replace('_', '-')} "
                                   f"{value} differs from its {saved[name]}")
    if source("epochs") == click.core.ParameterSource.COMMANDLINE:
        return replace(schedule, epochs=epochs)
    return schedule


def read_ids(paths: list[str], index: dict[str, int] | None, errors: str):
    """Token ids (int64) with `</s>` after every line, and the vocabulary's index. With `index=None` the
    vocabulary is the text's words plus `</s>` and `<unk>`, in alphabetical order; otherwise words
    outside `index` become `<unk>`."""
    import numpy as np

    from seqkit.encoded import with_end_marks
    from seqkit.vocabulary import Vocabulary, count_words, read_corpus

    whole_lines = 1 << 62  # a line is one sequence however long: the model carries state across lines anyway
    if index is None:
        counted, _ = count_words(paths, specials=("</s>", "<unk>"), errors=errors, max_sentence_len=whole_lines)
        index = {word: i for i, word in enumerate(sorted(counted.words))}
    vocabulary = Vocabulary(sorted(index, key=index.get), np.zeros(len(index), dtype=np.int64))
    _, _, corpus = read_corpus(paths, vocabulary=vocabulary, unknown="<unk>", errors=errors,
                               max_sentence_len=whole_lines, in_memory=True)
    ids, _ = with_end_marks(corpus.ids, corpus.offsets, index["</s>"])
    return ids.astype(np.int64), index


def run(*, corpus, output, valid, cell, layers, embed, hidden, tied, dropout, bptt, batch, epochs, optimizer, lr,
        lr_decay, decay_start, clip, init_scale, forget_bias, patience, resume, threads, seed, errors, quiet) -> None:
    # The network runs its own `threads` threads, each calling single-threaded BLAS (see blas.py); the
    # variable spares OpenBLAS starting threads that would only be switched off again.
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    from seqkit.recurrent.blas import single_threaded_blas
    from seqkit_rnnlm import modelfile
    from seqkit_rnnlm.network import Config
    from seqkit_rnnlm.train import Schedule, train

    reporter = Reporter(quiet)
    if output == "-":
        raise click.UsageError("-o -: the model is saved after every epoch (and resumed from), so name a file")
    check_output_path(output, (*corpus, valid), model=True)
    if resume:
        if not os.path.exists(output):
            raise SeqkitError(f"--resume: {output} does not exist")
        _, vocab, config, training, _ = modelfile.load(output)
        index = {w: i for i, w in enumerate(vocab)}
        train_ids, _ = read_ids(list(corpus), index, errors)  # one pass: stdin and pipes read as they come
        began_on = training.get("train_tokens")
        if began_on is not None and began_on != len(train_ids):  # words the saved vocabulary lacks become <unk>
            reporter.warn(f"--resume: the training text has {len(train_ids):,} tokens, but the run in {output} began "
                          f"on {began_on:,}: it goes on with another text, read with the saved vocabulary")
        schedule = Schedule(**training["schedule"])
        given = dict(cell=cell, layers=layers, embed=embed, hidden=hidden, tied=tied, dropout=dropout,
                     init_scale=init_scale, forget_bias=forget_bias, optimizer=optimizer, lr=lr, lr_decay=lr_decay,
                     decay_start=decay_start, clip=clip, batch=batch, bptt=bptt, seed=seed, patience=patience)
        schedule = _resumed_schedule(config, schedule, given, epochs, output)
        done = training.get("progress", {}).get("epoch", 0)
        if schedule.epochs <= done and not training.get("progress", {}).get("batch", 0):
            raise click.UsageError(f"--resume: {output} has finished its {done} epochs; give --epochs above "
                                   f"{done} to train longer")
    else:
        from seqkit.corpus import materialize_stdin

        corpus = materialize_stdin(list(corpus), reporter)  # read twice: counted, then encoded
        train_ids, index = read_ids(corpus, None, errors)
        vocab = sorted(index, key=index.get)
        config = Config(cell=cell, layers=layers, embed=embed, hidden=hidden, tied=tied, dropout=dropout,
                        init_scale=init_scale, forget_bias=forget_bias)
        schedule = Schedule(optimizer=optimizer, lr=lr or (1.0 if optimizer == "sgd" else 0.001), decay=lr_decay,
                            decay_start=decay_start, clip=clip, epochs=epochs, batch=batch, bptt=bptt, seed=seed,
                            patience=patience)
    # the text is cut into --batch columns of at least two tokens (an input and its target), for training
    # and, as in Zaremba et al., for validation too
    if len(train_ids) < 2 * schedule.batch + 1:
        raise SeqkitError(f"the corpus has {len(train_ids):,} tokens (`</s>` included); --batch {schedule.batch} "
                          f"needs at least {2 * schedule.batch + 1:,}")
    valid_ids = read_ids([valid], index, errors)[0] if valid else None
    if valid_ids is not None and len(valid_ids) <= 2 * schedule.batch:
        raise SeqkitError(f"{valid}: {len(valid_ids):,} tokens (`</s>` included); validation reads it in --batch "
                          f"{schedule.batch} columns, which need at least {2 * schedule.batch + 1:,}")
    from seqkit_rnnlm.network import GATES

    gates, H = GATES[config.cell], config.hidden
    n_params = len(vocab) * config.embed + len(vocab) * (1 + (0 if config.tied else H)) + sum(
        ((config.embed if layer == 0 else H) + H + 2) * gates * H for layer in range(config.layers))
    reporter.info(f"rnnlm: {len(vocab):,} words, {len(train_ids):,} training tokens, {config.layers}-layer "
                  f"{config.cell} {H}: {n_params:,} parameters (~{n_params * 4 * 4 / 2**20:.0f} MiB with "
                  "gradients and optimizer state)")
    with single_threaded_blas():
        progress = train(train_ids=train_ids, valid_ids=valid_ids, vocab=vocab, config=config, schedule=schedule,
                         output=output, reporter=reporter, resume=resume, threads=threads)
    epochs_done = [h for h in progress.history if "epoch" in h]
    last = epochs_done[-1] if epochs_done else {}
    figures = f"train ppl {last.get('train_ppl', float('nan')):.2f}"
    if "valid_ppl" in last:
        figures += f", valid ppl {last['valid_ppl']:.2f} (best {progress.best_valid:.2f})"
    reporter.summary(f"rnnlm: {progress.epoch} epochs, {figures}, {last.get('tokens_per_s', 0):,.0f} tokens/s "
                     f"-> {output}")
