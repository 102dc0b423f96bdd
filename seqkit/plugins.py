"""The plugin contract and discovery through the `seqkit.plugins` entry-point group.

First-party model families register exactly like third-party packages. Plugins are loaded one at a
time: one that fails to import (or to register) is reported on stderr and skipped, so a broken plugin
never takes `seqkit --help` or the other commands down with it.

A plugin is any object (usually a module) with `name`, `version` and either a `register(registry)`
callback or `commands` and format sequences named as `FORMAT_KINDS` (`language_models`, ...), and
optionally `classifier_trainers`: what `seqkit classify --model NAME` trains.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any, Iterable

import click

from seqkit.errors import SeqkitError

GROUP = "seqkit.plugins"
ENV_LOAD = "SEQKIT_LOAD_PLUGINS"
CORE = "seqkit"
# Model file formats a plugin may register: the registry's list and `add_*` method for each, and what
# its `load(path)` returns.
FORMAT_KINDS = {
    "language_models": "language-model",      # seqkit.lm.LanguageModel
    "classifiers": "classifier",              # seqkit.classifier.Classifier
    "vector_models": "vector-model",          # seqkit.subword.VectorModel
    "translation_models": "translation-model",  # translate(source), attention(source)
}
# The options `seqkit classify` gives every classifier trainer (keyword arguments of `train`), with their
# flags: a trainer's own options (`params`) may use none of these names or flags.
CLASSIFIER_TRAINING_OPTIONS = {
    "train": ("TRAIN...",), "output": ("-o", "--output"), "valid": ("--valid",), "patience": ("--patience",),
    "label_prefix": ("--label-prefix",), "epochs": ("--epochs",), "lr": ("--lr",), "dim": ("--dim",),
    "min_count": ("--min-count",), "pretrained_vectors": ("-v", "--pretrained-vectors"), "as_json": ("--json",),
    "strict": ("--strict",), "threads": ("-t", "--threads"), "seed": ("--seed",), "errors": ("--errors",),
    "quiet": ("-q", "--quiet"), "model": ("--model",),
}


@dataclass
class PluginInfo:
    """One entry point's outcome, for `seqkit plugins`."""

    name: str
    version: str = ""
    distribution: str = ""
    commands: list[str] = field(default_factory=list)
    language_models: list[str] = field(default_factory=list)
    classifiers: list[str] = field(default_factory=list)
    vector_models: list[str] = field(default_factory=list)
    translation_models: list[str] = field(default_factory=list)
    classifier_trainers: list[str] = field(default_factory=list)
    error: str | None = None
    dist: Any = field(default=None, repr=False, compare=False)  # its distribution, read only when listed

    def fill_from_distribution(self) -> "PluginInfo":
        """Take the distribution's name (and version, where the plugin states none) from its metadata, which
        costs a parse of every METADATA file: `--help` and the commands never need it."""
        if self.dist is not None:
            self.distribution = self.distribution or self.dist.name
            self.version = self.version or self.dist.version
            self.dist = None
        return self

    def as_dict(self) -> dict:
        self.fill_from_distribution()
        return {"name": self.name, "version": self.version, "distribution": self.distribution,
                "commands": self.commands, **{kind: getattr(self, kind) for kind in FORMAT_KINDS},
                "classifier_trainers": self.classifier_trainers, "error": self.error}

    def forget(self) -> None:
        self.commands, self.classifier_trainers = [], []
        for kind in FORMAT_KINDS:
            setattr(self, kind, [])


class Registry:
    """What plugins register into; handed to each plugin's `register` callback."""

    def __init__(self, reserved: Iterable[str] = ()):
        self.commands: dict[str, click.Command] = {}
        self.command_owner: dict[str, str] = {name: f"{CORE} (core)" for name in reserved}
        self.language_models: list[Any] = []
        self.classifiers: list[Any] = []
        self.vector_models: list[Any] = []
        self.translation_models: list[Any] = []
        self.classifier_trainers: dict[str, Any] = {}
        self.plugins: list[PluginInfo] = []
        self.format_owner: dict[int, PluginInfo] = {}  # id(format) -> the plugin that registered it
        self.unknown_selected: list[str] = []  # names in $SEQKIT_LOAD_PLUGINS that no entry point has
        self._current: PluginInfo | None = None

    def add_command(self, command: click.Command) -> None:
        """Add a click command to the root group; a name taken by another plugin is an error."""
        if not isinstance(command, click.Command) or not command.name:
            raise TypeError("add_command expects a named click.Command")
        owner = self._current.name if self._current else "?"
        taken = self.command_owner.get(command.name)
        if taken is not None:
            raise PluginConflict(f"command '{command.name}' of plugin '{owner}' clashes with the one "
                                 f"from {_describe_owner(taken)}")
        self.command_owner[command.name] = owner
        self.commands[command.name] = command
        if self._current:
            self._current.commands.append(command.name)

    def add_language_model(self, fmt: Any) -> None:
        """Register a language-model file format (`name`, `sniff(path)`, `load(path)`)."""
        self._add_format("language_models", fmt)

    def add_classifier(self, fmt: Any) -> None:
        """Register a classifier file format (`name`, `sniff(path)`, `load(path) -> seqkit.classifier.Classifier`)."""
        self._add_format("classifiers", fmt)

    def add_vector_model(self, fmt: Any) -> None:
        """Register a vector-model file format (`name`, `sniff(path)`, `load(path) -> seqkit.subword.VectorModel`)."""
        self._add_format("vector_models", fmt)

    def add_translation_model(self, fmt: Any) -> None:
        """Register a sequence-to-sequence model format (`name`, `sniff(path)`, `load(path)` -> an object with
        `translate(source)` and, optionally, `attention(source)` for `seqkit plot attention`)."""
        self._add_format("translation_models", fmt)

    def add_classifier_trainer(self, trainer: Any) -> None:
        """Register what `seqkit classify --model NAME` trains: an object with `name`, `help` (one line),
        `params` (its own click options, none named or flagged as a `CLASSIFIER_TRAINING_OPTIONS` one or
        another trainer's) and `train(**options)`, given the shared options and its own (see
        `seqkit.classifier.ClassifierTrainer`). A name or option taken by another trainer is a conflict."""
        for attr in ("name", "help", "params", "train"):
            if not hasattr(trainer, attr):
                raise TypeError(f"a classifier trainer needs `{attr}`")
        owner = self._current.name if self._current else "?"
        if trainer.name in self.classifier_trainers:
            raise PluginConflict(f"classifier trainer '{trainer.name}' of plugin '{owner}' is already registered")
        taken = {name: "`seqkit classify` itself" for name in CLASSIFIER_TRAINING_OPTIONS}
        taken.update({flag: "`seqkit classify` itself" for flags in CLASSIFIER_TRAINING_OPTIONS.values()
                      for flag in flags})
        for other in self.classifier_trainers.values():
            for param in other.params:
                taken.update({key: f"--model {other.name}" for key in (param.name, *param.opts, *param.secondary_opts)})
        for param in trainer.params:
            if not isinstance(param, click.Option):
                raise TypeError(f"classifier trainer '{trainer.name}': params must be click options")
            for key in (param.name, *param.opts, *param.secondary_opts):
                if key in taken:
                    raise PluginConflict(f"option {key} of classifier trainer '{trainer.name}' (plugin '{owner}') "
                                         f"is taken by {taken[key]}")
        self.classifier_trainers[trainer.name] = trainer
        if self._current:
            self._current.classifier_trainers.append(trainer.name)

    def formats(self) -> list[Any]:
        """Every registered model format, of every kind, in the order `FORMAT_KINDS` lists the kinds."""
        return [fmt for kind in FORMAT_KINDS for fmt in getattr(self, kind)]

    def _add_format(self, kind: str, fmt: Any) -> None:
        for attr in ("name", "sniff", "load"):
            if not hasattr(fmt, attr):
                raise TypeError(f"a {FORMAT_KINDS[kind]} format needs `{attr}`")
        getattr(self, kind).append(fmt)
        if self._current:
            getattr(self._current, kind).append(fmt.name)
            self.format_owner[id(fmt)] = self._current


class PluginConflict(Exception):
    """Two plugins want the same command name."""


def _describe_owner(owner: str) -> str:
    return owner if owner.endswith("(core)") else f"plugin '{owner}'"


def selected_names() -> set[str] | None:
    """Plugins allowed by $SEQKIT_LOAD_PLUGINS (None = all; empty string = none)."""
    value = os.environ.get(ENV_LOAD)
    if value is None:
        return None
    return {name.strip() for name in value.split(",") if name.strip()}


_quiet = False


def quiet_warnings(quiet: bool) -> None:
    """With --quiet stderr stays empty unless the command fails: the warnings about plugins are then
    dropped (`seqkit plugins` lists the broken ones, and a missing command names them)."""
    global _quiet
    _quiet = quiet


def warn(message: str) -> None:
    if not _quiet:
        print(message, file=sys.stderr)


def broken_plugins_note() -> str:
    """" Plugins that did not load: name (error); ..." for an error about a missing command or format, or
    "": each plugin that failed, and each name in $SEQKIT_LOAD_PLUGINS that is no plugin's (their warnings
    are gone with -q)."""
    registry = load_registry()
    broken = [f"{info.name} ({info.error})" for info in registry.plugins if info.error] + [
        f"{name} (named by ${ENV_LOAD}, which no installed plugin's entry point is called)"
        for name in registry.unknown_selected]
    return f" Plugins that did not load: {'; '.join(broken)}." if broken else ""


def discover(entry_points: Iterable[metadata.EntryPoint] | None = None,
             reserved: Iterable[str] = ()) -> Registry:
    """Load every selected plugin into a fresh Registry, reporting failures on stderr."""
    registry = Registry(reserved)
    if entry_points is None:
        entry_points = metadata.entry_points(group=GROUP)
    allowed = selected_names()
    seen: dict[str, metadata.EntryPoint] = {}
    for entry in sorted(entry_points, key=lambda e: e.name):
        if allowed is not None and entry.name not in allowed:
            continue
        if entry.name in seen:
            if entry.value != seen[entry.name].value:  # the same package found twice on the path is no clash
                _report_shadowed(registry, entry, seen[entry.name])
            continue
        seen[entry.name] = entry
        _load_one(registry, entry)
    unknown = registry.unknown_selected = sorted((allowed or set()) - set(seen))
    if unknown:  # a typo would otherwise leave the commands silently missing
        warn(f"seqkit: warning: ${ENV_LOAD} names {', '.join(map(repr, unknown))}, which no installed "
             "plugin's entry point is called")
    return registry


def _report_shadowed(registry: Registry, entry: metadata.EntryPoint, kept: metadata.EntryPoint) -> None:
    """A second entry point of a taken name is not loaded: say so, and list it in `seqkit plugins`."""
    def where(e: metadata.EntryPoint) -> str:
        dist = getattr(e, "dist", None)
        return f"{e.value}" + (f" (from {dist.name})" if dist is not None else "")

    info = PluginInfo(name=entry.name, dist=getattr(entry, "dist", None))
    info.error = f"entry point name '{entry.name}' is taken by {where(kept)}"
    registry.plugins.append(info)
    warn(f"seqkit: plugin '{entry.name}' was not loaded: {where(entry)} has the name of {where(kept)}; "
         "rename one of the entry points")


def _load_one(registry: Registry, entry: metadata.EntryPoint) -> None:
    dist = getattr(entry, "dist", None)
    info = PluginInfo(name=entry.name, dist=dist)
    registry.plugins.append(info)
    before_commands = dict(registry.commands)
    before_owner = dict(registry.command_owner)
    before_formats = {kind: list(getattr(registry, kind)) for kind in FORMAT_KINDS}
    before_trainers = dict(registry.classifier_trainers)
    registry._current = info
    try:
        plugin = entry.load()
        info.name = str(getattr(plugin, "name", entry.name))
        if hasattr(plugin, "version"):
            info.version = str(plugin.version)
        if hasattr(plugin, "register"):
            plugin.register(registry)
        else:
            for command in getattr(plugin, "commands", ()):
                registry.add_command(command)
            for kind in FORMAT_KINDS:
                for fmt in getattr(plugin, kind, ()):
                    registry._add_format(kind, fmt)
            for trainer in getattr(plugin, "classifier_trainers", ()):
                registry.add_classifier_trainer(trainer)
    except Exception as exc:  # a broken plugin must not break the CLI
        registry.commands, registry.command_owner = before_commands, before_owner
        for kind, before in before_formats.items():
            setattr(registry, kind, before)
        registry.classifier_trainers = before_trainers
        info.forget()
        info.error = str(exc) if isinstance(exc, PluginConflict) else f"{type(exc).__name__}: {exc}"
        verb = "was not loaded" if isinstance(exc, PluginConflict) else "failed to load"
        warn(f"seqkit: plugin '{entry.name}' {verb}: {info.error}")
    finally:
        registry._current = None


def load_model(kind: str, path: str, builtin: Iterable[Any] = ()) -> Any:
    """Load `path` with the first format of `kind` (a `FORMAT_KINDS` key), built in or registered, whose
    `sniff` accepts it; a file none accepts is described by its first bytes."""
    what = FORMAT_KINDS[kind].replace("-", " ")
    if path == "-":
        raise click.UsageError("-m -: a model is read from a file (formats are recognised by their first bytes)")
    if not os.path.exists(path):
        raise SeqkitError(f"{path}: no such file")
    if os.path.isdir(path):
        raise SeqkitError(f"{path}: is a directory, not a model file")
    from seqkit.textio import require_regular_file

    require_regular_file(path)  # a pipe (`-m <(zcat ...)`): the formats' sniffers would eat its first bytes
    builtin = tuple(builtin)
    formats = [*builtin, *getattr(load_registry(), kind)]
    if not formats:
        raise SeqkitError(f"no {FORMAT_KINDS[kind]} formats are installed (check `seqkit plugins`)")
    registry = load_registry()
    for fmt in formats:
        if sniffs(registry, fmt, path):
            try:
                model = fmt.load(path)
            except (SeqkitError, click.ClickException, OSError, MemoryError):
                raise
            except Exception as exc:  # a plugin's bug: named, not "internal error" (SEQKIT_DEBUG shows it)
                if os.environ.get("SEQKIT_DEBUG"):
                    raise
                raise SeqkitError(f"{path}: {describe_format(registry, fmt)} failed to load it: "
                                  f"{type(exc).__name__}: {exc}") from exc
            owner = registry.format_owner.get(id(fmt))
            trusted = any(fmt is b for b in builtin) or (  # read only for the format that loaded the model
                owner is not None and owner.dist is not None and owner.dist.name == CORE)
            _origin[id(model)] = (describe_format(registry, fmt), trusted)
            return model
    from seqkit.modelfile import describe_file
    from seqkit.textio import check_compressed_intact

    check_compressed_intact(path)  # a damaged compressed model is named as such, not as "not a model"
    names = ", ".join(fmt.name + (f" (its sniff raised {_sniff_errors[id(fmt)]})" if id(fmt) in _sniff_errors
                                  else "") for fmt in formats)
    message = f"{path}: {describe_file(path)}, not a {what} any installed plugin can read (formats: {names})"
    note = broken_plugins_note()  # the format may be one of theirs
    raise SeqkitError(message + ("." + note if note else "")).maybe_other_model(path, kind)


# id(loaded model) -> ("format 'x' of plugin 'y'", whether seqkit's own code wrote it): for messages about
# its answers, and to check only the answers of third-party models (checks cost 20 % of a `predict`)
_origin: dict[int, tuple[str, bool]] = {}
_sniff_errors: dict[int, str] = {}  # id(format) -> what its sniff raised (warned once, named in errors)


def describe_format(registry: Registry, fmt: Any) -> str:
    """"format 'arpa' of plugin 'ngram'" (or "of seqkit (core)" for a built-in format)."""
    owner = registry.format_owner.get(id(fmt))
    return f"format '{getattr(fmt, 'name', '?')}' of " + (f"plugin '{owner.name}'" if owner else f"{CORE} (core)")


def origin(model: Any) -> str:
    """Which format (and plugin) loaded `model`, for a message about what it returned."""
    return _origin.get(id(model), ("the model", False))[0]


def model_error(model: Any, message: str) -> SeqkitError:
    """An error in what `model` returned, naming the format (and plugin) that loaded it."""
    return SeqkitError(f"{origin(model)}: {message}")


def third_party(model: Any) -> bool:
    """Whether `model` was loaded by a format outside seqkit's own distribution (or not by `load_model`):
    its answers are then checked before they are used."""
    return not _origin.get(id(model), ("", False))[1]


def sniffs(registry: Registry, fmt: Any, path: str) -> bool:
    """`fmt.sniff(path)`; a sniffer that raises is a "no" (and named once), so one broken plugin cannot
    keep every other format from reading its files."""
    try:
        return bool(fmt.sniff(path))
    except Exception as exc:  # noqa: BLE001 - a plugin's bug
        if id(fmt) not in _sniff_errors:
            _sniff_errors[id(fmt)] = f"{type(exc).__name__}: {exc}"
            warn(f"seqkit: warning: {describe_format(registry, fmt)}: sniff raised {type(exc).__name__}: "
                 f"{exc}; the format is skipped")
        return False


_registry: Registry | None = None


def load_registry() -> Registry:
    """The process-wide registry, loaded on first use."""
    global _registry
    if _registry is None:
        from seqkit.commands import CORE_COMMANDS

        _registry = discover(reserved=CORE_COMMANDS)
    return _registry


def reset_registry() -> None:
    """Forget loaded plugins (tests inject their own), and what their sniffers raised (keyed by id)."""
    global _registry
    _registry = None
    _sniff_errors.clear()
