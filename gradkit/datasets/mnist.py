"""The MNIST handwritten digits (LeCun, Cortes and Burges).

60,000 training and 10,000 test images of 28x28 grey-scale digits, labels
0-9. Files are looked up locally first and downloaded only if absent; see
:mod:`gradkit.datasets._files` for the search order (``path=``,
``$GRADKIT_DATA``, ``~/.cache/gradkit/mnist``, ``/usr/share/datasets/mnist``,
then the mirrors).
"""

from __future__ import annotations

from . import _mnist_like

__all__ = ["MIRRORS", "SHA256", "dataset_spec", "load_data", "load_test_data"]

#: Base URLs tried in order; ``$GRADKIT_MIRRORS`` or ``mirrors=`` override it.
MIRRORS: list[str] = [
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
]

#: SHA-256 of each file's *decompressed* content (checked on download; a file
#: without one is never downloaded). The test-set values were computed from the
#: published t10k files; the training-set values come from a published table of
#: the standard files' digests whose t10k entries equal ours.
SHA256: dict[str, str | None] = {
    "train_images": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train_labels": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "test_images": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "test_labels": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}

HOMEPAGE = "http://yann.lecun.com/exdb/mnist/"

#: The public functions; their code and docstrings are shared with the other
#: MNIST-format datasets in :mod:`gradkit.datasets._mnist_like`.
dataset_spec, load_data, load_test_data = _mnist_like.public_api(
    __name__, name="mnist", title="MNIST", homepage=HOMEPAGE)
