"""Run a study's trials in this process or in worker processes sharing one storage.

Trials run in processes, not threads (numpy training loops hold the GIL). Each
worker process loads the study from the shared storage with its own sampler
(seeded from the search's ``random_state`` and the worker index), pins BLAS to
one thread (``threadpoolctl``) and runs the same trial loop as a single process,
:func:`~tuner.search.loop.run_trials`, whose study lock keeps the study-wide
budget exact. A shared stop event tells the workers to start no new trial
(after an interrupt of the parent, or once one worker failed).

Worker processes die with the process that started them: a thread in each one
watches its parent pid and ends the worker when the parent is gone (even killed
by SIGKILL), leaving its running trial RUNNING for the next run's orphan
recovery instead of running the rest of the study unattended. An interrupt of
the parent (Ctrl-C, or SIGINT sent to it alone) stops handing out trials and
interrupts the workers, which fail their running trial and exit.
"""

from __future__ import annotations

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
from threadpoolctl import threadpool_limits

from tuner.search.evaluate import evaluate_trial
from tuner.search.loop import counted_trials, run_trials
from tuner.search.task import TrialTask
from tuner.search.trials import TrialRecord

_STOP = None  # multiprocessing.Event shared by the workers of one search: no new trials
#: Seconds between two checks of a worker process that its parent still runs.
PARENT_POLL_SECONDS = 0.5
#: Exit code of a worker process that outlived the process that started it.
EXIT_PARENT_GONE = 70


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
    """After each trial: hand it to the search callbacks (and show progress)."""

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


def _run(study, job, *, stop=None, progress=False):
    """The trial loop with the evaluator and one BLAS thread; returns the trials run."""
    with threadpool_limits(limits=1):
        return run_trials(study, partial(evaluate_trial, task=job.task), storage=job.storage,
                          n_trials=job.n_trials, study_budget=job.task.study_budget,
                          timeout=job.timeout, stop=stop,
                          on_trial_end=_TrialEnd(job.task, progress=progress))


def run_in_process(study, job):
    """Run the remaining budget of ``study`` here (``n_jobs=1``); returns the trials run."""
    return _run(study, job, progress=True)


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


def _init_worker(stop, pids, parent_pid):
    """Process-pool initializer: keep the stop event, sign in (``pids``: the free slot of a
    shared array the parent reads to interrupt its workers), die with the parent, one SIGINT."""
    global _STOP
    _STOP = stop
    with pids.get_lock():
        pids[list(pids).index(0)] = os.getpid()
    die_with_parent(parent_pid)
    signal.signal(signal.SIGINT, _interrupt_once)


def _worker_main(job):
    """Entry point of a worker process: load the study and run trials until told to stop."""
    optuna.logging.set_verbosity(job.verbosity)
    study = optuna.load_study(study_name=job.study_name, storage=job.storage,
                              sampler=job.sampler, pruner=job.pruner)
    return _run(study, job, stop=_STOP)


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
    ``_init_worker``, finds the stop event set and exits. The block lasts as long
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
        Number of trials the workers ran.
    """
    if counted_trials(study) >= jobs[0].n_trials:
        return 0
    ctx = multiprocessing.get_context("spawn")
    stop, pids = ctx.Event(), ctx.Array("i", len(jobs))
    with ProcessPoolExecutor(len(jobs), mp_context=ctx, initializer=_init_worker,
                             initargs=(stop, pids, os.getpid())) as pool:
        with _script_not_rerun(jobs), _children_ignore_sigint():  # spawned by the submits
            futures = [pool.submit(_worker_main, job) for job in jobs]
        try:
            _wait_for_workers(futures, stop, study, on_progress, poll_interval)
        except KeyboardInterrupt:  # leaving the block waits for the workers to exit
            _interrupt_workers(pids, stop)
            raise
    return sum(future.result() for future in futures)


def _wait_for_workers(futures, stop, study, on_progress, poll_interval):
    """Wait for every worker; after one fails, let the others stop after their trial."""
    pending = set(futures)
    while pending:
        done, pending = wait(pending, timeout=poll_interval, return_when=FIRST_EXCEPTION)
        if any(f.exception() is not None for f in done):
            stop.set()
        if on_progress is not None:
            on_progress(study)


def _interrupt_workers(pids, stop):
    """After an interrupt of this process: no new trials, and SIGINT to every worker that
    signed in (a terminal sends it to all of them; ``kill -INT <pid>`` only to this one;
    a worker still starting ignores SIGINT and finds ``stop`` set)."""
    stop.set()
    with pids.get_lock():
        signed_in = [pid for pid in pids if pid]
    for pid in signed_in:
        with suppress(ProcessLookupError):  # already gone
            os.kill(pid, signal.SIGINT)
