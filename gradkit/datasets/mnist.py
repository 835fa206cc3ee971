"""The MNIST handwritten digits (LeCun, Cortes and Burges).

60,000 training and 10,000 test images of 28x28 grey-scale digits, labels
0-9. Files are looked up locally first and downloaded only if absent; see
:mod:`gradkit.datasets._files` for the search order (``path=``,
``$GRADKIT_DATA``, ``~/.cache/gradkit/mnist``, ``/usr/share/datasets/mnist``,
then the mirrors).
"""

from __future__ import annotations

import os

import numpy as np

from . import _mnist_like
from ._files import DatasetSpec

__all__ = ["MIRRORS", "SHA256", "dataset_spec", "load_data", "load_test_data"]

#: Base URLs tried in order; ``$GRADKIT_MIRRORS`` or ``mirrors=`` override it.
MIRRORS: list[str] = [
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
]

#: SHA-256 of each file's *decompressed* content (checked on download).
#: The test-set values were computed from the published t10k files. The
#: training files were not available when this was written, so their hashes
#: are None: downloads of them are verified structurally instead (a valid IDX
#: file of shape 60000x28x28 uint8 / 60000 uint8 with labels 0-9).
SHA256: dict[str, str | None] = {
    "train_images": None,
    "train_labels": None,
    "test_images": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "test_labels": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}

HOMEPAGE = "http://yann.lecun.com/exdb/mnist/"

Split = tuple[np.ndarray, np.ndarray]


def dataset_spec() -> DatasetSpec:
    """Describe MNIST from the current :data:`MIRRORS` and :data:`SHA256`.

    Returns:
        The :class:`~gradkit.datasets._files.DatasetSpec` used by the loaders.

    Example:
        >>> dataset_spec().name
        'mnist'
    """
    return DatasetSpec(
        name="mnist",
        title="MNIST",
        files=_mnist_like.mnist_style_files(SHA256),
        mirrors=tuple(MIRRORS),
        homepage=HOMEPAGE,
    )


def load_data(
    path: str | os.PathLike | None = None,
    *,
    mirrors=None,
    download: bool = True,
    quiet: bool = False,
) -> tuple[Split, Split]:
    """Load MNIST as uint8 arrays, Keras-style.

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
        ``(N, 28, 28)`` with values 0-255 and labels uint8 of shape ``(N,)``.

    Raises:
        DatasetError: The files were not found or are invalid; the message
            lists every place tried and how to supply the files by hand.

    Example:
        >>> from gradkit.datasets import mnist
        >>> (x_train, y_train), (x_test, y_test) = mnist.load_data()  # doctest: +SKIP
        >>> x_train.shape, y_test.shape  # doctest: +SKIP
        ((60000, 28, 28), (10000,))
    """
    return _mnist_like.load_data(
        dataset_spec(), path, mirrors=mirrors, download=download, quiet=quiet
    )


def load_test_data(
    path: str | os.PathLike | None = None,
    *,
    mirrors=None,
    download: bool = True,
    quiet: bool = False,
) -> Split:
    """Load only the MNIST test set; needs only the two ``t10k-*`` files.

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
        >>> x_test, y_test = load_test_data("/data/mnist")  # doctest: +SKIP
    """
    return _mnist_like.load_test_data(
        dataset_spec(), path, mirrors=mirrors, download=download, quiet=quiet
    )
