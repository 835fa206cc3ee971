"""Read and write IDX files, the binary format MNIST-style datasets ship in.

Layout of an IDX file (all integers big-endian)::

    byte 0-1   0x00 0x00          magic: two zero bytes
    byte 2     dtype code         0x08 ubyte, 0x09 byte, 0x0B short,
                                  0x0C int, 0x0D float, 0x0E double
    byte 3     ndim               number of dimensions
    4*ndim     uint32 sizes       one per dimension
    rest       the data           prod(sizes) items, C order, big-endian

Files may be gzip-compressed; compression is detected from the content (the
gzip magic bytes ``1f 8b``), never from the file name.
"""

from __future__ import annotations

import gzip as _gzip
import hashlib
import math
import os
import struct
import zlib
from pathlib import Path

import numpy as np

from .errors import DatasetError

__all__ = ["DTYPE_CODES", "is_gzip", "read_idx", "write_idx"]

#: IDX dtype code -> (name used in the IDX spec, big-endian NumPy dtype).
DTYPE_CODES: dict[int, tuple[str, np.dtype]] = {
    0x08: ("ubyte", np.dtype(">u1")),
    0x09: ("byte", np.dtype(">i1")),
    0x0B: ("short", np.dtype(">i2")),
    0x0C: ("int", np.dtype(">i4")),
    0x0D: ("float", np.dtype(">f4")),
    0x0E: ("double", np.dtype(">f8")),
}

_CODE_FOR_DTYPE = {dt.newbyteorder("="): code for code, (_, dt) in DTYPE_CODES.items()}
_GZIP_MAGIC = b"\x1f\x8b"
_CHUNK = 1 << 20  # bytes read per step when decompressing
_MAX_EXTRA_COUNT = 1 << 30  # stop counting surplus bytes after this many
_MAX_DEFLATE_RATIO = 1100  # deflate's real limit is about 1032:1
_VALID_CODES = ", ".join(f"0x{c:02X} ({n})" for c, (n, _) in DTYPE_CODES.items())


def is_gzip(path: str | os.PathLike) -> bool:
    """Tell whether a file is gzip-compressed by looking at its first two bytes.

    Args:
        path: File to inspect.

    Returns:
        True if the file starts with the gzip magic bytes ``1f 8b``.

    Example:
        >>> is_gzip("t10k-labels-idx1-ubyte.gz")  # doctest: +SKIP
        True
    """
    with open(path, "rb") as f:
        return f.read(2) == _GZIP_MAGIC


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX file (raw or gzip-compressed) into a NumPy array.

    The header is validated before any large buffer is allocated, so a
    corrupt header that claims terabytes of data fails fast with a clear
    message instead of exhausting memory.

    Args:
        path: The IDX file. Gzip compression is detected from the content.

    Returns:
        A writable array in native byte order whose shape is the one stored in
        the header (for MNIST images: ``uint8`` of shape ``(N, 28, 28)``).

    Raises:
        DatasetError: The file is not a valid IDX file (bad magic, unknown
            dtype code, truncated header or payload, surplus bytes, broken
            gzip stream). The message names the file and the problem.
        OSError: The file cannot be opened.

    Example:
        >>> images = read_idx("t10k-images-idx3-ubyte.gz")  # doctest: +SKIP
        >>> images.shape, images.dtype  # doctest: +SKIP
        ((10000, 28, 28), dtype('uint8'))
    """
    return _read_idx_with_digest(path)[0]


def _read_idx_with_digest(
    path: str | os.PathLike, display_name: str | None = None, expect_shape=None
) -> tuple[np.ndarray, str]:
    """Like :func:`read_idx` but also return the SHA-256 of the decompressed bytes.

    ``display_name`` replaces the path in error messages (e.g. the URL a
    temporary download file came from). ``expect_shape``, when given, is compared
    with the header's shape before any payload is read or inflated.
    """
    name = display_name if display_name is not None else os.fspath(path)
    digest = hashlib.sha256()
    with open(path, "rb") as raw:
        compressed = raw.read(2) == _GZIP_MAGIC
        raw.seek(0)
        size = os.fstat(raw.fileno()).st_size
        if not compressed:
            return _parse(raw, name, size, None, digest, expect_shape), digest.hexdigest()
        try:
            with _gzip.GzipFile(fileobj=raw, mode="rb") as stream:
                return _parse(stream, name, None, size, digest, expect_shape), \
                    digest.hexdigest()
        except EOFError as exc:
            raise _bad_gzip(name, "the compressed stream ends early (EOF error)", exc) from exc
        except _gzip.BadGzipFile as exc:
            raise _bad_gzip(name, f"CRC/format error: {exc}", exc) from exc
        except zlib.error as exc:
            raise _bad_gzip(name, f"corrupt compressed data: {exc}", exc) from exc


def _bad_gzip(name: str, reason: str, exc: Exception) -> DatasetError:
    return DatasetError(
        f"{name} is not a valid gzip file ({reason}). The file is damaged or an "
        "incomplete download; delete it and obtain a fresh copy."
    )


def _read_upto(stream, n: int) -> bytes:
    """Read up to ``n`` bytes, fewer only at end of file."""
    parts = []
    while n > 0:
        chunk = stream.read(min(n, _CHUNK))
        if not chunk:
            break
        parts.append(chunk)
        n -= len(chunk)
    return b"".join(parts)


def _magic_hint(header: bytes) -> str:
    head = header.lstrip()
    if head[:1] == b"<":
        return " (it looks like an HTML/XML page, e.g. an error page saved instead of the data)"
    if head[:2] == b"PK":
        return " (it looks like a zip/npz archive, not an IDX file)"
    if header and all(32 <= b < 127 or b in (9, 10, 13) for b in header):
        return " (it looks like a text file)"
    return ""


MAX_NDIM = 32  # IDX allows 255; NumPy arrays stop at 64, datasets use 1 to 4
_MAX_BYTES = 2 ** 62  # no dimension product beyond this, even next to a 0


def _parse(
    stream, name: str, file_size: int | None, compressed_size: int | None, digest,
    expect_shape=None,
) -> np.ndarray:
    """Parse an IDX stream.

    ``file_size`` is the size of a raw file (None for gzip); ``compressed_size``
    the size of a gzip file (None for raw).
    """
    header = _read_upto(stream, 4)
    digest.update(header)
    if len(header) < 4:
        raise DatasetError(
            f"{name} is too short to be an IDX file: it holds {len(header)} byte(s), "
            "but the IDX header alone needs at least 8"
        )
    if header[0] != 0 or header[1] != 0:
        magic = int.from_bytes(header, "big")
        raise DatasetError(
            f"{name} has bad magic 0x{magic:08X}: an IDX file must start with two zero "
            "bytes, a dtype code and the number of dimensions (e.g. 0x00000803 for "
            f"3-d ubyte images){_magic_hint(header)}"
        )
    code, ndim = header[2], header[3]
    if code not in DTYPE_CODES:
        raise DatasetError(
            f"{name} has unknown IDX dtype code 0x{code:02X} "
            f"(magic 0x{int.from_bytes(header, 'big'):08X}); valid codes are {_VALID_CODES}"
        )
    if ndim == 0:
        raise DatasetError(f"{name} declares 0 dimensions; an IDX file needs at least one")
    if ndim > MAX_NDIM:
        raise DatasetError(f"{name} declares {ndim} dimensions; gradkit reads IDX files of 1 "
                           f"to {MAX_NDIM} dimensions (the file is corrupt or not IDX data)")
    dim_bytes = _read_upto(stream, 4 * ndim)
    digest.update(dim_bytes)
    if len(dim_bytes) < 4 * ndim:
        raise DatasetError(
            f"{name} is truncated inside its header: {ndim} dimension(s) need "
            f"{4 * ndim} bytes of sizes, found {len(dim_bytes)}"
        )
    dims = struct.unpack(f">{ndim}I", dim_bytes)
    type_name, dtype = DTYPE_CODES[code]
    if 0 in dims and math.prod(d for d in dims if d) * dtype.itemsize > _MAX_BYTES:
        raise DatasetError(f"{name}: header dimensions {'x'.join(map(str, dims))} are "
                           "absurd (their product overflows); the file is corrupt")
    if expect_shape is not None and tuple(dims) != tuple(expect_shape):
        raise DatasetError(f"{name}: header says shape {'x'.join(map(str, dims))}, expected "
                           f"{'x'.join(map(str, expect_shape))}; not inflated, not cached")
    expected = math.prod(dims) * dtype.itemsize
    says = f"header says {'x'.join(map(str, dims))} = {expected} bytes of {type_name}"

    if file_size is not None:
        # Raw file: compare against the size on disk before allocating anything.
        found = max(0, file_size - 4 - 4 * ndim)
        if found != expected:
            raise _size_error(name, says, expected, found)
        buf = bytearray(expected)
        got = stream.readinto(buf) if expected else 0
        if got != expected:  # the file shrank while we were reading it
            raise _size_error(name, says, expected, got)
    else:
        # Gzip: the decompressed size is unknown. Deflate cannot expand data
        # by more than ~1032:1, so a header claiming more than that is checked
        # by counting, without storing anything.
        if expected > compressed_size * _MAX_DEFLATE_RATIO + _CHUNK:
            raise _size_error(name, says, expected, _count_rest(stream, limit=expected))
        # Otherwise grow the buffer as data arrives; memory use stays bounded
        # by the data actually present.
        buf = bytearray()
        while len(buf) < expected:
            chunk = stream.read(min(_CHUNK, expected - len(buf)))
            if not chunk:
                break
            buf += chunk
        if len(buf) < expected:
            raise _size_error(name, says, expected, len(buf))
        extra = _count_rest(stream)
        if extra:
            raise _size_error(name, says, expected, expected + extra)
    digest.update(buf)
    array = np.frombuffer(buf, dtype=dtype).reshape(dims)
    if dtype.itemsize > 1:
        array = array.astype(dtype.newbyteorder("="))
    return array


def _count_rest(stream, limit: int = _MAX_EXTRA_COUNT) -> int:
    """Count (and discard) the remaining bytes of ``stream``, stopping at ``limit``."""
    total = 0
    while total < limit:
        chunk = stream.read(_CHUNK)
        if not chunk:
            break
        total += len(chunk)
    return total


def _size_error(name: str, says: str, expected: int, found: int) -> DatasetError:
    if found < expected:
        return DatasetError(
            f"{name} is truncated: {says}, found {found}. The file is incomplete; "
            "delete it and obtain a fresh copy."
        )
    more = "at least " if found - expected >= _MAX_EXTRA_COUNT else ""
    return DatasetError(
        f"{name} has {more}{found - expected} extra bytes: {says}, found {found}. "
        "The header does not match the data; the file is corrupt or not an IDX file."
    )


def write_idx(path: str | os.PathLike, array, gzip: bool = True) -> Path:
    """Write an array as an IDX file.

    Args:
        path: Destination file (overwritten if it exists). The name is not
            changed; add ``.gz`` yourself if you want the conventional suffix.
        array: Array-like with dtype ``uint8``, ``int8``, ``int16``, ``int32``,
            ``float32`` or ``float64`` and 1 to 255 dimensions, each < 2**32.
        gzip: Compress the file with gzip (default True).

    Returns:
        The path written, as a :class:`pathlib.Path`.

    Raises:
        TypeError: The dtype has no IDX code.
        ValueError: The array is 0-d, has more than 255 dimensions, or a
            dimension does not fit in uint32.

    Example:
        >>> import numpy as np
        >>> p = write_idx("labels-idx1-ubyte.gz", np.array([3, 1, 4], np.uint8))  # doctest: +SKIP
        >>> read_idx(p)  # doctest: +SKIP
        array([3, 1, 4], dtype=uint8)
    """
    arr = np.asarray(array)
    native = arr.dtype.newbyteorder("=") if arr.dtype.byteorder in "<>" else arr.dtype
    code = _CODE_FOR_DTYPE.get(native)
    if code is None:
        raise TypeError(
            f"write_idx: dtype {arr.dtype} has no IDX code; supported dtypes are "
            "uint8, int8, int16, int32, float32 and float64 (convert with .astype(...))"
        )
    if not 1 <= arr.ndim <= 255:
        raise ValueError(f"write_idx: IDX needs 1 to 255 dimensions, got a {arr.ndim}-d array")
    if any(d > 0xFFFFFFFF for d in arr.shape):
        raise ValueError(f"write_idx: every dimension must be < 2**32, got shape {arr.shape}")
    header = bytes([0, 0, code, arr.ndim]) + struct.pack(f">{arr.ndim}I", *arr.shape)
    payload = np.ascontiguousarray(arr, dtype=DTYPE_CODES[code][1]).tobytes()
    path = Path(path)
    if gzip:
        with _gzip.GzipFile(path, "wb", mtime=0) as f:
            f.write(header)
            f.write(payload)
    else:
        with open(path, "wb") as f:
            f.write(header)
            f.write(payload)
    return path
