"""The ``gradkit`` argument parser: five sub-commands, their options and how values are checked.

A bad value is refused while parsing, with the option's name and what it
takes (``argument --epochs: must be >= 1, got -3``), so the commands get only
values they can use. Errors are raised as a usage :class:`CLIError` (exit
status 2), one line, instead of argparse's usage text.
"""

from __future__ import annotations

import argparse

import gradkit
from gradkit.cli.data import DATASETS, SEED_MAX, TOY_NOISE, TOY_NOISE_RANGE, TOY_SAMPLES
from gradkit.cli.errors import usage_error
from gradkit.cli.evaluate import cmd_evaluate
from gradkit.cli.predict import cmd_predict
from gradkit.cli.report import cmd_report
from gradkit.cli.saved_model import EVAL_BATCH_SIZE, MODEL_FILE
from gradkit.cli.summary import cmd_summary
from gradkit.cli.train import cmd_train
from gradkit.utils.validation import check_int, check_number

MODELS = ("mlp", "cnn")
OPTIMIZERS = ("sgd", "rmsprop", "adam", "adamw", "nadam", "adagrad")


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one ``gradkit: error:`` line, not usage text."""

    def error(self, message):
        raise usage_error(f"{message} (see '{self.prog} --help')")


class _Formatter(argparse.RawDescriptionHelpFormatter):
    """Keeps the hand-written line breaks of descriptions and epilogs."""

    def __init__(self, prog):
        super().__init__(prog, max_help_position=30)


def _int_type(minimum: int, maximum: int | None = None):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected an integer >= {minimum}, got {text!r}") from None
        try:
            return check_int("gradkit", "value", value, minimum=minimum, maximum=maximum)
        except ValueError:
            bound = f">= {minimum}" if value < minimum else f"<= {maximum}"
            raise argparse.ArgumentTypeError(f"must be {bound}, got {value}") from None

    parse.__name__ = "integer"
    return parse


def _float_type(low: float, high: float, low_open: bool, high_open: bool):
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        try:
            return check_number("gradkit", "value", value, low, high, min_open=low_open,
                                max_open=high_open)
        except ValueError:
            interval = f"{'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
            raise argparse.ArgumentTypeError(f"must be in {interval}, got {text}") from None

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


def _add_data_source_options(p, *, train: bool, toy: bool = True):
    """Options shared by the commands on where the data comes from (``toy``: --samples and
    --noise too)."""
    g = p.add_argument_group("data sources")
    g.add_argument("--data-dir", metavar="DIR",
                   help="directory holding the four IDX files of MNIST or Fashion-MNIST "
                        "(only this directory is searched; default: the standard places, "
                        "see gradkit.datasets)")
    g.add_argument("--no-download", action="store_true",
                   help="never download MNIST/Fashion-MNIST; fail if the files are not found")
    if not toy:
        return
    from_run = "" if train else ", or the value in metrics.json"
    g.add_argument("--samples", type=_int_type(*TOY_SAMPLES), metavar="N",
                   help="toy datasets: number of points generated, 20%% of them held out "
                        f"for testing (default: 1000{from_run})")
    g.add_argument("--noise", type=_float_type(*TOY_NOISE_RANGE, False, False), metavar="X",
                   help="toy datasets: standard deviation of the noise (default: circles "
                        f"{TOY_NOISE['circles']}, moons {TOY_NOISE['moons']}, xor "
                        f"{TOY_NOISE['xor']}{from_run})")


def _add_seed_option(p, *, train: bool):
    p.add_argument("--seed", type=_int_type(0, SEED_MAX), metavar="S", default=0 if train else None,
                   help="random seed: weights, shuffling and the toy data (default: "
                        "%(default)s)" if train else
                        "seed of the toy data's points and train/test split (default: the "
                        "one in metrics.json, else 0)")


def _add_limit_option(p, what, flag="--limit"):
    """``flag N``: only the first N samples are used (``what`` says which, for the help)."""
    p.add_argument(flag, type=_int_type(1), metavar="N", help=f"{what} (default: all)")


def _add_batch_size_option(p, default, step):
    """``--batch-size B``: samples per ``step`` (gradient, evaluation, prediction) step."""
    p.add_argument("--batch-size", type=_int_type(1), default=default, metavar="B",
                   help=f"samples per {step} step (default: %(default)s)")


_COMMANDS = []  # (name, handler, texts, add_options, data_sources), in build_parser's order


def _command(name, handler, data_sources=None, **texts):
    """Register the decorated ``add_options(p)`` as sub-command ``name``, run by ``handler``.

    ``texts``: the parser's help, description and epilog. :func:`build_parser` adds the
    command's own options, then --debug, then (when ``data_sources`` gives the keyword
    arguments of :func:`_add_data_source_options`) the data-source options.
    """
    def register(add_options):
        _COMMANDS.append((name, handler, texts, add_options, data_sources))
        return add_options
    return register


def _add_model_argument(p):
    p.add_argument("model", metavar="MODEL", help="model file written by 'gradkit train' or "
                                                   "model.save()")


@_command("train", cmd_train, data_sources={"train": True},
          help="train a model and save it with its metrics",
          description="Train a model on a dataset, evaluate it on the test set and write the "
                      "run to --out.",
          epilog="Files written to --out:\n"
                 f"  {MODEL_FILE}   the trained model (gradkit.load_model)\n"
                 "  metrics.json    dataset used, settings, test loss/accuracy, history, times\n"
                 "  history.csv     loss and metrics per epoch\n"
                 "  history.png     training curves (needs matplotlib)\n"
                 "  samples.png     test images with predictions (image datasets; matplotlib)\n"
                 "  boundary.png    decision boundary (toy datasets; matplotlib)\n"
                 "  tensorboard/    TensorBoard logs (needs gradkit[tensorboard])\n\n"
                 "The last line printed is 'test accuracy: 0.XXXX'.\n\n"
                 "Example:\n"
                 "  gradkit train --dataset auto --model mlp --epochs 5 --batch-size 128 \\\n"
                 "      --optimizer rmsprop --lr 0.001 --out runs/main")
def _train_options(p):
    _add_dataset_option(p, train=True)
    p.add_argument("--model", choices=MODELS, default="mlp",
                   help="mlp: Dense(512, relu) -> Dense(10, softmax) for images, or "
                        "Dense(16, tanh) -> Dense(16, tanh) -> Dense(1, sigmoid) for the toy "
                        "sets; cnn (images only): Conv2D(32, 3) -> MaxPool(2) -> "
                        "Conv2D(64, 3) -> MaxPool(2) -> Flatten -> Dense(10, softmax) "
                        "(default: %(default)s)")
    p.add_argument("--epochs", type=_int_type(1), default=5, metavar="N",
                   help="passes over the training data (default: %(default)s)")
    _add_batch_size_option(p, 32, "gradient")
    p.add_argument("--optimizer", type=_optimizer_type, default="rmsprop", metavar="NAME",
                   help=f"{', '.join(OPTIMIZERS)} (default: %(default)s)")
    p.add_argument("--lr", type=_float_type(0.0, 10.0, True, False), metavar="X",
                   help="learning rate (default: the optimizer's own, as in Keras: 0.01 for "
                        "sgd, 0.001 for the others)")
    p.add_argument("--validation-split", type=_float_type(0.0, 1.0, False, True), default=0.0,
                   metavar="F", help="fraction of the training samples (the last ones) held "
                                     "out to validate after each epoch (default: %(default)s)")
    _add_limit_option(p, "train on the first N training samples only, for quick runs")
    _add_limit_option(p, "evaluate on the first N test samples only", "--test-limit")
    p.add_argument("--out", metavar="DIR",
                   help="directory for the run's files, created if needed; existing files "
                        "are replaced (default: runs/DATASET-MODEL)")
    _add_seed_option(p, train=True)
    p.add_argument("--verbose", type=int, choices=(0, 1, 2), default=1,
                   help="0 quiet, 1 progress bar, 2 one line per epoch (default: %(default)s)")
    p.add_argument("--nproc", type=_int_type(1), default=1, metavar="N",
                   help="train data-parallel on N processes of this machine through MPI's "
                        "mpirun (needs Open MPI and gradkit[mpi]); --batch-size is then the "
                        "global batch (default: %(default)s)")
    p.add_argument("--tensorboard", action=argparse.BooleanOptionalAction, default=None,
                   help="write TensorBoard logs to DIR/tensorboard (view them with "
                        "'tensorboard --logdir DIR'); default: on when gradkit[tensorboard] "
                        "is installed")


@_command("evaluate", cmd_evaluate, data_sources={"train": False},
          help="print a saved model's test loss and accuracy",
          description="Evaluate a saved model on a dataset's test split and print its loss and "
                      "accuracy.",
          epilog="Example:\n  gradkit evaluate runs/main/model.gradkit --dataset fashion-mnist")
def _evaluate_options(p):
    _add_model_argument(p)
    _add_dataset_option(p, train=False)
    _add_limit_option(p, "evaluate on the first N test samples only")
    _add_batch_size_option(p, EVAL_BATCH_SIZE, "evaluation")
    _add_seed_option(p, train=False)
    p.add_argument("--verbose", type=int, choices=(0, 1), default=0,
                   help="1 shows a progress bar (default: %(default)s)")


@_command("predict", cmd_predict,
          help="classify the samples in a file",
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
def _predict_options(p):
    _add_model_argument(p)
    p.add_argument("file", metavar="FILE", help="IDX, .npy or PNG file with the input samples")
    p.add_argument("--class-names", choices=("auto", "fashion-mnist", "none"), default="auto",
                   help="print class names: 'auto' uses Fashion-MNIST's names when "
                        "metrics.json next to MODEL says the model was trained on it "
                        "(default: %(default)s)")
    p.add_argument("--invert", choices=("auto", "yes", "no"), default="auto",
                   help="PNG images: invert the gray levels; 'auto' inverts when the border "
                        "is light (default: %(default)s)")
    _add_limit_option(p, "only the first N samples")
    _add_batch_size_option(p, EVAL_BATCH_SIZE, "prediction")


@_command("summary", cmd_summary,
          help="print a saved model's layers and sizes",
          description="Print model.summary() of a saved model: its layers, output shapes and "
                      "parameter counts.",
          epilog="Example:\n  gradkit summary runs/main/model.gradkit")
def _summary_options(p):
    _add_model_argument(p)


@_command("report", cmd_report, data_sources={"train": False, "toy": False},
          help="write an offline HTML report of a training run",
          description="Write one self-contained HTML page for a run directory written by "
                      "'gradkit train': training curves, the model graph, and on the run's "
                      "test set a confusion matrix and sample predictions.",
          epilog="Example:\n  gradkit report runs/main      # writes runs/main/report.html")
def _report_options(p):
    p.add_argument("run", metavar="RUN", help="the run directory (or its model file)")
    p.add_argument("--out", metavar="FILE", help="the HTML file (default: RUN/report.html)")
    _add_limit_option(p, "use the first N test samples only")
    p.add_argument("--no-data", action="store_true",
                   help="skip the test set: curves and model graph only")


def build_parser() -> argparse.ArgumentParser:
    """Build the ``gradkit`` argument parser with its five sub-commands.

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
               "130 interrupted (Ctrl-C, SIGTERM, SIGHUP).")
    parser.add_argument("--version", action="version", version=f"gradkit {gradkit.__version__}")
    _add_debug(parser, False)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name, handler, texts, add_options, data_sources in _COMMANDS:
        p = sub.add_parser(name, formatter_class=_Formatter, **texts)
        p.set_defaults(func=handler)
        add_options(p)
        _add_debug(p, argparse.SUPPRESS)
        if data_sources is not None:
            _add_data_source_options(p, **data_sources)
    return parser
