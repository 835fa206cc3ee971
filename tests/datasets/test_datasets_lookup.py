"""Where MNIST-style files are looked for, and the messages when they are missing."""

import numpy as np
import pytest

from gradkit.datasets import DatasetError, _files, fashion_mnist, mnist, write_idx

NAMES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    """No real HOME, cache, GRADKIT_DATA, system dir or network."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.delenv("GRADKIT_DATA", raising=False)
    monkeypatch.setenv("GRADKIT_MIRRORS", "")  # empty: downloading disabled
    monkeypatch.setattr(_files, "SYSTEM_DATA_DIR", tmp_path / "system")


def make_set(directory, fill, n_train=4, n_test=3, keys=tuple(NAMES), compress=True):
    """Write small MNIST-format files whose pixels all equal ``fill``."""
    directory.mkdir(parents=True, exist_ok=True)
    arrays = {
        "train_images": np.full((n_train, 28, 28), fill, np.uint8),
        "train_labels": np.arange(n_train, dtype=np.uint8) % 10,
        "test_images": np.full((n_test, 28, 28), fill, np.uint8),
        "test_labels": np.arange(n_test, dtype=np.uint8) % 10,
    }
    for key in keys:
        suffix = ".gz" if compress else ""
        write_idx(directory / (NAMES[key] + suffix), arrays[key], gzip=compress)
    return directory


def which(loader=mnist.load_data, **kw):
    (x_train, _), _ = loader(**kw)
    return int(x_train[0, 0, 0])


def test_explicit_path(tmp_path):
    d = make_set(tmp_path / "mine", 7, compress=False)
    (x_train, y_train), (x_test, y_test) = mnist.load_data(d)
    assert x_train.shape == (4, 28, 28) and x_train.dtype == np.uint8
    assert y_train.shape == (4,) and y_train.dtype == np.uint8
    assert x_test.shape == (3, 28, 28) and y_test.tolist() == [0, 1, 2]
    assert (x_train == 7).all()


def test_lookup_order(tmp_path, monkeypatch):
    explicit = make_set(tmp_path / "explicit", 1)
    data_root = tmp_path / "data"
    make_set(data_root / "mnist", 2)
    make_set(tmp_path / "home" / ".cache" / "gradkit" / "mnist", 3)
    make_set(tmp_path / "system" / "mnist", 4)
    monkeypatch.setenv("GRADKIT_DATA", str(data_root))

    assert which(path=explicit) == 1
    assert which() == 2
    monkeypatch.delenv("GRADKIT_DATA")
    assert which() == 3
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))  # cache moves away
    assert which() == 4
    make_set(tmp_path / "xdg" / "gradkit" / "mnist", 5)
    assert which() == 5


def test_gradkit_data_may_hold_files_directly(tmp_path, monkeypatch):
    make_set(tmp_path / "flat", 6)
    monkeypatch.setenv("GRADKIT_DATA", str(tmp_path / "flat"))
    assert which() == 6


def test_relative_xdg_cache_home_is_ignored(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/cache")
    assert _files.cache_dir("mnist") == tmp_path / "home" / ".cache" / "gradkit" / "mnist"


def test_fashion_uses_its_own_directory(tmp_path, monkeypatch):
    make_set(tmp_path / "data" / "mnist", 2)
    make_set(tmp_path / "data" / "fashion-mnist", 8)
    monkeypatch.setenv("GRADKIT_DATA", str(tmp_path / "data"))
    assert which(fashion_mnist.load_data) == 8
    assert which(mnist.load_data) == 2


def test_missing_one_file_in_explicit_path(tmp_path):
    d = make_set(tmp_path / "partial", 1, keys=("train_images", "train_labels", "test_images"))
    with pytest.raises(DatasetError) as info:
        mnist.load_data(d)
    msg = str(info.value)
    assert str(d) in msg
    assert "missing t10k-labels-idx1-ubyte[.gz]" in msg
    assert "train-images-idx3-ubyte.gz" in msg  # says what it did find


def test_explicit_path_is_authoritative(tmp_path):
    make_set(tmp_path / "home" / ".cache" / "gradkit" / "mnist", 3)
    with pytest.raises(DatasetError, match="does not exist"):
        mnist.load_data(tmp_path / "nowhere")
    with pytest.raises(DatasetError, match="contains none of the files"):
        mnist.load_data(tmp_path)


def test_partial_directory_is_skipped_and_reported(tmp_path, monkeypatch):
    make_set(tmp_path / "data" / "mnist", 2, keys=("test_images", "test_labels"))
    make_set(tmp_path / "system" / "mnist", 4)
    monkeypatch.setenv("GRADKIT_DATA", str(tmp_path / "data"))
    assert which() == 4  # never mixes files of two directories


def test_not_found_lists_every_place(tmp_path, monkeypatch):
    monkeypatch.setenv("GRADKIT_DATA", str(tmp_path / "data"))
    make_set(tmp_path / "data" / "mnist", 2, keys=("train_images", "test_images"))
    with pytest.raises(DatasetError) as info:
        mnist.load_data()
    msg = str(info.value)
    assert f"{tmp_path / 'data' / 'mnist'}: has " in msg
    assert "missing train-labels-idx1-ubyte[.gz], t10k-labels-idx1-ubyte[.gz]" in msg
    assert f"{tmp_path / 'data'}: contains none of the files" in msg
    assert f"user cache {tmp_path / 'home' / '.cache' / 'gradkit' / 'mnist'}: does not" in msg
    assert f"system dir {tmp_path / 'system' / 'mnist'}: does not exist" in msg
    assert "no mirrors configured ($GRADKIT_MIRRORS is empty)" in msg
    assert "To supply them by hand" in msg and "path=" in msg


def test_download_false(tmp_path):
    with pytest.raises(DatasetError) as info:
        mnist.load_data(download=False, mirrors=["http://127.0.0.1:9/"])
    assert "$GRADKIT_DATA: not set" in str(info.value)
    assert "download: disabled" in str(info.value)


def test_load_test_data_needs_only_t10k_files(tmp_path, monkeypatch):
    d = make_set(tmp_path / "t10k", 9, keys=("test_images", "test_labels"))
    x, y = mnist.load_test_data(d)
    assert x.shape == (3, 28, 28) and (x == 9).all() and y.tolist() == [0, 1, 2]
    monkeypatch.setenv("GRADKIT_DATA", str(d))
    assert mnist.load_test_data()[0].shape == (3, 28, 28)
    with pytest.raises(DatasetError, match="load_test_data"):
        mnist.load_data(d)  # the message points at the test-only loader


def test_images_and_labels_must_agree(tmp_path):
    d = make_set(tmp_path / "bad", 1)
    write_idx(d / "t10k-labels-idx1-ubyte.gz", np.zeros(5, np.uint8))
    with pytest.raises(DatasetError, match="holds 5 labels but .* holds 3 images"):
        mnist.load_test_data(d)


def test_bad_label_value(tmp_path):
    d = make_set(tmp_path / "bad", 1)
    write_idx(d / "t10k-labels-idx1-ubyte.gz", np.array([0, 12, 3], np.uint8))
    with pytest.raises(DatasetError, match="label 12 at index 1 is outside 0..9"):
        mnist.load_test_data(d)


def test_wrong_image_shape(tmp_path):
    d = make_set(tmp_path / "bad", 1)
    write_idx(d / "t10k-images-idx3-ubyte.gz", np.zeros((3, 32, 32), np.uint8))
    with pytest.raises(DatasetError, match="shape Nx28x28, found uint8 of shape 3x32x32"):
        mnist.load_test_data(d)


def test_corrupt_file_found_in_search_names_it(tmp_path, monkeypatch):
    d = make_set(tmp_path / "data", 1)
    (d / "t10k-images-idx3-ubyte.gz").write_bytes(b"\x1f\x8b garbage")
    monkeypatch.setenv("GRADKIT_DATA", str(d))
    with pytest.raises(DatasetError, match="t10k-images-idx3-ubyte.gz is not a valid gzip"):
        mnist.load_data()


def test_spec_select_rejects_unknown_keys():
    with pytest.raises(ValueError, match="no file"):
        mnist.dataset_spec().select(["validation_images"])
