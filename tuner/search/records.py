"""What one trial produced, as stored on the Optuna trial and handed to callbacks.

The evaluator writes its results as user attributes of the Optuna trial (so they
survive processes, machines and crashes); :class:`TrialRecord` reads them back.

User attributes written on every finished trial (keys of :data:`ATTRS`):

``params``            estimator parameters (JSON form: tuples become lists)
``split_test_scores`` ``{metric: [score of fold k]}`` at the last epoch trained
``split_train_scores`` same on the training folds (``return_train_score=True``)
``fit_times``         seconds of fitting per fold (preprocessing + all epochs)
``score_times``       seconds of scoring per fold (summed over epochs)
``n_epochs``          epochs trained (1 for estimators fitted once)
``n_updates``         weight updates per fold (mean over folds)
``n_samples_seen``    training samples seen per fold (mean over folds)
``history``           one metrics dict per epoch (index = epoch - 1)
``fail_reason``       ``"<ExceptionType>: <message>"`` for failed trials

Examples
--------
>>> record = TrialRecord(number=0, state="complete", params={"alpha": 0.1},
...                      raw_params={"alpha": 0.1}, mean_test_score=0.9)
>>> record.state, record.n_epochs
('complete', 0)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from tuner.search.callbacks import CallbackList

#: User-attribute keys the evaluator writes on each trial.
ATTRS = (
    "params", "split_test_scores", "split_train_scores", "fit_times", "score_times",
    "n_epochs", "n_updates", "n_samples_seen", "history", "fail_reason",
)

#: Optuna trial state name -> tuner state name.
STATES = {"COMPLETE": "complete", "PRUNED": "pruned", "FAIL": "fail",
          "RUNNING": "running", "WAITING": "waiting"}


def jsonable(value):
    """``value`` in a JSON-storable form (tuples/arrays -> lists, numpy scalars -> Python)."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | np.ndarray):
        return [jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return repr(value)


def state_name(frozen_trial):
    """Tuner's lower-case state name of an Optuna trial."""
    return STATES.get(frozen_trial.state.name, frozen_trial.state.name.lower())


@dataclass
class TrialRecord:
    """One trial's outcome (the object callbacks' ``on_trial_end`` receives).

    Attributes
    ----------
    number : int
        Optuna trial number.
    state : {"complete", "pruned", "fail"}
        Final state.
    params : dict
        Estimator parameters (resolved from ``raw_params``).
    raw_params : dict
        The values Optuna stores for the trial.
    mean_test_score, std_test_score : float
        Mean / standard deviation over folds of the objective metric at the
        last epoch trained (``error_score`` for failed trials).
    split_test_scores : dict
        ``{metric: [score per fold]}``.
    mean_fit_time : float
        Mean over folds of the fitting seconds.
    n_epochs, n_updates : int
        Epochs trained and weight updates per fold.
    fail_reason : str or None
        Why the trial failed.
    history : list of dict
        Per-epoch metrics (index = epoch - 1).
    study_name : str or None
        The study the trial belongs to.
    user_attrs : dict
        All user attributes of the trial.

    Examples
    --------
    >>> TrialRecord(number=3, state="pruned", params={}, raw_params={}).fail_reason is None
    True
    """

    number: int
    state: str
    params: dict
    raw_params: dict
    mean_test_score: float = math.nan
    std_test_score: float = math.nan
    split_test_scores: dict = field(default_factory=dict)
    mean_fit_time: float = math.nan
    n_epochs: int = 0
    n_updates: int = 0
    fail_reason: str | None = None
    history: list = field(default_factory=list)
    study_name: str | None = None
    user_attrs: dict = field(default_factory=dict)

    @classmethod
    def from_trial(cls, frozen_trial, *, params=None, metric="score", study_name=None):
        """Build a record from a finished Optuna ``FrozenTrial``.

        Parameters
        ----------
        frozen_trial : optuna.trial.FrozenTrial
            The trial, with the evaluator's user attributes.
        params : dict, optional
            Resolved estimator parameters; default the stored JSON form.
        metric : str
            The metric whose fold scores give ``mean_test_score``.
        study_name : str, optional
            Name of the study.

        Returns
        -------
        TrialRecord
        """
        attrs = dict(frozen_trial.user_attrs)
        splits = attrs.get("split_test_scores") or {}
        scores = np.asarray(splits.get(metric, []), dtype=float)
        fit_times = attrs.get("fit_times") or []
        return cls(
            number=frozen_trial.number,
            state=state_name(frozen_trial),
            params=dict(attrs.get("params", {})) if params is None else params,
            raw_params=dict(frozen_trial.params),
            mean_test_score=float(scores.mean()) if scores.size else math.nan,
            std_test_score=float(scores.std()) if scores.size else math.nan,
            split_test_scores=splits,
            mean_fit_time=float(np.mean(fit_times)) if fit_times else math.nan,
            n_epochs=int(attrs.get("n_epochs", 0)),
            n_updates=int(attrs.get("n_updates", 0)),
            fail_reason=attrs.get("fail_reason"),
            history=list(attrs.get("history", [])),
            study_name=study_name,
            user_attrs=attrs,
        )


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
