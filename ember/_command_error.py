"""The one error type of the ``ember`` command: a failure the user can fix."""


class CommandError(Exception):
    """Its message is the one line the command prints (what went wrong; the fix)."""
