"""What the `gen` commands share: the group that turns a `GenError` into one line, the
options several commands take, and the `Reporter` each command hands the library."""

from __future__ import annotations

from pathlib import Path

import click

from generator.errors import GenError

DEFAULT_CHECKPOINTS = Path("checkpoints")


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


def reporter(err: bool = False):
    """The `Reporter` a command hands the library: quiet under `gen --quiet`, and on standard
    error with `err` (for commands whose standard output is their result)."""
    from generator.progress import Reporter

    root = click.get_current_context().find_root()
    return Reporter(quiet=bool((root.obj or {}).get("quiet")), err=err)


def given_options(ctx: click.Context) -> dict:
    """The options typed on the command line (not defaults), by parameter name."""
    source = click.core.ParameterSource.COMMANDLINE
    return {
        p.name: ctx.params[p.name]
        for p in ctx.command.params
        if ctx.get_parameter_source(p.name) == source
    }


def checkpoint_dir_option(help_text: str):
    """The --checkpoint-dir option that several commands share, with their own help."""
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


def run_folder(checkpoint: Path | None, checkpoint_dir: Path) -> Path:
    """The run a command works on: --checkpoint, else the latest under --checkpoint-dir."""
    from generator.runs import latest_run

    return checkpoint or latest_run(checkpoint_dir)


weights_option = click.option(
    "--weights",
    type=click.Choice(["best", "last"]),
    default="best",
    show_default=True,
    help="Best-validation or latest weights of the run.",
)

corpus_option = click.option(
    "--corpus",
    help="Corpus plugin that reads the files (see `gen corpora`). Default: midi, or with "
    "--cache the plugin that made the store.",
)
