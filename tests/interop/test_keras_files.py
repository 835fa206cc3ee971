"""Keras 3 .keras files: Keras -> gradkit and gradkit -> Keras, predictions equal to 1e-5;
crafted archives and HDF5 files refused before allocation."""

import io
import json
import os
import zipfile

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "torch")
h5py = pytest.importorskip("h5py")
keras = pytest.importorskip("keras")

from gradkit import layers as L  # noqa: E402
from gradkit.models import Input, Model, ModelFileError, Sequential, load_model  # noqa: E402

pytestmark = [pytest.mark.filterwarnings("ignore::UserWarning"),
              pytest.mark.filterwarnings("ignore::DeprecationWarning")]  # Keras on torch
K = keras.layers


def rand(*shape, seed=0):
    return np.random.default_rng(seed).normal(size=shape).astype("float32")


def _randomize_keras(model, seed=0):
    rng = np.random.default_rng(seed)
    for v in model.weights:
        val = rng.normal(0, 0.5, tuple(v.shape)).astype("float32")
        if "variance" in v.path:
            val = np.abs(val) + 0.5
        v.assign(val)


def _randomize(model, seed=0):
    rng = np.random.default_rng(seed)
    for w in model.weights:
        val = rng.normal(0, 0.5, w.shape).astype(w.dtype)
        w.assign(np.abs(val) + 0.5 if "variance" in w.name else val)


KERAS_MODELS = {
    "mlp": lambda: keras.Sequential([
        keras.Input((10,)), K.Dense(16, activation="relu"), K.Dropout(0.2),
        K.BatchNormalization(), K.Dense(4, activation="softmax")]),
    "cnn": lambda: keras.Sequential([
        keras.Input((12, 12, 2)), K.Conv2D(4, 3, padding="same", activation="relu"),
        K.MaxPooling2D(2), K.Conv2D(6, 3, strides=2), K.LeakyReLU(0.1),
        K.AveragePooling2D(2, padding="same"), K.Flatten(), K.Dense(3)]),
    "text": lambda: keras.Sequential([
        keras.Input((6,), dtype="int32"), K.Embedding(20, 5), K.LSTM(4, return_sequences=True),
        K.GRU(3, return_sequences=True), K.SimpleRNN(2), K.Dense(1, activation="sigmoid")]),
}


def _keras_functional():
    a = keras.Input((8,), name="a")
    b = keras.Input((8,), name="b")
    shared = K.Dense(5, activation="tanh")
    x = K.Add()([shared(a), shared(b)])
    y = K.Concatenate()([x, K.Dense(3)(a)])
    y = K.LayerNormalization()(y)
    z = K.Reshape((2, 4))(K.Dense(8, activation="elu")(y))
    z = K.Conv1D(3, 2, padding="causal")(z)
    out1 = K.Softmax()(K.Dense(2)(K.Flatten()(z)))
    out2 = K.Subtract()([K.Dense(2)(y), K.Dense(2)(x)])
    return keras.Model([a, b], [out1, out2])


def _inputs(model, n=4):
    xs = []
    for i, t in enumerate(model.inputs):
        shape = (n,) + tuple(t.shape[1:])
        if "int" in str(t.dtype):
            xs.append(np.random.default_rng(i).integers(0, 20, shape).astype("int32"))
        else:
            xs.append(rand(*shape, seed=i))
    return xs if len(xs) > 1 else xs[0]


def _same(a, b):
    a = a if isinstance(a, list) else [a]
    b = b if isinstance(b, list) else [b]
    assert len(a) == len(b)
    for x, y in zip(a, b):
        np.testing.assert_allclose(np.asarray(x), np.asarray(y), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("name", [*KERAS_MODELS, "functional"])
def test_keras_file_loads_in_gradkit(name, tmp_path):
    km = KERAS_MODELS[name]() if name != "functional" else _keras_functional()
    _randomize_keras(km)
    path = tmp_path / "m.keras"
    km.save(path)
    gm = load_model(path)
    x = _inputs(km)
    _same(gm.predict(x, verbose=0), km.predict(x, verbose=0))
    assert [w.shape for w in gm.weights] and gm.count_params() == km.count_params()


def _gradkit_models():
    inp = Input((8, 8, 3), name="image")
    x = L.Conv2D(4, 3, padding="same")(inp)
    x = L.BatchNormalization()(x)
    x = L.ReLU(max_value=6.0)(x)
    y = L.Conv2D(4, 3, padding="same", activation="relu")(x)
    x = L.Add()([x, y])
    x = L.GlobalAveragePooling2D()(x)
    x = L.GELU()(L.Dense(6)(x))
    functional = Model(inp, L.Dense(2, activation="softmax")(x))
    seq = Sequential([L.Dense(7, activation="relu", input_shape=(5,)), L.Sigmoid(),
                      L.Linear(7, 4), L.Tanh(), L.ELU(0.5), L.Dense(2)])
    text = Sequential([L.Embedding(30, 4, input_shape=(5,)), L.GRU(3, return_sequences=True),
                       L.LSTM(2), L.Dense(1)])
    return {"functional": functional, "sequential": seq, "text": text}


@pytest.mark.parametrize("name", ["functional", "sequential", "text"])
def test_gradkit_model_loads_in_keras(name, tmp_path):
    model = _gradkit_models()[name]
    _randomize(model)
    path = tmp_path / "g.keras"
    model.save(path, format="keras")
    km = keras.saving.load_model(path)
    if name == "text":
        x = np.random.default_rng(0).integers(0, 30, (3, 5))
    else:
        x = rand(3, *model._build_input_shape[1:])
    _same(km.predict(x, verbose=0), model.predict(x, verbose=0))
    again = load_model(path)  # and gradkit reads its own Keras files
    _same(again.predict(x, verbose=0), model.predict(x, verbose=0))


def test_loader_tells_formats_apart_by_content(tmp_path):
    model = Sequential([L.Dense(2, input_shape=(3,))])
    model.save(tmp_path / "gradkit_format.keras")  # gradkit's own format, Keras's extension
    assert type(load_model(tmp_path / "gradkit_format.keras")).__name__ == "Sequential"
    km = KERAS_MODELS["mlp"]()
    km.save(tmp_path / "k.keras")
    os.replace(tmp_path / "k.keras", tmp_path / "renamed.bin")
    gm = load_model(tmp_path / "renamed.bin")
    _same(gm.predict(rand(2, 10), verbose=0), km.predict(rand(2, 10), verbose=0))


def test_save_keras_refusals(tmp_path):
    class Net(Model):
        def __init__(self):
            super().__init__()
            self.d = L.Dense(2)

        def call(self, x, training=None):
            return self.d(x)

    net = Net()
    net.build((None, 3))
    with pytest.raises(NotImplementedError, match="Sequential and functional"):
        net.save(tmp_path / "n.keras", format="keras")
    seq = Sequential([L.Dense(2, input_shape=(3,))])
    with pytest.raises(NotImplementedError, match="include_optimizer"):
        seq.save(tmp_path / "n.keras", format="keras", include_optimizer=True)
    with pytest.raises(ValueError, match="format"):
        seq.save(tmp_path / "n.keras", format="h5")


def test_unsupported_keras_setting_is_named(tmp_path):
    km = keras.Sequential([keras.Input((4,)), K.Dense(2, kernel_constraint="non_neg",
                                                       name="constrained")])
    km.save(tmp_path / "c.keras")
    # every failure to load a model file is a ModelFileError naming the file (issue 18);
    # the unsupported setting is named in it and is its cause
    from gradkit.models.saving import ModelFileError

    with pytest.raises(ModelFileError, match="c.keras.*'constrained'.*kernel_constraint") as e:
        load_model(tmp_path / "c.keras")
    assert isinstance(e.value.__cause__, NotImplementedError)


# ------------------------------------------------------------------ crafted files
@pytest.fixture
def keras_members(tmp_path):
    km = keras.Sequential([keras.Input((4,)), K.Dense(2, name="d")])
    km.save(tmp_path / "ok.keras")
    with zipfile.ZipFile(tmp_path / "ok.keras") as z:
        return {n: z.read(n) for n in z.namelist()}


def _archive(path, members, h5=None):
    with zipfile.ZipFile(path, "w") as z:
        for name, data in members.items():
            z.writestr(name, h5 if h5 is not None and name == "model.weights.h5" else data)
    return path


def _h5(build):
    buf = io.BytesIO()
    with h5py.File(buf, "w") as f:
        build(f)
    return buf.getvalue()


def _dense_group(f):
    g = f.create_group("layers/dense/vars")
    g.attrs["name"] = "d"
    return g


@pytest.mark.untrusted
def test_huge_dataset_shape_is_refused(tmp_path, keras_members):
    def build(f):
        _dense_group(f).create_dataset("0", shape=(1 << 20, 1 << 20), dtype="f4")
    p = _archive(tmp_path / "huge.keras", keras_members, _h5(build))
    with pytest.raises(ModelFileError, match=r"claims shape \(1048576, 1048576\)"):
        load_model(p)


@pytest.mark.untrusted
def test_external_link_is_refused(tmp_path, keras_members):
    def build(f):
        _dense_group(f)["0"] = h5py.ExternalLink("/etc/secret.h5", "/x")
    p = _archive(tmp_path / "link.keras", keras_members, _h5(build))
    with pytest.raises(ModelFileError, match="ExternalLink.*only plain groups and datasets"):
        load_model(p)


@pytest.mark.untrusted
def test_soft_link_is_refused(tmp_path, keras_members):
    def build(f):
        g = _dense_group(f)
        g.create_dataset("1", data=np.zeros(2, "f4"))
        g["0"] = h5py.SoftLink("/layers/dense/vars/1")
    p = _archive(tmp_path / "soft.keras", keras_members, _h5(build))
    with pytest.raises(ModelFileError, match="SoftLink"):
        load_model(p)


@pytest.mark.untrusted
def test_external_storage_and_virtual_datasets_are_refused(tmp_path, keras_members):
    (tmp_path / "raw.bin").write_bytes(b"\0" * 32)

    def external(f):
        _dense_group(f).create_dataset("0", shape=(4, 2), dtype="f4",
                                       external=[(str(tmp_path / "raw.bin"), 0, 32)])
    p = _archive(tmp_path / "ext.keras", keras_members, _h5(external))
    with pytest.raises(ModelFileError, match="external files"):
        load_model(p)

    def virtual(f):
        layout = h5py.VirtualLayout(shape=(4, 2), dtype="f4")
        layout[:] = h5py.VirtualSource(str(tmp_path / "other.h5"), "x", shape=(4, 2))
        _dense_group(f).create_virtual_dataset("0", layout)
    p = _archive(tmp_path / "vds.keras", keras_members, _h5(virtual))
    with pytest.raises(ModelFileError, match="virtual dataset"):
        load_model(p)


@pytest.mark.untrusted
def test_bad_archives_are_refused(tmp_path, keras_members):
    p = _archive(tmp_path / "junk.keras", keras_members, b"not hdf5 at all")
    with pytest.raises(ModelFileError, match="not a readable HDF5"):
        load_model(p)
    config = json.loads(keras_members["config.json"])
    config["config"]["layers"][1]["class_name"] = "TotallyCustom"
    p = _archive(tmp_path / "custom.keras", {**keras_members,
                                             "config.json": json.dumps(config)})
    with pytest.raises(ModelFileError, match="TotallyCustom.*no gradkit counterpart"):
        load_model(p)

    def wrong_shape(f):
        g = _dense_group(f)
        g.create_dataset("0", data=np.zeros((5, 2), "f4"))
        g.create_dataset("1", data=np.zeros(2, "f4"))
    p = _archive(tmp_path / "shape.keras", keras_members, _h5(wrong_shape))
    with pytest.raises(ModelFileError, match=r"shape \(4, 2\).*\(5, 2\)"):
        load_model(p)
