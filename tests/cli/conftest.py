"""Fixtures of the command-line tests: runs trained once and shared by every file here."""

from __future__ import annotations

import pytest
from cli_helpers import FASHION_DIR, HAS_FASHION, run_cli, run_main

import gradkit as gk


@pytest.fixture(scope="session")
def moons_run(tmp_path_factory):
    """A run directory of ``gradkit train`` on moons; returns (directory, stdout)."""
    out = tmp_path_factory.mktemp("moons")
    code, stdout, stderr = run_main(["train", "--dataset", "moons", "--epochs", "8",
                                     "--optimizer", "adam", "--lr", "0.02", "--batch-size", "16",
                                     "--out", out, "--verbose", "2", "--seed", "3"])
    assert code == 0, stderr
    return out, stdout


@pytest.fixture(scope="session")
def fashion_run(tmp_path_factory):
    """One epoch of the MLP on 2000 Fashion-MNIST images, through ``python -m gradkit``."""
    if not HAS_FASHION:
        pytest.skip(f"{FASHION_DIR} is missing")
    out = tmp_path_factory.mktemp("fashion")
    proc = run_cli(["train", "--dataset", "fashion-mnist", "--model", "mlp", "--epochs", "1",
                    "--limit", "2000", "--batch-size", "64", "--out", out, "--verbose", "2"])
    assert proc.returncode == 0, proc.stderr
    return out, proc.stdout


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory):
    """A small saved 784 -> 10 model (no training needed for error cases)."""
    path = tmp_path_factory.mktemp("tiny") / "tiny.gradkit"
    model = gk.Sequential([gk.layers.Dense(10, activation="softmax", input_shape=(784,))])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.save(path)
    return path


@pytest.fixture
def data_home(tmp_path, monkeypatch):
    """Point the dataset search at an empty tmp tree; downloads disabled."""
    monkeypatch.setenv("GRADKIT_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("GRADKIT_MIRRORS", "")
    (tmp_path / "data").mkdir()
    return tmp_path / "data"
