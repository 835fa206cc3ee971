"""ONNX: export gradkit models, load ONNX models as trainable gradkit models.

``export(model, "m.onnx")`` (or ``model.export("m.onnx")``) writes any model made
of the layers in :func:`exportable_layers`; ``load("m.onnx")`` builds a gradkit
model from the ONNX ops in :func:`loadable_ops` (PyTorch's ``torch.onnx.export``
output included), whose weights train like any other. Untrusted files are
checked before anything is allocated (:mod:`gradkit.onnx.checks`).

Needs the ``onnx`` package: ``pip install 'gradkit[onnx]'``.
"""

from gradkit.onnx.checks import OnnxFileError
from gradkit.onnx.export import DEFAULT_OPSET, ExportError, export
from gradkit.onnx.export_layers import CONVERTERS
from gradkit.onnx.import_ops import OPS, OnnxImportError
from gradkit.onnx.load import OnnxModel, load

__all__ = ["DEFAULT_OPSET", "ExportError", "OnnxFileError", "OnnxImportError", "OnnxModel",
           "exportable_layers", "export", "load", "loadable_ops"]


def exportable_layers():
    """The names of the layer classes :func:`export` converts, sorted."""
    return sorted({cls.__name__ for cls in CONVERTERS})


def loadable_ops():
    """The ONNX op types :func:`load` runs, sorted."""
    return sorted(OPS)
