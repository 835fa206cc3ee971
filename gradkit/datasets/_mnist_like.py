"""Shared loading code for MNIST-format datasets (MNIST, Fashion-MNIST)."""

from __future__ import annotations

import numpy as np

from ._files import DatasetSpec, FileSpec, locate
from .errors import DatasetError
from .idx import read_idx

TRAIN = ("train_images", "train_labels")
TEST = ("test_images", "test_labels")
NUM_CLASSES = 10
IMAGE_SIZE = (28, 28)


def mnist_style_files(sha256: dict[str, str | None]) -> tuple[FileSpec, ...]:
    """The four standard files with the sizes of the published 60k/10k split."""
    return (
        FileSpec("train_images", "train-images-idx3-ubyte", sha256["train_images"],
                 (60000, *IMAGE_SIZE)),
        FileSpec("train_labels", "train-labels-idx1-ubyte", sha256["train_labels"], (60000,)),
        FileSpec("test_images", "t10k-images-idx3-ubyte", sha256["test_images"],
                 (10000, *IMAGE_SIZE)),
        FileSpec("test_labels", "t10k-labels-idx1-ubyte", sha256["test_labels"], (10000,)),
    )  # fmt: skip


def load_split(spec: DatasetSpec, paths, keys) -> tuple[np.ndarray, np.ndarray]:
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


def load_data(spec: DatasetSpec, path=None, **options):
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


def load_test_data(spec: DatasetSpec, path=None, **options):
    """Load only the test split; see ``gradkit.datasets.mnist.load_test_data``."""
    paths = locate(spec, TEST, path, **options)
    return load_split(spec, paths, TEST)
