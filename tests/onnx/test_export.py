"""gradkit -> ONNX: onnx.checker passes and onnxruntime equals gradkit's predict (1e-5)."""

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

import gradkit as gk  # noqa: E402
import gradkit.onnx  # noqa: E402
from gradkit import layers as L  # noqa: E402
from gradkit.models import Input, Model, Sequential  # noqa: E402
from gradkit.onnx import ExportError  # noqa: E402


def _run(proto, feeds):
    sess = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    names = [i.name for i in sess.get_inputs()]
    return sess.run(None, dict(zip(names, feeds)))


def _randomize(model, seed=0):
    """Random non-trivial weights (moving variances positive), so zeros can't hide bugs."""
    rng = np.random.default_rng(seed)
    for w in model.weights:
        v = rng.normal(0, 0.5, w.shape).astype(w.dtype)
        if "variance" in (w.name or ""):
            v = np.abs(v) + 0.5
        w.assign(v)


def check_export(model, xs, tmp_path, atol=1e-5):
    xs = xs if isinstance(xs, list) else [xs]
    path = tmp_path / "m.onnx"
    proto = gk.onnx.export(model, path)
    onnx.checker.check_model(onnx.load(str(path)), full_check=True)
    got = _run(proto, xs)
    want = model.predict(xs if len(xs) > 1 else xs[0], verbose=0)
    want = want if isinstance(want, list) else [want]
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert g.shape == w.shape
        np.testing.assert_allclose(g, w, atol=atol, rtol=1e-5)
    # the batch axis is dynamic: another batch size runs too
    more = [np.concatenate([x, x[:1]]) for x in xs]
    assert _run(proto, more)[0].shape[0] == xs[0].shape[0] + 1
    return proto


def rand(*shape, seed=1):
    return np.random.default_rng(seed).normal(size=shape).astype("float32")


def test_mlp(tmp_path):
    model = Sequential([L.Dense(16, activation="relu", input_shape=(10,)), L.Dropout(0.3),
                        L.Dense(8, activation="tanh"), L.Dense(3, activation="softmax")])
    _randomize(model)
    proto = check_export(model, rand(5, 10), tmp_path)
    assert proto.graph.name == model.name
    names = {i.name for i in proto.graph.initializer}
    assert f"{model.layers[0].name}/kernel" in names  # weight names carried
    assert {n.name for n in proto.graph.node} >= {la.name for la in model.layers}
    assert "Sequential" in proto.doc_string
    assert proto.opset_import[0].version >= 17


def test_benchmark_cnn(tmp_path):
    # the network of benchmarks/bench_cnn_layers.py
    model = Sequential([L.Conv2D(32, 3, activation="relu", input_shape=(28, 28, 1)),
                        L.MaxPooling2D(2), L.Conv2D(64, 3, activation="relu"),
                        L.MaxPooling2D(2), L.Flatten(), L.Dense(10)])
    check_export(model, rand(3, 28, 28, 1), tmp_path, atol=2e-5)


def test_residual_functional(tmp_path):
    inp = Input((8, 8, 3), name="image")
    x = L.Conv2D(4, 3, padding="same")(inp)
    x = L.BatchNormalization()(x)
    x = L.ReLU()(x)
    y = L.Conv2D(4, 3, padding="same", activation="relu")(x)
    x = L.Add()([x, y])
    x = L.GlobalAveragePooling2D()(x)
    out = L.Dense(2, activation="softmax")(x)
    model = Model(inp, out)
    _randomize(model)
    proto = check_export(model, rand(2, 8, 8, 3), tmp_path)
    assert proto.graph.input[0].name == "image"


def test_lstm_text_model(tmp_path):
    model = Sequential([L.Embedding(50, 8, input_shape=(7,)), L.LSTM(6, return_sequences=True),
                        L.GRU(5), L.Dense(1, activation="sigmoid")])
    ids = np.random.default_rng(0).integers(0, 50, (4, 7)).astype("int64")
    proto = check_export(model, ids, tmp_path)
    assert proto.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.INT64


def test_two_inputs_two_outputs(tmp_path):
    a, b = Input((4,), name="a"), Input((4,), name="b")
    s = L.Concatenate()([L.Dense(3)(a), L.Dense(2)(b)])
    model = Model([a, b], [L.Dense(2)(s), L.Subtract()([a, b])])
    check_export(model, [rand(3, 4, seed=1), rand(3, 4, seed=2)], tmp_path)


# one row per exportable layer: (layer factory, one sample's input shape)
LAYERS = [
    (lambda: L.Dense(4, activation="gelu"), (6,)),
    (lambda: L.Dense(4, activation="selu", use_bias=False), (3, 6)),
    (lambda: L.Linear(6, 3), (6,)),
    (lambda: L.Activation("swish"), (5,)),
    (lambda: L.Activation("hard_sigmoid"), (5,)),
    (lambda: L.Activation("log_softmax"), (5,)),
    (lambda: L.Activation("softplus"), (5,)),
    (lambda: L.Activation("elu"), (5,)),
    (lambda: L.Activation("leaky_relu"), (5,)),
    (lambda: L.Activation("exponential"), (5,)),
    (lambda: L.Dropout(0.5), (5,)),
    (lambda: L.Identity(), (5,)),
    (lambda: L.Flatten(), (2, 3, 4)),
    (lambda: L.Reshape((4, -1)), (2, 3, 4)),
    (lambda: L.ReLU(), (5,)),
    (lambda: L.ReLU(max_value=0.5, negative_slope=0.1, threshold=-0.2), (5,)),
    (lambda: L.LeakyReLU(0.1), (5,)),
    (lambda: L.ELU(0.7), (5,)),
    (lambda: L.GELU(), (5,)),
    (lambda: L.GELU(approximate=True), (5,)),
    (lambda: L.Sigmoid(), (5,)),
    (lambda: L.Tanh(), (5,)),
    (lambda: L.Softmax(axis=1), (3, 4)),
    (lambda: L.Conv2D(3, 3, activation="relu"), (7, 7, 2)),
    (lambda: L.Conv2D(3, (3, 2), strides=2, padding="same"), (7, 8, 2)),
    (lambda: L.Conv2D(3, 3, dilation_rate=2, padding="same",
                      data_format="channels_first"), (2, 9, 9)),
    (lambda: L.Conv1D(4, 3), (9, 2)),
    (lambda: L.Conv1D(4, 3, padding="causal", dilation_rate=2), (9, 2)),
    (lambda: L.Conv1D(4, 2, strides=2, padding="same", data_format="channels_first"), (2, 9)),
    (lambda: L.MaxPooling2D(2), (6, 6, 2)),
    (lambda: L.MaxPooling2D(3, strides=2, padding="same"), (7, 7, 2)),
    (lambda: L.AveragePooling2D(2), (6, 6, 2)),
    (lambda: L.AveragePooling2D(3, strides=2, padding="same"), (7, 7, 2)),
    (lambda: L.AveragePooling2D(2, data_format="channels_first"), (2, 6, 6)),
    (lambda: L.GlobalAveragePooling2D(), (5, 5, 3)),
    (lambda: L.GlobalMaxPooling2D(keepdims=True), (5, 5, 3)),
    (lambda: L.GlobalAveragePooling1D(), (5, 3)),
    (lambda: L.GlobalMaxPooling1D(keepdims=True), (5, 3)),
    (lambda: gk.nn.Linear(6, 3), (6,)),
    (lambda: gk.nn.Linear(6, 3, bias=False), (4, 6)),
    (lambda: L.BatchNormalization(), (5,)),
    (lambda: L.BatchNormalization(), (4, 4, 3)),
    (lambda: L.BatchNormalization(axis=1, center=False), (3, 4, 4)),
    (lambda: L.LayerNormalization(), (6,)),
    (lambda: L.LayerNormalization(axis=[-2, -1], scale=False), (3, 6)),
    (lambda: L.SimpleRNN(4), (5, 3)),
    (lambda: L.SimpleRNN(4, activation="relu", return_sequences=True), (5, 3)),
    (lambda: L.LSTM(4), (5, 3)),
    (lambda: L.LSTM(4, return_sequences=True, go_backwards=True), (5, 3)),
    (lambda: L.GRU(4), (5, 3)),
    (lambda: L.GRU(4, reset_after=False, return_sequences=True), (5, 3)),
    (lambda: L.GRU(4, use_bias=False, go_backwards=True), (5, 3)),
]


@pytest.mark.parametrize("make, shape", LAYERS, ids=lambda v: "" if callable(v) else str(v))
def test_each_layer(make, shape, tmp_path):
    layer = make()
    model = Sequential([Input(shape), layer])
    _randomize(model, seed=len(shape))
    check_export(model, rand(3, *shape), tmp_path)


@pytest.mark.parametrize("cls", [L.Add, L.Subtract, L.Multiply, L.Average, L.Maximum,
                                 L.Minimum, L.Concatenate])
def test_each_merge_layer(cls, tmp_path):
    a, b = Input((4,)), Input((4,))
    model = Model([a, b], cls()([a, b]))
    check_export(model, [rand(2, 4, seed=3), rand(2, 4, seed=4)], tmp_path)


def test_embedding_alone(tmp_path):
    model = Sequential([L.Embedding(10, 3, input_shape=(4,))])
    check_export(model, np.arange(8).reshape(2, 4) % 10, tmp_path)


def test_every_converter_is_tested():
    tested = {type(make()).__name__ for make, _ in LAYERS}
    tested |= {"Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum", "Concatenate",
               "Embedding"}
    assert set(gk.onnx.exportable_layers()) <= tested


def test_subclassed_model(tmp_path):
    class Net(Model):
        def __init__(self):
            super().__init__()
            self.a = L.Dense(5, activation="relu")
            self.b = L.Dense(2)

        def call(self, x, training=None):
            return self.b(self.a(x))

    net = Net()
    net.build((None, 3))
    check_export(net, rand(4, 3), tmp_path)


def test_model_export_method(tmp_path):
    model = Sequential([L.Dense(2, input_shape=(3,))])
    model.export(tmp_path / "m.onnx")
    got = _run(onnx.load(str(tmp_path / "m.onnx")), [rand(2, 3)])[0]
    np.testing.assert_allclose(got, model.predict(rand(2, 3), verbose=0), atol=1e-6)


# ------------------------------------------------------------------ refusals
def test_unexportable_layer_is_named():
    class Scale(L.Layer):
        def call(self, x, training=None):
            return x * 2.0

    model = Sequential([L.Dense(2, input_shape=(3,)), Scale(name="my_scale")])
    with pytest.raises(ExportError, match="Scale 'my_scale'.*no ONNX converter"):
        gk.onnx.export(model)


def test_ops_between_layers_are_refused():
    class Net(Model):
        def __init__(self):
            super().__init__()
            self.a = L.Dense(2)
            self.b = L.Dense(2, name="after_op")

        def call(self, x, training=None):
            return self.b(self.a(x) * 2.0)

    net = Net()
    net.build((None, 3))
    with pytest.raises(ExportError, match="Dense 'after_op'.*no exportable layer produced"):
        gk.onnx.export(net)


def test_unknown_input_shape_and_bad_opset():
    model = Sequential([L.Dense(2)])
    with pytest.raises(ExportError, match="input_shape"):
        gk.onnx.export(model)
    with pytest.raises(ValueError, match="opset"):
        gk.onnx.export(Sequential([L.Dense(2, input_shape=(3,))]), opset=11)


def test_export_leaves_the_model_usable():
    model = Sequential([L.Dense(2, input_shape=(3,))])
    gk.onnx.export(model)
    assert "call" not in vars(model.layers[0])
    model.compile(optimizer="sgd", loss="mse")
    model.fit(rand(4, 3), rand(4, 2), epochs=1, verbose=0)


def test_float64_model(tmp_path):
    model = Sequential([L.Dense(4, activation="relu", input_shape=(3,), dtype="float64"),
                        L.Dense(2, activation="sigmoid", dtype="float64")], dtype="float64")
    proto = check_export(model, rand(2, 3).astype("float64"), tmp_path)
    assert proto.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.DOUBLE
