"""Learning-rate schedules, indexed by epoch (0-based).

With ``lr0 = learning_rate_init``, ``W = warmup_epochs``, ``T = max_iter`` and
``e`` the number of epochs already run (the estimator's ``n_iter_``):

* warmup (``e < W``): ``lr = lr0 * (e + 1) / (W + 1)``, a linear ramp;
* afterwards, with ``k = e - W`` and ``K = max(T - W, 1)``:

  ===========  ===============================================
  constant     ``lr0``
  invscaling   ``lr0 / (k + 1) ** power_t``
  step         ``lr0 * lr_gamma ** floor(k / lr_step_size)``
  cosine       ``lr0 * (1 + cos(pi * min(k, K - 1) / K)) / 2``
  ===========  ===============================================

Unlike scikit-learn's ``invscaling`` (which counts samples), ``k`` counts
epochs, so the schedule is the same whatever the batch size.  The cosine
schedule anneals over the ``T`` epochs of a ``fit`` and then stays at its
last (small, positive) value.

Examples
--------
>>> s = LearningRateSchedule("step", 0.1, step_size=2, gamma=0.5)
>>> [s(e) for e in range(5)]
[0.1, 0.1, 0.05, 0.05, 0.025]
"""

import math
from dataclasses import dataclass

SCHEDULES = ("constant", "invscaling", "step", "cosine")


@dataclass(frozen=True)
class LearningRateSchedule:
    """Learning rate as a function of the epoch index (see the module docstring).

    Parameters
    ----------
    name : {"constant", "invscaling", "step", "cosine"}
        The schedule.
    learning_rate_init : float
        ``lr0``.
    power_t : float
        Exponent of ``invscaling``.
    step_size : int
        Epochs between two decays of ``step``.
    gamma : float
        Decay factor of ``step``.
    warmup_epochs : int
        Length of the linear warmup.
    max_iter : int
        Horizon ``T`` of ``cosine``.

    Examples
    --------
    >>> s = LearningRateSchedule("cosine", 1.0, max_iter=4)
    >>> [round(s(e), 4) for e in range(5)]
    [1.0, 0.8536, 0.5, 0.1464, 0.1464]
    """

    name: str
    learning_rate_init: float
    power_t: float = 0.5
    step_size: int = 10
    gamma: float = 0.5
    warmup_epochs: int = 0
    max_iter: int = 200

    def __post_init__(self):
        if self.name not in SCHEDULES:
            raise ValueError(f"learning_rate must be one of {SCHEDULES}, got {self.name!r}")

    def __call__(self, epoch):
        """Learning rate for the epoch with 0-based index ``epoch``."""
        lr0, warmup = self.learning_rate_init, self.warmup_epochs
        if epoch < warmup:
            return lr0 * (epoch + 1) / (warmup + 1)
        k = epoch - warmup
        if self.name == "invscaling":
            return lr0 / (k + 1) ** self.power_t
        if self.name == "step":
            return lr0 * self.gamma ** (k // self.step_size)
        if self.name == "cosine":
            horizon = max(self.max_iter - warmup, 1)
            return lr0 * 0.5 * (1.0 + math.cos(math.pi * min(k, horizon - 1) / horizon))
        return lr0
