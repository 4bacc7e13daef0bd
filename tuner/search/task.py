"""What a trial needs: :class:`TrialTask`, built by the driver, pickled to workers.

Examples
--------
>>> TrialTask(estimator=None, X=[], y=[], space=None, splits=[], scorers={}).resource
'epochs'
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from tuner.search.callbacks import CallbackList


@dataclass
class TrialTask:
    """Everything a (possibly remote) worker needs to evaluate trials; picklable.

    Built by the driver, pickled to worker processes, read by
    :func:`tuner.search.evaluate.evaluate_trial`.

    Attributes
    ----------
    estimator : estimator
        The template cloned per fold.
    X, y : array-like
        The whole training data; folds are taken with ``splits``.
    space : SearchSpace
        Gives ``suggest(trial, point=...)`` (raw params) and ``resolve(raw, n_samples=...)``.
    splits : list of (train_indices, test_indices)
        The CV splits, computed once in the driver.
    scorers : dict
        ``{metric: scorer}``; a single metric is named ``"score"``.
    objective : str
        The metric reported to the pruner and returned to Optuna.
    classes : array-like or None
        All class labels (passed as ``classes=`` to the first ``partial_fit``).
    error_score : float or "raise"
    return_train_score : bool
    budget : tuple or None
        ``(kind, value)`` with kind in ``epochs | updates | seconds``.
    study_budget : tuple or None
        The same for the whole study: no trial starts once the finished ones used it.
    resource : {"epochs", "updates", "samples"}
        The ``step`` given to ``trial.report``.
    callbacks : CallbackList
    n_samples : int or None
        Rows a trial trains on (the mean training-fold size), given to
        ``space.resolve``: a batch size of "full" or larger than
        the fold resolves to these rows, and a derived learning rate follows it.
    incremental : "auto" or bool
        Which estimators train one ``partial_fit`` epoch at a time
        (:func:`tuner.search.folds.trains_by_epoch`).
    """

    estimator: object
    X: object
    y: object
    space: object
    splits: list
    scorers: dict
    objective: str = "score"
    classes: object = None
    error_score: object = math.nan
    return_train_score: bool = False
    budget: tuple | None = None
    study_budget: tuple | None = None
    resource: str = "epochs"
    callbacks: CallbackList = field(default_factory=CallbackList)
    n_samples: int | None = None
    incremental: object = "auto"
