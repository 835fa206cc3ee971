"""The scikit-learn style estimator, alone and inside scikit-learn's machinery."""

import numpy as np
import pytest

from gradkit.datasets import make_moons
from gradkit.sklearn import NNClassifier, NotFittedError


def data():
    x, y = make_moons(400, noise=0.1, seed=0)
    return x[:300], y[:300], x[300:], y[300:]


def test_fit_predict_proba_score():
    xtr, ytr, xte, yte = data()
    clf = NNClassifier(n_hidden_units=16, activation="tanh", epochs=60, learning_rate=0.1,
                       n_batches=10, random_seed=0, optimizer="adam")
    assert clf.fit(xtr, ytr) is clf
    proba = clf.predict_proba(xte)
    assert proba.shape == (100, 2)
    np.testing.assert_allclose(proba.sum(1), 1, rtol=1e-5)
    assert set(clf.predict(xte)) <= {0, 1}
    assert clf.score(xte, yte) > 0.85
    assert len(clf.error_) == 60 and clf.error_[-1] < clf.error_[0]


def test_string_labels_and_l1_l2():
    xtr, ytr, _, _ = data()
    labels = np.array(["left", "right"])[ytr]
    clf = NNClassifier(n_hidden_units=8, l1=1e-4, l2=1e-3, epochs=30, learning_rate=0.1,
                       n_batches=5, optimizer="adam", random_seed=1).fit(xtr, labels)
    assert set(clf.predict(xtr)) <= {"left", "right"}


def test_params_protocol_and_errors():
    clf = NNClassifier(epochs=3)
    assert clf.get_params()["epochs"] == 3
    clf.set_params(epochs=5, l2=0.1)
    assert clf.epochs == 5 and clf.l2 == 0.1
    with pytest.raises(ValueError, match="unknown parameter 'epoch'"):
        clf.set_params(epoch=1)
    with pytest.raises(NotFittedError, match="not fitted"):
        NNClassifier().predict(np.zeros((1, 2)))
    with pytest.raises(ValueError, match="inconsistent numbers of samples|y must be 1-D"):
        NNClassifier().fit(np.zeros((3, 2)), np.zeros(4))


def test_fit_leaves_the_global_generator_alone():
    from gradkit import random as R

    xtr, ytr, _, _ = data()
    R.seed(7)
    expected = R.generator().random(3)
    R.seed(7)
    a = NNClassifier(epochs=3, random_seed=1).fit(xtr, ytr)
    np.testing.assert_array_equal(R.generator().random(3), expected)  # not reseeded
    b = NNClassifier(epochs=3, random_seed=1).fit(xtr, ytr)
    np.testing.assert_array_equal(a.predict_proba(xtr), b.predict_proba(xtr))


def test_in_a_pipeline_and_grid_search():
    sk = pytest.importorskip("sklearn")
    from sklearn.model_selection import GridSearchCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    assert sk
    xtr, ytr, xte, yte = data()
    pipe = make_pipeline(StandardScaler(), NNClassifier(epochs=20, n_batches=5,
                                                        optimizer="adam", random_seed=0))
    grid = GridSearchCV(pipe, {"nnclassifier__n_hidden_units": [4, 16],
                               "nnclassifier__learning_rate": [0.05]}, cv=2)
    grid.fit(xtr, ytr)
    assert grid.best_params_["nnclassifier__n_hidden_units"] in (4, 16)
    assert grid.score(xte, yte) > 0.8
