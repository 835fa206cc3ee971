"""A Keras-shaped namespace over gradkit: ``from gradkit import keras``.

``keras.Sequential``, ``keras.Model``, ``keras.Input``, ``keras.layers``,
``keras.optimizers``, ``keras.losses``, ``keras.metrics``, ``keras.callbacks``,
``keras.datasets``, ``keras.utils.to_categorical``... are gradkit's own
objects under Keras's names, so Keras programs run with the import changed.
``keras.ops``, ``keras.random`` and ``keras.saving`` are thin modules of Keras
spellings in this package. A Keras 3 name gradkit does not have raises
:class:`~gradkit.keras.missing.NotInGradkitError` saying so.
"""

import importlib
import sys
import types

from gradkit.keras import missing as _missing
from gradkit.models import Input, Model, Sequential, load_model  # noqa: F401

#: gradkit's modules that Keras programs import under the same names; ``gradkit.testing``
#: and the TensorFlow-style names are not part of Keras's namespace.
_SUBMODULES = ("activations", "callbacks", "datasets", "initializers", "layers", "losses",
               "metrics", "mixed_precision", "models", "optimizers", "regularizers", "utils",
               "datasets.mnist", "datasets.fashion_mnist")
#: Keras's own modules written here: Keras spellings over gradkit, thin
_OWN = ("ops", "random", "saving")


def _extras():
    """Names Keras keeps in a module where gradkit keeps them elsewhere."""
    from gradkit.keras import saving
    from gradkit.layers import Layer
    from gradkit.models.cloning import clone_model
    from gradkit.models.model_json import model_from_json
    from gradkit.utils.image_arrays import array_to_img, img_to_array, load_img, save_img

    serialization = {name: getattr(saving, name) for name in (
        "CustomObjectScope", "custom_object_scope", "deserialize_keras_object",
        "get_custom_objects", "get_registered_name", "get_registered_object",
        "register_keras_serializable", "serialize_keras_object")}
    return {
        "models": {"clone_model": clone_model, "model_from_json": model_from_json,
                   "save_model": saving.save_model, "load_model": saving.load_model},
        "utils": {**serialization, "array_to_img": array_to_img,
                  "img_to_array": img_to_array, "load_img": load_img, "save_img": save_img,
                  "clear_session": _clear_session},
        "layers": {"Layer": Layer},
    }


def _keras_module(name, target, extras):
    """``gradkit.keras.<name>``: ``target``'s names (looked up when asked, so names added
    to gradkit later show through), plus ``extras``, and the missing-name answer."""
    module = types.ModuleType(f"{__name__}.{name}", target.__doc__)
    module.__dict__.update(extras)
    module.__getattr__ = _missing.module_getattr(name, target=target)
    module.__dir__ = lambda: sorted(set(dir(target)) | set(extras))
    return module


def _alias_submodules():
    """Make ``keras.layers`` and ``from gradkit.keras.layers import Dense`` (and the like)
    reach gradkit's own modules, so Keras imports convert by changing only their root name."""
    extras = _extras()
    for name in _SUBMODULES:
        module = importlib.import_module(f"gradkit.{name}")
        if "." not in name:
            module = _keras_module(name, module, extras.get(name, {}))
            globals()[name] = module
        sys.modules.setdefault(f"{__name__}.{name}", module)
    for name in _OWN:
        globals()[name] = importlib.import_module(f"{__name__}.{name}")


def _clear_session():
    """Forget layer-name counters (names start again at ``dense``)."""
    from gradkit.layers.base import reset_names

    reset_names()


def _backend_module():
    """``keras.backend``: the few functions programs call, and the missing-name answer."""
    module = types.ModuleType(f"{__name__}.backend", "The keras.backend functions gradkit has.")
    module.clear_session = _clear_session
    module.backend = lambda: "gradkit"
    module.floatx = lambda: "float32"
    module.epsilon = lambda: 1e-7
    module.__getattr__ = _missing.module_getattr("backend")
    sys.modules.setdefault(module.__name__, module)
    return module


backend = _backend_module()
_alias_submodules()
__getattr__ = _missing.module_getattr("")
