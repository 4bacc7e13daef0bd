"""MLflow tracking of real searches: resume, failed studies, lost runs, workers, the model.

Each test fits a real, tiny search on digits against its own temporary SQLite
MLflow store (the model tests read the store of the session fixture
``tracked_search``, conftest.py).
"""

import importlib.util
import json
import os
import subprocess
import sys
import sysconfig
import textwrap
import warnings
from pathlib import Path

import numpy as np
import optuna
import pytest
from optuna.storages import JournalStorage
from optuna.storages.journal import JournalFileBackend
from sklearn.datasets import load_digits

from tuner.estimators import MLPClassifier
from tuner.search import GridSearch, RandomSearch
from tuner.tracking import MLflowTracker

optuna.logging.set_verbosity(optuna.logging.WARNING)
ROOT = Path(__file__).resolve().parents[2]
LR_SPACE = {"learning_rate_init": {"type": "float", "low": 1e-5, "high": 0.1, "log": True}}

pytestmark = pytest.mark.slow  # each test fits a search or starts Python processes


@pytest.fixture(scope="module")
def digits():
    """150 digits, scaled to [0, 1]."""
    X, y = load_digits(return_X_y=True)
    return X[:150] / 16.0, y[:150]


def _children(tracker):
    """The tracker's child runs by trial number."""
    runs = tracker.client.search_runs([tracker.experiment_id], filter_string=(
        f"tags.`mlflow.parentRunId` = '{tracker.parent_run_id}'"))
    return {int(r.data.tags["tuner.trial"]): r for r in runs}


def _mlp(**params):
    """A small, seeded MLP."""
    return MLPClassifier(**{"hidden_layer_sizes": (8,), "max_iter": 3, "random_state": 0,
                            **params})


def _quiet_fit(search, X, y):
    """Fit without the warnings of failing trials."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return search.fit(X, y)


# ---- resume ------------------------------------------------------------------
def _fit_resumable(uri, journal, n_trials, X, y):
    """Fit (or resume) the study ``resume`` up to ``n_trials``; return its tracker."""
    tracker = MLflowTracker(uri, log_plots=False, log_model=False)
    RandomSearch(_mlp(), LR_SPACE, n_trials=n_trials, cv=2, random_state=0,
                 callbacks=[tracker], storage=journal, study_name="resume").fit(X, y)
    return tracker


def _cv_table(tracker, folder):
    """The parent run's ``cv_results.json`` table (pandas "split" layout) as a dict."""
    path = tracker.client.download_artifacts(tracker.parent_run_id, "cv_results.json",
                                             str(folder))
    return json.loads(Path(path).read_text())


def test_tracker_resume_updates_best_tags_metrics_and_cv_table(tmp_path, digits):
    X, y = digits
    uri, journal = f"sqlite:///{tmp_path / 'mlflow.db'}", str(tmp_path / "study.journal")
    study = optuna.create_study(storage=JournalStorage(JournalFileBackend(journal)),
                                study_name="resume", direction="maximize")
    study.enqueue_trial({"learning_rate_init": 1e-5})  # barely learns: the first fit's best
    first = _fit_resumable(uri, journal, 1, X, y)
    study.enqueue_trial({"learning_rate_init": 0.05})  # learns: the resumed study's best
    second = _fit_resumable(uri, journal, 2, X, y)

    client, parent = second.client, second.parent_run_id
    assert parent == first.parent_run_id
    run = client.get_run(parent)
    assert run.info.status == "FINISHED"
    assert run.data.tags["best.learning_rate_init"] == "0.05"
    assert run.data.tags["tuner.best_trial"] == "1"
    assert run.data.metrics["best_learning_rate_init"] == 0.05
    assert sorted((p.step, p.value) for p in client.get_metric_history(
        parent, "best_learning_rate_init")) == [(1, 1e-5), (2, 0.05)]
    assert not any(key.startswith("best") for key in run.data.params)  # immutable: no stale ones
    assert sorted((p.step, p.value) for p in client.get_metric_history(
        parent, "n_trials_complete")) == [(1, 1.0), (2, 2.0)]
    table = _cv_table(second, tmp_path)
    column = table["columns"].index("trial_number")
    assert [row[column] for row in table["data"]] == [0, 1]  # every trial once, none repeated
    assert json.loads(run.data.tags["mlflow.loggedArtifacts"]) == [
        {"path": "cv_results.json", "type": "table"}]
    assert sorted(r.info.run_name for r in _children(second).values()) == [
        "trial-000", "trial-001"]


# ---- a study without a complete trial ------------------------------------------
def test_tracker_study_without_complete_trial_ends_failed_with_counts(tmp_path, digits):
    X, y = digits
    tracker = MLflowTracker(f"sqlite:///{tmp_path / 'mlflow.db'}", log_plots=False)
    diverging = _mlp(solver="sgd", momentum=0.0, learning_rate_init=1e20)
    search = GridSearch(diverging, {"batch_size": [16, 32]}, cv=2, callbacks=[tracker],
                        study_name="diverge")
    with pytest.raises(ValueError, match="no trial completed"):
        _quiet_fit(search, X, y)
    run = tracker.client.get_run(tracker.parent_run_id)
    assert run.info.status == "FAILED"
    assert (run.data.metrics["n_trials_complete"], run.data.metrics["n_trials_pruned"],
            run.data.metrics["n_trials_failed"]) == (0, 0, 2)
    assert run.data.tags["tuner.error"].startswith("ValueError: no trial completed")
    children = _children(tracker)
    assert sorted(children) == [0, 1]
    for child in children.values():
        assert child.info.status == "FAILED" and child.data.tags["tuner.state"] == "failed"
        assert child.data.tags["tuner.fail_reason"].startswith("DivergenceError")
    assert "cv_results.csv" in {a.path for a in tracker.client.list_artifacts(run.info.run_id)}


# ---- reconciliation -------------------------------------------------------------
def _fit_repair(uri, journal, X, y):
    """Fit (or, the second time, resume) the grid study ``repair``; return tracker and search."""
    tracker = MLflowTracker(uri, log_plots=False, log_model=False)
    search = GridSearch(_mlp(), {"learning_rate_init": [0.05, 0.01]}, cv=2,
                        callbacks=[tracker], storage=journal, study_name="repair")
    return tracker, search.fit(X, y)


def _assert_rebuilt(client, original, rebuilt, trial):
    """The rebuilt run says what the original said: params, metrics, history, state."""
    assert rebuilt.info.run_id != original.info.run_id
    assert rebuilt.info.status == original.info.status == "FINISHED"
    assert rebuilt.data.params == original.data.params
    assert rebuilt.data.metrics == pytest.approx(original.data.metrics)
    assert rebuilt.data.tags["tuner.state"] == "complete"
    assert rebuilt.data.tags["tuner.reconciled"] == "true"
    assert rebuilt.info.start_time == int(trial.datetime_start.timestamp() * 1000)
    for key in ("mean_test_score", "train_loss", "split1_test_score"):
        points = sorted(client.get_metric_history(rebuilt.info.run_id, key),
                        key=lambda p: p.step)
        assert [p.step for p in points] == [1, 2, 3]
        if key != "mean_test_score":  # the last step of mean_test_score is the final value
            assert [p.value for p in points] == pytest.approx(
                [row[key] for row in trial.user_attrs["history"]])


def test_tracker_reconcile_rebuilds_a_lost_child_run_with_its_history(tmp_path, digits):
    X, y = digits
    uri, journal = f"sqlite:///{tmp_path / 'mlflow.db'}", str(tmp_path / "study.journal")
    tracker, search = _fit_repair(uri, journal, X, y)
    client, original = tracker.client, _children(tracker)[1]
    client.delete_run(original.info.run_id)  # as if its worker stopped before writing it
    assert sorted(_children(tracker)) == [0]

    assert tracker.reconcile(search.study_) == [1]
    _assert_rebuilt(client, original, _children(tracker)[1], search.study_.trials[1])
    assert tracker.reconcile(search.study_) == []  # nothing missing any more

    client.delete_run(_children(tracker)[1].info.run_id)
    resumed, _ = _fit_repair(uri, journal, X, y)  # all points done: the resume only repairs
    assert resumed.parent_run_id == tracker.parent_run_id
    assert sorted(_children(resumed)) == [0, 1]
    assert _children(resumed)[1].data.tags["tuner.reconciled"] == "true"


# ---- worker processes ------------------------------------------------------------
def test_tracker_worker_processes_attach_children_to_parent(tmp_path, digits):
    X, y = digits
    tracker = MLflowTracker(f"sqlite:///{tmp_path / 'mlflow.db'}", log_plots=False,
                            log_model=False)
    tracker.client.search_experiments()  # the store exists before workers start
    search = RandomSearch(_mlp(), LR_SPACE, n_trials=4, n_jobs=2, cv=2, callbacks=[tracker],
                          random_state=0, storage=f"{tmp_path / 'study.journal'}",
                          study_name="workers")
    search.fit(X, y)
    runs = _children(tracker)
    assert sorted(runs) == [0, 1, 2, 3]  # written by the workers' threads before they exited
    assert all(len(tracker.client.get_metric_history(r.info.run_id, "mean_test_score")) == 3
               for r in runs.values())
    assert not any("tuner.reconciled" in r.data.tags for r in runs.values())


# ---- the logged model ---------------------------------------------------------------
def _download_model(tracked, folder):
    """The fixture's logged model, downloaded to ``folder``; returns its local path."""
    import mlflow.artifacts
    from mlflow.tracking._tracking_service.utils import _use_tracking_uri

    with _use_tracking_uri(tracked.uri):
        return Path(mlflow.artifacts.download_artifacts(tracked.tracker.model_uri,
                                                        dst_path=str(folder)))


def test_tracker_model_input_example_is_real_training_rows(tracked_search, tmp_path):
    from mlflow.models import Model

    local = _download_model(tracked_search, tmp_path)
    model = Model.load(local)
    np.testing.assert_array_equal(model.load_input_example(local), tracked_search.X[:5])
    assert tuple(model.signature.inputs.to_dict()[0]["tensor-spec"]["shape"]) == (-1, 64)
    assert (local / "code" / "tuner" / "estimators" / "_mlp.py").is_file()  # code_paths: tuner


def _isolated_python(code, cwd, env):
    """Run ``code`` with this venv's interpreter but without the project on ``sys.path``.

    ``-I`` drops the working directory, user site and PYTHON* variables; ``-S``
    skips ``site``, so the editable install's ``.pth`` finder never runs. The
    code then adds the venv's site-packages folder itself (packages, no tuner)."""
    paths = sorted({sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]})
    prelude = f"import sys\nsys.path.extend({paths!r})\n"
    return subprocess.run([sys.executable, "-I", "-S", "-c", prelude + code], cwd=cwd,
                          env=env, capture_output=True, text=True, timeout=600)


def test_tracker_model_loads_and_predicts_where_tuner_is_not_installed(tracked_search,
                                                                       tmp_path):
    np.save(tmp_path / "X.npy", tracked_search.X)
    code = textwrap.dedent(f"""
        import importlib.util
        assert importlib.util.find_spec("tuner") is None, "tuner is importable"
        import mlflow.sklearn
        import numpy as np
        model = mlflow.sklearn.load_model({tracked_search.tracker.model_uri!r})
        np.save("predictions.npy", model.predict(np.load("X.npy")))
        print(importlib.util.find_spec("tuner").origin)
    """)
    env = {**os.environ, "MLFLOW_TRACKING_URI": tracked_search.uri,
           "MLFLOW_ALLOW_PICKLE_DESERIALIZATION": "true"}
    result = _isolated_python(code, tmp_path, env)
    assert result.returncode == 0, result.stderr[-3000:]
    origin = Path(result.stdout.strip().splitlines()[-1])
    assert origin.parent.parent.name == "code" and ROOT not in origin.parents  # the model's copy
    np.testing.assert_array_equal(np.load(tmp_path / "predictions.npy"),
                                  tracked_search.search.best_estimator_.predict(tracked_search.X))


def test_isolated_python_really_hides_the_project(tmp_path):
    assert importlib.util.find_spec("tuner") is not None  # here it is installed (editable)
    result = _isolated_python("import tuner", tmp_path, dict(os.environ))
    assert result.returncode != 0 and "No module named 'tuner'" in result.stderr
