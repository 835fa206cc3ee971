"""Reading an ONNX file from a stranger: every claim checked before anything is allocated.

:func:`read_model` parses the protobuf (whose size the file bounds), then
refuses, with a message saying what and where:

* a file larger than :data:`MAX_FILE`, or more than :data:`MAX_NODES` nodes;
* an initializer whose dims claim more than :data:`MAX_ELEMENTS` values, or more
  bytes than its data holds (a 1 TB tensor "stored" in 16 bytes);
* external data whose path is absolute, climbs out of the model's folder
  (``../``, a symlink pointing elsewhere) or whose offset/length runs past the end
  of its file;
* sparse initializers, model-local functions, and graphs whose nodes use a
  name before any node makes it, define a name twice, or form a cycle.

:func:`tensor_array` then turns an initializer into a NumPy array, reading
external data only from the ranges the checks allowed.
"""

from __future__ import annotations

import heapq
import math
import os

import numpy as np

from gradkit.utils.optional import require

__all__ = ["MAX_ELEMENTS", "MAX_FILE", "MAX_NODES", "OnnxFileError", "read_model",
           "tensor_array", "topological_order"]

MAX_FILE = 2 * 1024 ** 3 - 1  # protobuf's own limit
MAX_NODES = 200_000
MAX_ELEMENTS = 2 ** 31  # per tensor


class OnnxFileError(ValueError):
    """An ONNX file that can't be loaded safely or isn't valid; the message says why."""


def _np_dtype(onnx, elem_type, where):
    try:
        return np.dtype(onnx.helper.tensor_dtype_to_np_dtype(elem_type))
    except (KeyError, TypeError, ValueError):
        raise OnnxFileError(f"{where}: unsupported tensor element type {elem_type}") from None


def _external_info(tensor):
    return {e.key: e.value for e in tensor.external_data}


def _external_path(tensor, folder, where):
    """The file an external initializer lives in, refused unless it is inside ``folder``."""
    info = _external_info(tensor)
    location = info.get("location", "")
    if not location or os.path.isabs(location) or ".." in location.replace("\\", "/").split("/"):
        raise OnnxFileError(f"{where}: external data location {location!r} is not a relative "
                            "path inside the model's folder; refusing it")
    if folder is None:
        raise OnnxFileError(f"{where}: the tensor's data is in an external file, which only a "
                            "model loaded from a path can have")
    root = os.path.realpath(folder)
    path = os.path.realpath(os.path.join(root, location))
    if os.path.commonpath([root, path]) != root:
        raise OnnxFileError(f"{where}: external data {location!r} resolves to '{path}', outside "
                            f"the model's folder '{root}'; refusing it")
    if not os.path.isfile(path):
        raise OnnxFileError(f"{where}: external data file {location!r} does not exist")
    return path, info


def _check_tensor(onnx, tensor, folder, where):
    """Refuse a tensor whose claimed size exceeds the bounds or the bytes behind it."""
    dims = list(tensor.dims)
    if any(d < 0 for d in dims):
        raise OnnxFileError(f"{where}: negative dimension in {dims}")
    count = math.prod(dims)
    if count > MAX_ELEMENTS:
        raise OnnxFileError(f"{where}: dims {dims} claim {count:,} values, more than gradkit "
                            f"loads ({MAX_ELEMENTS:,})")
    dt = _np_dtype(onnx, tensor.data_type, where)
    nbytes = count * dt.itemsize
    if tensor.data_location == onnx.TensorProto.EXTERNAL:
        path, info = _external_path(tensor, folder, where)
        size = os.path.getsize(path)
        try:
            offset = int(info.get("offset", 0))
            length = int(info.get("length", size - offset))
        except ValueError:
            raise OnnxFileError(f"{where}: external data offset/length are not integers") \
                from None
        if offset < 0 or length != nbytes or offset + length > size:
            raise OnnxFileError(
                f"{where}: dims {dims} need {nbytes:,} bytes, external data claims "
                f"{length:,} bytes at offset {offset:,} of a {size:,}-byte file; refusing it")
        return
    if tensor.HasField("raw_data"):
        if len(tensor.raw_data) != nbytes:
            raise OnnxFileError(f"{where}: dims {dims} need {nbytes:,} bytes of {dt} data, the "
                                f"tensor holds {len(tensor.raw_data):,}; the file is corrupt "
                                "or crafted")
        return
    if dt.kind in "OSU":
        raise OnnxFileError(f"{where}: string tensors are not supported")
    held = len(getattr(tensor, onnx.helper.tensor_dtype_to_field(tensor.data_type)))
    if held != count:
        raise OnnxFileError(f"{where}: dims {dims} claim {count:,} values, the tensor holds "
                            f"{held:,}; the file is corrupt or crafted")


def tensor_array(tensor, folder=None):
    """A checked initializer (see :func:`read_model`) as a NumPy array."""
    onnx = require("onnx", "onnx", "ONNX import")
    if tensor.data_location == onnx.TensorProto.EXTERNAL:
        path, info = _external_path(tensor, folder, f"initializer '{tensor.name}'")
        dt = _np_dtype(onnx, tensor.data_type, tensor.name)
        offset = int(info.get("offset", 0))
        with open(path, "rb") as f:
            f.seek(offset)
            data = f.read(math.prod(tensor.dims) * dt.itemsize)
        return np.frombuffer(data, dtype=dt.newbyteorder("<")).reshape(tuple(tensor.dims)) \
            .astype(dt)
    return onnx.numpy_helper.to_array(tensor)


def topological_order(nodes, known, where="graph"):
    """``nodes`` in an order where each comes after the producers of its inputs.

    Args:
        nodes: the graph's nodes.
        known: names available before any node (graph inputs, initializers).

    Raises:
        OnnxFileError: a name defined twice, an input no node or graph input
            defines, or a cycle (the nodes on it are named).
    """
    producer = {}
    for i, node in enumerate(nodes):
        for out in node.output:
            if out and (out in producer or out in known):
                raise OnnxFileError(f"{where}: '{out}' is defined twice (node "
                                    f"'{node.name}'); ONNX graphs assign each name once")
            if out:
                producer[out] = i
    waiting = [0] * len(nodes)
    users = [[] for _ in nodes]
    for i, node in enumerate(nodes):
        for name in node.input:
            if not name or name in known:
                continue
            if name not in producer:
                raise OnnxFileError(f"{where}: node '{node.name}' ({node.op_type}) reads "
                                    f"'{name}', which no node or graph input defines")
            waiting[i] += 1
            users[producer[name]].append(i)
    ready = [i for i, n in enumerate(waiting) if n == 0]  # a heap: file order where possible
    heapq.heapify(ready)
    order = []
    while ready:
        i = heapq.heappop(ready)
        order.append(i)
        for j in users[i]:
            waiting[j] -= 1
            if waiting[j] == 0:
                heapq.heappush(ready, j)
    if len(order) != len(nodes):
        stuck = [nodes[i].name or nodes[i].op_type for i, n in enumerate(waiting) if n][:5]
        raise OnnxFileError(f"{where}: the graph has a cycle through nodes {stuck}; refusing it")
    return [nodes[i] for i in order]


def read_model(source):
    """Parse and check an ONNX model.

    Args:
        source: a path, the file's bytes, or an ``onnx.ModelProto``.

    Returns:
        ``(model_proto, folder)``: the checked model and the folder external data
        is read from (None for bytes and protos).

    Raises:
        OnnxFileError: see the module docstring.
    """
    onnx = require("onnx", "onnx", "ONNX import")
    folder, what = None, "ONNX model"
    if isinstance(source, onnx.ModelProto):
        proto = source
    else:
        if isinstance(source, (bytes, bytearray)):
            data = bytes(source)
        else:
            path = os.fspath(source)
            what = f"'{path}'"
            size = os.path.getsize(path)
            if size > MAX_FILE:
                raise OnnxFileError(f"{what} is {size:,} bytes; more than an ONNX file can be")
            folder = os.path.dirname(os.path.abspath(path))
            with open(path, "rb") as f:
                data = f.read()
        proto = onnx.ModelProto()
        try:
            proto.ParseFromString(data)
        except Exception as e:  # protobuf's DecodeError and friends
            raise OnnxFileError(f"{what} is not an ONNX model ({type(e).__name__}: {e})") \
                from None
    graph = proto.graph
    if len(graph.node) > MAX_NODES:
        raise OnnxFileError(f"{what}: {len(graph.node):,} nodes, more than gradkit loads")
    if len(proto.functions):
        raise OnnxFileError(f"{what}: model-local functions "
                            f"{[f.name for f in proto.functions][:5]} are not supported")
    if len(graph.sparse_initializer):
        raise OnnxFileError(f"{what}: sparse initializers are not supported")
    for t in graph.initializer:
        _check_tensor(onnx, t, folder, f"{what}: initializer '{t.name}'")
    for node in graph.node:
        for a in node.attribute:
            if a.type == onnx.AttributeProto.TENSOR:
                _check_tensor(onnx, a.t, folder, f"{what}: node '{node.name}' attribute "
                              f"'{a.name}'")
    known = {i.name for i in graph.input} | {t.name for t in graph.initializer}
    topological_order(list(graph.node), known, what)
    return proto, folder
