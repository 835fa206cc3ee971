"""gradkit/cli/summary.py: ``gradkit summary`` of a model file or a run directory."""

from __future__ import annotations

from cli_helpers import assert_one_error_line, run_main

from gradkit import cli


def test_summary(moons_run):
    out, _ = moons_run
    code, text, _ = run_main(["summary", out / "model.gradkit"])
    assert code == 0
    assert "Total params: 337" in text and "Dense" in text
    code, text2, _ = run_main(["summary", out])  # a run directory works too
    assert code == 0 and text2 == text


def test_summary_of_a_directory_without_a_model(tmp_path):
    code, _, stderr = run_main(["summary", tmp_path])
    assert code == cli.EXIT_RUNTIME
    assert "is a directory without a model.gradkit file" in assert_one_error_line(stderr)
