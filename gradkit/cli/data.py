"""The datasets the command line knows by name, loaded (or generated) ready for a model.

``--dataset`` takes one of :data:`DATASETS`: the MNIST-format image sets, the
2-D toy sets generated from a seed, or ``auto``, which picks MNIST when its
full training set is on this machine (never downloading it) and
Fashion-MNIST otherwise.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np

from gradkit.cli.errors import CLIError, one_line, usage_error
from gradkit.datasets import DatasetError

IMAGE_DATASETS = ("mnist", "fashion-mnist")
TOY_DATASETS = ("circles", "moons", "xor")
DATASETS = ("auto", *IMAGE_DATASETS, *TOY_DATASETS)
TOY_NOISE = {"circles": 0.1, "moons": 0.2, "xor": 0.2}
TOY_TEST_FRACTION = 0.2
TOY_SAMPLES = (10, 10_000_000)  # --samples range (and metrics.json's toy_samples)
TOY_NOISE_RANGE = (0.0, 10.0)   # --noise range (and metrics.json's toy_noise)
SEED_MAX = 2 ** 63 - 1          # --seed upper bound (and metrics.json's seed)


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


def _auto_choice(data_dir):
    """Return (name, loaded MNIST or None, note) for ``--dataset auto``."""
    from gradkit.datasets import mnist

    if data_dir is not None:
        raise usage_error("--data-dir needs an explicit --dataset mnist or fashion-mnist "
                          "(both use the same file names, so 'auto' can't tell them apart)")
    try:
        loaded = mnist.load_data(download=False, quiet=True)
    except DatasetError as exc:
        places = [line.strip()[2:] for line in str(exc).splitlines()
                  if line.strip().startswith("- ") and "download" not in line]
        reason = "; ".join(places) if places else one_line(exc)
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

    Example:
        >>> data = load_dataset("moons", samples=100)
        >>> data.x_train.shape, data.x_test.shape
        ((80, 2), (20, 2))
    """
    note, preloaded = "", None
    if name in TOY_DATASETS:
        if data_dir is not None:
            raise usage_error(f"--data-dir applies to mnist and fashion-mnist, not {name}")
        x_train, y_train, x_test, y_test, details = _make_toy(name, samples, noise, seed)
        if test_only:
            x_train = y_train = None
        return Data(name, name.capitalize(), *_first(x_train, y_train, train_limit),
                    *_first(x_test, y_test, test_limit), details=details)
    if samples is not None or noise is not None:
        raise usage_error("--samples and --noise apply to the toy datasets "
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
        message = one_line(exc).replace(f"path={os.fspath(data_dir)!r}", f"--data-dir "
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
