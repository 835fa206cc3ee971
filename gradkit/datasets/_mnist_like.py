"""Shared loading code for MNIST-format datasets (MNIST, Fashion-MNIST)."""

from __future__ import annotations

import sys

import numpy as np

from ._files import DatasetSpec, FileSpec, locate
from .errors import DatasetError
from .idx import read_idx

TRAIN = ("train_images", "train_labels")
TEST = ("test_images", "test_labels")
NUM_CLASSES = 10
IMAGE_SIZE = (28, 28)
SPLIT_SIZES = {"train": 60000, "test": 10000}  # the published split; downloads must match

Split = tuple[np.ndarray, np.ndarray]


def mnist_style_files(sha256: dict[str, str | None]) -> tuple[FileSpec, ...]:
    """The four standard files with the sizes of the published 60k/10k split."""
    train, test = SPLIT_SIZES["train"], SPLIT_SIZES["test"]
    return (
        FileSpec("train_images", "train-images-idx3-ubyte", sha256["train_images"],
                 (train, *IMAGE_SIZE)),
        FileSpec("train_labels", "train-labels-idx1-ubyte", sha256["train_labels"], (train,)),
        FileSpec("test_images", "t10k-images-idx3-ubyte", sha256["test_images"],
                 (test, *IMAGE_SIZE)),
        FileSpec("test_labels", "t10k-labels-idx1-ubyte", sha256["test_labels"], (test,)),
    )  # fmt: skip


def load_split(spec: DatasetSpec, paths, keys) -> Split:
    """Read one (images, labels) pair and check that the two files fit together."""
    images_path, labels_path = paths[keys[0]], paths[keys[1]]
    x = read_idx(images_path)
    y = read_idx(labels_path)
    if x.dtype != np.uint8 or x.ndim != 3 or x.shape[1:] != IMAGE_SIZE:
        raise DatasetError(
            f"{images_path}: expected {spec.title} images as uint8 of shape Nx28x28, "
            f"found {x.dtype} of shape {'x'.join(map(str, x.shape))}"
        )
    if y.dtype != np.uint8 or y.ndim != 1:
        raise DatasetError(
            f"{labels_path}: expected {spec.title} labels as a 1-d uint8 array, "
            f"found {y.dtype} of shape {'x'.join(map(str, y.shape))}"
        )
    if len(y) != len(x):
        raise DatasetError(
            f"{labels_path} holds {len(y)} labels but {images_path} holds {len(x)} "
            "images; the two files come from different versions of the dataset"
        )
    if len(y) and int(y.max()) >= NUM_CLASSES:
        bad = int(np.argmax(y >= NUM_CLASSES))
        raise DatasetError(
            f"{labels_path}: label {int(y[bad])} at index {bad} is outside 0..{NUM_CLASSES - 1}"
        )
    return x, y


def load_data(spec: DatasetSpec, path=None, **options) -> tuple[Split, Split]:
    """Load the train and test splits; see ``gradkit.datasets.mnist.load_data``."""
    try:
        paths = locate(spec, TRAIN + TEST, path, **options)
    except DatasetError as exc:
        if path is not None and _has_test_files(spec, path):
            raise DatasetError(
                f"{exc}\nThat directory does hold the test files: use load_test_data(path) "
                "to load only the test set."
            ) from None
        raise
    return load_split(spec, paths, TRAIN), load_split(spec, paths, TEST)


def _has_test_files(spec: DatasetSpec, path) -> bool:
    try:
        locate(spec, TEST, path)
    except DatasetError:
        return False
    return True


def load_test_data(spec: DatasetSpec, path=None, **options) -> Split:
    """Load only the test split; see ``gradkit.datasets.mnist.load_test_data``."""
    paths = locate(spec, TEST, path, **options)
    return load_split(spec, paths, TEST)


_SPEC_DOC = """Describe {title} from the current :data:`MIRRORS` and :data:`SHA256`.

    Returns:
        The :class:`~gradkit.datasets._files.DatasetSpec` used by the loaders.

    Example:
        >>> dataset_spec().name
        '{name}'
    """

_LOAD_DATA_DOC = """Load {title} as uint8 arrays, Keras-style.

    Args:
        path: Directory holding the four standard files
            (``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``,
            ``t10k-images-idx3-ubyte``, ``t10k-labels-idx1-ubyte``, each raw
            or ``.gz``). If given, only this directory is used.
        mirrors: Base URLs to download from instead of :data:`MIRRORS`.
        download: Set False to fail rather than use the network.
        quiet: Suppress the download progress line on stderr.

    Returns:
        ``(x_train, y_train), (x_test, y_test)``: images uint8 of shape
        ``(N, 28, 28)`` with values 0-255 and labels uint8 of shape ``(N,)``{labels}.

    Raises:
        DatasetError: The files were not found or are invalid; the message
            lists every place tried and how to supply the files by hand.

    Example:
        >>> from gradkit.datasets import {module}
        >>> (x_train, y_train), (x_test, y_test) = {module}.load_data()  # doctest: +SKIP
        >>> x_train.shape, y_test.shape  # doctest: +SKIP
        ((60000, 28, 28), (10000,))
    """

_LOAD_TEST_DATA_DOC = """Load only the {title} test set; needs only the two ``t10k-*`` files.

    Args:
        path: Directory holding ``t10k-images-idx3-ubyte[.gz]`` and
            ``t10k-labels-idx1-ubyte[.gz]``. If given, only it is used.
        mirrors: Base URLs to download from instead of :data:`MIRRORS`.
        download: Set False to fail rather than use the network.
        quiet: Suppress the download progress line on stderr.

    Returns:
        ``(x_test, y_test)``: uint8 arrays of shape ``(10000, 28, 28)`` and
        ``(10000,)``.

    Raises:
        DatasetError: As for :func:`load_data`.

    Example:
        >>> from gradkit.datasets import {module}
        >>> x_test, y_test = {module}.load_test_data()  # doctest: +SKIP
    """


def public_api(module_name: str, *, name: str, title: str, homepage: str, labels: str = ""):
    """The public ``dataset_spec``, ``load_data`` and ``load_test_data`` of one dataset module.

    Each MNIST-format module declares only its data (``MIRRORS``, ``SHA256``); the
    functions made here read those module attributes on every call, so a module's
    ``MIRRORS`` or ``SHA256`` may be changed (or patched in tests) after import.

    Args:
        module_name: ``__name__`` of the dataset's module (which must define
            ``MIRRORS`` and ``SHA256`` before its functions are called).
        name: Directory name under the search roots, e.g. ``"mnist"``.
        title: Human-readable name for messages and docstrings, e.g. ``"MNIST"``.
        homepage: Where a person can get the files by hand.
        labels: Extra words on what the labels mean, for ``load_data``'s docstring.

    Returns:
        ``(dataset_spec, load_data, load_test_data)``, documented and named as
        functions of ``module_name``.
    """
    module = sys.modules[module_name]
    short = module_name.rsplit(".", 1)[-1]

    def dataset_spec() -> DatasetSpec:
        return DatasetSpec(
            name=name,
            title=title,
            files=mnist_style_files(module.SHA256),
            mirrors=tuple(module.MIRRORS),
            homepage=homepage,
        )

    def public_load_data(path=None, *, mirrors=None, download=True, quiet=False):
        return load_data(dataset_spec(), path, mirrors=mirrors, download=download, quiet=quiet)

    def public_load_test_data(path=None, *, mirrors=None, download=True, quiet=False):
        return load_test_data(dataset_spec(), path, mirrors=mirrors, download=download,
                              quiet=quiet)

    functions = (
        (dataset_spec, "dataset_spec", _SPEC_DOC),
        (public_load_data, "load_data", _LOAD_DATA_DOC),
        (public_load_test_data, "load_test_data", _LOAD_TEST_DATA_DOC),
    )
    for fn, fn_name, doc in functions:
        fn.__name__ = fn.__qualname__ = fn_name
        fn.__module__ = module_name
        fn.__doc__ = doc.format(title=title, name=name, module=short, labels=labels)
    return dataset_spec, public_load_data, public_load_test_data
