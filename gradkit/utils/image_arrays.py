"""``keras.utils.array_to_img`` / ``img_to_array``: NumPy arrays to and from PIL images.

Pillow is optional: it is imported when one of these is called, and a missing
Pillow says how to get it (``pip install pillow``).

Example::

    img = array_to_img(np.random.rand(28, 28, 3))     # a PIL RGB image
    x = img_to_array(img)                              # (28, 28, 3) float32 in [0, 255]
"""

from __future__ import annotations

import io
import os

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


_COLOR_MODES = {"grayscale": "L", "rgb": "RGB", "rgba": "RGBA"}
_RESAMPLING = ("nearest", "bilinear", "bicubic", "hamming", "box", "lanczos")


def load_img(path, color_mode="rgb", target_size=None, interpolation="nearest",
             keep_aspect_ratio=False):
    """Read an image file as a PIL image (Keras's ``keras.utils.load_img``).

    The file must be a regular file no larger than
    :data:`gradkit.utils.image.MAX_FILE_BYTES`, and its pixel count (from the header,
    before decoding) at most :data:`gradkit.utils.image.MAX_IMAGE_PIXELS`.

    Args:
        path: the image file.
        color_mode: ``"rgb"``, ``"rgba"`` or ``"grayscale"``.
        target_size: ``(height, width)`` to resize to, or None.
        interpolation: PIL's resampling filter by name (``"nearest"``, ``"bilinear"``...).
        keep_aspect_ratio: crop the centre to the target's aspect ratio before resizing.

    Returns:
        A ``PIL.Image.Image``; :func:`img_to_array` makes it an array.
    """
    from gradkit.utils.image import MAX_FILE_BYTES, MAX_IMAGE_PIXELS, open_regular_file

    Image = _pil()
    mode = _COLOR_MODES[check_choice("load_img", "color_mode", color_mode, tuple(_COLOR_MODES))]
    check_choice("load_img", "interpolation", interpolation, _RESAMPLING)
    with open_regular_file(path, "an image file") as f:
        data = f.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        raise ValueError(f"load_img: '{path}' is larger than {MAX_FILE_BYTES:,} bytes")
    img = Image.open(io.BytesIO(data))
    if img.width * img.height > MAX_IMAGE_PIXELS:
        raise ValueError(f"load_img: '{path}' is {img.width}x{img.height} pixels, more than "
                         f"{MAX_IMAGE_PIXELS:,}; refusing to decode it")
    img = img.convert(mode)
    if target_size is not None:
        height, width = (int(n) for n in target_size)
        box = None
        if keep_aspect_ratio:  # the centred region of the target's aspect ratio
            crop_w = min(img.width, img.height * width // height)
            crop_h = min(img.height, img.width * height // width)
            left, top = (img.width - crop_w) // 2, (img.height - crop_h) // 2
            box = (left, top, left + crop_w, top + crop_h)
        img = img.resize((width, height), getattr(Image.Resampling, interpolation.upper()),
                         box=box)
    return img


def save_img(path, x, data_format=None, file_format=None, scale=True, **kwargs):
    """Write a 3-D array as an image file (the format from ``file_format`` or the name).

    ``kwargs`` go to PIL's ``Image.save`` (``quality=``...). An RGBA array saved as JPEG
    loses its alpha channel (JPEG has none).
    """
    img = array_to_img(x, data_format=data_format, scale=scale)
    fmt = (file_format or os.path.splitext(os.fspath(path))[1].lstrip(".")).upper()
    if fmt in ("JPG", "JPEG") and img.mode == "RGBA":
        img = img.convert("RGB")
    img.save(path, format="JPEG" if fmt == "JPG" else fmt or None, **kwargs)
