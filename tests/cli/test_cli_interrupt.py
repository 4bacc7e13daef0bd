"""SIGINT sent to the ``run`` process alone (``kill -INT <pid>``, not a terminal's Ctrl-C).

Ctrl-C in a terminal reaches every process of the group (tests/cli/test_cli.py); a
supervisor's ``kill -INT`` reaches only the run process, which must then stop
handing out trials and interrupt its worker processes itself.
"""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from tuner.search.processes import process_alive

ROOT = Path(__file__).resolve().parents[2]
EXPERIMENT = {
    "name": "interrupted",
    "dataset": "digits",
    "estimator": {"params": {"hidden_layer_sizes": [16]}},
    "search_space": {"parameters": {
        "learning_rate_init": {"type": "float", "low": 1e-3, "high": 1e-2},
        "max_iter": {"type": "int", "low": 20, "high": 30}}},
    "driver": {"type": "random", "n_trials": 200},
    "cv": 2,
    "tracking": {"log_model": False},
}


def _states(journal):
    """Trial states stored in the journal file."""
    import optuna

    storage = optuna.storages.JournalStorage(
        optuna.storages.journal.JournalFileBackend(str(journal)))
    return [t.state.name for t in optuna.load_study(study_name="interrupted",
                                                     storage=storage).trials]


def _workers(pid):
    """Pids of the multiprocessing workers of process ``pid`` (from /proc)."""
    children = [c for task in Path(f"/proc/{pid}/task").iterdir()
                for c in (task / "children").read_text().split()]
    return [int(c) for c in children if b"spawn_main" in Path(f"/proc/{c}/cmdline").read_bytes()]


def _wait_for_two_complete(proc, journal, timeout=180):
    """Wait until two trials are complete and both workers run; their pids."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()[1][-2000:]
        if journal.exists() and _states(journal).count("COMPLETE") >= 2 \
                and len(_workers(proc.pid)) == 2:
            return _workers(proc.pid)
        time.sleep(0.3)
    pytest.fail("the run did not get going in time")


@pytest.mark.slow
def test_cli_run_sigint_to_the_run_process_alone_stops_its_workers(tmp_path):
    from mlflow import MlflowClient

    (tmp_path / "exp.yaml").write_text(yaml.safe_dump(EXPERIMENT))
    journal, uri = tmp_path / "study.journal", f"sqlite:///{tmp_path / 'mlflow.db'}"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "tuner", "run", "exp.yaml", "--n-jobs", "2",
                             "--storage", str(journal), "--tracking-uri", uri], cwd=tmp_path,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        workers = _wait_for_two_complete(proc, journal)
        os.kill(proc.pid, signal.SIGINT)  # the run process only, not its process group
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, err[-2000:]
    assert "Summary (interrupted)" in out and "Traceback" not in err
    assert f"MLflow: python -m tuner ui --tracking-uri {uri}" in out
    assert not [pid for pid in workers if process_alive(pid)]
    states = _states(journal)
    assert states.count("COMPLETE") >= 2 and "RUNNING" not in states and len(states) < 200
    client = MlflowClient(uri)
    runs = client.search_runs([client.get_experiment_by_name("interrupted").experiment_id],
                              max_results=1000)
    assert {r.info.status for r in runs if r.data.tags.get("tuner.role") == "study"} == {"KILLED"}
    assert "RUNNING" not in {r.info.status for r in runs}
