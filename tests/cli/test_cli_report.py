"""gradkit/cli/report.py and train's --tensorboard: the HTML report, the TensorBoard logs."""

from __future__ import annotations

import json
import re

import pytest
from cli_helpers import assert_one_error_line, needs_fashion, run_main

from gradkit import cli
from gradkit.utils import tensorboard

needs_tensorboard = pytest.mark.skipif(not tensorboard.available(),
                                       reason="install gradkit[tensorboard]")


def test_report_of_a_toy_run(moons_run):
    out, _ = moons_run
    code, text, stderr = run_main(["report", out])
    assert code == 0, stderr
    page = (out / "report.html").read_text(encoding="utf-8")
    assert text.strip() == f"report written to {out / 'report.html'}"
    assert 'id="curves"><h2>Training curves</h2>\n<div class="svg"><svg' in page
    assert '<table class="cm">' in page and "Accuracy" in page
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:|//)""", page)  # offline
    assert "<script" not in page


@needs_fashion
def test_report_of_an_image_run_shows_class_names(fashion_run, tmp_path):
    out, _ = fashion_run
    target = tmp_path / "r.html"
    code, _, stderr = run_main(["report", out / "model.gradkit", "--out", target,
                                "--limit", "200"])
    assert code == 0, stderr
    page = target.read_text(encoding="utf-8")
    assert "Ankle boot" in page and "data:image/png;base64," in page


def test_report_no_data_has_curves_only(moons_run, tmp_path):
    out, _ = moons_run
    code, _, stderr = run_main(["report", out, "--no-data", "--out", tmp_path / "c.html"])
    assert code == 0, stderr
    page = (tmp_path / "c.html").read_text(encoding="utf-8")
    assert "<svg" in page and '<table class="cm">' not in page


def test_report_refuses_a_damaged_history(moons_run, tmp_path):
    out, _ = moons_run
    run = tmp_path / "run"
    run.mkdir()
    (run / "model.gradkit").write_bytes((out / "model.gradkit").read_bytes())
    info = json.loads((out / "metrics.json").read_text())
    info["history"] = {"loss": ["1", None]}
    (run / "metrics.json").write_text(json.dumps(info))
    code, _, stderr = run_main(["report", run])
    assert code == cli.EXIT_RUNTIME
    assert "history entry 'loss' is not a list of numbers" in assert_one_error_line(stderr)


def test_report_offers_no_toy_options():
    code, _, stderr = run_main(["report", "x", "--samples", "10"])
    assert code == cli.EXIT_USAGE and "--samples" in stderr


@needs_tensorboard
def test_train_writes_tensorboard_logs(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    code, text, stderr = run_main(["train", "--dataset", "xor", "--epochs", "3",
                                   "--out", tmp_path, "--verbose", "0", "--tensorboard"])
    assert code == 0, stderr
    assert "tensorboard/" in text
    acc = EventAccumulator(str(tmp_path / "tensorboard" / "train"))
    acc.Reload()
    losses = [e.value for e in acc.Scalars("epoch_loss")]
    history = json.loads((tmp_path / "metrics.json").read_text())["history"]
    assert losses == pytest.approx(history["loss"], rel=1e-6)


def test_no_tensorboard_writes_none(tmp_path):
    code, text, stderr = run_main(["train", "--dataset", "xor", "--epochs", "1",
                                   "--out", tmp_path, "--verbose", "0", "--no-tensorboard"])
    assert code == 0, stderr
    assert not (tmp_path / "tensorboard").exists() and "tensorboard/" not in text


def test_tensorboard_required_but_missing(tmp_path, monkeypatch):
    monkeypatch.setattr(tensorboard, "available", lambda: False)
    code, _, stderr = run_main(["train", "--dataset", "xor", "--epochs", "1",
                                "--out", tmp_path, "--verbose", "0", "--tensorboard"])
    assert code == cli.EXIT_RUNTIME
    assert "install gradkit[tensorboard]" in assert_one_error_line(stderr)
