"""Keras 3 ``.keras`` files, read and written: the models Keras itself saves and loads.

A ``.keras`` file is a zip of ``metadata.json`` (``keras_version``...),
``config.json`` (the model: ``Sequential`` or ``Functional``, each layer as
``{"class_name", "config", "build_config", "inbound_nodes"}``) and
``model.weights.h5`` (each layer's variables under ``layers/<key>/vars/<i>``,
``<key>`` the snake-cased class name made unique in layer order; recurrent
layers keep theirs under ``layers/<key>/cell/vars``).

Reading maps each Keras layer onto the gradkit layer of the same class name
(the configs share Keras's vocabulary); a Keras-only setting with a value other
than its no-op default (a constraint, recurrent dropout, ``groups=2``...) is
refused naming the layer and the setting, never dropped. Weights come from the
HDF5 file through :mod:`gradkit.models.hdf5` (limits, no links). Nothing
named in the file is imported: layers resolve through gradkit's registry.

Writing produces the same structure, so ``keras.saving.load_model`` loads a
gradkit Sequential or functional model of the layers in :data:`KERAS_NAMES`.

``gradkit.models.load_model`` calls :func:`load_keras_archive` when a zip holds
``model.weights.h5`` (by content, whatever the file is called);
``model.save(path, format="keras")`` calls :func:`save_keras_archive`.
"""

from __future__ import annotations

import inspect
import io
import json
import re
import zipfile

from gradkit.models.saving import ModelFileError, read_member
from gradkit.models.weight_plan import assign_planned, plan_layer_weights
from gradkit.utils.optional import require

__all__ = ["KERAS_FORMAT_VERSION", "is_keras_archive", "load_keras_archive",
           "save_keras_archive"]

KERAS_FORMAT_VERSION = "3.5.0"  # the keras_version written: the .keras layout gradkit follows
MEMBERS = ("metadata.json", "config.json", "model.weights.h5")

# Keras settings gradkit has no argument for: accepted when they hold the value
# that makes them do nothing (or, for "seed" and friends, when they are unused).
_NO_OP = {"kernel_constraint": None, "bias_constraint": None, "recurrent_constraint": None,
          "beta_constraint": None, "gamma_constraint": None, "embeddings_constraint": None,
          "activity_regularizer": None, "quantization_config": None, "lora_rank": None,
          "groups": 1, "dropout": 0.0, "recurrent_dropout": 0.0, "unroll": False,
          "stateful": False, "renorm": False, "synchronized": False, "rms_scaling": False,
          "mask_zero": False, "sparse": False, "ragged": False, "optional": False,
          "data_format": "channels_last", "use_cudnn": "auto", "input_length": None}
_UNUSED = {"seed": ("dropout", "recurrent_dropout"),  # RNN dropout seed: unused without dropout
           "renorm_clipping": ("renorm",), "renorm_momentum": ("renorm",),
           "zero_output_for_mask": ("mask_zero",), "lora_alpha": ("lora_rank",)}
_KERAS_FROM_GRADKIT = {"Linear": "Dense"}  # gradkit class -> Keras class written


def _snake(name):
    """Keras's ``to_snake_case`` (the weight-file keys use it)."""
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()


def _natural(path):
    return [int(p) if p.isdigit() else p for p in re.split(r"(\d+)", path)]


def _keys(class_names):
    """The weight-file key of each layer: snake-cased class name, numbered in order."""
    counts, out = {}, []
    for cls in class_names:
        base = _snake(cls)
        n = counts.get(base, 0)
        counts[base] = n + 1
        out.append(base if n == 0 else f"{base}_{n}")
    return out


# ------------------------------------------------------------------ detecting and reading
def is_keras_archive(path):
    """Whether ``path`` is a zip holding a Keras 3 model (``model.weights.h5``)."""
    try:
        with zipfile.ZipFile(path) as z:
            return "model.weights.h5" in z.namelist()
    except (zipfile.BadZipFile, OSError):
        return False


def _read_members(path):
    import os

    size = os.path.getsize(path)
    out = {}
    try:
        with zipfile.ZipFile(path) as z:
            for info in z.infolist():
                if info.filename not in MEMBERS:
                    continue  # assets/ and the like: never read
                out[info.filename] = read_member(z, info, path, size)
    except zipfile.BadZipFile as e:
        raise ModelFileError(f"'{path}' is a damaged zip archive ({e})") from None
    for need in MEMBERS[1:]:
        if need not in out:
            raise ModelFileError(f"'{path}' lacks {need}; it is not a complete Keras model")
    try:
        config = json.loads(out["config.json"])
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ModelFileError(f"'{path}': corrupt config.json ({e})") from None
    if not isinstance(config, dict) or not isinstance(config.get("config"), dict):
        raise ModelFileError(f"'{path}': config.json is not a Keras model config")
    return config, out["model.weights.h5"]


def _dtype_name(value, who):
    if isinstance(value, dict):  # a DTypePolicy
        value = (value.get("config") or {}).get("name")
    if value is None or value == "float32":
        return None
    if not isinstance(value, str) or value.startswith("mixed_"):
        raise NotImplementedError(f"{who}: dtype policy {value!r} is not supported; gradkit "
                                  "loads float32/float64 layers")
    return value


def _object_arg(value, kind, who, key):
    """A Keras initializer/regularizer config as gradkit's registry takes it."""
    if not isinstance(value, dict):
        return value
    import importlib

    registry = importlib.import_module(f"gradkit.{kind}")
    spec = {"class_name": value.get("class_name"), "config": dict(value.get("config") or {})}
    for attempt in (spec, {**spec, "config": {k: v for k, v in spec["config"].items()
                                             if v is not None}}):
        try:
            registry.get(attempt)
            return attempt
        except (TypeError, ValueError):
            continue
    raise NotImplementedError(f"{who}: {key}={value.get('class_name')!r} with config "
                              f"{value.get('config')} has no gradkit counterpart")


def _accepted(cls):
    """The keyword arguments ``cls(...)`` takes (its own and the base Layer's)."""
    from gradkit.layers.base import Layer

    names = set()
    for c in (cls, Layer):
        names |= {p for p in inspect.signature(c.__init__).parameters if p != "self"}
    return names


def _gradkit_layer(spec, where):
    """A gradkit layer from one Keras layer entry of config.json."""
    from gradkit.layers import get_registered_object

    cls_name = spec.get("class_name")
    config = dict(spec.get("config") or {})
    who = f"Keras layer {cls_name} '{config.get('name')}' ({where})"
    cls = get_registered_object(cls_name) if cls_name in KERAS_NAMES else None
    if cls is None:
        raise ModelFileError(f"{who} has no gradkit counterpart; gradkit loads the layers "
                             f"{', '.join(sorted(KERAS_NAMES))}")
    accepted = _accepted(cls)
    kwargs = {}
    for key, value in config.items():
        if key == "dtype":
            value = _dtype_name(value, who)
            if value is not None:
                kwargs["dtype"] = value
        elif key in accepted:
            if key.endswith("_initializer"):
                value = _object_arg(value, "initializers", who, key)
            elif key.endswith("_regularizer"):
                value = _object_arg(value, "regularizers", who, key)
            if isinstance(value, dict) and key in ("activation", "recurrent_activation"):
                raise NotImplementedError(f"{who}: custom {key} {value} is not supported")
            kwargs[key] = value
        elif key in _UNUSED and not any(config.get(k) for k in _UNUSED[key]):
            continue
        elif key in _NO_OP and value == _NO_OP[key]:
            continue
        else:
            raise NotImplementedError(f"{who}: setting {key}={value!r} has no gradkit "
                                      "counterpart; rebuild the layer without it in Keras")
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as e:
        raise ModelFileError(f"{who}: gradkit could not build it from its config ({e})") \
            from None


def _input_spec(spec, where):
    config = spec.get("config") or {}
    shape = config.get("batch_shape") or config.get("batch_input_shape")
    if not isinstance(shape, list):
        raise ModelFileError(f"{where}: InputLayer '{config.get('name')}' has no batch_shape")
    return shape, config.get("dtype") or "float32", config.get("name")


def _build_sequential(config, where):
    from gradkit.models.functional import Input
    from gradkit.models.sequential import Sequential

    model = Sequential(name=config.get("name"))
    order = []
    for i, spec in enumerate(config.get("layers") or []):
        if spec.get("class_name") == "InputLayer":
            shape, dtype, name = _input_spec(spec, where)
            model.add(Input(batch_shape=tuple(shape), dtype=dtype, name=name))
            continue
        layer = _gradkit_layer(spec, f"{where}, layer {i}")
        model.add(layer)
        order.append((layer, spec))
    if not model.built:
        shape = config.get("build_input_shape") or \
            (order[0][1].get("build_config") or {}).get("input_shape") if order else None
        if shape is None:
            raise ModelFileError(f"{where}: the Sequential model's input shape is unknown")
        model.build(tuple(shape))
    return model, order


def _history(arg, where):
    if not (isinstance(arg, dict) and arg.get("class_name") == "__keras_tensor__"):
        raise NotImplementedError(f"{where}: a layer call argument {str(arg)[:80]} is not a "
                                  "Keras tensor; only layer-to-layer graphs are supported")
    hist = (arg.get("config") or {}).get("keras_history")
    if not (isinstance(hist, list) and len(hist) == 3):
        raise ModelFileError(f"{where}: a tensor without keras_history")
    return tuple(hist)


def _build_functional(config, where):
    from gradkit.models.functional import Functional, Input

    tensors, order, pending = {}, [], list(config.get("layers") or [])
    inputs_made = {}
    for spec in pending:
        if spec.get("class_name") == "InputLayer":
            shape, dtype, name = _input_spec(spec, where)
            t = Input(batch_shape=tuple(shape), dtype=dtype, name=name)
            tensors[(name, 0, 0)] = t
            inputs_made[name] = t
    layers = [s for s in pending if s.get("class_name") != "InputLayer"]
    built = {}
    progress = True
    while layers and progress:  # place each layer once its inputs exist
        progress, rest = False, []
        for spec in layers:
            name = (spec.get("config") or {}).get("name") or spec.get("name")
            nodes = spec.get("inbound_nodes") or []
            done = built.get(name, 0)
            layer = None
            for k, node in enumerate(nodes[done:], done):
                args = node.get("args") or []
                used = {k: v for k, v in (node.get("kwargs") or {}).items() if v is not None}
                if used:  # mask=None and the like are Keras's defaults
                    raise NotImplementedError(f"{where}: layer '{name}' is called with "
                                              f"{used}; not supported")
                arg = args[0] if len(args) == 1 else args
                flat = arg if isinstance(arg, list) else [arg]
                keys = [_history(a, f"{where}, layer '{name}'") for a in flat]
                if not all(key in tensors for key in keys):
                    break
                if layer is None:
                    layer = next((la for la, s in order if s is spec), None) or \
                        _gradkit_layer(spec, where)
                    if all(la is not layer for la, _ in order):
                        order.append((layer, spec))
                xs = [tensors[key] for key in keys]
                tensors[(name, k, 0)] = layer(xs if isinstance(arg, list) else xs[0])
                built[name] = k + 1
                progress = True
            if built.get(name, 0) < len(nodes):
                rest.append(spec)
        layers = rest
    if layers:
        raise ModelFileError(f"{where}: layers {[s.get('name') for s in layers][:5]} depend on "
                             "tensors no layer makes (or on each other in a cycle)")

    def refs(value):
        value = value or []
        if value and not isinstance(value[0], list):
            value = [value]
        return [tensors[tuple(v)] for v in value if tuple(v) in tensors]

    ins, outs = refs(config.get("input_layers")), refs(config.get("output_layers"))
    if not ins or not outs:
        raise ModelFileError(f"{where}: input_layers/output_layers name unknown tensors")
    multi_out = isinstance((config.get("output_layers") or [None])[0], list) and len(outs) > 1
    model = Functional(ins if len(ins) > 1 else ins[0], outs if multi_out else outs[0],
                       name=config.get("name"))
    return model, order


def _assign(order, config, with_inputs, datasets, groups, where):
    """Each layer's weights from its ``layers/<key>`` group: found by the name its ``vars``
    group carries, else by the key Keras derives from the layer's place in ``config``."""
    by_name = {}
    for path, attrs in groups.items():
        parts = path.split("/")
        if len(parts) == 3 and parts[0] == "layers" and parts[2] == "vars" and "name" in attrs:
            by_name[attrs["name"]] = "/".join(parts[:2])
    listed = [s for s in config.get("layers") or []
              if with_inputs or s.get("class_name") != "InputLayer"]
    key_of = dict(zip([(s.get("config") or {}).get("name") for s in listed],
                      _keys([s.get("class_name") for s in listed])))
    planned = []
    for layer, _ in order:
        prefix = by_name.get(layer.name, f"layers/{key_of.get(layer.name)}") + "/"
        arrays = [a for p, a in sorted(datasets.items(), key=lambda kv: _natural(kv[0]))
                  if p.startswith(prefix) and "/vars/" in p[len(prefix) - 1:]]
        planned += plan_layer_weights(layer, arrays, f"the weight file's '{prefix}'")
    assign_planned(planned)


def load_keras_archive(path):
    """A gradkit model from a ``.keras`` file written by Keras 3 (or by gradkit).

    Args:
        path: the ``.keras`` zip.

    Returns:
        A gradkit ``Sequential`` or functional ``Model`` with the file's weights
        (not compiled: Keras's compile settings name Keras objects).

    Raises:
        ModelFileError: a malformed or crafted file, a layer gradkit lacks.
        NotImplementedError: a Keras setting gradkit lacks (named with its layer).
        ImportError: h5py is missing (``pip install 'gradkit[keras]'``).
    """
    import os

    from gradkit.models.hdf5 import HDF5Error, read_datasets

    path = os.fspath(path)
    spec, weights = _read_members(path)
    where = f"'{path}'"
    try:
        datasets, groups = read_datasets(weights, f"{where} (model.weights.h5)")
    except HDF5Error as e:
        raise ModelFileError(str(e)) from None
    kind, config = spec.get("class_name"), spec["config"]
    if kind == "Sequential":
        model, order = _build_sequential(config, where)
    elif kind in ("Functional", "Model") and "layers" in config:
        model, order = _build_functional(config, where)
    else:
        raise ModelFileError(f"{where}: a {kind!r} model; gradkit reads Keras Sequential and "
                             "functional models (a subclassed model's code is not in the file)")
    _assign(order, config, kind != "Sequential", datasets, groups, where)
    return model


# ------------------------------------------------------------------ writing
def _keras_class(layer):
    from gradkit.layers import activation as A

    name = type(layer).__name__
    if isinstance(layer, A.GELU):
        if layer.approximate:
            raise NotImplementedError(f"GELU '{layer.name}': Keras's Activation('gelu') is the "
                                      "exact form; approximate=True has no Keras layer")
        return "Activation", {"activation": "gelu"}
    if isinstance(layer, (A.Sigmoid, A.Tanh)):
        return "Activation", {"activation": name.lower()}
    return _KERAS_FROM_GRADKIT.get(name, name), None


def _keras_config(layer, input_shape):
    cls, override = _keras_class(layer)
    if cls not in KERAS_NAMES and override is None:
        raise NotImplementedError(f"{type(layer).__name__} '{layer.name}' has no Keras "
                                  f"counterpart gradkit can write; Keras layers written: "
                                  f"{', '.join(sorted(KERAS_NAMES))}")
    config = layer.get_config()
    config.pop("input_shape", None)
    if type(layer).__name__ == "Linear":
        config = {k: v for k, v in config.items() if k not in ("in_features", "out_features",
                                                               "bias")}
        config.update(units=layer.units, use_bias=layer.use_bias)
    if override is not None:
        config = {"name": layer.name, "trainable": layer.trainable, **override}
    config.setdefault("dtype", layer.dtype.name)
    return {"module": "keras.layers", "class_name": cls, "config": config,
            "registered_name": None,
            "build_config": {"input_shape": _json_shape(input_shape)}}


def _json_shape(shape):
    if isinstance(shape, list):
        return [_json_shape(s) for s in shape]
    return [None if d is None else int(d) for d in shape]


def _tensor_ref(t, producers):
    layer_name, k = producers[id(t)]
    return {"class_name": "__keras_tensor__",
            "config": {"shape": _json_shape(t.shape), "dtype": t.dtype.name,
                       "keras_history": [layer_name, k, 0]}}


def _functional_config(model):
    layers, order, producers, calls = [], [], {}, {}
    names = []
    for t in model.inputs:
        name = t.name or "input_layer"
        while name in names:
            name += "_"
        names.append(name)
        producers[id(t)] = (name, 0)
        layers.append({"module": "keras.layers", "class_name": "InputLayer",
                       "config": {"batch_shape": _json_shape(t.shape), "dtype": t.dtype.name,
                                  "sparse": False, "name": name},
                       "registered_name": None, "name": name, "inbound_nodes": []})
    entry = {}
    for node in model._nodes:
        layer = node.layer
        if node.kwargs and set(node.kwargs) != {"training"}:
            raise NotImplementedError(f"{type(layer).__name__} '{layer.name}' is called with "
                                      f"{sorted(node.kwargs)}; not writable as Keras")
        ins = node.flat_inputs
        shape = [t.shape for t in ins] if isinstance(node.inputs, (list, tuple)) \
            else node.inputs.shape
        if id(layer) not in entry:
            spec = _keras_config(layer, shape)
            spec.update(name=layer.name, inbound_nodes=[])
            entry[id(layer)] = spec
            layers.append(spec)
            order.append(layer)
        refs = [_tensor_ref(t, producers) for t in ins]
        arg = refs if isinstance(node.inputs, (list, tuple)) else refs[0]
        entry[id(layer)]["inbound_nodes"].append({"args": [arg], "kwargs": {}})
        k = calls.get(id(layer), 0)
        calls[id(layer)] = k + 1
        producers[id(node.outputs)] = (layer.name, k)

    def refs(ts):
        out = [[*producers[id(t)], 0] for t in ts]
        return out[0] if len(out) == 1 else out

    config = {"name": model.name, "trainable": model.trainable, "layers": layers,
              "input_layers": refs(model.inputs), "output_layers": refs(model.outputs)}
    spec = {"module": "keras.src.models.functional", "class_name": "Functional",
            "config": config, "registered_name": "Functional",
            "build_config": {"input_shape": None}, "compile_config": None}
    return spec, order


def _sequential_config(model):
    shape = tuple(model._build_input_shape)
    layers = [{"module": "keras.layers", "class_name": "InputLayer",
               "config": {"batch_shape": _json_shape(shape), "dtype": model.dtype.name,
                          "sparse": False, "name": "input_layer"},
               "registered_name": None}]
    order = []
    for layer in model.layers:
        layers.append(_keras_config(layer, shape))
        order.append(layer)
        shape = layer.compute_output_shape(shape)
    config = {"name": model.name, "trainable": model.trainable, "layers": layers,
              "build_input_shape": _json_shape(model._build_input_shape)}
    spec = {"module": "keras", "class_name": "Sequential", "config": config,
            "registered_name": None,
            "build_config": {"input_shape": _json_shape(model._build_input_shape)},
            "compile_config": None}
    return spec, order


def _weights_h5(h5py, model, order, spec, with_input_layers):
    buf = io.BytesIO()
    with h5py.File(buf, "w") as f:
        f.create_group("vars").attrs["name"] = model.name
        top = f.create_group("layers")
        written = []
        if with_input_layers:  # Keras's functional models list their InputLayers too
            written = [s for s in spec["config"]["layers"] if s["class_name"] == "InputLayer"]
        classes = [s["class_name"] for s in written]
        entries = [(None, s) for s in written]
        for layer in order:
            cls, _ = _keras_class(layer)
            classes.append(cls)
            entries.append((layer, None))
        for key, (layer, s) in zip(_keys(classes), entries):
            g = top.create_group(key)
            own = g.create_group("vars")
            own.attrs["name"] = layer.name if layer is not None else s["config"]["name"]
            if layer is None:
                continue
            from gradkit.layers.recurrent import _RNN

            if isinstance(layer, _RNN):  # Keras keeps them on the layer's cell
                own = g.create_group("cell").create_group("vars")
                own.attrs["name"] = f"{_snake(type(layer).__name__)}_cell"
            for i, w in enumerate(layer._weights):
                own.create_dataset(str(i), data=w.numpy())
    return buf.getvalue()


def save_keras_archive(model, filepath):
    """Write ``model`` as a Keras 3 ``.keras`` file (atomically).

    Args:
        model: a built gradkit ``Sequential`` or functional model made of layers
            with a Keras counterpart (:data:`KERAS_NAMES`).
        filepath: the file to write.

    Raises:
        NotImplementedError: a subclassed model (Keras could not rebuild its code),
            or a layer/setting without a Keras counterpart (named).
        ImportError: h5py is missing (``pip install 'gradkit[keras]'``).

    Example::

        model.save("model.keras", format="keras")
        # in Keras 3: keras.saving.load_model("model.keras")
    """
    import datetime

    from gradkit.models.functional import Functional
    from gradkit.models.saving import atomic_write
    from gradkit.models.sequential import Sequential

    h5py = require("h5py", "keras", "Writing Keras files")
    if not model.built:
        raise ValueError(f"{type(model).__name__} '{model.name}' is not built (it has no "
                         "weights yet): build it or train it before saving")
    if type(model) is Sequential:
        spec, order = _sequential_config(model)
        with_inputs = False
    elif type(model) is Functional:
        spec, order = _functional_config(model)
        with_inputs = True
    else:
        raise NotImplementedError(f"{type(model).__name__} '{model.name}': Keras files hold "
                                  "Sequential and functional models (Keras would need the "
                                  "subclass's code); build it with Model(inputs, outputs)")
    weights = _weights_h5(h5py, model, order, spec, with_inputs)
    meta = {"keras_version": KERAS_FORMAT_VERSION,
            "date_saved": datetime.datetime.now().strftime("%Y-%m-%d@%H:%M:%S")}
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
        z.writestr("metadata.json", json.dumps(meta))
        z.writestr("config.json", json.dumps(spec))
        z.writestr("model.weights.h5", weights)
    atomic_write(filepath, buf.getvalue())


KERAS_NAMES = frozenset({
    "Dense", "Activation", "Dropout", "Flatten", "Reshape", "Embedding", "Identity",
    "ReLU", "LeakyReLU", "ELU", "Softmax", "BatchNormalization", "LayerNormalization",
    "Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum", "Concatenate",
    "Conv1D", "Conv2D", "MaxPooling2D", "AveragePooling2D", "GlobalAveragePooling2D",
    "GlobalMaxPooling2D", "SimpleRNN", "LSTM", "GRU"})
"""The Keras layer classes gradkit reads and writes (one gradkit class each)."""
