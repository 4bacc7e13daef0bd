"""What ``run`` and ``worker`` refuse before they print or create anything (exit 2, one line).

Each case runs ``python -m tuner`` in a subprocess in an empty temporary
directory and checks the one-line message, and that no study, journal file,
SQLite file or MLflow store was left behind.
"""

from pathlib import Path

import pytest
from cli_helpers import TINY, tuner, write
from joblib import cpu_count

from tuner.errors import ConfigError
from tuner.experiment import load_experiment, run_experiment


def one_line_error(proc, expected):
    """Exit 2, nothing on stdout, exactly one line on stderr containing ``expected``."""
    assert proc.returncode == 2, proc.stderr
    assert proc.stdout == "", proc.stdout  # no plan printed before the error
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr  # no progress bar, no traceback
    assert lines[0].startswith("error: ") and expected in lines[0], lines[0]
    return lines[0]


def created(directory):
    """Every file under ``directory`` except the experiment files."""
    return sorted(str(p.relative_to(directory)) for p in Path(directory).rglob("*")
                  if p.suffix != ".yaml")


# ---------------------------------------------------------------- storage and tracking URLs

URLS = {
    "sqlite_two_jobs": (["--storage", "sqlite:///s.db", "--n-jobs", "2", "--no-mlflow"],
                        "storage: SQLite is for one worker only"),
    "pg_refused": (["--storage", "postgresql+psycopg2://postgres@127.0.0.1:1/x", "--no-mlflow"],
                   "cannot connect to the database"),
    "pg_bare_scheme": (["--storage", "postgresql://postgres:secret@127.0.0.1:1/x", "--no-mlflow"],
                       "postgresql+psycopg2://"),
    "unknown_storage": (["--storage", "ftp://x/y", "--no-mlflow"],
                        "storage: not a database URL SQLAlchemy knows"),
    "http_unreachable": (["--tracking-uri", "http://127.0.0.1:9"],
                         "--tracking-uri: MLflow tracking server not reachable"),
    "ftp_tracking": (["--tracking-uri", "ftp://x"], "--tracking-uri: unsupported tracking URI"),
    "file_store": (["--tracking-uri", "file:///{tmp}/mlruns"],
                   "unless MLFLOW_ALLOW_FILE_STORE=true"),
    "sqlite_folder": (["--tracking-uri", "sqlite:///{tmp}/missing/mlflow.db"],
                      "the folder of the SQLite file does not exist"),
}


@pytest.mark.parametrize("case", sorted(URLS))
def test_cli_run_bad_url_exits_2_and_creates_nothing(tmp_path, case):
    args, expected = URLS[case]
    write(tmp_path)
    proc = tuner("run", "tiny.yaml", *[a.format(tmp=tmp_path) for a in args], cwd=tmp_path)
    line = one_line_error(proc, expected)
    assert "secret" not in line  # passwords are masked
    assert created(tmp_path) == []  # no .tuner journal, no s.db, no mlflow.db, no mlruns


def test_cli_worker_refuses_sqlite_even_for_one_process(tmp_path):
    write(tmp_path)
    proc = tuner("worker", "tiny.yaml", "--storage", "sqlite:///z.db", cwd=tmp_path)
    one_line_error(proc, "SQLite is for one worker only")
    assert created(tmp_path) == []


# ---------------------------------------------------------------- n_jobs, cv, --fresh

@pytest.mark.parametrize(("args", "expected"), [
    (["--n-jobs", "0"], "--n-jobs: must be a positive number of worker processes"),
    (["--n-jobs", str(-cpu_count() - 1)], f"down to -{cpu_count()} (one process)"),
    (["--set", "n_jobs=0"], "tiny.yaml: n_jobs: must be a positive number"),
    (["--set", "cv=41"], "tiny.yaml: cv: more CV folds than training samples of the smallest "
                         "class (class 0: 40 of 120 samples) (got 41; allowed: 2 to 40)"),
])
def test_cli_run_bad_n_jobs_or_cv_exits_2_before_the_plan(tmp_path, args, expected):
    write(tmp_path)
    one_line_error(tuner("run", "tiny.yaml", "--no-mlflow", *args, cwd=tmp_path), expected)
    assert created(tmp_path) == []


def test_cli_run_negative_n_jobs_follows_joblib(tmp_path):
    write(tmp_path)
    proc = tuner("run", "tiny.yaml", "--no-mlflow", "--dry-run", "--n-jobs", "-1", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert f"n_jobs -1 ({cpu_count()} processes)" in proc.stdout


def test_run_experiment_cv_above_training_samples_of_a_regressor(tmp_path):
    data = {**TINY, "dataset": "diabetes", "estimator": {"type": "regressor"}, "test_size": 0.5,
            "storage": str(tmp_path / "study.journal")}
    experiment = load_experiment(write(tmp_path, {**data, "cv": 300}))
    with pytest.raises(ConfigError, match=r"cv: more CV folds than training samples \(221\) "
                                          r"\(got 300; allowed: 2 to 221\)"):
        run_experiment(experiment, tracking=False)
    with pytest.raises(ConfigError, match="n_jobs: must be a positive"):
        run_experiment(load_experiment(write(tmp_path, data)), n_jobs=0, tracking=False)
    assert created(tmp_path) == []


def test_cli_run_fresh_dry_run_deletes_nothing(tmp_path):
    write(tmp_path)
    assert tuner("run", "tiny.yaml", "--no-mlflow", cwd=tmp_path).returncode == 0
    proc = tuner("run", "tiny.yaml", "--no-mlflow", "--fresh", "--dry-run", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    plan = " ".join(proc.stdout.split())  # the plan's absolute paths make its rows wrap
    assert "(--fresh: the stored study of 3 trials would be deleted)" in plan
    assert "deleted:" not in plan
    again = tuner("run", "tiny.yaml", "--no-mlflow", "--dry-run", cwd=tmp_path)
    assert "(3 already in the study" in " ".join(again.stdout.split())  # still there


# ---------------------------------------------------------------- a worker joins the run's MLflow

def _run_then_worker(tmp_path):
    """``run`` in ``a/`` (default MLflow store a/mlflow.db); the folder ``b/`` for workers."""
    first, other = tmp_path / "a", tmp_path / "b"
    first.mkdir()
    other.mkdir()
    experiment = write(first)
    proc = tuner("run", "tiny.yaml", cwd=first, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return experiment, first / ".tuner" / "tiny.journal", other


@pytest.mark.slow
def test_cli_worker_from_another_folder_logs_to_the_study_tracking_store(tmp_path):
    import optuna
    from mlflow import MlflowClient

    experiment, journal, other = _run_then_worker(tmp_path)
    proc = tuner("worker", experiment, "--storage", journal, "--n-trials", 5, cwd=other,
                 timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "now has 5 trials" in proc.stdout
    assert created(other) == []  # no stray mlflow.db where the worker ran
    client = MlflowClient(f"sqlite:///{tmp_path / 'a' / 'mlflow.db'}")
    runs = client.search_runs([client.get_experiment_by_name("tiny").experiment_id])
    parents = [r for r in runs if r.data.tags.get("tuner.role") == "study"]
    children = {int(r.data.tags["tuner.trial"]) for r in runs if r not in parents}
    assert len(parents) == 1 and children == {0, 1, 2, 3, 4}

    elsewhere = tuner("worker", experiment, "--storage", journal, "--n-trials", 6,
                      "--tracking-uri", "sqlite:///other.db", cwd=other)
    one_line_error(elsewhere, "no MLflow store at this path on this machine")
    assert created(other) == []

    # the parent run is gone (e.g. the store was replaced): one line, nothing run
    storage = optuna.storages.JournalStorage(
        optuna.storages.journal.JournalFileBackend(str(journal)))
    study = optuna.load_study(study_name="tiny", storage=storage)
    study.set_user_attr("mlflow_parent_run_id", "0" * 32)
    proc = tuner("worker", experiment, "--storage", journal, "--n-trials", 6, cwd=other,
                 timeout=300)
    one_line_error(proc, f"the study's MLflow parent run {'0' * 32} is not in this tracking")
    assert len(study.trials) == 5 and created(other) == []
