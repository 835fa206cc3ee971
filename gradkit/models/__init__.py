"""Models: ``Sequential``, the functional API (``Input``, ``Model(inputs, outputs)``),
subclassed ``Model``, and saving/loading."""

from gradkit.models.cloning import clone_model
from gradkit.models.functional import Functional, Input
from gradkit.models.model import Model
from gradkit.models.model_json import model_from_json
from gradkit.models.saving import ModelFileError, load_model
from gradkit.models.sequential import Sequential

__all__ = ["Functional", "Input", "Model", "ModelFileError", "Sequential", "load_model"]
__all__ += ["clone_model", "model_from_json"]
