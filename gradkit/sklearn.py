"""A scikit-learn style classifier over a gradkit MLP (``fit/predict/predict_proba/score``).

It drops into scikit-learn pipelines and grid searches (scikit-learn is an
optional extra: without it the estimator still works on its own).

Example::

    clf = NNClassifier(n_hidden_units=50, l2=0.0125, epochs=300, learning_rate=0.02,
                       n_batches=25, random_seed=1)
    clf.fit(x_train, y_train).score(x_test, y_test)

The loss is the batch *mean* plus ``l1 * sum|w| + l2 * sum(w^2)``: a tutorial that sums
the gradient over a mini-batch of B samples and adds ``l2 * w`` takes the same steps
with ``learning_rate * B`` and ``l2 / (2 B)`` here (examples/002 shows the numbers).
"""

from __future__ import annotations

import inspect

import numpy as np

try:  # inherit scikit-learn's plumbing (clone, tags, repr, input checks) when installed
    from sklearn.base import BaseEstimator as _Base
    from sklearn.base import ClassifierMixin as _Mixin
    from sklearn.exceptions import NotFittedError
    from sklearn.utils.multiclass import check_classification_targets
    from sklearn.utils.validation import check_is_fitted, validate_data

    _BASES: tuple = (_Mixin, _Base)
except ImportError:  # pragma: no cover - exercised without scikit-learn
    _BASES = (object,)
    validate_data = None

    class NotFittedError(ValueError, AttributeError):
        """The estimator is used before ``fit`` (scikit-learn's exception of that name)."""


class NNClassifier(*_BASES):
    """A one-hidden-layer neural-network classifier trained by mini-batch gradient descent.

    Args:
        n_hidden_units: width of the hidden layer.
        l1, l2: L1 / L2 penalties on the weights (added to the loss).
        epochs: passes over the training data.
        learning_rate: step size.
        n_batches: split each epoch into this many mini-batches (the tutorial's
            habit); ``batch_size`` overrides it when given.
        activation: hidden activation (``"sigmoid"``, ``"relu"``, ``"tanh"``...).
        optimizer: ``"sgd"`` (default), ``"adam"``, ``"rmsprop"``...
        momentum: SGD momentum.
        random_seed: seed for weights and shuffling (runs repeat exactly).
        verbose: 0 silent, 1 a progress bar, 2 a line per epoch.

    Attributes (after ``fit``):
        classes_: the class labels seen; ``n_features_in_``; ``model_``: the gradkit
        model; ``error_``: the training loss per epoch.
    """

    _estimator_type = "classifier"

    def __init__(self, n_hidden_units=30, l1=0.0, l2=0.0, epochs=500, learning_rate=0.01,
                 n_batches=1, batch_size=None, activation="sigmoid", optimizer="sgd",
                 momentum=0.0, random_seed=None, verbose=0):
        self.n_hidden_units = n_hidden_units
        self.l1 = l1
        self.l2 = l2
        self.epochs = epochs
        self.learning_rate = learning_rate
        self.n_batches = n_batches
        self.batch_size = batch_size
        self.activation = activation
        self.optimizer = optimizer
        self.momentum = momentum
        self.random_seed = random_seed
        self.verbose = verbose

    # scikit-learn's protocol, also without scikit-learn installed
    @classmethod
    def _get_param_names(cls):
        sig = inspect.signature(cls.__init__)
        return sorted(p for p in sig.parameters if p != "self")

    def get_params(self, deep=True):
        """The constructor arguments (scikit-learn protocol)."""
        return {k: getattr(self, k) for k in self._get_param_names()}

    def set_params(self, **params):
        """Set constructor arguments (scikit-learn protocol); returns self."""
        valid = set(self._get_param_names())
        for k, v in params.items():
            if k not in valid:
                raise ValueError(f"NNClassifier.set_params: unknown parameter {k!r}; valid: "
                                 f"{', '.join(sorted(valid))}")
            setattr(self, k, v)
        return self

    def _build(self, n_features, n_classes):
        from gradkit import optimizers, regularizers
        from gradkit.layers import Dense
        from gradkit.models import Sequential

        reg = regularizers.L1L2(l1=self.l1, l2=self.l2) if (self.l1 or self.l2) else None
        model = Sequential([
            Dense(self.n_hidden_units, activation=self.activation, input_shape=(n_features,),
                  kernel_regularizer=reg),
            Dense(n_classes, activation="softmax", kernel_regularizer=reg),
        ])
        if self.optimizer == "sgd":
            opt = optimizers.SGD(learning_rate=self.learning_rate, momentum=self.momentum)
        else:
            opt = optimizers.get(self.optimizer)
            opt.learning_rate = self.learning_rate
        model.compile(optimizer=opt, loss="sparse_categorical_crossentropy")
        return model

    def fit(self, X, y):
        """Train on ``X`` (n_samples, n_features) and labels ``y`` (n_samples,); returns self.

        Inputs are checked as scikit-learn's own estimators check them (when it is
        installed): 2-D finite real ``X``, dense only, one class label per row. The
        weights and the shuffling draw from ``random_seed`` through
        :func:`gradkit.random.scoped`; the caller's global generator is left as it was.
        """
        from gradkit import random as R

        X, y = self._check_xy(X, y)
        self.classes_, y_idx = np.unique(y, return_inverse=True)
        with R.scoped(self.random_seed):
            self.model_ = self._build(X.shape[1], len(self.classes_))
            batch = self.batch_size or max(1, int(np.ceil(len(X) / max(1, self.n_batches))))
            hist = self.model_.fit(X, y_idx.astype("int64"), epochs=self.epochs,
                                   batch_size=batch, verbose=self.verbose, shuffle=True)
        self.error_ = list(hist.history.get("loss", []))
        return self

    def _check_xy(self, X, y):
        if validate_data is not None:
            X, y = validate_data(self, X, y)
            check_classification_targets(y)
            return X.astype("float32"), y
        X = np.asarray(X, dtype="float32")  # pragma: no cover - without scikit-learn
        y = np.asarray(y)
        if X.ndim != 2:
            raise ValueError(f"NNClassifier.fit: X must be 2-D (n_samples, n_features), got "
                             f"shape {X.shape}")
        if y.ndim != 1 or len(y) != len(X):
            raise ValueError(f"NNClassifier.fit: y must be 1-D with one label per row of X: X "
                             f"has {len(X)} rows, y has shape {y.shape}")
        self.n_features_in_ = X.shape[1]
        return X, y

    def _check_x(self, X):
        if validate_data is not None:
            check_is_fitted(self)
            return validate_data(self, X, reset=False).astype("float32")
        if not hasattr(self, "model_"):  # pragma: no cover - without scikit-learn
            raise NotFittedError("NNClassifier is not fitted yet: call fit(X, y) first")
        X = np.asarray(X, dtype="float32")
        if X.ndim != 2 or X.shape[1] != self.n_features_in_:
            raise ValueError(f"NNClassifier: X must have shape (n, {self.n_features_in_}), got "
                             f"{X.shape}")
        return X

    def __sklearn_is_fitted__(self):
        return hasattr(self, "model_")

    def predict_proba(self, X):
        """Class probabilities, shape (n_samples, n_classes)."""
        X = self._check_x(X)  # checks fitted first
        return self.model_.predict(X, batch_size=1024)

    def predict(self, X):
        """The most probable class label of each row."""
        proba = self.predict_proba(X)  # checks fitted first
        return self.classes_[np.argmax(proba, axis=1)]

    def score(self, X, y, sample_weight=None):
        """Mean accuracy on ``(X, y)``."""
        pred = self.predict(X)
        y = np.asarray(y)
        if sample_weight is None:
            return float(np.mean(pred == y))
        w = np.asarray(sample_weight, dtype=float)
        return float(np.sum((pred == y) * w) / np.sum(w))


MLPClassifier = NNClassifier
