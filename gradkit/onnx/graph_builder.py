"""``GraphBuilder``: the nodes and initializers of an ONNX graph being written.

The export converters talk to it only: ``op`` adds a node and returns its
output name(s), ``weight`` stores a layer's Variable (or a transformed copy)
as an initializer named after it, ``const`` stores a constant. Names are made
unique here, so converters never collide.
"""

from __future__ import annotations

import numpy as np

from gradkit.utils.optional import require


class GraphBuilder:
    """Collects ONNX nodes and initializers.

    Args:
        opset: the ONNX opset the graph targets (for converters that differ by version).
        float_dtype: the model's float dtype: float constants are stored in it.
    """

    def __init__(self, opset, float_dtype="float32"):
        self.onnx = require("onnx", "onnx", "ONNX export")
        self.opset = opset
        self.float_dtype = np.dtype(float_dtype)
        self.nodes, self.initializers = [], []
        self._names = set()
        self.doc = None  # the doc_string given to nodes of the layer being converted
        self.input_dtypes = {}  # graph input name -> NumPy dtype

    def fresh(self, base):
        """A name not used yet in the graph: ``base``, else ``base_1``, ``base_2``..."""
        name, k = base, 0
        while name in self._names:
            k += 1
            name = f"{base}_{k}"
        self._names.add(name)
        return name

    def const(self, value, name="const", dtype=None):
        """A constant initializer holding ``value``; returns its name."""
        arr = np.asarray(value, dtype=dtype)
        if arr.dtype.kind == "f" and dtype is None:
            arr = arr.astype(self.float_dtype)
        tensor = self.onnx.numpy_helper.from_array(np.ascontiguousarray(arr), self.fresh(name))
        self.initializers.append(tensor)
        return tensor.name

    def ints(self, values, name="axes"):
        """An int64 constant (shapes, axes, slice bounds)."""
        return self.const(np.asarray(values, dtype=np.int64), name)

    def weight(self, variable, value=None, suffix=""):
        """``variable`` (a layer weight) as an initializer named after it.

        Args:
            variable: the Variable (its name, e.g. ``"dense/kernel"``, names the initializer).
            value: the array to store instead of the variable's own (a transposed
                or reordered layout); default its value.
            suffix: appended to the name (e.g. ``":onnx"`` for a changed layout).
        """
        arr = variable.numpy() if value is None else value
        return self.const(arr, (variable.name or "weight") + suffix, dtype=arr.dtype)

    def op(self, op_type, inputs, name=None, outputs=1, **attrs):
        """Add a node; returns its output name (a list when ``outputs > 1``)."""
        node_name = self.fresh(name or op_type)
        outs = [node_name if outputs == 1 else self.fresh(f"{node_name}:{i}")
                for i in range(outputs)]
        node = self.onnx.helper.make_node(op_type, list(inputs), outs, name=node_name,
                                          doc_string=self.doc or "", **attrs)
        self.nodes.append(node)
        return outs[0] if outputs == 1 else outs
