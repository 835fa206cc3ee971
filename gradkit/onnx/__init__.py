"""ONNX: export gradkit models, load ONNX models as trainable gradkit models.

``export(model, "m.onnx")`` (or ``model.export("m.onnx")``) writes any model made
of the layers in :func:`exportable_layers`; ``load("m.onnx")`` builds a gradkit
model from the ONNX ops in :func:`loadable_ops` (PyTorch's ``torch.onnx.export``
output included), whose weights train like any other. Untrusted files are
checked before anything is allocated (:mod:`gradkit.onnx.checks`).

Needs the ``onnx`` package: ``pip install 'gradkit[onnx]'``.
"""

from gradkit.onnx.export import DEFAULT_OPSET, ExportError, export
from gradkit.onnx.export_layers import CONVERTERS

__all__ = ["DEFAULT_OPSET", "ExportError", "exportable_layers", "export"]


def exportable_layers():
    """The names of the layer classes :func:`export` converts, sorted."""
    return sorted({cls.__name__ for cls in CONVERTERS})
