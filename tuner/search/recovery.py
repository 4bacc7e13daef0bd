"""Orphaned trials: RUNNING trials whose worker is gone are failed and retried once.

Trials record their worker (host, pid, boot, process start) in ``tuner:worker``
(:mod:`~tuner.search.trials`); a journal has no heartbeats, so when a study
starts or resumes (and while the driver waits for other workers), RUNNING
trials of dead local processes, and of other hosts after ``stale_after``
seconds, are failed and retried once, as Optuna's
``RetryHeartbeatStaleTrialCallback`` does for RDB storages. A retried failure
does not count towards the budget; its retry does.

Examples
--------
>>> import optuna
>>> from tuner.search.processes import worker_identity
>>> from tuner.search.trials import record_worker
>>> storage = optuna.storages.InMemoryStorage()
>>> study = optuna.create_study(storage=storage)
>>> trial = study.ask()  # asked by a worker now gone
>>> record_worker(storage, study.study_name, trial.number,
...               {**worker_identity(), "pid": 2**22 + 1, "since": 0})
>>> recover_orphans(study, storage), [t.state.name for t in study.trials]
([0], ['FAIL', 'WAITING'])
"""

import time

import optuna
from optuna.trial import TrialState

from tuner.search.processes import process_alive, worker_identity
from tuner.search.trials import fail_trial, retry_of, worker_of


def orphan_reason(trial, *, here=None, now=None, stale_after=None):
    """Why a RUNNING trial has no live worker any more, or None when it may still run.

    Examples
    --------
    >>> import optuna
    >>> from tuner.search.trials import WORKER_ATTR
    >>> trial = optuna.trial.create_trial(state=optuna.trial.TrialState.RUNNING,
    ...     system_attrs={WORKER_ATTR: {**worker_identity(), "pid": 2**22 + 1, "since": 0}})
    >>> orphan_reason(trial)  # doctest: +ELLIPSIS
    'worker ... (pid 4194305) is gone'
    """
    here = here or worker_identity()
    now = time.time() if now is None else now
    info = worker_of(trial)
    if not info:  # started outside tuner, or its worker died between ask and record
        started = trial.datetime_start.timestamp() if trial.datetime_start else now
        if stale_after is not None and now - started > stale_after:
            return f"no worker recorded, running for {now - started:.0f} s"
        return None
    who = f"worker {info['host']} (pid {info['pid']})"
    if info["host"] == here["host"]:
        if info.get("boot") != here["boot"]:
            return f"{who} is gone (the machine rebooted)"
        if not process_alive(info["pid"], info.get("start_ticks")):
            return f"{who} is gone"
        return None
    if stale_after is not None and now - info["since"] > stale_after:
        return f"{who} silent for {now - info['since']:.0f} s (more than {stale_after:g} s)"
    return None


def recover_orphans(study, storage, *, stale_after=None, max_retry=1):
    """Fail the RUNNING trials whose worker is gone and enqueue one retry of each.

    Call it under :func:`~tuner.search.lock.study_lock` when a study starts or
    resumes. Each orphan gets the user attribute ``fail_reason`` and the system
    attribute ``tuner:orphaned`` (the reason), then state FAIL; a copy with the
    same parameters is enqueued (at most ``max_retry`` times per original trial).

    Parameters
    ----------
    study : optuna.Study
    storage : optuna.storages.BaseStorage
        The study's storage.
    stale_after : float, optional
        Seconds after which a running trial of another host counts as lost
        (default: never; ``--stale-after`` of the command line).
    max_retry : int, default=1

    Returns
    -------
    list of int
        The numbers of the trials failed.
    """
    here, now, failed = worker_identity(), time.time(), []
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        reason = orphan_reason(trial, here=here, now=now, stale_after=stale_after)
        if reason is None:
            continue
        try:
            fail_trial(storage, study.study_name, trial.number, reason, orphaned=True)
        except optuna.exceptions.UpdateFinishedTrialError:
            continue  # its worker (or another process) finished it meanwhile
        failed.append(trial.number)
        retry = retry_of(trial, max_retry)  # the copy drops what failing it wrote
        if retry is not None:
            study.add_trial(retry)
    return failed
