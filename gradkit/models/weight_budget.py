"""While a model file is being rebuilt, every weight a layer asks for must be in the file.

``load_model`` builds layers from ``config.json`` before it can compare weights; a
crafted config (``Dense(units=10**8)``) would allocate gigabytes in ``build`` before
any check ran. Inside :func:`only_these`, :meth:`Layer.add_weight` first calls
:func:`take`, which hands out each shape the file's ``model.safetensors`` declares
once; a weight of any other shape (or one too many) raises
:class:`~gradkit.models.saving.ModelFileError` before anything is allocated. So
rebuilding a model never allocates more than the file itself holds.
"""

from __future__ import annotations

import contextlib
import threading
from collections import Counter

_state = threading.local()


@contextlib.contextmanager
def only_these(shapes, path):
    """Allow weights of ``shapes`` (one each) to be created in this thread, from file ``path``."""
    prev = getattr(_state, "budget", None)
    _state.budget = (Counter(tuple(s) for s in shapes), path)
    try:
        yield
    finally:
        _state.budget = prev


def take(shape, owner):
    """Called by ``add_weight`` before it allocates: refuse a shape the file does not hold."""
    budget = getattr(_state, "budget", None)
    if budget is None:
        return
    left, path = budget
    shape = tuple(int(d) for d in shape)
    if left[shape] <= 0:
        from gradkit.models.saving import ModelFileError

        size = 1
        for d in shape:
            size *= d
        held = ", ".join(str(s) for s, n in left.items() if n > 0)
        raise ModelFileError(f"'{path}': config.json makes {owner} create a weight of shape "
                             f"{shape} ({size:,} values) that model.safetensors does not hold "
                             f"(its weights left: {held or 'none'}); the architectures differ "
                             "(or the file is crafted). Nothing was allocated")
    left[shape] -= 1
