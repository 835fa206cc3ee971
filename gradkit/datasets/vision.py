"""torchvision-shaped dataset classes over the MNIST-format loaders.

``FashionMNIST(root, train=True, download=False, transform=None, target_transform=None)``
and ``MNIST(...)`` are :class:`~gradkit.utils.data.Dataset` s with torchvision's
signature and attributes (``data``, ``targets``, ``classes``, ``class_to_idx``), reading
the same IDX files as :func:`gradkit.datasets.fashion_mnist.load_data` and
:func:`gradkit.datasets.mnist.load_data`. A sample is ``(image, label)``: the image a
``(28, 28)`` uint8 NumPy array (torchvision gives a PIL image;
:class:`~gradkit.datasets.transforms.ToTensor` takes either), the label a Python int.

Where the files are looked for:

* ``root=None``: gradkit's search order (``$GRADKIT_DATA``, the user cache,
  ``/usr/share/datasets/<name>``; see :mod:`gradkit.datasets._files`);
* ``root`` given: ``root`` itself, torchvision's ``root/<ClassName>/raw``, and gradkit's
  ``root/<name>`` (``fashion-mnist``, ``mnist``), the first that holds the split's files.

``download=True`` lets a missing split be fetched from the dataset's mirrors into
gradkit's user cache (``~/.cache/gradkit/<name>``, not into ``root``); with the default
``download=False`` the network is never used.

Example:
    >>> from gradkit.datasets import FashionMNIST, transforms
    >>> test = FashionMNIST(None, train=False, transform=transforms.ToTensor())  # doctest: +SKIP
    >>> image, label = test[0]  # doctest: +SKIP
    >>> image.shape, label  # doctest: +SKIP
    ((1, 28, 28), 9)
"""

from __future__ import annotations

import os

import numpy as np

from gradkit.utils.data import Dataset

from . import _mnist_like, fashion_mnist, mnist
from ._files import locate
from .errors import DatasetError

__all__ = ["MNIST", "FashionMNIST"]


class _MNISTFormat(Dataset):
    """The shared body of the MNIST-format dataset classes."""

    _module = None          # the loader module (gradkit.datasets.mnist ...)
    classes: list = []

    def __init__(self, root=None, train=True, download=False, transform=None,
                 target_transform=None):
        name = type(self).__name__
        for arg, flag in (("train", train), ("download", download)):
            if not isinstance(flag, bool):
                raise TypeError(f"{name}: {arg} must be a bool, received {flag!r}")
        for arg, fn in (("transform", transform), ("target_transform", target_transform)):
            if fn is not None and not callable(fn):
                raise TypeError(f"{name}: {arg} must be callable (e.g. transforms.ToTensor()) "
                                f"or None, received {type(fn).__name__}")
        self.root = None if root is None else os.fspath(os.path.expanduser(root))
        self.train, self.transform, self.target_transform = train, transform, target_transform
        self.data, targets = self._load(download)
        self.targets = targets.astype(np.int64)

    def _load(self, download):
        spec = self._module.dataset_spec()
        keys = _mnist_like.TRAIN if self.train else _mnist_like.TEST
        if self.root is None:
            paths = locate(spec, keys, None, download=download)
            return _mnist_like.load_split(spec, paths, keys)
        candidates = [self.root, os.path.join(self.root, type(self).__name__, "raw"),
                      os.path.join(self.root, spec.name)]
        reasons = []
        for directory in candidates:
            if not os.path.isdir(directory):
                reasons.append(f"  {directory}: not a directory")
                continue
            try:
                paths = locate(spec, keys, directory, download=False)
            except DatasetError as exc:
                reasons.append(f"  {directory}: {str(exc).splitlines()[0].split('. Put')[0]}")
                continue
            return _mnist_like.load_split(spec, paths, keys)
        if download:
            paths = locate(spec, keys, None, download=True)
            return _mnist_like.load_split(spec, paths, keys)
        split = "training" if self.train else "test"
        files = ", ".join(f.filename + "[.gz]" for f in spec.select(keys))
        raise DatasetError(f"{type(self).__name__}: the {split} files ({files}) are not under "
                           f"root={self.root!r}; looked in:\n" + "\n".join(reasons) +
                           "\nPut them there, pass root=None to use gradkit's search order, "
                           "or download=True to fetch them into gradkit's cache")

    @property
    def class_to_idx(self):
        return {c: i for i, c in enumerate(self.classes)}

    def __len__(self):
        return len(self.data)

    def __getitem__(self, index):
        image, target = self.data[index], int(self.targets[index])
        if self.transform is not None:
            image = self.transform(image)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return image, target

    def __repr__(self):
        split = "Train" if self.train else "Test"
        return (f"Dataset {type(self).__name__}\n    Number of datapoints: {len(self)}\n"
                f"    Root location: {self.root}\n    Split: {split}")


class FashionMNIST(_MNISTFormat):
    """Fashion-MNIST as a Dataset (torchvision's ``FashionMNIST``); see the module doc.

    Args:
        root: a directory holding the IDX files, or None for gradkit's search order.
        train: the 60,000 training images (True) or the 10,000 test images.
        download: allow fetching a missing split into gradkit's cache.
        transform: applied to each image (e.g. ``transforms.ToTensor()``).
        target_transform: applied to each label.
    """

    _module = fashion_mnist
    classes = list(fashion_mnist.CLASS_NAMES)


class MNIST(_MNISTFormat):
    """The MNIST digits as a Dataset (torchvision's ``MNIST``); arguments as
    :class:`FashionMNIST`."""

    _module = mnist
    classes = ["0 - zero", "1 - one", "2 - two", "3 - three", "4 - four", "5 - five",
               "6 - six", "7 - seven", "8 - eight", "9 - nine"]
