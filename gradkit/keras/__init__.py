"""A Keras-shaped namespace over gradkit: ``from gradkit import keras``.

``keras.Sequential``, ``keras.Model``, ``keras.Input``, ``keras.layers``,
``keras.optimizers``, ``keras.losses``, ``keras.metrics``, ``keras.callbacks``,
``keras.datasets``, ``keras.utils.to_categorical``... are gradkit's own
objects under Keras's names, so Keras programs run with the import changed.
"""

import importlib
import sys

from gradkit.models import Input, Model, Sequential, load_model  # noqa: F401

#: gradkit's modules that Keras programs import under the same names; ``gradkit.testing``
#: and the TensorFlow-style names are not part of Keras's namespace.
_SUBMODULES = ("activations", "callbacks", "datasets", "initializers", "layers", "losses",
               "metrics", "models", "optimizers", "regularizers", "utils",
               "datasets.mnist", "datasets.fashion_mnist")


def _alias_submodules():
    """Make ``keras.layers`` and ``from gradkit.keras.layers import Dense`` (and the like)
    reach gradkit's own modules, so Keras imports convert by changing only their root name."""
    for name in _SUBMODULES:
        module = importlib.import_module(f"gradkit.{name}")
        sys.modules.setdefault(f"{__name__}.{name}", module)
        if "." not in name:
            globals()[name] = module


_alias_submodules()


class backend:  # noqa: N801 - a namespace, like keras.backend
    """The few ``keras.backend`` functions programs call."""

    @staticmethod
    def clear_session():
        """Forget layer-name counters (names start again at ``dense``)."""
        from gradkit.layers.base import reset_names

        reset_names()

    @staticmethod
    def backend():
        return "gradkit"
