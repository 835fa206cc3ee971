"""Tests for gradkit.utils.progbar (no timing assertions: see benchmarks/bench_progbar.py)."""

import io
import re

import numpy as np
import pytest

from gradkit.utils.progbar import (
    Progbar,
    format_duration,
    format_time_per_unit,
    format_value,
)


class FakeTTY(io.StringIO):
    """A StringIO that claims to be a terminal."""

    def isatty(self):
        return True


FINAL_RE = re.compile(
    r"^(?P<count>\s*\d+/(\d+|Unknown)) (?P<bar>━+ )?(?P<elapsed>\d+s) "
    r"(?P<tpu>\d+(s|ms|us)/\w+)(?P<metrics>( - \w+: \S+)*)$"
)


def run_epoch(bar, steps, values_fn, final_values=None):
    for step in range(1, steps + 1):
        bar.update(step, values_fn(step), finalize=False)
    bar.update(steps, final_values, finalize=True)


# ---------------------------------------------------------------- formatting
@pytest.mark.parametrize(
    "value, text",
    [
        (0.42831, "0.4283"),
        (1.23449e-5, "1.2345e-05"),
        (-3.0e-7, "-3.0000e-07"),
        (0, "0.0000"),
        (0.0, "0.0000"),
        (12345.678, "12345.6780"),
        (np.float32(0.5), "0.5000"),
        (float("nan"), "nan"),
        ("warmup", "warmup"),
    ],
)
def test_format_value(value, text):
    assert format_value(value) == text


@pytest.mark.parametrize(
    "seconds, text",
    [(0.0031, "3ms/step"), (2.4, "2s/step"), (4.5e-5, "45us/step"), (0.0, "0s/step")],
)
def test_format_time_per_unit(seconds, text):
    assert format_time_per_unit(seconds) == text


def test_format_time_per_unit_custom_unit():
    assert format_time_per_unit(0.002, "sample") == "2ms/sample"


@pytest.mark.parametrize("seconds, text", [(7.9, "7s"), (65.2, "1:05"), (3723, "1:02:03")])
def test_format_duration(seconds, text):
    assert format_duration(seconds) == text


# ------------------------------------------------------------------- non-tty
def test_non_tty_prints_exactly_one_clean_line():
    out = io.StringIO()
    bar = Progbar(469, file=out)
    run_epoch(bar, 469, lambda s: {"accuracy": 0.8784, "loss": 0.4283})
    text = out.getvalue()
    assert text.endswith("\n")
    assert text.count("\n") == 1
    assert "\r" not in text and "\b" not in text and "\x1b" not in text
    line = text.rstrip("\n")
    m = FINAL_RE.match(line)
    assert m, line
    assert m.group("count") == "469/469"
    assert m.group("bar") == "━" * 20 + " "
    assert m.group("metrics") == " - accuracy: 0.8784 - loss: 0.4283"


def test_non_tty_default_finalize_at_target():
    out = io.StringIO()
    bar = Progbar(10, file=out)
    for step in range(1, 11):
        bar.update(step, {"loss": 1.0})
    assert out.getvalue().count("\n") == 1
    assert out.getvalue().startswith("10/10 ")


def test_non_tty_silent_until_finalize():
    out = io.StringIO()
    bar = Progbar(100, file=out, interval=0.0)
    for step in range(1, 50):
        bar.update(step, {"loss": 0.1})
    assert out.getvalue() == ""


def test_count_is_right_aligned_and_width_respected():
    out = io.StringIO()
    bar = Progbar(1000, width=10, file=out)
    bar.update(7, {"loss": 0.5}, finalize=True)  # early stop: partial bar
    line = out.getvalue().rstrip("\n")
    assert line.startswith("   7/1000 " + "─" * 10 + " ")  # 7/1000 of 10 cells: none done
    assert "ETA" not in line
    out = io.StringIO()
    Progbar(1000, width=10, file=out).update(500, finalize=True)
    assert out.getvalue().startswith(" 500/1000 " + "━" * 5 + "─" * 5 + " ")


def test_default_file_is_stdout(capsys):
    bar = Progbar(2)
    bar.update(1, {"loss": 1.0})
    bar.update(2, {"loss": 1.0})
    captured = capsys.readouterr().out
    assert captured.count("\n") == 1 and captured.startswith("2/2 ")


def test_values_as_list_of_pairs_and_add():
    out = io.StringIO()
    bar = Progbar(4, file=out)
    bar.add(2, [("loss", 1.0)])
    bar.add(2, [("loss", 3.0)])
    assert bar.seen_so_far == 4
    assert bar.averages == {"loss": 2.0}
    assert "loss: 2.0000" in out.getvalue()


# ----------------------------------------------------------------------- tty
def test_tty_redraws_with_carriage_return():
    out = FakeTTY()
    bar = Progbar(5, file=out, interval=0.0)
    run_epoch(bar, 5, lambda s: {"loss": 1.0 / s})
    text = out.getvalue()
    assert text.count("\r") >= 5
    assert text.endswith("\n") and text.count("\n") == 1
    frames = text.rstrip("\n").split("\r")[1:]
    assert "ETA: " in frames[0]
    assert frames[0].lstrip().startswith("1/5 ")
    final = frames[-1].rstrip()
    assert final.startswith("5/5 " + "━" * 20 + " ")
    assert "ETA" not in final and "\x1b" not in final


def test_tty_interval_throttles_redraws():
    out = FakeTTY()
    bar = Progbar(1000, file=out, interval=3600.0)
    run_epoch(bar, 1000, lambda s: {"loss": 0.1})
    # First update draws (nothing drawn before), then only the final one.
    assert out.getvalue().count("\r") == 2


def test_tty_pads_over_longer_previous_line():
    out = FakeTTY()
    bar = Progbar(3, file=out, interval=0.0)
    bar.update(1, {"a_very_long_metric_name": 1.0}, finalize=False)
    first = out.getvalue()
    bar.update(2, {"a_very_long_metric_name": 1.0}, finalize=False)
    frames = out.getvalue().split("\r")[1:]
    assert len(frames) == 2 and first
    visible = [re.sub(r"\x1b\[\d+m", "", f) for f in frames]
    assert len(visible[1]) >= len(visible[0])


def test_tty_dims_remaining_part_unless_no_color(monkeypatch):
    out = FakeTTY()
    Progbar(10, file=out, interval=0.0).update(5, {"loss": 1.0}, finalize=False)
    assert "━" * 10 + "\x1b[2m" + "━" * 10 + "\x1b[0m" in out.getvalue()
    monkeypatch.setenv("NO_COLOR", "1")
    out = FakeTTY()
    Progbar(10, file=out, interval=0.0).update(5, {"loss": 1.0}, finalize=False)
    assert "\x1b" not in out.getvalue()
    assert "━" * 10 + "─" * 10 + " ETA" in out.getvalue()


# ----------------------------------------------------------------- verbosity
@pytest.mark.parametrize("stream", [io.StringIO, FakeTTY])
def test_verbose_0_prints_nothing(stream):
    out = stream()
    bar = Progbar(10, verbose=0, file=out, interval=0.0)
    run_epoch(bar, 10, lambda s: {"loss": 0.5})
    assert out.getvalue() == ""
    assert bar.averages == {"loss": 0.5}


@pytest.mark.parametrize("stream", [io.StringIO, FakeTTY])
def test_verbose_2_prints_only_summary_line(stream):
    out = stream()
    bar = Progbar(469, verbose=2, file=out, interval=0.0)
    run_epoch(bar, 469, lambda s: {"accuracy": 0.8784, "loss": 0.4283})
    text = out.getvalue()
    assert text.count("\n") == 1 and "\r" not in text and "━" not in text
    assert re.fullmatch(
        r"469/469 - \d+s - \d+(s|ms|us)/step - accuracy: 0\.8784 - loss: 0\.4283\n", text
    ), text


def test_invalid_arguments():
    with pytest.raises(ValueError, match="verbose"):
        Progbar(10, verbose=3)
    with pytest.raises(ValueError, match="target"):
        Progbar(-1)
    with pytest.raises(TypeError, match="target"):
        Progbar(10.5)
    with pytest.raises(ValueError, match="width"):
        Progbar(10, width=0)


# ----------------------------------------------------------------- averaging
def test_values_are_averaged_weighted_by_units():
    out = io.StringIO()
    bar = Progbar(100, file=out, unit_name="sample")
    bar.update(10, {"loss": 1.0}, finalize=False)  # 10 samples at 1.0
    bar.update(40, {"loss": 2.0}, finalize=False)  # 30 samples at 2.0
    bar.update(100, {"loss": 0.5}, finalize=False)  # 60 samples at 0.5
    expected = (10 * 1.0 + 30 * 2.0 + 60 * 0.5) / 100
    assert bar.averages["loss"] == pytest.approx(expected)
    bar.update(100, finalize=True)
    line = out.getvalue()
    assert f"loss: {expected:.4f}" in line
    assert "/sample" in line


def test_repeated_current_counts_as_weight_one():
    bar = Progbar(10, verbose=0)
    bar.update(5, {"loss": 1.0})
    bar.update(5, {"loss": 4.0})
    assert bar.averages["loss"] == pytest.approx((5 * 1.0 + 1 * 4.0) / 6)


def test_numpy_scalars_and_arrays_are_averaged():
    bar = Progbar(4, verbose=0)
    bar.update(2, {"loss": np.float32(1.0), "acc": np.array([0.0, 1.0])})
    bar.update(4, {"loss": np.array(3.0), "acc": np.array(1.0)})
    assert bar.averages["loss"] == pytest.approx(2.0)
    assert bar.averages["acc"] == pytest.approx(0.75)


def test_stateful_metrics_show_latest_value():
    out = io.StringIO()
    bar = Progbar(3, file=out, stateful_metrics=["lr", "accuracy"])
    bar.update(1, {"loss": 3.0, "lr": 0.1, "accuracy": 0.2}, finalize=False)
    bar.update(2, {"loss": 2.0, "lr": 0.01, "accuracy": 0.5}, finalize=False)
    bar.update(3, {"loss": 1.0, "lr": 1.5e-5, "accuracy": 0.9}, finalize=False)
    bar.update(3, {"val_loss": 0.25}, finalize=True)
    assert bar.averages == {
        "loss": pytest.approx(2.0),
        "lr": 1.5e-5,
        "accuracy": 0.9,
        "val_loss": 0.25,
    }
    line = out.getvalue().rstrip("\n")
    assert line.endswith(" - loss: 2.0000 - lr: 1.5000e-05 - accuracy: 0.9000 - val_loss: 0.2500")


def test_non_numeric_values_shown_verbatim():
    out = io.StringIO()
    bar = Progbar(2, file=out)
    bar.update(1, {"phase": "warmup", "loss": 1.0})
    bar.update(2, {"phase": "main", "loss": 1.0})
    assert "phase: main - loss: 1.0000" in out.getvalue()


def test_metric_order_is_first_seen_order():
    bar = Progbar(3, verbose=0)
    bar.update(1, {"b": 1.0, "a": 1.0})
    bar.update(2, {"c": 1.0, "a": 1.0})
    assert list(bar.averages) == ["b", "a", "c"]


# ------------------------------------------------------------ unknown target
def test_unknown_target_non_tty():
    out = io.StringIO()
    bar = Progbar(None, file=out)
    for step in range(1, 124):
        bar.update(step, {"loss": 0.5})  # never finalizes on its own
    assert out.getvalue() == ""
    bar.update(123, finalize=True)
    line = out.getvalue().rstrip("\n")
    assert FINAL_RE.match(line), line
    assert line.startswith("123/Unknown ") and "━" not in line
    assert line.endswith(" - loss: 0.5000")


def test_unknown_target_tty_shows_elapsed_not_eta():
    out = FakeTTY()
    bar = Progbar(None, file=out, interval=0.0)
    bar.update(5, {"loss": 0.5})
    frame = out.getvalue().split("\r")[-1]
    assert frame.startswith("5/Unknown ") and "ETA" not in frame


def test_unknown_target_verbose_2():
    out = io.StringIO()
    bar = Progbar(None, verbose=2, file=out)
    bar.update(123, {"loss": 1e-6}, finalize=True)
    assert re.fullmatch(
        r"123/Unknown - \d+s - \d+(s|ms|us)/step - loss: 1\.0000e-06\n", out.getvalue()
    )


def test_zero_target():
    out = io.StringIO()
    Progbar(0, file=out).update(0)
    assert out.getvalue().startswith("0/0 " + "━" * 20)


def test_tty_live_line_trimmed_to_terminal_width():
    out = FakeTTY()
    bar = Progbar(100, file=out, interval=0.0)
    bar._columns = 60  # as if os.get_terminal_size() reported 60 columns
    values = {f"metric_{i}": 0.5 for i in range(10)}
    bar.update(10, values, finalize=False)
    live = out.getvalue().split("\r")[-1]
    assert len(re.sub(r"\x1b\[\d+m", "", live)) <= 59
    bar.update(100, values, finalize=True)  # the final line is never trimmed
    final = out.getvalue().split("\r")[-1]
    assert final.rstrip().endswith("metric_9: 0.5000")
