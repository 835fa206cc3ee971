"""``keras.utils.array_to_img`` / ``img_to_array``: NumPy arrays to and from PIL images.

Pillow is optional: it is imported when one of these is called, and a missing
Pillow says how to get it (``pip install pillow``).

Example::

    img = array_to_img(np.random.rand(28, 28, 3))     # a PIL RGB image
    x = img_to_array(img)                              # (28, 28, 3) float32 in [0, 255]
"""

from __future__ import annotations

import numpy as np

from gradkit.utils.validation import check_choice

_FORMATS = ("channels_last", "channels_first")
_MODES = {1: "L", 3: "RGB", 4: "RGBA"}


def _pil():
    try:
        from PIL import Image
    except ImportError:
        raise ImportError("array_to_img/img_to_array need Pillow: pip install pillow") from None
    return Image


def array_to_img(x, data_format=None, scale=True, dtype=None):
    """A 3-D array ``(height, width, channels)`` as a PIL image.

    Args:
        x: array-like or Tensor with 1 (grayscale), 3 (RGB) or 4 (RGBA) channels.
        data_format: ``"channels_last"`` (default) or ``"channels_first"``.
        scale: stretch the values to ``[0, 255]`` (min to 0, max to 255); otherwise
            they must already be in that range.
        dtype: the array type the pixels are converted to (default ``"float32"``).

    Returns:
        A ``PIL.Image.Image`` (mode ``L``, ``RGB`` or ``RGBA``; ``I`` for a one-channel
        int32 array that is not scaled).
    """
    Image = _pil()
    data_format = check_choice("array_to_img", "data_format", data_format or "channels_last",
                               _FORMATS)
    x = np.asarray(x.numpy() if hasattr(x, "numpy") else x, dtype=dtype or "float32")
    if x.ndim != 3:
        raise ValueError(f"array_to_img expects a 3-D array (height, width, channels), "
                         f"received shape {x.shape}")
    if data_format == "channels_first":
        x = x.transpose(1, 2, 0)
    channels = x.shape[2]
    if channels not in _MODES:
        raise ValueError(f"array_to_img: {channels} channels; expected 1, 3 or 4 "
                         f"(shape {x.shape}, data_format={data_format!r})")
    if scale:
        x = x - x.min()
        top = x.max()
        if top != 0:
            x = x / top
        x = x * 255.0
    if channels == 1 and not scale and x.dtype == np.int32:
        return Image.fromarray(x[:, :, 0].astype("int32"), "I")
    pixels = np.clip(np.rint(x), 0, 255).astype("uint8")
    return Image.fromarray(pixels[:, :, 0] if channels == 1 else pixels, _MODES[channels])


def img_to_array(img, data_format=None, dtype=None):
    """A PIL image as a 3-D array: ``(height, width, channels)`` (or channels first).

    Args:
        img: a ``PIL.Image.Image`` (or anything ``numpy.asarray`` reads as 2-D/3-D).
        data_format: ``"channels_last"`` (default) or ``"channels_first"``.
        dtype: the array's dtype (default ``"float32"``); values keep the image's range.

    Returns:
        A NumPy array; a grayscale image gets a channel axis of length 1.
    """
    data_format = check_choice("img_to_array", "data_format", data_format or "channels_last",
                               _FORMATS)
    x = np.asarray(img, dtype=dtype or "float32")
    if x.ndim == 2:
        x = x[:, :, None]
    if x.ndim != 3:
        raise ValueError(f"img_to_array: unsupported image shape {x.shape}")
    return x.transpose(2, 0, 1) if data_format == "channels_first" else x
