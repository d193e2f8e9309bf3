"""The `gen` command line: thin click commands over the library; no ML code here.

This module holds the group, the options commands share, `gen corpora` and `gen info`;
`cli_train` and `cli_outputs` add the other commands to the group.

Library code raises `GenError` for problems a user can fix; `GenGroup` prints those as one
`Error: ...` line and exits 1. TensorFlow is imported only inside the commands that need it.
"""

from __future__ import annotations

import os
from pathlib import Path

import click

from generator.errors import GenError

DEFAULT_CHECKPOINTS = Path("checkpoints")


def checkpoint_dir_option(help_text: str):
    """The --checkpoint-dir option that `train` and `sample` share, with their own help."""
    return click.option(
        "--checkpoint-dir",
        type=click.Path(path_type=Path),
        default=DEFAULT_CHECKPOINTS,
        show_default=True,
        help=help_text,
    )


def checkpoint_option(what: str):
    """The --checkpoint option of the commands that use a trained run."""
    return click.option(
        "--checkpoint",
        type=click.Path(path_type=Path),
        help=f"Run folder to {what} (default: the latest under --checkpoint-dir).",
    )


weights_option = click.option(
    "--weights",
    type=click.Choice(["best", "last"]),
    default="best",
    show_default=True,
    help="Best-validation or latest weights of the run.",
)


class GenGroup(click.Group):
    """A click group that shows a `GenError` as one `Error: ...` line with exit status 1."""

    def invoke(self, ctx):
        from generator.errors import Interrupted

        try:
            return super().invoke(ctx)
        except Interrupted as exc:  # saved and stopped on a signal: not an error
            click.echo(str(exc), err=True)
            ctx.exit(exc.exit_code)
        except GenError as exc:
            raise click.ClickException(str(exc)) from None
        except KeyboardInterrupt:  # a Ctrl-C outside training's own handling
            click.echo("interrupted", err=True)
            ctx.exit(130)


def say(line: str, err: bool = False) -> None:
    """The `log=` of library code: echo an informational line, unless `gen --quiet`, which
    keeps only warnings (on standard error, so that a script's standard output stays clean)."""
    from generator.progress import quiet

    if not quiet():
        click.echo(line, err=err)
    elif line.startswith("warning"):
        click.echo(line, err=True)


def say_err(line: str) -> None:
    """`say` on standard error, for commands whose standard output is their result."""
    say(line, err=True)


def _quiet_until_done(ctx: click.Context) -> None:
    """Set GEN_QUIET, which progress bars and `say` read, until this command ends; restored
    after it because tests (and other callers) invoke `gen` many times in one process."""
    from generator.progress import QUIET_ENV

    previous = os.environ.get(QUIET_ENV)
    os.environ[QUIET_ENV] = "1"

    def restore():
        if previous is None:
            os.environ.pop(QUIET_ENV, None)
        else:
            os.environ[QUIET_ENV] = previous

    ctx.call_on_close(restore)


@click.group(cls=GenGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="gen")
@click.option(
    "--quiet",
    "-q",
    is_flag=True,
    envvar="GEN_QUIET",
    help="No progress bars or informational lines: only results, warnings and errors "
    "(also: GEN_QUIET=1).",
)
def cli(quiet):
    """gen: learn the style of MIDI files or poems and write new music or verse.

    \b
    Quick start:
      gen train --corpus midi          train on the Bach chorales bundled with music21
      gen sample --out song.mid        write a song from the latest trained model
      gen train --corpus text --path poems.txt
      gen sample --out - --form sonnet write a sonnet to the terminal
      gen info                         list the trained runs
    """
    if quiet:
        _quiet_until_done(click.get_current_context())


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print the plugins as JSON.")
def corpora(as_json):
    """List the corpus plugins, with a one-line description each."""
    import json

    from generator.corpora import discover

    plugins = sorted(discover().items())
    if as_json:
        fields = ("version", "description", "suffix", "input_suffixes")  # None: unusable
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


@cli.command()
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


# the commands defined in their own modules register themselves on `cli`
from generator import cli_outputs, cli_train  # noqa: E402, F401


def main():
    """Entry point of the `gen` script."""
    cli(prog_name="gen")
