"""One generator for all randomness: ``gradkit.random.seed`` repeats every draw gradkit makes."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import gradkit
from gradkit import random as R
from gradkit.datasets import make_circles, make_moons, make_regression, make_spirals, make_xor
from gradkit.utils import batch_iterator, set_random_seed, shuffle, train_test_split

ROOT = Path(__file__).resolve().parents[1]

# ------------------------------------------------------------ gradkit.random.rng


def test_rng_none_is_the_global_generator_even_after_reseeding():
    before = R.rng()
    assert before is R.generator()
    R.seed(1)
    assert R.rng() is R.generator() and R.rng() is not before


def test_rng_int_is_a_fresh_stream_that_leaves_the_global_one_alone():
    R.seed(5)
    state = R.get_state()
    a, b = R.rng(7), R.rng(np.int64(7))
    assert a is not b and a is not R.generator()
    assert a.permutation(50).tolist() == b.permutation(50).tolist()
    assert R.get_state() == state


def test_rng_passes_a_generator_through():
    g = np.random.default_rng(0)
    assert R.rng(g) is g


@pytest.mark.parametrize("bad, exc, match", [
    (1.5, TypeError, r"my_fn: seed must be None, a non-negative int or a numpy\.random\.Generator, "
                     r"received 1\.5 \(float\)"),
    (True, TypeError, r"received True \(bool\)"),
    ("3", TypeError, r"received '3' \(str\)"),
    (np.random.RandomState(0), TypeError, r"\(RandomState\)"),
    (-1, ValueError, r"my_fn: seed must be an integer >= 0, received -1"),
])
def test_rng_rejects_what_is_not_a_seed(bad, exc, match):
    with pytest.raises(exc, match=match):
        R.rng(bad, owner="my_fn")


@pytest.mark.parametrize("bad, exc", [(2.0, TypeError), (None, TypeError), (-3, ValueError)])
def test_seed_validates(bad, exc):
    with pytest.raises(exc, match="gradkit.random.seed: seed must be an integer >= 0"):
        R.seed(bad)


# --------------------------------------- every seed=None draw repeats after seed()

X = np.arange(60).reshape(30, 2)
Y = np.arange(30) % 3

DRAWS = {
    "batch_iterator": lambda: [b.tolist() for (b,) in
                               batch_iterator(Y * 10 + np.arange(30), batch_size=7,
                                              shuffle=True)],
    "train_test_split": lambda: [a.tolist() for a in train_test_split(X, Y, test_size=0.3)],
    "train_test_split-stratified": lambda: [a.tolist() for a in
                                            train_test_split(X, Y, test_size=0.3, stratify=Y)],
    "shuffle": lambda: [a.tolist() for a in shuffle(X, Y)],
    "make_xor": lambda: [a.tolist() for a in make_xor(20, noise=0.1)],
    "make_circles": lambda: [a.tolist() for a in make_circles(20, noise=0.1)],
    "make_moons": lambda: [a.tolist() for a in make_moons(20, noise=0.1)],
    "make_spirals": lambda: [a.tolist() for a in make_spirals(20, n_classes=3, noise=0.1)],
    "make_regression": lambda: [a.tolist() for a in make_regression(20, 2, noise=0.1)],
    "random.uniform": lambda: R.uniform((3, 4)).numpy().tolist(),
    "random.normal": lambda: R.normal((3, 4)).numpy().tolist(),
    "initializer": lambda: gradkit.initializers.GlorotUniform()((3, 4)).tolist(),
}


@pytest.mark.parametrize("draw", DRAWS.values(), ids=DRAWS.keys())
@pytest.mark.parametrize("reseed", [R.seed, set_random_seed],
                         ids=["random.seed", "set_random_seed"])
def test_seeding_repeats_the_draw_and_another_seed_changes_it(draw, reseed):
    reseed(11)
    first, second = draw(), draw()
    reseed(11)
    assert draw() == first and draw() == second  # the same sequence of draws
    assert second != first  # consecutive draws continue one stream, they do not restart
    reseed(12)
    assert draw() != first


def test_an_explicit_seed_ignores_the_global_generator():
    R.seed(0)
    a = shuffle(X, seed=4)
    R.seed(1)
    b = shuffle(X, seed=4)
    np.testing.assert_array_equal(a, b)


def test_a_generator_argument_is_the_callers_stream():
    g1, g2 = np.random.default_rng(9), np.random.default_rng(9)
    assert ([b.tolist() for (b,) in batch_iterator(Y, batch_size=4, shuffle=True, seed=g1)]
            == [b.tolist() for (b,) in batch_iterator(Y, batch_size=4, shuffle=True, seed=g2)])
    assert g1.random() == g2.random()  # both advanced by the same amount


# ------------------------------------------------ a whole program, run twice

PROGRAM = r"""
import hashlib, sys
import numpy as np
import gradkit as gk
from gradkit.datasets import make_moons
from gradkit.utils import set_random_seed, train_test_split, to_categorical

set_random_seed(int(sys.argv[1]))
x, y = make_moons(120, noise=0.2)                      # seed=None: the global generator
x_tr, x_te, y_tr, y_te = train_test_split(x, y, test_size=0.25)
model = gk.Sequential([gk.Input((2,)), gk.layers.Dense(16, activation="relu"),
                       gk.layers.Dropout(0.3), gk.layers.Dense(2, activation="softmax")])
model.compile(optimizer="adam", loss="categorical_crossentropy")
model.fit(x_tr, to_categorical(y_tr, 2), epochs=2, batch_size=16, shuffle=True, verbose=0)
weights = hashlib.sha256(b"".join(np.ascontiguousarray(w).tobytes()
                                   for w in model.get_weights()))
predictions = hashlib.sha256(np.ascontiguousarray(model.predict(x_te)).tobytes())
print(weights.hexdigest(), predictions.hexdigest())
"""


def _run(seed):
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    out = subprocess.run([sys.executable, "-c", PROGRAM, str(seed)], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    weights, predictions = out.stdout.split()
    return weights, predictions


def test_a_seeded_program_is_bit_identical_across_processes():
    first, again, other = _run(3), _run(3), _run(4)
    assert first == again  # weights and predictions, bit for bit
    assert other[0] != first[0] and other[1] != first[1]

