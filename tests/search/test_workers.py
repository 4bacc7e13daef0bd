"""Several worker processes on one study: a real PostgreSQL server and a journal file.

Each scenario starts ``python -m tuner run`` (it creates the study, enqueues the
grid and opens the MLflow parent run), then three ``python -m tuner worker``
processes that join the study from the command line, and checks the stored
study and the MLflow store once every process has exited.
"""

import os
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from tuner.search.lock import study_lock
from tuner.search.storage import journal_path
from tuner.search.trials import WORKER_ATTR, budget_used

ROOT = Path(__file__).resolve().parents[2]
optuna.logging.set_verbosity(optuna.logging.WARNING)

LEARNING_RATES = [0.001, 0.003, 0.01, 0.03]
BATCH_SIZES = [8, 32]
COMMON = """
dataset: iris
test_size: 0.2
estimator:
  type: classifier
  params: {hidden_layer_sizes: [16], solver: adam, max_iter: 40}
cv: 2
seed: 0
n_jobs: 1
tracking: {log_model: false}
"""
GRID = f"""
driver: {{type: grid}}
search_space:
  parameters:
    learning_rate_init: {{type: float, low: 0.001, high: 0.1, log: true, grid: {LEARNING_RATES}}}
    batch_size: {{type: int, low: 8, high: 32, grid: {BATCH_SIZES}}}
"""
TPE = """
driver: {type: optuna, sampler: tpe, n_trials: 8}
search_space:
  parameters:
    learning_rate_init: {type: float, low: 1.0e-3, high: 1.0e-1, log: true}
    batch_size: {type: int, low: 8, high: 32, base: 2}
"""


def _write(folder, name, driver):
    """An experiment file ``<name>.yaml`` in ``folder``."""
    path = folder / f"{name}.yaml"
    path.write_text(f"name: {name}\n{COMMON}{driver}")
    return path


def _start(folder, *args):
    """Start ``python -m tuner ARGS`` in ``folder``, output to a log file."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    log = open(folder / f"log-{time.monotonic_ns()}.txt", "w")  # noqa: SIM115 - closed by _finish
    proc = subprocess.Popen([sys.executable, "-m", "tuner", *args], cwd=folder, env=env,
                            stdout=log, stderr=subprocess.STDOUT)
    proc.log = log
    return proc


def _finish(proc, timeout=300):
    """Wait for a process; its exit code and output."""
    code = proc.wait(timeout)
    proc.log.close()
    return code, Path(proc.log.name).read_text()[-3000:]


def _wait_for_parent(storage, name, run, timeout=120):
    """Wait until the run process created the study and its MLflow parent run."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert run.poll() is None, _finish(run)[1]
        try:
            study = optuna.load_study(study_name=name, storage=storage)
            if "mlflow_parent_run_id" in study.user_attrs:
                return
        except KeyError:  # not created yet
            pass
        time.sleep(0.2)
    pytest.fail("the run process did not start the study in time")


def _lock_waiters(storage):
    """How many processes wait for the study lock now (PostgreSQL: pg_locks; journal file:
    blocked POSIX locks on ``<journal>.tuner-lock`` in /proc/locks)."""
    engine = getattr(storage, "engine", None)
    if engine is not None:
        from sqlalchemy import text

        with engine.connect() as connection:
            return connection.execute(text("SELECT count(*) FROM pg_locks WHERE "
                                           "locktype = 'advisory' AND NOT granted")).scalar()
    inode = os.stat(f"{journal_path(storage)}.tuner-lock").st_ino
    return sum("->" in line and f":{inode} " in line
               for line in Path("/proc/locks").read_text().splitlines())


def _hold_until_waiting(storage, name, n_waiting, procs, timeout=120):
    """Hold the study lock until ``n_waiting`` processes wait for it (so all of them get
    trials, however slowly they start), then let them go."""
    deadline = time.monotonic() + timeout
    with study_lock(storage, name):
        while _lock_waiters(storage) < n_waiting:
            for proc in procs:
                assert proc.poll() is None, _finish(proc)[1]
            assert time.monotonic() < deadline, "the workers did not reach the study in time"
            time.sleep(0.2)


def _run_study(folder, experiment, storage, url):
    """``tuner run`` plus three ``tuner worker`` processes; the finished study."""
    name, uri = experiment.stem, f"sqlite:///{folder / 'mlflow.db'}"
    common = ["--storage", url, "--tracking-uri", uri]
    procs = [_start(folder, "run", experiment.name, *common)]
    try:
        _wait_for_parent(storage, name, procs[0])
        procs += [_start(folder, "worker", experiment.name, *common) for _ in range(3)]
        _hold_until_waiting(storage, name, 4, procs)
        for proc in procs:
            code, output = _finish(proc)
            assert code == 0, output
    finally:  # never leave processes behind a failed test
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    return optuna.load_study(study_name=name, storage=storage), uri


def _check_mlflow(uri, study):
    """One parent run (finished) with one child run per trial."""
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    experiment = client.get_experiment_by_name(study.study_name)
    runs = client.search_runs([experiment.experiment_id], max_results=1000)
    parents = [r for r in runs if r.data.tags.get("tuner.role") == "study"]
    assert len(parents) == 1 and parents[0].info.status == "FINISHED"
    assert parents[0].info.run_id == study.user_attrs["mlflow_parent_run_id"]
    children = [r for r in runs if r is not parents[0]]
    assert {r.data.tags["mlflow.parentRunId"] for r in children} == {parents[0].info.run_id}
    assert sorted(int(r.data.tags["tuner.trial"]) for r in children) == \
        [t.number for t in study.trials]


def _check_study(study, budget):
    """Exactly ``budget`` trials, all complete, run by several processes."""
    trials = study.trials
    assert len(trials) == budget and budget_used(trials) == budget
    assert {t.state for t in trials} == {TrialState.COMPLETE}  # none RUNNING or WAITING
    pids = {(t.system_attrs[WORKER_ATTR]["host"], t.system_attrs[WORKER_ATTR]["pid"])
            for t in trials}
    assert len(pids) >= 3, f"trials ran in {len(pids)} processes only"
    return trials


def _journal_storage(folder):
    """(storage object for the test, URL for the command line) of a journal file."""
    path = folder / "study.journal"
    backend = optuna.storages.journal.JournalFileBackend(str(path))
    return optuna.storages.JournalStorage(backend), str(path)


@pytest.fixture(params=["postgresql", "journal"])
def shared_storage(request, tmp_path):
    """A storage shared by the processes: the session's PostgreSQL server or a journal file."""
    if request.param == "journal":
        return _journal_storage(tmp_path)
    url = request.getfixturevalue("postgres_url")
    return optuna.storages.RDBStorage(url), url  # creates the tables before any worker


@pytest.mark.slow
def test_workers_run_every_grid_point_exactly_once(tmp_path, shared_storage):
    storage, url = shared_storage
    experiment = _write(tmp_path, f"grid_{type(storage).__name__.lower()}", GRID)
    study, uri = _run_study(tmp_path, experiment, storage, url)
    trials = _check_study(study, len(LEARNING_RATES) * len(BATCH_SIZES))
    points = sorted((t.params["learning_rate_init"], t.params["batch_size"]) for t in trials)
    assert points == sorted((lr, b) for lr in LEARNING_RATES for b in BATCH_SIZES)
    _check_mlflow(uri, study)


@pytest.mark.slow
def test_workers_share_the_tpe_budget(tmp_path, shared_storage):
    storage, url = shared_storage
    experiment = _write(tmp_path, f"tpe_{type(storage).__name__.lower()}", TPE)
    study, uri = _run_study(tmp_path, experiment, storage, url)
    trials = _check_study(study, 8)
    assert len({tuple(sorted(t.params.items())) for t in trials}) == 8  # no point twice
    _check_mlflow(uri, study)


# ---------------------------------------------------------------- a worker killed on PostgreSQL

HEARTBEAT = """name: pg_heartbeat
dataset: iris
estimator:
  type: classifier
  params: {hidden_layer_sizes: [16], solver: adam, batch_size: 8, max_iter: 80}
search_space:
  parameters:
    learning_rate_init: {type: float, low: 1.0e-3, high: 1.0e-1, log: true}
driver: {type: random, n_trials: 16}
cv: 2
seed: 0
"""


def _poll(predicate, procs, what, timeout=180):
    """Poll ``predicate()`` (KeyError: study not there yet) until true; fail if a process ends."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for proc in procs:
            assert proc.poll() is None, _finish(proc)[1]
        try:
            if predicate():
                return
        except KeyError:
            pass
        time.sleep(0.05)
    pytest.fail(f"timed out waiting for {what}")


@pytest.mark.slow
@pytest.mark.postgres
def test_postgres_heartbeat_fails_and_retries_the_trial_of_a_killed_worker(tmp_path,
                                                                          postgres_url,
                                                                          monkeypatch):
    # documented overrides of the heartbeat (1 s) and the grace period (3 s), for every process
    monkeypatch.setenv("TUNER_HEARTBEAT_INTERVAL", "1")
    monkeypatch.setenv("TUNER_GRACE_PERIOD", "3")
    experiment = tmp_path / "pg_heartbeat.yaml"
    experiment.write_text(HEARTBEAT)
    common = ["--storage", postgres_url, "--no-mlflow"]
    storage = optuna.storages.RDBStorage(postgres_url)
    study = lambda: optuna.load_study(study_name="pg_heartbeat", storage=storage)  # noqa: E731
    run = _start(tmp_path, "run", experiment.name, *common)
    procs = [run]
    try:
        _poll(lambda: study() is not None, procs, "the study")
        worker = _start(tmp_path, "worker", experiment.name, *common)
        procs.append(worker)
        _hold_until_waiting(storage, "pg_heartbeat", 2, procs)  # both get trials

        def killed_trials():  # the worker's trial, in its first epochs
            return [t for t in study().get_trials(states=(TrialState.RUNNING,))
                    if t.system_attrs.get(WORKER_ATTR, {}).get("pid") == worker.pid
                    and 1 <= len(t.intermediate_values) <= 20]

        _poll(lambda: killed_trials(), procs, "a trial of the worker")
        killed = killed_trials()[0]
        worker.kill()  # SIGKILL mid-trial: no heartbeat any more
        _finish(worker)
        procs.remove(worker)
        _poll(lambda: study().trials[killed.number].state == TrialState.FAIL, procs,
              "the run process to fail the stale trial")
        procs.append(_start(tmp_path, "worker", experiment.name, *common))  # another worker
        for proc in procs:
            code, output = _finish(proc)
            assert code == 0, output
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    trials = study().trials
    lost = trials[killed.number]
    assert lost.state == TrialState.FAIL and "tuner:orphaned" not in lost.system_attrs  # heartbeat
    retry = [t for t in trials if t.system_attrs.get("failed_trial") == killed.number]
    assert len(retry) == 1 and retry[0].state == TrialState.COMPLETE
    assert retry[0].params == killed.params
    assert budget_used(trials) == 16 and len(trials) == 17
    assert {t.state for t in trials if t.number != killed.number} == {TrialState.COMPLETE}
