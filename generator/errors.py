"""The one error type that library code raises for problems a user can fix.

`cli.py` turns a `GenError` into a single `Error: ...` line and exit status 1, and an
`Interrupted` into its message and 128 + the signal's number; anything else is a bug and keeps its
traceback.
"""


class GenError(Exception):
    """A user-facing problem: bad input, missing checkpoint, unknown name, unwritable path."""


class Interrupted(GenError):
    """Training stopped by a signal after saving; the CLI exits with `exit_code` (128 + the
    signal's number, as a shell reports a process killed by it)."""

    def __init__(self, message: str, exit_code: int):
        super().__init__(message)
        self.exit_code = exit_code
