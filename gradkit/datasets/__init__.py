"""Datasets: IDX reader/writer, MNIST-style loaders and toy problems.

Example:
    >>> from gradkit.datasets import mnist, make_moons
    >>> x, y = make_moons(200, noise=0.1, seed=0)
    >>> (x_train, y_train), (x_test, y_test) = mnist.load_data()  # doctest: +SKIP
"""

from . import fashion_mnist, mnist, transforms
from .errors import DatasetError
from .idx import read_idx, write_idx
from .toy import make_circles, make_moons, make_regression, make_spirals, make_xor
from .vision import MNIST, FashionMNIST

__all__ = [
    "MNIST",
    "FashionMNIST",
    "transforms",
    "DatasetError",
    "fashion_mnist",
    "make_circles",
    "make_moons",
    "make_regression",
    "make_spirals",
    "make_xor",
    "mnist",
    "read_idx",
    "write_idx",
]
