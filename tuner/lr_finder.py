"""Learning-rate range test (Smith, 2017; popularised by fastai's ``lr_find``).

A clone of the estimator trains for one short pass of ``num_steps`` minibatches
(cycling over the data if needed) while the learning rate grows exponentially,
``lr_k = min_lr * (max_lr / min_lr) ** (k / (num_steps - 1))``.  The minibatch
losses are smoothed by an exponential moving average with bias correction::

    avg_k = (1 - smooth) avg_{k-1} + smooth loss_k,    s_k = avg_k / (1 - (1 - smooth) ** (k + 1))

and the test stops once ``s_k > diverge_factor * min_j s_j`` (``j`` past a warm-up
of ``min(1 / smooth, num_steps / 5)`` minibatches, so that a few lucky minibatches
cannot end it) or a loss is not finite or explodes.  It uses the estimator's own
network, optimizer and minibatches (any solver, batch size, dropout), only with a
per-minibatch learning rate.

The curve is then read on ``smoothed_losses``, the same average run forwards
and backwards: the causal average lags ``~1 / smooth`` minibatches behind, which
would shift every reading towards larger (riskier) rates.  With ``i*`` the
index of its minimum:

* ``suggested_lr``: steepest descent, the most negative ``d s / d log(lr)`` up to ``i*``;
* ``suggested_range``: from where the loss starts to fall (the smoothed loss is
  first 10% of the way from its start down to its minimum) to where it bottoms
  out (``lr`` at ``i*``).

Examples
--------
>>> import numpy as np
>>> from tuner.estimators import MLPRegressor
>>> rng = np.random.default_rng(0)
>>> X = rng.normal(size=(256, 4)); y = X @ np.array([1.0, -2.0, 0.5, 3.0])
>>> result = lr_find(MLPRegressor((), solver="sgd", momentum=0.0, batch_size=32),
...                  X, y, min_lr=1e-4, max_lr=10.0, num_steps=60, random_state=0)
>>> low, high = result.suggested_range
>>> bool(1e-4 <= low <= result.suggested_lr <= high <= 10.0), len(result.lrs) < 60
(True, True)
"""

import math
from dataclasses import dataclass
from numbers import Integral, Real

import numpy as np
from sklearn.base import clone

from .errors import ConfigError
from .estimators import BaseMLP, _blas_threads
from .nn.training import DivergenceError, resolve_batch_size

START_FRACTION = 0.1  # the loss "starts to fall" once 10% of its total descent is done


@dataclass
class LRFinderResult:
    """Outcome of :func:`lr_find`: the curve and what to make of it.

    Attributes
    ----------
    lrs, losses, smoothed_losses : ndarray
        One entry per minibatch: learning rate used, loss before its update, and the
        loss smoothed without lag (forward-backward moving average).
    suggested_lr : float
        Learning rate of steepest descent of the smoothed loss.
    suggested_range : tuple of float
        ``(low, high)``: where the loss starts to fall and where it bottoms out.
    batch_size : int
        Rows per minibatch actually used.
    diverged : bool
        True when the test stopped because the loss diverged.

    Examples
    --------
    >>> import numpy as np
    >>> r = LRFinderResult(np.array([0.1, 1.0]), np.array([2.0, 1.0]), np.array([2.0, 1.5]),
    ...                    0.1, (0.1, 1.0), 32, False)
    >>> r.suggested_range
    (0.1, 1.0)
    """

    lrs: np.ndarray
    losses: np.ndarray
    smoothed_losses: np.ndarray
    suggested_lr: float
    suggested_range: tuple
    batch_size: int
    diverged: bool

    def plot(self, ax=None):
        """Plot loss and smoothed loss against the learning rate (log scale).

        Parameters
        ----------
        ax : matplotlib Axes, optional
            Where to draw; a new figure (Agg canvas, no pyplot) when omitted.

        Returns
        -------
        fig : matplotlib.figure.Figure
        """
        from matplotlib.figure import Figure

        if ax is None:
            ax = Figure(figsize=(6.4, 4.0), layout="constrained").add_subplot()
        ax.plot(self.lrs, self.losses, color="0.75", lw=1, label="minibatch loss")
        ax.plot(self.lrs, self.smoothed_losses, color="C0", lw=2, label="smoothed loss")
        ax.axvspan(*self.suggested_range, color="C2", alpha=0.15, label="suggested range")
        ax.axvline(self.suggested_lr, color="C3", ls="--",
                   label=f"suggested lr = {self.suggested_lr:.3g}")
        ax.set(xscale="log", xlabel="learning rate", ylabel="training loss",
               title=f"Learning-rate range test (batch size {self.batch_size})")
        finite = self.losses[np.isfinite(self.losses)]
        if finite.size:  # keep the diverging tail from flattening the interesting part
            ax.set_ylim(finite.min() * 0.95, min(finite.max(), 4 * self.smoothed_losses[0]))
        ax.legend(loc="best", fontsize="small")
        return ax.figure


def _ema(values, smooth):
    """Bias-corrected exponential moving average of ``values`` (causal)."""
    out, avg = np.empty(len(values)), 0.0
    for k, value in enumerate(values):
        avg = (1.0 - smooth) * avg + smooth * value
        out[k] = avg / (1.0 - (1.0 - smooth) ** (k + 1))
    return out


def zero_lag_smooth(losses, smooth):
    """The EMA run forwards then backwards: same smoothing, no lag (for reading the curve).

    The curve is cut where the causal average bottoms out and each part is
    smoothed on its own, so that the exploding tail of a diverging run cannot
    leak backwards into the descent.

    Examples
    --------
    >>> zero_lag_smooth(np.array([1.0, 1.0, 1.0]), 0.5).tolist()
    [1.0, 1.0, 1.0]
    """
    losses = np.asarray(losses, float)
    cut = int(np.argmin(_ema(losses, smooth))) + 1
    return np.concatenate([_ema(_ema(part, smooth)[::-1], smooth)[::-1]
                           for part in (losses[:cut], losses[cut:]) if part.size])


class _Recorder:
    """Per-minibatch learning rates in, losses out; decides online when to stop."""

    def __init__(self, min_lr, max_lr, num_steps, smooth, diverge_factor):
        self.min_lr, self.num_steps = min_lr, num_steps
        self.log_ratio = math.log(max_lr / min_lr) / (num_steps - 1)
        self.smooth, self.diverge_factor = smooth, diverge_factor
        # No divergence verdict while the average still rests on a handful of minibatches.
        self.warmup = min(math.ceil(1.0 / smooth), num_steps // 5)
        self.lrs, self.losses = [], []
        self.avg, self.best, self.diverged = 0.0, math.inf, False

    @property
    def done(self):
        """True once ``num_steps`` losses were recorded or the loss diverged."""
        return self.diverged or len(self.lrs) >= self.num_steps

    def lr(self, _batch_index):
        """Learning rate of the next minibatch (exponential ramp)."""
        return self.min_lr * math.exp(self.log_ratio * len(self.lrs))

    def on_batch(self, _batch_index, lr, loss):
        """Record one minibatch; return True to stop before its update."""
        if not math.isfinite(loss):
            self.diverged = True
            return True
        k = len(self.lrs)
        self.avg = (1.0 - self.smooth) * self.avg + self.smooth * loss
        smoothed = self.avg / (1.0 - (1.0 - self.smooth) ** (k + 1))  # bias correction
        self.lrs.append(lr)
        self.losses.append(loss)
        if k + 1 >= self.warmup:
            self.best = min(self.best, smoothed)
            self.diverged = smoothed > self.diverge_factor * self.best
        return self.done


def _check_options(min_lr, max_lr, num_steps, smooth, diverge_factor):
    """Raise :class:`ConfigError` for unusable options."""
    checks = [
        ("min_lr", min_lr, isinstance(min_lr, Real) and min_lr > 0, "a float > 0"),
        ("max_lr", max_lr, isinstance(max_lr, Real) and max_lr > min_lr, "a float > min_lr"),
        ("num_steps", num_steps, isinstance(num_steps, Integral) and num_steps >= 5, "int >= 5"),
        ("smooth", smooth, isinstance(smooth, Real) and 0 < smooth <= 1, "a float in (0, 1]"),
        ("diverge_factor", diverge_factor, isinstance(diverge_factor, Real)
         and diverge_factor > 1, "a float > 1"),
    ]
    for key, value, ok, allowed in checks:
        if not ok:
            raise ConfigError("invalid option", source="lr_find", key=key, value=value,
                              allowed=allowed)


def _suggest(lrs, smoothed):
    """``(suggested_lr, (low, high))`` from the smoothed curve (see the module docstring)."""
    best = int(np.argmin(smoothed[:int(np.argmin(_ema(smoothed, 1.0))) + 1]))
    if best < 2:  # the loss never fell: the smallest rates are the only safe bet
        return float(lrs[0]), (float(lrs[0]), float(lrs[best]))
    slope = np.gradient(smoothed[:best + 1], np.log(lrs[:best + 1]))
    steepest = int(np.argmin(slope))
    threshold = smoothed[0] - START_FRACTION * (smoothed[0] - smoothed[best])
    start = int(np.argmax(smoothed[:best + 1] <= threshold))
    return float(lrs[steepest]), (float(lrs[min(start, steepest)]), float(lrs[best]))


def lr_find(estimator, X, y, *, min_lr=1e-6, max_lr=10, num_steps=100, smooth=0.05,
            diverge_factor=4, random_state=None):
    """Run a learning-rate range test on a clone of ``estimator``.

    Parameters
    ----------
    estimator : MLPClassifier or MLPRegressor
        Its solver, batch size, architecture and regularisation are used as set;
        ``learning_rate_init`` and the schedule are ignored.
    X, y : array-like
        Training data.
    min_lr, max_lr : float, default=1e-6, 10
        Range of the exponential ramp.
    num_steps : int, default=100
        Minibatches (at most; fewer when the loss diverges).
    smooth : float, default=0.05
        Weight of the newest loss in the moving average.
    diverge_factor : float, default=4
        Stop once the smoothed loss exceeds this multiple of its minimum.
    random_state : int, RandomState or None, default=None
        Overrides the estimator's ``random_state`` when given.

    Returns
    -------
    result : LRFinderResult
        ``lrs``, ``losses``, ``smoothed_losses``, ``suggested_lr``,
        ``suggested_range``, ``batch_size``, ``diverged`` and ``plot()``.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from tuner.estimators import MLPClassifier
    >>> X, y = load_digits(return_X_y=True)
    >>> result = lr_find(MLPClassifier((32,), batch_size=64), X / 16, y, num_steps=40,
    ...                  min_lr=1e-5, max_lr=1.0, random_state=0)
    >>> result.batch_size, bool(result.losses[-1] < result.losses[0] or result.diverged)
    (64, True)
    """
    _check_options(min_lr, max_lr, num_steps, smooth, diverge_factor)
    if not isinstance(estimator, BaseMLP):
        raise ConfigError("the learning-rate range test needs a tuner MLP estimator",
                          source="lr_find", key="estimator", value=type(estimator).__name__,
                          allowed="tuner.MLPClassifier, tuner.MLPRegressor")
    est = clone(estimator).set_params(warm_start=False, early_stopping=False)
    if random_state is not None:
        est.set_params(random_state=random_state)
    est._validate_params()
    recorder = _Recorder(min_lr, max_lr, num_steps, smooth, diverge_factor)
    with _blas_threads(est.n_threads):
        X, Y, _ = est._setup(X, y, incremental=False)
        epoch = 0
        while not recorder.done:
            epoch += 1
            try:
                est._trainer.run_epoch(X, Y, recorder.lr, epoch=epoch, on_batch=recorder.on_batch)
            except DivergenceError:  # weights overflowed after the last recorded update
                recorder.diverged = True
    if len(recorder.lrs) < 2:
        raise DivergenceError(epoch=1, learning_rate=min_lr, value="non-finite or exploded",
                              what="loss of the first minibatches (lower min_lr)")
    lrs, losses = np.array(recorder.lrs), np.array(recorder.losses)
    smoothed = zero_lag_smooth(losses, smooth)
    suggested, low_high = _suggest(lrs, smoothed)
    return LRFinderResult(lrs, losses, smoothed, suggested, low_high,
                          resolve_batch_size(est.batch_size, X.shape[0]), recorder.diverged)
