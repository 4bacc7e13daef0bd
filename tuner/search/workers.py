"""Run a study's trials in this process or in worker processes sharing one storage.

Trials run in processes, not threads (numpy training loops hold the GIL). Each
worker process loads the study from the shared storage with its own sampler
(seeded from the search's ``random_state`` and the worker index), pins BLAS to
one thread (``threadpoolctl``) and calls ``study.optimize`` with

- :func:`~tuner.search.recovery.budgeted`: "count the study's trials, then ask
  for one" under a lock shared by every process and machine of the study, so
  the study-wide budget is exact (``n_trials`` of ``optimize`` only counts per
  process) and each trial records its worker for crash recovery, and
- a ticket gate: a shared counter, decremented before each new trial is asked
  for, so that worker processes started by one search run exactly the remaining
  budget, never one more (``MaxTrialsCallback`` alone can overshoot when two
  workers finish at the same moment).

Worker processes die with the process that started them: a thread in each one
watches its parent pid and ends the worker when the parent is gone (even killed
by SIGKILL), leaving its running trial RUNNING for the next run's orphan
recovery instead of running the rest of the study unattended. An interrupt of
the parent (Ctrl-C, or SIGINT sent to it alone) stops handing out trials and
interrupts the workers, which fail their running trial and exit.

Examples
--------
>>> import optuna
>>> study = optuna.create_study()
>>> _ = study.enqueue_trial({"x": 1.0})
>>> study.ask()  # doctest: +ELLIPSIS
<optuna.trial._trial.Trial object at ...>
>>> counted_trials(study)
1
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import pickle
import signal
import sys
import threading
import time
from concurrent.futures import FIRST_EXCEPTION, ProcessPoolExecutor, wait
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from functools import partial

import optuna
from optuna.trial import TrialState
from threadpoolctl import threadpool_limits

from tuner.search.evaluate import TrialTask, evaluate_trial
from tuner.search.records import TrialRecord
from tuner.search.recovery import budget_used, budgeted

#: Trial states that use up the budget (WAITING = enqueued, not started yet).
COUNTED = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL, TrialState.RUNNING)

_TICKETS = None  # multiprocessing.Value shared by the workers of one search
#: Seconds between two checks of a worker process that its parent still runs.
PARENT_POLL_SECONDS = 0.5
#: Exit code of a worker process that outlived the process that started it.
EXIT_PARENT_GONE = 70


def counted_trials(study):
    """Number of trials of ``study`` that count towards its budget."""
    return budget_used(study.get_trials(deepcopy=False))


@dataclass
class WorkerJob:
    """What one worker needs: the task, where the study lives, its sampler and limits."""

    task: TrialTask
    storage: object
    study_name: str
    sampler: object
    pruner: object
    n_trials: int
    timeout: float | None = None
    verbosity: int = optuna.logging.WARNING


class _TrialEnd:
    """Optuna study callback: hand each finished trial to the search callbacks."""

    def __init__(self, task, *, progress=False):
        self.task, self.progress = task, progress

    def __call__(self, study, frozen_trial):
        try:
            params = self.task.space.resolve(frozen_trial.params, n_samples=self.task.n_samples)
        except Exception:  # a trial whose suggest failed has incomplete params
            params = None
        record = TrialRecord.from_trial(frozen_trial, params=params, metric=self.task.objective,
                                        study_name=study.study_name)
        self.task.callbacks.on_trial_end(record)
        if self.progress:
            self.task.callbacks.on_progress(study)


def _take_ticket():
    """Take one trial ticket from the shared counter; False when none is left."""
    if _TICKETS is None:
        return True
    with _TICKETS.get_lock():
        if _TICKETS.value <= 0:
            return False
        _TICKETS.value -= 1
        return True


class _TicketGate:
    """Optuna study callback: stop this worker when the search's tickets are used up."""

    def __call__(self, study, frozen_trial):
        if not _take_ticket():
            study.stop()


def _optimize(study, job, n_trials, extra_callbacks=(), progress=False):
    """``study.optimize`` with the evaluator, the study-wide cap and one BLAS thread."""
    callbacks = [_TrialEnd(job.task, progress=progress), *extra_callbacks]
    with threadpool_limits(limits=1), \
            budgeted(study, job.storage, job.n_trials, study_budget=job.task.study_budget):
        study.optimize(partial(evaluate_trial, task=job.task), n_trials=n_trials,
                       timeout=job.timeout, callbacks=callbacks, catch=())


def run_in_process(study, job):
    """Run the remaining budget of ``study`` here (``n_jobs=1``); returns trials started."""
    remaining = job.n_trials - counted_trials(study)
    if remaining > 0:
        _optimize(study, job, remaining, progress=True)
    return max(remaining, 0)


def _watch_parent(parent_pid, poll):
    """Thread body: end this process as soon as its parent is no longer ``parent_pid``."""
    while os.getppid() == parent_pid:  # a re-parented orphan gets another parent (init)
        time.sleep(poll)
    os._exit(EXIT_PARENT_GONE)  # no clean-up: the trial stays RUNNING for orphan recovery


def die_with_parent(parent_pid, *, poll=PARENT_POLL_SECONDS):
    """End this process within ``poll`` seconds once process ``parent_pid`` is gone.

    A daemon thread compares ``os.getppid()`` with ``parent_pid``: when the
    parent dies (SIGKILL included) the child is re-parented and the thread
    calls ``os._exit``. Portable (no ``prctl``), and costs one wake-up per ``poll``.
    """
    threading.Thread(target=_watch_parent, args=(parent_pid, poll), daemon=True,
                     name="tuner-parent-watch").start()


def _interrupt_once(signum, frame):
    """SIGINT handler of a worker: raise KeyboardInterrupt once, ignore later SIGINTs (a
    terminal's Ctrl-C and the parent's forwarded one must not interrupt the clean-up)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    raise KeyboardInterrupt


def _init_worker(tickets, parent_pid):
    """Process-pool initializer: keep the ticket counter, die with the parent, one SIGINT."""
    global _TICKETS
    _TICKETS = tickets
    die_with_parent(parent_pid)
    signal.signal(signal.SIGINT, _interrupt_once)


def _worker_main(job):
    """Entry point of a worker process: load the study and run trials while tickets last."""
    optuna.logging.set_verbosity(job.verbosity)
    quiet_interrupts()
    study = optuna.load_study(study_name=job.study_name, storage=job.storage,
                              sampler=job.sampler, pruner=job.pruner)
    if not _take_ticket():
        return 0
    _optimize(study, job, job.n_trials, extra_callbacks=(_TicketGate(),))
    return 1


@contextmanager
def _script_not_rerun(jobs):
    """Spawn workers without re-running the user's script, when the jobs do not need it.

    A spawned process runs the parent's ``__main__`` script again (to find what
    was defined there), so a script that calls ``fit(n_jobs=2)`` without an
    ``if __name__ == "__main__":`` guard would start workers recursively.
    Like joblib's workers, ours skip that unless a job refers to ``__main__``
    (e.g. a scorer defined in the script, which then needs the guard).
    """
    main = sys.modules["__main__"]
    path = getattr(main, "__file__", None)
    if path is None or getattr(main, "__spec__", None) is not None \
            or b"__main__" in pickle.dumps(jobs):
        yield
        return
    del main.__file__  # multiprocessing.spawn reads it when the process starts
    try:
        yield
    finally:
        main.__file__ = path


@contextmanager
def _children_ignore_sigint():
    """Processes started in the block begin with SIGINT ignored (``SIG_IGN`` survives exec).

    A worker still importing when Ctrl-C (or the driver's forwarded SIGINT)
    arrives would die with a traceback; ignored, it installs its handler in
    ``_init_worker``, finds no ticket left and exits. The block lasts as long
    as starting the processes (milliseconds); only the main thread may do this.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def run_workers(study, jobs, *, on_progress=None, poll_interval=1.0):
    """Run the remaining budget of ``study`` in ``len(jobs)`` spawned worker processes.

    Parameters
    ----------
    study : optuna.Study
        The study, in a storage the workers can open (journal file or database).
    jobs : list of WorkerJob
        One per worker (each with its own sampler seed).
    on_progress : callable, optional
        Called with ``study`` about every ``poll_interval`` seconds while workers run.
    poll_interval : float
        Seconds between progress calls.

    Returns
    -------
    int
        Number of trials the workers were allowed to start.
    """
    remaining = jobs[0].n_trials - counted_trials(study)
    if remaining <= 0:
        return 0
    ctx = multiprocessing.get_context("spawn")
    tickets = ctx.Value("i", remaining)
    with ProcessPoolExecutor(len(jobs), mp_context=ctx, initializer=_init_worker,
                             initargs=(tickets, os.getpid())) as pool:
        with _script_not_rerun(jobs), _children_ignore_sigint():  # spawned by the submits
            futures = [pool.submit(_worker_main, job) for job in jobs]
        try:
            _wait_for_workers(futures, tickets, study, on_progress, poll_interval)
        except KeyboardInterrupt:  # leaving the block waits for the workers to exit
            _interrupt_workers(pool, tickets)
            raise
    for future in futures:
        future.result()
    return remaining


def _no_more_tickets(tickets):
    """Hand out no further trial: each worker stops after its running trial."""
    with tickets.get_lock():
        tickets.value = 0


def _wait_for_workers(futures, tickets, study, on_progress, poll_interval):
    """Wait for every worker; after one fails, let the others stop after their trial."""
    pending = set(futures)
    while pending:
        done, pending = wait(pending, timeout=poll_interval, return_when=FIRST_EXCEPTION)
        if any(f.exception() is not None for f in done):
            _no_more_tickets(tickets)
        if on_progress is not None:
            on_progress(study)


def _interrupt_workers(pool, tickets):
    """After an interrupt of this process: no new trials, and SIGINT to every worker (a
    terminal sends it to all of them; ``kill -INT <pid>`` only to this one)."""
    _no_more_tickets(tickets)
    for pid in list(getattr(pool, "_processes", None) or ()):
        with suppress(ProcessLookupError):  # already gone
            os.kill(pid, signal.SIGINT)


class _NoInterruptTraceback(logging.Filter):
    """Keep Optuna's "trial failed" warning on Ctrl-C to one line (drop the traceback)."""

    def filter(self, record):
        """Strip the traceback of a KeyboardInterrupt; keep every record."""
        if record.exc_info and isinstance(record.exc_info[1], KeyboardInterrupt):
            record.exc_info, record.exc_text = None, None
        return True


def quiet_interrupts():
    """Keep Optuna's warnings about trials stopped by Ctrl-C to one line, without traceback.

    Examples
    --------
    >>> quiet_interrupts()
    >>> import logging
    >>> any(isinstance(f, _NoInterruptTraceback)
    ...     for h in logging.getLogger("optuna").handlers for f in h.filters)
    True
    """
    optuna.logging.get_logger("optuna")  # creates Optuna's handler if it is not there yet
    for handler in logging.getLogger("optuna").handlers:
        if not any(isinstance(f, _NoInterruptTraceback) for f in handler.filters):
            handler.addFilter(_NoInterruptTraceback())
