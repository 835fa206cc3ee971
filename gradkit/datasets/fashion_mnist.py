"""Fashion-MNIST: Zalando article images, a drop-in replacement for MNIST.

60,000 training and 10,000 test 28x28 grey-scale images in 10 classes (see
:data:`CLASS_NAMES`), stored in the same IDX files as MNIST. Debian's
``dataset-fashion-mnist`` package installs them to
``/usr/share/datasets/fashion-mnist``, which is searched automatically; see
:mod:`gradkit.datasets._files` for the full search order.
"""

from __future__ import annotations

from . import _mnist_like

__all__ = ["CLASS_NAMES", "MIRRORS", "SHA256", "dataset_spec", "load_data", "load_test_data"]

#: Label index -> class name.
CLASS_NAMES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)  # fmt: skip

#: Base URLs tried in order; ``$GRADKIT_MIRRORS`` or ``mirrors=`` override it.
MIRRORS: list[str] = [
    "https://storage.googleapis.com/tensorflow/tf-keras-datasets/",
    "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
]

#: SHA-256 of each file's *decompressed* content, computed from the files of
#: Debian's dataset-fashion-mnist package (checked on download).
SHA256: dict[str, str | None] = {
    "train_images": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
    "train_labels": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
    "test_images": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
    "test_labels": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
}

HOMEPAGE = "https://github.com/zalandoresearch/fashion-mnist"

#: The public functions; their code and docstrings are shared with the other
#: MNIST-format datasets in :mod:`gradkit.datasets._mnist_like`.
dataset_spec, load_data, load_test_data = _mnist_like.public_api(
    __name__, name="fashion-mnist", title="Fashion-MNIST", homepage=HOMEPAGE,
    labels=" indexing :data:`CLASS_NAMES`")
