"""scikit-learn estimators over the numpy core: ``MLPClassifier`` and ``MLPRegressor``.

Parameters reuse scikit-learn's MLP names (``hidden_layer_sizes``, ``solver``,
``alpha``, ``batch_size``, ``learning_rate_init``, ``max_iter`` = epochs, ...)
and add ``dropout``, ``rho`` (RMSProp), schedule options and ``dtype`` /
``n_threads``.  ``fit`` is ``max_iter`` repetitions of exactly the epoch that
``partial_fit`` runs once, so a search can train epoch by epoch and prune.

Examples
--------
>>> from sklearn.datasets import load_iris
>>> X, y = load_iris(return_X_y=True)
>>> clf = MLPClassifier((16,), max_iter=50, random_state=0).fit(X / 8, y)
>>> clf.n_iter_, clf.n_updates_, clf.predict_proba(X[:2]).shape
(50, 50, (2, 3))
"""

import warnings
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, _fit_context
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import accuracy_score, r2_score
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, Options, StrOptions
from sklearn.utils.multiclass import (
    _check_partial_fit_first_call,
    check_classification_targets,
    unique_labels,
)
from sklearn.utils.validation import check_is_fitted, column_or_1d, validate_data
from threadpoolctl import ThreadpoolController

from .nn.network import MLPNetwork, forward_pass
from .nn.optimizers import get_optimizer
from .nn.schedules import SCHEDULES, LearningRateSchedule
from .nn.training import Plateau, Trainer

_CONTROLLER = []  # one lazily created ThreadpoolController (creating one costs ~3 ms)


def _blas_threads(n_threads):
    """Context limiting BLAS to ``n_threads`` (no limit when None)."""
    if not _CONTROLLER:
        _CONTROLLER.append(ThreadpoolController())
    return _CONTROLLER[0].limit(limits=n_threads, user_api="blas")


_PARAMS_DOC = """
    Parameters
    ----------
    hidden_layer_sizes : array-like of int, default=(100,)
        Units of each hidden layer.
    activation : {"identity", "logistic", "tanh", "relu"}, default="relu"
        Hidden activation (He initialisation before relu, Glorot otherwise).
    solver : {"sgd", "rmsprop", "adam"}, default="adam"
        Optimizer; update rules in :mod:`tuner.nn.optimizers`.
    alpha : float, default=1e-4
        L2 strength: objective ``mean loss + alpha / (2 n) ||W||**2`` over the ``n``
        training rows, estimated without bias by every minibatch whatever its size.
    batch_size : int, "auto" or "full", default="auto"
        Rows per update; "auto" = ``min(200, n)``, "full" = batch gradient descent.
    learning_rate : {"constant", "invscaling", "step", "cosine"}, default="constant"
        Per-epoch schedule of the rate (formulas in :mod:`tuner.nn.schedules`), with
        ``learning_rate_init``, ``power_t``, ``lr_step_size``, ``lr_gamma`` and a
        linear warmup of ``warmup_epochs``; "cosine" anneals over ``max_iter`` epochs.
    max_iter : int, default=200
        Epochs of ``fit``.
    shuffle, random_state, verbose, warm_start : as in scikit-learn's MLP
        ``random_state`` seeds initialisation, shuffles, dropout and the validation split;
        ``warm_start`` starts ``fit`` from the current (possibly user-set) ``coefs_``.
    tol, n_iter_no_change : float, int; default=1e-4, 10
        Stop when the training loss (validation score with ``early_stopping``) has not
        improved by ``tol`` for more than ``n_iter_no_change`` epochs.
    early_stopping, validation_fraction : bool, float; default=False, 0.1
        Hold out a fraction of the rows, stop on its score, restore the best weights.
    momentum, nesterovs_momentum, rho, beta_1, beta_2, epsilon : float
        SGD momentum (0.9, Nesterov by default), RMSProp decay ``rho`` (0.9),
        Adam decays (0.9, 0.999); ``epsilon`` (1e-8) serves Adam and RMSProp.
    dropout : float, default=0.0
        Inverted-dropout rate of the hidden layers, at training time only.
    dtype : {None, "float32", "float64"}, default=None
        Working precision; None keeps float32 input as float32, anything else float64.
    n_threads : int or None, default=1
        BLAS threads during fit and predict (None: leave unchanged).
"""

_ATTRS_DOC = """
    Attributes
    ----------
    coefs_, intercepts_ : list of ndarray
        Weights and biases of each layer (assignable before a warm-start fit).
    loss_, loss_curve_, best_loss_ : float, list, float or None
        Mean training loss (with L2) of the last / every epoch; best (None with early stopping).
    validation_scores_, best_validation_score_ : list, float or None
        Held-out scores with ``early_stopping`` (None otherwise).
    n_iter_, t_, n_updates_ : int
        Epochs of the last fit (counting on with ``partial_fit``), samples seen, updates.
    n_layers_, n_outputs_, out_activation_, n_features_in_, feature_names_in_
        Network shape, output activation and input description.
"""


class BaseMLP(BaseEstimator):
    """Shared training logic of :class:`MLPClassifier` and :class:`MLPRegressor`."""

    _parameter_constraints: dict = {
        "hidden_layer_sizes": ["array-like", Interval(Integral, 1, None, closed="left")],
        "activation": [StrOptions({"identity", "logistic", "tanh", "relu"})],
        "solver": [StrOptions({"sgd", "rmsprop", "adam"})],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "batch_size": [StrOptions({"auto", "full"}), Interval(Integral, 1, None, closed="left")],
        "learning_rate": [StrOptions(set(SCHEDULES))],
        "learning_rate_init": [Interval(Real, 0, None, closed="neither")],
        "power_t": [Interval(Real, 0, None, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "shuffle": ["boolean"],
        "random_state": ["random_state"],
        "tol": [Interval(Real, 0, None, closed="left")],
        "verbose": ["verbose"],
        "warm_start": ["boolean"],
        "momentum": [Interval(Real, 0, 1, closed="both")],
        "nesterovs_momentum": ["boolean"],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "beta_1": [Interval(Real, 0, 1, closed="left")],
        "beta_2": [Interval(Real, 0, 1, closed="left")],
        "epsilon": [Interval(Real, 0, None, closed="neither")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left"), Options(Real, {np.inf})],
        "dropout": [Interval(Real, 0, 1, closed="left")],
        "rho": [Interval(Real, 0, 1, closed="left")],
        "lr_step_size": [Interval(Integral, 1, None, closed="left")],
        "lr_gamma": [Interval(Real, 0, 1, closed="right")],
        "warmup_epochs": [Interval(Integral, 0, None, closed="left")],
        "dtype": [None, StrOptions({"float32", "float64"})],
        "n_threads": [None, Interval(Integral, 1, None, closed="left")],
    }

    def __init__(self, hidden_layer_sizes=(100,), activation="relu", *, solver="adam",
                 alpha=1e-4, batch_size="auto", learning_rate="constant",
                 learning_rate_init=1e-3, power_t=0.5, max_iter=200, shuffle=True,
                 random_state=None, tol=1e-4, verbose=False, warm_start=False, momentum=0.9,
                 nesterovs_momentum=True, early_stopping=False, validation_fraction=0.1,
                 beta_1=0.9, beta_2=0.999, epsilon=1e-8, n_iter_no_change=10, dropout=0.0,
                 rho=0.9, lr_step_size=10, lr_gamma=0.5, warmup_epochs=0, dtype=None,
                 n_threads=1):
        for name, value in locals().items():
            if name != "self":
                setattr(self, name, value)

    # ------------------------------------------------------------------ fitting
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y):
        """Train for ``max_iter`` epochs (fewer if the plateau rule stops it).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training inputs.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Targets.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        with _blas_threads(self.n_threads):
            return self._fit(X, y, incremental=False)

    def _fit(self, X, y, *, incremental):
        """Validate, (re)initialise, then run epochs with the shared epoch code."""
        first = not hasattr(self, "coefs_") or not (self.warm_start or incremental)
        X, Y, y = self._validate_input(X, y, incremental=incremental, reset=first)
        if incremental and self.early_stopping:
            raise ValueError("partial_fit does not support early_stopping=True")
        if not incremental or not hasattr(self, "_rng"):
            # A fresh generator per fit, seeded from random_state (bit-identical refits).
            seed = check_random_state(self.random_state).randint(2**31 - 1)
            self._rng = np.random.default_rng(seed)
        dtype = self._work_dtype(X, first)
        X, Y = np.ascontiguousarray(X, dtype=dtype), np.ascontiguousarray(Y, dtype=dtype)
        if first:
            self._initialize(X.shape[1], Y.shape[1], dtype)
        self._prepare_training(incremental)
        if incremental:
            if self._plateau.mode != "min":  # the last fit monitored a validation score
                self._plateau = Plateau(tol=self.tol, n_iter_no_change=self.n_iter_no_change)
            self._run_epoch(X, Y)
            self._plateau.update(self.loss_)
            self.best_loss_ = self._plateau.best
        else:
            self._fit_epochs(X, Y, y)
        return self

    def _work_dtype(self, X, first):
        """The network's dtype: fixed at initialisation, from ``dtype`` or the input."""
        if not first:
            return self.coefs_[0].dtype
        return np.dtype(self.dtype) if self.dtype is not None else X.dtype

    def _initialize(self, n_features, n_outputs, dtype):
        """Build and randomly initialise the network; reset the counters."""
        hidden = np.atleast_1d(np.asarray(self.hidden_layer_sizes, dtype=object)).tolist()
        if not all(isinstance(h, Integral) and h > 0 for h in hidden):
            raise ValueError(f"hidden_layer_sizes must be > 0, got {self.hidden_layer_sizes}.")
        sizes = [n_features, *hidden, n_outputs]
        self.out_activation_ = self._out_activation()
        self._network = MLPNetwork(sizes, activation=self.activation, dtype=dtype,
                                   out_activation=self.out_activation_, dropout=self.dropout)
        self._network.initialize(self._rng)
        self.n_layers_, self.n_outputs_ = len(sizes), n_outputs
        self.n_iter_, self.t_, self.n_updates_, self.loss_curve_ = 0, 0, 0, []
        self._plateau = Plateau(tol=self.tol, n_iter_no_change=self.n_iter_no_change)
        self.best_loss_ = np.inf
        self._publish_weights()
        self.__dict__.pop("_trainer", None)

    def _publish_weights(self):
        """Expose the network's per-layer views as ``coefs_`` / ``intercepts_``."""
        self.coefs_, self.intercepts_ = list(self._network.coefs), list(self._network.intercepts)

    def _prepare_training(self, incremental):
        """Copy (possibly user-set) weights in; keep or renew the optimizer; apply params."""
        net = self._network
        net.set_weights(self.coefs_, self.intercepts_)
        net.set_dropout(self.dropout)
        if not incremental or not hasattr(self, "_trainer"):
            optimizer = get_optimizer(
                self.solver, net.params, net.grads, momentum=self.momentum,
                nesterov=self.nesterovs_momentum, rho=self.rho, beta_1=self.beta_1,
                beta_2=self.beta_2, epsilon=self.epsilon)
            self._trainer = Trainer(net, optimizer, rng=self._rng)
        trainer = self._trainer
        trainer.batch_size, trainer.alpha, trainer.shuffle = self.batch_size, self.alpha, self.shuffle
        trainer.rng = self._rng
        self._schedule = LearningRateSchedule(
            self.learning_rate, self.learning_rate_init, power_t=self.power_t,
            step_size=self.lr_step_size, gamma=self.lr_gamma,
            warmup_epochs=self.warmup_epochs, max_iter=self.max_iter)
        self._publish_weights()

    def _run_epoch(self, X, Y):
        """One epoch at the scheduled learning rate; update the counters."""
        lr = self._schedule(self.n_iter_)
        result = self._trainer.run_epoch(X, Y, lr, epoch=self.n_iter_ + 1)
        self.n_iter_ += 1
        self.t_ += result.n_samples
        self.n_updates_ += result.n_updates
        self.loss_ = result.loss
        self.loss_curve_.append(result.loss)
        if self.verbose:
            print(f"Iteration {self.n_iter_}, loss = {self.loss_:.8f}, lr = {lr:.6g}")

    def _fit_epochs(self, X, Y, y):
        """``fit``'s loop: epochs until ``max_iter`` or the plateau rule."""
        X_val = y_val = None
        if self.early_stopping:
            X, X_val, Y, _, _, y_val = self._split(X, Y, y)
        self.n_iter_ = 0
        self._plateau = Plateau(tol=self.tol, n_iter_no_change=self.n_iter_no_change,
                                mode="max" if self.early_stopping else "min")
        self.validation_scores_ = [] if self.early_stopping else None
        self.best_validation_score_ = -np.inf if self.early_stopping else None
        self.best_loss_ = None if self.early_stopping else np.inf
        best_params = None
        for _ in range(self.max_iter):
            self._run_epoch(X, Y)
            monitored = self._score(X_val, y_val) if self.early_stopping else self.loss_
            if self.early_stopping:
                self.validation_scores_.append(monitored)
            if self._plateau.update(monitored):
                if self.early_stopping:
                    self.best_validation_score_ = monitored
                    best_params = self._network.params.copy()
                else:
                    self.best_loss_ = monitored
            if self._plateau.should_stop:
                break
        else:
            warnings.warn(f"Stochastic Optimizer: Maximum iterations ({self.max_iter}) "
                          "reached and the optimization hasn't converged yet.",
                          ConvergenceWarning, stacklevel=3)
        if best_params is not None:
            self._network.params[:] = best_params  # restore the best validation weights

    def _split(self, X, Y, y):
        """Hold out ``validation_fraction`` of the rows (stratified for classifiers)."""
        stratify = y if is_single_output_classifier(self) else None
        parts = train_test_split(X, Y, y, test_size=self.validation_fraction, stratify=stratify,
                                 random_state=int(self._rng.integers(2**31 - 1)))
        if parts[1].shape[0] < 2:
            raise ValueError("The validation set is too small. Increase 'validation_fraction' "
                             "or the size of your dataset.")
        return parts

    # --------------------------------------------------------------- predicting
    def _output(self, X, *, check_input=True):
        """Network output for ``X`` (validated and cast to the weights' dtype)."""
        check_is_fitted(self)
        if check_input:
            X = validate_data(self, X, reset=False, dtype=(np.float64, np.float32))
        X = np.asarray(X, dtype=self.coefs_[0].dtype)
        with _blas_threads(self.n_threads):
            return forward_pass(X, self.coefs_, self.intercepts_, self.activation,
                                self.out_activation_)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        return tags


def is_single_output_classifier(est):
    """True for a classifier with one label column (stratified splits possible)."""
    return isinstance(est, ClassifierMixin) and est.n_outputs_ == 1


class MLPClassifier(ClassifierMixin, BaseMLP):
    """Multi-layer perceptron classifier trained by the numpy core.

    Softmax + cross-entropy for multiclass targets, sigmoid + binary
    cross-entropy for binary and multilabel ones.
    {params}{attrs}
    classes_ : ndarray
        Class labels.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> X, y = load_digits(return_X_y=True)
    >>> clf = MLPClassifier((32,), max_iter=10, random_state=0).fit(X / 16, y)
    >>> bool(clf.score(X / 16, y) > 0.9), clf.out_activation_
    (True, 'softmax')
    """

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, classes=None):
        """Train exactly one epoch (shuffled minibatches) over ``X``, keeping optimizer state.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Inputs.
        y : array-like of shape (n_samples,)
            Labels (a subset of ``classes`` is fine).
        classes : array-like, default=None
            All classes; required on the first call.

        Returns
        -------
        self : object
            The updated estimator.
        """
        if _check_partial_fit_first_call(self, classes):
            self._label_binarizer = LabelBinarizer()
            self._label_binarizer.fit(classes)
        with _blas_threads(self.n_threads):
            return self._fit(X, y, incremental=True)

    def _out_activation(self):
        """softmax for multiclass targets, logistic for binary / multilabel."""
        return "softmax" if self._label_binarizer.y_type_ == "multiclass" else "logistic"

    def _validate_input(self, X, y, *, incremental, reset):
        """Validate; fit or check the label binarizer; return X, one-hot Y and y."""
        X, y = validate_data(self, X, y, multi_output=True, dtype=(np.float64, np.float32),
                             reset=reset)
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        check_classification_targets(y)
        if not hasattr(self, "classes_") or not (self.warm_start or incremental):
            self._label_binarizer = LabelBinarizer().fit(y)
            self.classes_ = self._label_binarizer.classes_
        elif self.warm_start and not incremental and set(unique_labels(y)) != set(self.classes_):
            raise ValueError("warm_start can only be used where `y` has the same classes as in "
                             f"the previous call to fit. Previously got {self.classes_}, "
                             f"`y` has {unique_labels(y)}")
        elif len(np.setdiff1d(unique_labels(y), self.classes_)):
            raise ValueError(f"`y` has classes not in `self.classes_`. `self.classes_` has "
                             f"{self.classes_}. 'y' has {unique_labels(y)}.")
        return X, self._label_binarizer.transform(y), y

    def _score(self, X, y):
        """Accuracy, the early-stopping score."""
        return accuracy_score(y, self._predict(X, check_input=False))

    def _predict(self, X, *, check_input=True):
        """Labels from the network output."""
        P = self._output(X, check_input=check_input)
        return self._label_binarizer.inverse_transform(P.ravel() if self.n_outputs_ == 1 else P)

    def predict(self, X):
        """Predict class labels.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Inputs.

        Returns
        -------
        y : ndarray of shape (n_samples,) or (n_samples, n_classes)
            Predicted labels (indicator rows for multilabel targets).
        """
        return self._predict(X)

    def predict_proba(self, X):
        """Class probabilities, columns ordered as ``classes_``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Inputs.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Probabilities.
        """
        P = self._output(X)
        return np.hstack([1.0 - P, P]) if self.n_outputs_ == 1 else P

    def predict_log_proba(self, X):
        """Logarithm of :meth:`predict_proba`."""
        proba = self.predict_proba(X)
        return np.log(proba, out=proba)

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
    def partial_fit(self, X, y):
        """Train exactly one epoch (shuffled minibatches) over ``X``, keeping optimizer state.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Inputs.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Targets.

        Returns
        -------
        self : object
            The updated estimator.
        """
        with _blas_threads(self.n_threads):
            return self._fit(X, y, incremental=True)

    def _validate_input(self, X, y, *, incremental, reset):
        """Validate; return X, 2-D targets Y and y."""
        X, y = validate_data(self, X, y, multi_output=True, y_numeric=True,
                             dtype=(np.float64, np.float32), reset=reset)
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        return X, y.reshape(-1, 1) if y.ndim == 1 else y, y

    def _score(self, X, y):
        """R^2, the early-stopping score."""
        return r2_score(y, self._predict(X, check_input=False))

    def _predict(self, X, *, check_input=True):
        """Network output, 1-D for one target."""
        P = self._output(X, check_input=check_input)
        return P.ravel() if P.shape[1] == 1 else P

    def predict(self, X):
        """Predict targets.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Inputs.

        Returns
        -------
        y : ndarray of shape (n_samples,) or (n_samples, n_outputs)
            Predictions.
        """
        return self._predict(X)


MLPClassifier.__doc__ = MLPClassifier.__doc__.format(params=_PARAMS_DOC, attrs=_ATTRS_DOC)
MLPRegressor.__doc__ = MLPRegressor.__doc__.format(params=_PARAMS_DOC, attrs=_ATTRS_DOC)
