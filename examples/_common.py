"""Shared plumbing for the example scripts (not an example itself).

Importing this module puts the repository root on ``sys.path`` so the examples
run from a plain checkout (``python examples/000_mlp_three_levels.py``) without
installing gradkit. It also gives every script the same command line
(``--quick``, ``--out``, ``--seed``), the same way of printing a measured result
beside the tutorial's, and ``check``/``finish`` to turn "it learned" into the
exit status.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
os.environ.setdefault("MPLBACKEND", "Agg")  # headless plots

_failures: list[str] = []
_t0 = time.perf_counter()


def parser(description: str, default_out: str, seed: int = 42) -> argparse.ArgumentParser:
    """An argument parser with the options every example shares."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--quick", action="store_true",
                   help="a reduced, fast run (a few seconds) that still checks it learned")
    p.add_argument("--out", default=str(ROOT / default_out),
                   help=f"directory for files the example writes (default: <repo>/{default_out})")
    p.add_argument("--seed", type=int, default=seed, help=f"random seed (default: {seed})")
    return p


def section(title: str) -> None:
    """Print a section heading."""
    print(f"\n== {title}", flush=True)


def result(label: str, measured: str, tutorial: str | None = None) -> None:
    """One measured number, with the tutorial's beside it when the tutorial reports one."""
    line = f"RESULT {label}: {measured}"
    if tutorial is not None:
        line += f"   | tutorial reported: {tutorial}"
    print(line, flush=True)


def check(ok, message: str) -> bool:
    """Record a pass/fail condition; ``finish`` exits non-zero if any failed."""
    ok = bool(ok)
    print(f"CHECK {'ok' if ok else 'FAILED'}: {message}", flush=True)
    if not ok:
        _failures.append(message)
    return ok


def finish(name: str) -> None:
    """Print the verdict and the runtime, and exit 1 if any check failed."""
    elapsed = time.perf_counter() - _t0
    if _failures:
        print(f"\n{name}: {len(_failures)} check(s) FAILED ({elapsed:.1f} s):", flush=True)
        for f in _failures:
            print(f"  - {f}")
        sys.exit(1)
    print(f"\n{name}: all checks passed ({elapsed:.1f} s)", flush=True)


def out_dir(path: str) -> Path:
    """The ``--out`` directory, created if needed."""
    d = Path(path)
    d.mkdir(parents=True, exist_ok=True)
    return d


def have(module: str) -> bool:
    """Whether an optional dependency can be imported."""
    try:
        __import__(module)
    except ImportError:
        return False
    return True
