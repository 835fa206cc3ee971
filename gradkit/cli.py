"""The ``gradkit`` command line: train, evaluate and inspect models from a shell.

Commands::

    gradkit train     --dataset auto --model mlp --epochs 5 --out runs/main
    gradkit evaluate  runs/main/model.gradkit [--dataset fashion-mnist]
    gradkit predict   runs/main/model.gradkit digits.idx.gz | x.npy | digit.png
    gradkit summary   runs/main/model.gradkit

``python -m gradkit`` is the same program. ``gradkit COMMAND --help`` lists
every option with its default.

Errors print one line, ``gradkit: error: ...``, on stderr and exit with
status 2 (bad command line) or 1 (anything that went wrong at run time:
missing dataset, unreadable model, wrong input shape...). ``--debug`` shows
the full traceback instead. Ctrl-C exits with status 130.

Example:
    >>> from gradkit.cli import main
    >>> main(["train", "--dataset", "moons", "--out", "/tmp/run"])  # doctest: +SKIP
    0
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import platform
import shlex
import signal
import sys
import threading
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

import gradkit
from gradkit.callbacks import Callback, CSVLogger
from gradkit.datasets import DatasetError
from gradkit.models import ModelFileError
from gradkit.utils.png import PNGError

__all__ = ["EXIT_INTERRUPTED", "EXIT_RUNTIME", "EXIT_USAGE", "CLIError", "build_parser", "main"]

EXIT_RUNTIME = 1  #: exit status for errors at run time
EXIT_USAGE = 2  #: exit status for a bad command line
EXIT_INTERRUPTED = 130  #: exit status after Ctrl-C (128 + SIGINT)

IMAGE_DATASETS = ("mnist", "fashion-mnist")
TOY_DATASETS = ("circles", "moons", "xor")
DATASETS = ("auto", *IMAGE_DATASETS, *TOY_DATASETS)
MODELS = ("mlp", "cnn")
OPTIMIZERS = ("sgd", "rmsprop", "adam", "adamw", "nadam", "adagrad")
TOY_NOISE = {"circles": 0.1, "moons": 0.2, "xor": 0.2}
TOY_TEST_FRACTION = 0.2
MODEL_FILE = "model.gradkit"
EVAL_BATCH_SIZE = 256  # evaluation/prediction batches: larger is faster, memory stays small
SAMPLE_IMAGES = 32  # images drawn in samples.png


class CLIError(Exception):
    """An error with a message for the user and the exit status to return.

    Args:
        message: One sentence saying what went wrong and, where possible, how
            to fix it.
        code: The exit status (:data:`EXIT_RUNTIME` or :data:`EXIT_USAGE`).
    """

    def __init__(self, message: str, code: int = EXIT_RUNTIME):
        super().__init__(message)
        self.code = code


def _usage_error(message: str) -> CLIError:
    return CLIError(message, EXIT_USAGE)


# ---------------------------------------------------------------- argument parsing
class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one ``gradkit: error:`` line, not usage text."""

    def error(self, message):
        raise _usage_error(f"{message} (see '{self.prog} --help')")


class _Formatter(argparse.RawDescriptionHelpFormatter):
    """Keeps the hand-written line breaks of descriptions and epilogs."""

    def __init__(self, prog):
        super().__init__(prog, max_help_position=30)


def _int_type(minimum: int):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected an integer >= {minimum}, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be >= {minimum}, got {value}")
        return value

    parse.__name__ = "integer"
    return parse


def _float_type(low: float, high: float, low_open: bool, high_open: bool):
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        too_low = value <= low if low_open else value < low
        too_high = value >= high if high_open else value > high
        if not math.isfinite(value) or too_low or too_high:
            interval = f"{'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
            raise argparse.ArgumentTypeError(f"must be in {interval}, got {text}")
        return value

    parse.__name__ = "number"
    return parse


def _dataset_type(text: str) -> str:
    name = text.strip().lower().replace("_", "-")
    if name == "fashion":
        name = "fashion-mnist"
    if name not in DATASETS:
        raise argparse.ArgumentTypeError(
            f"unknown dataset {text!r}; choose from {', '.join(DATASETS)}")
    return name


def _optimizer_type(text: str) -> str:
    from gradkit import optimizers

    try:
        optimizers.get(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"unknown optimizer {text!r}; choose from {', '.join(OPTIMIZERS)}") from None
    return text.lower()


def _add_debug(parser, default):
    parser.add_argument("--debug", action="store_true", default=default,
                        help="show the full Python traceback on errors (for developers)")


def _add_dataset_option(p, *, train: bool):
    which = "train and test on" if train else "evaluate on"
    p.add_argument("--dataset", type=_dataset_type, metavar="NAME",
                   default="auto" if train else None,
                   help=f"data to {which}: {', '.join(DATASETS)}. 'auto' picks MNIST if its "
                        "full training set is found on this machine (never downloaded), "
                        "else Fashion-MNIST"
                        + (" (default: %(default)s)" if train else
                           " (default: the dataset recorded in metrics.json next to MODEL, "
                           "else auto)"))


def _add_data_source_options(p, *, train: bool):
    """Options shared by ``train`` and ``evaluate`` on where the data comes from."""
    g = p.add_argument_group("data sources")
    g.add_argument("--data-dir", metavar="DIR",
                   help="directory holding the four IDX files of MNIST or Fashion-MNIST "
                        "(only this directory is searched; default: the standard places, "
                        "see gradkit.datasets)")
    g.add_argument("--no-download", action="store_true",
                   help="never download MNIST/Fashion-MNIST; fail if the files are not found")
    from_run = "" if train else ", or the value in metrics.json"
    g.add_argument("--samples", type=_int_type(10), metavar="N",
                   help="toy datasets: number of points generated, 20%% of them held out "
                        f"for testing (default: 1000{from_run})")
    g.add_argument("--noise", type=_float_type(0.0, 10.0, False, False), metavar="X",
                   help="toy datasets: standard deviation of the noise (default: circles "
                        f"{TOY_NOISE['circles']}, moons {TOY_NOISE['moons']}, xor "
                        f"{TOY_NOISE['xor']}{from_run})")


def _add_seed_option(p, *, train: bool):
    p.add_argument("--seed", type=_int_type(0), metavar="S", default=0 if train else None,
                   help="random seed: weights, shuffling and the toy data (default: "
                        "%(default)s)" if train else
                        "seed of the toy data's points and train/test split (default: the "
                        "one in metrics.json, else 0)")


def build_parser() -> argparse.ArgumentParser:
    """Build the ``gradkit`` argument parser with its four sub-commands.

    Returns:
        The parser; ``parse_args`` on it sets ``func`` to the command's handler.

    Example:
        >>> args = build_parser().parse_args(["summary", "model.gradkit"])
        >>> args.command, args.model
        ('summary', 'model.gradkit')
    """
    parser = _Parser(
        prog="gradkit", formatter_class=_Formatter,
        description="gradkit: train, evaluate and use neural networks written in NumPy.",
        epilog="Run 'gradkit COMMAND --help' for a command's options.\n\n"
               "Exit status: 0 success, 1 error at run time, 2 bad command line, "
               "130 interrupted (Ctrl-C).")
    parser.add_argument("--version", action="version", version=f"gradkit {gradkit.__version__}")
    _add_debug(parser, False)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    # ---- train
    p = sub.add_parser(
        "train", formatter_class=_Formatter, help="train a model and save it with its metrics",
        description="Train a model on a dataset, evaluate it on the test set and write the "
                    "run to --out.",
        epilog="Files written to --out:\n"
               f"  {MODEL_FILE}   the trained model (gradkit.load_model)\n"
               "  metrics.json    dataset used, settings, test loss/accuracy, history, times\n"
               "  history.csv     loss and metrics per epoch\n"
               "  history.png     training curves (needs matplotlib)\n"
               "  samples.png     test images with predictions (image datasets; matplotlib)\n"
               "  boundary.png    decision boundary (toy datasets; matplotlib)\n\n"
               "The last line printed is 'test accuracy: 0.XXXX'.\n\n"
               "Example:\n"
               "  gradkit train --dataset auto --model mlp --epochs 5 --batch-size 128 \\\n"
               "      --optimizer rmsprop --lr 0.001 --out runs/main")
    _add_dataset_option(p, train=True)
    p.add_argument("--model", choices=MODELS, default="mlp",
                   help="mlp: Dense(512, relu) -> Dense(10, softmax) for images, or "
                        "Dense(16, tanh) -> Dense(16, tanh) -> Dense(1, sigmoid) for the toy "
                        "sets; cnn (images only): Conv2D(32, 3) -> MaxPool(2) -> "
                        "Conv2D(64, 3) -> MaxPool(2) -> Flatten -> Dense(10, softmax) "
                        "(default: %(default)s)")
    p.add_argument("--epochs", type=_int_type(1), default=5, metavar="N",
                   help="passes over the training data (default: %(default)s)")
    p.add_argument("--batch-size", type=_int_type(1), default=32, metavar="B",
                   help="samples per gradient step (default: %(default)s)")
    p.add_argument("--optimizer", type=_optimizer_type, default="rmsprop", metavar="NAME",
                   help=f"{', '.join(OPTIMIZERS)} (default: %(default)s)")
    p.add_argument("--lr", type=_float_type(0.0, 10.0, True, False), metavar="X",
                   help="learning rate (default: the optimizer's own, as in Keras: 0.01 for "
                        "sgd, 0.001 for the others)")
    p.add_argument("--validation-split", type=_float_type(0.0, 1.0, False, True), default=0.0,
                   metavar="F", help="fraction of the training samples (the last ones) held "
                                     "out to validate after each epoch (default: %(default)s)")
    p.add_argument("--limit", type=_int_type(1), metavar="N",
                   help="train on the first N training samples only, for quick runs "
                        "(default: all)")
    p.add_argument("--test-limit", type=_int_type(1), metavar="N",
                   help="evaluate on the first N test samples only (default: all)")
    p.add_argument("--out", metavar="DIR",
                   help="directory for the run's files, created if needed; existing files "
                        "are replaced (default: runs/DATASET-MODEL)")
    _add_seed_option(p, train=True)
    p.add_argument("--verbose", type=int, choices=(0, 1, 2), default=1,
                   help="0 quiet, 1 progress bar, 2 one line per epoch (default: %(default)s)")
    _add_debug(p, argparse.SUPPRESS)
    _add_data_source_options(p, train=True)
    p.set_defaults(func=cmd_train)

    # ---- evaluate
    p = sub.add_parser(
        "evaluate", formatter_class=_Formatter, help="print a saved model's test loss and accuracy",
        description="Evaluate a saved model on a dataset's test split and print its loss and "
                    "accuracy.",
        epilog="Example:\n  gradkit evaluate runs/main/model.gradkit --dataset fashion-mnist")
    p.add_argument("model", metavar="MODEL", help="model file written by 'gradkit train' or "
                                                   "model.save()")
    _add_dataset_option(p, train=False)
    p.add_argument("--limit", type=_int_type(1), metavar="N",
                   help="evaluate on the first N test samples only (default: all)")
    p.add_argument("--batch-size", type=_int_type(1), default=EVAL_BATCH_SIZE, metavar="B",
                   help="samples per evaluation step (default: %(default)s)")
    _add_seed_option(p, train=False)
    p.add_argument("--verbose", type=int, choices=(0, 1), default=0,
                   help="1 shows a progress bar (default: %(default)s)")
    _add_debug(p, argparse.SUPPRESS)
    _add_data_source_options(p, train=False)
    p.set_defaults(func=cmd_evaluate)

    # ---- predict
    p = sub.add_parser(
        "predict", formatter_class=_Formatter, help="classify the samples in a file",
        description="Run a saved model on the samples in FILE and print one tab-separated "
                    "line per sample: index, predicted class, class name (if known) and its "
                    "probability.",
        epilog="FILE may be:\n"
               "  an IDX file (raw or .gz), e.g. t10k-images-idx3-ubyte.gz\n"
               "  a .npy array (loaded with allow_pickle=False): one sample or a batch\n"
               "  a PNG image: converted to grayscale, padded to a square, resized to the\n"
               "    model's input size (28x28) and inverted if its background is light\n"
               "    (MNIST digits are white on black)\n"
               "Integer pixels (0-255) are scaled to [0, 1], as in training.\n\n"
               "Example:\n  gradkit predict runs/main/model.gradkit digit.png")
    p.add_argument("model", metavar="MODEL", help="model file written by 'gradkit train' or "
                                                   "model.save()")
    p.add_argument("file", metavar="FILE", help="IDX, .npy or PNG file with the input samples")
    p.add_argument("--class-names", choices=("auto", "fashion-mnist", "none"), default="auto",
                   help="print class names: 'auto' uses Fashion-MNIST's names when "
                        "metrics.json next to MODEL says the model was trained on it "
                        "(default: %(default)s)")
    p.add_argument("--invert", choices=("auto", "yes", "no"), default="auto",
                   help="PNG images: invert the gray levels; 'auto' inverts when the border "
                        "is light (default: %(default)s)")
    p.add_argument("--limit", type=_int_type(1), metavar="N",
                   help="only the first N samples (default: all)")
    p.add_argument("--batch-size", type=_int_type(1), default=EVAL_BATCH_SIZE, metavar="B",
                   help="samples per prediction step (default: %(default)s)")
    _add_debug(p, argparse.SUPPRESS)
    p.set_defaults(func=cmd_predict)

    # ---- summary
    p = sub.add_parser(
        "summary", formatter_class=_Formatter, help="print a saved model's layers and sizes",
        description="Print model.summary() of a saved model: its layers, output shapes and "
                    "parameter counts.",
        epilog="Example:\n  gradkit summary runs/main/model.gradkit")
    p.add_argument("model", metavar="MODEL", help="model file written by 'gradkit train' or "
                                                   "model.save()")
    _add_debug(p, argparse.SUPPRESS)
    p.set_defaults(func=cmd_summary)
    return parser


# ---------------------------------------------------------------- data
@dataclass
class Data:
    """A dataset split, ready for a model, with where it came from."""

    name: str  # the dataset actually used, e.g. "fashion-mnist"
    title: str  # for messages, e.g. "Fashion-MNIST"
    x_train: np.ndarray | None
    y_train: np.ndarray | None
    x_test: np.ndarray
    y_test: np.ndarray
    note: str = ""  # why this dataset (for --dataset auto)
    details: dict = field(default_factory=dict)  # toy settings, for metrics.json

    @property
    def is_image(self) -> bool:
        return self.name in IMAGE_DATASETS

    @property
    def class_names(self):
        if self.name == "fashion-mnist":
            from gradkit.datasets import fashion_mnist

            return list(fashion_mnist.CLASS_NAMES)
        return None


def _dataset_module(name):
    from gradkit.datasets import fashion_mnist, mnist

    return {"mnist": (mnist, "MNIST"), "fashion-mnist": (fashion_mnist, "Fashion-MNIST")}[name]


def _one_line(text) -> str:
    """Fold a multi-line message (e.g. a DatasetError's list of places) into one line."""
    lines = [line.strip() for line in str(text).splitlines() if line.strip()]
    if not lines:
        return ""
    out = lines[0]
    for line in lines[1:]:
        out += (" " if out.endswith(":") else "; ") + line.lstrip("- ").strip()
    return out


def _auto_choice(data_dir):
    """Return (name, loaded MNIST or None, note) for ``--dataset auto``."""
    from gradkit.datasets import mnist

    if data_dir is not None:
        raise _usage_error("--data-dir needs an explicit --dataset mnist or fashion-mnist "
                           "(both use the same file names, so 'auto' can't tell them apart)")
    try:
        loaded = mnist.load_data(download=False, quiet=True)
    except DatasetError as exc:
        places = [line.strip()[2:] for line in str(exc).splitlines()
                  if line.strip().startswith("- ") and "download" not in line]
        reason = "; ".join(places) if places else _one_line(exc)
        return ("fashion-mnist", None,
                f"auto: using Fashion-MNIST because the full MNIST training set was not found "
                f"on this machine ({reason}); auto never downloads MNIST")
    return "mnist", loaded, "auto: using MNIST because its full training set was found locally"


def _load_images(name, data_dir, download, test_only, preloaded=None):
    module, title = _dataset_module(name)
    if preloaded is not None:
        (x_train, y_train), (x_test, y_test) = preloaded
    elif test_only:
        x_train = y_train = None
        x_test, y_test = module.load_test_data(data_dir, download=download)
    else:
        (x_train, y_train), (x_test, y_test) = module.load_data(data_dir, download=download)
    if test_only:
        x_train = y_train = None
    return title, x_train, y_train, x_test, y_test


def _make_toy(name, samples, noise, seed):
    from gradkit.datasets import make_circles, make_moons, make_xor
    from gradkit.utils import train_test_split

    samples = 1000 if samples is None else samples
    noise = TOY_NOISE[name] if noise is None else noise
    if name == "circles":
        x, y = make_circles(samples, noise=noise, factor=0.5, seed=seed)
    elif name == "moons":
        x, y = make_moons(samples, noise=noise, seed=seed)
    else:
        x, y = make_xor(samples, noise=noise, seed=seed)
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=TOY_TEST_FRACTION, seed=seed, stratify=y)
    details = {"samples": samples, "noise": noise, "test_fraction": TOY_TEST_FRACTION}
    return x_train, y_train, x_test, y_test, details


def load_dataset(name, *, data_dir=None, download=True, samples=None, noise=None, seed=0,
                 test_only=False, train_limit=None, test_limit=None) -> Data:
    """Load (or generate) a dataset by its command-line name.

    Images are scaled to float32 in [0, 1] with shape ``(N, 28, 28)``; toy sets
    are float32 ``(N, 2)`` points with int64 labels, split 80/20 with ``seed``.

    Args:
        name: One of :data:`DATASETS`.
        data_dir: Directory with the IDX files (image datasets only).
        download: Allow downloading MNIST/Fashion-MNIST when not found.
        samples: Toy datasets: points generated (default 1000).
        noise: Toy datasets: noise level (default :data:`TOY_NOISE`).
        seed: Toy datasets: seed of the points and of the split.
        test_only: Load only the test split (``x_train`` is then None).
        train_limit: Keep only the first ``train_limit`` training samples.
        test_limit: Keep only the first ``test_limit`` test samples.

    Returns:
        A :class:`Data`.

    Raises:
        CLIError: Options that don't apply to this dataset.
        DatasetError: The files were not found or are invalid.
    """
    note, preloaded = "", None
    if name in TOY_DATASETS:
        if data_dir is not None:
            raise _usage_error(f"--data-dir applies to mnist and fashion-mnist, not {name}")
        x_train, y_train, x_test, y_test, details = _make_toy(name, samples, noise, seed)
        if test_only:
            x_train = y_train = None
        return Data(name, name.capitalize(), *_first(x_train, y_train, train_limit),
                    *_first(x_test, y_test, test_limit), details=details)
    if samples is not None or noise is not None:
        raise _usage_error("--samples and --noise apply to the toy datasets "
                           f"({', '.join(TOY_DATASETS)}) only")
    if name == "auto":
        name, preloaded, note = _auto_choice(data_dir)
    if data_dir is not None and not os.path.isdir(data_dir):
        what = "does not exist" if not os.path.exists(data_dir) else "is not a directory"
        raise CLIError(f"--data-dir '{data_dir}' {what}")
    try:
        title, x_train, y_train, x_test, y_test = _load_images(name, data_dir, download,
                                                               test_only, preloaded)
    except DatasetError as exc:
        if data_dir is None:
            raise
        message = _one_line(exc).replace(f"path={os.fspath(data_dir)!r}", f"--data-dir "
                                         f"'{data_dir}'")
        message = message.replace("or leave path=None to search the standard places and "
                                  "download them", "or leave out --data-dir to search the "
                                  "standard places")
        raise DatasetError(message) from None

    x_train, y_train = _first(x_train, y_train, train_limit)
    x_test, y_test = _first(x_test, y_test, test_limit)

    def scale(x):  # after the limits: only the samples used are converted
        return None if x is None else x.astype(np.float32) / np.float32(255.0)

    return Data(name, title, scale(x_train), y_train, scale(x_test), y_test, note=note)


def _first(x, y, limit):
    if x is None or limit is None:
        return x, y
    return x[:limit], y[:limit]


def _fit_to_model(x: np.ndarray, sample_shape: tuple, what: str) -> np.ndarray:
    """Reshape a batch ``x`` to ``(N, *sample_shape)`` when the sizes agree, else fail."""
    if tuple(x.shape[1:]) == sample_shape:
        return x
    known = all(isinstance(d, int) for d in sample_shape)
    if known and int(np.prod(x.shape[1:])) == int(np.prod(sample_shape)):
        return x.reshape((len(x), *sample_shape))
    raise CLIError(f"{what} has samples of shape {_shape(x.shape[1:])} but the model takes "
                   f"inputs of shape {_shape(sample_shape)}")


def _shape(shape) -> str:
    return "(" + ", ".join("None" if d is None else str(d) for d in shape) + \
        ("," if len(shape) == 1 else "") + ")"


# ---------------------------------------------------------------- models
def build_model(kind: str, data: Data, optimizer: str, lr: float | None):
    """Build and compile the ``mlp`` or ``cnn`` model for ``data``.

    Args:
        kind: ``"mlp"`` or ``"cnn"``.
        data: The dataset (images or 2-D toy points).
        optimizer: Optimizer name.
        lr: Learning rate, or None for the optimizer's default.

    Returns:
        A compiled :class:`gradkit.models.Sequential`.
    """
    from gradkit import layers as L
    from gradkit import optimizers
    from gradkit.models import Sequential

    if data.is_image and kind == "mlp":
        model = Sequential([
            L.Dense(512, activation="relu", input_shape=(784,)),
            L.Dense(10, activation="softmax"),
        ], name="mlp")  # fmt: skip
    elif data.is_image:
        model = Sequential([
            L.Conv2D(32, 3, activation="relu", input_shape=(28, 28, 1)),
            L.MaxPooling2D(2),
            L.Conv2D(64, 3, activation="relu"),
            L.MaxPooling2D(2),
            L.Flatten(),
            L.Dense(10, activation="softmax"),
        ], name="cnn")  # fmt: skip
    elif kind == "mlp":
        model = Sequential([
            L.Dense(16, activation="tanh", input_shape=(2,)),
            L.Dense(16, activation="tanh"),
            L.Dense(1, activation="sigmoid"),
        ], name="mlp")  # fmt: skip
    else:
        raise _usage_error(f"--model cnn needs an image dataset ({', '.join(IMAGE_DATASETS)} "
                           f"or auto); use --model mlp for {data.name}")
    opt = (optimizers.get({"class_name": optimizer, "config": {"learning_rate": lr}})
           if lr is not None else optimizers.get(optimizer))
    loss = "sparse_categorical_crossentropy" if data.is_image else "binary_crossentropy"
    model.compile(optimizer=opt, loss=loss, metrics=["accuracy"])
    return model


def _input_shape(model) -> tuple:
    """The model's per-sample input shape, e.g. ``(784,)`` or ``(28, 28, 1)``."""
    inputs = getattr(model, "inputs", None)
    shape = inputs[0].shape if inputs else getattr(model, "_build_input_shape", None)
    if shape is None or (shape and isinstance(shape[0], (tuple, list))):
        raise CLIError("the model's input shape is unknown or it has several inputs; the "
                       "command line handles single-input models only")
    return tuple(shape)[1:]


def _output_units(model, sample_shape) -> int:
    out = model.compute_output_shape((None, *sample_shape))
    if not isinstance(out, tuple) or len(out) != 2 or not isinstance(out[1], int):
        raise CLIError(f"the model's output has shape {out}; the command line handles "
                       "classifiers with outputs of shape (None, classes) only")
    return out[1]


def _load_model(path, compile=True):  # noqa: A002 - the keyword load_model uses
    from gradkit.models import load_model

    if os.path.isdir(path):
        candidate = os.path.join(path, MODEL_FILE)
        if os.path.isfile(candidate):
            path = candidate
        else:
            raise CLIError(f"'{path}' is a directory without a {MODEL_FILE} file; pass the "
                           "model file itself")
    return load_model(path, compile=compile), path


def _run_info(model_path) -> dict:
    """The ``metrics.json`` written by ``gradkit train`` next to a model, or {}."""
    path = os.path.join(os.path.dirname(os.path.abspath(model_path)), "metrics.json")
    try:
        with open(path, encoding="utf-8") as f:
            info = json.load(f)
    except (OSError, ValueError):
        return {}
    return info if isinstance(info, dict) else {}


def _probabilities(model, x, batch_size):
    """Class probabilities ``(N, classes)``; binary sigmoid outputs become two columns."""
    out = np.asarray(model.predict(x, batch_size=batch_size), dtype=np.float64)
    if out.ndim == 2 and out.shape[1] == 1:
        out = np.concatenate([1.0 - out, out], axis=1)
    return out


# ---------------------------------------------------------------- train
class _StopOnCtrlC(Callback):
    """Turn the first Ctrl-C during ``fit`` into a clean stop at the end of the batch.

    ``fit`` already stops gracefully on Ctrl-C, printing its own notice; this
    callback takes the signal over when the first epoch begins, so that the
    command can say so in its single ``gradkit: interrupted`` line instead. A
    second Ctrl-C stops at once. ``fit`` puts the previous handler back when
    it returns.
    """

    def __init__(self):
        super().__init__()
        self.hit = False
        self._installed = False

    def _handler(self, signum, frame):
        if self.hit:
            raise KeyboardInterrupt
        self.hit = True
        self.model.stop_training = True

    def on_epoch_begin(self, epoch, logs=None):
        if not self._installed and threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGINT, self._handler)
            self._installed = True


def _jsonable(value):
    """Python floats for JSON; NaN and infinities become null (JSON has no NaN)."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        value = float(value)
        return value if math.isfinite(value) else None
    return value


def _write_json(path: Path, obj) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(_jsonable(obj), f, indent=2, allow_nan=False)
            f.write("\n")
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def _prepare_out_dir(out) -> Path:
    path = Path(out).expanduser()
    if path.exists() and not path.is_dir():
        raise CLIError(f"--out '{out}' exists and is not a directory")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CLIError(f"cannot create the output directory '{out}': "
                       f"{exc.strerror or exc}") from None
    if not os.access(path, os.W_OK):
        raise CLIError(f"the output directory '{out}' is not writable")
    return path


def _draw_plots(out: Path, history, model, data: Data, probs) -> list[str]:
    """Draw history.png and samples.png or boundary.png; returns the files written."""
    import importlib.util

    if importlib.util.find_spec("matplotlib") is None:
        print("note: matplotlib is not installed, so no plots were drawn "
              "(pip install 'gradkit[plot]' to get history.png and "
              f"{'samples.png' if data.is_image else 'boundary.png'})")
        return []
    from gradkit import plot

    written = []
    jobs = [("history.png", lambda p: plot.plot_history(history, save=p))]
    if data.is_image:
        n = len(probs)
        jobs.append(("samples.png", lambda p: plot.plot_images(
            data.x_test[:n], labels=data.y_test[:n], probabilities=probs[:n],
            class_names=data.class_names, save=p)))
    else:
        jobs.append(("boundary.png", lambda p: plot.plot_decision_boundary(
            lambda pts: model.predict(pts, batch_size=8192), data.x_test, data.y_test,
            save=p, title=f"{data.title}: decision boundary (test set)")))
    for name, draw in jobs:
        try:
            fig = draw(out / name)
        except Exception as exc:  # plots are extras: a failure must not lose the run
            _warn(f"could not draw {name}: {type(exc).__name__}: {_one_line(exc)}")
            continue
        del fig
        written.append(name)
    return written


def cmd_train(args) -> int:
    """``gradkit train``: train, evaluate, save the model, metrics, history and plots."""
    from gradkit.utils import set_random_seed

    if args.model == "cnn" and args.dataset in TOY_DATASETS:
        raise _usage_error(f"--model cnn needs an image dataset ({', '.join(IMAGE_DATASETS)} "
                           f"or auto); use --model mlp for {args.dataset}")
    out = _prepare_out_dir(args.out) if args.out else None
    set_random_seed(args.seed)
    data = load_dataset(args.dataset, data_dir=args.data_dir, download=not args.no_download,
                        samples=args.samples, noise=args.noise, seed=args.seed,
                        train_limit=args.limit, test_limit=args.test_limit)
    if out is None:
        out = _prepare_out_dir(os.path.join("runs", f"{data.name}-{args.model}"))
    if data.note:
        print(data.note)
    x_train, y_train = data.x_train, data.y_train
    x_test, y_test = data.x_test, data.y_test
    if data.is_image:
        sample = (784,) if args.model == "mlp" else (28, 28, 1)
        x_train = x_train.reshape((len(x_train), *sample))
        x_test = x_test.reshape((len(x_test), *sample))
    n_val = int(len(x_train) - int(len(x_train) * (1.0 - args.validation_split))) \
        if args.validation_split else 0
    if len(x_train) - n_val < 1:
        raise _usage_error(f"--validation-split {args.validation_split} leaves no training "
                           f"samples out of {len(x_train)}")
    kind = "images" if data.is_image else "points"
    print(f"dataset: {data.title}: {len(x_train) - n_val} training"
          + (f" + {n_val} validation" if n_val else "")
          + f" {kind}, {len(x_test)} test {kind}")

    model = build_model(args.model, data, args.optimizer, args.lr)
    if args.verbose:
        model.summary()
    stopper = _StopOnCtrlC()
    csv_path = out / "history.csv"
    t0 = time.perf_counter()
    history = model.fit(x_train, y_train, batch_size=args.batch_size, epochs=args.epochs,
                        verbose=args.verbose, validation_split=args.validation_split,
                        callbacks=[CSVLogger(csv_path), stopper])
    train_time = time.perf_counter() - t0
    if stopper.hit or len(history.epoch) < args.epochs:
        print(f"gradkit: interrupted (Ctrl-C) during epoch {max(len(history.epoch), 1)}/"
              f"{args.epochs}; no model saved (the history so far is in {csv_path})",
              file=sys.stderr)
        return EXIT_INTERRUPTED

    t0 = time.perf_counter()
    results = model.evaluate(x_test, y_test, batch_size=max(args.batch_size, EVAL_BATCH_SIZE),
                             verbose=0, return_dict=True)
    eval_time = time.perf_counter() - t0
    test_loss, test_acc = float(results["loss"]), float(results["accuracy"])

    model_path = out / MODEL_FILE
    model.save(model_path)
    probs = _probabilities(model, x_test[:SAMPLE_IMAGES], EVAL_BATCH_SIZE) \
        if data.is_image else None
    files = [MODEL_FILE, "metrics.json", "history.csv"]
    files += _draw_plots(out, history, model, data, probs)
    opt_config = model.optimizer.get_config()
    metrics = {
        "gradkit_version": gradkit.__version__,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "command": shlex.join(["gradkit", *args.argv]),
        "dataset": data.name,
        "dataset_requested": args.dataset,
        "dataset_note": data.note or None,
        **{f"toy_{k}": v for k, v in data.details.items()},
        "model": args.model,
        "params": model.count_params(),
        "optimizer": args.optimizer,
        "learning_rate": opt_config.get("learning_rate"),
        "batch_size": args.batch_size,
        "epochs": args.epochs,
        "seed": args.seed,
        "validation_split": args.validation_split,
        "train_samples": len(x_train) - n_val,
        "validation_samples": n_val,
        "test_samples": len(x_test),
        "test_loss": test_loss,
        "test_accuracy": test_acc,
        "history": {k: list(v) for k, v in history.history.items()},
        "training_time_s": round(train_time, 3),
        "evaluation_time_s": round(eval_time, 3),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "files": files,
    }
    _write_json(out / "metrics.json", metrics)
    print(f"saved to {out}/: {', '.join(files)}")
    print(f"training time: {train_time:.2f} s")
    print(f"test loss: {test_loss:.4f}")
    print(f"test accuracy: {test_acc:.4f}")
    return 0


# ---------------------------------------------------------------- evaluate
def cmd_evaluate(args) -> int:
    """``gradkit evaluate``: print a saved model's loss and accuracy on a test set."""
    model, path = _load_model(args.model, compile=True)
    info = _run_info(path)
    name = args.dataset or info.get("dataset") or "auto"
    if name not in DATASETS:
        name = "auto"
    toy = name in TOY_DATASETS
    seed = args.seed if args.seed is not None else int(info.get("seed") or 0)
    from_run = toy and info.get("dataset") == name
    samples = args.samples if args.samples is not None or not from_run \
        else info.get("toy_samples")
    noise = args.noise if args.noise is not None or not from_run else info.get("toy_noise")
    data = load_dataset(name, data_dir=args.data_dir, download=not args.no_download,
                        samples=samples, noise=noise, seed=seed, test_only=True,
                        test_limit=args.limit)
    if data.note:
        print(data.note)
    sample_shape = _input_shape(model)
    units = _output_units(model, sample_shape)
    x, y = data.x_test, data.y_test
    x = _fit_to_model(x, sample_shape, f"the {data.title} test set")
    classes = max(units, 2)
    if int(y.max()) >= classes:
        raise CLIError(f"the model has {units} output(s) but {data.title} has labels up to "
                       f"{int(y.max())}; it was not trained on this dataset")
    if not model.compiled:
        loss = "binary_crossentropy" if units == 1 else "sparse_categorical_crossentropy"
        model.compile(optimizer="rmsprop", loss=loss, metrics=["accuracy"])
    results = model.evaluate(x, y, batch_size=args.batch_size, verbose=args.verbose,
                             return_dict=True)
    accuracy = results.get("accuracy")
    if accuracy is None:
        probs = _probabilities(model, x, args.batch_size)
        accuracy = float(np.mean(probs.argmax(axis=1) == y))
    print(f"dataset: {data.title} test set, {len(x)} samples")
    print(f"loss: {float(results['loss']):.4f}")
    print(f"accuracy: {float(accuracy):.4f}")
    return 0


# ---------------------------------------------------------------- predict
_NPY_MAGIC = b"\x93NUMPY"
_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _sniff(path: str) -> str:
    """Tell ``"npy"``, ``"png"`` or ``"idx"`` from a file's first bytes."""
    try:
        with open(path, "rb") as f:
            head = f.read(8)
    except IsADirectoryError:
        raise CLIError(f"'{path}' is a directory, not an input file") from None
    if head.startswith(_NPY_MAGIC):
        return "npy"
    if head.startswith(_PNG_MAGIC):
        return "png"
    if head[:2] in (b"\x1f\x8b", b"\x00\x00"):
        return "idx"
    if path.lower().endswith(".npz"):
        raise CLIError(f"'{path}' is a .npz archive; save one array with numpy.save (.npy)")
    raise CLIError(f"'{path}' is not an IDX, .npy or PNG file (unrecognised first bytes "
                   f"{head[:4]!r})")


def _load_npy(path: str) -> np.ndarray:
    try:
        return np.load(path, allow_pickle=False)
    except ValueError as exc:
        if "allow_pickle" in str(exc):
            raise CLIError(f"'{path}' holds pickled Python objects; gradkit refuses to load "
                           "them (unpickling can run arbitrary code): save a plain numeric "
                           "array instead") from None
        raise CLIError(f"'{path}' is not a valid .npy file ({_one_line(exc)})") from None


def _gray_from_png(path: str, use_matplotlib: bool | None = None) -> np.ndarray:
    """Read a PNG as float64 grayscale in [0, 1], shape ``(H, W)``.

    matplotlib's reader is used when it is installed (and ``use_matplotlib`` is
    not False), else :func:`gradkit.utils.png.read_png`. Transparent pixels
    are composited over white.
    """
    from gradkit.utils import png

    arr = None
    if use_matplotlib is not False:
        try:
            import matplotlib.image as mpimg
        except ImportError:
            if use_matplotlib:
                raise
        else:
            try:
                arr = np.asarray(mpimg.imread(path, format="png"), dtype=np.float64)
            except Exception as exc:  # Pillow raises many kinds (even SyntaxError)
                raise CLIError(f"'{path}': cannot read the PNG image "
                               f"({type(exc).__name__}: {_one_line(exc)})") from None
    if arr is None:
        raw = png.read_png(path)
        arr = raw.astype(np.float64) / float(np.iinfo(raw.dtype).max)
    if arr.ndim == 3:
        channels = arr.shape[2]
        alpha = arr[..., -1] if channels in (2, 4) else None
        color = arr[..., :3] if channels >= 3 else arr[..., :1]
        gray = color @ np.array([0.299, 0.587, 0.114]) if color.shape[2] == 3 else color[..., 0]
        if alpha is not None:
            gray = gray * alpha + (1.0 - alpha)
        arr = gray
    if arr.ndim != 2:
        raise CLIError(f"'{path}': unexpected image array of shape {arr.shape}")
    return np.clip(arr, 0.0, 1.0)


def _area_weights(n_out: int, n_in: int) -> np.ndarray:
    """``(n_out, n_in)`` weights: each output cell averages the input it covers."""
    edges = np.arange(n_out + 1) * (n_in / n_out)
    j = np.arange(n_in)[None, :]
    overlap = np.minimum(edges[1:, None], j + 1) - np.maximum(edges[:-1, None], j)
    overlap = np.clip(overlap, 0.0, None)
    return overlap / overlap.sum(axis=1, keepdims=True)


def prepare_image(gray: np.ndarray, size: tuple[int, int], invert: str = "auto"):
    """Make a grayscale image look like an MNIST sample of ``size``.

    The image is padded to the target aspect ratio with its background (the
    median of its border), resized by area averaging, and inverted when
    ``invert`` is ``"yes"``, or ``"auto"`` and the background is light
    (MNIST digits are white on black).

    Args:
        gray: ``(H, W)`` floats in [0, 1].
        size: ``(height, width)`` wanted, e.g. ``(28, 28)``.
        invert: ``"auto"``, ``"yes"`` or ``"no"``.

    Returns:
        ``(image, notes)``: float32 ``size`` image in [0, 1] and a list of
        what was done, for the user.

    Example:
        >>> img, notes = prepare_image(np.ones((56, 56)), (28, 28))
        >>> img.shape, float(img.max()), notes
        ((28, 28), 0.0, ['inverted (light background)', 'resized 56x56 -> 28x28'])
    """
    notes = []
    h, w = gray.shape
    border = np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])
    background = float(np.median(border))
    if invert == "yes" or (invert == "auto" and background > 0.5):
        gray = 1.0 - gray
        background = 1.0 - background
        if invert == "auto":
            notes.append("inverted (light background)")
    th, tw = size
    if (h, w) != (th, tw):
        if h * tw != w * th:  # pad to the target aspect ratio, content centred
            new_h, new_w = max(h, math.ceil(w * th / tw)), max(w, math.ceil(h * tw / th))
            top, left = (new_h - h) // 2, (new_w - w) // 2
            canvas = np.full((new_h, new_w), background)
            canvas[top:top + h, left:left + w] = gray
            gray = canvas
        gray = _area_weights(th, gray.shape[0]) @ gray @ _area_weights(tw, gray.shape[1]).T
        notes.append(f"resized {w}x{h} -> {tw}x{th}")
    return np.clip(gray, 0.0, 1.0).astype(np.float32), notes


def _image_size(sample_shape: tuple) -> tuple[int, int]:
    """The (height, width) of the images a model takes, or fail."""
    if len(sample_shape) == 3 and sample_shape[2] == 1:
        return sample_shape[0], sample_shape[1]
    if len(sample_shape) == 2:
        return sample_shape
    if len(sample_shape) == 1 and sample_shape[0] and math.isqrt(sample_shape[0]) ** 2 == \
            sample_shape[0] and sample_shape[0] >= 16:
        side = math.isqrt(sample_shape[0])
        return side, side
    raise CLIError(f"the model takes inputs of shape {_shape(sample_shape)}, not grayscale "
                   "images, so a PNG can't be fed to it")


def _samples_from_array(arr: np.ndarray, sample_shape: tuple, source: str):
    """Turn a loaded array into a float32 batch ``(N, *sample_shape)``; returns (batch, notes)."""
    if arr.dtype.kind not in "biuf":
        raise CLIError(f"{source} holds {arr.dtype} data; expected numbers")
    size = int(np.prod(sample_shape))
    images = size >= 16  # not a toy 2-feature model: inputs are pixels
    if arr.ndim >= 1 and tuple(arr.shape[1:]) == sample_shape:
        batch = arr
    elif tuple(arr.shape) == sample_shape:
        batch = arr[None]
    elif arr.ndim >= 2 and int(np.prod(arr.shape[1:])) == size:
        batch = arr.reshape((len(arr), *sample_shape))
    elif arr.size == size and arr.ndim >= 2:
        batch = arr.reshape((1, *sample_shape))
    else:
        hint = " (or N 28x28 images)" if size == 784 else ""
        raise CLIError(f"{source} holds an array of shape {_shape(arr.shape)}, which does not "
                       f"fit the model: it takes samples of shape {_shape(sample_shape)}; give "
                       f"one sample or a batch of shape (N, {', '.join(map(str, sample_shape))})"
                       f"{hint}")
    if len(batch) == 0:
        raise CLIError(f"{source} holds no samples")
    batch = batch.astype(np.float32)
    if not np.all(np.isfinite(batch)):
        raise CLIError(f"{source} holds NaN or infinite values")
    notes = []
    if images and arr.dtype.kind in "iu":
        batch = batch / np.float32(255.0)  # 0-255 pixels, as the model was trained on [0, 1]
    elif images and float(batch.max()) > 1.5:
        batch = batch / np.float32(255.0)
        notes.append("float values above 1 taken as 0-255 pixels and scaled to [0, 1]")
    return batch, notes


def load_inputs(path: str, model_sample_shape: tuple, invert: str = "auto"):
    """Read FILE for ``gradkit predict`` as a float32 batch for the model.

    Args:
        path: IDX (raw or gzip), ``.npy`` or PNG file.
        model_sample_shape: The model's per-sample input shape.
        invert: PNG only: ``"auto"``, ``"yes"`` or ``"no"`` (see :func:`prepare_image`).

    Returns:
        ``(batch, notes)``: the samples, shape ``(N, *model_sample_shape)``,
        and notes about conversions made.

    Raises:
        CLIError: Unknown format, pickled data, or a shape the model can't take.
        DatasetError, PNGError: A corrupt IDX or PNG file.
    """
    kind = _sniff(path)
    if kind == "png":
        size = _image_size(model_sample_shape)
        image, notes = prepare_image(_gray_from_png(path), size, invert)
        return image.reshape((1, *model_sample_shape)), notes
    if kind == "npy":
        arr = _load_npy(path)
    else:
        from gradkit.datasets import read_idx

        arr = read_idx(path)
    return _samples_from_array(arr, model_sample_shape, f"'{path}'")


def cmd_predict(args) -> int:
    """``gradkit predict``: classify the samples of an IDX, .npy or PNG file."""
    model, path = _load_model(args.model, compile=False)
    sample_shape = _input_shape(model)
    units = _output_units(model, sample_shape)
    if not os.path.exists(args.file):
        raise CLIError(f"no input file at '{args.file}'")
    x, notes = load_inputs(args.file, sample_shape, args.invert)
    for note in notes:
        print(f"note: {args.file}: {note}", file=sys.stderr)
    if args.limit is not None:
        x = x[: args.limit]
    names = None
    if args.class_names == "fashion-mnist" or (
            args.class_names == "auto" and _run_info(path).get("dataset") == "fashion-mnist"):
        from gradkit.datasets import fashion_mnist

        names = fashion_mnist.CLASS_NAMES
        if units != len(names):
            names = None
    probs = _probabilities(model, x, args.batch_size)
    predicted = probs.argmax(axis=1)
    print("index\tclass\t" + ("name\t" if names else "") + "probability")
    for i, (c, p) in enumerate(zip(predicted, probs[np.arange(len(probs)), predicted])):
        name = f"{names[c]}\t" if names else ""
        print(f"{i}\t{c}\t{name}{p:.4f}")
    return 0


# ---------------------------------------------------------------- summary
def cmd_summary(args) -> int:
    """``gradkit summary``: print ``model.summary()`` of a saved model."""
    model, _ = _load_model(args.model, compile=False)
    model.summary()
    return 0


# ---------------------------------------------------------------- entry point
def _warn(message: str) -> None:
    print(f"gradkit: warning: {message}", file=sys.stderr)


def _show_warning(message, category, filename, lineno, file=None, line=None):
    _warn(_one_line(message))


def _error_line(exc: BaseException) -> str:
    if isinstance(exc, (CLIError, DatasetError, ModelFileError, PNGError)):
        return _one_line(exc)
    if isinstance(exc, OSError) and exc.filename is not None and exc.strerror:
        return f"{exc.filename}: {exc.strerror}"
    if isinstance(exc, (ValueError, TypeError, OSError)):
        return _one_line(exc) or type(exc).__name__
    return (f"unexpected {type(exc).__name__}: {_one_line(exc)} (run again with --debug "
            "for the traceback, and please report it)")


def main(argv=None) -> int:
    """Run the command line.

    Args:
        argv: The arguments, without the program name (default: ``sys.argv[1:]``).

    Returns:
        The exit status: 0, :data:`EXIT_RUNTIME`, :data:`EXIT_USAGE` or
        :data:`EXIT_INTERRUPTED`. ``--help`` and ``--version`` return 0.

    Example:
        >>> main(["summary", "runs/main/model.gradkit"])  # doctest: +SKIP
    """
    argv = sys.argv[1:] if argv is None else [os.fspath(a) for a in argv]
    args = None
    try:
        with warnings.catch_warnings():
            warnings.showwarning = _show_warning
            try:
                args = build_parser().parse_args(argv)
            except SystemExit as exc:  # --help, --version
                return exc.code if isinstance(exc.code, int) else 0
            if args.command is None:
                raise _usage_error("a command is required: train, evaluate, predict or "
                                   "summary (see 'gradkit --help')")
            args.argv = argv
            return args.func(args)
    except KeyboardInterrupt:
        print("gradkit: interrupted (Ctrl-C)", file=sys.stderr)
        return EXIT_INTERRUPTED
    except CLIError as exc:
        if exc.code != EXIT_USAGE and args is not None and args.debug:
            raise
        line = _error_line(exc)
        if exc.code == EXIT_USAGE and "--help" not in line:
            command = f"gradkit {args.command}" if args is not None else "gradkit"
            line += f" (see '{command} --help')"
        print(f"gradkit: error: {line}", file=sys.stderr)
        return exc.code
    except Exception as exc:
        if args is not None and args.debug:
            raise
        print(f"gradkit: error: {_error_line(exc)}", file=sys.stderr)
        return EXIT_RUNTIME
    finally:
        sys.stdout.flush()


if __name__ == "__main__":  # pragma: no cover - python -m gradkit.cli
    sys.exit(main())
