"""Fashion-MNIST: Zalando article images, a drop-in replacement for MNIST.

60,000 training and 10,000 test 28x28 grey-scale images in 10 classes (see
:data:`CLASS_NAMES`), stored in the same IDX files as MNIST. Debian's
``dataset-fashion-mnist`` package installs them to
``/usr/share/datasets/fashion-mnist``, which is searched automatically; see
:mod:`gradkit.datasets._files` for the full search order.
"""

from __future__ import annotations

import os

import numpy as np

from . import _mnist_like
from ._files import DatasetSpec

__all__ = ["CLASS_NAMES", "MIRRORS", "SHA256", "dataset_spec", "load_data", "load_test_data"]

#: Label index -> class name.
CLASS_NAMES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)  # fmt: skip

#: Base URLs tried in order; ``$GRADKIT_MIRRORS`` or ``mirrors=`` override it.
MIRRORS: list[str] = [
    "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
    "https://storage.googleapis.com/tensorflow/tf-keras-datasets/",
    "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
]

#: SHA-256 of each file's *decompressed* content, computed from the files of
#: Debian's dataset-fashion-mnist package (checked on download).
SHA256: dict[str, str | None] = {
    "train_images": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
    "train_labels": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
    "test_images": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
    "test_labels": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
}

HOMEPAGE = "https://github.com/zalandoresearch/fashion-mnist"

Split = tuple[np.ndarray, np.ndarray]


def dataset_spec() -> DatasetSpec:
    """Describe Fashion-MNIST from the current :data:`MIRRORS` and :data:`SHA256`.

    Returns:
        The :class:`~gradkit.datasets._files.DatasetSpec` used by the loaders.

    Example:
        >>> dataset_spec().name
        'fashion-mnist'
    """
    return DatasetSpec(
        name="fashion-mnist",
        title="Fashion-MNIST",
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
    """Load Fashion-MNIST as uint8 arrays, Keras-style.

    Args:
        path: Directory holding the four standard files (same names as
            MNIST, raw or ``.gz``). If given, only this directory is used.
        mirrors: Base URLs to download from instead of :data:`MIRRORS`.
        download: Set False to fail rather than use the network.
        quiet: Suppress the download progress line on stderr.

    Returns:
        ``(x_train, y_train), (x_test, y_test)``: images uint8 of shape
        ``(N, 28, 28)`` and labels uint8 of shape ``(N,)`` indexing
        :data:`CLASS_NAMES`.

    Raises:
        DatasetError: The files were not found or are invalid; the message
            lists every place tried and how to supply the files by hand.

    Example:
        >>> from gradkit.datasets import fashion_mnist
        >>> (x_train, y_train), _ = fashion_mnist.load_data()  # doctest: +SKIP
        >>> fashion_mnist.CLASS_NAMES[y_train[0]]  # doctest: +SKIP
        'Ankle boot'
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
    """Load only the Fashion-MNIST test set (the two ``t10k-*`` files).

    Args:
        path: Directory holding the ``t10k-*`` files. If given, only it is used.
        mirrors: Base URLs to download from instead of :data:`MIRRORS`.
        download: Set False to fail rather than use the network.
        quiet: Suppress the download progress line on stderr.

    Returns:
        ``(x_test, y_test)``: uint8 arrays of shape ``(10000, 28, 28)`` and
        ``(10000,)``.

    Raises:
        DatasetError: As for :func:`load_data`.

    Example:
        >>> x_test, y_test = load_test_data()  # doctest: +SKIP
    """
    return _mnist_like.load_test_data(
        dataset_spec(), path, mirrors=mirrors, download=download, quiet=quiet
    )
