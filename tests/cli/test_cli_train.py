"""gradkit/cli/train.py and data.py: training runs, their files, datasets by name, Ctrl-C."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from cli_helpers import (
    HAS_MPL,
    ROOT,
    assert_one_error_line,
    check_run_dir,
    cli_env,
    fake_dataset,
    final_accuracy,
    needs_fashion,
    run_cli,
    run_main,
)

from gradkit import cli


@pytest.mark.parametrize("dataset", ["xor", "circles"])
def test_train_toy_dataset(tmp_path, dataset):
    code, stdout, stderr = run_main(["train", "--dataset", dataset, "--epochs", "3",
                                     "--out", tmp_path, "--verbose", "0", "--samples", "400"])
    assert code == 0, stderr
    _, metrics = check_run_dir(tmp_path, dataset, 3, image=False)
    assert final_accuracy(stdout) == pytest.approx(metrics["test_accuracy"], abs=5e-5)
    assert metrics["train_samples"] == 320 and metrics["test_samples"] == 80
    assert metrics["toy_samples"] == 400


def test_train_moons_learns_and_writes_everything(moons_run):
    out, stdout = moons_run
    model, metrics = check_run_dir(out, "moons", 8, image=False)
    acc = final_accuracy(stdout)
    assert acc == pytest.approx(metrics["test_accuracy"], abs=5e-5)
    assert acc > 0.8  # noisy moons: a small tanh MLP gets well past chance
    lines = stdout.strip().splitlines()
    assert re.match(r"^test loss: \d+\.\d{4}$", lines[-2])
    assert "Epoch 8/8" in stdout
    assert metrics["optimizer"] == "adam" and metrics["learning_rate"] == pytest.approx(0.02)
    assert model.count_params() == metrics["params"]


def test_limits_and_noise_are_used(tmp_path):
    code, _, stderr = run_main(["train", "--dataset", "xor", "--epochs", "1", "--out", tmp_path,
                                "--verbose", "0", "--samples", "500", "--noise", "0.05",
                                "--limit", "123", "--test-limit", "45"])
    assert code == 0, stderr
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["train_samples"] == 123 and metrics["test_samples"] == 45
    assert metrics["toy_noise"] == 0.05 and metrics["toy_samples"] == 500


def test_python_m_gradkit_train(tmp_path):
    proc = run_cli(["train", "--dataset", "xor", "--epochs", "2", "--out", tmp_path,
                    "--verbose", "1", "--samples", "200"])
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "Epoch 2/2" in proc.stdout
    final_accuracy(proc.stdout)
    check_run_dir(tmp_path, "xor", 2, image=False)


def test_train_without_matplotlib_notes_the_missing_plots(tmp_path, monkeypatch):
    import importlib.util

    find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "matplotlib" else find_spec(name, *a))
    code, stdout, stderr = run_main(["train", "--dataset", "xor", "--epochs", "1", "--out",
                                     tmp_path, "--verbose", "0", "--samples", "100",
                                     "--no-tensorboard"])
    assert code == 0, stderr
    assert "note: matplotlib is not installed" in stdout
    assert not list(tmp_path.glob("*.png"))
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["files"] == ["model.gradkit", "metrics.json", "history.csv"]
    final_accuracy(stdout)


def test_validation_split_adds_val_history(tmp_path):
    code, _, stderr = run_main(["train", "--dataset", "moons", "--epochs", "2", "--out", tmp_path,
                                "--verbose", "0", "--validation-split", "0.25",
                                "--samples", "400"])
    assert code == 0, stderr
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["train_samples"] == 240 and metrics["validation_samples"] == 80
    assert len(metrics["history"]["val_loss"]) == 2


# ---------------------------------------------------------------- Fashion-MNIST and the CNN
@needs_fashion
def test_train_fashion_mlp(fashion_run):
    out, stdout = fashion_run
    _, metrics = check_run_dir(out, "fashion-mnist", 1, image=True)
    assert metrics["train_samples"] == 2000 and metrics["test_samples"] == 10000
    assert final_accuracy(stdout) > 0.6  # 10 classes: chance is 0.1


@needs_fashion
def test_train_cnn(tmp_path):
    code, stdout, stderr = run_main(["train", "--dataset", "fashion-mnist", "--model", "cnn",
                                     "--epochs", "1", "--limit", "512", "--test-limit", "300",
                                     "--batch-size", "64", "--optimizer", "adam",
                                     "--out", tmp_path, "--verbose", "0"])
    assert code == 0, stderr
    model, metrics = check_run_dir(tmp_path, "fashion-mnist", 1, image=True)
    assert [type(layer).__name__ for layer in model.layers] == [
        "Conv2D", "MaxPooling2D", "Conv2D", "MaxPooling2D", "Flatten", "Dense"]
    assert metrics["test_samples"] == 300
    assert final_accuracy(stdout) > 0.2
    # the saved CNN takes flat or 28x28 images alike through the command line
    code, text, stderr = run_main(["evaluate", tmp_path / "model.gradkit", "--limit", "100"])
    assert code == 0, stderr
    assert "Fashion-MNIST test set, 100 samples" in text


# ---------------------------------------------------------------- --dataset auto
def test_auto_prefers_mnist_when_found(data_home, tmp_path):
    fake_dataset(data_home / "mnist", 64, 32, seed=1)
    code, stdout, stderr = run_main(["train", "--dataset", "auto", "--epochs", "1",
                                     "--out", tmp_path / "run", "--verbose", "0"])
    assert code == 0, stderr
    assert "auto: using MNIST" in stdout
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["dataset"] == "mnist" and metrics["dataset_requested"] == "auto"
    assert metrics["train_samples"] == 64 and metrics["test_samples"] == 32


@pytest.mark.skipif(Path("/usr/share/datasets/mnist").exists(),
                    reason="this machine has MNIST installed system-wide")
def test_auto_falls_back_to_fashion_mnist(data_home, tmp_path):
    fake_dataset(data_home / "mnist", 8, 8, seed=2)
    (data_home / "mnist" / "train-images-idx3-ubyte.gz").unlink()  # an incomplete MNIST
    fake_dataset(data_home / "fashion-mnist", 48, 16, seed=3)
    code, stdout, stderr = run_main(["train", "--dataset", "auto", "--epochs", "1",
                                     "--out", tmp_path / "run", "--verbose", "0"])
    assert code == 0, stderr
    note = stdout.splitlines()[0]
    assert note.startswith("auto: using Fashion-MNIST because the full MNIST training set "
                           "was not found")
    assert "train-images" in note or "missing" in note
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["dataset"] == "fashion-mnist" and metrics["dataset_note"] == note
    if HAS_MPL:
        assert (tmp_path / "run" / "samples.png").exists()


# ---------------------------------------------------------------- errors at run time
@pytest.mark.bad_input
def test_missing_dataset(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    code, _, stderr = run_main(["train", "--dataset", "mnist", "--data-dir", empty,
                                "--out", tmp_path / "run"])
    assert code == cli.EXIT_RUNTIME
    line = assert_one_error_line(stderr)
    assert "--data-dir" in line and "train-images-idx3-ubyte" in line
    code, _, stderr = run_main(["train", "--dataset", "mnist", "--data-dir", tmp_path / "nodir"])
    assert code == cli.EXIT_RUNTIME
    assert "does not exist" in assert_one_error_line(stderr)
    if not Path("/usr/share/datasets/mnist").exists():  # searched everywhere, not found
        proc = run_cli(["train", "--dataset", "mnist", "--no-download"],
                       env={"GRADKIT_DATA": str(empty), "XDG_CACHE_HOME": str(empty)})
        assert proc.returncode == 1
        assert "Could not find the MNIST files" in assert_one_error_line(proc.stderr)


@pytest.mark.bad_input
def test_out_is_a_file(tmp_path):
    (tmp_path / "file").write_text("x")
    code, _, stderr = run_main(["train", "--dataset", "xor", "--out", tmp_path / "file"])
    assert code == cli.EXIT_RUNTIME
    assert "not a directory" in assert_one_error_line(stderr)


# ---------------------------------------------------------------- Ctrl-C
def _interrupt_training(tmp_path, epochs: int, sig=signal.SIGINT):
    """Start ``python -m gradkit train``, send ``sig`` in epoch 1; returns (status, stderr)."""
    samples = "20000" if epochs > 1 else "400000"  # one epoch long enough to be cut
    proc = subprocess.Popen(
        [sys.executable, "-m", "gradkit", "train", "--dataset", "moons", "--samples", samples,
         "--epochs", str(epochs), "--batch-size", "8", "--verbose", "2", "--out", tmp_path],
        env=cli_env(PYTHONUNBUFFERED="1"), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, cwd=ROOT)
    try:
        for line in proc.stdout:
            if line.startswith(f"Epoch 1/{epochs}"):
                break
        proc.send_signal(sig)
        _, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    return proc.returncode, stderr


@pytest.mark.fault
@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT to a child process is POSIX")
@pytest.mark.parametrize("epochs", [1000, 1])
def test_ctrl_c_exits_130_and_saves_no_model(tmp_path, epochs):
    # fit stops at the end of the batch and says so; the command adds one line and exits 130,
    # also when the cut epoch is the last one; the unfinished run is dropped whole (the
    # directory stays as it was: empty here), so no half-run contradicts itself
    code, stderr = _interrupt_training(tmp_path, epochs)
    assert code == cli.EXIT_INTERRUPTED, stderr
    assert "Traceback" not in stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 2, stderr
    assert lines[0].startswith("fit: interrupted (Ctrl-C) during epoch 1, after batch ")
    assert lines[1] == (f"gradkit: interrupted (Ctrl-C) during epoch 1/{epochs}; no model "
                        f"saved ('{tmp_path}' is as it was before this run)")
    assert list(tmp_path.iterdir()) == []
    assert not [p for p in tmp_path.parent.iterdir() if p.name.startswith(f".{tmp_path.name}.")]


@pytest.mark.fault
@pytest.mark.skipif(sys.platform == "win32", reason="SIGTERM to a child process is POSIX")
@pytest.mark.parametrize("sig", ["SIGTERM", "SIGHUP"])
def test_sigterm_into_an_earlier_run_keeps_that_run_whole(tmp_path, sig):
    out = tmp_path / "run"
    code, _, stderr = run_main(["train", "--dataset", "xor", "--samples", "40", "--epochs",
                                "1", "--out", out])
    assert code == 0, stderr
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    code, stderr = _interrupt_training(out, 1000, getattr(signal, sig))
    assert code == cli.EXIT_INTERRUPTED, stderr
    assert f"gradkit: interrupted ({sig}) during epoch 1/1000" in stderr
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()} == before
    assert [p.name for p in tmp_path.iterdir()] == ["run"]  # no staging directory left


def test_a_new_run_replaces_an_earlier_one_whole(tmp_path):
    out = tmp_path / "run"
    for dataset in ("xor", "moons"):
        code, _, stderr = run_main(["train", "--dataset", dataset, "--samples", "40",
                                    "--epochs", "1", "--out", out])
        assert code == 0, stderr
    assert json.loads((out / "metrics.json").read_text())["dataset"] == "moons"
    assert [p.name for p in tmp_path.iterdir()] == ["run"]


def test_a_run_directory_honours_the_umask(tmp_path):
    old = os.umask(0o077)
    try:
        code, _, stderr = run_main(["train", "--dataset", "xor", "--samples", "40",
                                    "--epochs", "1", "--out", tmp_path / "private"])
    finally:
        os.umask(old)
    assert code == 0, stderr
    assert (tmp_path / "private").stat().st_mode & 0o777 == 0o700
    assert (tmp_path / "private" / "model.gradkit").stat().st_mode & 0o777 == 0o600


def test_out_holding_other_files_is_refused_not_replaced(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    code, _, stderr = run_main(["train", "--dataset", "xor", "--out", tmp_path])
    assert code == cli.EXIT_RUNTIME
    assert "not part of a gradkit run (notes.txt)" in assert_one_error_line(stderr)
    assert (tmp_path / "notes.txt").read_text() == "mine"
