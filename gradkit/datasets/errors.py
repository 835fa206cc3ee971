"""Exceptions raised by :mod:`gradkit.datasets`."""

from __future__ import annotations

__all__ = ["DatasetError"]


class DatasetError(ValueError):
    """A data file is missing, unreadable, corrupt or has the wrong contents.

    The message always names the file (or every place that was searched) and
    says what was wrong and how to fix it. It subclasses :class:`ValueError`
    so that generic ``except ValueError`` handlers still catch it.

    Example:
        >>> from gradkit.datasets import DatasetError, read_idx
        >>> try:
        ...     read_idx("not-an-idx-file.txt")
        ... except DatasetError as err:
        ...     print(err)  # doctest: +SKIP
    """
