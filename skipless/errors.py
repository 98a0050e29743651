"""The one exception type users see: a message that says what went wrong and what to do."""


class SkiplessError(Exception):
    """A user-facing error (bad input, missing tool or data). The CLI prints it without a traceback."""
