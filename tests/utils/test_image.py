"""gradkit/utils/image.py: reading untrusted images and making them look like MNIST samples."""

from __future__ import annotations

import math
import os
import struct
import tracemalloc
import zlib

import numpy as np
import pytest

from gradkit.utils import image, png

try:
    import matplotlib  # noqa: F401

    HAS_MPL = True
except ImportError:
    HAS_MPL = False


def chunk(kind: bytes, payload: bytes) -> bytes:
    return (struct.pack(">I", len(payload)) + kind + payload
            + struct.pack(">I", zlib.crc32(kind + payload)))


def with_ihdr(data: bytes, *fields) -> bytes:
    """``data`` (a PNG) with its IHDR replaced by ``fields``, CRC fixed."""
    return data[:8] + chunk(b"IHDR", struct.pack(">IIBBBBB", *fields)) + data[33:]


def reference_resize(gray, size, background):
    """Pad to the target aspect ratio on a real canvas, then area-average with dense weights."""
    def weights(n_out, n_in):
        edges = np.arange(n_out + 1) * (n_in / n_out)
        j = np.arange(n_in)[None, :]
        overlap = np.minimum(edges[1:, None], j + 1) - np.maximum(edges[:-1, None], j)
        overlap = np.clip(overlap, 0.0, None)
        return overlap / overlap.sum(axis=1, keepdims=True)

    (h, w), (th, tw) = gray.shape, size
    page_h, page_w = max(h, math.ceil(w * th / tw)), max(w, math.ceil(h * tw / th))
    page = np.full((page_h, page_w), background)
    top, left = (page_h - h) // 2, (page_w - w) // 2
    page[top:top + h, left:left + w] = gray
    return weights(th, page_h) @ page @ weights(tw, page_w).T


# ---------------------------------------------------------------- reading
@pytest.mark.parametrize("use_matplotlib", [False, True])
def test_read_gray_same_with_either_reader(tmp_path, use_matplotlib):
    if use_matplotlib and not HAS_MPL:
        pytest.skip("matplotlib is not installed")
    rng = np.random.default_rng(2)
    rgba = rng.integers(0, 256, (6, 8, 4), dtype=np.uint8)
    png.write_png(tmp_path / "c.png", rgba)
    gray = image.read_gray(tmp_path / "c.png", use_matplotlib=use_matplotlib)
    f = rgba / 255.0
    want = (f[..., :3] @ [0.299, 0.587, 0.114]) * f[..., 3] + (1 - f[..., 3])
    assert gray.shape == (6, 8) and gray.dtype == np.float64
    assert np.allclose(gray, want, atol=1e-6)


@pytest.mark.parametrize("pixels", [np.arange(12, dtype=np.uint8).reshape(3, 4) * 20,
                                    np.arange(12, dtype=np.uint16).reshape(3, 4) * 5000])
def test_read_gray_scales_gray_pixels_to_unit_range(tmp_path, pixels):
    png.write_png(tmp_path / "g.png", pixels)
    gray = image.read_gray(tmp_path / "g.png", use_matplotlib=False)
    assert np.allclose(gray, pixels / np.iinfo(pixels.dtype).max)


def test_interlaced_png_is_read_with_matplotlib(tmp_path):
    # a 2x2 Adam7 image: pass 1 holds (0, 0), pass 6 holds (0, 1), pass 7 holds row 1
    raw = bytes([0, 10, 0, 200, 0, 30, 250])
    data = (png.SIGNATURE + chunk(b"IHDR", struct.pack(">IIBBBBB", 2, 2, 8, 0, 0, 0, 1))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
    (tmp_path / "i.png").write_bytes(data)
    with pytest.raises(png.PNGError, match="interlaced"):
        image.read_gray(tmp_path / "i.png", use_matplotlib=False)
    if not HAS_MPL:
        pytest.skip("matplotlib is not installed")
    gray = image.read_gray(tmp_path / "i.png")
    assert np.allclose(gray, np.array([[10, 200], [30, 250]]) / 255.0, atol=1e-6)


def test_to_gray_channels():
    assert np.array_equal(image.to_gray(np.full((2, 3, 1), 0.25)), np.full((2, 3), 0.25))
    gray_alpha = np.stack([np.zeros((2, 2)), np.full((2, 2), 0.5)], axis=-1)
    assert np.allclose(image.to_gray(gray_alpha), 0.5)  # black, half transparent over white
    assert np.allclose(image.to_gray(np.ones((1, 1, 3)) * [1.0, 0.0, 0.0]), 0.299)
    with pytest.raises(ValueError, match=r"received shape \(2, 2, 5\)"):
        image.to_gray(np.zeros((2, 2, 5)))


# ---------------------------------------------------------------- untrusted files
@pytest.mark.untrusted
def test_absurd_dimensions_are_refused_before_the_pixels_are_read(tmp_path, monkeypatch):
    good = png.encode_png(np.zeros((4, 4), np.uint8))
    (tmp_path / "huge.png").write_bytes(with_ihdr(good, 100_000, 100_000, 8, 0, 0, 0, 0))
    png.write_png(tmp_path / "big.png", np.zeros((64, 64), np.uint8))

    def never(*args, **kwargs):
        raise AssertionError("the pixels were decoded")

    monkeypatch.setattr(png, "decode_png", never)
    with pytest.raises(png.PNGError, match=r"huge\.png.*100000x100000 pixels is too large"):
        image.read_gray(tmp_path / "huge.png")
    with pytest.raises(png.PNGError, match=r"64x64 pixels is too large \(limit 1000 pixels\)"):
        image.read_gray(tmp_path / "big.png", max_pixels=1000)


@pytest.mark.untrusted
def test_oversized_files_are_refused(tmp_path, monkeypatch):
    png.write_png(tmp_path / "a.png", np.zeros((8, 8), np.uint8))
    monkeypatch.setattr(image, "MAX_FILE_BYTES", 40)
    with pytest.raises(png.PNGError, match=r"file of \d+ bytes is too large for an image"):
        image.read_gray(tmp_path / "a.png")


@pytest.mark.untrusted
def test_non_regular_files_are_refused(tmp_path):
    (tmp_path / "dir.png").mkdir()
    with pytest.raises(ValueError, match=r"'.*dir\.png' is a directory, not an image file"):
        image.read_gray(tmp_path / "dir.png")
    if hasattr(os, "mkfifo"):
        os.mkfifo(tmp_path / "pipe.png")  # no writer: a blocking open would hang here
        with pytest.raises(ValueError, match="is a FIFO, not an image file"):
            image.read_gray(tmp_path / "pipe.png")
    if os.path.exists("/dev/zero"):  # endless: reading it would never finish
        with pytest.raises(ValueError, match="is a device, not an input file"):
            image.open_regular_file("/dev/zero", "an input file")
    with pytest.raises(FileNotFoundError):
        image.read_gray(tmp_path / "missing.png")


@pytest.mark.untrusted
@pytest.mark.parametrize("use_matplotlib", [False, True])
def test_truncated_files_give_a_clear_error(tmp_path, use_matplotlib):
    if use_matplotlib and not HAS_MPL:
        pytest.skip("matplotlib is not installed")
    good = png.encode_png(np.random.default_rng(0).integers(0, 256, (32, 32), dtype=np.uint8))
    for cut in (20, 40, len(good) - 20):
        (tmp_path / "cut.png").write_bytes(good[:cut])
        with pytest.raises(png.PNGError, match=r"cut\.png: (truncated|cannot read)") as info:
            image.read_gray(tmp_path / "cut.png", use_matplotlib=use_matplotlib)
        if not use_matplotlib:
            assert "truncated PNG" in str(info.value)
    (tmp_path / "text.png").write_text("not an image")
    with pytest.raises(png.PNGError, match="not a PNG file"):
        image.read_gray(tmp_path / "text.png")


@pytest.mark.bad_input
def test_argument_checks():
    with pytest.raises(ValueError, match="max_pixels must be an integer >= 1, received 0"):
        image.read_gray("x.png", max_pixels=0)
    with pytest.raises(TypeError, match="max_pixels must be an integer"):
        image.read_gray("x.png", max_pixels=1.5)
    with pytest.raises(TypeError, match="use_matplotlib must be None, True or False"):
        image.read_gray("x.png", use_matplotlib="yes")
    with pytest.raises(ValueError, match="invert must be one of 'auto', 'yes', 'no'"):
        image.prepare_image(np.zeros((4, 4)), (2, 2), invert="maybe")
    with pytest.raises(ValueError, match=r"size\[0\] must be an integer >= 1, received 0"):
        image.prepare_image(np.zeros((4, 4)), (0, 2))
    with pytest.raises(TypeError, match="size must be a \\(height, width\\) pair"):
        image.resize_area(np.zeros((4, 4)), 28)
    with pytest.raises(ValueError, match="non-empty"):
        image.resize_area(np.zeros((0, 4)), (2, 2))


# ---------------------------------------------------------------- resizing
def test_resize_area_matches_a_padded_canvas():
    rng = np.random.default_rng(3)
    for _ in range(60):
        h, w = rng.integers(1, 60, 2)
        th, tw = (int(v) for v in rng.integers(1, 30, 2))
        gray, background = rng.random((h, w)), float(rng.random())
        got = image.resize_area(gray, (th, tw), background=background)
        np.testing.assert_allclose(got, reference_resize(gray, (th, tw), background),
                                   atol=1e-12, err_msg=f"{(h, w)} -> {(th, tw)}")


def test_resize_area_keeps_the_mean_and_the_identity():
    gray = np.random.default_rng(4).random((30, 45))
    assert np.allclose(image.resize_area(gray, (30, 45)), gray)
    assert image.resize_area(gray, (10, 15)).mean() == pytest.approx(gray.mean())


def test_extreme_aspect_ratio_costs_memory_like_the_image():
    line = np.zeros((1, 300_000))
    line[0, 100_000:200_000] = 1.0
    tracemalloc.start()
    try:
        out = image.resize_area(line, (28, 28), background=0.0)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 64 * line.nbytes  # a padded 300000 x 300000 canvas would be 720 GB
    assert out.shape == (28, 28)
    assert out.sum() * (300_000 / 28) ** 2 == pytest.approx(100_000)  # the ink is kept


def test_prepare_image_inverts_pads_and_resizes():
    digit = np.ones((40, 20))  # white page...
    digit[10:30, 8:12] = 0.0  # ...with a black stroke
    img, notes = image.prepare_image(digit, (28, 28))
    assert img.shape == (28, 28) and img.dtype == np.float32
    assert notes == ["inverted (light background)", "resized 20x40 -> 28x28"]
    assert img[0, 0] == 0.0 and img.max() > 0.9  # black background, white stroke
    assert img[:, :7].max() == 0.0  # padded sides stay background
    same, notes = image.prepare_image(np.zeros((28, 28)), (28, 28))
    assert notes == [] and same.shape == (28, 28)
    kept, notes = image.prepare_image(np.ones((28, 28)), (28, 28), invert="no")
    assert notes == [] and kept.min() == 1.0
    flipped, notes = image.prepare_image(np.zeros((28, 28)), (28, 28), invert="yes")
    assert notes == [] and flipped.min() == 1.0
