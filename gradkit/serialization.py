"""``gradkit.save`` / ``gradkit.load``: tensors, arrays and (nested) state dicts, no pickle.

A file is one safetensors file (:mod:`gradkit.models.safetensors`): the arrays
are its tensors, and the object around them (dicts, lists, tuples, numbers,
strings, ``None``) is JSON in its ``__metadata__`` under ``"gradkit.structure"``.
Loading parses data only, so a file cannot run code, and every size, dtype,
offset and reference is checked against the file before anything is allocated.

The structure's JSON nodes: native JSON for ``None``/bools/ints/floats/strings
and lists; ``{"tuple": [...]}``; ``{"dict": [[key, value], ...]}`` (keys are
strings, ints, floats, bools or ``None``, so optimizer state dicts keep their int
keys); ``{"tensor": name, "requires_grad": bool}`` (``"variable": true`` and
``"trainable"``/``"name"`` for a :class:`~gradkit.Variable`); ``{"ndarray": name}``;
``{"scalar": name}`` for a NumPy scalar. A tensor saved twice is stored once and
loads as one object. A flat ``{str: tensor}`` dict is stored under its own keys,
so ``safetensors.torch.load_file`` reads it; a safetensors file from elsewhere
(``safetensors.torch.save_file``) loads as ``{name: Tensor}``.
"""

from __future__ import annotations

import json
import os
import struct

import numpy as np

from gradkit import devices
from gradkit.backend import is_array, to_numpy
from gradkit.models import safetensors as st
from gradkit.models.saving import atomic_write
from gradkit.tensor import Tensor, Variable

__all__ = ["load", "save"]

FORMAT = "gradkit.save"
VERSION = "1"
MAX_DEPTH = 100              # nesting of lists/dicts a file may have
_KEY_TYPES = (str, int, float, bool, type(None))


# ---------------------------------------------------------------- save
def save(obj, f):
    """Write ``obj`` (tensors, arrays, numbers, strings, and lists/tuples/dicts of them)
    to ``f``, atomically, in the safetensors format (PyTorch's ``torch.save``).

    Args:
        obj: e.g. ``model.state_dict()``, ``optimizer.state_dict()``, a tensor, or a
            checkpoint dict ``{"epoch": 3, "model": ..., "optimizer": ...}``.
        f: a path (written through a temporary file, then renamed), or a binary
            file object with ``write``.

    Raises:
        TypeError: ``obj`` holds something else (the message names where); gradkit
            never pickles.

    Example::

        gradkit.save({"model": model.state_dict(), "opt": opt.state_dict()}, "ckpt.st")
        ckpt = gradkit.load("ckpt.st")
    """
    arrays, memo = {}, {}
    flat = _flat_tensor_dict(obj)
    structure = _encode(obj, "obj", arrays, memo, 0, flat)
    payload = st.dumps(arrays, {"format": FORMAT, "version": VERSION,
                                "gradkit.structure": json.dumps(structure,
                                                                separators=(",", ":"))})
    if hasattr(f, "write"):
        f.write(payload)
    else:
        atomic_write(f, payload)


def _flat_tensor_dict(obj):
    return isinstance(obj, dict) and bool(obj) and all(
        isinstance(k, str) and k != "__metadata__" and isinstance(v, (Tensor, np.ndarray))
        for k, v in obj.items())


def _store(arrays, memo, obj, data, where, key):
    """Name of ``obj``'s array in the file (stored once per object)."""
    name = memo.get(id(obj))
    if name is not None:
        return name[0]
    data = np.asarray(to_numpy(data))
    if st._CODES.get(data.dtype.str.lstrip("<>|=")) is None:
        raise TypeError(f"gradkit.save: {where} has dtype {data.dtype}, which the file "
                        f"format cannot hold (supported: {', '.join(sorted(st._DTYPES))})")
    name = key if key is not None and key not in arrays else str(len(arrays))
    while name in arrays:
        name += "_"
    arrays[name] = data
    memo[id(obj)] = (name, obj)        # keep obj alive so its id is not reused
    return name


def _encode(obj, where, arrays, memo, depth, flat=False):
    if depth > MAX_DEPTH:
        raise ValueError(f"gradkit.save: {where} is nested more than {MAX_DEPTH} levels deep")
    if isinstance(obj, (np.bool_, np.number)):    # before float: np.float64 is a float
        return {"scalar": _store(arrays, memo, obj, np.asarray(obj), where, None)}
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    if isinstance(obj, Tensor):
        node = {"tensor": _store(arrays, memo, obj, obj._data, where, None),
                "requires_grad": bool(obj.requires_grad)}
        if isinstance(obj, Variable):
            node.update(variable=True, trainable=bool(obj.trainable), name=obj.name)
        return node
    if isinstance(obj, np.ndarray) or (is_array(obj) and not isinstance(obj, np.generic)):
        return {"ndarray": _store(arrays, memo, obj, obj, where, None)}
    if isinstance(obj, (list, tuple)):
        items = [_encode(v, f"{where}[{i}]", arrays, memo, depth + 1)
                 for i, v in enumerate(obj)]
        return {"tuple": items} if isinstance(obj, tuple) else items
    elif isinstance(obj, dict):
        pairs = []
        for k, v in obj.items():
            if not isinstance(k, _KEY_TYPES):
                raise TypeError(f"gradkit.save: {where} has a key of type {type(k).__name__} "
                                f"({k!r}); keys must be strings, numbers, bools or None")
            node = _encode(v, f"{where}[{k!r}]", arrays, memo, depth + 1)
            if flat:                      # a flat state dict: the file's names are its keys
                _rename(arrays, node, k)
            pairs.append([k, node])
        return {"dict": pairs}
    raise TypeError(f"gradkit.save: cannot save {where}, a {type(obj).__name__}; gradkit.save "
                    "writes tensors, arrays, numbers, strings, None and lists/tuples/dicts of "
                    "them (it never pickles): convert it, e.g. to a state_dict()")


def _rename(arrays, node, key):
    """Give the array behind ``node`` the name ``key`` (a flat dict's own key)."""
    tag = "tensor" if "tensor" in node else "ndarray"
    old = node[tag]
    if old == key or key in arrays:
        return
    arrays[key] = arrays.pop(old)
    node[tag] = key


# ---------------------------------------------------------------- load
def load(f, map_location=None, *, weights_only=True):
    """Read what :func:`save` wrote (or any safetensors file) back (``torch.load``).

    Args:
        f: a path, or a binary file object with ``read``.
        map_location: ``None`` or a device (``"cpu"``, ``gradkit.device(...)``): where
            the tensors are placed.
        weights_only: accepted for PyTorch's spelling; gradkit files hold data only,
            so ``True`` and ``False`` load the same way.

    Returns:
        The saved object; tensors come back as gradkit Tensors (Variables as
        Variables), arrays as NumPy arrays. A safetensors file not written by
        gradkit gives ``{name: Tensor}``.

    Raises:
        gradkit.models.safetensors.SafetensorsError (a ValueError): the file is
        truncated, corrupt or crafted (bad JSON, sizes beyond the file, absurd
        shapes, unknown nodes); it says what is wrong before anything is allocated.

    Example::

        model.load_state_dict(gradkit.load("model.st"))
    """
    if not isinstance(weights_only, bool):
        raise TypeError(f"gradkit.load: weights_only must be True or False, received "
                        f"{weights_only!r}")
    dev = devices.as_device(map_location) if map_location is not None else None
    what, buf = _read(f)
    arrays, meta = st.loads(buf, what=what)
    if meta.get("format") != FORMAT:        # a plain safetensors file
        return {name: Tensor._make(_place(a, dev), False, None) for name, a in arrays.items()}
    if meta.get("version") != VERSION:
        raise st.SafetensorsError(f"{what}: written by gradkit.save version "
                                  f"{meta.get('version')!r}; this gradkit reads {VERSION!r}")
    try:
        structure = json.loads(meta.get("gradkit.structure", ""))
    except (json.JSONDecodeError, RecursionError) as e:
        raise st.SafetensorsError(f"{what}: the structure is not valid JSON ({e})") from None
    used, objects = set(), {}
    out = _decode(structure, arrays, used, objects, dev, what, 0)
    unused = sorted(set(arrays) - used)
    if unused:
        raise st.SafetensorsError(f"{what}: tensors {unused[:5]} are not referenced by the "
                                  "structure; the file was altered")
    return out


def _read(f):
    if hasattr(f, "read"):
        what = "gradkit.load: the file object"
        buf = f.read()
        _refuse_pickles(what, buf[:9])
        return what, buf
    path = os.fspath(f)
    what = f"gradkit.load: '{path}'"
    with open(path, "rb") as fh:
        size = os.fstat(fh.fileno()).st_size
        head = fh.read(8)
        _refuse_pickles(what, head + fh.read(1))
        fh.seek(8)
        if len(head) == 8:                  # check the header size before reading on
            (n,) = struct.unpack("<Q", head)
            if n > st.MAX_HEADER or n > size - 8:
                raise st.SafetensorsError(f"{what}: header claims {n} bytes but the file has "
                                          f"{size - 8} after it; the file is truncated or not "
                                          "a gradkit/safetensors file")
        return what, head + fh.read()


def _refuse_pickles(what, head):
    """Name the two formats people pass by mistake: a pickle, and torch.save's zip of one.

    ``head`` is the first 9 bytes: a safetensors file (JSON header from byte 8) whose
    header length happens to start with the byte 0x80 is not a pickle."""
    if head[8:9] == b"{":
        return
    if head[:1] == b"\x80" or head[:4] == b"PK\x03\x04":
        kind = "a Python pickle" if head[:1] == b"\x80" else "a zip archive (torch.save's format)"
        raise st.SafetensorsError(
            f"{what} is {kind}; gradkit never unpickles (a pickle can run code). Save it "
            "as safetensors instead: safetensors.torch.save_file(state_dict, path) in "
            "PyTorch, or gradkit.save")


def _place(arr, dev):
    return arr if dev is None else devices.place(arr, dev)


def _bad(what, why):
    return st.SafetensorsError(f"{what}: {why}; the file is corrupt or was not written by "
                               "gradkit.save")


def _decode(node, arrays, used, objects, dev, what, depth):
    if depth > MAX_DEPTH:
        raise _bad(what, f"the structure is nested more than {MAX_DEPTH} levels deep")
    if node is None or isinstance(node, (bool, int, float, str)):
        return node
    if isinstance(node, list):
        return [_decode(v, arrays, used, objects, dev, what, depth + 1) for v in node]
    if not isinstance(node, dict) or len(node) == 0:
        raise _bad(what, f"unexpected structure node {node!r:.80}")
    if set(node) == {"tuple"} and isinstance(node["tuple"], list):
        return tuple(_decode(v, arrays, used, objects, dev, what, depth + 1)
                     for v in node["tuple"])
    if set(node) == {"dict"} and isinstance(node["dict"], list):
        out = {}
        for pair in node["dict"]:
            if not (isinstance(pair, list) and len(pair) == 2 and
                    isinstance(pair[0], _KEY_TYPES)):
                raise _bad(what, f"a dict entry must be [key, value], found {pair!r:.80}")
            out[pair[0]] = _decode(pair[1], arrays, used, objects, dev, what, depth + 1)
        return out
    tag = next(iter(node)) if len(node) == 1 else "tensor"
    name = node.get(tag)
    if tag not in ("tensor", "ndarray", "scalar") or not isinstance(name, str):
        raise _bad(what, f"unexpected structure node {node!r:.80}")
    if name not in arrays:
        raise _bad(what, f"the structure refers to a tensor '{name:.80}' the file does not hold")
    key = (tag, name)
    if key in objects:                     # the same object saved twice
        return objects[key]
    used.add(name)
    if tag == "ndarray":
        obj = _place(arrays[name], dev)
    elif tag == "scalar":
        obj = arrays[name][()]
    else:
        obj = _tensor(node, _place(arrays[name], dev), what)
    objects[key] = obj
    return obj


def _tensor(node, data, what):
    keys = set(node)
    if node.get("variable"):
        if keys != {"tensor", "requires_grad", "variable", "trainable", "name"} or not (
                isinstance(node["trainable"], bool) and
                (node["name"] is None or isinstance(node["name"], str))):
            raise _bad(what, f"malformed Variable node {node!r:.80}")
        return Variable(data, trainable=node["trainable"], name=node["name"])
    if keys != {"tensor", "requires_grad"} or not isinstance(node["requires_grad"], bool):
        raise _bad(what, f"malformed tensor node {node!r:.80}")
    if node["requires_grad"] and data.dtype.kind != "f":
        raise _bad(what, f"a {data.dtype} tensor cannot require gradients")
    return Tensor._make(data, node["requires_grad"], None)
