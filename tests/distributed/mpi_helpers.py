"""Running a program under ``mpirun`` for the distributed tests."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROGRAMS = Path(__file__).resolve().parent / "programs"


def mpi_available():
    if shutil.which("mpirun") is None:
        return "mpirun not found (apt-get install openmpi-bin libopenmpi-dev)"
    try:
        import mpi4py  # noqa: F401
    except ImportError:
        return "mpi4py not installed (pip install gradkit[mpi])"
    return None


needs_mpi = pytest.mark.skipif(mpi_available() is not None and not os.environ.get("CI"),
                               reason=str(mpi_available()))


def mpi_env(**extra):
    env = dict(os.environ)
    env.update({
        "PYTHONPATH": str(ROOT) + os.pathsep + env.get("PYTHONPATH", ""),
        # root in containers/CI; more ranks than cores on a 2-core machine
        "OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1",
        "OMPI_MCA_rmaps_base_oversubscribe": "1",
        # shared memory between the ranks of one machine, no network probing
        "OMPI_MCA_btl": "self,vader", "OMPI_MCA_pml": "ob1",
        "OMPI_MCA_btl_vader_single_copy_mechanism": "none",
        # one BLAS thread per rank: the ranks share 2 cores
        "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1",
    })
    env.update(extra)
    return env


def run_mpi(n, program, *args, timeout=120, env=None):
    """``mpirun -n N python programs/<program> args...``; returns the CompletedProcess."""
    cmd = ["mpirun", "-n", str(n), sys.executable, str(PROGRAMS / program), *map(str, args)]
    return subprocess.run(cmd, env=env or mpi_env(), capture_output=True, text=True,
                          timeout=timeout, cwd=ROOT)


def check(proc):
    assert proc.returncode == 0, f"exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    return proc
