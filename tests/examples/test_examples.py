"""The example scripts (examples/NNN_*.py) run end to end in their --quick mode.

Each script is started in a subprocess with the running interpreter, exactly as
a user would run it, and must exit 0 (its own checks passed: it learned) and
print its key result lines. Scripts write their files under pytest's tmp_path.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
SHARED_MNIST = ROOT.parent / "shared" / "data" / "mnist"
TIMEOUT = 300  # seconds; a quick run takes a few, this only stops a hang


def _has_files(dataset, keys) -> bool:
    """Whether gradkit finds the files locally (never downloads)."""
    from gradkit.datasets import DatasetError
    from gradkit.datasets._files import locate

    try:
        locate(dataset.dataset_spec(), keys, download=False)
    except DatasetError:
        return False
    return True


def _mnist_test_set() -> bool:
    from gradkit.datasets import mnist

    keys = ["test_images", "test_labels"]
    if all((SHARED_MNIST / f"{n}.gz").is_file() or (SHARED_MNIST / n).is_file()
           for n in ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")):
        return True
    return _has_files(mnist, keys)


def _fashion_or_mnist_train() -> bool:
    from gradkit.datasets import fashion_mnist, mnist

    keys = ["train_images", "train_labels", "test_images", "test_labels"]
    return _has_files(fashion_mnist, keys) or _has_files(mnist, keys)


def run_example(name, *args, tmp_path, expect_rc=0):
    env = dict(os.environ, MPLBACKEND="Agg", PYTHONUNBUFFERED="1")
    # One BLAS thread: on a shared 2-core machine OpenBLAS's threads fight over the cores and
    # the small matrix products here ran 10-25x slower with them (examples/README.md).
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        env.setdefault(var, "1")
    proc = subprocess.run(
        [sys.executable, str(EXAMPLES / name), "--quick", "--out", str(tmp_path), *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=TIMEOUT,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == expect_rc, f"{name} exited {proc.returncode}:\n{out[-4000:]}"
    return out


def assert_lines(out, *needles):
    missing = [n for n in needles if n not in out]
    assert not missing, f"missing {missing} in output:\n{out[-4000:]}"


def test_000_mlp_three_levels(tmp_path):
    out = run_example("000_mlp_three_levels.py", tmp_path=tmp_path)
    assert_lines(out, "reference: NumPy by hand", "(a) high", "(b) medium", "(c) low",
                 "RESULT final predictions, batch size 1:",
                 "RESULT final predictions, batch size 3:",
                 "000_mlp_three_levels: all checks passed")
    assert "CHECK FAILED" not in out
    assert out.count("step-0 gradient vs NumPy") == 6  # 3 levels x 2 batch sizes


def test_001_regression_from_scratch(tmp_path):
    out = run_example("001_regression_from_scratch.py", tmp_path=tmp_path)
    assert_lines(out, "CHECK ok: gradients agree to 1e-06 at every step",
                 "CHECK ok: gradkit recovered w_real and b_real",
                 "CHECK ok: fit recovered make_regression's w_real and b_real",
                 "001_regression_from_scratch: all checks passed")


def test_002_xor(tmp_path):
    out = run_example("002_xor_and_nnclassifier.py", "--no-mnist", tmp_path=tmp_path)
    assert_lines(out, "CHECK ok: XOR: all 4 predictions correct",
                 "RESULT XOR prediction for [0, 1]:", "tutorial reported: 1.0",
                 "002_xor_and_nnclassifier: all checks passed")


@pytest.mark.skipif(not _mnist_test_set(), reason=f"the MNIST test set (t10k files) is not in "
                    f"{SHARED_MNIST} nor anywhere gradkit looks; 002's MNIST part needs it")
def test_002_nnclassifier_on_mnist(tmp_path):
    out = run_example("002_xor_and_nnclassifier.py", tmp_path=tmp_path)
    assert_lines(out, "RESULT 50 hidden, raw: test accuracy",
                 "RESULT 50 hidden, standardized: test accuracy",
                 "tutorial reported: 81.65%", "tutorial reported: 84.80%",
                 "002_xor_and_nnclassifier: all checks passed")
    assert "MNIST training set" in out or "REAL MNIST TEST set" in out  # says which data
    try:
        import sklearn  # noqa: F401
    except ImportError:
        assert_lines(out, "SKIPPED: scikit-learn is not installed")
    else:
        assert_lines(out, "RESULT GridSearchCV best:")


@pytest.mark.skipif(not _fashion_or_mnist_train(), reason="Fashion-MNIST is not installed "
                    "(apt-get install dataset-fashion-mnist) and no MNIST training files found")
def test_003_keras_mnist(tmp_path):
    out = run_example("003_keras_mnist.py", tmp_path=tmp_path)
    assert_lines(out, "dataset: ", "RESULT Keras program, test accuracy",
                 "tutorial reported: 0.9811", "CHECK ok: GradientTape",
                 "RESULT naive loop, test accuracy", "003_keras_mnist: all checks passed")


def test_004_circles_moons(tmp_path):
    out = run_example("004_circles_moons.py", tmp_path=tmp_path)
    assert_lines(out, "RESULT circles: ROC AUC (gradkit.metrics.AUC exact",
                 "RESULT moons: ROC AUC (gradkit.metrics.AUC exact",
                 "tutorial reported: 0.8061", "CHECK ok: circles: learned",
                 "CHECK ok: moons: learned", "004_circles_moons: all checks passed")
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return
    for name in ("circles_loss", "circles_boundary", "moons_loss", "moons_boundary"):
        png = tmp_path / f"{name}.png"
        assert png.is_file() and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", png


def test_failed_check_exits_nonzero():
    """A script whose checks fail must say so and exit 1 (that is what --quick relies on)."""
    code = "import _common as C; C.check(True, 'fine'); C.check(False, 'broken'); C.finish('t')"
    proc = subprocess.run([sys.executable, "-c", code], cwd=EXAMPLES, capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "CHECK FAILED: broken" in proc.stdout and "1 check(s) FAILED" in proc.stdout
