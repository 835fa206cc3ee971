"""``gradkit train``: train a model, evaluate it on the test set and write the run to a directory.

The run directory gets ``model.gradkit``, ``metrics.json`` (settings,
results, history, times), ``history.csv`` and, when matplotlib is installed,
``history.png`` plus ``samples.png`` (images) or ``boundary.png`` (toy sets).

The run is written into a staging directory and swapped in whole once complete
(:mod:`gradkit.cli.run_dir`): ``--out DIR`` always holds the old run or the new
one, never a mix. Ctrl-C, SIGTERM and SIGHUP are ``fit``'s to handle: it stops at
the end of the batch in progress and returns the history so far. The command
then drops the unfinished run, says so and exits with status 130.
"""

from __future__ import annotations

import datetime
import json
import math
import os
import platform
import shlex
import sys
import time
from pathlib import Path

import numpy as np

import gradkit
from gradkit.callbacks import CSVLogger
from gradkit.cli.data import IMAGE_DATASETS, TOY_DATASETS, Data, load_dataset
from gradkit.cli.errors import EXIT_INTERRUPTED, CLIError, one_line, usage_error, warn
from gradkit.cli.run_dir import RunDirectory
from gradkit.cli.saved_model import EVAL_BATCH_SIZE, MODEL_FILE, probabilities

SAMPLE_IMAGES = 32  # images drawn in samples.png


def build_model(kind: str, data: Data, optimizer: str, lr: float | None):
    """Build and compile the ``mlp`` or ``cnn`` model for ``data``.

    Args:
        kind: ``"mlp"`` or ``"cnn"``.
        data: The dataset (images or 2-D toy points).
        optimizer: Optimizer name.
        lr: Learning rate, or None for the optimizer's default.

    Returns:
        A compiled :class:`gradkit.models.Sequential`.

    Example:
        >>> from gradkit.cli.data import load_dataset
        >>> build_model("mlp", load_dataset("xor", samples=40), "adam", None).count_params()
        337
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
        raise _cnn_needs_images(data.name)
    opt = (optimizers.get({"class_name": optimizer, "config": {"learning_rate": lr}})
           if lr is not None else optimizers.get(optimizer))
    loss = "sparse_categorical_crossentropy" if data.is_image else "binary_crossentropy"
    model.compile(optimizer=opt, loss=loss, metrics=["accuracy"])
    return model


def _cnn_needs_images(dataset: str) -> CLIError:
    return usage_error(f"--model cnn needs an image dataset ({', '.join(IMAGE_DATASETS)} "
                       f"or auto); use --model mlp for {dataset}")


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
            warn(f"could not draw {name}: {type(exc).__name__}: {one_line(exc)}")
            continue
        del fig
        written.append(name)
    return written


def _tensorboard(wanted, out: Path) -> list:
    """The TensorBoard callback for ``--tensorboard`` (True: required, None: when installed)."""
    from gradkit.utils import tensorboard

    if wanted is False or (wanted is None and not tensorboard.available()):
        return []
    if not tensorboard.available():
        raise CLIError(f"--tensorboard: {tensorboard.INSTALL_HINT}")
    from gradkit.callbacks import TensorBoard

    return [TensorBoard(str(out / "tensorboard"), histogram_freq=1)]


def _join_world(args):
    """True on the process that reports (rank 0, or the only one), False on the other
    ranks of an MPI job, None when ``--nproc N`` asks this process to start one."""
    from gradkit import distributed as dist

    if not dist.launched_by_mpi():
        return None if args.nproc > 1 else True
    dist.init()
    if not dist.is_main_process():
        args.verbose = 0
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - one report per job, rank 0's
    return dist.is_main_process()


def cmd_train(args) -> int:
    """``gradkit train``: train, evaluate, save the model, metrics, history and plots."""
    from gradkit.utils import set_random_seed

    if args.model == "cnn" and args.dataset in TOY_DATASETS:
        raise _cnn_needs_images(args.dataset)
    main = _join_world(args)
    if main is None:  # this process launched mpirun, which ran the ranks
        from gradkit.distributed import launch

        try:
            return launch.run(args.nproc, args.argv)
        except FileNotFoundError as exc:
            raise CLIError(str(exc)) from None
    if args.out and Path(args.out).expanduser().exists() and \
            not Path(args.out).expanduser().is_dir():
        raise CLIError(f"--out '{args.out}' exists and is not a directory")
    set_random_seed(args.seed)
    data = load_dataset(args.dataset, data_dir=args.data_dir, download=not args.no_download,
                        samples=args.samples, noise=args.noise, seed=args.seed,
                        train_limit=args.limit, test_limit=args.test_limit)
    final = Path(args.out or os.path.join("runs", f"{data.name}-{args.model}")).expanduser()
    if not main:  # the other ranks of an MPI job train alongside rank 0 and write nothing
        import tempfile
        from types import SimpleNamespace

        with tempfile.TemporaryDirectory(prefix="gradkit-rank-") as tmp:
            scratch = SimpleNamespace(path=Path(tmp), out=final, commit=lambda: None)
            return _train(args, data, scratch, main=False)
    with RunDirectory(final) as run:
        return _train(args, data, run)


def _train(args, data: Data, run: RunDirectory, main=True) -> int:
    """Train and write every file of the run into ``run.path``; commit it when complete."""
    out, final = run.path, run.out
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
        raise usage_error(f"--validation-split {args.validation_split} leaves no training "
                          f"samples out of {len(x_train)}")
    kind = "images" if data.is_image else "points"
    print(f"dataset: {data.title}: {len(x_train) - n_val} training"
          + (f" + {n_val} validation" if n_val else "")
          + f" {kind}, {len(x_test)} test {kind}")

    model = build_model(args.model, data, args.optimizer, args.lr)
    if args.verbose:
        model.summary()
    csv_path = out / "history.csv"
    t0 = time.perf_counter()
    # on Ctrl-C, fit stops after the batch in progress, says so and returns the history
    board = _tensorboard(args.tensorboard, out)
    callbacks = [CSVLogger(csv_path), *board]
    history = model.fit(x_train, y_train, batch_size=args.batch_size, epochs=args.epochs,
                        verbose=args.verbose, validation_split=args.validation_split,
                        callbacks=callbacks)
    train_time = time.perf_counter() - t0
    if history.interrupted:
        if main:
            print(f"gradkit: interrupted ({history.interrupted_by}) during epoch "
                  f"{max(len(history.epoch), 1)}/{args.epochs}; no model saved ('{final}' is "
                  "as it was before this run)", file=sys.stderr)
        return EXIT_INTERRUPTED

    t0 = time.perf_counter()
    results = model.evaluate(x_test, y_test, batch_size=max(args.batch_size, EVAL_BATCH_SIZE),
                             verbose=0, return_dict=True)
    eval_time = time.perf_counter() - t0
    test_loss, test_acc = float(results["loss"]), float(results["accuracy"])
    if not main:  # rank 0 writes the run directory and reports
        return EXIT_INTERRUPTED if history.interrupted else 0

    model_path = out / MODEL_FILE
    model.save(model_path)
    probs = probabilities(model, x_test[:SAMPLE_IMAGES], EVAL_BATCH_SIZE) \
        if data.is_image else None
    files = [MODEL_FILE, "metrics.json", "history.csv"]
    files += ["tensorboard/"] if board else []
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
    run.commit()
    print(f"saved to {final}/: {', '.join(files)}")
    print(f"training time: {train_time:.2f} s")
    print(f"test loss: {test_loss:.4f}")
    print(f"test accuracy: {test_acc:.4f}")
    return 0
