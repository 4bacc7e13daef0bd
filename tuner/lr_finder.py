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

The curve is then read on ``smoothed_losses``: the same weights
``(1 - smooth) ** |i - j|`` applied on both sides (:func:`local_mean`), which
removes the causal average's lag of ``~1 / smooth`` minibatches (it would shift
every reading towards larger, riskier rates).  The tail after the causal
average's minimum is smoothed apart so that a divergence cannot leak backwards.
With ``i*`` the index of the lowest smoothed loss before that tail:

* ``suggested_lr``: steepest descent, the most negative ``d loss / d log(lr)`` of
  the smoothed loss up to ``i*``;
* ``suggested_range``: from where the loss starts to fall (its slope first
  reaches a quarter of the steepest slope) to where it bottoms out (``lr`` at ``i*``).

Examples
--------
>>> import numpy as np
>>> from tuner.estimators import MLPRegressor
>>> rng = np.random.default_rng(0)
>>> X = rng.normal(size=(256, 4)); y = X @ np.array([1.0, -2.0, 0.5, 3.0])
>>> result = lr_find(MLPRegressor((), solver="sgd", momentum=0.0, batch_size=32),
...                  X, y, min_lr=1e-4, max_lr=1e3, num_steps=60, random_state=0)
>>> low, high = result.suggested_range
>>> bool(1e-4 <= low <= result.suggested_lr <= high), result.diverged, len(result.lrs) < 60
(True, True, True)
"""

import math
from dataclasses import dataclass
from numbers import Integral, Real

import numpy as np
from sklearn.base import clone

from .errors import ConfigError
from .estimators import BaseMLP, _blas_threads
from .nn.training import DivergenceError, resolve_batch_size

START_FRACTION = 0.25  # the loss "starts to fall" once its slope is 1/4 of the steepest


@dataclass
class LRFinderResult:
    """Outcome of :func:`lr_find`: the curve and what to make of it.

    Attributes
    ----------
    lrs, losses, smoothed_losses : ndarray
        One entry per minibatch: learning rate used, loss before its update, and the
        loss smoothed without lag (:func:`local_mean`).
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
            low = finite.min() * 0.95
            ax.set_ylim(low, max(min(finite.max(), 4 * self.smoothed_losses[0]), 1.1 * low))
        ax.legend(loc="best", fontsize="small")
        return ax.figure


def _ema(values, smooth):
    """Bias-corrected exponential moving average of ``values`` (causal)."""
    out, avg = np.empty(len(values)), 0.0
    for k, value in enumerate(values):
        avg = (1.0 - smooth) * avg + smooth * value
        out[k] = avg / (1.0 - (1.0 - smooth) ** (k + 1))
    return out


def local_mean(losses, smooth):
    """Two-sided moving average: weights ``(1 - smooth) ** |i - j|``, normalised per point.

    It smooths as much as the causal average of the stop rule but without its lag
    of ``~1 / smooth`` minibatches, which would shift every reading of the curve
    towards larger (riskier) learning rates.

    Examples
    --------
    >>> local_mean(np.array([0.0, 0.0, 3.0, 0.0, 0.0]), 0.5).round(3).tolist()
    [0.387, 0.632, 1.2, 0.632, 0.387]
    """
    n = len(losses)
    if n == 0:
        return np.zeros(0)
    weights = (1.0 - smooth) ** np.abs(np.subtract.outer(np.arange(n), np.arange(n)))
    return weights @ np.asarray(losses, float) / weights.sum(axis=1)


def _warmup(smooth, num_steps):
    """Minibatches before the causal average is trusted: ``min(1 / smooth, num_steps / 5)``."""
    return max(min(math.ceil(1.0 / smooth), num_steps // 5), 1)


def _split_at_bottom(losses, smooth):
    """``(head, tail)`` of ``losses``, cut just after the causal average's minimum."""
    losses = np.asarray(losses, float)
    skip = min(_warmup(smooth, len(losses)), len(losses) - 1)
    cut = skip + int(np.argmin(_ema(losses, smooth)[skip:])) + 1
    return losses[:cut], losses[cut:]


class _Recorder:
    """Per-minibatch learning rates in, losses out; decides online when to stop."""

    def __init__(self, min_lr, max_lr, num_steps, smooth, diverge_factor):
        self.min_lr, self.num_steps = min_lr, num_steps
        self.log_ratio = math.log(max_lr / min_lr) / (num_steps - 1)
        self.smooth, self.diverge_factor = smooth, diverge_factor
        # No divergence verdict while the average still rests on a handful of minibatches.
        self.warmup = _warmup(smooth, num_steps)
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


def _read_curve(lrs, losses, smooth):
    """Smoothed losses, suggested rate and range (see the module docstring)."""
    head, tail = _split_at_bottom(losses, smooth)
    values = local_mean(head, smooth)
    slopes = np.gradient(values) if len(values) > 1 else np.zeros(1)
    smoothed = np.concatenate([values, local_mean(tail, smooth)])
    best = int(np.argmin(values))
    if best < 2:  # the loss never fell: the smallest rates are the only safe bet
        return smoothed, float(lrs[0]), (float(lrs[0]), float(lrs[best]))
    # lrs grow geometrically: d loss / d log(lr) is the per-step slope over a constant
    steepest = int(np.argmin(slopes[:best + 1]))
    start = int(np.argmax(slopes[:steepest + 1] <= START_FRACTION * slopes[steepest]))
    return smoothed, float(lrs[steepest]), (float(lrs[min(start, steepest)]),
                                           float(lrs[best]))


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
    >>> low, high = result.suggested_range
    >>> result.batch_size, len(result.lrs), bool(low <= result.suggested_lr <= high)
    (64, 40, True)
    """
    _check_options(min_lr, max_lr, num_steps, smooth, diverge_factor)
    est = _fresh_clone(estimator, random_state)
    recorder = _Recorder(min_lr, max_lr, num_steps, smooth, diverge_factor)
    n_rows = _record(est, X, y, recorder)
    if len(recorder.lrs) < 2:
        raise DivergenceError(epoch=1, learning_rate=min_lr, value="non-finite or exploded",
                              what="loss of the first minibatches (lower min_lr)")
    lrs, losses = np.array(recorder.lrs), np.array(recorder.losses)
    smoothed, suggested, low_high = _read_curve(lrs, losses, smooth)
    return LRFinderResult(lrs, losses, smoothed, suggested, low_high,
                          resolve_batch_size(est.batch_size, n_rows), recorder.diverged)


def _fresh_clone(estimator, random_state):
    """An unfitted, validated copy of one of our MLPs (ConfigError for anything else)."""
    if not isinstance(estimator, BaseMLP):
        raise ConfigError("the learning-rate range test needs a tuner MLP estimator",
                          source="lr_find", key="estimator", value=type(estimator).__name__,
                          allowed="tuner.MLPClassifier, tuner.MLPRegressor")
    est = clone(estimator).set_params(warm_start=False, early_stopping=False)
    if random_state is not None:
        est.set_params(random_state=random_state)
    est._validate_params()
    return est


def _record(est, X, y, recorder):
    """Train ``est`` minibatch by minibatch at the recorder's rates; return the row count."""
    with _blas_threads(est.n_threads):
        X, Y, _ = est._setup(X, y, incremental=False)
        epoch = 0
        while not recorder.done:  # cycle over the data until num_steps or divergence
            epoch += 1
            try:
                est._trainer.run_epoch(X, Y, recorder.lr, epoch=epoch, on_batch=recorder.on_batch)
            except DivergenceError:  # weights overflowed after the last recorded update
                recorder.diverged = True
    return X.shape[0]
