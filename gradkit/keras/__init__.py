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


def _alias_submodules():
    """Make ``from gradkit.keras.layers import Dense`` (and the like) import gradkit's own
    modules, so Keras imports convert by changing only their root name."""
    import sys

    from gradkit.datasets import fashion_mnist, mnist

    mods = {"activations": activations, "callbacks": callbacks, "datasets": datasets,
            "initializers": initializers, "layers": layers, "losses": losses,
            "metrics": metrics, "models": models, "optimizers": optimizers,
            "regularizers": regularizers, "utils": utils, "datasets.mnist": mnist,
            "datasets.fashion_mnist": fashion_mnist}
    for name, mod in mods.items():
        sys.modules.setdefault(f"{__name__}.{name}", mod)


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
