"""IDX reader/writer: round trips and every validation failure."""

import gzip
import struct
import tracemalloc

import numpy as np
import pytest

from gradkit.datasets import DatasetError, read_idx, write_idx
from gradkit.datasets.idx import DTYPE_CODES, is_gzip

DTYPES = [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64]


def _sample(dtype, shape):
    rng = np.random.default_rng(0)
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        return rng.integers(info.min, info.max, size=shape, endpoint=True).astype(dtype)
    return rng.standard_normal(shape).astype(dtype)


@pytest.mark.parametrize("compress", [True, False], ids=["gzip", "raw"])
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
def test_round_trip_every_dtype(tmp_path, dtype, compress):
    arr = _sample(dtype, (3, 4, 5))
    path = write_idx(tmp_path / "a.idx", arr, gzip=compress)
    assert is_gzip(path) is compress
    back = read_idx(path)
    assert back.dtype == np.dtype(dtype)
    assert back.dtype.isnative
    assert back.shape == (3, 4, 5)
    np.testing.assert_array_equal(back, arr)
    back[0, 0, 0] = 0  # result is writable


def test_every_dtype_code_is_covered():
    assert sorted(DTYPE_CODES) == [0x08, 0x09, 0x0B, 0x0C, 0x0D, 0x0E]
    assert {dt.newbyteorder("=") for _, dt in DTYPE_CODES.values()} == {np.dtype(d) for d in DTYPES}


@pytest.mark.parametrize("shape", [(7,), (0,), (2, 0, 3), (1, 1, 1, 1, 2)])
def test_round_trip_shapes(tmp_path, shape):
    arr = _sample(np.int16, shape)
    np.testing.assert_array_equal(read_idx(write_idx(tmp_path / "s", arr)), arr)


def test_writes_big_endian_header_and_data(tmp_path):
    path = write_idx(tmp_path / "x", np.array([[1, 2, 3]], dtype=np.int32), gzip=False)
    raw = path.read_bytes()
    assert raw[:4] == b"\x00\x00\x0c\x02"
    assert struct.unpack(">2I", raw[4:12]) == (1, 3)
    assert struct.unpack(">3i", raw[12:]) == (1, 2, 3)


def test_gzip_detected_by_content_not_name(tmp_path):
    arr = np.arange(10, dtype=np.uint8)
    raw_named_gz = write_idx(tmp_path / "raw.gz", arr, gzip=False)
    gz_named_raw = write_idx(tmp_path / "compressed.idx", arr, gzip=True)
    np.testing.assert_array_equal(read_idx(raw_named_gz), arr)
    np.testing.assert_array_equal(read_idx(gz_named_raw), arr)


def test_accepts_non_native_byte_order_input(tmp_path):
    arr = np.arange(6, dtype=">f8").reshape(2, 3)
    np.testing.assert_array_equal(read_idx(write_idx(tmp_path / "b", arr)), arr)


@pytest.mark.parametrize(
    "arr, exc, match",
    [
        (np.zeros(3, dtype=np.int64), TypeError, "int64"),
        (np.zeros(3, dtype=bool), TypeError, "bool"),
        (np.array(5, dtype=np.uint8), ValueError, "0-d"),
    ],
)
def test_write_rejects_unsupported(tmp_path, arr, exc, match):
    with pytest.raises(exc, match=match):
        write_idx(tmp_path / "bad", arr)


# ---------------------------------------------------------------- failures


def _write(tmp_path, name, data, compress=False):
    path = tmp_path / name
    path.write_bytes(gzip.compress(data, mtime=0) if compress else data)
    return path


def _idx_bytes(arr):
    code = {np.dtype(dt.newbyteorder("=")): c for c, (_, dt) in DTYPE_CODES.items()}
    code = code[arr.dtype]
    header = bytes([0, 0, code, arr.ndim]) + struct.pack(f">{arr.ndim}I", *arr.shape)
    return header + arr.astype(arr.dtype.newbyteorder(">")).tobytes()


@pytest.mark.parametrize("compress", [True, False], ids=["gzip", "raw"])
def test_bad_magic(tmp_path, compress):
    path = _write(tmp_path, "images.idx", b"\x12\x34\x08\x01" + b"\0" * 8, compress)
    with pytest.raises(DatasetError, match=r"images\.idx has bad magic 0x12340801"):
        read_idx(path)


def test_bad_magic_html_hint(tmp_path):
    path = _write(tmp_path, "t10k.gz", b"<!DOCTYPE html><html>404 Not Found</html>")
    with pytest.raises(DatasetError, match="HTML"):
        read_idx(path)


@pytest.mark.parametrize("compress", [True, False], ids=["gzip", "raw"])
def test_bad_dtype_code(tmp_path, compress):
    path = _write(tmp_path, "odd.idx", b"\x00\x00\x0a\x01\x00\x00\x00\x01\x00", compress)
    with pytest.raises(DatasetError, match=r"odd\.idx has unknown IDX dtype code 0x0A") as info:
        read_idx(path)
    assert "0x08 (ubyte)" in str(info.value)


def test_zero_dimensions(tmp_path):
    path = _write(tmp_path, "scalar.idx", b"\x00\x00\x08\x00\x05")
    with pytest.raises(DatasetError, match=r"scalar\.idx declares 0 dimensions"):
        read_idx(path)


@pytest.mark.parametrize("data", [b"", b"\x00", b"\x00\x00\x08"])
def test_too_short_for_header(tmp_path, data):
    path = _write(tmp_path, "tiny.idx", data)
    with pytest.raises(DatasetError, match=r"tiny\.idx is too short"):
        read_idx(path)


def test_truncated_dims(tmp_path):
    path = _write(tmp_path, "dims.idx", b"\x00\x00\x08\x03\x00\x00\x27\x10\x00\x00")
    with pytest.raises(DatasetError, match=r"dims\.idx is truncated inside its header"):
        read_idx(path)


@pytest.mark.parametrize("compress", [True, False], ids=["gzip", "raw"])
def test_truncated_payload(tmp_path, compress):
    data = _idx_bytes(np.zeros((10, 28, 28), dtype=np.uint8))
    path = _write(tmp_path, "t10k-images-idx3-ubyte.gz", data[:-100], compress)
    with pytest.raises(DatasetError) as info:
        read_idx(path)
    msg = str(info.value)
    assert str(path) in msg
    assert "is truncated: header says 10x28x28 = 7840 bytes of ubyte, found 7740" in msg


@pytest.mark.parametrize("compress", [True, False], ids=["gzip", "raw"])
def test_extra_bytes(tmp_path, compress):
    data = _idx_bytes(np.arange(6, dtype=np.int16))
    path = _write(tmp_path, "labels.idx", data + b"\x01\x02\x03", compress)
    with pytest.raises(DatasetError, match=r"labels\.idx has 3 extra bytes: header says 6 = 12"):
        read_idx(path)


@pytest.mark.parametrize("compress", [True, False], ids=["gzip", "raw"])
def test_header_claiming_terabytes_fails_fast(tmp_path, compress):
    # 4 dims of 2**32-1 float64 values: ~2.6e39 bytes. Must not try to allocate.
    header = b"\x00\x00\x0e\x04" + b"\xff\xff\xff\xff" * 4
    path = _write(tmp_path, "huge.idx", header + b"\0" * 64, compress)
    with pytest.raises(DatasetError, match=r"huge\.idx is truncated: header says 4294967295x"):
        read_idx(path)


def test_gzip_bomb_with_lying_header_is_counted_not_stored(tmp_path):
    # 32 MB of zeros compress to ~32 KB; the header claims 1 GB. Deflate cannot
    # reach that ratio, so the reader must count the bytes without keeping them.
    header = b"\x00\x00\x08\x01" + struct.pack(">I", 1 << 30)
    path = tmp_path / "bomb.gz"
    path.write_bytes(gzip.compress(header + bytes(32 << 20), compresslevel=1))
    tracemalloc.start()
    try:
        with pytest.raises(DatasetError, match=f"found {32 << 20}"):
            read_idx(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 8 << 20


def test_truncated_gzip(tmp_path):
    data = gzip.compress(_idx_bytes(np.arange(1000, dtype=np.int32)), mtime=0)
    path = tmp_path / "cut.gz"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(DatasetError, match=r"cut\.gz is not a valid gzip file \(.*EOF"):
        read_idx(path)


def test_corrupt_gzip_crc(tmp_path):
    data = bytearray(gzip.compress(_idx_bytes(np.arange(1000, dtype=np.int32)), mtime=0))
    data[-6] ^= 0xFF  # damage the stored CRC-32
    path = tmp_path / "crc.gz"
    path.write_bytes(bytes(data))
    with pytest.raises(DatasetError, match=r"crc\.gz is not a valid gzip file \(CRC"):
        read_idx(path)


def test_corrupt_gzip_data(tmp_path):
    data = bytearray(gzip.compress(_idx_bytes(np.arange(1000, dtype=np.int32)), mtime=0))
    for i in range(20, 40):
        data[i] ^= 0x5A
    path = tmp_path / "junk.gz"
    path.write_bytes(bytes(data))
    with pytest.raises(DatasetError, match=r"junk\.gz is not a valid gzip file"):
        read_idx(path)


def test_missing_file_is_oserror(tmp_path):
    with pytest.raises(FileNotFoundError):
        read_idx(tmp_path / "nope.idx")


def test_dataset_error_is_value_error():
    assert issubclass(DatasetError, ValueError)
