"""One background writer per process: child runs are written off the trials' path.

A trial's child run costs ~35-60 ms of CPU in MLflow (``create_run``, one
``log_batch``, ``set_terminated``; nearly all of it SQLAlchemy's Python work,
so a thread would hold the GIL the training needs). The tracker therefore
hands each run, pickled, to a writer *process* (started on first use, one per
tracking process) and the next trial starts at once; the writer runs the jobs
in order on another core. The trial's process never imports mlflow for them.

Nothing queued is lost:

- :func:`flush` waits until the writer has done every job sent so far (the
  tracker calls it at study end, before it counts and reconciles the child
  runs, and crash recovery calls it before it closes runs).
- At exit (also after an uncaught Ctrl-C) the process closes the job pipe
  and waits for the writer to finish. The writer runs in its own session, so
  a terminal's Ctrl-C never reaches it, and it finishes every job it received
  even when the process that sent them was killed.
- If the writer cannot start or dies, its unfinished jobs and later ones run
  on a thread of this process instead (a new writer is started for later
  jobs when the old one had worked); runs lost anyway are rebuilt from the
  Optuna trials at the next study start or end
  (:meth:`tuner.tracking.MLflowTracker.reconcile`).

Warnings a job raises in the writer are re-raised in this process.
"""

import atexit
import collections
import contextlib
import os
import pickle
import queue
import subprocess
import sys
import threading
import warnings
from pathlib import Path

_IDLE_POLL_SECONDS = 0.1  # how often an idle writer thread checks whether the main thread ended
_BOOT = ("import sys; sys.path.insert(0, sys.argv[3]); "
         "from tuner.tracking._writer import serve; serve(int(sys.argv[1]), int(sys.argv[2]))")


def _mlflow_env():
    """This process's ``MLFLOW_*`` settings (a job runs with them, whenever it runs)."""
    return {k: v for k, v in os.environ.items() if k.startswith("MLFLOW_")}


def _mirror_mlflow_env(env):
    """Make this process's ``MLFLOW_*`` variables exactly ``env`` (the sender's)."""
    for key in [k for k in os.environ if k.startswith("MLFLOW_") and k not in env]:
        del os.environ[key]
    os.environ.update(env)
    os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")


def _run(job, env=None):
    """Run one job (with the sender's ``MLFLOW_*`` settings ``env``); return the texts of
    the tracker's own warnings (``"MLflow: ..."``), for the sender to raise. Other warnings
    (libraries') are shown here, as usual."""
    if env is not None:
        _mirror_mlflow_env(env)
    with warnings.catch_warnings(record=True) as caught:
        warnings.filterwarnings("always", message="MLflow:")
        try:
            job()
        except Exception as exc:  # noqa: BLE001 - one bad write must not stop the others
            warnings.warn(f"MLflow: background write failed: {exc!r}", stacklevel=1)
    ours = []
    for w in caught:
        if str(w.message).startswith("MLflow:"):
            ours.append(str(w.message))
        else:
            warnings.showwarning(w.message, w.category, w.filename, w.lineno)
    return ours


def _report(texts):
    """Raise a job's warnings in this process; count the job as failed if it warned."""
    for text in texts:
        warnings.warn(text, stacklevel=1)
    if texts:
        _failed_jobs[0] += 1


class _ThreadWriter:
    """Fallback: a (non-daemon) thread of this process runs the jobs in order."""

    def __init__(self):
        self.pid, self.jobs = os.getpid(), queue.Queue()
        self.thread = threading.Thread(target=self._loop, name="tuner-mlflow-writer",
                                       daemon=False)
        self.thread.start()

    def alive(self):
        """True while the thread runs."""
        return self.thread.is_alive()

    def submit(self, job):
        """Queue ``job``; always accepted."""
        self.jobs.put(job)
        return True

    def _loop(self):
        """Run jobs; return once the main thread ended and the queue is empty."""
        main = threading.main_thread()
        while True:
            try:
                job = self.jobs.get(timeout=_IDLE_POLL_SECONDS)
            except queue.Empty:
                if not main.is_alive():
                    return
                continue
            try:
                _report(_run(job))
            finally:
                self.jobs.task_done()

    def flush(self):
        """Wait for every queued job (not from inside a job: that would deadlock)."""
        if threading.current_thread() is not self.thread:
            self.jobs.join()


class _ProcessWriter:
    """A writer process fed through a pipe; acknowledges each job (with its warnings)."""

    def __init__(self):
        self.pid, self.sent, self.done, self.dead = os.getpid(), 0, 0, False
        self.changed, self.lock = threading.Condition(), threading.Lock()
        self.unacknowledged = collections.deque()  # jobs sent, in order, not done yet
        job_read, job_write = os.pipe()
        ack_read, ack_write = os.pipe()
        root = str(Path(__file__).resolve().parents[2])  # the folder holding this tuner
        env = {**os.environ, "MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT": "true"}
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-c", _BOOT, str(job_read), str(ack_write), root],
                pass_fds=(job_read, ack_write), stdin=subprocess.DEVNULL, env=env,
                start_new_session=True)  # no terminal signals: it finishes what it got
        finally:
            os.close(job_read)
            os.close(ack_write)
        self.jobs, self.acks = os.fdopen(job_write, "wb"), os.fdopen(ack_read, "rb")
        threading.Thread(target=self._read_acks, name="tuner-mlflow-acks", daemon=True).start()
        atexit.register(self.close)

    def alive(self):
        """True while the writer process can take jobs."""
        return not self.dead

    def submit(self, job):
        """Send ``job``; False when the writer is gone (or the job does not pickle)."""
        try:
            data = pickle.dumps((job, _mlflow_env()), protocol=pickle.HIGHEST_PROTOCOL)
        except Exception:  # noqa: BLE001 - e.g. an unpicklable parameter: run it here
            return False
        with self.lock:
            if self.dead:
                return False
            try:
                self.jobs.write(data)
                self.jobs.flush()
            except (BrokenPipeError, OSError, ValueError):
                self._mark_dead()
                return False
            with self.changed:
                self.sent += 1
                self.unacknowledged.append(job)
        return True

    def _read_acks(self):
        """Reader thread: count acknowledged jobs, re-raise their warnings here."""
        try:
            while True:
                _report(pickle.load(self.acks))
                with self.changed:
                    self.done += 1
                    self.unacknowledged.popleft()
                    self.changed.notify_all()
        except (EOFError, OSError, pickle.UnpicklingError):
            self._mark_dead()

    def _mark_dead(self):
        """The writer is gone: its unfinished jobs run on a thread here (a job it died in
        the middle of may leave a second run); without a single job done, it cannot run
        here at all, so this process keeps to the thread."""
        with self.changed:
            if self.dead:
                return
            self.dead, orphans = True, list(self.unacknowledged)
            self.unacknowledged.clear()
            if self.done == 0:
                _no_process.add(self.pid)
            for job in orphans:
                _writer("thread").submit(job)
            self.changed.notify_all()

    def flush(self):
        """Wait until the writer acknowledged every job sent (or died)."""
        with self.changed:
            self.changed.wait_for(lambda: self.dead or self.done >= self.sent)

    def close(self):
        """At exit: no more jobs; wait for the writer to finish the ones it has."""
        if os.getpid() != self.pid:  # a forked child inherited this atexit hook: not its writer
            return
        with self.lock:
            if not self.jobs.closed:
                with contextlib.suppress(OSError):  # OSError: already gone
                    self.jobs.close()  # end of file for the writer: it finishes and exits
        self.process.wait()
        self.flush()


_lock = threading.Lock()
_failed_jobs = [0]  # jobs of this process that warned (a write failed), lost ones included
_writers = {}  # "process" / "thread" -> the writer of this process (pid-checked)
_no_process = set()  # pids of processes where no writer process could be started


def _writer(kind):
    """This process's writer of ``kind``, started on first use (and after a fork)."""
    with _lock:
        writer = _writers.get(kind)
        if writer is None or writer.pid != os.getpid() or not writer.alive():
            if kind == "process" and os.getpid() in _no_process:
                return None
            try:
                writer = _ProcessWriter() if kind == "process" else _ThreadWriter()
            except OSError:  # no process can be started here: use the thread from now on
                _no_process.add(os.getpid())
                return None
            _writers[kind] = writer
        return writer


def submit(job):
    """Have ``job`` (a picklable callable without arguments) run by this process's writer."""
    writer = _writer("process")
    if writer is None or not writer.submit(job):
        _writer("thread").submit(job)


def flush():
    """Wait until every job submitted by this process has run.

    Examples
    --------
    >>> from functools import partial
    >>> submit(partial(print, end=""))
    >>> flush()
    """
    for kind in ("process", "thread"):  # a dead writer process hands its jobs to the thread
        writer = _writers.get(kind)
        if writer is not None and writer.pid == os.getpid():
            writer.flush()


def failures():
    """Number of jobs of this process whose write failed so far (they warned)."""
    return _failed_jobs[0]


def writer_pid():
    """Pid of this process's writer process (None before the first job or when gone)."""
    writer = _writers.get("process")
    alive = writer is not None and writer.pid == os.getpid() and writer.alive()
    return writer.process.pid if alive else None


# ---- the writer process ------------------------------------------------------------
def _read_jobs(stream, jobs):
    """Writer-process thread: move pickled jobs from the pipe into ``jobs`` (None at EOF)."""
    try:
        while True:
            jobs.put(pickle.load(stream))
    except (EOFError, OSError, pickle.UnpicklingError):
        jobs.put(None)


def serve(job_fd, ack_fd):
    """Body of the writer process: run jobs in order, acknowledge each, exit at end of file."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is for the process that sent the jobs
    jobs = queue.Queue()
    threading.Thread(target=_read_jobs, args=(os.fdopen(job_fd, "rb"), jobs),
                     daemon=True).start()  # keeps the pipe drained while a job runs
    acks = os.fdopen(ack_fd, "wb")
    import mlflow.client  # noqa: F401 - the 3-5 s import overlaps the first trial

    while (item := jobs.get()) is not None:
        texts = _run(*item)
        try:
            acks.write(pickle.dumps(texts))
            acks.flush()
        except OSError:  # the sender is gone: keep writing what was received
            pass
