"""The `gen` command line: thin click commands over the library; no ML code here.

Each command lives in a module of this package by what it does (`runs`: corpora and info;
`train`: train and encode; `sample`; `measure`: evaluate, inspect, plot, render; `studio`)
and is added to the group here. Library code raises `GenError` for problems a user can fix; the
group prints those as one `Error: ...` line and exits 1. TensorFlow is imported only inside the
commands that need it.
"""

from __future__ import annotations

import click

from generator.cli import measure, runs, sample, studio, train
from generator.cli.common import GenGroup


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
@click.pass_context
def cli(ctx, quiet):
    """gen: learn the style of MIDI files or poems and write new music or verse.

    \b
    Quick start:
      gen train --corpus midi          train on the Bach chorales bundled with music21
      gen sample --out song.mid        write a song from the latest trained model
      gen train --corpus text --path poems.txt
      gen sample --out - --form sonnet write a sonnet to the terminal
      gen info                         list the trained runs
    """
    ctx.obj = {"quiet": quiet}


for command in (
    runs.corpora,
    runs.info,
    train.train,
    train.encode,
    sample.sample,
    measure.evaluate,
    measure.plot,
    measure.render,
    measure.inspect,
    studio.studio,
):
    cli.add_command(command)


def main():
    """Entry point of the `gen` script. The process ends with `os._exit` once the command has
    returned and its output is flushed: TensorFlow's threads (a data pipeline's prefetch
    thread, say) can otherwise keep a finished or failed command from exiting."""
    import os
    import sys
    import traceback

    try:
        cli(prog_name="gen")
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        if isinstance(exc.code, str):
            print(exc.code, file=sys.stderr)
    except BaseException:  # a bug: its traceback, then the same prompt exit
        traceback.print_exc()
        code = 1
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe: nothing more can be said
            pass
    os._exit(code)
