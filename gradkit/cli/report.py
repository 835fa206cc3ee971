"""``gradkit report``: one offline HTML page for a ``gradkit train`` run directory.

The page (``RUN_DIR/report.html`` unless ``--out``) holds the training curves
from ``metrics.json``, the model's graph and, on the run's own test set, a
confusion matrix and sample predictions (see
:func:`gradkit.plot.training_dashboard`). It loads nothing from the network.
"""

from __future__ import annotations

import os

from gradkit.cli import saved_model
from gradkit.cli.data import DATASETS, TOY_DATASETS, load_dataset
from gradkit.cli.errors import CLIError


def _history(info: dict, path: str) -> dict:
    """The per-epoch history in ``metrics.json``: checked, since the file is untrusted."""
    history = info.get("history")
    if not isinstance(history, dict) or not history:
        raise CLIError(f"no training history in the metrics.json beside {path}; run "
                       "'gradkit train' to make a run directory")
    clean = {}
    for key, values in history.items():
        if not isinstance(key, str) or not isinstance(values, list) or len(values) > 100_000 \
                or not all(isinstance(v, (int, float)) and not isinstance(v, bool)
                           for v in values):
            raise CLIError(f"metrics.json beside {path}: history entry {key!r} is not a list "
                           "of numbers")
        clean[key] = [float(v) for v in values]
    return clean


def cmd_report(args) -> int:
    """``gradkit report``: write the run's HTML dashboard and print its path."""
    from gradkit.plot import training_dashboard

    model, path = saved_model.load(args.run, compile=False)
    info = saved_model.run_info(path)
    history = _history(info, path)
    name = info.get("dataset")
    x = y = None
    class_names = image_shape = None
    if isinstance(name, str) and name in DATASETS and name != "auto" and not args.no_data:
        toy = name in TOY_DATASETS
        seed = info.get("seed") if toy else None
        data = load_dataset(name, data_dir=args.data_dir, download=not args.no_download,
                            samples=info.get("toy_samples") if toy else None,
                            noise=info.get("toy_noise") if toy else None,
                            seed=seed if isinstance(seed, int) else 0, test_only=True,
                            test_limit=args.limit)
        x = saved_model.fit_to_model(data.x_test, saved_model.input_shape(model),
                                     f"the {data.title} test set")
        y, class_names = data.y_test, data.class_names
        image_shape = (28, 28) if data.is_image else None
    out = args.out or os.path.join(os.path.dirname(os.path.abspath(path)), "report.html")
    written = training_dashboard(history, out, model, x, y, class_names=class_names,
                                 image_shape=image_shape,
                                 title=f"gradkit run: {os.path.dirname(path) or '.'}")
    print(f"report written to {written}")
    return 0
