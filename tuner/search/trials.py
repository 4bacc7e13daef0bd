"""THE reader and writer of what a study stores on its trials, and of their states.

The evaluator writes a trial's results as user attributes of the Optuna trial
(so they survive processes, machines and crashes); workers and crash recovery
write system attributes. Everything else (``cv_results_``, budgets, plots, the
report, MLflow, the CLI summary) reads them through this module.

User attributes written on every finished trial (fields of :class:`TrialAttrs`):

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
``grid_point``        the raw point a grid enqueued (set when enqueued)

System attributes: ``tuner:worker`` (:data:`WORKER_ATTR`, who runs the trial),
``tuner:orphaned`` (:data:`ORPHAN_ATTR`, why its worker was declared gone) and
Optuna's ``retry_history`` (the failed trials a trial retries).

States: Optuna's ``COMPLETE``, ``PRUNED``, ``FAIL``, ``RUNNING``, ``WAITING``
are tuner's ``complete``, ``pruned``, ``fail``, ``running``, ``waiting``
(:func:`state_of`). A failed trial that was retried (listed in another trial's
``retry_history``) does not count towards the budget; its retry does
(:func:`retried_failures`, :func:`budget_used`).

Examples
--------
>>> import optuna
>>> trial = optuna.trial.create_trial(value=0.9, user_attrs={"n_epochs": 3})
>>> state_of(trial), read_attrs(trial).n_epochs
('complete', 3)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields

import numpy as np
import optuna
from optuna.trial import TrialState

#: System attribute of a trial: the worker that runs it.
WORKER_ATTR = "tuner:worker"
#: System attribute of a trial failed because its worker was gone: the reason.
ORPHAN_ATTR = "tuner:orphaned"
#: System attribute (Optuna's retry callbacks write it too): the trials a trial retries.
RETRY_ATTR = "retry_history"
#: User attribute of an enqueued grid trial: its raw point.
GRID_ATTR = "grid_point"
#: Optuna trial state name -> tuner state name.
STATES = {"COMPLETE": "complete", "PRUNED": "pruned", "FAIL": "fail",
          "RUNNING": "running", "WAITING": "waiting"}
#: Optuna states of finished trials.
FINISHED = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)
#: Trial states that use up the budget (WAITING = enqueued, not started yet).
COUNTED = (*FINISHED, TrialState.RUNNING)


# ---------------------------------------------------------------- states

def state_of(trial):
    """Tuner's lower-case state name of an Optuna trial (anything with ``state.name``)."""
    return STATES.get(trial.state.name, trial.state.name.lower())


def is_finished(trial):
    """True for a complete, pruned or failed trial."""
    return state_of(trial) in ("complete", "pruned", "fail")


def retried_failures(trials):
    """Numbers of the failed trials that were retried (listed in another trial's
    ``retry_history``, as Optuna's retry callbacks and tuner's orphan recovery write).

    Examples
    --------
    >>> import optuna
    >>> failed = optuna.trial.create_trial(state=TrialState.FAIL)
    >>> retry = optuna.trial.create_trial(value=1.0, system_attrs={RETRY_ATTR: [0]})
    >>> failed.number, retry.number = 0, 1
    >>> retried_failures([failed, retry])
    {0}
    """
    retried = {n for t in trials for n in (getattr(t, "system_attrs", None) or {}).get(
        RETRY_ATTR, ())}
    if not retried:
        return set()
    return {t.number for t in trials if t.number in retried and state_of(t) == "fail"}


def budget_used(trials):
    """Trials that count towards a study's ``n_trials``: started or finished, minus
    retried failures."""
    retried = retried_failures(trials)
    return sum(1 for t in trials if t.state in COUNTED and t.number not in retried)


def lost_trials(trials):
    """``{number: reason}`` of the failed trials lost with their worker: failed by tuner's
    orphan recovery (:data:`ORPHAN_ATTR`) or by Optuna's stale-heartbeat check (retried)."""
    retried = retried_failures(trials)
    return {t.number: t.system_attrs.get(ORPHAN_ATTR, "worker lost (stale heartbeat)")
            for t in trials if state_of(t) == "fail"
            and (ORPHAN_ATTR in t.system_attrs or t.number in retried)}


def worker_of(trial):
    """The worker recorded on a trial (host, pid, boot, start_ticks, since), or None."""
    return trial.system_attrs.get(WORKER_ATTR) or None


# ---------------------------------------------------------------- stored attributes

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


@dataclass(frozen=True)
class TrialAttrs:
    """The evaluator's user attributes of one trial, with their defaults when missing.

    Examples
    --------
    >>> TrialAttrs.parse({"n_epochs": 2, "fit_times": [0.1, 0.3]}).fit_times
    [0.1, 0.3]
    """

    params: dict = field(default_factory=dict)
    split_test_scores: dict = field(default_factory=dict)
    split_train_scores: dict = field(default_factory=dict)
    fit_times: list = field(default_factory=list)
    score_times: list = field(default_factory=list)
    n_epochs: int = 0
    n_updates: int = 0
    n_samples_seen: int = 0
    history: list = field(default_factory=list)
    fail_reason: str | None = None
    grid_point: dict | None = None

    @classmethod
    def parse(cls, user_attrs):
        """Read the known keys of a trial's ``user_attrs`` (None counts as missing)."""
        values = {f.name: user_attrs[f.name] for f in fields(cls)
                  if user_attrs.get(f.name) is not None}
        for name in ("n_epochs", "n_updates", "n_samples_seen"):
            values[name] = int(values.get(name, 0))
        return cls(**values)


def read_attrs(trial):
    """The :class:`TrialAttrs` stored on an Optuna trial."""
    return TrialAttrs.parse(trial.user_attrs)


def write_attrs(trial, **values):
    """Store evaluator results (keys of :class:`TrialAttrs`) on a running ``optuna.Trial``."""
    for key, value in values.items():
        trial.set_user_attr(key, jsonable(value))


def fold_values(attrs, key, metric=None):
    """Per-fold floats of a stored attribute (``split_*_scores`` of ``metric``, or times)."""
    values = getattr(attrs, key)
    values = values.get(metric, []) if metric is not None else values
    return [float(v) if v is not None else math.nan for v in values]


# ---------------------------------------------------------------- writes by trial number

def trial_id(storage, study_name, number):
    """The storage's id of trial ``number`` of a study (Optuna's public storage API)."""
    study_id = storage.get_study_id_from_name(study_name)
    return storage.get_trial_id_from_study_id_trial_number(study_id, number)


def record_worker(storage, study_name, number, identity):
    """Record on a running trial which worker runs it (``identity``: host, pid, ...)."""
    storage.set_trial_system_attr(trial_id(storage, study_name, number), WORKER_ATTR, identity)


def fail_trial(storage, study_name, number, reason, *, orphaned=False):
    """Fail a RUNNING trial with ``fail_reason`` (and :data:`ORPHAN_ATTR` when its worker
    is gone). Raises ``optuna.exceptions.UpdateFinishedTrialError`` if it finished."""
    tid = trial_id(storage, study_name, number)
    storage.set_trial_user_attr(tid, "fail_reason", reason)
    if orphaned:
        storage.set_trial_system_attr(tid, ORPHAN_ATTR, reason)
    storage.set_trial_state_values(tid, state=TrialState.FAIL)


def retry_of(trial, max_retry):
    """A WAITING copy of a failed trial, as ``RetryHeartbeatStaleTrialCallback`` makes
    one; None once the original was retried ``max_retry`` times."""
    system = {k: v for k, v in trial.system_attrs.items() if not k.startswith("tuner:")}
    system = {"failed_trial": trial.number, **system}
    system[RETRY_ATTR] = [*system.get(RETRY_ATTR, ()), trial.number]
    if len(system[RETRY_ATTR]) > max_retry:
        return None
    user = {k: v for k, v in trial.user_attrs.items() if k != "fail_reason"}
    return optuna.trial.create_trial(
        state=TrialState.WAITING, params=trial.params, distributions=trial.distributions,
        user_attrs=user, system_attrs=system)


# ---------------------------------------------------------------- what callbacks receive

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
    >>> record = TrialRecord(number=0, state="complete", params={"alpha": 0.1},
    ...                      raw_params={"alpha": 0.1}, mean_test_score=0.9)
    >>> record.state, record.n_epochs, record.fail_reason is None
    ('complete', 0, True)
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
        attrs = read_attrs(frozen_trial)
        scores = np.asarray(fold_values(attrs, "split_test_scores", metric), dtype=float)
        return cls(
            number=frozen_trial.number,
            state=state_of(frozen_trial),
            params=dict(attrs.params) if params is None else params,
            raw_params=dict(frozen_trial.params),
            mean_test_score=float(scores.mean()) if scores.size else math.nan,
            std_test_score=float(scores.std()) if scores.size else math.nan,
            split_test_scores=attrs.split_test_scores,
            mean_fit_time=float(np.mean(attrs.fit_times)) if attrs.fit_times else math.nan,
            n_epochs=attrs.n_epochs,
            n_updates=attrs.n_updates,
            fail_reason=attrs.fail_reason,
            history=list(attrs.history),
            study_name=study_name,
            user_attrs=dict(frozen_trial.user_attrs),
        )
