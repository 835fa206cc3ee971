"""PyTorch ``state_dict`` files (safetensors) loaded into gradkit models by name.

A PyTorch user saves weights with ``safetensors.torch.save_file(model.state_dict(),
"m.safetensors")``: one tensor per ``"<module path>.<param>"`` name, often in
``F16`` or ``BF16`` (both load; BF16 is widened to float32). This module puts
those tensors into a gradkit model:

* a model whose own ``state_dict()`` has exactly the file's names (``gradkit.nn``
  modules use PyTorch's) gets the dict through its ``load_state_dict``;
* a model of Keras-style layers gets each PyTorch module's tensors converted to
  the matching layer's layout: ``Linear.weight (out, in)`` is ``Dense.kernel
  (in, out)`` transposed, a conv weight ``(O, I, kh, kw)`` becomes ``(kh, kw, I, O)``,
  recurrent gates are reordered (PyTorch's GRU is ``r, z, n``, Keras's ``z, r, h``)
  and the two recurrent biases summed where Keras has one.

Modules are matched to layers in order (the module paths sorted naturally,
so ``"2"`` before ``"10"``, against the model's layers that have weights) or
by an explicit ``mapping={layer_name: module_path}``. Every shape is checked
before anything is assigned.
"""

from __future__ import annotations

import os
import re

import numpy as np

from gradkit.models import safetensors as st
from gradkit.models.saving import MAX_TENSORS, ModelFileError
from gradkit.models.weight_plan import assign_planned, plan_layer_weights

__all__ = ["load_torch_state_dict", "torch_layout"]

_IGNORED = ("num_batches_tracked",)  # PyTorch's bookkeeping, no counterpart in a layer


def _natural_key(path):
    return [int(p) if p.isdigit() else p for p in re.split(r"(\d+)", path)]


def read_state_dict(source):
    """``{name: array}`` from a safetensors file path, bytes, or a dict of arrays/tensors."""
    if isinstance(source, dict):
        return {k: np.asarray(v.detach().cpu().numpy() if hasattr(v, "detach") else v)
                for k, v in source.items()}
    if isinstance(source, (bytes, bytearray)):
        payload, what = bytes(source), "state dict bytes"
    else:
        path = os.fspath(source)
        size = os.path.getsize(path)
        if size > MAX_TENSORS:
            raise ModelFileError(f"'{path}' is {size:,} bytes; larger than gradkit loads")
        with open(path, "rb") as f:
            payload = f.read()
        what = f"'{path}'"
    try:
        arrays, _ = st.loads(payload, what=what)
    except st.SafetensorsError as e:
        raise ModelFileError(str(e)) from None
    return arrays


def _split(name):
    prefix, _, leaf = name.rpartition(".")
    return prefix, leaf


def _gru_gates(a, u):
    """PyTorch's ``r, z, n`` blocks along axis 0 -> Keras's ``z, r, h``."""
    return np.concatenate([a[u:2 * u], a[:u], a[2 * u:]], axis=0)


def torch_layout(layer, tensors):
    """The values of ``layer._weights`` (in order) from one PyTorch module's tensors.

    Args:
        layer: a gradkit layer with weights.
        tensors: ``{param_name: array}`` of the matching PyTorch module
            (``weight``, ``bias``, ``running_mean``, ``weight_ih_l0``...).

    Returns:
        A list of arrays, one per weight of the layer, in gradkit's layout.

    Raises:
        ModelFileError: the module's tensors do not fit the layer (names listed).
    """
    from gradkit.layers import (
        GRU,
        LSTM,
        BatchNormalization,
        Conv1D,
        Conv2D,
        Dense,
        Embedding,
        LayerNormalization,
        SimpleRNN,
    )

    t = dict(tensors)

    def take(key):
        if key not in t:
            raise ModelFileError(f"{type(layer).__name__} '{layer.name}' needs PyTorch tensor "
                                 f"'{key}', the module has {sorted(t)}")
        return t.pop(key)

    if isinstance(layer, Conv2D):  # Conv1D too: its kernel is (k, in, out)
        w = take("weight")
        kernel = w.transpose(2, 1, 0) if isinstance(layer, Conv1D) else w.transpose(2, 3, 1, 0)
        out = [kernel] + ([take("bias")] if layer.use_bias else [])
    elif isinstance(layer, Dense):
        out = [take("weight").T] + ([take("bias")] if layer.use_bias else [])
    elif isinstance(layer, Embedding):
        out = [take("weight")]
    elif isinstance(layer, BatchNormalization):
        out = ([take("weight")] if layer.scale else []) + ([take("bias")] if layer.center
                                                          else [])
        out += [take("running_mean"), take("running_var")]
    elif isinstance(layer, LayerNormalization):
        out = ([take("weight")] if layer.scale else []) + ([take("bias")] if layer.center
                                                          else [])
    elif isinstance(layer, (SimpleRNN, LSTM, GRU)):
        w_ih, w_hh = take("weight_ih_l0"), take("weight_hh_l0")
        b_ih = take("bias_ih_l0") if layer.use_bias else None
        b_hh = take("bias_hh_l0") if layer.use_bias else None
        if isinstance(layer, GRU):
            if not layer.reset_after:
                raise ModelFileError(f"GRU '{layer.name}': PyTorch's GRU is reset_after=True; "
                                     "build the layer with reset_after=True")
            u = layer.units
            w_ih, w_hh = _gru_gates(w_ih, u), _gru_gates(w_hh, u)
            bias = [np.stack([_gru_gates(b_ih, u), _gru_gates(b_hh, u)])] if layer.use_bias \
                else []
        else:
            bias = [b_ih + b_hh] if layer.use_bias else []
        out = [w_ih.T, w_hh.T] + bias
    else:
        raise ModelFileError(f"no PyTorch layout known for {type(layer).__name__} "
                             f"'{layer.name}'; load its weights with set_weights")
    for k in _IGNORED:
        t.pop(k, None)
    if t:
        raise ModelFileError(f"{type(layer).__name__} '{layer.name}': PyTorch tensors "
                             f"{sorted(t)} have no place in the layer")
    return [np.ascontiguousarray(a) for a in out]


def _weighted_leaves(model):
    return [layer for layer in model._flatten_layers()
            if layer._weights and layer is not model]


def load_torch_state_dict(model, source, mapping=None, strict=True):
    """Load a PyTorch ``state_dict`` into ``model``.

    Args:
        model: a built gradkit model or layer.
        source: a ``.safetensors`` path (F32/F16/BF16... tensors), its bytes, or a
            dict of arrays (or torch tensors).
        mapping: optional ``{gradkit_layer_name: torch_module_path}``; default:
            the module paths in natural order matched to the layers with weights.
        strict: refuse module paths that no layer takes (with ``False`` they are
            left out).

    Returns:
        The model.

    Raises:
        ModelFileError: a tensor missing, left over (strict) or of the wrong shape,
            named with its layer; nothing is assigned then.

    Example::

        # torch: safetensors.torch.save_file(net.state_dict(), "net.safetensors")
        model = Sequential([Dense(64, activation="relu", input_dim=784), Dense(10)])
        load_torch_state_dict(model, "net.safetensors", mapping={"dense": "0",
                                                                  "dense_1": "2"})
    """
    arrays = read_state_dict(source)
    own = getattr(model, "state_dict", None)
    if callable(own) and hasattr(model, "load_state_dict") and set(own()) == set(arrays):
        model.load_state_dict(arrays, strict=strict)  # gradkit.nn: PyTorch's names already
        return model
    if not model.built:
        raise ValueError(f"{type(model).__name__} '{model.name}' is not built; build it so its "
                         "weights exist before loading a state dict")
    groups = {}
    for name, arr in arrays.items():
        prefix, leaf = _split(name)
        groups.setdefault(prefix, {})[leaf] = arr
    layers = _weighted_leaves(model)
    if mapping is None:
        prefixes = sorted(groups, key=_natural_key)
        if len(prefixes) < len(layers) or (strict and len(prefixes) != len(layers)):
            raise ModelFileError(
                f"the state dict has {len(prefixes)} modules with tensors ({prefixes}), the "
                f"model {len(layers)} layers with weights ({[la.name for la in layers]}); "
                "pass mapping={layer_name: module_path}")
        pairs = list(zip(layers, prefixes))
    else:
        by_name = {la.name: la for la in layers}
        pairs = []
        for lname, prefix in mapping.items():
            if lname not in by_name:
                raise ValueError(f"load_torch_state_dict: mapping names layer '{lname}', the "
                                 f"model's layers with weights are {sorted(by_name)}")
            if prefix not in groups:
                raise ModelFileError(f"load_torch_state_dict: no module '{prefix}' in the "
                                     f"state dict; it has {sorted(groups, key=_natural_key)}")
            pairs.append((by_name[lname], prefix))
        if strict and set(groups) - set(mapping.values()):
            raise ModelFileError(f"state dict modules {sorted(set(groups) - set(mapping.values()))}"
                                 " are not in mapping (strict=True)")
    planned = []
    for layer, prefix in pairs:
        values = torch_layout(layer, groups[prefix])
        planned += plan_layer_weights(layer, values, f"module '{prefix}' (in gradkit's layout)")
    assign_planned(planned)
    return model
