"""A Keras-shaped namespace over gradkit: ``from gradkit import keras``.

``keras.Sequential``, ``keras.Model``, ``keras.Input``, ``keras.layers``,
``keras.optimizers``, ``keras.losses``, ``keras.metrics``, ``keras.callbacks``,
``keras.datasets``, ``keras.utils.to_categorical``... are gradkit's own
objects under Keras's names, so Keras programs run with the import changed.
"""

from gradkit import (  # noqa: F401
    activations,
    callbacks,
    datasets,
    initializers,
    layers,
    losses,
    metrics,
    models,
    optimizers,
    regularizers,
    utils,
)
from gradkit.models import Input, Model, Sequential, load_model  # noqa: F401


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
