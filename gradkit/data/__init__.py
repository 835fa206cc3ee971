"""A ``tf.data``-style input pipeline: ``gradkit.data.Dataset`` (``tf.data`` under
``import gradkit as tf``).

Example:
    >>> import numpy as np
    >>> from gradkit import data
    >>> ds = data.Dataset.from_tensor_slices((np.zeros((10, 3)), np.arange(10)))
    >>> ds = ds.shuffle(10, seed=0).batch(4).prefetch(data.AUTOTUNE)
    >>> [x.shape for x, _ in ds]
    [(4, 3), (4, 3), (2, 3)]
"""

from types import SimpleNamespace as _Namespace

from .dataset import AUTOTUNE, INFINITE_CARDINALITY, UNKNOWN_CARDINALITY, Dataset, TensorSpec

#: ``tf.data.experimental``: the older spellings of the same names.
experimental = _Namespace(AUTOTUNE=AUTOTUNE, INFINITE_CARDINALITY=INFINITE_CARDINALITY,
                          UNKNOWN_CARDINALITY=UNKNOWN_CARDINALITY,
                          cardinality=lambda dataset: dataset.cardinality())

__all__ = ["AUTOTUNE", "INFINITE_CARDINALITY", "UNKNOWN_CARDINALITY", "Dataset", "TensorSpec",
           "experimental"]
