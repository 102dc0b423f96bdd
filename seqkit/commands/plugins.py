"""`seqkit plugins`: what is installed, as lines or JSON."""

from __future__ import annotations

import json

import click

from seqkit.options import json_option, quiet_option


@click.command("plugins", short_help="List installed plugins and their commands.")
@json_option
@quiet_option
def plugins_command(as_json: bool, quiet: bool) -> None:
    """List plugins found through the `seqkit.plugins` entry points: name, version, distribution,
    commands, model formats of every kind and classifier trainers (`classify --model`), tab-separated,
    or JSON with --json.

    $SEQKIT_LOAD_PLUGINS limits which plugins load (comma-separated entry-point names; empty loads none).
    """
    from seqkit.plugins import FORMAT_KINDS, load_registry

    plugins = [p.fill_from_distribution() for p in load_registry().plugins]
    if as_json:
        click.echo(json.dumps([p.as_dict() for p in plugins], indent=2))
        return
    for p in plugins:
        status = f"failed: {p.error}" if p.error else ",".join(p.commands) or "-"
        models = ",".join(name for kind in FORMAT_KINDS for name in getattr(p, kind)) or "-"
        trainers = ",".join(p.classifier_trainers) or "-"
        click.echo("\t".join([p.name, p.version or "-", p.distribution or "-", status, models, trainers]))
