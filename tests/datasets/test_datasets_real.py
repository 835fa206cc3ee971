"""The real MNIST test set and Debian's Fashion-MNIST, when present on this machine."""

import gzip
import hashlib
from pathlib import Path

import numpy as np
import pytest

from gradkit.datasets import _files, fashion_mnist, mnist
from gradkit.datasets.idx import _read_idx_with_digest

MNIST_DIR = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "mnist"
FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")
MNIST_TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]

needs_mnist = pytest.mark.skipif(
    not (MNIST_DIR / "t10k-labels-idx1-ubyte.gz").exists(),
    reason=f"MNIST test set not present at {MNIST_DIR}",
)
needs_fashion = pytest.mark.skipif(
    not (FASHION_DIR / "train-images-idx3-ubyte.gz").exists(),
    reason="Debian package dataset-fashion-mnist is not installed",
)


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.delenv("GRADKIT_DATA", raising=False)
    monkeypatch.setenv("GRADKIT_MIRRORS", "")


@needs_mnist
def test_mnist_test_set():
    x, y = mnist.load_test_data(MNIST_DIR)
    assert x.shape == (10000, 28, 28) and x.dtype == np.uint8
    assert y.shape == (10000,) and y.dtype == np.uint8
    assert x.max() == 255 and x.min() == 0
    assert set(np.unique(y)) == set(range(10))
    assert np.bincount(y, minlength=10).tolist() == MNIST_TEST_COUNTS


@needs_mnist
def test_mnist_test_hashes_match_registry():
    for key in ("test_images", "test_labels"):
        name = mnist.dataset_spec().select([key])[0].filename + ".gz"
        _, digest = _read_idx_with_digest(MNIST_DIR / name)
        assert digest == mnist.SHA256[key]


@needs_mnist
def test_mnist_test_set_via_gradkit_data(monkeypatch):
    monkeypatch.setenv("GRADKIT_DATA", str(MNIST_DIR))
    x, y = mnist.load_test_data()
    assert x.shape == (10000, 28, 28)


@needs_fashion
def test_fashion_mnist_from_system_dir(monkeypatch):
    monkeypatch.setattr(_files, "SYSTEM_DATA_DIR", FASHION_DIR.parent)
    (x_train, y_train), (x_test, y_test) = fashion_mnist.load_data()
    assert x_train.shape == (60000, 28, 28) and x_train.dtype == np.uint8
    assert y_train.shape == (60000,) and y_train.dtype == np.uint8
    assert x_test.shape == (10000, 28, 28) and y_test.shape == (10000,)
    assert np.bincount(y_train, minlength=10).tolist() == [6000] * 10
    assert np.bincount(y_test, minlength=10).tolist() == [1000] * 10
    assert len(fashion_mnist.CLASS_NAMES) == 10


@needs_fashion
def test_fashion_hashes_match_registry():
    for f in fashion_mnist.dataset_spec().files:
        data = (FASHION_DIR / f"{f.filename}.gz").read_bytes()
        assert hashlib.sha256(gzip.decompress(data)).hexdigest() == f.sha256
