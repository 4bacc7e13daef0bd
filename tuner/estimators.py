"""scikit-learn estimators over the numpy core: ``MLPClassifier`` and ``MLPRegressor``.

``fit`` is ``max_iter`` repetitions of exactly the epoch that ``partial_fit``
runs once, so a search can train epoch by epoch and prune.

Examples
--------
>>> from sklearn.datasets import load_iris
>>> X, y = load_iris(return_X_y=True)
>>> clf = MLPClassifier((16,), max_iter=50, random_state=0).fit(X / 8, y)
>>> clf.n_iter_, clf.n_updates_, clf.predict_proba(X[:2]).shape
(50, 50, (2, 3))
"""

import numpy as np
from sklearn.base import ClassifierMixin, RegressorMixin, _fit_context
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils import multiclass
from sklearn.utils.validation import column_or_1d, validate_data

from ._mlp_base import _ATTRS_DOC, _PARAMS_DOC, BaseMLP, _blas_threads
from .nn.targets import can_encode, encode_labels

__all__ = ["BaseMLP", "MLPClassifier", "MLPRegressor"]


class MLPClassifier(ClassifierMixin, BaseMLP):
    """Multi-layer perceptron classifier trained by the numpy core.

    Softmax + cross-entropy for multiclass targets, sigmoid + binary
    cross-entropy for binary and multilabel ones.
    {params}{attrs}    classes_ : ndarray
        Class labels.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> X, y = load_digits(return_X_y=True)
    >>> clf = MLPClassifier((32,), max_iter=30, random_state=0).fit(X / 16, y)
    >>> bool(clf.score(X / 16, y) > 0.9), clf.out_activation_
    (True, 'softmax')
    """

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, classes=None, *, max_updates=None):
        """Train exactly one epoch (shuffled minibatches) over ``X``, keeping optimizer state.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
            Labels, a subset of ``classes``.
        classes : array-like, default=None
            All classes; required on the first call.
        max_updates : int, default=None
            Stop the epoch after this many weight updates (exact update budgets).

        Returns
        -------
        self : object
        """
        if multiclass._check_partial_fit_first_call(self, classes):
            self._label_binarizer = LabelBinarizer()
            self._label_binarizer.fit(classes)
        with _blas_threads(self.n_threads):
            return self._fit(X, y, incremental=True, max_updates=max_updates)

    def _out_activation(self):
        """softmax for multiclass targets, logistic for binary / multilabel."""
        return "softmax" if self._label_binarizer.y_type_ == "multiclass" else "logistic"

    def _validate_input(self, X, y, *, incremental, reset):
        """Validate; fit the label binarizer or check ``y`` against it; return X, Y, y."""
        X, y = validate_data(self, X, y, multi_output=True, dtype=(np.float64, np.float32),
                             reset=reset)
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        if not hasattr(self, "classes_") or not (self.warm_start or incremental):
            multiclass.check_classification_targets(y)
            self._label_binarizer = LabelBinarizer().fit(y)
            self.classes_ = self._label_binarizer.classes_
        binarizer = self._label_binarizer
        if binarizer.y_type_ in ("binary", "multiclass") and can_encode(y, self.classes_):
            # as binarizer.transform(y), without its np.unique passes (ms per partial_fit)
            Y = encode_labels(y, self.classes_, binary=binarizer.y_type_ == "binary",
                              dtype=X.dtype)
        else:  # multilabel or object labels: the binarizer's general path
            multiclass.check_classification_targets(y)
            encode_labels(multiclass.unique_labels(y), self.classes_)  # raises on unknown labels
            Y = binarizer.transform(y)
        return X, Y, y

    def predict(self, X):
        """Predict class labels.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        y : ndarray of shape (n_samples,), or (n_samples, n_classes) for multilabel targets
        """
        P = self._output(X)
        return self._label_binarizer.inverse_transform(P.ravel() if self.n_outputs_ == 1 else P)

    def predict_proba(self, X):
        """Class probabilities, columns ordered as ``classes_``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
        """
        P = self._output(X)
        return np.hstack([1.0 - P, P]) if self.n_outputs_ == 1 else P

    def predict_log_proba(self, X):
        """Logarithm of :meth:`predict_proba`."""
        return np.log(self.predict_proba(X))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags


class MLPRegressor(RegressorMixin, BaseMLP):
    """Multi-layer perceptron regressor (identity output, squared error).
    {params}{attrs}
    Examples
    --------
    >>> import numpy as np
    >>> X = np.linspace(-1, 1, 200).reshape(-1, 1); y = 3 * X.ravel()
    >>> reg = MLPRegressor((16,), max_iter=300, random_state=0).fit(X, y)
    >>> bool(reg.score(X, y) > 0.95)
    True
    """

    def _out_activation(self):
        """Identity output (squared error)."""
        return "identity"

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, *, max_updates=None):
        """Train exactly one epoch (shuffled minibatches) over ``X``, keeping optimizer state.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
        max_updates : int, default=None
            Stop the epoch after this many weight updates (exact update budgets).

        Returns
        -------
        self : object
        """
        with _blas_threads(self.n_threads):
            return self._fit(X, y, incremental=True, max_updates=max_updates)

    def _validate_input(self, X, y, *, incremental, reset):
        """Validate; return X, 2-D targets Y and y."""
        X, y = validate_data(self, X, y, multi_output=True, y_numeric=True,
                             dtype=(np.float64, np.float32), reset=reset)
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        return X, y.reshape(-1, 1) if y.ndim == 1 else y, y

    def predict(self, X):
        """Predict targets.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        y : ndarray of shape (n_samples,) or (n_samples, n_outputs)
        """
        P = self._output(X)
        return P.ravel() if P.shape[1] == 1 else P


MLPClassifier.__doc__ = MLPClassifier.__doc__.format(params=_PARAMS_DOC, attrs=_ATTRS_DOC)
MLPRegressor.__doc__ = MLPRegressor.__doc__.format(params=_PARAMS_DOC, attrs=_ATTRS_DOC)
