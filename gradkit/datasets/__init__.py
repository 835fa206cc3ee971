"""Datasets: IDX reader/writer, MNIST loaders and toy problems."""

from .errors import DatasetError
from .idx import read_idx, write_idx

__all__ = ["DatasetError", "read_idx", "write_idx"]
