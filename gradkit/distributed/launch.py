"""Starting a command on N processes with Open MPI's ``mpirun`` (``gradkit train --nproc``)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

INSTALL_HINT = ("install Open MPI (apt-get install openmpi-bin libopenmpi-dev) and "
                "gradkit[mpi] (pip install mpi4py)")


def mpirun_command(nproc, argv, mpirun=None):
    """The ``mpirun`` command line that runs ``python -m gradkit argv...`` on ``nproc``
    processes of this machine (more than its cores is allowed: ``--oversubscribe``)."""
    mpirun = mpirun or shutil.which("mpirun")
    if mpirun is None:
        raise FileNotFoundError(f"--nproc needs mpirun, which is not on PATH: {INSTALL_HINT}")
    cmd = [mpirun, "-n", str(int(nproc)), "--oversubscribe"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:  # containers run as root
        cmd.append("--allow-run-as-root")
    return cmd + [sys.executable, "-m", "gradkit", *argv]


def run(nproc, argv):
    """Run ``gradkit argv...`` on ``nproc`` MPI processes; returns mpirun's exit status."""
    try:
        import mpi4py  # noqa: F401, PLC0415 - the ranks will need it
    except ImportError:
        raise FileNotFoundError(f"--nproc needs mpi4py: {INSTALL_HINT}") from None
    cmd = mpirun_command(nproc, argv)
    print(f"gradkit: starting {nproc} processes: {' '.join(cmd[:4])} ... gradkit "
          f"{' '.join(argv)}", flush=True)
    return subprocess.call(cmd)
