"""gradkit.initializers: fans, statistics of large draws, seeding, orthogonality, configs."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from gradkit import initializers as I
from gradkit import random as gk_random

BIG = (400, 500)  # 200,000 samples: std of a std estimate ~0.16%


def test_compute_fans():
    assert I.compute_fans(()) == (1, 1)
    assert I.compute_fans((7,)) == (7, 7)
    assert I.compute_fans((784, 128)) == (784, 128)
    assert I.compute_fans((3, 3, 16, 32)) == (144, 288)
    assert I.compute_fans((5, 8, 4)) == (40, 20)  # conv1d kernel (k, in, out)
    assert I.compute_fans((2, 3, 3, 4, 6)) == (72, 108)  # conv3d


# (initializer, expected std as a function of (fan_in, fan_out), uniform?)
VS_CASES = [
    (I.GlorotUniform(), lambda i, o: math.sqrt(2 / (i + o)), True),
    (I.GlorotNormal(), lambda i, o: math.sqrt(2 / (i + o)), False),
    (I.HeUniform(), lambda i, o: math.sqrt(2 / i), True),
    (I.HeNormal(), lambda i, o: math.sqrt(2 / i), False),
    (I.LecunUniform(), lambda i, o: math.sqrt(1 / i), True),
    (I.LecunNormal(), lambda i, o: math.sqrt(1 / i), False),
    (I.VarianceScaling(3.0, "fan_out", "uniform"), lambda i, o: math.sqrt(3 / o), True),
    (I.VarianceScaling(0.5, "fan_avg", "untruncated_normal"),
     lambda i, o: math.sqrt(0.5 / ((i + o) / 2)), False),
]


@pytest.mark.parametrize("init, std, uniform", VS_CASES, ids=lambda v: repr(v)[:40])
@pytest.mark.parametrize("shape", [BIG, (3, 3, 64, 128)])
def test_variance_scaling_statistics(init, std, uniform, shape):
    gk_random.seed(0)
    w = init(shape)
    assert w.shape == shape and w.dtype == np.float32
    fan_in, fan_out = I.compute_fans(shape)
    s = std(fan_in, fan_out)
    assert abs(w.mean()) < 0.01 * s
    assert w.std() == pytest.approx(s, rel=0.01)
    if uniform:
        limit = math.sqrt(3) * s
        assert np.abs(w).max() <= limit
        assert np.abs(w).max() > 0.99 * limit
    elif getattr(init, "distribution", "") == "truncated_normal":
        sigma = s / 0.87962566103423978  # the pre-truncation stddev
        assert np.abs(w).max() <= 2 * sigma * (1 + 1e-6)
        assert np.abs(w).max() > 1.9 * sigma
    else:  # untruncated: some samples beyond 2 sigma
        assert np.mean(np.abs(w) > 2 * s) == pytest.approx(0.0455, abs=0.005)


def test_truncated_normal():
    gk_random.seed(1)
    w = I.TruncatedNormal(mean=1.0, stddev=2.0)(BIG, dtype="float64")
    assert w.dtype == np.float64
    assert w.min() >= 1.0 - 4.0 and w.max() <= 1.0 + 4.0
    assert w.mean() == pytest.approx(1.0, abs=0.02)
    assert w.std() == pytest.approx(2.0 * 0.87962566103423978, rel=0.01)


def test_random_uniform_and_normal():
    gk_random.seed(2)
    u = I.RandomUniform(-0.3, 0.7)(BIG)
    assert u.min() >= -0.3 and u.max() < 0.7
    assert u.mean() == pytest.approx(0.2, abs=0.005)
    assert u.std() == pytest.approx(1.0 / math.sqrt(12), rel=0.01)
    n = I.RandomNormal(0.5, 0.1)(BIG)
    assert n.mean() == pytest.approx(0.5, abs=0.001)
    assert n.std() == pytest.approx(0.1, rel=0.01)
    d = I.RandomUniform()(BIG)  # Keras's defaults: [-0.05, 0.05)
    assert d.min() >= -0.05 and d.max() < 0.05


def test_constants():
    np.testing.assert_array_equal(I.Zeros()((2, 3)), np.zeros((2, 3), np.float32))
    np.testing.assert_array_equal(I.Ones()((4,), dtype="float64"), np.ones(4))
    c = I.Constant(0.25)((2, 2))
    assert c.dtype == np.float32 and np.all(c == 0.25)
    row = I.Constant([1.0, 2.0, 3.0])((2, 3))
    np.testing.assert_array_equal(row, [[1, 2, 3], [1, 2, 3]])
    row[0, 0] = 9  # a fresh writable array
    with pytest.raises(ValueError, match="broadcast"):
        I.Constant([1.0, 2.0])((2, 3))
    np.testing.assert_array_equal(I.Identity(2.0)((2, 3)), [[2, 0, 0], [0, 2, 0]])
    assert I.Zeros()(5).shape == (5,)


@pytest.mark.parametrize("shape", [(64, 64), (100, 30), (30, 100), (3, 3, 8, 16)])
def test_orthogonal(shape):
    gk_random.seed(3)
    q = I.Orthogonal(gain=1.0)(shape, dtype="float64")
    assert q.shape == shape
    m = q.reshape(-1, shape[-1])
    if m.shape[0] >= m.shape[1]:
        np.testing.assert_allclose(m.T @ m, np.eye(m.shape[1]), atol=1e-10)
    else:
        np.testing.assert_allclose(m @ m.T, np.eye(m.shape[0]), atol=1e-10)
    g = I.Orthogonal(gain=2.5)(shape, dtype="float64").reshape(-1, shape[-1])
    k = min(g.shape)
    gram = g.T @ g if g.shape[0] >= g.shape[1] else g @ g.T
    np.testing.assert_allclose(gram, 2.5 ** 2 * np.eye(k), atol=1e-9)
    q32 = I.Orthogonal()(shape)
    assert q32.dtype == np.float32
    with pytest.raises(ValueError, match="2 axes"):
        I.Orthogonal()((5,))


def test_orthogonal_is_not_biased():
    # sign-corrected QR: the diagonal of q has mean ~0 over many draws
    gk_random.seed(4)
    diag = np.array([np.diag(I.Orthogonal()((8, 8), dtype="float64")) for _ in range(500)])
    assert abs(diag.mean()) < 0.05


ALL_RANDOM = [I.GlorotUniform, I.GlorotNormal, I.HeUniform, I.HeNormal, I.LecunUniform,
              I.LecunNormal, I.RandomUniform, I.RandomNormal, I.TruncatedNormal,
              I.VarianceScaling, I.Orthogonal]


@pytest.mark.parametrize("cls", ALL_RANDOM)
def test_global_seed_makes_draws_repeat(cls):
    init = cls()
    gk_random.seed(123)
    a1, a2 = init((20, 30)), init((20, 30))
    gk_random.seed(123)
    b1, b2 = init((20, 30)), init((20, 30))
    np.testing.assert_array_equal(a1, b1)
    np.testing.assert_array_equal(a2, b2)
    assert not np.array_equal(a1, a2)  # successive draws differ
    gk_random.seed(124)
    assert not np.array_equal(init((20, 30)), a1)


@pytest.mark.parametrize("cls", ALL_RANDOM)
def test_own_seed_repeats_every_call(cls):
    a = cls(seed=7)((10, 10))
    gk_random.seed(0)
    b = cls(seed=7)((10, 10))
    np.testing.assert_array_equal(a, b)
    init = cls(seed=7)
    np.testing.assert_array_equal(init((10, 10)), init((10, 10)))
    assert not np.array_equal(cls(seed=8)((10, 10)), a)


def test_draws_come_from_the_global_generator():
    gk_random.seed(5)
    before = gk_random.get_state()
    I.HeNormal()((3, 3))
    assert gk_random.get_state() != before  # consumed from gradkit.random.generator()
    gk_random.seed(5)
    I.HeNormal(seed=1)((3, 3))
    gk_random.seed(5)
    state = gk_random.get_state()
    I.HeNormal(seed=1)((3, 3))
    assert gk_random.get_state() == state  # a seeded initializer leaves it alone


def test_dtypes():
    assert I.GlorotUniform()((3, 4), dtype="float64").dtype == np.float64
    assert I.HeNormal()((3, 4), dtype=np.float16).dtype == np.float16
    with pytest.raises(ValueError, match="floating"):
        I.GlorotUniform()((3, 4), dtype="int32")


def test_invalid_arguments():
    with pytest.raises(ValueError, match="mode"):
        I.VarianceScaling(mode="fan_sum")
    with pytest.raises(ValueError, match="distribution"):
        I.VarianceScaling(distribution="cauchy")
    with pytest.raises(ValueError, match="scale"):
        I.VarianceScaling(scale=0)
    with pytest.raises(ValueError, match="maxval"):
        I.RandomUniform(1.0, 0.0)
    with pytest.raises(TypeError, match="seed"):
        I.HeNormal(seed="abc")
    assert I.VarianceScaling(distribution="normal").distribution == "truncated_normal"


def test_get_names():
    names = {
        "glorot_uniform": I.GlorotUniform, "glorot_normal": I.GlorotNormal,
        "he_uniform": I.HeUniform, "he_normal": I.HeNormal, "lecun_uniform": I.LecunUniform,
        "lecun_normal": I.LecunNormal, "zeros": I.Zeros, "ones": I.Ones,
        "constant": I.Constant, "random_uniform": I.RandomUniform,
        "random_normal": I.RandomNormal, "truncated_normal": I.TruncatedNormal,
        "orthogonal": I.Orthogonal, "variance_scaling": I.VarianceScaling,
        "identity": I.Identity, "GlorotUniform": I.GlorotUniform, "uniform": I.RandomUniform,
    }
    for name, cls in names.items():
        assert type(I.get(name)) is cls
    init = I.HeNormal(seed=3)
    assert I.get(init) is init
    assert I.get(None) is None
    assert type(I.get(I.Zeros)) is I.Zeros

    def custom(shape, dtype="float32"):
        return np.full(shape, 3.0, dtype)

    assert I.get(custom) is custom


def test_get_unknown_lists_names():
    with pytest.raises(ValueError) as e:
        I.get("glorot")
    msg = str(e.value)
    for name in ["glorot_uniform", "he_normal", "zeros", "orthogonal", "variance_scaling"]:
        assert name in msg
    with pytest.raises(TypeError):
        I.get(1.5)


@pytest.mark.parametrize("init", [
    I.GlorotUniform(seed=1), I.GlorotNormal(), I.HeUniform(), I.HeNormal(seed=2),
    I.LecunNormal(), I.LecunUniform(), I.RandomUniform(-1, 2, seed=3), I.RandomNormal(1, 2),
    I.TruncatedNormal(0, 0.3), I.Zeros(), I.Ones(), I.Constant(0.5), I.Constant(np.ones(3)),
    I.Orthogonal(gain=2.0, seed=4), I.Identity(3.0),
    I.VarianceScaling(2.0, "fan_out", "uniform", seed=5)], ids=repr)
def test_config_round_trip(init):
    cfg = init.get_config()
    json.dumps(cfg)
    again = type(init).from_config(cfg)
    assert again.get_config() == cfg
    back = I.get(json.loads(json.dumps(I.serialize(init))))
    assert type(back) is type(init) and back.get_config() == cfg
    if cfg.get("seed") is not None or not isinstance(init, I._Random):
        np.testing.assert_array_equal(init((3, 3)), back((3, 3)))


def test_preset_configs_are_just_the_seed():
    assert I.GlorotUniform(seed=3).get_config() == {"seed": 3}
    assert I.VarianceScaling().get_config() == {
        "scale": 1.0, "mode": "fan_in", "distribution": "truncated_normal", "seed": None}
