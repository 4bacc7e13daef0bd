"""The shared training logic of the estimators: :class:`BaseMLP` over the numpy core.

``fit`` is ``max_iter`` repetitions of exactly the epoch that ``partial_fit``
runs once, so a search can train epoch by epoch and prune.  The public classes
are in :mod:`tuner.estimators._mlp`; the epochs themselves in :mod:`tuner.nn.training`.
"""

import warnings
from contextlib import contextmanager
from functools import partial
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, _fit_context
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.neural_network._multilayer_perceptron import BaseMultilayerPerceptron as _SkMLP
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data
from threadpoolctl import ThreadpoolController

from ..nn.network import MLPNetwork, forward_pass
from ..nn.optimizers import get_optimizer
from ..nn.schedules import SCHEDULES, LearningRateSchedule
from ..nn.training import EarlyStopper, Trainer

_CONTROLLER = []  # one lazily created ThreadpoolController (creating one costs ~3 ms)


def _blas_threads(n_threads):
    """Context limiting BLAS to ``n_threads`` (no limit when None)."""
    if not _CONTROLLER:
        _CONTROLLER.append(ThreadpoolController())
    return _CONTROLLER[0].limit(limits=n_threads, user_api="blas")


class BaseMLP(BaseEstimator):
    """Shared training logic of :class:`MLPClassifier` and :class:`MLPRegressor`.

    Do not use it directly: the subclasses choose the output activation, validate
    and encode targets and predict. The parameters are documented on them.
    """

    # scikit-learn's MLP constraints, with our solvers / schedules / batch sizes and additions.
    _parameter_constraints: dict = {
        **{key: value for key, value in _SkMLP._parameter_constraints.items()
           if key not in ("solver", "learning_rate", "batch_size", "max_fun", "loss")},
        "solver": [StrOptions({"sgd", "rmsprop", "adam"})],
        "batch_size": [StrOptions({"auto", "full"}), Interval(Integral, 1, None, closed="left")],
        "learning_rate": [StrOptions(set(SCHEDULES))],
        "dropout": [Interval(Real, 0, 1, closed="left")],
        "init": [StrOptions({"auto", "he", "glorot"})],
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
                 rho=0.9, lr_step_size=10, lr_gamma=0.5, warmup_epochs=0, init="auto",
                 dtype=None, n_threads=1):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.dropout = dropout
        self.rho = rho
        self.lr_step_size = lr_step_size
        self.lr_gamma = lr_gamma
        self.warmup_epochs = warmup_epochs
        self.init = init
        self.dtype = dtype
        self.n_threads = n_threads

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Train for ``max_iter`` epochs (fewer if the plateau rule stops them).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            The input data (sparse CSR/CSC is densified one minibatch at a time).
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            The target values.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative sample weights: each minibatch's loss is their weighted
            mean, so an integer weight ``w`` trains like the row repeated ``w`` times.

        Returns
        -------
        self : object
        """
        with _blas_threads(self.n_threads):
            return self._fit(X, y, sample_weight, incremental=False)

    def _fit(self, X, y, sample_weight, *, incremental, max_updates=None):
        """Set up, then run one epoch (``partial_fit``) or ``fit``'s epoch loop."""
        X, Y, y, sw = self._setup(X, y, sample_weight, incremental=incremental)
        if incremental:
            self._partial_epoch(X, Y, sw, max_updates)
        else:
            self._fit_epochs(X, Y, y, sw)
        return self

    @contextmanager
    def _epoch_runner(self, X, y):
        """Protected hook of :func:`tuner.lr_finder.lr_find`: a fresh fit, ready to train.

        Validates the parameters and the data as ``fit`` does, builds and
        initialises the network and the optimizer, and yields ``(run_epoch,
        n_rows)``: ``run_epoch(lr, *, epoch, on_batch)`` is
        :meth:`tuner.nn.training.Trainer.run_epoch` on the encoded data (``lr``
        may give one rate per minibatch), called under the estimator's BLAS limit.
        """
        self._validate_params()
        with _blas_threads(self.n_threads):
            X, Y, _, _ = self._setup(X, y, None, incremental=False)
            yield partial(self._trainer.run_epoch, X, Y), X.shape[0]

    def _setup(self, X, y, sample_weight, *, incremental):
        """Validate the data; make network, optimizer and schedule ready; return X, Y, y, sw."""
        first = not hasattr(self, "coefs_") or not (self.warm_start or incremental)
        adopt = not first and not hasattr(self, "_network")  # weights the user set
        reset = first or not hasattr(self, "n_features_in_")
        X, Y, y = self._validate_input(X, y, incremental=incremental, reset=reset)
        if incremental and self.early_stopping:  # as in scikit-learn
            raise ValueError("partial_fit does not support early_stopping=True")
        if not incremental or not hasattr(self, "_rng"):
            # A fresh generator per fit, seeded from random_state (bit-identical refits).
            self._rng = np.random.default_rng(check_random_state(self.random_state).randint(2**31))
        dtype = np.dtype(self.dtype or X.dtype) if first or adopt else self.coefs_[0].dtype
        X, Y = _as_training_array(X, dtype), np.ascontiguousarray(Y, dtype=dtype)
        if sample_weight is not None:
            sample_weight = _validated_weights(sample_weight, X, dtype)
        if first or adopt:
            user_weights = (self.coefs_, self.intercepts_) if adopt else None
            self._initialize(X.shape[1], Y.shape[1], dtype)
            if adopt:  # _prepare_training copies them into the new network
                self.coefs_, self.intercepts_ = user_weights
        self._prepare_training(incremental)
        return X, Y, y, sample_weight

    def _initialize(self, n_features, n_outputs, dtype):
        """Build and randomly initialise the network; reset the counters."""
        hidden = np.atleast_1d(np.asarray(self.hidden_layer_sizes, dtype=object)).tolist()
        if not all(isinstance(h, Integral) and h > 0 for h in hidden):
            raise ValueError(f"hidden_layer_sizes must be > 0, got {self.hidden_layer_sizes}.")
        sizes = [n_features, *hidden, n_outputs]
        self.out_activation_ = self._out_activation()
        self._network = MLPNetwork(sizes, activation=self.activation, dtype=dtype,
                                   out_activation=self.out_activation_, dropout=self.dropout,
                                   init=self.init)
        self._network.initialize(self._rng)
        self.n_layers_, self.n_outputs_, self.loss_curve_ = len(sizes), n_outputs, []
        self.n_iter_, self.t_, self.n_updates_, self.best_loss_ = 0, 0, 0, np.inf
        self.validation_scores_ = self.best_validation_score_ = None
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
        trainer = self._trainer  # parameters may have changed since (set_params)
        trainer.batch_size, trainer.alpha, trainer.rng = self.batch_size, self.alpha, self._rng
        trainer.shuffle = self.shuffle
        self._schedule = LearningRateSchedule(
            self.learning_rate, self.learning_rate_init, power_t=self.power_t,
            step_size=self.lr_step_size, gamma=self.lr_gamma,
            warmup_epochs=self.warmup_epochs, max_iter=self.max_iter)
        self.coefs_, self.intercepts_ = list(net.coefs), list(net.intercepts)  # views of params

    def _run_epoch(self, X, Y, sample_weight, max_updates=None):
        """One epoch (or its first ``max_updates`` minibatches) at the scheduled rate."""
        lr = self._schedule(self.n_iter_)
        result = self._trainer.run_epoch(X, Y, lr, sample_weight=sample_weight,
                                         epoch=self.n_iter_ + 1, max_updates=max_updates)
        self.n_iter_, self.loss_ = self.n_iter_ + 1, result.loss
        self.t_, self.n_updates_ = self.t_ + result.n_samples, self.n_updates_ + result.n_updates
        self.loss_curve_.append(result.loss)
        if self.verbose:
            print(f"Iteration {self.n_iter_}, loss = {self.loss_:.8f}, lr = {lr:.6g}")

    def _fit_epochs(self, X, Y, y, sample_weight):
        """``fit``'s loop: epochs until ``max_iter`` or the plateau rule."""
        validate = None
        if self.early_stopping:
            X, X_val, Y, y_val, sample_weight, sw_val = self._split(X, Y, y, sample_weight)
            # (weighted) accuracy or R^2 of the held-out rows, as scikit-learn's score
            validate = partial(self._validation_score, X_val, y_val, sw_val)
        stopper = EarlyStopper(self._network.params, tol=self.tol, validate=validate,
                               n_iter_no_change=self.n_iter_no_change)
        self.n_iter_ = 0
        for _ in range(self.max_iter):
            self._run_epoch(X, Y, sample_weight)
            if stopper.after_epoch(self.loss_):
                break
        else:
            warnings.warn(f"Stochastic Optimizer: Maximum iterations ({self.max_iter}) "
                          "reached and the optimization hasn't converged yet.",
                          ConvergenceWarning, stacklevel=3)
        stopper.restore()
        self.validation_scores_, self.best_loss_ = stopper.validation_scores, stopper.best_loss
        self.best_validation_score_ = stopper.best_validation_score

    def _split(self, X, Y, y, sample_weight):
        """Hold out ``validation_fraction`` of the rows: X, X_val, Y, y_val, sw, sw_val.

        Stratified on the encoded binary labels (as scikit-learn: a single output only).
        """
        binary = isinstance(self, ClassifierMixin) and self.n_outputs_ == 1
        arrays = (X, Y, y) if sample_weight is None else (X, Y, y, sample_weight)
        parts = train_test_split(*arrays, test_size=self.validation_fraction,
                                 stratify=Y.astype(bool) if binary else None,
                                 random_state=int(self._rng.integers(2**31 - 1)))
        if parts[1].shape[0] < 2:
            raise ValueError("The validation set is too small: raise 'validation_fraction'.")
        X, X_val, Y, _, _, y_val = parts[:6]
        return X, X_val, Y, y_val, *(parts[6:] or (None, None))

    def _validation_score(self, X, y, sample_weight):
        """Score of already validated rows (no feature-name check, as scikit-learn's ``_score``)."""
        P = forward_pass(X, self.coefs_, self.intercepts_, self.activation, self.out_activation_)
        return float(self._metric(y, self._predict_from_output(P), sample_weight=sample_weight))

    def _output(self, X):
        """Network output for ``X`` (validated and cast to the weights' dtype)."""
        return self._network_output(self._checked_inputs(X))

    def _checked_inputs(self, X):
        """``X`` validated against the fit (features, dtype) for :meth:`_network_output`."""
        check_is_fitted(self)
        return validate_data(self, X, reset=False, dtype=self.coefs_[0].dtype,
                             accept_sparse=["csr", "csc"])

    def _network_output(self, X):
        """Network output for rows already passed through :meth:`_checked_inputs`."""
        with _blas_threads(self.n_threads):
            return forward_pass(X, self.coefs_, self.intercepts_, self.activation,
                                self.out_activation_)

    def _epochs_on(self, X, y, sample_weight=None):
        """Protected hook of :mod:`tuner.search.evaluate`: more ``partial_fit`` epochs on one split.

        After a first ``partial_fit``, validates and encodes ``(X, y,
        sample_weight)`` once and returns ``run_epoch(max_updates=None)``, which
        trains one more epoch exactly as ``partial_fit(X, y, sample_weight)``
        would (same weights, counters and curves), without validating the
        same arrays again on every epoch of a search. Parameters must not
        change in between.
        """
        X, Y, _, sw = self._setup(X, y, sample_weight, incremental=True)

        def run_epoch(max_updates=None):
            with _blas_threads(self.n_threads):
                return self._partial_epoch(X, Y, sw, max_updates)

        return run_epoch

    def _partial_epoch(self, X, Y, sample_weight, max_updates):
        """The epoch of one ``partial_fit`` call on encoded data."""
        self._run_epoch(X, Y, sample_weight, max_updates=max_updates)
        self.best_loss_ = min(self.loss_, self.best_loss_ or np.inf)
        return self

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags


def _as_training_array(X, dtype):
    """Dense X as a C-contiguous array of ``dtype``; sparse X as CSR (rows sliced per batch)."""
    if isinstance(X, np.ndarray):
        return np.ascontiguousarray(X, dtype=dtype)
    return X.tocsr().astype(dtype, copy=False)


def _validated_weights(sample_weight, X, dtype):
    """scikit-learn's sample-weight validation (shape, non-negative, not all zero).

    Adapter for the private ``sklearn.utils.validation._check_sample_weight``, which
    scikit-learn's own estimators use for exactly this; there is no public one.
    """
    return _check_sample_weight(sample_weight, X, dtype=dtype, ensure_non_negative=True)
