"""The ``gradkit`` command line: train, evaluate and inspect models from a shell.

Commands::

    gradkit train     --dataset auto --model mlp --epochs 5 --out runs/main
    gradkit evaluate  runs/main/model.gradkit [--dataset fashion-mnist]
    gradkit predict   runs/main/model.gradkit digits.idx.gz | x.npy | digit.png
    gradkit summary   runs/main/model.gradkit
    gradkit report    runs/main          # runs/main/report.html, offline

``python -m gradkit`` is the same program. ``gradkit COMMAND --help`` lists
every option with its default.

Errors print one line, ``gradkit: error: ...``, on stderr and exit with
status 2 (bad command line) or 1 (anything that went wrong at run time:
missing dataset, unreadable model, wrong input shape...). ``--debug`` shows
the full traceback instead. Ctrl-C, SIGTERM and SIGHUP exit with status 130.

The package has one module a job: :mod:`~gradkit.cli.parser` (options),
:mod:`~gradkit.cli.train`, :mod:`~gradkit.cli.evaluate`,
:mod:`~gradkit.cli.predict`, :mod:`~gradkit.cli.summary`, :mod:`~gradkit.cli.report`
(the commands),
:mod:`~gradkit.cli.data` (datasets by name), :mod:`~gradkit.cli.saved_model`
(a model file and its run) and :mod:`~gradkit.cli.errors` (exit statuses and
error lines).

Example:
    >>> from gradkit.cli import main
    >>> main(["train", "--dataset", "moons", "--out", "/tmp/run"])  # doctest: +SKIP
    0
"""

from __future__ import annotations

import os
import sys
import warnings

from gradkit.cli.errors import (
    EXIT_INTERRUPTED,
    EXIT_RUNTIME,
    EXIT_USAGE,
    CLIError,
    error_line,
    show_warning,
    usage_error,
)
from gradkit.cli.parser import build_parser
from gradkit.utils import signals

__all__ = ["EXIT_INTERRUPTED", "EXIT_RUNTIME", "EXIT_USAGE", "CLIError", "build_parser", "main"]


def main(argv=None) -> int:
    """Run the command line.

    Args:
        argv: The arguments, without the program name (default: ``sys.argv[1:]``).

    Returns:
        The exit status: 0, :data:`EXIT_RUNTIME`, :data:`EXIT_USAGE` or
        :data:`EXIT_INTERRUPTED`. ``--help`` and ``--version`` return 0.

    Example:
        >>> main(["summary", "runs/main/model.gradkit"])  # doctest: +SKIP
    """
    argv = sys.argv[1:] if argv is None else [os.fspath(a) for a in argv]
    args = None
    try:
        with warnings.catch_warnings():
            warnings.showwarning = show_warning
            try:
                args = build_parser().parse_args(argv)
            except SystemExit as exc:  # --help, --version
                return exc.code if isinstance(exc.code, int) else 0
            if args.command is None:
                raise usage_error("a command is required: train, evaluate, predict, "
                                  "summary or report (see 'gradkit --help')")
            args.argv = argv
            with signals.raising():  # SIGTERM/SIGHUP end the command like Ctrl-C does
                return args.func(args)
    except KeyboardInterrupt as exc:  # before or after fit, or a second signal inside it
        reason = exc.args[0] if isinstance(exc, signals.Interrupted) else "Ctrl-C"
        print(f"gradkit: interrupted ({reason})", file=sys.stderr)
        return EXIT_INTERRUPTED
    except CLIError as exc:
        if exc.code != EXIT_USAGE and args is not None and args.debug:
            raise
        line = error_line(exc)
        if exc.code == EXIT_USAGE and "--help" not in line:
            command = f"gradkit {args.command}" if args is not None else "gradkit"
            line += f" (see '{command} --help')"
        print(f"gradkit: error: {line}", file=sys.stderr)
        return exc.code
    except Exception as exc:
        if args is not None and args.debug:
            raise
        print(f"gradkit: error: {error_line(exc)}", file=sys.stderr)
        return EXIT_RUNTIME
    finally:
        sys.stdout.flush()
