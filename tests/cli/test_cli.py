"""The command line, run in subprocesses on tiny experiments in a temporary directory."""

import os
import signal
import subprocess
import sys
import time

import pytest
from cli_helpers import ROOT, TINY, study_trials, write
from cli_helpers import tuner as run_tuner

from tuner.cli import main

EXPERIMENTS = sorted((ROOT / "experiments").glob("*.yaml"))


def tuner(*args, cwd, timeout=120):
    """``python -m tuner ARGS`` in ``cwd``; a run that tracks without being told to would
    write to ``unexpected-mlflow.db`` (tests check it does not appear)."""
    return run_tuner(*args, cwd=cwd, timeout=timeout,
                     env={"MLFLOW_TRACKING_URI": f"sqlite:///{cwd}/unexpected-mlflow.db"})


# ---------------------------------------------------------------- run, resume, fresh

def test_cli_run_prints_plan_and_summary(tmp_path):
    write(tmp_path, TINY)
    proc = tuner("run", "tiny.yaml", "--no-mlflow", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "iris: 150 samples x 4 features, 3 classes; train 120 / held-out test 30" in out
    assert "random (pruner none), 3 trials" in out
    assert "Best trial #" in out and "3 trials: 3 complete, 0 pruned, 0 failed" in out
    assert "learning_rate_init" in out and "Held-out score" in out
    assert "python -m tuner report tiny.yaml" in out
    assert "Traceback" not in proc.stderr
    assert [t.state.name for t in study_trials(tmp_path / ".tuner" / "tiny.journal")] == \
        ["COMPLETE"] * 3
    assert not (tmp_path / "unexpected-mlflow.db").exists()


@pytest.mark.slow
def test_cli_run_resumes_without_rerunning_completed_trials(tmp_path):
    write(tmp_path, TINY)
    journal = tmp_path / ".tuner" / "tiny.journal"
    assert tuner("run", "tiny.yaml", "--no-mlflow", cwd=tmp_path).returncode == 0
    first = {t.number: (t.params, t.datetime_start) for t in study_trials(journal)}
    proc = tuner("run", "tiny.yaml", "--no-mlflow", "--n-trials", 5, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "5 trials (3 already in the study: resuming, 2 to run)" in proc.stdout
    trials = study_trials(journal)
    assert [t.number for t in trials] == [0, 1, 2, 3, 4]
    assert {t.number: (t.params, t.datetime_start) for t in trials[:3]} == first
    again = tuner("resume", "tiny.yaml", "--no-mlflow", "--n-trials", 5, cwd=tmp_path)
    assert again.returncode == 0 and len(study_trials(journal)) == 5
    assert "5 trials (5 already in the study: resuming, 0 to run)" in again.stdout


@pytest.mark.slow
def test_cli_run_fresh_starts_a_new_study(tmp_path):
    write(tmp_path, TINY)
    journal = tmp_path / ".tuner" / "tiny.journal"
    assert tuner("run", "tiny.yaml", "--no-mlflow", cwd=tmp_path).returncode == 0
    old = [t.datetime_start for t in study_trials(journal)]
    proc = tuner("run", "tiny.yaml", "--no-mlflow", "--fresh", "--n-trials", 2, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "previous study deleted" in proc.stdout
    trials = study_trials(journal)
    assert len(trials) == 2 and not {t.datetime_start for t in trials} & set(old)


def test_cli_run_set_overrides_keys(tmp_path):
    write(tmp_path, TINY)
    proc = tuner("run", "tiny.yaml", "--no-mlflow", "--set", "driver.n_trials=2",
                 "--set", "cv=3", "--set", "dataset=wine", "--storage", "other.journal",
                 cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "(3 folds)" in proc.stdout and "wine: 178 samples" in proc.stdout
    assert len(study_trials(tmp_path / "other.journal")) == 2
    assert ("Report: python -m tuner report tiny.yaml --set driver.n_trials=2 --set cv=3 "
            "--set dataset=wine --storage other.journal") in proc.stdout


def test_cli_run_dry_run_runs_nothing(tmp_path):
    write(tmp_path, TINY)
    proc = tuner("run", "tiny.yaml", "--dry-run", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "Dry run: nothing was trained." in proc.stdout
    assert "Tracking    MLflow" in proc.stdout
    assert not (tmp_path / ".tuner" / "tiny.journal").exists()
    assert not (tmp_path / "unexpected-mlflow.db").exists()


def test_cli_run_report_columns_table(tmp_path):
    data = {**TINY, "report": {"columns": ["learning_rate_init", "n_epochs", "n_updates",
                                           "mean_fit_time"], "top": 2}}
    write(tmp_path, data)
    proc = tuner("run", "tiny.yaml", "--no-mlflow", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "Trials (best 2 of 3)" in proc.stdout
    header = next(line for line in proc.stdout.splitlines() if "n_updates" in line)
    assert "learning_rate_init" in header and "mean_fit_time" in header


# ---------------------------------------------------------------- user errors

CSV = "a,b,y\n1,2,0\n3,,1\n5,6,0\n7,8,1\n"
BROKEN = {
    "unknown_key": ({**TINY, "cvv": 3}, "cvv: unknown key (did you mean 'cv'?)"),
    "nested_key": ({**TINY, "driver": {"type": "random", "n_trails": 3}},
                   "driver.n_trails: unknown key (did you mean 'n_trials'?)"),
    "wrong_type": ({**TINY, "cv": "two"}, "cv: Input should be a valid integer"),
    "impossible": ({**TINY, "test_size": 2}, "test_size: Input should be less than 1"),
    "bad_choice": ({**TINY, "driver": {"type": "grdi"}}, "driver.type: not a valid choice"),
    "dataset": ({**TINY, "dataset": "irsi"}, "dataset.name: unknown dataset"),
    "space": ({**TINY, "search_space": "mlp_defalt"}, "search_space.file: search space not"),
    "space_value": ({**TINY, "search_space": {"parameters": {"max_iter": {
        "type": "int", "low": 5, "high": 2}}}}, "search_space.parameters.max_iter"),
    "estimator": ({**TINY, "estimator": {"params": {"learning_rate_init": 0}}},
                  "estimator.params.learning_rate_init"),
    "target": ({**TINY, "dataset": {"path": "d.csv", "target": "label"}},
               "dataset.target: column not found"),
    "nan": ({**TINY, "preprocess": "standard", "dataset": {"path": "d.csv", "target": "y"}},
            "column 'b': 1 of 4 rows have a missing"),
    "yaml": ("name: x\ndataset: {iris\n", "malformed YAML"),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_cli_run_broken_experiment_prints_one_line_and_exits_2(tmp_path, case):
    data, expected = BROKEN[case]
    (tmp_path / "d.csv").write_text(CSV)
    write(tmp_path, data, name=f"{case}.yaml")
    proc = tuner("run", f"{case}.yaml", "--no-mlflow", cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert expected in lines[0]
    assert (f"{case}.yaml" in lines[0]) or (case == "nan" and "d.csv" in lines[0])
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / ".tuner").exists()


@pytest.mark.parametrize(("args", "expected"), [
    (["run", "missing.yaml"], "missing.yaml: experiment file not found"),
    (["run", "tiny.yaml", "--set", "cv"], "--set: an override must look like key.sub=value"),
    (["run", "tiny.yaml", "--n-trials", "0"], "Invalid value for '--n-trials'"),
    (["worker", "tiny.yaml", "--storage", "none.journal"], "no study of this experiment"),
    (["report", "tiny.yaml"], "no stored study of this experiment yet"),
    (["resume", "tiny.yaml"], "tiny.yaml: storage: no stored study to resume"),
    (["run", "tiny.yaml", "--no-mlflow", "--n-jobs", "2", "--storage", "sqlite:///s.db"],
     "SQLite is for one worker only"),
    (["frobnicate"], "No such command 'frobnicate'"),
    (["ui", "--port", "0"], "Invalid value for '--port'"),
])
def test_cli_usage_errors_exit_2(tmp_path, args, expected):
    write(tmp_path, TINY)
    proc = tuner(*args, cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert expected in proc.stderr and "Traceback" not in proc.stderr


def test_cli_run_where_every_trial_fails_exits_1_with_one_line(tmp_path):
    data = {**TINY, "dataset": "diabetes", "preprocess": "none", "target_transform": "none",
            "estimator": {"type": "regressor", "params": {"hidden_layer_sizes": [8],
                                                          "solver": "sgd", "momentum": 0.0}},
            "search_space": {"parameters": {
                "learning_rate_init": {"type": "float", "low": 10.0, "high": 100.0},
                "max_iter": {"type": "int", "low": 2, "high": 3}}},
            "driver": {"type": "random", "n_trials": 2}}
    write(tmp_path, data)
    proc = tuner("run", "tiny.yaml", "--no-mlflow", cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    assert "2 trials: 0 complete, 0 pruned, 2 failed" in proc.stdout
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and "DivergenceError" in errors[0]
    assert "Traceback" not in proc.stderr


# ---------------------------------------------------------------- other commands

@pytest.mark.parametrize("path", EXPERIMENTS, ids=lambda p: p.name)
def test_cli_validate_every_shipped_experiment(path, capsys):
    assert main(["validate", str(path)]) == 0
    assert capsys.readouterr().out.startswith(f"OK: experiment {path.stem} ")


def test_cli_validate_search_space_file(capsys):
    assert main(["validate", str(ROOT / "tuner" / "search_spaces" / "mlp_default.yaml")]) == 0
    assert "4 tunable parameters" in capsys.readouterr().out


def test_cli_validate_broken_file_returns_2(tmp_path, capsys):
    write(tmp_path, {**TINY, "seed": "zero"})
    assert main(["validate", str(tmp_path / "tiny.yaml")]) == 2
    assert "seed: Input should be a valid integer (got 'zero')" in capsys.readouterr().err


def test_cli_spaces_lists_shipped_spaces(capsys):
    assert main(["spaces"]) == 0
    out = capsys.readouterr().out
    for name in ("mlp_default", "lr_batch_coupled", "gradient_descent_variants"):
        assert name in out


def test_cli_help_and_version():
    proc = tuner("--help", cwd=ROOT)
    assert proc.returncode == 0
    for command in ("run", "resume", "worker", "validate", "spaces", "ui", "lr-find",
                    "report"):
        assert command in proc.stdout


@pytest.mark.slow
def test_cli_worker_and_report_join_the_stored_study(tmp_path):
    write(tmp_path, TINY)
    assert tuner("run", "tiny.yaml", "--no-mlflow", cwd=tmp_path).returncode == 0
    journal = tmp_path / ".tuner" / "tiny.journal"
    proc = tuner("worker", "tiny.yaml", "--storage", journal, "--n-trials", 5, "--no-mlflow",
                 cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "now has 5 trials" in proc.stdout
    assert len(study_trials(journal)) == 5
    report = tuner("report", "tiny.yaml", "--out", tmp_path / "rep", cwd=tmp_path)
    assert report.returncode == 0, report.stderr
    assert (tmp_path / "rep" / "report.html").stat().st_size > 1000


# ---------------------------------------------------------------- tracking and Ctrl-C

@pytest.mark.slow
def test_cli_run_with_tracking_logs_parent_and_child_runs(tmp_path):
    write(tmp_path, TINY)
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    proc = tuner("run", "tiny.yaml", "--tracking-uri", uri, cwd=tmp_path, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert f"python -m tuner ui --tracking-uri {uri}" in proc.stdout
    from mlflow.tracking import MlflowClient

    client = MlflowClient(uri)
    experiment = client.get_experiment_by_name("tiny")
    runs = client.search_runs([experiment.experiment_id])
    parents = [r for r in runs if r.data.tags.get("tuner.role") == "study"]
    assert len(parents) == 1 and len(runs) == 4
    assert "test_score" in parents[0].data.metrics
    children = [r for r in runs if r.data.tags.get("tuner.role") != "study"]
    for child in children:  # the Pipeline's step prefix (mlp__) is not shown in the UI
        assert "learning_rate_init" in child.data.params
        assert not any(name.startswith("mlp__") for name in child.data.params)
    assert not any(name.startswith("best_mlp__") for name in parents[0].data.params)


@pytest.mark.slow
@pytest.mark.parametrize("n_jobs", ["1", "2"])
def test_cli_run_ctrl_c_exits_130_and_keeps_completed_trials(tmp_path, n_jobs):
    data = {**TINY, "dataset": "digits", "driver": {"type": "random", "n_trials": 200},
            "search_space": {"parameters": {
                "learning_rate_init": {"type": "float", "low": 1e-3, "high": 1e-2},
                "max_iter": {"type": "int", "low": 20, "high": 30}}}}
    write(tmp_path, data)
    journal = tmp_path / ".tuner" / "tiny.journal"
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "tuner", "run", "tiny.yaml", "--no-mlflow",
                             "--n-jobs", n_jobs], cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            time.sleep(0.5)
            if journal.exists() and sum(t.state.name == "COMPLETE"
                                        for t in study_trials(journal)) >= 2:
                break
        os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in a terminal sends
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    assert "Summary (interrupted)" in out and "Traceback" not in err
    states = [t.state.name for t in study_trials(journal)]
    assert states.count("COMPLETE") >= 2
    assert "RUNNING" not in states and len(states) < 200


# ---------------------------------------------------------------- progress

def test_study_progress_counts_states_and_best():
    from types import SimpleNamespace

    from tuner.cli.progress import StudyProgress, count_trials

    def trial(state, value=None):
        return SimpleNamespace(state=SimpleNamespace(name=state), value=value)

    trials = [trial("COMPLETE", 0.5), trial("COMPLETE", 0.7), trial("PRUNED", 0.9),
              trial("FAIL"), trial("RUNNING"), trial("WAITING")]
    study = SimpleNamespace(trials=trials, direction=SimpleNamespace(name="MAXIMIZE"))
    assert count_trials(study) == {"complete": 2, "pruned": 1, "fail": 1, "running": 1,
                                   "retried": 0, "best": 0.7}
    study.direction = SimpleNamespace(name="MINIMIZE")
    assert count_trials(study)["best"] == 0.5
    bar = StudyProgress(total=6)
    bar.on_progress(study)  # without a live display (e.g. in a worker): only counts
    assert bar.last["running"] == 1
    import pickle

    assert pickle.loads(pickle.dumps(bar)).total == 6


@pytest.mark.slow
@pytest.mark.postgres
def test_cli_worker_joins_a_postgres_study(tmp_path, postgres_url):
    import optuna

    write(tmp_path, TINY)
    run = tuner("run", "tiny.yaml", "--no-mlflow", "--storage", postgres_url, cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    proc = tuner("worker", "tiny.yaml", "--storage", postgres_url, "--n-trials", 5,
                 "--no-mlflow", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    study = optuna.load_study(study_name="tiny", storage=postgres_url)
    assert [t.state.name for t in study.trials] == ["COMPLETE"] * 5
    again = tuner("run", "tiny.yaml", "--no-mlflow", "--storage", postgres_url, "--fresh",
                  "--n-trials", 2, cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert len(optuna.load_study(study_name="tiny", storage=postgres_url).trials) == 2
