"""Image transforms with torchvision's names: ``ToTensor``, ``Normalize``, ``Compose``,
``Lambda``.

For the ``transform=`` of :class:`~gradkit.datasets.FashionMNIST` and
:class:`~gradkit.datasets.MNIST` (or any dataset): each is a callable object.

Example:
    >>> from gradkit.datasets import transforms
    >>> t = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.5,), (0.5,))])
    >>> t(np.full((2, 2), 255, dtype=np.uint8)).numpy().tolist()
    [[[1.0, 1.0], [1.0, 1.0]]]
"""

from __future__ import annotations

import numpy as np

from gradkit.tensor import Tensor

__all__ = ["Compose", "Lambda", "Normalize", "ToTensor"]


class Compose:
    """Apply ``transforms`` one after the other.

    Example:
        >>> Compose([lambda v: v + 1, lambda v: v * 2])(3)
        8
    """

    def __init__(self, transforms):
        self.transforms = list(transforms)
        for i, t in enumerate(self.transforms):
            if not callable(t):
                raise TypeError(f"Compose: transform {i} is a {type(t).__name__}, not callable")

    def __call__(self, image):
        for t in self.transforms:
            image = t(image)
        return image

    def __repr__(self):
        inner = "".join(f"\n    {t!r}" for t in self.transforms)
        return f"Compose({inner}\n)"


class ToTensor:
    """An image ``(H, W)`` or ``(H, W, C)`` (a NumPy array or a PIL image) to a float32
    Tensor ``(C, H, W)``; uint8 values are scaled from 0..255 to [0, 1], other dtypes are
    kept as they are (as in torchvision).

    Example:
        >>> ToTensor()(np.zeros((28, 28), dtype=np.uint8)).shape
        (1, 28, 28)
    """

    def __call__(self, image):
        array = np.asarray(image)
        if array.ndim == 2:
            array = array[:, :, None]
        if array.ndim != 3:
            raise ValueError(f"ToTensor: expected an image of shape (H, W) or (H, W, C), "
                             f"received shape {array.shape}")
        chw = np.ascontiguousarray(array.transpose(2, 0, 1))
        if chw.dtype == np.uint8:
            return Tensor(chw.astype(np.float32) / np.float32(255.0))
        return Tensor(chw)

    def __repr__(self):
        return "ToTensor()"


class Normalize:
    """``(image - mean[c]) / std[c]`` for each channel ``c`` of a ``(..., C, H, W)`` Tensor.

    Args:
        mean, std: one value per channel (sequences, or numbers for all channels).
        inplace: overwrite the input Tensor's values instead of making a new one.

    Raises:
        ValueError: a std of 0, or a channel count that does not match the image.

    Example:
        >>> Normalize((1.0,), (2.0,))(Tensor(np.full((1, 1, 2), 3.0))).numpy().tolist()
        [[[1.0, 1.0]]]
    """

    def __init__(self, mean, std, inplace=False):
        self.mean = np.atleast_1d(np.asarray(mean, dtype=np.float64))
        self.std = np.atleast_1d(np.asarray(std, dtype=np.float64))
        if (self.std == 0).any():
            raise ValueError(f"Normalize: std {self.std.tolist()} has a 0; it divides")
        if not isinstance(inplace, bool):
            raise TypeError(f"Normalize: inplace must be a bool, received {inplace!r}")
        self.inplace = inplace

    def __call__(self, image):
        if not isinstance(image, Tensor):
            raise TypeError(f"Normalize: expected a Tensor (C, H, W), received "
                            f"{type(image).__name__}; put ToTensor() before it")
        if image.ndim < 3:
            raise ValueError(f"Normalize: expected a Tensor of shape (..., C, H, W), received "
                             f"shape {image.shape}")
        channels = image.shape[-3]
        for name, v in (("mean", self.mean), ("std", self.std)):
            if v.size not in (1, channels):
                raise ValueError(f"Normalize: {name} has {v.size} values for an image with "
                                 f"{channels} channels")
        dtype = image.dtype if np.dtype(image.dtype).kind == "f" else np.float32
        mean = self.mean.astype(dtype).reshape(-1, 1, 1)
        std = self.std.astype(dtype).reshape(-1, 1, 1)
        if self.inplace:
            image._data -= mean
            image._data /= std
            image._version += 1
            return image
        return (image - Tensor(mean)) / Tensor(std)

    def __repr__(self):
        return f"Normalize(mean={self.mean.tolist()}, std={self.std.tolist()})"


class Lambda:
    """Wrap a function as a transform.

    Example:
        >>> Lambda(lambda v: v * 2)(21)
        42
    """

    def __init__(self, lambd):
        if not callable(lambd):
            raise TypeError(f"Lambda: expected a callable, received {type(lambd).__name__}")
        self.lambd = lambd

    def __call__(self, image):
        return self.lambd(image)

    def __repr__(self):
        return f"Lambda({getattr(self.lambd, '__name__', 'fn')})"
