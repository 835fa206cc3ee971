"""Saving and loading models: one zip archive, no pickle, written atomically.

A model file holds:

* ``metadata.json``: format name and version, gradkit version, the random state;
* ``config.json``: the architecture (layer configs) and the compile settings;
* ``model.safetensors``: the weights, in an order ``config.json`` lists;
* ``optimizer.safetensors``: the optimizer's slots and step count (optional).

Why this shape: JSON and safetensors can't carry code, so loading a file
from a stranger executes nothing; safetensors is read by other tools too;
one zip keeps the pieces together. Writes go to a temporary file beside the
target, are flushed and fsync-ed, then renamed over it: a crash or a kill at
any moment leaves either the old file or the new one, never a mix.

Loading checks everything before it allocates or assigns: the member names
(nothing else, no paths), their sizes (no "terabyte" headers, no zip bombs),
JSON and safetensors structure, and every weight's shape against the model.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import stat
import tempfile
import zipfile

import numpy as np

from gradkit.models import safetensors as st
from gradkit.models import weight_budget
from gradkit.utils.registry import custom_object_scope

FORMAT = "gradkit.model"
FORMAT_VERSION = 1
MEMBERS = ("metadata.json", "config.json", "model.safetensors", "optimizer.safetensors")
MAX_JSON = 64 * 1024 * 1024
MAX_TENSORS = 16 * 1024 ** 3
MAX_RATIO = 200  # decompressed/compressed; beyond this an entry is a zip bomb


class ModelFileError(ValueError):
    """A model or weights file that can't be loaded safely; the message says why."""


# ---------------------------------------------------------------- atomic write
def atomic_write(path, data: bytes):
    """Write ``data`` to ``path`` so that readers see the old or the new file, never a part.

    A symlink at ``path`` is followed: its target is replaced (atomically), the link
    stays. A new file gets the permissions ``open()`` would give it (0666 less the
    umask); a replaced file keeps its own. Stop signals (Ctrl-C, SIGTERM, SIGHUP)
    that arrive during the write are delivered once it is complete, so no temporary
    file is ever left behind. Errors (disk full, no permission) raise an ``OSError``
    naming the path and leave any previous file untouched.
    """
    from gradkit.utils.signals import deferred

    path = os.path.realpath(os.fspath(path)) if os.path.islink(path) else os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    with deferred():
        _write_replace(path, folder, data)
    try:  # make the rename itself durable
        dfd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    except OSError:
        pass


def _current_umask():
    """The process umask, read without changing it where Linux says it (``os.umask`` both
    sets and returns it, which would race with other threads creating files)."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _write_replace(path, folder, data):
    try:
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".part", dir=folder)
    except OSError as e:
        raise OSError(e.errno, f"cannot save to '{path}': {e.strerror} (could not create a "
                      f"temporary file in '{folder}'); the previous file, if any, is "
                      "unchanged") from e
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        if os.path.exists(path):
            os.chmod(tmp, os.stat(path).st_mode & 0o7777)
        else:
            os.chmod(tmp, 0o666 & ~_current_umask())
        os.replace(tmp, path)
    except BaseException as e:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(e, OSError):
            raise OSError(e.errno, f"cannot save to '{path}': {e.strerror}; the previous file, "
                          "if any, is unchanged") from e
        raise


# ---------------------------------------------------------------- weights
def _weight_keys(weights):
    keys, seen = [], {}
    for w in weights:
        base = w.name or "weight"
        k = seen.get(base, 0)
        seen[base] = k + 1
        keys.append(base if k == 0 else f"{base}#{k}")
    return keys


def _weights_payload(model):
    ws = model.weights
    keys = _weight_keys(ws)
    return st.dumps({k: w.numpy() for k, w in zip(keys, ws)},
                    {"format": "gradkit.weights", "order": json.dumps(keys)}), keys


def _optimizer_payload(optimizer):
    state = optimizer.state_dict()
    tensors, index = {}, {}
    for pi, slots in state.get("state", {}).items():
        for slot, arr in slots.items():
            key = f"{pi}/{slot}"
            tensors[key] = np.asarray(arr)
            index[key] = [int(pi), slot]
    meta = {k: v for k, v in state.items() if k != "state"}
    return st.dumps(tensors, {"format": "gradkit.optimizer", "index": json.dumps(index),
                              "meta": json.dumps(meta, default=_json_default)})


def _json_default(o):
    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(f"cannot serialize {type(o).__name__}")


def save_model(model, filepath, include_optimizer=True):
    """Write ``model`` (architecture, weights, optimizer state) to ``filepath``."""
    from gradkit import __version__
    from gradkit import random as R

    if not model.built:
        raise ValueError(f"{type(model).__name__} '{model.name}' is not built (it has no "
                         "weights yet): build it or train it before saving")
    from gradkit.layers import serialize

    weights, keys = _weights_payload(model)
    shape = model._build_input_shape
    config = {"model": serialize(model), "compile": model.get_compile_config(),
              "weights": keys,
              "build_input_shape": None if shape is None else _json_shape(shape)}
    meta = {"format": FORMAT, "format_version": FORMAT_VERSION, "gradkit_version": __version__,
            "rng_state": R.get_state()}
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
        z.writestr("metadata.json", json.dumps(meta, default=_json_default, indent=1))
        z.writestr("config.json", json.dumps(config, default=_json_default, indent=1))
        z.writestr("model.safetensors", weights)
        if include_optimizer and model.optimizer is not None and \
                hasattr(model.optimizer, "state_dict"):
            z.writestr("optimizer.safetensors", _optimizer_payload(model.optimizer))
    atomic_write(filepath, buf.getvalue())


def _json_shape(shape):
    if isinstance(shape, list) and shape and isinstance(shape[0], (tuple, list)):
        return [list(s) for s in shape]
    return list(shape)


def _shape_from_json(shape):
    if not isinstance(shape, list):
        raise ModelFileError(f"invalid build_input_shape {shape!r}")
    if shape and isinstance(shape[0], list):
        return [tuple(s) for s in shape]
    return tuple(shape)


def save_weights(model, filepath):
    """Write the weights alone as a safetensors file."""
    if not model.built:
        raise ValueError(f"{type(model).__name__} '{model.name}' has no weights yet")
    payload, _ = _weights_payload(model)
    atomic_write(filepath, payload)


# ---------------------------------------------------------------- reading
def _sniff(path, head):
    if head[:1] == b"\x80" or head[:2] in (b"cc", b"c_") and b"\n" in head[:64]:
        raise ModelFileError(f"'{path}' looks like a Python pickle; gradkit never loads pickles "
                             "(they can run arbitrary code). Re-save it with model.save()")
    if head[:8] == b"\x89HDF\r\n\x1a\n":
        raise ModelFileError(f"'{path}' is an HDF5 (.h5) file, not a gradkit model")


def _check_regular(path):
    """Refuse devices, FIFOs and directories before opening them (``/dev/zero`` never ends,
    a FIFO blocks forever)."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise FileNotFoundError(f"no model file at '{path}'") from None
    if not stat.S_ISREG(mode):
        kind = "a directory" if stat.S_ISDIR(mode) else "a FIFO" if stat.S_ISFIFO(mode) else \
            "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else "not a regular file"
        raise ModelFileError(f"'{path}' is {kind}; a model or weights file must be a regular "
                             "file")


def _read_archive(path):
    path = os.fspath(path)
    _check_regular(path)
    with open(path, "rb") as f:
        head = f.read(64)
    _sniff(path, head)
    if not zipfile.is_zipfile(path):
        raise ModelFileError(f"'{path}' is not a gradkit model file (not a zip archive); a "
                             "weights-only file loads with model.load_weights()")
    size = os.path.getsize(path)
    out = {}
    try:
        with zipfile.ZipFile(path) as z:
            infos = z.infolist()
            names = [i.filename for i in infos]
            if "data.pkl" in " ".join(names):
                raise ModelFileError(f"'{path}' is a PyTorch checkpoint (pickle inside); "
                                     "gradkit refuses pickled payloads")
            for info in infos:
                name = info.filename
                if name not in MEMBERS:
                    raise ModelFileError(
                        f"'{path}' holds an unexpected entry {name!r}; a gradkit model file "
                        f"contains only {', '.join(MEMBERS)}. Refusing to load it")
                if names.count(name) > 1:
                    raise ModelFileError(f"'{path}' holds {name!r} twice; refusing to load it")
                _check_member_size(info, path, size)
            for info in infos:
                out[info.filename] = read_member(z, info, path, size)
    except zipfile.BadZipFile as e:
        raise ModelFileError(f"'{path}' is a damaged zip archive ({e})") from None
    for need in ("metadata.json", "config.json", "model.safetensors"):
        if need not in out:
            raise ModelFileError(f"'{path}' lacks {need}; it is not a complete gradkit model")
    try:
        meta = json.loads(out["metadata.json"])
        config = json.loads(out["config.json"])
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ModelFileError(f"'{path}': corrupt JSON ({e})") from None
    except RecursionError:
        raise ModelFileError(f"'{path}': JSON nested too deeply to be a model "
                             "description") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ModelFileError(f"'{path}' is not a gradkit model (metadata format "
                             f"{meta.get('format') if isinstance(meta, dict) else meta!r})")
    version = meta.get("format_version", 0)
    if isinstance(version, bool) or not isinstance(version, int):
        raise ModelFileError(f"'{path}': metadata format_version must be an integer, found "
                             f"{version!r}")
    if version > FORMAT_VERSION:
        raise ModelFileError(f"'{path}' was written by a newer gradkit (format "
                             f"{meta['format_version']}); upgrade gradkit to load it")
    if not isinstance(config, dict) or not isinstance(config.get("model"), dict):
        raise ModelFileError(f"'{path}': config.json lacks the model architecture")
    return meta, config, out


def _check_member_size(info, path, size):
    limit = MAX_JSON if info.filename.endswith(".json") else MAX_TENSORS
    if info.file_size > limit or info.file_size > size * MAX_RATIO + 1024:
        raise ModelFileError(
            f"'{path}': entry {info.filename!r} claims {info.file_size:,} bytes for a "
            f"{size:,}-byte file; refusing it (corrupt or a decompression bomb)")


def read_member(z, info, path, size):
    """The bytes of zip entry ``info`` of the ``size``-byte archive ``path``, its declared
    size checked against the limits first and against what it really holds after."""
    _check_member_size(info, path, size)
    with z.open(info) as f:
        data = f.read(info.file_size + 1)
    if len(data) != info.file_size:
        raise ModelFileError(f"'{path}': entry {info.filename!r} does not match its "
                             "declared size")
    return data


def _assign_weights(model, arrays, keys, path):
    """Check every weight's presence and shape first, then assign them all."""
    ws = model.weights
    for key, w in zip(keys, ws):  # the first difference, layer by layer
        if key not in arrays:
            raise ModelFileError(f"'{path}' lacks weight '{key}'")
        a = arrays[key]
        if a.shape != w.shape:
            layer = (w.name or "").split("/")[0]
            raise ModelFileError(
                f"weight mismatch at layer '{layer}': '{w.name}' has shape {w.shape} in the "
                f"model but '{key}' has shape {a.shape} in '{path}'; the architectures differ")
        if a.dtype.kind != w.dtype.kind:
            raise ModelFileError(f"'{path}': weight '{key}' has dtype {a.dtype}, the model's "
                                 f"'{w.name}' has {w.dtype}")
    if len(keys) != len(ws):
        extra = ws[len(keys)] if len(ws) > len(keys) else None
        where = (f"; the model's '{extra.name}' has no counterpart" if extra is not None
                 else f"; the file's '{keys[len(ws)]}' has no place in the model")
        raise ModelFileError(f"'{path}' holds {len(keys)} weights, the model has {len(ws)}"
                             f"{where}: the architectures differ")
    for key, w in zip(keys, ws):
        w.assign(arrays[key].astype(w.dtype, copy=False))


def _parse_weights(payload, path):
    try:
        arrays, meta = st.loads(payload, what=f"'{path}'")
    except st.SafetensorsError as e:
        raise ModelFileError(str(e)) from None
    try:
        order = json.loads(meta.get("order", "null"))
    except json.JSONDecodeError:
        order = None
    if not (isinstance(order, list) and all(isinstance(k, str) for k in order)):
        order = list(arrays)
    return arrays, order


def load_weights(model, filepath):
    """Load weights from a weights file or a model file into ``model``.

    Raises:
        ModelFileError: the file is not one gradkit can load safely (the message names
            it and says why). FileNotFoundError: there is no such file.
    """
    path = os.fspath(filepath)
    with _as_model_file_error(path):
        _load_weights(model, path)


def _load_weights(model, path):
    _check_regular(path)
    with open(path, "rb") as f:
        head = f.read(64)
    _sniff(path, head)
    if zipfile.is_zipfile(path):
        _, config, members = _read_archive(path)
        payload = members["model.safetensors"]
    else:
        size = os.path.getsize(path)
        if size > MAX_TENSORS:
            raise ModelFileError(f"'{path}' is {size:,} bytes; larger than gradkit loads")
        with open(path, "rb") as f:
            payload = f.read()
    arrays, keys = _parse_weights(payload, path)
    if not model.built:
        raise ValueError(f"{type(model).__name__} '{model.name}' is not built; build it (or "
                         "call it on data) before load_weights so its weights exist")
    _assign_weights(model, arrays, keys, path)


def load_model(filepath, custom_objects=None, compile=True):  # noqa: A002
    """Rebuild a model saved with ``model.save``: architecture, weights, optimizer state.

    Only classes and functions registered with gradkit (or given in
    ``custom_objects``) are instantiated or called, for layers and for the
    losses, metrics, optimizers, schedules, initializers, regularizers and
    activations they use; nothing in the file is imported or executed. Building
    the model allocates only the weights the file holds. When the file's
    optimizer state is restored (``compile=True``: resuming training), the random
    state saved with it is restored too (after validation), so resumed training
    continues exactly; ``compile=False`` leaves the process's generator alone.

    Raises:
        ModelFileError: anything wrong with the file, naming it and what is wrong.
        FileNotFoundError: there is no file at ``filepath``.
    """
    path = os.fspath(filepath)
    with _as_model_file_error(path):
        return _load_model(path, custom_objects, compile)


@contextlib.contextmanager
def _as_model_file_error(path):
    """Any failure while reading a model file becomes a ModelFileError naming it (a missing
    file stays FileNotFoundError, a deliberate ModelFileError passes through)."""
    try:
        yield
    except (ModelFileError, FileNotFoundError, KeyboardInterrupt, MemoryError):
        raise
    except RecursionError:
        raise ModelFileError(f"'{path}': the model description is nested too deeply") from None
    except Exception as e:  # zlib.error, struct.error, NumPy errors, a bad config value...
        raise ModelFileError(f"'{path}' can't be loaded: {type(e).__name__}: {e}") from e


def _load_model(path, custom_objects, compile):  # noqa: A002
    from gradkit import random as R
    from gradkit.layers import deserialize
    from gradkit.models.keras_archive import is_keras_archive, load_keras_archive

    _check_regular(path)  # before anything opens it: a FIFO would block, /dev/zero not end
    if is_keras_archive(path):  # a Keras 3 .keras file, told apart by content
        with custom_object_scope(custom_objects):
            return load_keras_archive(path)
    meta, config, members = _read_archive(path)
    arrays, _ = _parse_weights(members["model.safetensors"], path)
    keys = config.get("weights")
    if not (isinstance(keys, list) and all(isinstance(k, str) for k in keys)):
        raise ModelFileError(f"'{path}': config.json lacks the list of weights")
    rng_state = _check_rng_state(meta.get("rng_state"), path)
    # custom_objects stay in scope until the model is built and compiled: a layer
    # resolves its initializers and regularizers when it builds. Building may create
    # only the weights model.safetensors holds (weight_budget), so a crafted config
    # can't allocate more than the file.
    with custom_object_scope(custom_objects), \
            weight_budget.only_these([a.shape for a in arrays.values()], path):
        try:
            model = _deserialize_model(config["model"], custom_objects, deserialize)
        except (KeyError, TypeError) as e:
            raise ModelFileError(f"'{path}': invalid model config ({e})") from None
        if not model.built:
            shape = config.get("build_input_shape") or \
                config["model"].get("config", {}).get("build_input_shape")
            if shape is None:
                raise ModelFileError(f"'{path}': the model's input shape is unknown, so its "
                                     "weights can't be created")
            model.build(_shape_from_json(shape))
    with custom_object_scope(custom_objects):
        _assign_weights(model, arrays, keys, path)
        comp = config.get("compile")
        resumed = False
        if compile and comp:
            _compile_from_config(model, comp)
            if "optimizer.safetensors" in members:
                _load_optimizer(model, members["optimizer.safetensors"], path)
                resumed = True
    if resumed and rng_state is not None:  # resuming training: continue the same stream
        R.set_state(rng_state)
    return model


_UINT128 = 2 ** 128


def _check_rng_state(state, path):
    """The saved generator state, checked field by field (None when absent).

    A state from a file decides every later random draw of the process (initial
    weights, dropout masks, shuffling): it must be a PCG64 state with a 128-bit state,
    an odd 128-bit increment (an even one can make every draw 0) and a valid buffer.
    """
    from gradkit import random as R

    if state is None:
        return None
    kind = type(R.generator().bit_generator).__name__
    ok = isinstance(state, dict) and state.get("bit_generator") == kind and \
        isinstance(state.get("state"), dict) and set(state) == \
        {"bit_generator", "state", "has_uint32", "uinteger"}
    inner = state.get("state") if ok else None
    if ok:
        ok = set(inner) == {"state", "inc"} and all(
            _is_int(inner[k]) and 0 <= inner[k] < _UINT128 for k in ("state", "inc")) and \
            inner["inc"] % 2 == 1 and state["has_uint32"] in (0, 1) and \
            _is_int(state["has_uint32"]) and _is_int(state["uinteger"]) and \
            0 <= state["uinteger"] < 2 ** 32
    if not ok:
        raise ModelFileError(f"'{path}': metadata rng_state is not a valid {kind} generator "
                             "state (a 128-bit state, an odd 128-bit inc, has_uint32 0/1, a "
                             "32-bit uinteger); re-save the model or remove rng_state")
    return state


def _is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def _deserialize_model(spec, custom_objects, deserialize):
    from gradkit.models.functional import Functional
    from gradkit.models.sequential import Sequential

    builtin = {"Sequential": Sequential, "Functional": Functional}
    if isinstance(spec, dict) and spec.get("class_name") in builtin \
            and isinstance(spec.get("config"), dict):
        return builtin[spec["class_name"]].from_config(dict(spec["config"]),
                                                        custom_objects=custom_objects)
    return deserialize(spec, custom_objects=custom_objects)


def _compile_from_config(model, comp):
    """Compile ``model`` as saved: ``model.compile`` sends every name and config through
    its kind's registry (``optimizers.get``, ``losses.get``, ``metrics.get``), which see the
    ``custom_objects`` of :func:`load_model`'s scope."""
    from gradkit import losses

    loss = comp.get("loss")
    if isinstance(loss, dict) and "class_name" in loss:  # one loss, not one per output
        loss = losses.get(loss)
    model.compile(optimizer=comp.get("optimizer"), loss=loss, metrics=comp.get("metrics") or [],
                  loss_weights=comp.get("loss_weights"),
                  weighted_metrics=comp.get("weighted_metrics") or None)


def _load_optimizer(model, payload, path):
    try:
        arrays, meta = st.loads(payload, what=f"'{path}' (optimizer)")
        index = json.loads(meta.get("index", "{}"))
        extra = json.loads(meta.get("meta", "{}"))
    except (st.SafetensorsError, json.JSONDecodeError) as e:
        raise ModelFileError(f"'{path}': corrupt optimizer state ({e})") from None
    if not isinstance(index, dict) or not isinstance(extra, dict):
        raise ModelFileError(f"'{path}': optimizer state index/meta must be JSON objects")
    iterations = extra.get("iterations", 0)
    if not _is_int(iterations) or not 0 <= iterations <= 2 ** 53:
        raise ModelFileError(f"'{path}': optimizer step count must be an integer in "
                             f"[0, 2**53], found {iterations!r}")
    if not isinstance(extra.get("extra", {}), dict):
        raise ModelFileError(f"'{path}': optimizer 'extra' state must be a JSON object")
    params = model.trainable_weights
    state = {}
    for key, arr in arrays.items():
        entry = index.get(key)
        if not (isinstance(entry, list) and len(entry) == 2 and _is_int(entry[0])
                and isinstance(entry[1], str)):
            raise ModelFileError(f"'{path}': optimizer entry '{key}' is not indexed")
        pi, slot = entry
        if not 0 <= pi < len(params):
            raise ModelFileError(f"'{path}': optimizer entry '{key}' is for parameter {pi}; "
                                 f"the model has {len(params)}")
        if slot == "step":  # a PyTorch-rule optimizer's per-parameter step count
            if arr.shape != () or arr.dtype.kind != "f" or not (
                    0 <= float(arr) <= 2 ** 53 and float(arr).is_integer()):
                raise ModelFileError(f"'{path}': optimizer entry '{key}' (a step count) must "
                                     f"be one whole number in [0, 2**53], found {arr.dtype} "
                                     f"{arr.shape}")
        elif arr.dtype.kind != "f" or arr.shape != tuple(params[pi].shape):
            raise ModelFileError(f"'{path}': optimizer entry '{key}' is {arr.dtype} "
                                 f"{arr.shape}, parameter {pi} is float {params[pi].shape}")
        state.setdefault(pi, {})[slot] = arr
    model.optimizer.build(params)
    try:
        model.optimizer.load_state_dict(dict(extra, state=state))
    except (ValueError, TypeError, KeyError) as e:
        raise ModelFileError(f"'{path}': invalid optimizer state ({e})") from None
