"""A saved model as the commands see it: the file, the run beside it, its input and output.

``gradkit train`` writes ``model.gradkit`` and ``metrics.json`` into one run
directory; ``evaluate``, ``predict`` and ``summary`` accept either the model
file or that directory, and read ``metrics.json`` for the dataset and seed
the model was trained with. The command line handles single-input
classifiers: outputs ``(None, classes)``, or ``(None, 1)`` for a sigmoid.
"""

from __future__ import annotations

import json
import os
import stat

import numpy as np

from gradkit.cli.errors import CLIError, one_line

MODEL_FILE = "model.gradkit"
EVAL_BATCH_SIZE = 256  # evaluation/prediction batches: larger is faster, memory stays small


def format_shape(shape) -> str:
    """``(784,)``, ``(None, 28, 28)``: a shape as Python prints a tuple, None for unknown."""
    return "(" + ", ".join("None" if d is None else str(d) for d in shape) + \
        ("," if len(shape) == 1 else "") + ")"


def load(path, compile=True):  # noqa: A002 - the keyword load_model uses
    """``(model, model_path)`` from a model file or a run directory holding one."""
    from gradkit.models import load_model

    if os.path.isdir(path):
        candidate = os.path.join(path, MODEL_FILE)
        if os.path.isfile(candidate):
            path = candidate
        else:
            raise CLIError(f"'{path}' is a directory without a {MODEL_FILE} file; pass the "
                           "model file itself")
    return load_model(path, compile=compile), path


MAX_RUN_INFO = 16 * 1024 * 1024  # bytes: metrics.json holds settings and a history


def run_info(model_path) -> dict:
    """The ``metrics.json`` written by ``gradkit train`` next to a model, or {} when absent.

    The file is an input like any other: the fields the commands use (dataset, seed,
    toy_samples, toy_noise) must have the types and ranges the command line itself
    accepts, or a :class:`CLIError` names the file, the field and the fix.
    """
    from gradkit.cli.data import DATASETS, SEED_MAX, TOY_NOISE_RANGE, TOY_SAMPLES

    path = os.path.join(os.path.dirname(os.path.abspath(model_path)), "metrics.json")
    try:
        st = os.stat(path)
    except OSError:
        return {}
    fix = "fix or delete it, or pass the settings as options"
    if not stat.S_ISREG(st.st_mode) or st.st_size > MAX_RUN_INFO:
        what = "not a regular file" if not stat.S_ISREG(st.st_mode) else \
            f"{st.st_size:,} bytes (at most {MAX_RUN_INFO:,})"
        raise CLIError(f"'{path}' beside the model is {what}; {fix}")
    try:
        with open(path, encoding="utf-8") as f:
            info = json.load(f)
    except (OSError, ValueError, RecursionError) as exc:
        raise CLIError(f"'{path}' beside the model is not valid JSON ({one_line(exc)}); "
                       f"{fix}") from None
    if not isinstance(info, dict):
        raise CLIError(f"'{path}' beside the model holds {type(info).__name__}, expected a "
                       f"JSON object; {fix}")
    checks = {"dataset": (lambda v: v in DATASETS, f"one of {', '.join(DATASETS)}"),
              "seed": (_int_in(0, SEED_MAX), f"an integer in [0, {SEED_MAX}]"),
              "toy_samples": (_int_in(*TOY_SAMPLES),
                              f"an integer in [{TOY_SAMPLES[0]}, {TOY_SAMPLES[1]}]"),
              "toy_noise": (_number_in(*TOY_NOISE_RANGE),
                            f"a number in [{TOY_NOISE_RANGE[0]:g}, {TOY_NOISE_RANGE[1]:g}]")}
    for key, (ok, expected) in checks.items():
        value = info.get(key)
        if value is not None and not ok(value):
            raise CLIError(f"'{path}' beside the model has {key} = {one_line(repr(value))[:80]}, "
                           f"expected {expected}; {fix}")
    return info


def _int_in(low, high):
    return lambda v: isinstance(v, int) and not isinstance(v, bool) and low <= v <= high


def _number_in(low, high):
    return lambda v: isinstance(v, (int, float)) and not isinstance(v, bool) and low <= v <= high


def input_shape(model) -> tuple:
    """The model's per-sample input shape, e.g. ``(784,)`` or ``(28, 28, 1)``."""
    inputs = getattr(model, "inputs", None)
    shape = inputs[0].shape if inputs else getattr(model, "_build_input_shape", None)
    if shape is None or (shape and isinstance(shape[0], (tuple, list))):
        raise CLIError("the model's input shape is unknown or it has several inputs; the "
                       "command line handles single-input models only")
    return tuple(shape)[1:]


def output_units(model, sample_shape) -> int:
    """The number of outputs of a classifier taking samples of ``sample_shape``."""
    out = model.compute_output_shape((None, *sample_shape))
    if not isinstance(out, tuple) or len(out) != 2 or not isinstance(out[1], int):
        raise CLIError(f"the model's output has shape {out}; the command line handles "
                       "classifiers with outputs of shape (None, classes) only")
    return out[1]


def fit_to_model(x: np.ndarray, sample_shape: tuple, what: str) -> np.ndarray:
    """Reshape a batch ``x`` to ``(N, *sample_shape)`` when the sizes agree, else fail."""
    if tuple(x.shape[1:]) == sample_shape:
        return x
    known = all(isinstance(d, int) for d in sample_shape)
    if known and int(np.prod(x.shape[1:])) == int(np.prod(sample_shape)):
        return x.reshape((len(x), *sample_shape))
    raise CLIError(f"{what} has samples of shape {format_shape(x.shape[1:])} but the model "
                   f"takes inputs of shape {format_shape(sample_shape)}")


def probabilities(model, x, batch_size):
    """Class probabilities ``(N, classes)``; binary sigmoid outputs become two columns."""
    out = np.asarray(model.predict(x, batch_size=batch_size), dtype=np.float64)
    if out.ndim == 2 and out.shape[1] == 1:
        out = np.concatenate([1.0 - out, out], axis=1)
    return out
