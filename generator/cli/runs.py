"""`gen corpora` and `gen info`: what plugins and trained runs there are; JSON only, so they
answer at once."""

from __future__ import annotations

from pathlib import Path

import click

from generator.cli.common import checkpoint_dir_option


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print the plugins as JSON.")
def corpora(as_json):
    """List the corpus plugins, with a one-line description each."""
    import json

    from generator.corpora import discover

    plugins = sorted(discover().items())
    if as_json:
        fields = ("kind", "version", "description", "suffix", "input_suffixes")  # None: unusable
        click.echo(
            json.dumps(
                [
                    {"name": p.name, "source": p.source, "usable": not p.error, "error": p.error}
                    | {f: getattr(p.cls, f, None) for f in fields}
                    for _, p in plugins
                ],
                indent=1,
            )
        )
        return
    for name, info in plugins:
        if info.error:
            click.echo(f"{name:<10} [unusable, from {info.source}] {info.error}")
        else:
            origin = "" if info.source == "built-in" else f" [from {info.source}]"
            click.echo(f"{name:<10} {info.description}{origin}")


@click.command()
@click.argument("run_dir", metavar="[CHECKPOINT]", required=False, type=click.Path(path_type=Path))
@checkpoint_dir_option("Folder whose runs are listed when no CHECKPOINT is given.")
@click.option("--json", "as_json", is_flag=True, help="Print the same as JSON.")
def info(run_dir, checkpoint_dir, as_json):
    """Describe a run folder: corpus, data, model, epochs, best loss, time, whether it can be
    resumed and how to sample from it. Without CHECKPOINT, list every run under
    --checkpoint-dir, oldest first. Reads only JSON, so it answers at once."""
    import json

    from generator import info as run_info

    result = run_info.describe(run_dir) if run_dir else run_info.list_runs(checkpoint_dir)
    if as_json:
        click.echo(json.dumps(result, indent=1))
        return
    lines = run_info.report(result) if run_dir else run_info.listing(result)
    for line in lines:
        click.echo(line)
