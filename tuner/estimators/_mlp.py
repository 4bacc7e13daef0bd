"""The public classes :class:`MLPClassifier` and :class:`MLPRegressor` (training in ``_base``)."""

import numpy as np
from sklearn.base import ClassifierMixin, RegressorMixin, _fit_context
from sklearn.metrics import accuracy_score, r2_score
from sklearn.utils.validation import column_or_1d, validate_data

from . import _labels
from ._base import BaseMLP, _blas_threads
from ._docs import ATTRIBUTES, PARAMETERS


class MLPClassifier(ClassifierMixin, BaseMLP):
    """Multi-layer perceptron classifier trained by the numpy core.

    This model optimizes the log-loss function with stochastic gradient
    descent: softmax + cross-entropy for multiclass targets, sigmoid + binary
    cross-entropy for binary and multilabel ones.
    {params}{attrs}
    classes_ : ndarray of shape (n_classes,)
        Class labels.

    See Also
    --------
    MLPRegressor : Multi-layer perceptron regressor.
    sklearn.neural_network.MLPClassifier : scikit-learn's, whose parameters these are.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> X, y = load_digits(return_X_y=True)
    >>> clf = MLPClassifier((32,), max_iter=30, random_state=0).fit(X / 16, y)
    >>> bool(clf.score(X / 16, y) > 0.9), clf.out_activation_
    (True, 'softmax')
    """

    _metric = staticmethod(accuracy_score)  # the score of early stopping's held-out rows

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, sample_weight=None, classes=None, *, max_updates=None):
        """Train exactly one epoch (shuffled minibatches) over ``X``, keeping optimizer state.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            The input data.
        y : array-like of shape (n_samples,) or (n_samples, n_classes)
            The target values, a subset of ``classes`` (or a multilabel indicator matrix).
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative sample weights (see ``fit``).
        classes : array-like of shape (n_classes,), default=None
            Classes across all calls to partial_fit. Can be obtained via
            ``np.unique(y_all)``, where ``y_all`` is the target vector of the
            entire dataset. This argument is required for the first call to
            partial_fit and can be omitted in the subsequent calls.
        max_updates : int, default=None
            Stop the epoch after this many weight updates (exact update budgets).

        Returns
        -------
        self : object
            Trained MLP model.
        """
        if _labels.first_partial_fit(self, classes):
            self._label_binarizer = _labels.fit_binarizer_on_classes(classes, y)
        with _blas_threads(self.n_threads):
            return self._fit(X, y, sample_weight, incremental=True, max_updates=max_updates)

    def _out_activation(self):
        """softmax for multiclass targets, logistic for binary / multilabel."""
        return _labels.out_activation(self._label_binarizer)

    def _validate_input(self, X, y, *, incremental, reset):
        """Validate; fit the label binarizer or check ``y`` against it; return X, Y, y."""
        X, y = validate_data(self, X, y, multi_output=True, dtype=(np.float64, np.float32),
                             reset=reset, accept_sparse=["csr", "csc"])
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        _labels.check_supported_targets(y)
        if not hasattr(self, "classes_") or not (self.warm_start or incremental):
            self._label_binarizer = _labels.fit_binarizer(y)
            self.classes_ = self._label_binarizer.classes_
        return X, _labels.encode(self._label_binarizer, y, X.dtype), y

    def predict(self, X):
        """Predict using the multi-layer perceptron classifier.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The input data.

        Returns
        -------
        y : ndarray of shape (n_samples,) or (n_samples, n_classes)
            The predicted classes (an indicator matrix for multilabel targets).
        """
        P = self._output(X)  # NotFittedError before the binarizer is looked at
        return self._predict_from_output(P)

    def _class_indices(self, y):
        """Indices of ``y`` in ``classes_`` (None for multilabel targets): for fast scoring."""
        return _labels.indices(self._label_binarizer, y)

    def _predict_from_output(self, P):
        """Class labels (or the indicator matrix) of the output activations ``P``."""
        return _labels.decode(self._label_binarizer, P)

    def predict_proba(self, X):
        """Probability estimates.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The input data.

        Returns
        -------
        y_prob : ndarray of shape (n_samples, n_classes)
            The predicted probability of the sample for each class in the
            model, where classes are ordered as they are in ``classes_``.
        """
        P = self._output(X)
        return np.hstack([1.0 - P, P]) if self.n_outputs_ == 1 else P

    def predict_log_proba(self, X):
        """Return the log of probability estimates.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The input data.

        Returns
        -------
        log_y_prob : ndarray of shape (n_samples, n_classes)
            ``log(predict_proba(X))``, classes ordered as in ``classes_``.
        """
        return np.log(self.predict_proba(X))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags


class MLPRegressor(RegressorMixin, BaseMLP):
    """Multi-layer perceptron regressor trained by the numpy core.

    This model optimizes the squared error (identity output) with stochastic
    gradient descent.
    {params}{attrs}
    See Also
    --------
    MLPClassifier : Multi-layer perceptron classifier.
    sklearn.neural_network.MLPRegressor : scikit-learn's, whose parameters these are.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.linspace(-1, 1, 200).reshape(-1, 1); y = 3 * X.ravel()
    >>> reg = MLPRegressor((16,), max_iter=300, random_state=0).fit(X, y)
    >>> bool(reg.score(X, y) > 0.95)
    True
    """

    _metric = staticmethod(r2_score)  # the score of early stopping's held-out rows

    def _out_activation(self):
        """Identity output (squared error)."""
        return "identity"

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, sample_weight=None, *, max_updates=None):
        """Train exactly one epoch (shuffled minibatches) over ``X``, keeping optimizer state.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            The input data.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            The target values.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative sample weights (see ``fit``).
        max_updates : int, default=None
            Stop the epoch after this many weight updates (exact update budgets).

        Returns
        -------
        self : object
            Trained MLP model.
        """
        with _blas_threads(self.n_threads):
            return self._fit(X, y, sample_weight, incremental=True, max_updates=max_updates)

    def _validate_input(self, X, y, *, incremental, reset):
        """Validate; return X, 2-D targets Y and y."""
        X, y = validate_data(self, X, y, multi_output=True, y_numeric=True,
                             dtype=(np.float64, np.float32), reset=reset,
                             accept_sparse=["csr", "csc"])
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        return X, y.reshape(-1, 1) if y.ndim == 1 else y, y

    def predict(self, X):
        """Predict using the multi-layer perceptron model.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The input data.

        Returns
        -------
        y : ndarray of shape (n_samples,) or (n_samples, n_outputs)
            The predicted values.
        """
        return self._predict_from_output(self._output(X))

    def _predict_from_output(self, P):
        """The predictions of the output activations ``P`` (1-D for one output)."""
        return P.ravel() if P.shape[1] == 1 else P


MLPClassifier.__doc__ = MLPClassifier.__doc__.format(params=PARAMETERS, attrs=ATTRIBUTES)
MLPRegressor.__doc__ = MLPRegressor.__doc__.format(params=PARAMETERS, attrs=ATTRIBUTES)
