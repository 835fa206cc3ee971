"""Shared helpers of the command-line tests: run the program, read what it wrote.

Most runs call ``cli.main([...])`` in-process (fast); a few go through
``python -m gradkit`` in a subprocess to check the real program: its exit
status, that errors never print a traceback, and Ctrl-C.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import gradkit as gk
from gradkit import cli
from gradkit.datasets import write_idx
from gradkit.utils import png

FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")
HAS_FASHION = (FASHION_DIR / "train-images-idx3-ubyte.gz").exists() or \
    (FASHION_DIR / "train-images-idx3-ubyte").exists()
needs_fashion = pytest.mark.skipif(not HAS_FASHION, reason=f"{FASHION_DIR} is missing")
try:
    import matplotlib  # noqa: F401

    HAS_MPL = True
except ImportError:
    HAS_MPL = False

ROOT = Path(__file__).resolve().parents[2]
FINAL_LINE = re.compile(r"^test accuracy: (\d\.\d{4})$")


def run_main(args):
    """``cli.main(args)`` in-process; returns (status, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.main([str(a) for a in args])
    return code, out.getvalue(), err.getvalue()


def cli_env(**extra):
    """The environment of a ``python -m gradkit`` child: this tree's gradkit, no downloads."""
    return dict(os.environ, PYTHONPATH=str(ROOT), GRADKIT_MIRRORS="", MPLBACKEND="Agg", **extra)


def run_cli(args, env=None, timeout=120):
    """``python -m gradkit ARGS`` in a subprocess; returns the CompletedProcess."""
    return subprocess.run([sys.executable, "-m", "gradkit", *map(str, args)],
                          env=cli_env(**(env or {})), capture_output=True, text=True,
                          timeout=timeout, cwd=ROOT)


def assert_one_error_line(err: str):
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("gradkit: error: "), err
    return lines[0]


def final_accuracy(stdout: str) -> float:
    last = stdout.strip().splitlines()[-1]
    m = FINAL_LINE.match(last)
    assert m, f"last line is {last!r}"
    return float(m.group(1))


def check_run_dir(out: Path, dataset: str, epochs: int, image: bool):
    """The files ``gradkit train`` writes, and their contents."""
    model = gk.load_model(out / "model.gradkit")
    metrics = json.loads((out / "metrics.json").read_text())
    for key in ("dataset", "epochs", "test_loss", "test_accuracy", "history",
                "training_time_s", "gradkit_version", "train_samples", "test_samples"):
        assert key in metrics, key
    assert metrics["dataset"] == dataset
    assert metrics["epochs"] == epochs
    assert metrics["gradkit_version"] == gk.__version__
    assert 0.0 <= metrics["test_accuracy"] <= 1.0
    assert metrics["training_time_s"] >= 0
    assert len(metrics["history"]["loss"]) == epochs
    assert len(metrics["history"]["accuracy"]) == epochs
    with open(out / "history.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == epochs
    assert [int(r["epoch"]) for r in rows] == list(range(epochs))
    assert float(rows[-1]["loss"]) == pytest.approx(metrics["history"]["loss"][-1])
    plots = ["history.png", "samples.png" if image else "boundary.png"]
    for name in plots:
        assert (out / name).exists() == HAS_MPL, name
        if HAS_MPL:
            assert (out / name).read_bytes()[:8] == png.SIGNATURE
    return model, metrics


def fake_dataset(directory: Path, n_train: int, n_test: int, seed: int):
    """Four small MNIST-format IDX files (random images, labels 0-9) in ``directory``."""
    rng = np.random.default_rng(seed)
    directory.mkdir(parents=True, exist_ok=True)
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        write_idx(directory / f"{prefix}-images-idx3-ubyte.gz",
                  rng.integers(0, 256, (n, 28, 28), dtype=np.uint8))
        write_idx(directory / f"{prefix}-labels-idx1-ubyte.gz",
                  rng.integers(0, 10, n, dtype=np.uint8))
