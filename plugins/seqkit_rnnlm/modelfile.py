"""The rnnlm model file: `.npz` arrays plus a JSON metadata entry; loading it can never run code.

The file holds the parameters, the vocabulary and the configuration, and, for `--resume`, the optimizer
state, training progress and, for a checkpoint taken in the middle of an epoch, the hidden state carried
between segments. With validation, the parameters are those of the best epoch; when training
has gone on past it, the latest parameters (what `--resume` continues from) are stored beside them. Loading validates the format, version, names and shapes against the
metadata before trusting anything.
"""

from __future__ import annotations

import zipfile

import numpy as np

from seqkit import modelfile
from seqkit.errors import DataError
from seqkit_rnnlm.network import GATES, Config

FORMAT = "seqkit-rnnlm"
VERSION = 1


def save(path: str, params: dict[str, np.ndarray], vocab: list[str], config: Config, training: dict,
         optimizer: dict[str, np.ndarray] | None = None, latest: dict[str, np.ndarray] | None = None,
         carry: list[tuple[np.ndarray, ...]] | None = None) -> None:
    """Write everything atomically (a crash mid-write leaves the previous file intact). `params` is the
    model that scoring uses; `latest`, if given, the parameters that --resume continues from; `carry`,
    the recurrent state (per layer: h, or h and c) that the interrupted epoch goes on from."""
    meta = {"format": FORMAT, "version": VERSION, "config": config.as_dict(), "vocab": vocab,
            "training": training, "params": {k: list(v.shape) for k, v in params.items()}}
    arrays = {f"param/{k}": v for k, v in params.items()}
    for k, v in (optimizer or {}).items():
        arrays[f"opt/{k}"] = v
    if latest is not None:
        if {k: v.shape for k, v in latest.items()} != {k: v.shape for k, v in params.items()}:
            raise ValueError("the latest parameters must have the model's names and shapes")
        for k, v in latest.items():
            arrays[f"latest/{k}"] = v
    for layer, parts in enumerate(carry or []):
        for part, value in enumerate(parts):
            arrays[f"carry/{layer}/{part}"] = value
    modelfile.save(path, meta, arrays)


def sniff(path: str) -> bool:
    """Whether `path` is a zip whose JSON metadata names this format (whatever the file is called)."""
    return modelfile.sniff(path, FORMAT)


def has_latest(path: str) -> bool:
    """Whether the file keeps resume parameters apart from its (best-validation) model."""
    try:
        with zipfile.ZipFile(path) as archive:
            return any(name.startswith("latest/") for name in archive.namelist())
    except (OSError, zipfile.BadZipFile):
        return False


def load_carry(path: str) -> list[tuple[np.ndarray, ...]]:
    """The recurrent state saved by a checkpoint taken in the middle of an epoch."""
    with np.load(path, allow_pickle=False) as archive:
        keys = sorted((tuple(int(i) for i in name.split("/")[1:]), name) for name in archive.files
                      if name.startswith("carry/"))
        if not keys:
            raise DataError("the checkpoint stops in the middle of an epoch but holds no recurrent state", path)
        layers: list[list[np.ndarray]] = [[] for _ in range(keys[-1][0][0] + 1)]
        for (layer, _), name in keys:
            layers[layer].append(np.array(archive[name]))
    return [tuple(parts) for parts in layers]


def _implied_shapes(config: Config, vocab_size: int) -> dict[str, list[int]]:
    """Each parameter's shape for `config` and `vocab_size` words, as `init_params` creates them (computed,
    not allocated: a damaged configuration may ask for any size)."""
    from seqkit.recurrent.layers import param_names

    E, H, gates = int(config.embed), int(config.hidden), GATES[config.cell]
    if config.tied and E != H:  # tied weights need both sizes equal: no shapes fit
        return {}
    shapes = {"embed": [vocab_size, E]}
    for layer in range(int(config.layers)):
        names = param_names(config.cell, str(layer))
        shapes[names["Wx"]] = [E if layer == 0 else H, gates * H]
        shapes[names["Wh"]] = [H, gates * H]
        shapes[names["b"]] = [gates * H]
        if "bh" in names:
            shapes[names["bh"]] = [gates * H]
    if not config.tied:
        shapes["Wout"] = [H, vocab_size]
    shapes["bout"] = [vocab_size]
    return shapes


def load(path: str, *, with_optimizer: bool = False):
    """(params, vocab, config, training, optimizer) from a model file, validated. With `with_optimizer`
    (resuming), the params are the latest ones when the file keeps them apart from its model."""
    with modelfile.Archive(path, FORMAT, versions=(VERSION,)) as archive:
        meta = archive.meta
        try:
            config = Config(**meta["config"])
            vocab, expected = list(meta["vocab"]), dict(meta["params"])
        except (KeyError, TypeError, ValueError) as exc:
            raise DataError(f"bad configuration: {exc}", path) from None
        if config.cell not in GATES or config.layers < 1:
            raise DataError(f"bad configuration: {meta['config']}", path)
        for name, shape in expected.items():
            modelfile.check_shape(name, shape, path)
        prefix = "latest" if with_optimizer and any(k.startswith("latest/") for k in archive.names) else "param"
        if len(set(vocab)) != len(vocab):
            raise DataError("damaged vocabulary: a word is listed twice", path)
        try:
            implied = _implied_shapes(config, len(vocab)) if int(config.layers) <= len(expected) else {}
        except (TypeError, ValueError):
            raise DataError(f"bad configuration: {meta['config']}", path) from None
        if implied != {name: [int(x) for x in shape] for name, shape in expected.items()}:
            raise DataError(f"the parameters' shapes do not fit the configuration {meta['config']} "
                            f"and {len(vocab):,} words: a damaged model file", path)
        params = {name: archive.array(f"{prefix}/{name}", shape) for name, shape in expected.items()}
        for name, value in params.items():
            if not np.isfinite(value).all():
                raise DataError(f"entry {prefix}/{name} holds nan or inf values: a damaged model file", path)
        optimizer = archive.group("opt") if with_optimizer else {}
    return params, vocab, config, meta.get("training", {}), optimizer
