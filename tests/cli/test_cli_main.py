"""gradkit/cli/__init__.py and parser.py: help, version, usage errors (status 2), --debug."""

from __future__ import annotations

import pytest
from cli_helpers import ROOT, assert_one_error_line, run_cli, run_main

import gradkit as gk
from gradkit import cli


def test_help_of_every_command():
    code, out, _ = run_main(["--help"])
    assert code == 0
    for command in ("train", "evaluate", "predict", "summary", "report"):
        assert command in out
    code, out, _ = run_main(["train", "--help"])
    assert code == 0
    out = " ".join(out.split()).replace("- ", "-")  # undo argparse's wrapping (also at hyphens)
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


def test_console_script_entry_point_is_main():
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+

    with open(ROOT / "pyproject.toml", "rb") as f:
        scripts = tomllib.load(f)["project"]["scripts"]
    module, _, name = scripts["gradkit"].partition(":")
    assert (module, name) == ("gradkit.cli", "main")
    assert cli.main is __import__(module, fromlist=[name]).main


@pytest.mark.bad_input
@pytest.mark.parametrize("args, pattern", [
    (["train", "--dataset", "imagenet"], "unknown dataset 'imagenet'"),
    (["train", "--epochs", "-3"], "--epochs: must be >= 1, got -3"),
    (["train", "--epochs", "two"], "--epochs: expected an integer"),
    (["train", "--batch-size", "0"], "--batch-size: must be >= 1"),
    (["train", "--lr", "nan"], "--lr: must be in"),
    (["train", "--lr", "-0.1"], "--lr: must be in"),
    (["train", "--lr", "inf"], "--lr: must be in (0, 10], got inf"),
    (["train", "--noise", "10.5"], "--noise: must be in [0, 10], got 10.5"),
    (["train", "--samples", "9"], "--samples: must be >= 10, got 9"),
    (["train", "--seed", "-1"], "--seed: must be >= 0, got -1"),
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
    (["evaluate", "m.gradkit", "--verbose", "2"], "--verbose"),
    (["predict", "m.gradkit", "x.npy", "--invert", "maybe"], "invalid choice: 'maybe'"),
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


def test_debug_reraises(tmp_path):
    with pytest.raises(FileNotFoundError):
        cli.main(["summary", str(tmp_path / "nope.gradkit"), "--debug"])
    with pytest.raises(FileNotFoundError):
        cli.main(["--debug", "summary", str(tmp_path / "nope.gradkit")])


def test_keyboard_interrupt_outside_fit_exits_130(monkeypatch):
    from gradkit.cli import summary

    def interrupted(path, compile=True):  # noqa: A002
        raise KeyboardInterrupt

    monkeypatch.setattr(summary.saved_model, "load", interrupted)
    code, stdout, stderr = run_main(["summary", "m.gradkit"])
    assert code == cli.EXIT_INTERRUPTED
    assert stderr == "gradkit: interrupted (Ctrl-C)\n" and stdout == ""
