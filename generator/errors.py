"""The one error type that library code raises for problems a user can fix.

`cli.py` turns a `GenError` into a single `Error: ...` line and exit status 1; anything else is a
bug and keeps its traceback.
"""


class GenError(Exception):
    """A user-facing problem: bad input, missing checkpoint, unknown name, unwritable path."""
