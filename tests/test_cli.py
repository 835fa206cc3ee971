"""The ``gradkit`` command line (gradkit/cli.py) and the PNG reader it falls back on.

Most runs call ``main([...])`` in-process (fast); a few go through
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
import signal
import struct
import subprocess
import sys
import zlib
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

ROOT = Path(__file__).resolve().parents[1]
FINAL_LINE = re.compile(r"^test accuracy: (\d\.\d{4})$")


def run_main(args, capsys=None):
    """``cli.main(args)`` in-process; returns (status, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.main([str(a) for a in args])
    return code, out.getvalue(), err.getvalue()


def run_cli(args, env=None, timeout=120):
    """``python -m gradkit ARGS`` in a subprocess; returns the CompletedProcess."""
    full_env = dict(os.environ, PYTHONPATH=str(ROOT), GRADKIT_MIRRORS="", MPLBACKEND="Agg")
    full_env.update(env or {})
    return subprocess.run([sys.executable, "-m", "gradkit", *map(str, args)], env=full_env,
                          capture_output=True, text=True, timeout=timeout, cwd=ROOT)


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


# ---------------------------------------------------------------- help and usage
def test_help_of_every_command():
    code, out, _ = run_main(["--help"])
    assert code == 0
    for command in ("train", "evaluate", "predict", "summary"):
        assert command in out
    code, out, _ = run_main(["train", "--help"])
    assert code == 0
    out = " ".join(out.split())  # undo argparse's line wrapping
    for text in ("--dataset", "fashion-mnist", "--epochs", "(default: 5)", "(default: rmsprop)",
                 "--limit", "--validation-split", "test accuracy"):
        assert text in out, text
    for command in ("evaluate", "predict", "summary"):
        code, out, _ = run_main([command, "--help"])
        assert code == 0 and "MODEL" in out


def test_version():
    code, out, _ = run_main(["--version"])
    assert code == 0 and out.strip() == f"gradkit {gk.__version__}"


def test_python_m_gradkit_runs_the_cli():
    proc = run_cli(["--help"])
    assert proc.returncode == 0
    assert proc.stdout.startswith("usage: gradkit")


# ---------------------------------------------------------------- train on toy data
@pytest.fixture(scope="module")
def moons_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("moons")
    code, stdout, stderr = run_main(["train", "--dataset", "moons", "--epochs", "8",
                                     "--optimizer", "adam", "--lr", "0.02", "--batch-size", "16",
                                     "--out", out, "--verbose", "2", "--seed", "3"])
    assert code == 0, stderr
    return out, stdout


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
                                     tmp_path, "--verbose", "0", "--samples", "100"])
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


# ---------------------------------------------------------------- evaluate, summary, predict (toy)
def test_evaluate_uses_the_runs_dataset(moons_run):
    out, stdout = moons_run
    code, text, stderr = run_main(["evaluate", out / "model.gradkit"])
    assert code == 0, stderr
    assert "moons" in text.lower()
    accuracy = float(re.search(r"^accuracy: (\d\.\d{4})$", text, re.M).group(1))
    assert accuracy == final_accuracy(stdout)  # same test split, rebuilt from metrics.json
    assert re.search(r"^loss: \d+\.\d{4}$", text, re.M)


def test_summary(moons_run):
    out, _ = moons_run
    code, text, _ = run_main(["summary", out / "model.gradkit"])
    assert code == 0
    assert "Total params: 337" in text and "Dense" in text
    code, text2, _ = run_main(["summary", out])  # a run directory works too
    assert code == 0 and text2 == text


def test_predict_points_from_npy(moons_run, tmp_path):
    out, _ = moons_run
    points = np.array([[-1.0, 0.2], [2.0, -0.3], [0.0, 1.0]], dtype=np.float32)
    np.save(tmp_path / "points.npy", points)
    code, text, stderr = run_main(["predict", out / "model.gradkit", tmp_path / "points.npy"])
    assert code == 0, stderr
    lines = text.strip().splitlines()
    assert lines[0] == "index\tclass\tprobability"
    rows = [line.split("\t") for line in lines[1:]]
    assert [r[0] for r in rows] == ["0", "1", "2"]
    p1 = gk.load_model(out / "model.gradkit").predict(points)[:, 0]
    assert [int(r[1]) for r in rows] == [int(p >= 0.5) for p in p1]
    for r, p in zip(rows, p1):
        assert float(r[2]) == pytest.approx(max(p, 1 - p), abs=1e-4)


# ---------------------------------------------------------------- Fashion-MNIST and the CNN
@pytest.fixture(scope="module")
def fashion_run(tmp_path_factory):
    if not HAS_FASHION:
        pytest.skip(f"{FASHION_DIR} is missing")
    out = tmp_path_factory.mktemp("fashion")
    proc = run_cli(["train", "--dataset", "fashion-mnist", "--model", "mlp", "--epochs", "1",
                    "--limit", "2000", "--batch-size", "64", "--out", out, "--verbose", "2"])
    assert proc.returncode == 0, proc.stderr
    return out, proc.stdout


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


@needs_fashion
def test_predict_idx_npy_and_png_agree(fashion_run, tmp_path):
    out, _ = fashion_run
    model_path = out / "model.gradkit"
    x, y = gk.datasets.fashion_mnist.load_test_data()
    images = x[:6]
    write_idx(tmp_path / "six.idx.gz", images)
    write_idx(tmp_path / "six.idx", images, gzip=False)
    np.save(tmp_path / "six.npy", images)
    np.save(tmp_path / "one.npy", images[2].astype(np.float32) / 255)

    results = {}
    for name in ("six.idx.gz", "six.idx", "six.npy"):
        code, text, stderr = run_main(["predict", model_path, tmp_path / name])
        assert code == 0, stderr
        lines = text.strip().splitlines()
        assert lines[0] == "index\tclass\tname\tprobability"
        assert len(lines) == 7
        results[name] = [line.split("\t") for line in lines[1:]]
    assert results["six.idx.gz"] == results["six.idx"] == results["six.npy"]
    names = gk.datasets.fashion_mnist.CLASS_NAMES
    model = gk.load_model(model_path)
    probs = model.predict(images.reshape(6, 784).astype(np.float32) / 255)
    for i, (index, cls, name, p) in enumerate(results["six.npy"]):
        assert int(index) == i and int(cls) == probs[i].argmax()
        assert name == names[int(cls)]
        assert float(p) == pytest.approx(probs[i].max(), abs=1e-4)

    np.save(tmp_path / "six255.npy", images.astype(np.float32))  # floats, but 0-255
    code, text, stderr = run_main(["predict", model_path, tmp_path / "six255.npy"])
    assert code == 0 and "taken as 0-255 pixels" in stderr
    assert [line.split("\t") for line in text.strip().splitlines()[1:]] == results["six.npy"]

    code, text, _ = run_main(["predict", model_path, tmp_path / "one.npy"])
    assert code == 0 and text.strip().splitlines()[1].split("\t")[1:] == results["six.npy"][2][1:]

    # a PNG of the same image, black on white and three times larger: inverted and resized back
    big = np.kron(255 - images[2], np.ones((3, 3), np.uint8))
    png.write_png(tmp_path / "item.png", big)
    code, text, stderr = run_main(["predict", model_path, tmp_path / "item.png"])
    assert code == 0, stderr
    assert "inverted" in stderr and "resized 84x84 -> 28x28" in stderr
    row = text.strip().splitlines()[1].split("\t")
    assert row[:3] == ["0", *results["six.npy"][2][1:3]]
    assert float(row[3]) == pytest.approx(float(results["six.npy"][2][3]), abs=2e-3)

    code, text, _ = run_main(["predict", model_path, tmp_path / "six.npy", "--class-names",
                              "none", "--limit", "2"])
    assert code == 0 and text.strip().splitlines()[0] == "index\tclass\tprobability"
    assert len(text.strip().splitlines()) == 3


# ---------------------------------------------------------------- --dataset auto
@pytest.fixture
def data_home(tmp_path, monkeypatch):
    """Point the dataset search at an empty tmp tree; downloads disabled."""
    monkeypatch.setenv("GRADKIT_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("GRADKIT_MIRRORS", "")
    (tmp_path / "data").mkdir()
    return tmp_path / "data"


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


# ---------------------------------------------------------------- errors
@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    """A small saved 784 -> 10 model (no training needed for error cases)."""
    path = tmp_path_factory.mktemp("tiny") / "tiny.gradkit"
    model = gk.Sequential([gk.layers.Dense(10, activation="softmax", input_shape=(784,))])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.save(path)
    return path


@pytest.mark.bad_input
@pytest.mark.parametrize("args, pattern", [
    (["train", "--dataset", "imagenet"], "unknown dataset 'imagenet'"),
    (["train", "--epochs", "-3"], "--epochs: must be >= 1, got -3"),
    (["train", "--epochs", "two"], "--epochs: expected an integer"),
    (["train", "--batch-size", "0"], "--batch-size: must be >= 1"),
    (["train", "--lr", "nan"], "--lr: must be in"),
    (["train", "--lr", "-0.1"], "--lr: must be in"),
    (["train", "--optimizer", "adamx"], "unknown optimizer 'adamx'"),
    (["train", "--validation-split", "1"], "--validation-split: must be in [0, 1)"),
    (["train", "--model", "resnet"], "invalid choice: 'resnet'"),
    (["train", "--verbose", "3"], "--verbose"),
    (["train", "--model", "cnn", "--dataset", "moons"], "--model cnn needs an image dataset"),
    (["train", "--dataset", "auto", "--data-dir", "."], "--data-dir needs an explicit"),
    (["train", "--dataset", "moons", "--data-dir", "."], "--data-dir applies to"),
    (["train", "--dataset", "fashion-mnist", "--noise", "0.1"], "apply to the toy datasets"),
    (["train", "--no-such-option"], "unrecognized arguments"),
    (["evaluate"], "required: MODEL"),
    ([], "a command is required"),
    (["frobnicate"], "invalid choice: 'frobnicate'"),
])
def test_usage_errors_exit_2(args, pattern):
    code, stdout, stderr = run_main(args)
    assert code == cli.EXIT_USAGE
    line = assert_one_error_line(stderr)
    assert pattern in line
    assert "--help" in line


@pytest.mark.bad_input
def test_missing_model_file(tmp_path):
    for command in (["summary"], ["evaluate"], ["predict"]):
        args = [*command, tmp_path / "nope.gradkit"] + (["x.npy"] if command == ["predict"]
                                                         else [])
        code, _, stderr = run_main(args)
        assert code == cli.EXIT_RUNTIME
        assert "no model file at" in assert_one_error_line(stderr)


@pytest.mark.untrusted
def test_corrupt_model_file(tmp_path):
    path = tmp_path / "random.gradkit"
    path.write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    for args in (["summary", path], ["evaluate", path, "--dataset", "moons"]):
        code, _, stderr = run_main(args)
        assert code == cli.EXIT_RUNTIME
        assert "random.gradkit" in assert_one_error_line(stderr)
    proc = run_cli(["summary", path])  # the real program: status 1, one line, no traceback
    assert proc.returncode == 1
    assert_one_error_line(proc.stderr)
    assert proc.stdout == ""


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
def test_wrong_input_shapes(tiny_model, moons_run, tmp_path):
    np.save(tmp_path / "wrong.npy", np.zeros((3, 5), np.float32))
    code, _, stderr = run_main(["predict", tiny_model, tmp_path / "wrong.npy"])
    assert code == cli.EXIT_RUNTIME
    line = assert_one_error_line(stderr)
    assert "shape (3, 5)" in line and "(784,)" in line
    # a 28x28 picture for a model of 2-D points
    out, _ = moons_run
    png.write_png(tmp_path / "digit.png", np.zeros((28, 28), np.uint8))
    code, _, stderr = run_main(["predict", out / "model.gradkit", tmp_path / "digit.png"])
    assert code == cli.EXIT_RUNTIME
    assert "not grayscale images" in assert_one_error_line(stderr)
    # an image dataset for the same model
    fake_dataset(tmp_path / "mnist", 8, 8, seed=4)
    code, _, stderr = run_main(["evaluate", out / "model.gradkit", "--dataset", "mnist",
                                "--data-dir", tmp_path / "mnist"])
    assert code == cli.EXIT_RUNTIME
    line = assert_one_error_line(stderr)
    assert "samples of shape (28, 28)" in line and "inputs of shape (2,)" in line


@pytest.mark.untrusted
def test_pickled_npy_is_refused(tiny_model, tmp_path):
    path = tmp_path / "objects.npy"
    np.save(path, np.array([{"evil": 1}, None], dtype=object), allow_pickle=True)
    code, stdout, stderr = run_main(["predict", tiny_model, path])
    assert code == cli.EXIT_RUNTIME
    assert "pickled" in assert_one_error_line(stderr)
    assert stdout == ""


@pytest.mark.untrusted
def test_bad_input_files(tiny_model, tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    good = png.encode_png(np.zeros((28, 28), np.uint8))
    (tmp_path / "cut.png").write_bytes(good[:40])
    (tmp_path / "cut.idx").write_bytes(b"\x00\x00\x08\x03" + struct.pack(">III", 5, 28, 28))
    cases = {"notes.txt": "not an IDX, .npy or PNG file", "cut.png": "cut.png",
             "cut.idx": "cut.idx", "missing.npy": "no input file"}
    for name, pattern in cases.items():
        code, _, stderr = run_main(["predict", tiny_model, tmp_path / name])
        assert code == cli.EXIT_RUNTIME, name
        assert pattern in assert_one_error_line(stderr), name


@pytest.mark.bad_input
def test_out_is_a_file(tmp_path):
    (tmp_path / "file").write_text("x")
    code, _, stderr = run_main(["train", "--dataset", "xor", "--out", tmp_path / "file"])
    assert code == cli.EXIT_RUNTIME
    assert "not a directory" in assert_one_error_line(stderr)


def test_debug_reraises(tmp_path):
    with pytest.raises(FileNotFoundError):
        cli.main(["summary", str(tmp_path / "nope.gradkit"), "--debug"])
    with pytest.raises(FileNotFoundError):
        cli.main(["--debug", "summary", str(tmp_path / "nope.gradkit")])


@pytest.mark.fault
@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT to a child process is POSIX")
def test_ctrl_c_exits_130(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(ROOT), PYTHONUNBUFFERED="1", MPLBACKEND="Agg")
    proc = subprocess.Popen(
        [sys.executable, "-m", "gradkit", "train", "--dataset", "moons", "--samples", "20000",
         "--epochs", "1000", "--batch-size", "8", "--verbose", "2", "--out", tmp_path],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        for line in proc.stdout:
            if line.startswith("Epoch 1/1000"):
                break
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == cli.EXIT_INTERRUPTED
    assert "Traceback" not in stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("gradkit: interrupted (Ctrl-C) during epoch")
    assert not (tmp_path / "model.gradkit").exists()


# ---------------------------------------------------------------- PNG input
def _filtered_png(image: np.ndarray, filters) -> bytes:
    """Encode an 8-bit grayscale/RGB image with the given filter type per row (reference)."""
    h, w = image.shape[:2]
    bpp = 1 if image.ndim == 2 else image.shape[2]
    rows = image.reshape(h, -1).astype(int)
    raw = bytearray()
    for r in range(h):
        f = filters[r % len(filters)]
        raw.append(f)
        prev = rows[r - 1] if r else np.zeros_like(rows[0])
        for i, x in enumerate(rows[r]):
            a = rows[r][i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            pred = [0, a, b, (a + b) // 2, png._paeth(a, b, c)][f]
            raw.append((x - pred) % 256)
    ctype = 0 if bpp == 1 else 2

    def chunk(kind, payload):
        return (struct.pack(">I", len(payload)) + kind + payload
                + struct.pack(">I", zlib.crc32(kind + payload)))

    return (png.SIGNATURE + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, ctype, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(bytes(raw))) + chunk(b"IEND", b""))


@pytest.mark.parametrize("shape", [(9, 7), (6, 5, 3)])
def test_png_decoder_handles_every_filter(shape):
    image = np.random.default_rng(0).integers(0, 256, shape, dtype=np.uint8)
    for filters in ([0], [1], [2], [3], [4], [0, 1, 2, 3, 4]):
        assert np.array_equal(png.decode_png(_filtered_png(image, filters)), image), filters


@pytest.mark.parametrize("shape, dtype", [((5, 4), np.uint8), ((5, 4, 2), np.uint8),
                                          ((3, 6, 3), np.uint8), ((4, 4, 4), np.uint8),
                                          ((7, 3), np.uint16), ((2, 5, 3), np.uint16)])
def test_png_round_trip(tmp_path, shape, dtype):
    rng = np.random.default_rng(1)
    image = rng.integers(0, np.iinfo(dtype).max + 1, shape).astype(dtype)
    png.write_png(tmp_path / "a.png", image)
    back = png.read_png(tmp_path / "a.png")
    assert back.dtype == dtype and np.array_equal(back, image)
    if HAS_MPL and dtype == np.uint8 and (image.ndim == 2 or image.shape[-1] in (3, 4)):
        import matplotlib.image as mpimg

        ref = mpimg.imread(tmp_path / "a.png")
        assert np.allclose(ref, image / 255.0, atol=1e-6)


@pytest.mark.untrusted
def test_png_decoder_rejects_bad_files():
    good = png.encode_png(np.zeros((4, 4), np.uint8))
    with pytest.raises(png.PNGError, match="not a PNG"):
        png.decode_png(b"GIF89a" + good)
    with pytest.raises(png.PNGError, match="truncated"):
        png.decode_png(good[:30])
    bad_crc = bytearray(good)
    bad_crc[20] ^= 0xFF  # inside IHDR
    with pytest.raises(png.PNGError, match="CRC"):
        png.decode_png(bytes(bad_crc))
    ihdr = struct.pack(">IIBBBBB", 4, 4, 8, 0, 0, 0, 1)  # interlaced
    interlaced = good[:8] + struct.pack(">I", 13) + b"IHDR" + ihdr + \
        struct.pack(">I", zlib.crc32(b"IHDR" + ihdr)) + good[33:]
    with pytest.raises(png.PNGError, match="interlaced"):
        png.decode_png(interlaced)
    huge = struct.pack(">IIBBBBB", 1 << 20, 1 << 20, 8, 0, 0, 0, 0)
    bomb = good[:8] + struct.pack(">I", 13) + b"IHDR" + huge + \
        struct.pack(">I", zlib.crc32(b"IHDR" + huge)) + good[33:]
    with pytest.raises(png.PNGError, match="too large"):
        png.decode_png(bomb)


@pytest.mark.parametrize("use_matplotlib", [False, True])
def test_png_to_gray_same_with_either_reader(tmp_path, use_matplotlib):
    if use_matplotlib and not HAS_MPL:
        pytest.skip("matplotlib is not installed")
    rng = np.random.default_rng(2)
    rgba = rng.integers(0, 256, (6, 8, 4), dtype=np.uint8)
    png.write_png(tmp_path / "c.png", rgba)
    gray = cli._gray_from_png(str(tmp_path / "c.png"), use_matplotlib=use_matplotlib)
    f = rgba / 255.0
    want = (f[..., :3] @ [0.299, 0.587, 0.114]) * f[..., 3] + (1 - f[..., 3])
    assert gray.shape == (6, 8)
    assert np.allclose(gray, want, atol=1e-6)


def test_prepare_image_inverts_pads_and_resizes():
    digit = np.ones((40, 20))  # white page...
    digit[10:30, 8:12] = 0.0  # ...with a black stroke
    img, notes = cli.prepare_image(digit, (28, 28))
    assert img.shape == (28, 28) and img.dtype == np.float32
    assert notes == ["inverted (light background)", "resized 20x40 -> 28x28"]
    assert img[0, 0] == 0.0 and img.max() > 0.9  # black background, white stroke
    assert img[:, :7].max() == 0.0  # padded sides stay background
    same, notes = cli.prepare_image(np.zeros((28, 28)), (28, 28))
    assert notes == [] and same.shape == (28, 28)
    kept, notes = cli.prepare_image(np.ones((28, 28)), (28, 28), invert="no")
    assert notes == [] and kept.min() == 1.0
