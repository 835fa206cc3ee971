"""The README's code runs as written (on small stand-in data)."""

import re
from pathlib import Path

import numpy as np

README = Path(__file__).resolve().parents[1] / "README.md"


def blocks():
    return re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def test_pytorch_style_quickstart_runs():
    code = next(b for b in blocks() if "model.parameters()" in b)
    rng = np.random.default_rng(0)
    env = {"x_train": rng.random((256, 784), dtype=np.float32),
           "y_train": rng.integers(0, 10, 256)}
    exec(compile(code, "README:pytorch-style", "exec"), env)
    assert np.isfinite(float(env["loss"]))


def test_tensorflow_style_quickstart_runs():
    code = next(b for b in blocks() if "import gradkit as tf" in b)
    rng = np.random.default_rng(0)
    env = {"x_batch": rng.random((32, 784), dtype=np.float32),
           "y_batch": rng.integers(0, 10, 32)}
    exec(compile(code, "README:tf-style", "exec"), env)
    assert env["grad"].shape == (784, 10)


def test_optim_and_save_section_runs(tmp_path, monkeypatch):
    code = next(b for b in blocks() if "optim.lr_scheduler.StepLR" in b)
    monkeypatch.chdir(tmp_path)
    env = {}
    exec(compile(code, "README:optim", "exec"), env)
    assert env["ckpt"]["sched"]["last_epoch"] == 30
    assert env["ckpt"]["opt"]["param_groups"][0]["lr"] == env["opt"].param_groups[0]["lr"]
