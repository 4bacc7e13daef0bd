"""The trial loop: ask for a trial under the study lock, evaluate it, tell the result.

Every process that works on a study (the driver with ``n_jobs=1``, each worker
process, a ``tuner worker`` on another machine) runs :func:`run_trials` with
Optuna's public ask-and-tell interface. The one budget mechanism: under
:func:`~tuner.search.lock.study_lock`, the loop counts the trials that use the
study's budget (:func:`~tuner.search.trials.budget_used`) and what the finished
ones used of a ``study_budget``, and only then asks for a trial and records its
worker, so the budget is exact however many processes race, and each enqueued
grid point runs once. A Ctrl-C never leaves a trial of this process RUNNING: asking
and telling are atomic with respect to it (:mod:`~tuner.search.interrupts`), and an
interrupted trial is told FAIL. A running trial of an RDB storage with heartbeats sends
them, and stale trials are failed before each ask, as ``study.optimize`` does.

:func:`join_study` and :func:`wait_for_others` are the steps around the loop
that also need the lock: orphan recovery, worker indices, the grid plan.

Examples
--------
>>> import optuna
>>> storage = optuna.storages.InMemoryStorage()
>>> study = optuna.create_study(storage=storage)
>>> run_trials(study, lambda trial: trial.suggest_float("x", 0, 1), storage=storage,
...            n_trials=2), run_trials(study, lambda trial: 0.0, storage=storage, n_trials=2)
(2, 0)
"""

import logging
import math
import threading
import time
import warnings
from contextlib import contextmanager

import optuna
from optuna.trial import TrialState

from tuner.search.budget import study_budget_used
from tuner.search.interrupts import interrupts_deferred
from tuner.search.lock import study_lock
from tuner.search.processes import worker_identity
from tuner.search.recovery import recover_orphans
from tuner.search.seeds import claim_worker_indices
from tuner.search.trials import budget_used, record_worker, trial_id

_logger = logging.getLogger(__name__)


def counted_trials(study):
    """Number of trials of ``study`` that count towards its budget."""
    return budget_used(study.get_trials(deepcopy=False))


def budget_left(trials, n_trials, study_budget=None):
    """True while ``trials`` leave room for one more trial of the budget.

    ``n_trials``: the study's total; ``study_budget``: ``(kind, value)`` of
    :func:`~tuner.search.budget.study_budget_used`, or None.
    """
    if budget_used(trials) >= n_trials:
        return False
    return study_budget is None or study_budget_used(trials, study_budget[0]) < study_budget[1]


def _heartbeat_interval(storage):
    """Seconds between heartbeats of an RDB storage that has them, else None."""
    interval = getattr(storage, "get_heartbeat_interval", None)
    return interval() if callable(interval) else None


def ask_within_budget(study, storage, *, n_trials, study_budget=None):
    """Under the study lock: a new trial (its worker recorded), or None when the budget
    is spent. Enqueued trials (grid points, retries) come first, as ``study.ask`` gives."""
    heartbeats = bool(_heartbeat_interval(storage))
    if heartbeats:
        with warnings.catch_warnings():  # heartbeats are "experimental" since Optuna 2.x
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            optuna.storages.fail_stale_trials(study)
    with study_lock(storage, study.study_name), warnings.catch_warnings():
        if heartbeats:  # Optuna warns that only its optimize loop sends them: this one does
            warnings.filterwarnings("ignore", message="Heartbeat of storage is supposed")
        if not budget_left(study.get_trials(deepcopy=False), n_trials, study_budget):
            return None
        trial = study.ask()
        record_worker(storage, study.study_name, trial.number,
                      {**worker_identity(), "since": time.time()})
    return trial


@contextmanager
def _heartbeats(storage, study_name, number):
    """While the block runs, record a heartbeat of the trial every interval (RDB only)."""
    interval = _heartbeat_interval(storage)
    if not interval:
        yield
        return
    tid, done = trial_id(storage, study_name, number), threading.Event()

    def beat():
        storage.record_heartbeat(tid)
        while not done.wait(interval):
            storage.record_heartbeat(tid)

    thread = threading.Thread(target=beat, name="tuner-heartbeat", daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()


def _evaluate(study, storage, trial, objective):
    """Run ``objective(trial)`` and tell Optuna the outcome; re-raise an error after.

    A returned NaN (or None) is a failed trial, ``TrialPruned`` a pruned one;
    any other exception (Ctrl-C included) fails the trial and propagates.
    """
    state, value, error = None, None, None
    with _heartbeats(storage, study.study_name, trial.number):
        try:
            value = objective(trial)
        except optuna.TrialPruned:
            state = TrialState.PRUNED
        except (Exception, KeyboardInterrupt) as exc:
            state, error = TrialState.FAIL, exc
    if state is None and (value is None or math.isnan(value)):
        state = TrialState.FAIL
    with interrupts_deferred():  # told whole: a Ctrl-C now is raised once it is stored
        frozen = study.tell(trial, None if state is not None else value, state=state)
    if error is not None:  # one line, no traceback: the caller decides what to show
        _logger.warning("Trial %d failed: %r", trial.number, error)
        raise error
    _logger.info("Trial %d %s (value %s).", trial.number, frozen.state.name.lower(),
                 frozen.value)
    return frozen


def run_trials(study, objective, *, storage, n_trials, study_budget=None, timeout=None,
               stop=None, on_trial_end=None):
    """Ask, evaluate and tell trials until the study's budget is spent.

    Parameters
    ----------
    study : optuna.Study
    objective : callable
        ``objective(trial) -> float`` (NaN: failed; raises ``TrialPruned``: pruned).
    storage : optuna.storages.BaseStorage
        The study's storage (its lock and its trials).
    n_trials : int
        The study's total number of trials (all processes together).
    study_budget : tuple, optional
        ``(kind, value)``: no trial starts once the finished ones used it.
    timeout : float, optional
        Seconds after which this process starts no new trial.
    stop : threading.Event or multiprocessing.Event, optional
        Set by another thread or process: start no new trial.
    on_trial_end : callable, optional
        ``on_trial_end(study, frozen_trial)`` after each trial is told.

    Returns
    -------
    int
        Trials this call ran.
    """
    deadline = None if timeout is None else time.monotonic() + timeout
    ran = 0
    while (stop is None or not stop.is_set()) and (deadline is None or time.monotonic() < deadline):
        trial = None
        try:
            with interrupts_deferred():  # asked and its worker recorded whole, or not at all
                trial = ask_within_budget(study, storage, n_trials=n_trials,
                                          study_budget=study_budget)
            if trial is None:
                break
            frozen = _evaluate(study, storage, trial, objective)
        except KeyboardInterrupt:  # also between the ask and the objective: never left RUNNING
            if trial is not None:
                with interrupts_deferred():
                    study.tell(trial, state=TrialState.FAIL, skip_if_finished=True)
            raise
        ran += 1
        if on_trial_end is not None:
            on_trial_end(study, frozen)
    return ran


def join_study(study, storage, n_workers, plan, start=None, *, stale_after=None):
    """Under the study lock: recover orphans, claim worker indices, ``plan()``, ``start()``.

    Returns ``(first worker index, plan())``. ``plan`` enqueues grid points
    (``skip_if_exists`` is only safe while no other process enqueues); ``start``
    runs the ``on_study_start`` callbacks, so that of all processes joining at
    once exactly one creates the MLflow parent run (and a new SQLite store).
    ``stale_after``: see :func:`~tuner.search.recovery.recover_orphans`.
    """
    with study_lock(storage, study.study_name):
        recover_orphans(study, storage, stale_after=stale_after)
        first, n_trials = claim_worker_indices(study, storage, n_workers), plan()
        if start is not None:
            start()
        return first, n_trials


def wait_for_others(study, storage, *, on_progress=None, poll=1.0, stale_after=None):
    """Wait until no trial is RUNNING (other workers finish theirs; orphans are failed)."""
    while True:
        with study_lock(storage, study.study_name):
            recover_orphans(study, storage, stale_after=stale_after)
            if not study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
                return
        if on_progress is not None:
            on_progress(study)
        time.sleep(poll)
