"""scikit-learn's own estimator checks (``check_estimator``) on NNClassifier, all of them."""

import pytest

pytest.importorskip("sklearn")

from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

from gradkit.sklearn import NNClassifier  # noqa: E402


@parametrize_with_checks([NNClassifier(epochs=20, n_hidden_units=8, learning_rate=0.1,
                                       optimizer="adam", random_seed=0)])
def test_scikit_learn_estimator_checks(estimator, check):
    check(estimator)
