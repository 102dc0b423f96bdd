"""What `seqkit ctc` and `seqkit ctc-decode` do: lines of `input tokens<TAB>output tokens`."""

from __future__ import annotations

import math
import os

import numpy as np

from seqkit.errors import DataError, SeqkitError, TrainingDiverged
from seqkit.progress import Reporter
from seqkit.textio import check_output_path, text_lines

FORMAT = "seqkit-ctc"


def _read(path: str, errors: str) -> list[tuple[list[str], list[str]]]:
    """The training (or validation) pairs of `path`: every non-blank line needs both columns."""
    rows = []
    for number, line in enumerate(text_lines(path, errors), 1):
        if not line.strip():
            continue
        inputs, outputs = _fields(line)
        if outputs is None:
            raise DataError("expected 'input tokens<TAB>output tokens'", path, number)
        rows.append((inputs, outputs))
    if not rows:
        raise SeqkitError(f"{path}: no lines")
    return rows


def _cer(model, rows, beam: int) -> float:
    errors = total = 0
    for (inputs, reference), hyp in zip(rows, model.decode([r[0] for r in rows], beam)):
        from seqkit_seq2seq.ctc import edit_distance

        errors += edit_distance(hyp, reference)
        total += len(reference)
    return 100.0 * errors / max(total, 1)


class CtcModel:
    def __init__(self, params, meta):
        from seqkit_seq2seq.ctc import CtcNetwork

        self.params, self.meta = params, meta
        self.inputs, self.outputs = meta["inputs"], meta["outputs"]
        self.index = {w: i for i, w in enumerate(self.inputs)}
        self.cell, self.layers = meta["cell"], meta["layers"]
        self._network = lambda batch, steps: CtcNetwork(self.cell, self.layers, params, batch=batch, max_steps=steps)

    def decode(self, sentences: list[list[str]], beam: int = 1) -> list[list[str]]:
        from seqkit_seq2seq.ctc import best_path, prefix_beam_search

        results = []
        for words in sentences:
            ids = np.array([[self.index.get(w, 1)] for w in words] or [[1]], dtype=np.int64)
            logprobs = self._network(1, len(ids)).logprobs(ids, np.array([len(ids)]))[:, 0]
            labels = best_path(logprobs) if beam == 1 else prefix_beam_search(logprobs, beam)
            results.append([self.outputs[k] for k in labels])
        return results


def _fields(line: str) -> tuple[list[str], list[str] | None]:
    """(input tokens, output tokens or None) of an `input tokens<TAB>output tokens` line."""
    left, tab, right = line.rstrip("\r\n").partition("\t")
    return left.split(), right.split() if tab else None


def alignable(inputs: list[str], outputs: list[str]) -> bool:
    """Whether CTC can emit `outputs` from `inputs`: a step per output token, and a blank between repeats."""
    return len(inputs) >= len(outputs) + sum(a == b for a, b in zip(outputs, outputs[1:]))


def run_train(*, train_path, output, valid, cell, layers, embed, hidden, batch, epochs, lr, clip, threads, seed,
              errors, quiet) -> None:
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    from seqkit.recurrent.blas import single_threaded_blas
    from seqkit.recurrent.pool import Pool
    from seqkit_seq2seq import modelfile
    from seqkit_seq2seq.ctc import CtcNetwork, init_ctc_params
    from seqkit_seq2seq.train import DIVERGED_NATS, Adam

    reporter = Reporter(quiet)
    check_output_path(output, (train_path, valid), model=True)
    rows = _read(train_path, errors)
    kept = [r for r in rows if alignable(*r)]
    if len(kept) < len(rows):
        reporter.warn(f"{train_path}: {len(rows) - len(kept):,} of {len(rows):,} lines have more output tokens "
                      "than CTC can align with their input (one input step per output token, and one more "
                      "between repeats); they are not trained on")
    if not kept:
        raise DataError("no line has an output CTC can align with its input", train_path)
    rows = kept
    inputs = ["<pad>", "<unk>"] + sorted({w for r in rows for w in r[0]})
    outputs = ["<blank>"] + sorted({w for r in rows for w in r[1]})
    in_index, out_index = {w: i for i, w in enumerate(inputs)}, {w: i for i, w in enumerate(outputs)}
    valid_rows = _read(valid, errors) if valid else None
    rng = np.random.default_rng(seed)
    params = init_ctc_params(cell, layers, len(inputs), len(outputs), embed, hidden, rng)
    meta = {"cell": cell, "layers": layers, "inputs": inputs, "outputs": outputs, "history": []}
    adam = Adam(params)
    max_steps = max(len(r[0]) for r in rows)
    step = 0
    # divergence is checked for (a non-finite loss or parameter), so overflow needs no warning
    with single_threaded_blas(), Pool(threads) as pool, np.errstate(over="ignore", invalid="ignore"):
        network = CtcNetwork(cell, layers, params, batch=batch, max_steps=max_steps, pool=pool)
        for epoch in range(1, epochs + 1):
            order = rng.permutation(len(rows))
            total = 0.0
            for start in range(0, len(order), batch):
                chosen = list(order[start:start + batch])
                lengths = np.array([len(rows[i][0]) for i in chosen] + [1] * (batch - len(chosen)), dtype=np.int64)
                x = np.zeros((int(lengths.max()), batch), np.int64)
                labels = []
                for b, i in enumerate(chosen):
                    x[:lengths[b], b] = [in_index[w] for w in rows[i][0]]
                    labels.append(np.array([out_index[w] for w in rows[i][1]], dtype=np.int64))
                labels += [None] * (batch - len(chosen))
                loss, grads = network.loss_and_backward(x, lengths, labels)
                if not math.isfinite(loss) or loss > DIVERGED_NATS * int(lengths[:len(chosen)].sum()):
                    raise TrainingDiverged(f"the loss became {loss:.4g} in epoch {epoch}; "
                                           + TrainingDiverged.remedy(clip))
                norm = math.sqrt(sum(float(np.vdot(g, g)) for g in grads.values()))
                step += 1
                adam.step(params, grads, lr, step, clip / norm if clip and norm > clip else 1.0)
                total += loss
            if not all(np.isfinite(value).all() for value in params.values()):
                raise TrainingDiverged(f"the parameters became non-finite in epoch {epoch}; "
                                       + TrainingDiverged.remedy(clip))
            record = {"epoch": epoch, "loss": total / len(rows)}
            message = f"epoch {epoch}: CTC loss {record['loss']:.3f}"
            if valid_rows:
                record["valid_cer"] = _cer(CtcModel(params, meta), valid_rows, 1)
                message += f", valid CER {record['valid_cer']:.2f}%"
            meta["history"].append(record)
            reporter.info(message)
            modelfile.save(output, FORMAT, params, meta)
    reporter.summary(f"ctc: {epochs} epochs, {message.split(': ', 1)[1]} -> {output}")


def run_decode(*, input_path, model, beam, errors, quiet) -> None:
    """One line out per line in (a blank line for a blank line), a block at a time, so the output stays
    aligned with the input and a co-process gets its answers as its lines arrive; the CER over the lines
    that hold a reference."""
    import click

    from seqkit.textio import line_blocks
    from seqkit_seq2seq import modelfile
    from seqkit_seq2seq.ctc import edit_distance

    params, meta, _ = modelfile.load(model, FORMAT)
    ctc = CtcModel(params, meta)
    lines = wrong = reference_tokens = scored = unscored = 0
    for block in line_blocks(input_path, errors):
        rows = [_fields(line) for line in block]
        spoken = [i for i, (inputs, _) in enumerate(rows) if inputs]
        hyps: list[list[str]] = [[] for _ in rows]
        for i, hyp in zip(spoken, ctc.decode([rows[i][0] for i in spoken], beam)):
            hyps[i] = hyp
        click.echo("\n".join(" ".join(hyp) for hyp in hyps))
        for i in spoken:
            reference = rows[i][1]
            if reference is None:
                unscored += 1
            else:
                wrong += edit_distance(hyps[i], reference)
                reference_tokens += len(reference)
                scored += 1
        lines += len(rows)
    if reference_tokens:  # an empty input decodes to nothing, as translate
        without = f" ({unscored:,} lines without one not scored)" if unscored else ""
        Reporter(quiet).info(f"CER {100.0 * wrong / reference_tokens:.2f}% over {scored:,} lines with a "
                             f"reference{without}")
