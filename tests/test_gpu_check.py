"""benchmarks/gpu_check.py's CPU-side parts, on the strict stand-in: the op table agrees
between the CPU and the stand-in "GPU" (values and gradients), and the report's shape."""

import importlib.util
import pathlib

import pytest

PATH = pathlib.Path(__file__).resolve().parents[1] / "benchmarks" / "gpu_check.py"


@pytest.fixture(scope="module")
def gpu_check():
    spec = importlib.util.spec_from_file_location("gpu_check", PATH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_op_table_agrees_on_the_stand_in(gpu_check, strict_gpu):
    ran, failures = gpu_check.check_op_table()
    assert ran > 500 and not failures, "\n".join(failures)


def test_arguments_and_backend_choice(gpu_check, strict_gpu):
    args = gpu_check.parse(["--dry-run", "--epochs", "2", "--out", "r.json"])
    assert (args.dry_run, args.epochs, args.out) == (True, 2, "r.json")
    assert gpu_check.ensure_cupy(True) == "strict stand-in"
