"""keras.random: gradkit's seed rules (global generator, int seeds, SeedGenerator streams),
the distributions' moments, and dropout/shuffle gradients."""

from __future__ import annotations

import numpy as np
import pytest

import gradkit
from gradkit.keras import random
from gradkit.testing import gradcheck

DRAWS = [
    ("normal", lambda seed: random.normal((2000,), mean=1.0, stddev=2.0, seed=seed)),
    ("uniform", lambda seed: random.uniform((2000,), minval=-1.0, maxval=3.0, seed=seed)),
    ("truncated_normal", lambda seed: random.truncated_normal((2000,), stddev=0.5, seed=seed)),
    ("randint", lambda seed: random.randint((2000,), 0, 7, seed=seed)),
    ("gamma", lambda seed: random.gamma((2000,), 2.0, seed=seed)),
    ("beta", lambda seed: random.beta((2000,), 2.0, 5.0, seed=seed)),
    ("binomial", lambda seed: random.binomial((2000,), 10, 0.3, seed=seed)),
    ("categorical", lambda seed: random.categorical(np.log([[0.2, 0.8]] * 2), 1000, seed=seed)),
    ("dropout", lambda seed: random.dropout(np.ones(2000, "float32"), 0.25, seed=seed)),
    ("shuffle", lambda seed: random.shuffle(np.arange(2000.0), seed=seed)),
]
IDS = [d[0] for d in DRAWS]


@pytest.mark.parametrize("draw", [d[1] for d in DRAWS], ids=IDS)
def test_int_seed_repeats_and_generator_streams_advance(draw):
    a, b = draw(7).numpy(), draw(7).numpy()
    np.testing.assert_array_equal(a, b)
    gen = random.SeedGenerator(3)
    first, second = draw(gen).numpy(), draw(gen).numpy()
    assert not np.array_equal(first, second)
    again = random.SeedGenerator(3)
    np.testing.assert_array_equal(draw(again).numpy(), first)
    np.testing.assert_array_equal(draw(again).numpy(), second)


@pytest.mark.parametrize("draw", [d[1] for d in DRAWS], ids=IDS)
def test_seed_none_follows_the_global_generator(draw):
    gradkit.random.seed(11)
    a = draw(None).numpy()
    gradkit.random.seed(11)
    np.testing.assert_array_equal(draw(None).numpy(), a)
    assert not np.array_equal(draw(None).numpy(), a)


def test_distributions_have_their_moments():
    x = random.normal((20000,), 1.0, 2.0, seed=0).numpy()
    assert x.dtype == np.float32 and abs(x.mean() - 1.0) < 0.06 and abs(x.std() - 2.0) < 0.06
    u = random.uniform((20000,), -1.0, 3.0, dtype="float64", seed=0).numpy()
    assert u.dtype == np.float64 and u.min() >= -1.0 and u.max() < 3.0
    assert abs(u.mean() - 1.0) < 0.05
    t = random.truncated_normal((20000,), 0.0, 0.5, seed=0).numpy()
    assert np.abs(t).max() <= 1.0 and 0.35 < t.std() < 0.5
    r = random.randint((20000,), 2, 5, seed=0).numpy()
    assert r.dtype == np.int32 and set(np.unique(r)) == {2, 3, 4}
    c = random.categorical(np.log([[0.2, 0.8], [0.9, 0.1]]), 20000, seed=0).numpy()
    assert c.shape == (2, 20000) and abs(c[0].mean() - 0.8) < 0.02 and abs(c[1].mean() - 0.1) < 0.02
    d = random.dropout(np.ones(20000, "float32"), 0.25, seed=0).numpy()
    assert set(np.unique(d)) == {0.0, np.float32(1 / 0.75)} and abs((d == 0).mean() - 0.25) < 0.02
    s = random.shuffle(np.arange(100.0).reshape(50, 2), axis=0, seed=0).numpy()
    np.testing.assert_array_equal(np.sort(s[:, 0]), np.arange(0, 100, 2))
    np.testing.assert_array_equal(s[:, 1] - s[:, 0], np.ones(50))


def test_dropout_and_shuffle_are_differentiable():
    x = np.random.default_rng(0).standard_normal((4, 5))
    assert gradcheck(lambda t: random.dropout(t, 0.5, seed=1), x)
    assert gradcheck(lambda t: random.shuffle(t, axis=1, seed=2), x)


def test_bad_arguments_say_what_is_wrong():
    with pytest.raises(TypeError, match="seed"):
        random.normal((2,), seed=1.5)
    with pytest.raises(ValueError, match="seed"):
        random.SeedGenerator(-1)
    with pytest.raises(ValueError, match="logits"):
        random.categorical(np.zeros(3), 2)
    with pytest.raises(NotImplementedError, match="backend"):
        random.SeedGenerator(1, backend="jax")
    gen = random.SeedGenerator.from_config(random.SeedGenerator(5).get_config())
    assert gen.seed == 5
