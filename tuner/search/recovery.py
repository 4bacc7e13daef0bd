"""Fault tolerance of a study shared by worker processes on one or several machines.

- :func:`study_lock`: one lock for all processes of a study, wherever they run: an
  ``fcntl`` lock on ``<journal>.tuner-lock``, ``pg_advisory_lock`` or ``GET_LOCK``.
- :func:`budgeted`: Optuna's ``n_trials`` counts per process and ``MaxTrialsCallback``
  checks after a trial, so two workers finishing together can both start one more;
  here "count, then ask" runs under the study lock: the budget is exact and each
  grid point (enqueued trial) runs once.
- :func:`recover_orphans`: trials record their worker (host, pid, boot, process
  start) in ``tuner:worker``; a journal has no heartbeats, so on start or resume
  RUNNING trials of dead local processes (and of other hosts after
  ``TUNER_STALE_AFTER`` s) are failed and retried once, as Optuna's
  ``RetryHeartbeatStaleTrialCallback`` does for RDB storages. A retried failure
  does not count towards the budget; its retry does.
- :func:`claim_worker_indices`: each joining process takes fresh indices from a
  counter on the study; sampler seeds derive from the study seed and the index.

Examples
--------
>>> import optuna
>>> study = optuna.create_study()
>>> with budgeted(study, None, n_trials=2):
...     study.optimize(lambda trial: trial.suggest_float("x", 0, 1), n_trials=5)
>>> len(study.trials), budget_used(study.trials)
(2, 2)
"""

import hashlib
import os
import socket
import time
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

import numpy as np
import optuna
from optuna.trial import TrialState
from sklearn.utils import check_random_state

from tuner.search.budget import study_budget_used
from tuner.search.storage import journal_path

try:  # POSIX only; elsewhere a journal study is not locked across processes
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None

#: System attribute of a trial: the worker that runs it.
WORKER_ATTR = "tuner:worker"
#: System attribute of a trial failed because its worker was gone: the reason.
ORPHAN_ATTR = "tuner:orphaned"
#: System attribute of a study: the number of worker indices handed out so far.
WORKERS_ATTR = "tuner:n_workers"
#: Environment variable: seconds after which a RUNNING trial of another host is stale.
STALE_AFTER_ENV = "TUNER_STALE_AFTER"
#: Trial states that use up the budget (WAITING = enqueued, not started yet).
COUNTED = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL, TrialState.RUNNING)


class BudgetSpentError(Exception):
    """Raised by the budgeted ``study.ask`` when the study's budget is spent."""


# ---------------------------------------------------------------- the study lock

@contextmanager
def _file_lock(path):
    """Hold an exclusive POSIX lock on ``path`` (created if missing)."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.lockf(fd, fcntl.LOCK_UN)
        os.close(fd)


@contextmanager
def _database_lock(engine, study_name):
    """Hold a PostgreSQL advisory lock or a MySQL named lock on one connection."""
    from sqlalchemy import text

    if engine.dialect.name == "postgresql":  # key: a signed 64-bit hash of the study name
        key = hashlib.blake2b(f"tuner:{study_name}".encode(), digest_size=8).digest()
        take, give, args = ("SELECT pg_advisory_lock(:k)", "SELECT pg_advisory_unlock(:k)",
                            {"k": int.from_bytes(key, "big", signed=True)})
    else:  # mysql / mariadb: wait up to an hour for the named lock
        take, give, args = ("SELECT GET_LOCK(:k, 3600)", "SELECT RELEASE_LOCK(:k)",
                            {"k": f"tuner:{study_name}"[:64]})
    with engine.connect() as connection:
        connection.execute(text(take), args)
        try:
            yield
        finally:
            connection.execute(text(give), args)
            connection.commit()


@contextmanager
def study_lock(storage, study_name):
    """Hold the lock shared by every process (and machine) working on one study.

    Parameters
    ----------
    storage : optuna.storages.BaseStorage or None
        The study's storage; ``None`` or an in-memory storage needs no lock.
    study_name : str
    """
    path = journal_path(storage)
    engine = getattr(storage, "engine", None)
    if path is not None and fcntl is not None:
        with _file_lock(f"{path}.tuner-lock"):
            yield
    elif engine is not None and engine.dialect.name in ("postgresql", "mysql", "mariadb"):
        with _database_lock(engine, study_name):
            yield
    else:  # in memory (one process) or SQLite (one worker)
        yield


# ---------------------------------------------------------------- the budget

def budget_used(trials):
    """Trials that count towards the budget: started or finished, minus retried failures
    (those listed in another trial's ``retry_history``, as Optuna's retry callback writes)."""
    retried = {n for t in trials for n in t.system_attrs.get("retry_history", ())}
    return sum(1 for t in trials if t.state in COUNTED
               and not (t.state == TrialState.FAIL and t.number in retried))


class _BudgetedAsk:
    """Stands in for ``study.ask``: check the budget, ask and record the worker, atomically."""

    def __init__(self, study, storage, n_trials, study_budget=None):
        self.study, self.storage, self.n_trials = study, storage, n_trials
        self.study_budget = study_budget
        self.ask = study.ask  # the bound method of the class

    def __call__(self, fixed_distributions=None):
        with study_lock(self.storage, self.study.study_name):
            trials = self.study.get_trials(deepcopy=False)
            if budget_used(trials) >= self.n_trials:
                raise BudgetSpentError(f"the study's {self.n_trials} trials are taken")
            if self.study_budget is not None and \
                    study_budget_used(trials, self.study_budget[0]) >= self.study_budget[1]:
                raise BudgetSpentError(f"the study budget {self.study_budget} is spent")
            trial = self.ask(fixed_distributions)
            record_worker(trial)
        return trial


@contextmanager
def budgeted(study, storage, n_trials, study_budget=None):
    """Within the block, ``study.optimize`` never takes the study past ``n_trials`` trials.

    Optuna's optimize loop calls ``study.ask()``; on this study object it is
    replaced by one that counts the budget and asks under :func:`study_lock`
    (``storage``: the study's). The loop ends quietly when the budget is spent,
    or when the finished trials used ``study_budget`` (``(kind, value)``, see
    :func:`~tuner.search.budget.study_budget_used`).
    """
    study.ask = _BudgetedAsk(study, storage, n_trials, study_budget)
    try:
        yield
    except BudgetSpentError:
        study._storage.remove_session()  # what the optimize loop does when it ends normally
    finally:
        del study.ask


# ---------------------------------------------------------------- workers

def _boot_id():
    """This machine's boot id (Linux), so a reboot marks every old pid as gone."""
    path = Path("/proc/sys/kernel/random/boot_id")
    return path.read_text().strip() if path.exists() else ""


def _proc_stat(pid):
    """``(state, start time in clock ticks)`` of a process from /proc, or None."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return fields[0], int(fields[19])  # fields 3 and 22 of proc(5), after "pid (comm)"


def process_alive(pid, start_ticks=None):
    """True when process ``pid`` of this machine runs (and started at ``start_ticks``)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by another user
        pass
    state, ticks = _proc_stat(pid) or ("R", start_ticks)  # no /proc: trust os.kill
    return state not in ("Z", "X") and (start_ticks is None or ticks == start_ticks)


@lru_cache(maxsize=4)
def _identity(pid):
    """Host, pid, boot id and start time of process ``pid`` (cached: it never changes)."""
    stat = _proc_stat(pid)
    return {"host": socket.gethostname(), "pid": pid, "boot": _boot_id(),
            "start_ticks": stat[1] if stat else None}


def worker_identity():
    """Host, pid, boot id and process start time of this process (a dict)."""
    return dict(_identity(os.getpid()))


def record_worker(trial):
    """Record on a running trial which worker runs it, and since when (epoch seconds)."""
    identity = {**worker_identity(), "since": time.time()}
    trial.storage.set_trial_system_attr(trial._trial_id, WORKER_ATTR, identity)


def runs_here(trial):
    """True when this process or one of its children runs ``trial`` (or no worker is
    recorded): what an interrupt of this process may fail, unlike other workers' trials."""
    info, pid = trial.system_attrs.get(WORKER_ATTR), os.getpid()
    if not info or info["host"] != socket.gethostname():
        return not info
    try:  # field 4 of /proc/<pid>/stat: the parent's pid
        ppid = int(Path(f"/proc/{info['pid']}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):  # gone: recover_orphans will fail it
        return False
    return pid in (info["pid"], ppid)


def stale_after_seconds():
    """The user's grace period for trials of other hosts (``TUNER_STALE_AFTER``), or None."""
    value = os.environ.get(STALE_AFTER_ENV, "").strip()
    try:
        seconds = float(value) if value else None
    except ValueError:
        seconds = float("nan")
    if seconds is not None and not seconds > 0:  # also NaN
        from tuner.errors import ConfigError

        raise ConfigError("must be a number of seconds > 0", key=STALE_AFTER_ENV, value=value)
    return seconds


def orphan_reason(trial, *, here=None, now=None, stale_after=None):
    """Why a RUNNING trial has no live worker any more, or None when it may still run.

    Examples
    --------
    >>> import optuna
    >>> trial = optuna.trial.create_trial(state=optuna.trial.TrialState.RUNNING,
    ...     system_attrs={WORKER_ATTR: {**worker_identity(), "pid": 2**22 + 1, "since": 0}})
    >>> orphan_reason(trial)  # doctest: +ELLIPSIS
    'worker ... (pid 4194305) is gone'
    """
    here = here or worker_identity()
    now = time.time() if now is None else now
    info = trial.system_attrs.get(WORKER_ATTR)
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


def _retry(study, trial, max_retry):
    """Enqueue a copy of a failed trial like ``RetryHeartbeatStaleTrialCallback`` (or False)."""
    system = {k: v for k, v in trial.system_attrs.items() if not k.startswith("tuner:")}
    system = {"failed_trial": trial.number, **system}
    system["retry_history"] = [*system.get("retry_history", ()), trial.number]
    if len(system["retry_history"]) > max_retry:
        return False
    user = {k: v for k, v in trial.user_attrs.items() if k != "fail_reason"}
    study.add_trial(optuna.trial.create_trial(
        state=TrialState.WAITING, params=trial.params, distributions=trial.distributions,
        user_attrs=user, system_attrs=system))
    return True


def recover_orphans(study, storage, *, stale_after=None, max_retry=1):
    """Fail the RUNNING trials whose worker is gone and enqueue one retry of each.

    Call it under :func:`study_lock` when a study starts or resumes. Each orphan
    gets the user attribute ``fail_reason`` and the system attribute
    ``tuner:orphaned`` (the reason), then state FAIL; a copy with the same
    parameters is enqueued (at most ``max_retry`` times per original trial).
    ``stale_after``: seconds after which a running trial of another host counts as
    lost (default: ``TUNER_STALE_AFTER``, else never). Returns the failed numbers.

    Examples
    --------
    >>> import optuna
    >>> study = optuna.create_study()
    >>> trial, storage = study.ask(), study._storage  # asked by a worker now gone
    >>> storage.set_trial_system_attr(trial._trial_id, WORKER_ATTR,
    ...                               {**worker_identity(), "pid": 2**22 + 1, "since": 0})
    >>> recover_orphans(study, storage), [t.state.name for t in study.trials]
    ([0], ['FAIL', 'WAITING'])
    """
    stale_after = stale_after_seconds() if stale_after is None else stale_after
    here, now, failed = worker_identity(), time.time(), []
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        reason = orphan_reason(trial, here=here, now=now, stale_after=stale_after)
        if reason is None:
            continue
        try:
            storage.set_trial_user_attr(trial._trial_id, "fail_reason", reason)
            storage.set_trial_system_attr(trial._trial_id, ORPHAN_ATTR, reason)
            storage.set_trial_state_values(trial._trial_id, state=TrialState.FAIL)
        except optuna.exceptions.UpdateFinishedTrialError:
            continue  # its worker (or another process) finished it meanwhile
        failed.append(trial.number)
        _retry(study, storage.get_trial(trial._trial_id), max_retry)
    return failed


def claim_worker_indices(study, storage, count):
    """Take ``count`` worker indices from the study's counter; return the first one.

    Call it under :func:`study_lock`. Indices are never handed out twice, so
    each worker's sampler seed, derived from the study seed and its index,
    is unique, also for workers that join from other machines or a resumed run.

    Examples
    --------
    >>> import optuna
    >>> study = optuna.create_study()
    >>> storage = study._storage
    >>> claim_worker_indices(study, storage, 2), claim_worker_indices(study, storage, 1)
    (0, 2)
    """
    study_id = storage.get_study_id_from_name(study.study_name)
    first = int(storage.get_study_system_attrs(study_id).get(WORKERS_ATTR, 0))
    storage.set_study_system_attr(study_id, WORKERS_ATTR, first + count)
    return first


def wait_for_others(study, storage, *, on_progress=None, poll=1.0):
    """Wait until no trial is RUNNING (other workers finish theirs; orphans are failed)."""
    while True:
        with study_lock(storage, study.study_name):
            recover_orphans(study, storage)
            if not study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
                return
        if on_progress is not None:
            on_progress(study)
        time.sleep(poll)


def join_study(study, storage, n_workers, plan, start=None):
    """Under the study lock: recover orphans, claim worker indices, ``plan()``, ``start()``.

    Returns ``(first worker index, plan())``. ``plan`` enqueues grid points
    (``skip_if_exists`` is only safe while no other process enqueues); ``start``
    runs the ``on_study_start`` callbacks, so that of all processes joining at
    once exactly one creates the MLflow parent run (and a new SQLite store).
    """
    with study_lock(storage, study.study_name):
        recover_orphans(study, storage)
        first, n_trials = claim_worker_indices(study, storage, n_workers), plan()
        if start is not None:
            start()
        return first, n_trials


def worker_seeds(random_state, n_workers, *, first=0):
    """[estimator seed, sampler seeds of worker indices first, first + 1, ...], or Nones:
    SeedSequence children of the study seed (key 0: estimator; i + 1: worker index i).

    Examples
    --------
    >>> worker_seeds(0, 2)[2] == worker_seeds(0, 1, first=1)[1]
    True
    """
    if random_state is None:
        return [None] * (n_workers + 1)
    base = int(check_random_state(random_state).randint(np.iinfo(np.int32).max))
    children = np.random.SeedSequence(base).spawn(first + n_workers + 1)
    return [int(child.generate_state(1)[0] % np.iinfo(np.int32).max)
            for child in [children[0], *children[first + 1:]]]
