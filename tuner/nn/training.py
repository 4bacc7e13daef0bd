"""Minibatch training: one epoch at a time, plus the plateau (early-stopping) rule.

:class:`Trainer` knows nothing of the estimator: it shuffles once per epoch
(one gather of ``X`` and ``Y`` into preallocated buffers), walks contiguous
minibatches, asks the network for the batch objective and gradient, and lets
the optimizer step.  Optional sample weights travel with their rows (same
shuffle, same batches) and weight each batch's loss (see :mod:`tuner.nn.network`).
A sparse ``X`` (anything with ``toarray``, e.g. scipy's CSR) is shuffled as it
is and densified one minibatch at a time.  The learning rate may be a float (one per epoch, from a
schedule) or a callable giving one per minibatch, and an ``on_batch`` callback
sees every minibatch loss (this is how the learning-rate range test works).

Examples
--------
>>> import numpy as np
>>> from tuner.nn.network import MLPNetwork
>>> from tuner.nn.optimizers import get_optimizer
>>> rng = np.random.default_rng(0)
>>> X = rng.normal(size=(64, 3)); Y = X @ np.ones((3, 1))
>>> net = MLPNetwork([3, 1], activation="identity"); net.initialize(rng)
>>> trainer = Trainer(net, get_optimizer("sgd", net.params, net.grads), batch_size=16, rng=rng)
>>> first = trainer.run_epoch(X, Y, 0.05)
>>> last = [trainer.run_epoch(X, Y, 0.05) for _ in range(20)][-1]
>>> (first.n_updates, last.loss < first.loss)
(4, True)
"""

import math
from dataclasses import dataclass
from functools import partial

import numpy as np

EXPLOSION_FACTOR = 1e4


class DivergenceError(FloatingPointError, ValueError):
    """The training loss (or a parameter) became NaN or infinite, or exploded.

    A ``ValueError`` as well, as scikit-learn raises for non-finite weights.

    "Exploded" means a minibatch loss above ``EXPLOSION_FACTOR`` times the first
    minibatch loss the trainer saw (at least 1): gradient descent that works never
    multiplies its starting loss by ten thousand, and continuing would only
    return meaningless weights a few epochs before they overflow.

    Examples
    --------
    >>> str(DivergenceError(epoch=3, learning_rate=1000.0, value=float("inf")))[:40]
    'Training diverged at epoch 3 (learning r'
    """

    def __init__(self, *, epoch, learning_rate, value, what="training loss"):
        self.epoch, self.learning_rate, self.value, self.what = epoch, learning_rate, value, what
        hint = "Lower learning_rate_init or scale the inputs."
        if "exploded" not in what:  # scikit-learn's words for non-finite weights
            hint = ("Solver produced non-finite parameter weights. The input data may contain "
                    "large values and need to be preprocessed. " + hint)
        super().__init__(
            f"Training diverged at epoch {epoch} (learning rate {learning_rate:.6g}): "
            f"the {what} became {value}. {hint}"
        )

    def __reduce__(self):
        """Pickle by keywords (worker processes send the error back to the driver)."""
        return partial(type(self), epoch=self.epoch, learning_rate=self.learning_rate,
                       value=self.value, what=self.what), ()


@dataclass
class EpochResult:
    """Summary of one pass: mean loss (weighted by batch weight or size), updates, samples."""

    loss: float
    n_updates: int
    n_samples: int
    stopped: bool = False


def resolve_batch_size(batch_size, n_samples):
    """Rows per minibatch: an int (clipped to ``[1, n]``), ``"auto"`` = min(200, n), ``"full"`` = n.

    Examples
    --------
    >>> resolve_batch_size("auto", 50), resolve_batch_size("full", 50), resolve_batch_size(64, 50)
    (50, 50, 50)
    """
    if batch_size == "auto":
        return min(200, n_samples)
    if batch_size == "full":
        return n_samples
    return int(min(max(int(batch_size), 1), n_samples))


class Trainer:
    """Runs epochs of minibatch gradient descent on a network with an optimizer.

    Parameters
    ----------
    network : MLPNetwork
        Provides ``loss_and_grad``, ``params`` and ``dropout``.
    optimizer : Optimizer
        Updates ``network.params`` from ``network.grads``.
    batch_size : int, "auto" or "full"
        See :func:`resolve_batch_size`.
    alpha : float
        L2 strength; each batch uses ``l2 = alpha / n`` with ``n`` the rows of the epoch.
    shuffle : bool
        Shuffle the rows once per epoch.
    rng : numpy.random.Generator
        Source of shuffles and dropout masks.

    Examples
    --------
    >>> from tuner.nn.network import MLPNetwork
    >>> from tuner.nn.optimizers import get_optimizer
    >>> net = MLPNetwork([2, 1]); net.initialize(np.random.default_rng(0))
    >>> trainer = Trainer(net, get_optimizer("adam", net.params, net.grads), batch_size=10)
    >>> trainer.run_epoch(np.ones((25, 2)), np.zeros((25, 1)), 0.01).n_updates
    3
    """

    def __init__(self, network, optimizer, *, batch_size="auto", alpha=0.0, shuffle=True,
                 rng=None):
        self.network, self.optimizer = network, optimizer
        self.batch_size, self.alpha, self.shuffle = batch_size, alpha, shuffle
        self.rng = np.random.default_rng() if rng is None else rng
        self._buffers = None
        self.reference_loss = None  # first minibatch loss (at least 1), for explosions

    def __getstate__(self):
        """Drop the gather buffers when pickled."""
        return {**self.__dict__, "_buffers": None}

    def __setstate__(self, state):
        """Restore; point the optimizer at the network's buffers again.

        joblib unpickles every array on its own, so without this the optimizer
        would update a detached copy of the weights after ``joblib.load``.
        """
        self.__dict__.update(state)
        self.optimizer.params, self.optimizer.grads = self.network.params, self.network.grads

    def _gather(self, X, Y, sample_weight):
        """One shuffled copy of ``X``, ``Y`` (and the weights) per epoch, into reused buffers."""
        if not self.shuffle:
            return X, Y, sample_weight
        perm = self.rng.permutation(X.shape[0])
        weights = None if sample_weight is None else sample_weight[perm]
        if not isinstance(X, np.ndarray):  # sparse: a shuffled sparse copy
            return X[perm], np.take(Y, perm, axis=0), weights
        bufs = self._buffers
        if bufs is None or bufs[0].shape != X.shape or bufs[1].shape != Y.shape:
            bufs = self._buffers = (np.empty(X.shape, X.dtype), np.empty(Y.shape, Y.dtype))
        return (np.take(X, perm, axis=0, out=bufs[0]), np.take(Y, perm, axis=0, out=bufs[1]),
                weights)

    def run_epoch(self, X, Y, lr, *, sample_weight=None, epoch=1, on_batch=None,
                  max_updates=None):
        """One pass over ``X`` / ``Y``; returns an :class:`EpochResult`.

        Parameters
        ----------
        X, Y : ndarray
            Inputs and 2-D targets in the network's dtype (``X`` may be sparse).
        lr : float or callable
            Learning rate, or ``lr(i)`` giving the rate of the ``i``-th minibatch.
        sample_weight : ndarray of shape (n,), optional
            Row weights (positive total); batches are the same as without them.
        epoch : int
            1-based epoch number, used in error messages.
        on_batch : callable, optional
            ``on_batch(i, lr, loss)`` after each minibatch's loss, before its
            update; returning True ends the epoch there (``stopped=True``).
        max_updates : int, optional
            End the pass after this many minibatches (a partial epoch over the
            first ``max_updates * batch_size`` shuffled rows), for exact update budgets.

        Raises
        ------
        DivergenceError
            If a minibatch loss is not finite or explodes (see :class:`DivergenceError`),
            or a parameter is not finite at the end of the epoch.
        """
        n = X.shape[0]
        size = resolve_batch_size(self.batch_size, n)
        stop = n if max_updates is None else min(n, max(1, int(max_updates)) * size)
        Xs, Ys, ws = self._gather(X, Y, sample_weight)
        # l2 = alpha / n, n the epoch's rows or its total weight (network docstring)
        l2, rng = self.alpha / (n if ws is None else float(ws.sum())), self.rng
        total, mass, seen, i = 0.0, 0.0, 0, 0
        for i, start in enumerate(range(0, stop, size)):
            rows = slice(start, min(start + size, n))
            w = None if ws is None else ws[rows]
            loss = self.network.loss_and_grad(_dense(Xs[rows]), Ys[rows], l2=l2, rng=rng,
                                              sample_weight=w)
            rate = lr(i) if callable(lr) else lr
            if on_batch is not None and on_batch(i, rate, loss):
                return EpochResult(total / mass if mass else 0.0, i, seen, stopped=True)
            self._check_loss(loss, epoch, rate)
            self.optimizer.step(rate)
            # the epoch loss: batch losses weighted by each batch's rows (or weight)
            batch_mass = rows.stop - rows.start if w is None else float(w.sum())
            total, mass = total + loss * batch_mass, mass + batch_mass
            seen += rows.stop - rows.start
        if not np.isfinite(self.network.params).all():
            raise DivergenceError(epoch=epoch, learning_rate=rate, value="non-finite",
                                  what="network weights")
        return EpochResult(total / mass if mass else 0.0, i + 1, seen)

    def _check_loss(self, loss, epoch, rate):
        """Raise :class:`DivergenceError` on a non-finite or exploded minibatch loss."""
        if not math.isfinite(loss):
            raise DivergenceError(epoch=epoch, learning_rate=rate, value=loss)
        if self.reference_loss is None:
            self.reference_loss = max(loss, 1.0)
        if loss > EXPLOSION_FACTOR * self.reference_loss:
            raise DivergenceError(epoch=epoch, learning_rate=rate, value=f"{loss:.3g}",
                                  what=f"training loss exploded (> {EXPLOSION_FACTOR:g} x its "
                                       f"first value {self.reference_loss:.3g}) and")


def _dense(batch):
    """A minibatch as a C-contiguous ndarray (sparse ones densified, dense ones as they are)."""
    return batch if isinstance(batch, np.ndarray) else batch.toarray()


class Plateau:
    """scikit-learn's stopping rule on a monitored value (loss or validation score).

    An epoch counts as "no improvement" when the value fails to beat the best
    so far by ``tol``; training stops once more than ``n_iter_no_change``
    consecutive epochs did not improve.

    Parameters
    ----------
    tol : float
        Required improvement.
    n_iter_no_change : int or inf
        Patience.
    mode : {"min", "max"}
        Minimise a loss or maximise a score.

    Examples
    --------
    >>> p = Plateau(tol=0.1, n_iter_no_change=1, mode="min")
    >>> [p.update(v) for v in (1.0, 0.95, 0.5)], p.count, p.best
    ([True, True, True], 0, 0.5)
    >>> p.update(0.45), p.update(0.44), p.should_stop
    (True, True, True)
    """

    def __init__(self, *, tol, n_iter_no_change, mode="min"):
        self.tol, self.n_iter_no_change, self.mode = tol, n_iter_no_change, mode
        self.best = math.inf if mode == "min" else -math.inf
        self.count = 0

    def update(self, value):
        """Record one epoch's value; return True when it is a new best."""
        sign = 1.0 if self.mode == "min" else -1.0
        # "min": no improvement if value > best - tol; "max": if value < best + tol.
        if sign * value > sign * self.best - self.tol:
            self.count += 1
        else:
            self.count = 0
        improved = sign * value < sign * self.best
        if improved:
            self.best = value
        return improved

    @property
    def should_stop(self):
        """True once more than ``n_iter_no_change`` epochs in a row did not improve."""
        return self.count > self.n_iter_no_change


class EarlyStopper:
    """``fit``'s stopping bookkeeping: scikit-learn's rule on the loss or a held-out score.

    Parameters
    ----------
    params : ndarray
        The flat parameter buffer; with ``validate`` its best state is kept and restored.
    tol, n_iter_no_change : float, int
        See :class:`Plateau`.
    validate : callable, optional
        Returns the held-out score (higher is better). Without it the training
        loss is monitored.

    Examples
    --------
    >>> import numpy as np
    >>> params, scores = np.zeros(1), iter([0.5, 0.9, 0.7, 0.6])
    >>> stopper = EarlyStopper(params, tol=0.0, n_iter_no_change=1, validate=lambda: next(scores))
    >>> stops = []
    >>> for epoch in range(4):
    ...     params[0] = epoch
    ...     stops.append(stopper.after_epoch(loss=1.0))
    >>> stops, stopper.best_validation_score, stopper.restore(), params
    ([False, False, False, True], 0.9, None, array([1.]))
    """

    def __init__(self, params, *, tol, n_iter_no_change, validate=None):
        self.params, self.validate = params, validate
        self.plateau = Plateau(tol=tol, n_iter_no_change=n_iter_no_change,
                               mode="min" if validate is None else "max")
        self.validation_scores = None if validate is None else []
        self.best_params = None

    def after_epoch(self, loss):
        """Record one epoch; return True when training should stop."""
        value = loss
        if self.validate is not None:
            value = self.validate()
            self.validation_scores.append(value)
        if self.plateau.update(value) and self.validate is not None:
            self.best_params = self.params.copy()
        return self.plateau.should_stop

    def restore(self):
        """Copy the weights of the best validation score back (no-op without validation)."""
        if self.best_params is not None:
            self.params[:] = self.best_params

    @property
    def best_loss(self):
        """Best training loss (None when a validation score is monitored)."""
        return self.plateau.best if self.validate is None else None

    @property
    def best_validation_score(self):
        """Best held-out score (None when the loss is monitored)."""
        return None if self.validate is None else self.plateau.best
