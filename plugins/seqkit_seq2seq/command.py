"""What `seqkit seq2seq` and `seqkit translate` do (imported only when they run)."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile

import numpy as np

from seqkit.errors import DataError, SeqkitError
from seqkit.interrupts import deferred_interrupt
from seqkit.progress import Reporter
from seqkit.textio import atomic_output, check_output_path, text_lines

FORMAT = "seqkit-seq2seq"


def _read_lines(path: str, errors: str) -> list[str]:
    return [line.rstrip("\r\n") for line in text_lines(path, errors)]


def _encode(lines: list[list[str]], index: dict[str, int], unk: int) -> tuple[np.ndarray, np.ndarray]:
    offsets = np.zeros(len(lines) + 1, np.int64)
    offsets[1:] = np.cumsum([len(words) for words in lines])
    ids = np.fromiter((index.get(w, unk) for words in lines for w in words), np.int64, count=int(offsets[-1]))
    return ids, offsets


def _vocabulary(token_lines: list[list[str]], min_count: int, specials: tuple[str, ...]) -> list[str]:
    """The core's vocabulary builder over the tokenized lines (written to a temporary file)."""
    from seqkit.vocabulary import count_words

    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "tokens.txt")
        with open(path, "w", encoding="utf-8") as out:
            out.writelines(" ".join(words) + "\n" for words in token_lines)
        vocabulary, _ = count_words([path], specials=specials, min_count=min_count, max_sentence_len=1 << 40)
    return list(vocabulary.words)


def _pairs(src_lines, tgt_lines, src_index, tgt_index, max_length: int | None):
    from seqkit_seq2seq.network import UNK
    from seqkit_seq2seq.text import Pairs

    keep = [i for i, (s, t) in enumerate(zip(src_lines, tgt_lines))
            if s and t and (max_length is None or max(len(s), len(t)) <= max_length)]
    src_ids, src_off = _encode([src_lines[i] for i in keep], src_index, UNK)
    tgt_ids, tgt_off = _encode([tgt_lines[i] for i in keep], tgt_index, UNK)
    return Pairs(src_ids, src_off, tgt_ids, tgt_off), len(src_lines) - len(keep)


def _parallel(src_path: str, tgt_path: str, tok: dict, errors: str):
    from seqkit_seq2seq.text import tokenize

    src_raw, tgt_raw = _read_lines(src_path, errors), _read_lines(tgt_path, errors)
    if len(src_raw) != len(tgt_raw):
        raise DataError(f"{len(src_raw)} lines but {tgt_path} has {len(tgt_raw)}", src_path,
                        min(len(src_raw), len(tgt_raw)) + 1)
    src_lines, tgt_lines = [tokenize(line, **tok) for line in src_raw], [tokenize(line, **tok) for line in tgt_raw]
    for path, lines in ((src_path, src_lines), (tgt_path, tgt_lines)):
        if not any(lines):
            raise DataError("no sentences (every line is empty)" if lines else "an empty file", path)
    return src_lines, tgt_lines, tgt_raw


def run_train(*, source, target, output, valid_src, valid_tgt, cell, layers, decoder_layers, embed, hidden,
              attention, attn_size, dropout, teacher_forcing, batch, epochs, patience, lr, clip, min_count,
              max_length, lowercase, pretokenized, vectors, freeze_vectors, init_scale, resume, threads, seed, errors,
              quiet) -> None:
    import click

    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    from seqkit.recurrent.blas import single_threaded_blas
    from seqkit_seq2seq import modelfile
    from seqkit_seq2seq.network import SPECIALS, Config, init_params
    from seqkit_seq2seq.train import Progress, Schedule, train

    if (valid_src is None) != (valid_tgt is None):
        raise click.UsageError("--valid-src and --valid-tgt go together")
    if [source, target, valid_src, valid_tgt].count("-") > 1:
        raise click.UsageError("only one of the parallel files can be stdin ('-'): each side is read whole")
    reporter = Reporter(quiet)
    check_output_path(output, (source, target, valid_src, valid_tgt, vectors), model=True)
    optimizer_state: dict = {}
    best = None
    if resume:
        if not os.path.exists(output):
            raise SeqkitError(f"--resume: {output} does not exist")
        params, meta, optimizer_state = modelfile.load(output, FORMAT, with_optimizer=True, latest=True)
        params = {k: np.array(v) for k, v in params.items()}
        config, tok = Config(**meta["config"]), meta["tokenizer"]
        source_of = click.get_current_context().get_parameter_source
        given = dict(cell=cell, layers=layers, decoder_layers=decoder_layers, embed=embed, hidden=hidden,
                     attention=attention, attn_size=attn_size, dropout=dropout, init_scale=init_scale)
        for name, value in given.items():  # the saved network goes on: a different size would be ignored
            saved_value = getattr(config, name)
            if source_of(name) == click.core.ParameterSource.COMMANDLINE and value != saved_value:
                raise click.UsageError(f"--resume goes on with {output}'s network: --{name.replace('_', '-')} "
                                       f"{value} differs from its {saved_value}")
        src_vocab, tgt_vocab = meta["src_vocab"], meta["tgt_vocab"]
        schedule = Schedule(**meta["training"]["schedule"])
        schedule.epochs = max(schedule.epochs, epochs)
        saved = meta["training"]["progress"]
        progress = Progress.from_json(saved)
        if "best_bleu_ppl" not in saved:  # a checkpoint from before the tie-break kept it: take it from the history
            record = next((h for h in progress.history if h.get("epoch") == progress.best_epoch), {})
            progress.best_bleu_ppl = record.get("valid_ppl", float("inf"))
        if modelfile.has_latest(output, FORMAT):  # the file's model is an earlier, better epoch: keep it
            best = {k: np.array(v) for k, v in modelfile.load(output, FORMAT)[0].items()}
        elif progress.best_epoch:  # the best epoch is the one resumed from
            best = {k: v.copy() for k, v in params.items()}
        if progress.batch:
            reporter.info(f"resuming epoch {progress.epoch + 1} after batch {progress.batch}")
        src_lines, tgt_lines, _ = _parallel(source, target, tok, errors)
    else:
        tok = {"lowercase": lowercase, "pretokenized": pretokenized}
        src_lines, tgt_lines, _ = _parallel(source, target, tok, errors)
        src_vocab = _vocabulary(src_lines, min_count, SPECIALS)
        tgt_vocab = _vocabulary(tgt_lines, min_count, SPECIALS)
        table = None
        if vectors:
            from seqkit.vectors import Embeddings

            table = Embeddings.load(vectors, errors=errors, reporter=reporter)
            ctx = click.get_current_context(silent=True)
            given = ctx is not None and ctx.get_parameter_source("embed") == click.core.ParameterSource.COMMANDLINE
            if given and embed != table.dim:
                raise click.BadParameter(f"{embed}, but the -v vectors have dimension {table.dim} (leave --embed out: "
                                         "it follows -v)", param_hint="'--embed'")
            embed = table.dim
        config = Config(cell=cell, layers=layers, decoder_layers=decoder_layers, embed=embed, hidden=hidden, attention=attention,
                        attn_size=attn_size, dropout=dropout, init_scale=init_scale)
        params = init_params(config, len(src_vocab), len(tgt_vocab), np.random.default_rng(seed))
        if table is not None:
            found = [(i, table.row(w)) for i, w in enumerate(src_vocab) if table.row(w) is not None]
            for i, row in found:
                params["src_embed"][i] = table.vector(table.word_at(row))
            reporter.info(f"-v: {len(found):,} of {len(src_vocab):,} source words have vectors")
        schedule = Schedule(lr=lr, clip=clip, epochs=epochs, batch=batch, teacher_forcing=teacher_forcing, seed=seed,
                            freeze=["src_embed"] if vectors and freeze_vectors else [], patience=patience)
        progress = Progress()
    src_index = {w: i for i, w in enumerate(src_vocab)}
    tgt_index = {w: i for i, w in enumerate(tgt_vocab)}
    pairs, skipped = _pairs(src_lines, tgt_lines, src_index, tgt_index, max_length)
    if len(pairs) == 0:
        raise SeqkitError(f"no training pairs left of {len(src_lines):,} (empty sides or longer than --max-length)")
    began_on = meta["training"].get("train_pairs") if resume else None
    if began_on is not None and began_on != len(pairs):  # words the saved vocabularies lack become <unk>
        reporter.warn(f"--resume: the training text has {len(pairs):,} pairs, but the run in {output} began on "
                      f"{began_on:,}: it goes on with another text, read with the saved vocabularies")
    valid = bleu_of = None
    if valid_src:
        v_src, v_tgt, v_raw = _parallel(valid_src, valid_tgt, tok, errors)
        valid, _ = _pairs(v_src, v_tgt, src_index, tgt_index, None)
        references = [line.lower() if tok["lowercase"] else line for line in v_raw]
        bleu_of = _validation_bleu(config, v_src, references, src_index, tgt_vocab, reporter)
    reporter.info(f"seq2seq: {len(pairs):,} pairs ({skipped:,} skipped), {len(src_vocab):,} source and "
                  f"{len(tgt_vocab):,} target words, {config.layers}-layer bidirectional {config.cell} {config.hidden}, "
                  f"{sum(v.size for v in params.values()):,} parameters")

    def save(params, optimizer, progress, best) -> None:
        """The file's model is `best` when given (the best-validation epoch), with `params` beside it for
        --resume; else `params` alone."""
        meta = {"config": config.as_dict(), "tokenizer": tok, "src_vocab": src_vocab, "tgt_vocab": tgt_vocab,
                "history": progress.history,
                "training": {"schedule": schedule.as_dict(), "train_pairs": len(pairs),
                             "progress": progress.as_json()}}
        if best is None:
            modelfile.save(output, FORMAT, params, meta, optimizer)
        else:
            modelfile.save(output, FORMAT, best, meta, optimizer, latest=params)

    save.path = output
    with single_threaded_blas(), deferred_interrupt() as interrupted:
        progress = train(params=params, config=config, schedule=schedule, pairs=pairs, valid=valid, save=save,
                         bleu_of=bleu_of, reporter=reporter, progress=progress, optimizer_state=optimizer_state,
                         interrupted=interrupted, threads=threads, best=best)
    epochs_run = [h for h in progress.history if "epoch" in h]
    last = epochs_run[-1]
    figures = ", ".join(f"{k} {v:.2f}" for k, v in last.items() if k in ("train_ppl", "valid_ppl", "valid_bleu"))
    kept = ""
    if progress.best_epoch:
        chosen = epochs_run[[h["epoch"] for h in epochs_run].index(progress.best_epoch)]
        kept = (f"; kept epoch {progress.best_epoch} (best valid BLEU {chosen['valid_bleu']:.2f})"
                if "valid_bleu" in chosen else
                f"; kept epoch {progress.best_epoch} (best valid ppl {chosen['valid_ppl']:.2f}, no BLEU)")
    reporter.summary(f"seq2seq: {progress.epoch} epochs, {figures}, {last['tokens_per_s']:,.0f} tokens/s{kept} "
                     f"-> {output}")


def _validation_bleu(config, src_lines, references, src_index, tgt_vocab, reporter):
    from seqkit_seq2seq.bleu import corpus_bleu
    from seqkit_seq2seq.decode import Translator
    from seqkit_seq2seq.network import UNK
    from seqkit_seq2seq.text import detokenize

    try:
        import sacrebleu  # noqa: F401
    except ImportError:
        reporter.warn("no validation BLEU: pip install 'seqkit[translate]' (sacrebleu)")
        return lambda params: None

    def bleu_of(params) -> float:
        translator = Translator(config, params)
        hyps = [detokenize([tgt_vocab[i] for i in translator.greedy([src_index.get(w, UNK) for w in words],
                                                                   2 * len(words) + 10)[0]])
                for words in src_lines]
        return corpus_bleu(hyps, [references])[0].score

    return bleu_of


def load_translator(path: str):
    from seqkit_seq2seq import modelfile
    from seqkit_seq2seq.decode import Translator
    from seqkit_seq2seq.network import Config

    params, meta, _ = modelfile.load(path, FORMAT)
    try:
        config = Config(**meta["config"])
        vocabs = meta["src_vocab"], meta["tgt_vocab"]
        tok = meta["tokenizer"]
    except (KeyError, TypeError) as exc:
        raise DataError(f"bad metadata: {exc}", path) from None
    if params["src_embed"].shape[0] != len(vocabs[0]) or params["Wout"].shape[1] != len(vocabs[1]):
        raise DataError("embedding rows do not match the vocabularies", path)
    return Translator(config, params), vocabs[0], vocabs[1], tok


DEFAULT_LENGTH_CAP = 1000  # target tokens without --max-length: decoding is quadratic in the length


def run_translate(*, input_path, model, beam, length_penalty, max_length, nbest, attention_json, errors,
                  quiet) -> None:
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    from seqkit_seq2seq.network import UNK
    from seqkit_seq2seq.text import detokenize, tokenize

    reporter = Reporter(quiet)
    if attention_json == "-":
        import click

        raise click.UsageError("--attention-json -: stdout holds the translations; give the weights a file")
    if attention_json:
        check_output_path(attention_json, (input_path, model), param_hint="'--attention-json'")
    translator, src_vocab, tgt_vocab, tok = load_translator(model)
    index = {w: i for i, w in enumerate(src_vocab)}
    # read and answered a line at a time (each flushed), so a co-process gets its answer at once
    lines = (line.rstrip("\r\n") for line in text_lines(input_path, errors))
    attention_out = atomic_output(attention_json) if attention_json else contextlib.nullcontext()
    number = 0
    with attention_out as attn, np.errstate(over="ignore"):
        for number, line in enumerate(lines, 1):
            words = tokenize(line, **tok)
            if not words:  # an empty line stays empty, so outputs keep lining up with their sources
                print(f"{number}\t0.0000\t" if nbest > 1 else "", flush=True)
                if attn is not None:
                    attn.write(json.dumps({"line": number, "source": [], "target": [], "weights": []}) + "\n")
                continue
            ids = [index.get(w, UNK) for w in words]
            limit = max_length or min(2 * len(words) + 10, DEFAULT_LENGTH_CAP)
            if beam == 1 and nbest == 1:
                out, score, weights = translator.greedy(ids, limit)
                results = [(out, score)]
            else:
                results = translator.beam(ids, max(beam, nbest), limit, length_penalty, nbest)
            for out, score in results:
                text = detokenize([tgt_vocab[i] for i in out])
                print(f"{number}\t{score:.4f}\t{text}" if nbest > 1 else text, flush=True)
            if attn is not None:
                out = results[0][0]
                src_tokens, tgt_tokens, weights = translator_attention(translator, ids, out, words, tgt_vocab)
                attn.write(json.dumps({"line": number, "source": src_tokens, "target": tgt_tokens,
                                       "weights": np.round(weights.astype(np.float64), 5).tolist()}) + "\n")
    reporter.summary(f"translate: {number:,} lines")


def translator_attention(translator, ids, out, words, tgt_vocab):
    """The attention weights [len(out) + 1, len(ids)] while the decoder reads `out` (forced) then </s>."""
    from seqkit_seq2seq.network import BOS

    enc, keys, state = translator.encode(ids)
    rows, token = [], BOS
    for next_token in list(out) + [None]:
        _, state, weights = translator.step(np.array([token]), state, enc, keys)
        rows.append(weights[0])
        token = next_token
    return words, [tgt_vocab[i] for i in out] + ["</s>"], np.array(rows)


class TranslationModel:
    """A loaded model for other code (a plot plugin's `--attention`): `translate` and `attention`."""

    def __init__(self, path: str):
        self.translator, self.src_vocab, self.tgt_vocab, self.tokenizer = load_translator(path)
        self.index = {w: i for i, w in enumerate(self.src_vocab)}

    def _ids(self, source: str) -> tuple[list[str], list[int]]:
        from seqkit_seq2seq.network import UNK
        from seqkit_seq2seq.text import tokenize

        words = tokenize(source, **self.tokenizer)
        return words, [self.index.get(w, UNK) for w in words]

    def translate(self, source: str, beam: int = 1, length_penalty: float = 1.0) -> str:
        from seqkit_seq2seq.text import detokenize

        words, ids = self._ids(source)
        out = self.translator.beam(ids, beam, 2 * len(words) + 10, length_penalty)[0][0]
        return detokenize([self.tgt_vocab[i] for i in out])

    def attention(self, source: str) -> tuple[list[str], list[str], np.ndarray]:
        """(source tokens, target tokens ending in </s>, weights [target, source]) of the greedy translation."""
        words, ids = self._ids(source)
        out = self.translator.greedy(ids, 2 * len(words) + 10)[0]
        return translator_attention(self.translator, ids, out, words, self.tgt_vocab)
