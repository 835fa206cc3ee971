"""gradkit/utils/png.py: the pure-Python PNG reader and writer."""

from __future__ import annotations

import struct
import zlib

import numpy as np
import pytest

from gradkit.utils import png

try:
    import matplotlib.image as mpimg
except ImportError:
    mpimg = None


def _filtered_png(image: np.ndarray, filters) -> bytes:
    """Encode an 8-bit grayscale/RGB image with the given filter type per row (reference)."""
    h, w = image.shape[:2]
    bpp = 1 if image.ndim == 2 else image.shape[2]
    rows = image.reshape(h, -1).astype(int)
    raw = bytearray()
    for r in range(h):
        f = filters[r % len(filters)]
        raw.append(f)
        prev = rows[r - 1] if r else np.zeros_like(rows[0])
        for i, x in enumerate(rows[r]):
            a = rows[r][i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            pred = [0, a, b, (a + b) // 2, png._paeth(a, b, c)][f]
            raw.append((x - pred) % 256)
    ctype = 0 if bpp == 1 else 2
    return (png.SIGNATURE + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, ctype, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(bytes(raw))) + chunk(b"IEND", b""))


def chunk(kind: bytes, payload: bytes) -> bytes:
    return (struct.pack(">I", len(payload)) + kind + payload
            + struct.pack(">I", zlib.crc32(kind + payload)))


def with_ihdr(data: bytes, *fields) -> bytes:
    """``data`` (a PNG) with its IHDR replaced by ``fields``, CRC fixed."""
    return data[:8] + chunk(b"IHDR", struct.pack(">IIBBBBB", *fields)) + data[33:]


@pytest.mark.parametrize("shape", [(9, 7), (6, 5, 3)])
def test_png_decoder_handles_every_filter(shape):
    image = np.random.default_rng(0).integers(0, 256, shape, dtype=np.uint8)
    for filters in ([0], [1], [2], [3], [4], [0, 1, 2, 3, 4]):
        assert np.array_equal(png.decode_png(_filtered_png(image, filters)), image), filters


@pytest.mark.parametrize("shape, dtype", [((5, 4), np.uint8), ((5, 4, 2), np.uint8),
                                          ((3, 6, 3), np.uint8), ((4, 4, 4), np.uint8),
                                          ((7, 3), np.uint16), ((2, 5, 3), np.uint16)])
def test_png_round_trip(tmp_path, shape, dtype):
    rng = np.random.default_rng(1)
    image = rng.integers(0, np.iinfo(dtype).max + 1, shape).astype(dtype)
    png.write_png(tmp_path / "a.png", image)
    back = png.read_png(tmp_path / "a.png")
    assert back.dtype == dtype and np.array_equal(back, image)
    if mpimg is not None and dtype == np.uint8 and (image.ndim == 2 or image.shape[-1] in (3, 4)):
        ref = mpimg.imread(tmp_path / "a.png")
        assert np.allclose(ref, image / 255.0, atol=1e-6)


def test_read_header_needs_only_the_first_33_bytes():
    data = png.encode_png(np.zeros((5, 7, 4), np.uint16))
    header = png.read_header(data[:33], "x.png")
    assert header == png.PNGHeader(width=7, height=5, bit_depth=16, color_type=6,
                                   interlaced=False)
    assert png.read_header(data) == header


@pytest.mark.untrusted
def test_png_decoder_rejects_bad_files():
    good = png.encode_png(np.zeros((4, 4), np.uint8))
    with pytest.raises(png.PNGError, match="not a PNG"):
        png.decode_png(b"GIF89a" + good)
    with pytest.raises(png.PNGError, match="truncated"):
        png.decode_png(good[:30])
    with pytest.raises(png.PNGError, match="truncated"):
        png.decode_png(good[:40])  # inside the image data
    bad_crc = bytearray(good)
    bad_crc[20] ^= 0xFF  # inside IHDR
    with pytest.raises(png.PNGError, match="CRC"):
        png.decode_png(bytes(bad_crc))
    with pytest.raises(png.PNGError, match="interlaced"):
        png.decode_png(with_ihdr(good, 4, 4, 8, 0, 0, 0, 1))
    with pytest.raises(png.PNGError, match="too large"):
        png.decode_png(with_ihdr(good, 1 << 20, 1 << 20, 8, 0, 0, 0, 0))
    with pytest.raises(png.PNGError, match=r"size 0x4"):
        png.decode_png(with_ihdr(good, 0, 4, 8, 0, 0, 0, 0))
    with pytest.raises(png.PNGError, match="bit depth 4 is not valid for RGB"):
        png.decode_png(with_ihdr(good, 4, 4, 4, 2, 0, 0, 0))
    with pytest.raises(png.PNGError, match="first chunk is b'IDAT'"):
        png.decode_png(good[:8] + chunk(b"IDAT", b"x" * 13) + good[33:])
