"""Crash recovery: orphaned trials, the exact study-wide budget, a SIGKILLed run resumed."""

import multiprocessing
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from tuner.cli import main
from tuner.errors import ConfigError
from tuner.search.loop import run_trials
from tuner.search.processes import process_alive, runs_here, worker_identity
from tuner.search.recovery import recover_orphans
from tuner.search.seeds import claim_worker_indices, worker_seeds
from tuner.search.storage import resolve_storage
from tuner.search.trials import ORPHAN_ATTR, WORKER_ATTR, budget_used, record_worker

ROOT = Path(__file__).resolve().parents[2]
optuna.logging.set_verbosity(optuna.logging.WARNING)


def _dead_pid():
    """The pid of a process that has exited and been reaped."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def _new_study():
    """(study, its storage) in memory."""
    storage = optuna.storages.InMemoryStorage()
    return optuna.create_study(storage=storage), storage


def _running_trial(study, storage, **identity):
    """Ask a trial and record ``identity`` (over this process's) as its worker."""
    trial = study.ask()
    trial.suggest_float("x", 0.0, 1.0)
    info = {**worker_identity(), "since": time.time(), **identity}
    record_worker(storage, study.study_name, trial.number, info)
    return trial


# ---------------------------------------------------------------- units

def test_recover_orphans_fails_dead_local_worker_and_enqueues_retry():
    study, storage = _new_study()
    trial = _running_trial(study, storage, pid=_dead_pid())
    x = trial.params["x"]
    assert recover_orphans(study, storage) == [0]
    failed, retry = study.trials
    assert failed.state == TrialState.FAIL
    assert "is gone" in failed.user_attrs["fail_reason"]
    assert failed.system_attrs[ORPHAN_ATTR] == failed.user_attrs["fail_reason"]
    assert retry.state == TrialState.WAITING and retry.params == {"x": x}
    assert retry.system_attrs["failed_trial"] == 0 and retry.system_attrs["retry_history"] == [0]
    assert WORKER_ATTR not in retry.system_attrs
    assert budget_used(study.trials) == 0  # the retried failure does not count, the retry will
    study.optimize(lambda t: t.suggest_float("x", 0.0, 1.0), n_trials=1)
    assert study.trials[1].state == TrialState.COMPLETE and study.trials[1].params == {"x": x}
    assert budget_used(study.trials) == 1


def test_progress_counts_a_retried_failure_without_passing_the_budget():
    from tuner.cli.progress import StudyProgress, count_trials

    study, storage = _new_study()
    _running_trial(study, storage, pid=_dead_pid())
    recover_orphans(study, storage)
    study.optimize(lambda t: t.suggest_float("x", 0.0, 1.0), n_trials=2)  # the retry + one
    counts = count_trials(study)
    assert (counts["complete"], counts["fail"], counts["retried"]) == (2, 1, 1)
    with StudyProgress(total=2) as bar:
        bar.on_progress(study)
        task = bar._progress.tasks[0]
        assert (task.completed, task.total) == (2, 2)  # not 3/2
        assert "failed 1 (1 retried)" in task.fields["states"]


def test_recover_orphans_keeps_trials_of_live_workers():
    study, storage = _new_study()
    _running_trial(study, storage)  # this very process
    assert recover_orphans(study, storage) == []
    assert [t.state for t in study.trials] == [TrialState.RUNNING]


def test_recover_orphans_leaves_other_hosts_until_stale_after():
    study, storage = _new_study()
    _running_trial(study, storage, host=f"not-{socket.gethostname()}", pid=1,
                   since=time.time() - 100)
    assert recover_orphans(study, storage, stale_after=1000) == []
    assert recover_orphans(study, storage) == []  # no grace period given: never
    assert recover_orphans(study, storage, stale_after=50) == [0]
    assert "silent for" in study.trials[0].user_attrs["fail_reason"]


def test_recover_orphans_retries_a_trial_only_once():
    study, storage = _new_study()
    _running_trial(study, storage, pid=_dead_pid())
    recover_orphans(study, storage)
    study.ask()  # the retry, popped by a worker that dies as well
    record_worker(storage, study.study_name, 1,
                  {**worker_identity(), "pid": _dead_pid(), "since": 0})
    assert recover_orphans(study, storage) == [1]
    assert [t.state for t in study.trials] == [TrialState.FAIL, TrialState.FAIL]
    assert budget_used(study.trials) == 1  # the last failure stays (no retry left)


def _stale_after_given(monkeypatch, tmp_path, args):
    """The ``stale_after`` keyword ``tuner run`` hands to run_experiment (which is stubbed
    out: it records the keyword and stops like Ctrl-C), and the command's exit code."""
    import tuner.cli.commands

    seen = {}

    def stub(*_, stale_after=None, **__):
        seen["stale_after"] = stale_after
        raise KeyboardInterrupt

    monkeypatch.setattr(tuner.cli.commands, "run_experiment", stub)
    (tmp_path / "exp.yaml").write_text(EXPERIMENT)
    code = main(["run", str(tmp_path / "exp.yaml"), "--storage", str(tmp_path / "s.journal"),
                 "--no-mlflow", *args])
    return seen.get("stale_after"), code


def test_stale_after_comes_from_cli_option_or_environment(monkeypatch, tmp_path):
    monkeypatch.delenv("TUNER_STALE_AFTER", raising=False)
    assert _stale_after_given(monkeypatch, tmp_path, []) == (None, 130)
    assert main(["worker", str(tmp_path / "missing.yaml"), "--storage", "x.journal",
                 "--stale-after", "0"]) == 2  # must be > 0
    assert main(["run", str(tmp_path / "missing.yaml"), "--stale-after", "90"]) == 2
    assert _stale_after_given(monkeypatch, tmp_path, ["--stale-after", "90"]) == (90.0, 130)
    monkeypatch.setenv("TUNER_STALE_AFTER", "45")
    assert _stale_after_given(monkeypatch, tmp_path, []) == (45.0, 130)
    monkeypatch.setenv("TUNER_STALE_AFTER", "soon")  # not seconds > 0: a usage error
    assert main(["run", str(tmp_path / "exp.yaml"), "--stale-after", "soon"]) == 2
    assert _stale_after_given(monkeypatch, tmp_path, [])[1] == 2


def test_fit_hands_stale_after_to_orphan_recovery(monkeypatch):
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    import tuner.search.loop
    from tuner.search import GridSearch

    given = []
    real = tuner.search.loop.recover_orphans
    monkeypatch.setattr(tuner.search.loop, "recover_orphans", lambda *a, **k: (
        given.append(k["stale_after"]), real(*a, **k))[1])
    X, y = load_iris(return_X_y=True)
    GridSearch(LogisticRegression(max_iter=200), {"C": [1.0]}, cv=2).fit(X, y, stale_after=90)
    assert given and set(given) == {90}


def test_process_alive_rejects_dead_zombie_and_reused_pids():
    assert process_alive(os.getpid())
    assert not process_alive(_dead_pid())
    zombie = subprocess.Popen([sys.executable, "-c", "pass"])
    while Path(f"/proc/{zombie.pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z":
        time.sleep(0.05)  # exited, not yet reaped
    assert not process_alive(zombie.pid)
    zombie.wait()
    start = worker_identity()["start_ticks"]
    assert process_alive(os.getpid(), start) and not process_alive(os.getpid(), start + 1)


def test_runs_here_claims_own_and_child_trials_only():
    def trial(**identity):
        attrs = {WORKER_ATTR: {**worker_identity(), **identity}} if identity else {}
        return optuna.trial.create_trial(state=TrialState.RUNNING, system_attrs=attrs)

    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        assert runs_here(trial(pid=os.getpid())) and runs_here(trial(pid=child.pid))
    finally:
        child.kill()
        child.wait()
    assert runs_here(trial())  # no record: nobody else claims it
    assert not runs_here(trial(pid=1))  # alive, but not ours
    assert not runs_here(trial(host=f"not-{socket.gethostname()}", pid=os.getpid()))


def test_resolve_storage_rejects_sqlite_for_several_workers(tmp_path):
    with pytest.raises(ConfigError, match="one worker only.*journal file"):
        resolve_storage(f"sqlite:///{tmp_path / 'db.sqlite'}", n_workers=2)
    with resolve_storage(f"sqlite:///{tmp_path / 'db.sqlite'}", n_workers=1) as resolved:
        assert type(resolved.storage).__name__ == "RDBStorage"


def test_resolve_storage_heartbeat_from_arguments_or_environment(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    with resolve_storage(url, n_workers=1, heartbeat_interval=2, grace_period=5) as resolved:
        assert (resolved.storage.heartbeat_interval, resolved.storage.grace_period) == (2, 5)
    monkeypatch.setenv("TUNER_HEARTBEAT_INTERVAL", "3")
    monkeypatch.setenv("TUNER_GRACE_PERIOD", "9")
    with resolve_storage(url, n_workers=1) as resolved:
        assert (resolved.storage.heartbeat_interval, resolved.storage.grace_period) == (3, 9)
    monkeypatch.setenv("TUNER_GRACE_PERIOD", "0")
    with pytest.raises(ConfigError, match="TUNER_GRACE_PERIOD: must be a whole number"):
        resolve_storage(url, n_workers=1)


def test_worker_seeds_derive_from_study_seed_and_index():
    seeds = worker_seeds(7, 3)
    assert len(set(seeds)) == 4  # estimator + 3 distinct workers
    assert worker_seeds(7, 1, first=2) == [seeds[0], seeds[3]]  # index 2, wherever it runs
    assert worker_seeds(7, 3) == seeds and worker_seeds(8, 3) != seeds
    study, storage = _new_study()
    assert [claim_worker_indices(study, storage, n) for n in (2, 1, 3)] == [0, 2, 3]


def _hammer(path, n_trials):
    """Worker process: run the trial loop on a trivial objective, racing the others."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(path))
    study = optuna.load_study(study_name="race", storage=storage)
    run_trials(study, lambda t: t.suggest_float("x", 0.0, 1.0), storage=storage,
               n_trials=n_trials)


def test_budgeted_study_takes_exact_budget_from_racing_processes(tmp_path):
    path = str(tmp_path / "race.journal")
    storage = optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(path))
    study = optuna.create_study(study_name="race", storage=storage)
    for x in (0.1, 0.2, 0.3):  # enqueued points (a grid) are taken exactly once
        study.enqueue_trial({"x": x})
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_hammer, args=(path, 25)) for _ in range(4)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(60)
    assert [proc.exitcode for proc in procs] == [0, 0, 0, 0]
    trials = study.get_trials()
    assert len(trials) == 25 and {t.state for t in trials} == {TrialState.COMPLETE}
    assert sorted(t.params["x"] for t in trials[:3]) == [0.1, 0.2, 0.3]
    assert len({t.system_attrs[WORKER_ATTR]["pid"] for t in trials}) >= 2


# ---------------------------------------------------------------- a killed run

EXPERIMENT = """
name: killed_run
dataset: iris
test_size: 0.2
estimator:
  type: classifier
  params: {hidden_layer_sizes: [16], solver: adam, batch_size: 8, max_iter: 80}
search_space:
  parameters:
    learning_rate_init: {type: float, low: 1.0e-3, high: 1.0e-1, log: true}
    alpha: {type: float, low: 1.0e-6, high: 1.0e-2, log: true}
driver: {type: random, n_trials: 5}
cv: 2
seed: 0
n_jobs: 1
"""


def _load(journal, name):
    """The study as stored right now (read-only use of the journal)."""
    backend = optuna.storages.journal.JournalFileBackend(str(journal))
    return optuna.load_study(study_name=name, storage=optuna.storages.JournalStorage(backend))


def _wait_for(predicate, proc, log, timeout=120):
    """Poll ``predicate()`` every 20 ms until true; fail if ``proc`` exits first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"the run ended (exit {proc.returncode}) before the kill: "
                        f"{log.read_text()[-2000:]}")
        try:
            if predicate():
                return
        except KeyError:  # study not created yet
            pass
        time.sleep(0.02)
    pytest.fail("timed out")


def _mlflow_runs(uri, name):
    """(parent runs, child runs) of MLflow experiment ``name``."""
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    runs = client.search_runs([client.get_experiment_by_name(name).experiment_id],
                              max_results=1000)
    parents = [r for r in runs if r.data.tags.get("tuner.role") == "study"]
    return parents, [r for r in runs if "mlflow.parentRunId" in r.data.tags]


def _worker_pids(pid):
    """Pids of the multiprocessing worker processes started by process ``pid`` (from /proc)."""
    children = [c for task in Path(f"/proc/{pid}/task").iterdir()
                for c in (task / "children").read_text().split()]
    return [int(c) for c in children
            if b"spawn_main" in Path(f"/proc/{c}/cmdline").read_bytes()]


def _wait_until_gone(pids, timeout=60):
    """Wait until none of ``pids`` runs any more (zombies count as gone); the ones left."""
    deadline = time.monotonic() + timeout
    while any(process_alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    return [pid for pid in pids if process_alive(pid)]


def _kill_mid_trial(command, cwd, env, journal, n_jobs):
    """Start ``command``, SIGKILL it in a trial's first half; (its pid, its workers' pids)."""
    storage = optuna.storages.JournalStorage(  # read incrementally while the run writes
        optuna.storages.journal.JournalFileBackend(str(journal)))
    log = cwd / "run.log"
    with open(log, "w") as out:
        proc = subprocess.Popen(command, cwd=cwd, env=env, stdout=out, stderr=out)

    def two_done_one_halfway():  # a trial in its first half: the kill lands mid-training
        trials = optuna.load_study(study_name="killed_run", storage=storage).get_trials(
            deepcopy=False)
        return sum(t.state == TrialState.COMPLETE for t in trials) >= 2 and any(
            t.state == TrialState.RUNNING and 1 <= len(t.intermediate_values) <= 40
            for t in trials) and len(_worker_pids(proc.pid)) == (n_jobs if n_jobs > 1 else 0)

    try:
        _wait_for(two_done_one_halfway, proc, log)
        workers = _worker_pids(proc.pid)
    finally:  # the kill under test (or the clean-up of a failed wait)
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    return proc.pid, workers


@pytest.mark.slow
@pytest.mark.parametrize("n_jobs", [1, 2])
def test_run_killed_with_sigkill_resumes_without_rerunning_trials(tmp_path, n_jobs):
    (tmp_path / "exp.yaml").write_text(EXPERIMENT)
    journal, uri = tmp_path / "study.journal", f"sqlite:///{tmp_path / 'mlflow.db'}"
    command = [sys.executable, "-m", "tuner", "run", "exp.yaml", "--storage", str(journal),
               "--tracking-uri", uri, "--n-jobs", str(n_jobs)]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    pid, workers = _kill_mid_trial(command, tmp_path, env, journal, n_jobs)
    assert _wait_until_gone(workers) == []  # the workers died with their parent
    if os.path.lexists(f"{journal}.lock"):  # killed while appending to the journal: Optuna's
        os.remove(f"{journal}.lock")  # symlink lock stays, the rerun would wait 30 s for it
    before = _load(journal, "killed_run").trials
    done = {t.number: (t.params, t.datetime_complete) for t in before
            if t.state == TrialState.COMPLETE}
    killed = [t for t in before if t.state == TrialState.RUNNING]
    assert 1 <= len(killed) <= n_jobs
    assert {t.system_attrs[WORKER_ATTR]["pid"] for t in killed} <= set(workers or [pid])

    rerun = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True,
                           timeout=300)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    after = _load(journal, "killed_run").trials
    assert {t.number: (t.params, t.datetime_complete) for t in after if t.number in done} == done
    lost = [after[t.number] for t in killed]
    assert all(t.state == TrialState.FAIL and "is gone" in t.system_attrs[ORPHAN_ATTR]
               for t in lost)
    for trial in killed:
        retry = [t for t in after if t.system_attrs.get("failed_trial") == trial.number]
        assert len(retry) == 1 and retry[0].state == TrialState.COMPLETE
        assert retry[0].params == trial.params
    assert budget_used(after) == 5 and len(after) == 5 + len(killed)
    assert [t.state for t in after].count(TrialState.COMPLETE) == 5
    assert "5/5" in rerun.stderr and f"({len(killed)} retried)" in rerun.stderr  # not "6/5"
    assert f"({len(killed)} lost with" in rerun.stdout

    _check_lost_trial_runs(uri, "killed_run", {t.number for t in lost}, n_trials=len(after))


def _check_lost_trial_runs(uri, name, lost, *, n_trials):
    """One finished parent; one child per trial; the lost trials' child runs FAILED."""
    parents, children = _mlflow_runs(uri, name)
    assert len(parents) == 1 and parents[0].info.status == "FINISHED"
    by_trial = {int(r.data.tags["tuner.trial"]): r for r in children}
    assert sorted(by_trial) == list(range(n_trials))
    assert {r.data.tags["mlflow.parentRunId"] for r in children} == {parents[0].info.run_id}
    for number in lost:
        assert by_trial[number].info.status == "FAILED"
        assert by_trial[number].data.tags["tuner.state"] in ("fail", "failed")  # MLflow's name
    assert all(by_trial[n].info.status == "FINISHED" for n in by_trial if n not in lost)
