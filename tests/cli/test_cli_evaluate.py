"""gradkit/cli/evaluate.py and saved_model.py: ``gradkit evaluate`` and the model file it reads."""

from __future__ import annotations

import re

import numpy as np
import pytest
from cli_helpers import assert_one_error_line, fake_dataset, final_accuracy, run_cli, run_main

from gradkit import cli


def test_evaluate_uses_the_runs_dataset(moons_run):
    out, stdout = moons_run
    code, text, stderr = run_main(["evaluate", out / "model.gradkit"])
    assert code == 0, stderr
    assert "moons" in text.lower()
    accuracy = float(re.search(r"^accuracy: (\d\.\d{4})$", text, re.M).group(1))
    assert accuracy == final_accuracy(stdout)  # same test split, rebuilt from metrics.json
    assert re.search(r"^loss: \d+\.\d{4}$", text, re.M)


def test_evaluate_options_change_the_test_set(moons_run):
    out, _ = moons_run
    code, text, stderr = run_main(["evaluate", out, "--samples", "500", "--seed", "7",
                                   "--limit", "30", "--batch-size", "7"])
    assert code == 0, stderr
    assert "Moons test set, 30 samples" in text


@pytest.mark.bad_input
def test_evaluate_refuses_a_seed_for_an_image_dataset(tiny_model, tmp_path):
    fake_dataset(tmp_path / "mnist", 8, 8, seed=5)
    args = ["evaluate", tiny_model, "--dataset", "mnist", "--data-dir", tmp_path / "mnist"]
    code, text, stderr = run_main(args)
    assert code == 0, stderr
    code, _, stderr = run_main([*args, "--seed", "3"])  # would change nothing: refused
    assert code == cli.EXIT_USAGE
    assert "--seed applies to the toy datasets" in assert_one_error_line(stderr)


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
def test_image_dataset_for_a_points_model(moons_run, tmp_path):
    out, _ = moons_run
    fake_dataset(tmp_path / "mnist", 8, 8, seed=4)
    code, _, stderr = run_main(["evaluate", out / "model.gradkit", "--dataset", "mnist",
                                "--data-dir", tmp_path / "mnist"])
    assert code == cli.EXIT_RUNTIME
    line = assert_one_error_line(stderr)
    assert "samples of shape (28, 28)" in line and "inputs of shape (2,)" in line


@pytest.mark.bad_input
def test_labels_beyond_the_models_outputs(moons_run, monkeypatch):
    out, _ = moons_run  # a 1-output (binary) model
    from gradkit.cli import evaluate

    load = evaluate.load_dataset

    def three_classes(*args, **kwargs):
        data = load(*args, **kwargs)
        data.y_test[0] = 2
        return data

    monkeypatch.setattr(evaluate, "load_dataset", three_classes)
    code, _, stderr = run_main(["evaluate", out, "--dataset", "xor"])
    assert code == cli.EXIT_RUNTIME
    assert "has labels up to 2; it was not trained on this dataset" in \
        assert_one_error_line(stderr)
