"""Other frameworks' spellings of gradkit's functions, thin and in one place.

* :mod:`gradkit.compat.tf`: TensorFlow's names (``reduce_sum``, ``constant``...),
  so ``import gradkit as tf`` runs the TensorFlow tutorials;
* :mod:`gradkit.compat.torch`: PyTorch's names and signatures (``randn``,
  ``linspace``, ``cat``, ``max(dim=)``...), so ``import gradkit as torch`` runs
  PyTorch's.

Both are re-exported at the top level of :mod:`gradkit`.
"""

from gradkit.compat import tf, torch  # noqa: F401
from gradkit.compat.tf import *  # noqa: F403  (gradkit.compat.reduce_sum... as before)
from gradkit.compat.tf import __all__  # noqa: F401
