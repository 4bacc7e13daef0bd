"""Learning-rate range test (Smith, 2017; popularised by fastai's ``lr_find``).

A clone of the estimator trains for one short pass of ``num_steps`` minibatches
(cycling over the data if needed) while the learning rate grows exponentially,
``lr_k = min_lr * (max_lr / min_lr) ** (k / (num_steps - 1))``.  It uses the
estimator's own network, optimizer and minibatches (any solver, batch size,
dropout), only with a per-minibatch learning rate.

**Stop rule** (online, so causal): an exponential moving average with bias
correction (the average starts at 0, so early values are divided up)::

    avg_k = (1 - smooth) avg_{k-1} + smooth loss_k,    s_k = avg_k / (1 - (1 - smooth) ** (k + 1))

and the test stops once ``s_k > diverge_factor * min_j s_j`` (``j`` past a warm-up
of ``min(1 / smooth, num_steps / 5)`` minibatches, so that a few lucky minibatches
cannot end it) or a loss is not finite or explodes.

**Reading the curve** (offline, so two-sided: :func:`smooth_curve`): a local
quadratic fit of ``log(loss)`` around each minibatch with weights
``(1 - smooth) ** (2 |i - j|)``.  A causal average lags ``~1 / smooth`` minibatches
(every reading would move to larger, riskier rates); a two-sided local *mean*
has no lag but fills the curved basin in and is one-sided at both ends, so it
sits far above the loss at the bottom (digits: 1.3 where the loss is 0.3).  The
quadratic follows the curvature, the log scale makes the final blow-up (geometric
growth) a straight line that does not leak backwards, and the narrower kernel keeps
a one-decade basin (about 14 minibatches at the defaults) intact.  The trend is
then rescaled to the level of the mean loss (``exp`` of a mean log is a geometric
mean, far below the mean for batch-size-1 losses that spread over decades).

With ``top`` the highest smoothed loss before its minimum and ``drop = top - min``:

* ``suggested_range = (low, high)``:

  - ``high`` lies a margin below the minimum, because the minimum is already a
    rate at which the loss turns up (the divergence shows only a few minibatches
    after the rate passed its limit, more of them on a coarse ramp): half a
    decade below it and at least ``HIGH_STEPS`` (8) minibatches before it.  When
    the test ends at ``max_lr`` without diverging the same margin applies (raise
    ``max_lr`` to see where the loss turns up);
  - ``low`` is where the descent has started: the first rate at which the smoothed
    loss has fallen by ``LOW_FRACTION`` (10 %) of ``drop``.  Below it the rate is too
    small to make progress in this pass.  The range is kept at most ``MAX_DECADES``
    (2) decades wide (``low`` raised) and at least half a decade (``low`` lowered);
* ``suggested_lr``: the steepest descent, the most negative ``d loss / d log(lr)``
  of the smoothed loss, searched inside the range (so it always lies in it).

When the smoothed loss never falls by ``MIN_DROP`` (5 %) of its start, the test
found no useful rate: ``suggested_lr`` is the smallest rate tried and the range is
that single point (lower ``min_lr`` or raise ``max_lr``).

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
from .estimators import BaseMLP
from .nn.training import DivergenceError, resolve_batch_size
from .plots.lr import plot_lr_curves

LOW_FRACTION = 0.1  # the descent has started once 10 % of the total drop is done
HIGH_MARGIN = 10 ** 0.5  # high = half a decade below the minimum of the smoothed loss...
HIGH_STEPS = 8  # ...and at least this many minibatches before it (coarse ramps)
MAX_DECADES = 2.0  # widest suggested range: a one-pass test cannot say more
MIN_DROP = 0.05  # a loss that never falls by 5 % of its start gives no range


@dataclass
class LRFinderResult:
    """Outcome of :func:`lr_find`: the curve and what to make of it.

    Attributes
    ----------
    lrs, losses, smoothed_losses : ndarray
        One entry per minibatch: learning rate used, loss before its update, and the
        loss smoothed without lag (:func:`smooth_curve`).
    suggested_lr : float
        Learning rate of steepest descent of the smoothed loss, inside the range.
    suggested_range : tuple of float
        ``(low, high)``: where the descent has started, and a margin below the
        minimum of the smoothed loss (see :mod:`tuner.lr_finder`).
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
        """Plot loss and smoothed loss against the learning rate, with the suggestions.

        Parameters
        ----------
        ax : matplotlib Axes, optional
            Where to draw; a new figure (Agg canvas, no pyplot) when omitted.

        Returns
        -------
        fig : matplotlib.figure.Figure
        """
        return plot_lr_curves([self], ax=ax)


def smooth_curve(losses, smooth):
    """Two-sided smoothing: local quadratic trend of ``log(losses)``, rescaled to the mean.

    With weights ``w_ij = (1 - smooth) ** (2 |i - j|)`` it fits, for each minibatch
    ``i``, ``log loss_j ~ a + b d + c d**2`` (``d = j - i``) by weighted least
    squares: ``trend_i = exp(a)``.  A quadratic follows the bottom of the curve and
    stays unbiased at both ends (where the window is one-sided); the log scale
    turns the blow-up into a straight line.  ``exp`` of a mean log is a geometric
    mean, below the mean loss when minibatch losses are very noisy (batch size 1),
    so the trend is multiplied by the weighted mean of ``loss / trend`` (weights
    ``w_ij``) over the minibatches ``j`` before the trend's minimum or before ``i``:
    the level of the mean loss, without letting the blow-up leak backwards (a
    two-sided mean over the tail would).  ``smooth=1`` returns the losses.

    Examples
    --------
    >>> parabola = np.exp((np.arange(30.0) - 12) ** 2 / 50)
    >>> bool(np.allclose(smooth_curve(parabola, 0.05), parabola))
    True
    >>> smooth_curve(np.array([3.0, 1.0, 2.0]), 1.0).tolist()
    [3.0, 1.0, 2.0]
    """
    losses = np.asarray(losses, float)
    q = (1.0 - smooth) ** 2
    if len(losses) < 3 or q == 0.0:
        return losses.copy()
    floor = 1e-12 * max(abs(losses[0]), np.finfo(float).tiny)  # log of a zero loss
    losses = np.maximum(losses, floor)
    h = _half_width(q, len(losses))
    d = np.arange(-h, h + 1.0)
    kernels = [q ** np.abs(d) * d ** k for k in range(5)]
    valid = _band(np.ones(len(losses)), h)
    moments = np.stack([valid @ kern for kern in kernels], axis=1)  # sum_j w d^k
    rhs = np.stack([_band(np.log(losses), h) @ kern for kern in kernels[:3]], axis=1)
    normal = np.stack([moments[:, k:k + 3] for k in range(3)], axis=1)
    trend = np.exp(np.linalg.solve(normal, rhs[..., None])[:, 0, 0])
    # level correction: weighted mean of loss / trend over j <= max(i, bottom of the trend)
    reach = np.maximum(int(np.argmin(trend)) - np.arange(len(losses)), 0)
    weights = kernels[0] * (d <= reach[:, None])
    return trend * (_band(losses / trend, h) * weights).sum(1) / (valid * weights).sum(1)


def _band(values, h):
    """``out[i, h + d] = values[i + d]`` for ``|d| <= h`` (0 past the ends)."""
    return np.lib.stride_tricks.sliding_window_view(np.pad(values, h), 2 * h + 1)


def _half_width(q, n):
    """Band half-width h: terms ``q**d * d**4`` beyond it are < 1e-12 of their sum (or n - 1)."""
    total = 24.0 / (-math.log(q)) ** 5  # ~ sum_d q**|d| d**4 / 2, the largest moment
    h = 2
    while h < n - 1 and q ** h * h ** 4 > 1e-12 * total:
        h += 1
    return h


def _warmup(smooth, num_steps):
    """Minibatches before the causal average is trusted: ``min(1 / smooth, num_steps / 5)``."""
    return max(min(math.ceil(1.0 / smooth), num_steps // 5), 1)


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


def _last_at_most(lrs, value):
    """Index of the largest rate <= ``value`` (-1 if none), tolerant to rounding of the ramp."""
    return int(np.searchsorted(lrs, value * (1 + 1e-9), side="right")) - 1


def _read_curve(lrs, smoothed):
    """Suggested rate and range from the smoothed curve (see the module docstring)."""
    bottom = int(np.argmin(smoothed))
    top = int(np.argmax(smoothed[:bottom + 1]))
    drop = smoothed[top] - smoothed[bottom]
    if drop < MIN_DROP * smoothed[top]:  # the loss never fell: nothing to read
        return float(lrs[0]), (float(lrs[0]), float(lrs[0]))
    i_high = max(min(_last_at_most(lrs, lrs[bottom] / HIGH_MARGIN), bottom - HIGH_STEPS), 0)
    started = smoothed[top:] <= smoothed[top] - LOW_FRACTION * drop
    i_low = top + int(np.argmax(started))
    i_low = min(i_low, max(_last_at_most(lrs, lrs[i_high] / HIGH_MARGIN), 0))  # >= 1/2 decade
    i_low = max(i_low, _last_at_most(lrs, lrs[i_high] / 10 ** MAX_DECADES * (1 - 2e-9)) + 1)
    # lrs grow geometrically: d loss / d log(lr) is the per-step slope over a constant
    slopes = np.gradient(smoothed) if len(smoothed) > 1 else np.zeros(1)
    steepest = i_low + int(np.argmin(slopes[i_low:i_high + 1]))
    return float(lrs[steepest]), (float(lrs[i_low]), float(lrs[i_high]))


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
    smoothed = smooth_curve(losses, smooth)
    suggested, low_high = _read_curve(lrs, smoothed)
    return LRFinderResult(lrs, losses, smoothed, suggested, low_high,
                          resolve_batch_size(est.batch_size, n_rows), recorder.diverged)


def _fresh_clone(estimator, random_state):
    """An unfitted copy of one of our MLPs (ConfigError for anything else)."""
    if not isinstance(estimator, BaseMLP):
        raise ConfigError("the learning-rate range test needs a tuner MLP estimator",
                          source="lr_find", key="estimator", value=type(estimator).__name__,
                          allowed="tuner.MLPClassifier, tuner.MLPRegressor")
    est = clone(estimator).set_params(warm_start=False, early_stopping=False)
    if random_state is not None:
        est.set_params(random_state=random_state)
    return est


def _record(est, X, y, recorder):
    """Train ``est`` minibatch by minibatch at the recorder's rates; return the row count."""
    with est._epoch_runner(X, y) as (run_epoch, n_rows):
        epoch = 0
        while not recorder.done:  # cycle over the data until num_steps or divergence
            epoch += 1
            try:
                run_epoch(recorder.lr, epoch=epoch, on_batch=recorder.on_batch)
            except DivergenceError:  # weights overflowed after the last recorded update
                recorder.diverged = True
    return n_rows
