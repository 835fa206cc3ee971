"""Datasets: IDX reader/writer, MNIST loaders and toy problems."""

from . import fashion_mnist, mnist
from .errors import DatasetError
from .idx import read_idx, write_idx

__all__ = ["DatasetError", "fashion_mnist", "mnist", "read_idx", "write_idx"]
