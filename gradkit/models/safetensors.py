"""The safetensors format, read and written with NumPy alone.

Layout: an 8-byte little-endian header length N, N bytes of JSON
(``{name: {"dtype": "F32", "shape": [...], "data_offsets": [begin, end]},
"__metadata__": {str: str}}``), then the raw little-endian tensor bytes.
Chosen for gradkit's weights because it holds no code (nothing to unpickle),
maps straight onto NumPy arrays, and other tools (the ``safetensors``
package, Hugging Face libraries) read it as is.

The reader trusts nothing: header size, JSON structure, dtypes, shapes and
offsets are all checked against the actual byte count before any array is made.
"""

from __future__ import annotations

import json
import struct

import numpy as np

_DTYPES = {"BOOL": "?", "U8": "u1", "I8": "i1", "U16": "<u2", "I16": "<i2", "F16": "<f2",
           "U32": "<u4", "I32": "<i4", "F32": "<f4", "U64": "<u8", "I64": "<i8", "F64": "<f8"}
_CODES = {np.dtype(v).str.lstrip("<>|="): k for k, v in _DTYPES.items()}
MAX_HEADER = 100 * 1024 * 1024


class SafetensorsError(ValueError):
    """A safetensors payload that is malformed or not what it claims to be."""


def dumps(tensors: dict, metadata: dict | None = None) -> bytes:
    """Serialize ``{name: array}`` (and string metadata) to safetensors bytes."""
    header, chunks, offset = {}, [], 0
    for name, arr in tensors.items():
        arr = np.asarray(arr, order="C")  # (ascontiguousarray would make 0-d arrays 1-d)
        code = _CODES.get(arr.dtype.str.lstrip("<>|="))
        if code is None:
            raise SafetensorsError(f"safetensors: cannot store dtype {arr.dtype} ('{name}')")
        data = arr.astype(arr.dtype.newbyteorder("<"), copy=False).tobytes()
        header[name] = {"dtype": code, "shape": list(arr.shape),
                        "data_offsets": [offset, offset + len(data)]}
        chunks.append(data)
        offset += len(data)
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    raw = json.dumps(header, separators=(",", ":")).encode()
    raw += b" " * (-len(raw) % 8)  # align the data to 8 bytes
    return struct.pack("<Q", len(raw)) + raw + b"".join(chunks)


def loads(buf: bytes, what="safetensors data"):
    """Parse safetensors bytes into ``({name: array}, metadata)``, validating everything."""
    if len(buf) < 8:
        raise SafetensorsError(f"{what}: too short to be safetensors ({len(buf)} bytes)")
    (n,) = struct.unpack("<Q", buf[:8])
    if n > MAX_HEADER or n > len(buf) - 8:
        raise SafetensorsError(f"{what}: header claims {n} bytes but the payload has "
                               f"{len(buf) - 8}; the file is truncated or not safetensors")
    try:
        header = json.loads(buf[8:8 + n].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise SafetensorsError(f"{what}: the header is not valid JSON ({e})") from None
    if not isinstance(header, dict):
        raise SafetensorsError(f"{what}: the header must be a JSON object")
    metadata = header.pop("__metadata__", {}) or {}
    if not isinstance(metadata, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()):
        raise SafetensorsError(f"{what}: __metadata__ must map strings to strings")
    data = memoryview(buf)[8 + n:]
    spans, out = [], {}
    for name, info in header.items():
        if not isinstance(info, dict) or set(info) != {"dtype", "shape", "data_offsets"}:
            raise SafetensorsError(f"{what}: entry '{name}' must have exactly dtype, shape "
                                   "and data_offsets")
        code, shape, offs = info["dtype"], info["shape"], info["data_offsets"]
        if code not in _DTYPES:
            raise SafetensorsError(f"{what}: entry '{name}' has unsupported dtype {code!r}")
        if not isinstance(shape, list) or not all(
                isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape):
            raise SafetensorsError(f"{what}: entry '{name}' has an invalid shape {shape!r}")
        if not (isinstance(offs, list) and len(offs) == 2 and all(
                isinstance(o, int) and not isinstance(o, bool) for o in offs)):
            raise SafetensorsError(f"{what}: entry '{name}' has invalid data_offsets {offs!r}")
        begin, end = offs
        dt = np.dtype(_DTYPES[code])
        size = dt.itemsize
        for d in shape:
            size *= d
        if not 0 <= begin <= end <= len(data) or end - begin != size:
            raise SafetensorsError(
                f"{what}: entry '{name}' ({code} {tuple(shape)} = {size} bytes) claims bytes "
                f"{begin}..{end} of a {len(data)}-byte buffer; the file is truncated or "
                "corrupt")
        spans.append((begin, end, name))
        out[name] = (dt, tuple(shape), begin, end)
    spans.sort()
    pos = 0
    for begin, end, name in spans:
        if begin != pos:
            raise SafetensorsError(f"{what}: entry '{name}' starts at {begin}, expected {pos} "
                                   "(overlapping or missing bytes)")
        pos = end
    if pos != len(data):
        raise SafetensorsError(f"{what}: {len(data) - pos} trailing bytes after the last tensor")
    arrays = {name: np.frombuffer(data[b:e], dtype=dt).reshape(shape).astype(dt.newbyteorder("="))
              for name, (dt, shape, b, e) in out.items()}
    return arrays, metadata
