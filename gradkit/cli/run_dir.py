"""A run directory that is always one complete run: the old one or the new one.

``gradkit train --out DIR`` writes the new run into a hidden staging directory
beside ``DIR`` and, once every file is written, swaps it with ``DIR`` in one
step (Linux ``renameat2(RENAME_EXCHANGE)``; elsewhere two renames). An
interrupted or failed run (Ctrl-C, SIGTERM, an error) removes its staging
directory and leaves ``DIR`` as it was. ``DIR`` may be new, empty or an earlier
run; a directory holding anything else is refused rather than replaced.

Example::

    with RunDirectory("runs/main") as run:
        model.save(run.path / "model.gradkit")
        run.commit()          # runs/main now holds the new run, nothing else
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from gradkit.cli.errors import CLIError

#: What ``gradkit train`` and ``gradkit report`` write; a directory holding only
#: these (or nothing) may be replaced by a new run.
RUN_FILES = frozenset({"model.gradkit", "metrics.json", "history.csv", "history.png",
                       "samples.png", "boundary.png", "tensorboard", "report.html"})


def _umask():
    from gradkit.models.saving import _current_umask

    return _current_umask()


def _exchange(a: Path, b: Path) -> bool:
    """Swap two directories atomically (Linux, glibc >= 2.28); False where unsupported."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    if renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
        return True
    err = ctypes.get_errno()
    if err in (22, 38, 95):  # EINVAL, ENOSYS, EOPNOTSUPP: this file system can't
        return False
    raise OSError(err, f"cannot replace the run directory '{b}': {os.strerror(err)}")


class RunDirectory:
    """Stage a run beside ``out`` and swap it in on :meth:`commit`.

    Attributes:
        out: the run directory asked for.
        path: where the files go until :meth:`commit` (a hidden sibling of ``out``).
    """

    def __init__(self, out):
        self.out = Path(out).expanduser()
        self.path = None

    def __enter__(self):
        out = self.out
        if out.exists() or out.is_symlink():
            if not out.is_dir():
                raise CLIError(f"--out '{out}' exists and is not a directory")
            foreign = sorted(p.name for p in out.iterdir() if p.name not in RUN_FILES)
            if foreign:
                raise CLIError(f"--out '{out}' holds files that are not part of a gradkit run "
                               f"({', '.join(foreign[:5])}); a new run replaces its directory "
                               "whole, so pick a new or empty directory or an earlier run's")
        parent = out.parent
        try:
            parent.mkdir(parents=True, exist_ok=True)
            self.path = Path(tempfile.mkdtemp(prefix=f".{out.name}.new-", dir=parent))
        except OSError as exc:
            raise CLIError(f"cannot create the output directory '{out}': "
                           f"{exc.strerror or exc}") from None
        mode = out.stat().st_mode & 0o7777 if out.is_dir() else 0o777 & ~_umask()
        os.chmod(self.path, mode)
        return self

    def commit(self):
        """Make the staged run the run directory, in one step; the old run is deleted."""
        from gradkit.utils.signals import deferred

        with deferred():  # a stop signal now would leave neither run in place
            if not self.out.is_dir():
                os.rename(self.path, self.out)
            elif not _exchange(self.path, self.out):
                old = Path(tempfile.mkdtemp(prefix=f".{self.out.name}.old-",
                                            dir=self.out.parent))
                os.rename(self.out, old / "run")
                os.rename(self.path, self.out)
                self.path = old
            shutil.rmtree(self.path, ignore_errors=True)  # the old run, if any
            self.path = None

    def __exit__(self, *exc):
        if self.path is not None:  # not committed: the new run is dropped
            shutil.rmtree(self.path, ignore_errors=True)
            self.path = None
        return False
