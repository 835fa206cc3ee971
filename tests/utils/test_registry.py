"""gradkit.utils.registry: the same get/serialize/deserialize rules for all eight kinds.

Each kind gets one row in ``KINDS``: its module, a built-in name, a user object
registered with the module's ``register_serializable``, an unregistered twin
(which only ``custom_objects`` can resolve), and how to put the user object in
a model and find it again after ``model.save`` / ``load_model``.
"""

import builtins
import importlib
import json
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest

import gradkit as gk
from gradkit import activations, initializers, losses, metrics, optimizers, regularizers
from gradkit.layers import Dense, Layer
from gradkit.models import Sequential, load_model
from gradkit.optimizers import schedules
from gradkit.utils import registry as R

PKG = "test_registry"


# ---------------------------------------------------------------- user objects
@losses.register_serializable(package=PKG)
class HalfMSE(losses.Loss):
    def call(self, y_true, y_pred):
        return losses.mean_squared_error(y_true, y_pred) * 0.5


class PlainLoss(HalfMSE):
    pass


def _mean_prediction(y_true, y_pred):
    return np.asarray(y_pred, dtype=np.float64).reshape(len(y_pred), -1).mean(-1)


@metrics.register_serializable(package=PKG)
class MeanPrediction(metrics.MeanMetricWrapper):
    def __init__(self, name="mean_prediction", dtype=None):
        super().__init__(_mean_prediction, name, dtype)


class PlainMetric(MeanPrediction):
    pass


@optimizers.register_serializable(package=PKG)
class SlowSGD(optimizers.SGD):
    pass


class PlainOptimizer(SlowSGD):
    pass


@schedules.register_serializable(package=PKG)
class ConstantRate(schedules.LearningRateSchedule):
    def __init__(self, rate=0.01):
        self.rate = rate

    def __call__(self, step):
        return self.rate

    def get_config(self):
        return {"rate": self.rate}


class PlainSchedule(ConstantRate):
    pass


@initializers.register_serializable(package=PKG)
class Fives(initializers.Initializer):
    def __call__(self, shape, dtype="float32"):
        return np.full(shape, 5.0, dtype=dtype)


class PlainInitializer(Fives):
    pass


@regularizers.register_serializable(package=PKG)
class SquareSum(regularizers.Regularizer):
    def __call__(self, weight):
        return gk.ops.sum(weight * weight) * 1e-3


class PlainRegularizer(SquareSum):
    pass


@activations.register_serializable(package=PKG)
def tripled(x):
    return x * 3.0


def plain_activation(x):
    return x * 3.0


@gk.layers.register_serializable(package=PKG)
class Scale(Layer):
    def __init__(self, factor=2.0, **kwargs):
        super().__init__(**kwargs)
        self.factor = factor

    def call(self, x, training=None):
        return x * self.factor

    def get_config(self):
        return {**super().get_config(), "factor": self.factor}


class PlainLayer(Scale):
    pass


# ---------------------------------------------------------------- the table
def _model(dense=None, extra=(), **compile_args):
    model = Sequential([Dense(2, input_dim=3, **(dense or {})), *extra])
    args = {"optimizer": "sgd", "loss": "mse"}
    args.update(compile_args)
    model.compile(**args)
    return model


@dataclass
class Kind:
    kind: str
    module: Any
    name: str               # a built-in name
    builtin: Any            # what get(name) gives: its type, or the function itself
    typo: str               # a misspelling of name
    instance: Callable      # -> a built-in instance
    none: Any               # what get(None) gives; TypeError when refused
    custom: Any             # registered with the module's register_serializable
    plain: Any              # unregistered: needs custom_objects
    model_with: Callable    # user object -> compiled model using it
    found: Callable         # loaded model -> the object to check

    def make(self, obj):
        return obj if self.kind == "activation" else obj()


KINDS = [
    Kind("loss", losses, "mse", losses.MeanSquaredError, "msee", lambda: losses.Huber(2.0),
         None, HalfMSE, PlainLoss, lambda o: _model(loss=o), lambda m: m.loss),
    Kind("metric", metrics, "auc", metrics.AUC, "aucc", lambda: metrics.Recall(),
         None, MeanPrediction, PlainMetric, lambda o: _model(metrics=[o]),
         lambda m: m.metrics[1]),  # metrics[0] is the "loss" tracker (Keras 3)
    Kind("optimizer", optimizers, "adam", optimizers.Adam, "adamm",
         lambda: optimizers.SGD(learning_rate=0.1), TypeError, SlowSGD, PlainOptimizer,
         lambda o: _model(optimizer=o), lambda m: m.optimizer),
    Kind("learning-rate schedule", schedules, "ExponentialDecay", schedules.ExponentialDecay,
         "ExponentialDecy", lambda: schedules.StepDecay(0.1, 10), TypeError, ConstantRate,
         PlainSchedule, lambda o: _model(optimizer=optimizers.SGD(learning_rate=o)),
         lambda m: m.optimizer._learning_rate),
    Kind("initializer", initializers, "he_normal", initializers.HeNormal, "he_normall",
         lambda: initializers.Constant(0.5), None, Fives, PlainInitializer,
         lambda o: _model(dense={"kernel_initializer": o}),
         lambda m: initializers.get(m.layers[0].kernel_initializer)),
    Kind("regularizer", regularizers, "l2", regularizers.L2, "l22", lambda: regularizers.L1(0.5),
         None, SquareSum, PlainRegularizer, lambda o: _model(dense={"kernel_regularizer": o}),
         lambda m: regularizers.get(m.layers[0].kernel_regularizer)),
    Kind("activation", activations, "relu", activations.relu, "rleu", lambda: activations.tanh,
         activations.linear, tripled, plain_activation,
         lambda o: _model(dense={"activation": o}), lambda m: m.layers[0].activation),
    Kind("layer", gk.layers, "Flatten", gk.layers.Flatten, "Flaten",
         lambda: gk.layers.Dropout(0.5), None, Scale, PlainLayer,
         lambda o: _model(extra=[o]), lambda m: m.layers[1]),
]
IDS = [k.kind for k in KINDS]


def _is(kind, got, expected):
    """``got`` is ``expected`` (a function) or an instance of exactly ``expected`` (a class)."""
    return got is expected if kind.kind == "activation" else type(got) is expected


def _registered(kind, obj):
    """The user name the module registered ``obj`` under."""
    return f"{PKG}>{obj.__name__}"


# ---------------------------------------------------------------- get
def test_there_is_one_registry_per_kind():
    assert sorted(R.registries()) == sorted(IDS)
    for kind in KINDS:
        assert isinstance(R.registries()[kind.kind], R.Registry)


@pytest.mark.parametrize("kind", KINDS, ids=IDS)
def test_get_by_name(kind):
    if kind.kind == "learning-rate schedule":  # every built-in schedule needs arguments
        with pytest.raises(TypeError, match="'ExponentialDecay' needs arguments"):
            kind.module.get(kind.name)
    else:
        assert _is(kind, kind.module.get(kind.name), kind.builtin)
        assert _is(kind, kind.module.get(kind.name.upper()), kind.builtin)  # any case
    assert _is(kind, kind.module.get(_registered(kind, kind.custom)), kind.custom)


@pytest.mark.parametrize("kind", KINDS, ids=IDS)
def test_get_by_config_dict(kind):
    inst = kind.instance()
    config = json.loads(json.dumps(kind.module.serialize(inst)))
    if kind.kind == "activation":  # a function serializes as its name; Keras's dict also works
        assert config == "tanh"
        config = {"class_name": "function", "config": config}
        assert kind.module.get(config) is inst
        return
    back = kind.module.get(config)
    assert type(back) is type(inst) and back is not inst
    assert back.get_config() == inst.get_config()
    assert type(kind.module.deserialize(config)) is type(inst)


@pytest.mark.parametrize("kind", KINDS, ids=IDS)
def test_get_by_instance_class_and_none(kind):
    inst = kind.instance()
    assert kind.module.get(inst) is inst
    if kind.kind != "activation":
        assert type(kind.module.get(kind.custom)) is kind.custom  # a class: its defaults
    if kind.none is TypeError:
        with pytest.raises(TypeError, match="is required"):
            kind.module.get(None)
    else:
        assert kind.module.get(None) is kind.none


@pytest.mark.parametrize("kind", KINDS, ids=IDS)
def test_wrong_type_is_a_type_error(kind):
    with pytest.raises(TypeError, match="must be a name, a config dict.*received float: 1.5"):
        kind.module.get(1.5)
    with pytest.raises(TypeError, match="expects a dict"):
        R.registries()[kind.kind].deserialize(["class_name", "x"])


@pytest.mark.parametrize("kind", KINDS, ids=IDS)
def test_unknown_name_says_did_you_mean(kind):
    with pytest.raises(ValueError) as e:
        kind.module.get(kind.typo)
    msg = str(e.value)
    assert msg.startswith(f"unknown {kind.kind} '{kind.typo}'; did you mean '{kind.name}'? "
                          "known: "), msg
    assert _registered(kind, kind.custom) in msg  # user names are listed too
    assert "register_serializable" in msg and "custom_objects" in msg


@pytest.mark.parametrize("kind", KINDS, ids=IDS)
def test_custom_objects(kind):
    name = kind.plain.__name__
    with pytest.raises(ValueError, match=f"unknown {kind.kind} '{name}'"):
        kind.module.get(name)
    got = kind.module.get(name, custom_objects={name: kind.plain})
    assert _is(kind, got, kind.plain)
    config = json.loads(json.dumps(kind.module.serialize(kind.make(kind.plain))))
    if kind.kind == "activation":
        assert config == name  # an unregistered function saves its __name__
        return
    assert "registered_name" not in config
    with pytest.raises(ValueError, match=f"unknown {kind.kind} class '{name}'.*custom_objects"):
        kind.module.deserialize(config)
    got = kind.module.deserialize(config, custom_objects={name: kind.plain})
    assert type(got) is kind.plain


# ---------------------------------------------------------------- model files
def _save(kind, obj, tmp_path):
    model = kind.model_with(kind.make(obj))
    path = tmp_path / "m.gradkit"
    model.save(path)
    return path


@pytest.mark.parametrize("kind", KINDS, ids=IDS)
def test_registered_object_round_trips_through_a_model_file(kind, tmp_path):
    path = _save(kind, kind.custom, tmp_path)
    config = zipfile.ZipFile(path).read("config.json").decode()
    assert _registered(kind, kind.custom) in config
    model = load_model(path)  # no custom_objects: the registry knows it
    assert _is(kind, kind.found(model), kind.custom)
    x = np.ones((4, 3), "float32")
    model.fit(x, np.ones((4, 2), "float32"), epochs=1, verbose=0)


@pytest.mark.parametrize("kind", KINDS, ids=IDS)
def test_unregistered_object_loads_with_custom_objects(kind, tmp_path):
    path = _save(kind, kind.plain, tmp_path)
    name = kind.plain.__name__
    with pytest.raises(ValueError, match=f"unknown {kind.kind}( class)? '{name}'"):
        load_model(path)
    custom_objects = {name: kind.plain}
    model = load_model(path, custom_objects=custom_objects)
    with R.custom_object_scope(custom_objects):  # a Dense keeps an initializer's config
        assert _is(kind, kind.found(model), kind.plain)


@pytest.mark.parametrize("kind", KINDS, ids=IDS)
def test_unknown_class_in_a_file_is_refused_and_never_imported(kind, tmp_path, monkeypatch):
    path = _save(kind, kind.custom, tmp_path)
    with zipfile.ZipFile(path) as z:
        members = {n: z.read(n) for n in z.namelist()}
    evil = "evil_module_for_tests.Payload"
    text = members["config.json"].decode()
    text = text.replace(_registered(kind, kind.custom), evil)
    text = text.replace(f'"{kind.custom.__name__}"', f'"{evil}"')
    assert evil in text
    members["config.json"] = text.encode()
    bad = tmp_path / "bad.gradkit"
    with zipfile.ZipFile(bad, "w") as z:
        for n, data in members.items():
            z.writestr(n, data)

    imported = []
    real_import, real_import_module = builtins.__import__, importlib.import_module

    def spy(name, *args, **kwargs):
        imported.append(name)
        return real_import(name, *args, **kwargs)

    def spy_module(name, *args, **kwargs):
        imported.append(name)
        return real_import_module(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", spy)
    monkeypatch.setattr(importlib, "import_module", spy_module)
    with pytest.raises(ValueError, match=f"unknown {kind.kind}( class)? '{evil}'"):
        load_model(bad)
    assert not [n for n in imported if n.startswith("evil_module")]


# ---------------------------------------------------------------- the registry itself
def test_registering_a_taken_name_is_refused():
    reg = R.Registry("thing", module="tests", from_function=R.as_is)

    @reg.register_serializable(package="p")
    def f(x):
        return x

    def g(x):
        return x

    with pytest.raises(ValueError, match="'p>f': that name is taken"):
        reg.register_serializable(package="p", name="f")(g)
    assert reg.get("p>f") is f
    with pytest.raises(ValueError, match="unknown thing 'f'"):  # a bare name is not enough
        reg.get("f")
    assert reg.serialize(f) == "p>f"
    with pytest.raises(TypeError, match="decorates classes"):
        optimizers.register_serializable()(g)
    with pytest.raises(TypeError, match="has no from_config"):
        losses.register_serializable()(type("NoConfig", (), {}))


def test_register_serializable_picks_the_registry_from_the_base_class():
    @R.register_serializable(package=PKG)
    class QuarterMSE(losses.Loss):
        def call(self, y_true, y_pred):
            return losses.mean_squared_error(y_true, y_pred) * 0.25

    assert type(losses.get(f"{PKG}>QuarterMSE")) is QuarterMSE
    assert losses.serialize(QuarterMSE())["registered_name"] == f"{PKG}>QuarterMSE"
    with pytest.raises(ValueError):
        metrics.get(f"{PKG}>QuarterMSE")  # only the loss registry has it
    with pytest.raises(TypeError, match="its kind's decorator"):
        R.register_serializable()(tripled)
    with pytest.raises(TypeError, match="subclasses none of"):
        R.register_serializable()(type("Loose", (), {"from_config": classmethod(lambda c, d: c())}))


def test_registered_functions_round_trip_as_losses_and_metrics(tmp_path):
    @losses.register_serializable(package=PKG)
    def doubled_mse(y_true, y_pred):
        return losses.mean_squared_error(y_true, y_pred) * 2.0

    @metrics.register_serializable(package=PKG)
    def first_output(y_true, y_pred):
        return np.asarray(y_pred)[:, 0]

    model = _model(loss=doubled_mse, metrics=[first_output])
    model.save(tmp_path / "f.gradkit")
    back = load_model(tmp_path / "f.gradkit")
    assert back.loss == f"{PKG}>doubled_mse"
    assert back._loss_fns[0][1].fn is doubled_mse
    # metrics[0] is the "loss" tracker (Keras 3's order), then the compiled metrics
    assert back.metrics[1]._fn is first_output and back.metrics[1].name == "first_output"
    wrapper = losses.LossFunctionWrapper(doubled_mse)
    assert losses.get(losses.serialize(wrapper)).fn is doubled_mse


def test_custom_object_scope_reaches_nested_configs():
    layer = Dense(2, kernel_initializer=PlainInitializer())
    config = json.loads(json.dumps(gk.layers.serialize(layer)))
    with R.custom_object_scope({"PlainInitializer": PlainInitializer}):
        clone = gk.layers.deserialize(config)
        clone.build((None, 3))
    np.testing.assert_array_equal(clone.kernel.numpy(), np.full((3, 2), 5.0))
    with pytest.raises(ValueError, match="unknown initializer class 'PlainInitializer'"):
        gk.layers.deserialize(config).build((None, 3))


def test_accuracy_is_still_chosen_from_the_loss():
    m = metrics.get("accuracy", loss="sparse_categorical_crossentropy")
    assert type(m) is metrics.SparseCategoricalAccuracy and m.name == "accuracy"
    # a custom "accuracy" in custom_objects wins over the special case
    m = metrics.get("accuracy", custom_objects={"accuracy": MeanPrediction})
    assert type(m) is MeanPrediction
