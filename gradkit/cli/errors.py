"""Exit statuses, the error the commands raise, and how errors and warnings are printed.

Every failure ends as one line on stderr, ``gradkit: error: ...``; these
helpers turn exceptions (ours and the library's) into that line.
"""

from __future__ import annotations

import sys

from gradkit.datasets import DatasetError
from gradkit.models import ModelFileError
from gradkit.utils.png import PNGError

EXIT_RUNTIME = 1  #: exit status for errors at run time
EXIT_USAGE = 2  #: exit status for a bad command line
EXIT_INTERRUPTED = 130  #: exit status after Ctrl-C (128 + SIGINT)


class CLIError(Exception):
    """An error with a message for the user and the exit status to return.

    Args:
        message: One sentence saying what went wrong and, where possible, how
            to fix it.
        code: The exit status (:data:`EXIT_RUNTIME` or :data:`EXIT_USAGE`).

    Example:
        >>> raise CLIError("--out 'x' exists and is not a directory")  # doctest: +SKIP
    """

    def __init__(self, message: str, code: int = EXIT_RUNTIME):
        super().__init__(message)
        self.code = code


def usage_error(message: str) -> CLIError:
    """A :class:`CLIError` for a bad command line (exit status 2)."""
    return CLIError(message, EXIT_USAGE)


def one_line(text) -> str:
    """Fold a multi-line message (e.g. a DatasetError's list of places) into one line."""
    lines = [line.strip() for line in str(text).splitlines() if line.strip()]
    if not lines:
        return ""
    out = lines[0]
    for line in lines[1:]:
        out += (" " if out.endswith(":") else "; ") + line.lstrip("- ").strip()
    return out


def error_line(exc: BaseException) -> str:
    """The text after ``gradkit: error:`` for an exception a command raised."""
    if isinstance(exc, (CLIError, DatasetError, ModelFileError, PNGError)):
        return one_line(exc)
    if isinstance(exc, OSError) and exc.filename is not None and exc.strerror:
        return f"{exc.filename}: {exc.strerror}"
    if isinstance(exc, (ValueError, TypeError, OSError)):
        return one_line(exc) or type(exc).__name__
    return (f"unexpected {type(exc).__name__}: {one_line(exc)} (run again with --debug "
            "for the traceback, and please report it)")


def warn(message: str) -> None:
    """Print ``gradkit: warning: MESSAGE`` on stderr."""
    print(f"gradkit: warning: {message}", file=sys.stderr)


def show_warning(message, category, filename, lineno, file=None, line=None):
    """A :func:`warnings.showwarning` that prints one ``gradkit: warning:`` line."""
    warn(one_line(message))
