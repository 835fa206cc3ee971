"""torchvision-shaped FashionMNIST/MNIST Datasets and gradkit.datasets.transforms: the files
the loaders read, torchvision's directory layout, shapes and dtypes through a DataLoader."""

from pathlib import Path

import numpy as np
import pytest

import gradkit as gk
from gradkit.datasets import MNIST, DatasetError, FashionMNIST, fashion_mnist, transforms
from gradkit.datasets.idx import write_idx
from gradkit.utils.data import DataLoader

MNIST_DIR = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "mnist"
FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")


@pytest.fixture(autouse=True)
def offline(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.delenv("GRADKIT_DATA", raising=False)
    monkeypatch.setenv("GRADKIT_MIRRORS", "")


def fake_split(directory, prefix, n, seed=0):
    """A tiny MNIST-format split (n images) written as IDX files."""
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, size=n, dtype=np.uint8)
    directory.mkdir(parents=True, exist_ok=True)
    write_idx(directory / f"{prefix}-images-idx3-ubyte.gz", images)
    write_idx(directory / f"{prefix}-labels-idx1-ubyte.gz", labels)
    return images, labels


def test_torchvision_layout_and_samples(tmp_path):
    images, labels = fake_split(tmp_path / "FashionMNIST" / "raw", "t10k", 6)
    ds = FashionMNIST(str(tmp_path), train=False)
    assert len(ds) == 6 and ds.classes[9] == "Ankle boot"
    assert ds.class_to_idx["Trouser"] == 1
    image, label = ds[2]
    assert isinstance(label, int) and label == labels[2]
    np.testing.assert_array_equal(image, images[2])
    assert ds.targets.dtype == np.int64 and ds.data.dtype == np.uint8


def test_transforms_and_dataloader_batches(tmp_path):
    images, labels = fake_split(tmp_path, "train", 10)
    pipeline = transforms.Compose([transforms.ToTensor(),
                                   transforms.Normalize((0.5,), (0.25,))])
    ds = MNIST(tmp_path, train=True, transform=pipeline,
               target_transform=transforms.Lambda(lambda y: y + 100))
    xb, yb = next(iter(DataLoader(ds, batch_size=4)))
    assert xb.shape == (4, 1, 28, 28) and xb.dtype == np.float32
    assert yb.shape == (4,) and yb.dtype == np.int64
    np.testing.assert_allclose(xb.numpy()[:, 0], (images[:4] / 255.0 - 0.5) / 0.25,
                               rtol=1e-5, atol=1e-6)
    assert yb.tolist() == (labels[:4].astype(int) + 100).tolist()


def test_missing_files_say_where_they_were_looked_for(tmp_path):
    fake_split(tmp_path, "t10k", 3)
    with pytest.raises(DatasetError, match=r"(?s)training files.*FashionMNIST/raw.*download=True"):
        FashionMNIST(tmp_path, train=True)
    with pytest.raises(TypeError, match="callable"):
        FashionMNIST(tmp_path, train=False, transform="ToTensor")


def test_to_tensor_and_normalize():
    rgb = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3)
    t = transforms.ToTensor()(rgb)
    assert t.shape == (3, 2, 3) and t.dtype == np.float32
    np.testing.assert_allclose(t.numpy(), rgb.transpose(2, 0, 1) / 255.0, rtol=1e-6)
    floats = np.full((2, 2), 3.0, np.float32)
    assert transforms.ToTensor()(floats).numpy().max() == 3.0  # not rescaled
    norm = transforms.Normalize((0.1, 0.2, 0.3), (1.0, 2.0, 4.0))
    expected = (t.numpy() - np.array([0.1, 0.2, 0.3])[:, None, None]) / \
        np.array([1.0, 2.0, 4.0])[:, None, None]
    np.testing.assert_allclose(norm(t).numpy(), expected, rtol=1e-6)
    inplace = transforms.Normalize((0.1, 0.2, 0.3), (1.0, 2.0, 4.0), inplace=True)
    copy = gk.Tensor(t.numpy().copy())
    assert inplace(copy) is copy
    np.testing.assert_allclose(copy.numpy(), expected, rtol=1e-6)
    with pytest.raises(ValueError, match="2 values for an image with 3 channels"):
        transforms.Normalize((0.1, 0.2), (1.0, 1.0))(t)
    with pytest.raises(ValueError, match="has a 0"):
        transforms.Normalize((0.0,), (0.0,))


def test_normalize_matches_torch():
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(0).random((2, 3, 4, 4)).astype(np.float32)
    mean, std = torch.tensor([0.4, 0.5, 0.6]), torch.tensor([0.2, 0.3, 0.4])
    theirs = (torch.from_numpy(x) - mean[:, None, None]) / std[:, None, None]
    ours = transforms.Normalize(mean.tolist(), std.tolist())(gk.Tensor(x))
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-6)


@pytest.mark.skipif(not (FASHION_DIR / "t10k-images-idx3-ubyte.gz").exists(),
                    reason="Debian package dataset-fashion-mnist is not installed")
def test_real_fashion_mnist_through_a_dataloader():
    ds = FashionMNIST(None, train=False, transform=transforms.ToTensor())
    x_ref, y_ref = fashion_mnist.load_test_data()
    assert len(ds) == 10000
    xb, yb = next(iter(DataLoader(ds, batch_size=64)))
    assert xb.shape == (64, 1, 28, 28) and xb.dtype == np.float32
    assert yb.dtype == np.int64 and 0.0 <= xb.numpy().min() <= xb.numpy().max() <= 1.0
    np.testing.assert_array_equal(yb.numpy(), y_ref[:64])
    np.testing.assert_allclose(xb.numpy()[:, 0], x_ref[:64] / 255.0, rtol=1e-6)
    shuffled = next(iter(DataLoader(ds, batch_size=64, shuffle=True, generator=0)))[1]
    assert shuffled.tolist() != y_ref[:64].tolist()


@pytest.mark.skipif(not (MNIST_DIR / "t10k-images-idx3-ubyte.gz").exists(),
                    reason=f"MNIST test set not present at {MNIST_DIR}")
def test_real_mnist_test_set_from_its_directory():
    ds = MNIST(MNIST_DIR, train=False)
    image, label = ds[0]
    assert len(ds) == 10000 and image.shape == (28, 28) and image.dtype == np.uint8
    assert label == 7  # the first MNIST test digit
