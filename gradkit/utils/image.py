"""Read images from untrusted files and make them look like the samples a model was trained on.

``gradkit predict digit.png`` goes through this module: :func:`read_gray`
reads a PNG as grayscale in [0, 1] and :func:`prepare_image` pads it to the
model's aspect ratio, resizes it by area averaging and inverts it when its
background is light (MNIST digits are white on black).

The files may come from anyone, so reading is bounded before anything large
is allocated:

* only regular files are opened (a directory, FIFO or device is refused with
  a message, never read: ``/dev/zero`` would never end);
* the size written in the PNG header is checked against ``max_pixels`` and the
  file size against :data:`MAX_FILE_BYTES` before the pixels are read;
* a truncated or corrupt file raises :class:`~gradkit.utils.png.PNGError`
  naming the file and the problem.

Resizing never builds the padded canvas: an image of 1 x 100000 pixels costs
memory in proportion to its own size, not to a 100000 x 100000 square.

Example:
    >>> import numpy as np
    >>> page = np.ones((56, 40))            # a light page...
    >>> page[10:46, 18:22] = 0.0            # ...with a dark stroke
    >>> img, notes = prepare_image(page, (28, 28))
    >>> img.shape, notes
    ((28, 28), ['inverted (light background)', 'resized 40x56 -> 28x28'])
"""

from __future__ import annotations

import io
import math
import os
import stat

import numpy as np

from gradkit.utils import png
from gradkit.utils.validation import check_choice, check_int

__all__ = ["MAX_FILE_BYTES", "MAX_IMAGE_PIXELS", "open_regular_file", "prepare_image",
           "read_gray", "resize_area", "to_gray"]

#: Largest image (width * height) :func:`read_gray` accepts by default: the one limit of
#: :data:`gradkit.utils.png.MAX_PIXELS`, for the built-in decoder and matplotlib alike.
MAX_IMAGE_PIXELS = png.MAX_PIXELS
#: Largest image file :func:`read_gray` reads, whatever its header says.
MAX_FILE_BYTES = 256 << 20

_LUMA = np.array([0.299, 0.587, 0.114])  # ITU-R BT.601 weights of R, G, B


def open_regular_file(path: str | os.PathLike, what: str = "a regular file"):
    """Open ``path`` for reading in binary mode, refusing anything but a regular file.

    The type is checked on the open descriptor (no race with a file swapped
    in between) and a FIFO is opened without blocking, so neither a pipe with
    no writer nor a device such as ``/dev/zero`` can hang or flood the caller.

    Args:
        path: The file.
        what: How to name the expected file in the error, e.g. ``"an input file"``.

    Returns:
        A binary file object; close it (``with open_regular_file(p) as f``).

    Raises:
        ValueError: ``path`` is a directory, FIFO, device or socket:
            ``'x' is a directory, not an input file``.
        OSError: It does not exist or cannot be opened.

    Example:
        >>> with open_regular_file("digit.png") as f:  # doctest: +SKIP
        ...     head = f.read(8)
    """
    name = os.fspath(path)
    fd = os.open(name, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            kind = ("a directory" if stat.S_ISDIR(mode) else "a FIFO" if stat.S_ISFIFO(mode)
                    else "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode)
                    else "not a regular file")
            raise ValueError(f"'{name}' is {kind}, not {what}")
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_gray(path: str | os.PathLike, *, max_pixels: int = MAX_IMAGE_PIXELS,
              use_matplotlib: bool | None = None) -> np.ndarray:
    """Read a PNG file as grayscale float64 in [0, 1], shape ``(H, W)``.

    Colour is converted with the ITU-R BT.601 luma weights and transparent
    pixels are composited over white. Images are decoded by
    :func:`gradkit.utils.png.decode_png`; matplotlib is used only for
    interlaced PNGs, which that reader lacks (or always, with
    ``use_matplotlib=True``).

    Args:
        path: The PNG file.
        max_pixels: Refuse images with more pixels than this, judged from the
            header before the pixels are read.
        use_matplotlib: ``None``: only where needed; ``True``: always (it must be
            installed); ``False``: never (interlaced PNGs then fail).

    Returns:
        ``(H, W)`` float64 array in [0, 1].

    Raises:
        PNGError: Not a PNG, truncated, corrupt, or larger than ``max_pixels``
            or :data:`MAX_FILE_BYTES`.
        ValueError: ``path`` is not a regular file.
        OSError: It cannot be opened.

    Example:
        >>> gray = read_gray("digit.png")  # doctest: +SKIP
        >>> gray.shape, gray.dtype  # doctest: +SKIP
        ((28, 28), dtype('float64'))
    """
    max_pixels = check_int("read_gray", "max_pixels", max_pixels, minimum=1)
    if use_matplotlib not in (None, True, False):
        raise TypeError(f"read_gray: use_matplotlib must be None, True or False, received "
                        f"{use_matplotlib!r}")
    name = os.fspath(path)
    with open_regular_file(name, "an image file") as f:
        head = f.read(33)
        header = png.read_header(head, name)
        if header.width * header.height > max_pixels:
            raise png.PNGError(f"{name}: image of {header.width}x{header.height} pixels is too "
                               f"large (limit {max_pixels} pixels)")
        size = os.fstat(f.fileno()).st_size
        if size > MAX_FILE_BYTES:
            raise png.PNGError(f"{name}: file of {size} bytes is too large for an image "
                               f"(limit {MAX_FILE_BYTES} bytes)")
        data = head + f.read(MAX_FILE_BYTES + 1 - len(head))
    if len(data) > MAX_FILE_BYTES:  # it grew while we read it
        raise png.PNGError(f"{name}: file is too large for an image "
                           f"(limit {MAX_FILE_BYTES} bytes)")
    if use_matplotlib or (use_matplotlib is None and header.interlaced):
        pixels = _decode_with_matplotlib(data, name, required=bool(use_matplotlib))
    else:
        pixels = None
    if pixels is None:
        raw = png.decode_png(data, name)
        pixels = raw.astype(np.float64) / float(np.iinfo(raw.dtype).max)
    return to_gray(pixels)


def _decode_with_matplotlib(data: bytes, name: str, required: bool):
    """Pixels as float64 in [0, 1] by matplotlib, or None when it is missing and optional."""
    try:
        import matplotlib.image as mpimg
    except ImportError:
        if required:
            raise
        return None
    png.check_chunks(data, name)  # Pillow would accept a truncated file
    try:
        return np.asarray(mpimg.imread(io.BytesIO(data), format="png"), dtype=np.float64)
    except Exception as exc:  # Pillow raises many kinds (even SyntaxError)
        message = " ".join(str(exc).split())
        raise png.PNGError(f"{name}: cannot read the PNG image ({type(exc).__name__}: "
                           f"{message})") from None


def to_gray(pixels) -> np.ndarray:
    """Grayscale float64 in [0, 1] from an image with values in [0, 1].

    Args:
        pixels: ``(H, W)`` gray, or ``(H, W, C)`` with C = 1 (gray), 2 (gray +
            alpha), 3 (RGB) or 4 (RGBA). Alpha composites over white.

    Returns:
        ``(H, W)`` float64, clipped to [0, 1].

    Raises:
        ValueError: Any other shape.

    Example:
        >>> to_gray(np.array([[[1.0, 0.0, 0.0, 0.0]]]))  # transparent red: white
        array([[1.]])
    """
    arr = np.asarray(pixels, dtype=np.float64)
    if arr.ndim == 3 and arr.shape[2] in (1, 2, 3, 4):
        channels = arr.shape[2]
        alpha = arr[..., -1] if channels in (2, 4) else None
        gray = arr[..., :3] @ _LUMA if channels >= 3 else arr[..., 0]
        arr = gray if alpha is None else gray * alpha + (1.0 - alpha)
    if arr.ndim != 2 or 0 in arr.shape:
        raise ValueError(f"to_gray: expected an image of shape (H, W) or (H, W, 1|2|3|4), "
                         f"received shape {np.shape(pixels)}")
    return np.clip(arr, 0.0, 1.0)


def _resample_rows(image: np.ndarray, n_out: int, canvas: int, offset: int,
                   background: float) -> np.ndarray:
    """Area-average ``image`` (at row ``offset`` of a ``canvas``-row page) into ``n_out`` rows.

    Rows of the page outside the image hold ``background``. Works on the
    running sum of the rows, so the page itself is never built.
    """
    n_in = image.shape[0]
    running = np.concatenate([np.zeros((1, image.shape[1])), np.cumsum(image, axis=0)])
    edges = np.arange(n_out + 1) * (canvas / n_out) - offset  # cell edges, in image rows
    t = np.clip(edges, 0.0, n_in)
    whole = np.minimum(t.astype(np.int64), n_in - 1)
    # integral of the image from row 0 to position t: linear between running sums
    integral = running[whole] + (t - whole)[:, None] * (running[whole + 1] - running[whole])
    content = integral[1:] - integral[:-1]
    covered = (t[1:] - t[:-1])[:, None]
    cell = canvas / n_out
    return (content + (cell - covered) * background) / cell


def resize_area(image, size, *, background: float | None = None) -> np.ndarray:
    """Resize a grayscale image to ``size`` by area averaging, padding to keep its aspect ratio.

    The image is centred on a page of the target aspect ratio filled with
    ``background`` (only when the ratios differ), then each output pixel is
    the mean of the page area it covers. The page is never allocated.

    Args:
        image: ``(H, W)`` array.
        size: ``(height, width)`` wanted.
        background: Value of the padding (default: the median of the image's
            border).

    Returns:
        ``(height, width)`` float64 array.

    Example:
        >>> resize_area(np.arange(16.0).reshape(4, 4), (2, 2))
        array([[ 2.5,  4.5],
               [10.5, 12.5]])
    """
    image = np.asarray(image, dtype=np.float64)
    if image.ndim != 2 or 0 in image.shape:
        raise ValueError(f"resize_area: expected a non-empty (H, W) image, received shape "
                         f"{image.shape}")
    th, tw = _target_size("resize_area", size)
    if background is None:
        background = _border_median(image)
    h, w = image.shape
    # the page: at least the image, with the target aspect ratio; the image centred on it
    page_h, page_w = max(h, math.ceil(w * th / tw)), max(w, math.ceil(h * tw / th))
    top, left = (page_h - h) // 2, (page_w - w) // 2
    if th * w <= h * tw:  # both orders give the same result: take the smaller intermediate
        rows = _resample_rows(image, th, page_h, top, background)  # (th, w)
        return _resample_rows(rows.T, tw, page_w, left, background).T
    cols = _resample_rows(image.T, tw, page_w, left, background)  # (tw, h)
    return _resample_rows(cols.T, th, page_h, top, background)


def _target_size(owner: str, size) -> tuple[int, int]:
    if not isinstance(size, (tuple, list)) or len(size) != 2:
        raise TypeError(f"{owner}: size must be a (height, width) pair, received {size!r}")
    return (check_int(owner, "size[0]", size[0], minimum=1),
            check_int(owner, "size[1]", size[1], minimum=1))


def _border_median(image: np.ndarray) -> float:
    return float(np.median(np.concatenate([image[0], image[-1], image[:, 0], image[:, -1]])))


def prepare_image(gray, size, invert: str = "auto"):
    """Make a grayscale image look like an MNIST sample of ``size``.

    The background is the median of the image's border. The image is inverted
    when ``invert`` is ``"yes"``, or ``"auto"`` and the background is light
    (MNIST digits are white on black), then padded with the background to
    the target aspect ratio and resized by :func:`resize_area`.

    Args:
        gray: ``(H, W)`` floats in [0, 1] (see :func:`read_gray`).
        size: ``(height, width)`` wanted, e.g. ``(28, 28)``.
        invert: ``"auto"``, ``"yes"`` or ``"no"``.

    Returns:
        ``(image, notes)``: float32 ``size`` image in [0, 1] and a list of
        what was done, for the user.

    Example:
        >>> img, notes = prepare_image(np.ones((56, 56)), (28, 28))
        >>> img.shape, float(img.max()), notes
        ((28, 28), 0.0, ['inverted (light background)', 'resized 56x56 -> 28x28'])
    """
    size = _target_size("prepare_image", size)
    check_choice("prepare_image", "invert", invert, ("auto", "yes", "no"))
    gray = np.asarray(gray, dtype=np.float64)
    if gray.ndim != 2 or 0 in gray.shape:
        raise ValueError(f"prepare_image: expected a non-empty (H, W) grayscale image, "
                         f"received shape {gray.shape}")
    notes = []
    background = _border_median(gray)
    if invert == "yes" or (invert == "auto" and background > 0.5):
        gray = 1.0 - gray
        background = 1.0 - background
        if invert == "auto":
            notes.append("inverted (light background)")
    h, w = gray.shape
    if (h, w) != size:
        gray = resize_area(gray, size, background=background)
        notes.append(f"resized {w}x{h} -> {size[1]}x{size[0]}")
    return np.clip(gray, 0.0, 1.0).astype(np.float32), notes
