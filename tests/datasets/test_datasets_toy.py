"""Toy datasets: shapes, dtypes, geometry, determinism and argument checks."""

import numpy as np
import pytest

from gradkit.datasets import make_circles, make_moons, make_regression, make_spirals, make_xor

CLASSIFIERS = [make_xor, make_circles, make_moons, make_spirals]


def test_xor_truth_table():
    x, y = make_xor()
    assert x.dtype == np.float32 and y.dtype == np.int64
    np.testing.assert_array_equal(x, [[0, 0], [0, 1], [1, 0], [1, 1]])
    np.testing.assert_array_equal(y, [0, 1, 1, 0])


def test_xor_many_noisy_points():
    x, y = make_xor(400, noise=0.1, seed=0)
    assert x.shape == (400, 2) and y.shape == (400,)
    assert np.bincount(y).tolist() == [200, 200]
    # the noise is small: rounding recovers the corner, and the label is its XOR
    corners = np.round(x).clip(0, 1).astype(int)
    assert np.mean((corners[:, 0] ^ corners[:, 1]) == y) > 0.95


@pytest.mark.parametrize("n", [1, 2, 7, 100])
@pytest.mark.parametrize("make", CLASSIFIERS, ids=lambda f: f.__name__)
def test_classification_shapes_and_dtypes(make, n):
    x, y = make(n, seed=0)
    assert x.shape == (n, 2) and x.dtype == np.float32
    assert y.shape == (n,) and y.dtype == np.int64
    assert np.isfinite(x).all()


@pytest.mark.parametrize("make", CLASSIFIERS, ids=lambda f: f.__name__)
def test_same_seed_same_data(make):
    a = make(50, noise=0.1, seed=3)
    b = make(50, noise=0.1, seed=3)
    c = make(50, noise=0.1, seed=4)
    for u, v in zip(a, b):
        np.testing.assert_array_equal(u, v)
    assert not np.array_equal(a[0], c[0])


@pytest.mark.parametrize("make", CLASSIFIERS, ids=lambda f: f.__name__)
def test_generator_seed(make):
    x1, _ = make(20, noise=0.1, seed=np.random.default_rng(5))
    x2, _ = make(20, noise=0.1, seed=np.random.default_rng(5))
    np.testing.assert_array_equal(x1, x2)


def test_circles_geometry():
    x, y = make_circles(101, factor=0.3, seed=0)
    radius = np.hypot(x[:, 0], x[:, 1])
    np.testing.assert_allclose(radius[y == 0], 1.0, rtol=1e-6)
    np.testing.assert_allclose(radius[y == 1], 0.3, rtol=1e-6)
    assert np.bincount(y).tolist() == [51, 50]


def test_moons_geometry():
    x, y = make_moons(100, seed=0)
    upper, lower = x[y == 0], x[y == 1]
    np.testing.assert_allclose(np.hypot(*upper.T), 1.0, rtol=1e-6)
    np.testing.assert_allclose(np.hypot(lower[:, 0] - 1, lower[:, 1] - 0.5), 1.0, rtol=1e-6)
    assert (upper[:, 1] >= -1e-6).all() and (lower[:, 1] <= 0.5 + 1e-6).all()


def test_spirals_classes_balanced():
    x, y = make_spirals(302, n_classes=3, seed=0)
    assert np.bincount(y).tolist() == [101, 101, 100]
    radius = np.hypot(x[:, 0], x[:, 1])
    assert radius.min() >= 0.1 - 1e-6 and radius.max() <= 1 + 1e-6


def test_spirals_fewer_points_than_classes():
    _, y = make_spirals(2, n_classes=3, seed=0)
    assert sorted(y.tolist()) == [0, 1]


def test_shuffled_not_sorted_by_class():
    _, y = make_moons(100, seed=0)
    assert not (np.diff(y) >= 0).all()


def test_regression_exact_without_noise():
    x, y, w, b = make_regression(64, n_features=3, seed=0)
    assert x.shape == (64, 3) and y.shape == (64, 1)
    assert w.shape == (3, 1) and b.shape == (1,)
    assert all(a.dtype == np.float32 for a in (x, y, w, b))
    np.testing.assert_allclose(x @ w + b, y, rtol=1e-5, atol=1e-5)
    # least squares recovers the parameters
    design = np.hstack([x, np.ones((64, 1), np.float32)])
    solution = np.linalg.lstsq(design, y, rcond=None)[0]
    np.testing.assert_allclose(solution[:3], w, atol=1e-4)
    np.testing.assert_allclose(solution[3], b, atol=1e-4)


def test_regression_noise_and_targets():
    x, y, w, b = make_regression(500, n_features=2, noise=0.5, seed=1, n_targets=3)
    assert y.shape == (500, 3) and w.shape == (2, 3) and b.shape == (3,)
    residual = y - (x @ w + b)
    assert 0.4 < residual.std() < 0.6


def test_regression_deterministic():
    a = make_regression(10, 2, noise=0.1, seed=9)
    b = make_regression(10, 2, noise=0.1, seed=9)
    for u, v in zip(a, b):
        np.testing.assert_array_equal(u, v)


@pytest.mark.parametrize(
    "call, exc, match",
    [
        (lambda: make_xor(0), ValueError,
         r"make_xor: n_samples must be an integer >= 1, received 0"),
        (lambda: make_xor(2.5), TypeError, r"make_xor: n_samples must be an integer"),
        (lambda: make_xor(True), TypeError, r"make_xor: n_samples must be an integer"),
        (lambda: make_circles(noise=-1), ValueError,
         r"make_circles: noise must be a finite number >= 0.0, received -1"),
        (lambda: make_circles(noise=float("nan")), ValueError, r"make_circles: noise"),
        (lambda: make_circles(factor=1.0), ValueError,
         r"make_circles: factor must be .* >= 0.0 and < 1.0, received 1.0"),
        (lambda: make_moons(-3), ValueError,
         r"make_moons: n_samples must be an integer >= 1, received -3"),
        (lambda: make_moons(noise="x"), TypeError, r"make_moons: noise must be a finite number"),
        (lambda: make_spirals(n_classes=1), ValueError,
         r"make_spirals: n_classes must be an integer >= 2, received 1"),
        (lambda: make_spirals(0), ValueError, r"make_spirals: n_samples must be an integer >= 1"),
        (lambda: make_regression(n_features=0), ValueError, r"make_regression: n_features"),
        (lambda: make_regression(n_targets=0), ValueError, r"make_regression: n_targets"),
        (lambda: make_regression(seed=-1), ValueError,
         r"make_regression: seed must be an integer >= 0, received -1"),
        (lambda: make_regression(seed="a"), TypeError, r"make_regression: seed must be None"),
    ],
)
def test_argument_errors(call, exc, match):
    with pytest.raises(exc, match=match):
        call()
