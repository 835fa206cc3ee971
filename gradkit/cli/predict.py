"""``gradkit predict``: classify the samples in an IDX, ``.npy`` or PNG file.

The format is told from the file's first bytes, not its name. Arrays are
reshaped to the model's input when the sizes agree; integer pixels (0-255)
are scaled to [0, 1] as in training. A PNG is read as grayscale and made to
look like an MNIST sample by :mod:`gradkit.utils.image`. ``.npy`` files are
loaded without pickle: unpickling could run code from the file.
"""

from __future__ import annotations

import math
import os
import sys

import numpy as np

from gradkit.cli import saved_model
from gradkit.cli.errors import CLIError, one_line, usage_error
from gradkit.cli.saved_model import format_shape
from gradkit.utils import image

_NPY_MAGIC = b"\x93NUMPY"
_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _sniff(path: str) -> str:
    """Tell ``"npy"``, ``"png"`` or ``"idx"`` from a file's first bytes."""
    with image.open_regular_file(path, "an input file") as f:
        head = f.read(8)
    if head.startswith(_NPY_MAGIC):
        return "npy"
    if head.startswith(_PNG_MAGIC):
        return "png"
    if head[:2] in (b"\x1f\x8b", b"\x00\x00"):
        return "idx"
    if path.lower().endswith(".npz"):
        raise CLIError(f"'{path}' is a .npz archive; save one array with numpy.save (.npy)")
    raise CLIError(f"'{path}' is not an IDX, .npy or PNG file (unrecognised first bytes "
                   f"{head[:4]!r})")


NPY_MAX_HEADER = 10_000  # bytes of .npy header (NumPy's own default limit)


def _load_npy(path: str) -> np.ndarray:
    """The array in a ``.npy`` file, its header checked before anything is allocated."""
    from numpy.lib import format as npy

    try:
        with open(path, "rb") as f:
            version = npy.read_magic(f)
            read = npy.read_array_header_1_0 if version == (1, 0) else \
                npy.read_array_header_2_0
            shape, _, dtype = read(f, max_header_size=NPY_MAX_HEADER)
            data_bytes = os.fstat(f.fileno()).st_size - f.tell()
    except ValueError as exc:
        if "max_header_size" in str(exc):
            raise CLIError(f"'{path}' has a .npy header larger than {NPY_MAX_HEADER:,} bytes; "
                           "it is corrupt or not a plain array file") from None
        raise CLIError(f"'{path}' is not a valid .npy file ({one_line(exc)})") from None
    except (OSError, SyntaxError, TypeError, EOFError) as exc:
        raise CLIError(f"'{path}' is not a valid .npy file ({one_line(exc)})") from None
    if dtype.hasobject:
        raise CLIError(f"'{path}' holds pickled Python objects; gradkit refuses to load "
                       "them (unpickling can run arbitrary code): save a plain numeric "
                       "array instead")
    need = math.prod(shape) * dtype.itemsize
    if need != data_bytes:
        raise CLIError(f"'{path}': its .npy header says {dtype} of shape {shape} "
                       f"({need:,} bytes) but the file holds {data_bytes:,} bytes of data; "
                       "it is truncated or corrupt")
    try:
        return np.load(path, allow_pickle=False)
    except (ValueError, OSError) as exc:
        raise CLIError(f"'{path}' is not a valid .npy file ({one_line(exc)})") from None


def _image_size(sample_shape: tuple) -> tuple[int, int]:
    """The (height, width) of the images a model takes, or fail."""
    if len(sample_shape) == 3 and sample_shape[2] == 1:
        return sample_shape[0], sample_shape[1]
    if len(sample_shape) == 2:
        return sample_shape
    if len(sample_shape) == 1 and sample_shape[0] and math.isqrt(sample_shape[0]) ** 2 == \
            sample_shape[0] and sample_shape[0] >= 16:
        side = math.isqrt(sample_shape[0])
        return side, side
    raise CLIError(f"the model takes inputs of shape {format_shape(sample_shape)}, not "
                   "grayscale images, so a PNG can't be fed to it")


def _samples_from_array(arr: np.ndarray, sample_shape: tuple, source: str):
    """Turn a loaded array into a float32 batch ``(N, *sample_shape)``; returns (batch, notes)."""
    if arr.dtype.kind not in "biuf":
        raise CLIError(f"{source} holds {arr.dtype} data; expected numbers")
    size = int(np.prod(sample_shape))
    images = size >= 16  # not a toy 2-feature model: inputs are pixels
    if arr.ndim >= 1 and tuple(arr.shape[1:]) == sample_shape:
        batch = arr
    elif tuple(arr.shape) == sample_shape:
        batch = arr[None]
    elif arr.ndim >= 2 and int(np.prod(arr.shape[1:])) == size:
        batch = arr.reshape((len(arr), *sample_shape))
    elif arr.size == size and arr.ndim >= 2:
        batch = arr.reshape((1, *sample_shape))
    else:
        hint = " (or N 28x28 images)" if size == 784 else ""
        raise CLIError(f"{source} holds an array of shape {format_shape(arr.shape)}, which "
                       f"does not fit the model: it takes samples of shape "
                       f"{format_shape(sample_shape)}; give one sample or a batch of shape "
                       f"(N, {', '.join(map(str, sample_shape))}){hint}")
    if len(batch) == 0:
        raise CLIError(f"{source} holds no samples")
    batch = batch.astype(np.float32)
    if not np.all(np.isfinite(batch)):
        raise CLIError(f"{source} holds NaN or infinite values")
    notes = []
    if images and arr.dtype.kind in "iu":
        batch = batch / np.float32(255.0)  # 0-255 pixels, as the model was trained on [0, 1]
    elif images and float(batch.max()) > 1.5:
        batch = batch / np.float32(255.0)
        notes.append("float values above 1 taken as 0-255 pixels and scaled to [0, 1]")
    return batch, notes


def load_inputs(path: str, model_sample_shape: tuple, invert: str = "auto"):
    """Read FILE for ``gradkit predict`` as a float32 batch for the model.

    Args:
        path: IDX (raw or gzip), ``.npy`` or PNG file.
        model_sample_shape: The model's per-sample input shape.
        invert: PNG only: ``"auto"``, ``"yes"`` or ``"no"`` (see
            :func:`gradkit.utils.image.prepare_image`); other files take only
            ``"auto"``.

    Returns:
        ``(batch, notes)``: the samples, shape ``(N, *model_sample_shape)``,
        and notes about conversions made.

    Raises:
        CLIError: Unknown format, pickled data, a shape the model can't take,
            or ``invert`` given for a file that is not a PNG.
        DatasetError, PNGError: A corrupt IDX or PNG file.
        ValueError: ``path`` is a directory, FIFO or device.

    Example:
        >>> batch, notes = load_inputs("digit.png", (784,))  # doctest: +SKIP
        >>> batch.shape  # doctest: +SKIP
        (1, 784)
    """
    kind = _sniff(path)
    if kind != "png" and invert != "auto":
        raise usage_error(f"--invert applies to PNG images only; '{path}' is an "
                          f"{'IDX' if kind == 'idx' else '.npy'} file")
    if kind == "png":
        size = _image_size(model_sample_shape)
        picture, notes = image.prepare_image(image.read_gray(path), size, invert)
        return picture.reshape((1, *model_sample_shape)), notes
    if kind == "npy":
        arr = _load_npy(path)
    else:
        from gradkit.datasets import read_idx

        arr = read_idx(path)
    return _samples_from_array(arr, model_sample_shape, f"'{path}'")


def _class_names(choice: str, model_path, units: int):
    """The class names to print for ``--class-names``, or None."""
    from gradkit.datasets import fashion_mnist

    names = fashion_mnist.CLASS_NAMES
    if choice == "fashion-mnist":
        if units != len(names):
            raise CLIError(f"--class-names fashion-mnist needs a model with {len(names)} "
                           f"outputs, this one has {units}; use --class-names none")
        return names
    if choice == "auto" and units == len(names) and \
            saved_model.run_info(model_path).get("dataset") == "fashion-mnist":
        return names
    return None


def cmd_predict(args) -> int:
    """``gradkit predict``: classify the samples of an IDX, .npy or PNG file."""
    model, path = saved_model.load(args.model, compile=False)
    sample_shape = saved_model.input_shape(model)
    units = saved_model.output_units(model, sample_shape)
    if not os.path.exists(args.file):
        raise CLIError(f"no input file at '{args.file}'")
    names = _class_names(args.class_names, path, units)
    x, notes = load_inputs(args.file, sample_shape, args.invert)
    for note in notes:
        print(f"note: {args.file}: {note}", file=sys.stderr)
    if args.limit is not None:
        x = x[: args.limit]
    probs = saved_model.probabilities(model, x, args.batch_size)
    predicted = probs.argmax(axis=1)
    print("index\tclass\t" + ("name\t" if names else "") + "probability")
    for i, (c, p) in enumerate(zip(predicted, probs[np.arange(len(probs)), predicted])):
        name = f"{names[c]}\t" if names else ""
        print(f"{i}\t{c}\t{name}{p:.4f}")
    return 0
