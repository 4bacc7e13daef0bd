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

from tuner.search.recovery import WORKER_ATTR, budget_used, study_lock

ROOT = Path(__file__).resolve().parents[1]
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
    inode = os.stat(f"{storage._backend._file_path}.tuner-lock").st_ino
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
