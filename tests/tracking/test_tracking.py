"""MLflow tracking: parent/child runs, per-epoch histories, states, model, orphans.

The end-to-end tests read the store filled by the session fixture
``tracked_search`` (conftest.py: a real GridSearch with 2 complete, 1 pruned
and 1 failed trial). The others drive the callback hooks with real
``TrialRecord`` objects and a real Optuna study on one shared temporary store.
"""

import json
import os
import pickle
import signal
import subprocess
import sys
import textwrap
import warnings

import numpy as np
import optuna
import pytest

from tuner.search.trials import TrialRecord
from tuner.tracking import (
    PARENT_RUN_ATTR,
    MLflowTracker,
    fail_orphan_runs,
    resolve_tracking_uri,
)

optuna.logging.set_verbosity(optuna.logging.WARNING)


# ---- helpers -----------------------------------------------------------------
def _children(tracked):
    """Child runs of the fixture's parent, by trial number."""
    client, parent = tracked.tracker.client, tracked.tracker.parent_run_id
    runs = client.search_runs([tracked.tracker.experiment_id],
                              filter_string=f"tags.`mlflow.parentRunId` = '{parent}'")
    return {int(r.data.tags["tuner.trial"]): r for r in runs}


def _trial_by_state(tracked, state):
    """Number of the fixture's (only) trial in ``state``."""
    results = tracked.search.cv_results_
    (index,) = np.flatnonzero(results["state"] == state)[:1]
    return int(results["trial_number"][index])


class _Search:
    """The attributes a finished search exposes to ``on_study_start`` / ``on_study_end``."""

    cv, scoring, random_state, n_trials = 3, None, 0, 4
    space = {"learning_rate_init": [0.1, 0.01]}

    def __init__(self, **fitted):
        self.__dict__.update(fitted)


def _record(number, state, *, epochs=3, reason=None, study_name="manual"):
    """A real TrialRecord with ``epochs`` epochs of made-up but plausible history."""
    history = [{"epoch": e, "mean_test_score": 0.5 + 0.1 * e, "train_loss": 1.0 / e,
                "split0_test_score": 0.45 + 0.1 * e, "split1_test_score": 0.55 + 0.1 * e}
               for e in range(1, epochs + 1)]
    last = history[-1] if history else {}
    return TrialRecord(
        number=number, state=state, params={"learning_rate_init": np.float64(0.01 * (number + 1)),
                                            "hidden_layer_sizes": (16,)},
        raw_params={"learning_rate_init": 0.01 * (number + 1)},
        mean_test_score=last.get("mean_test_score", float("nan")), std_test_score=0.05,
        split_test_scores={"score": [last.get("split0_test_score", 0.0),
                                     last.get("split1_test_score", 0.0)]},
        mean_fit_time=0.2, n_epochs=epochs, n_updates=10 * epochs, fail_reason=reason,
        history=history, study_name=study_name)


@pytest.fixture(scope="module")
def manual(tmp_path_factory):
    """A tracker on its own store whose parent run was started on a real Optuna study."""
    uri = f"sqlite:///{tmp_path_factory.mktemp('manual') / 'mlflow.db'}"
    study = optuna.create_study(study_name="manual", direction="maximize")
    tracker = MLflowTracker(uri, log_plots=False, log_model=False)
    tracker.on_study_start(_Search(), study)
    return tracker, study


# ---- end to end (real GridSearch) ----------------------------------------------
def test_tracker_one_parent_and_one_child_per_trial(tracked_search):
    client, tracker = tracked_search.tracker.client, tracked_search.tracker
    parent = client.get_run(tracker.parent_run_id)
    assert parent.info.run_name == "tiny-grid"
    assert parent.info.status == "FINISHED"
    assert parent.data.tags["tuner.role"] == "study"
    children = _children(tracked_search)
    assert sorted(children) == [0, 1, 2, 3]
    assert [children[n].info.run_name for n in range(4)] == [f"trial-00{n}" for n in range(4)]
    assert {r.data.tags["tuner.study"] for r in children.values()} == {"tiny-grid"}


def test_tracker_child_history_has_one_point_per_epoch(tracked_search):
    client, study = tracked_search.tracker.client, tracked_search.study
    for number, run in _children(tracked_search).items():
        trial = study.trials[number]
        history = trial.user_attrs["history"]
        points = client.get_metric_history(run.info.run_id, "mean_test_score")
        assert [p.step for p in sorted(points, key=lambda p: p.step)] == \
            list(range(1, trial.user_attrs["n_epochs"] + 1))
        expected = [row["mean_test_score"] for row in history]
        assert np.allclose([p.value for p in sorted(points, key=lambda p: p.step)], expected)
        losses = client.get_metric_history(run.info.run_id, "train_loss")
        assert len(losses) == len(history)


def test_tracker_child_params_and_final_metrics(tracked_search):
    run = _children(tracked_search)[0]
    results = tracked_search.search.cv_results_
    assert float(run.data.params["learning_rate_init"]) == 0.02  # a number, not np.float64(...)
    assert set(run.data.params) == {"learning_rate_init"}  # fixed ones are on the parent
    assert run.data.metrics["mean_test_score"] == pytest.approx(results["mean_test_score"][0])
    assert run.data.metrics["std_test_score"] == pytest.approx(results["std_test_score"][0])
    assert run.data.metrics["n_epochs"] == 6
    assert run.data.metrics["n_updates"] == tracked_search.study.trials[0].user_attrs["n_updates"]
    assert run.info.status == "FINISHED" and run.data.tags["tuner.state"] == "complete"


def test_tracker_pruned_trial_is_killed_and_stopped_early(tracked_search):
    number = _trial_by_state(tracked_search, "pruned")
    run = _children(tracked_search)[number]
    assert run.info.status == "KILLED"
    assert run.data.tags["tuner.state"] == "pruned"
    assert run.data.metrics["n_epochs"] == 2 < 6
    history = tracked_search.tracker.client.get_metric_history(run.info.run_id,
                                                               "mean_test_score")
    assert len(history) == 2


def test_tracker_failed_trial_has_reason_and_failed_status(tracked_search):
    number = _trial_by_state(tracked_search, "fail")  # cv_results_ keeps Optuna's name
    run = _children(tracked_search)[number]
    assert run.info.status == "FAILED"
    assert run.data.tags["tuner.state"] == "failed"  # the requirement's name in MLflow
    assert "learning_rate_init" in run.data.tags["tuner.fail_reason"]
    assert run.data.tags["tuner.fail_reason"].startswith("InvalidParameterError")
    assert "mean_test_score" not in run.data.metrics  # error_score=nan is not logged


def test_tracker_parent_params_summary_and_artifacts(tracked_search):
    tracker, search = tracked_search.tracker, tracked_search.search
    run = tracker.client.get_run(tracker.parent_run_id)
    params, metrics = run.data.params, run.data.metrics
    assert params["driver"] == "GridSearch" and params["pruner"] == "MedianPruner"
    assert params["cv"] == "3" and params["dataset"] == "digits" and params["n_samples"] == "360"
    assert params["version.mlflow"].startswith("3.")
    assert json.loads(params["space.learning_rate_init"]) == {
        "type": "categorical", "choices": [0.02, 0.01, 1e-05, -1.0]}
    assert not any(key.startswith("best") for key in params)  # params would go stale on resume
    best = search.best_params_["learning_rate_init"]
    assert float(run.data.tags["best.learning_rate_init"]) == best
    assert metrics["best_learning_rate_init"] == best
    assert metrics["best_score"] == pytest.approx(search.best_score_)
    assert (metrics["n_trials_complete"], metrics["n_trials_pruned"],
            metrics["n_trials_failed"]) == (2, 1, 1)
    paths = {a.path for a in tracker.client.list_artifacts(tracker.parent_run_id)}
    assert {"space.yaml", "cv_results.csv", "cv_results.json", "plots"} <= paths
    plots = {a.path for a in tracker.client.list_artifacts(tracker.parent_run_id, "plots")}
    assert {"plots/learning_curves.png", "plots/optimization_history.png"} <= plots
    assert tracked_search.study.user_attrs[PARENT_RUN_ATTR] == tracker.parent_run_id


def test_tracker_cv_results_csv_has_one_row_per_trial(tracked_search):
    import pandas as pd

    tracker = tracked_search.tracker
    path = tracker.client.download_artifacts(tracker.parent_run_id, "cv_results.csv",
                                             str(tracked_search.folder))
    frame = pd.read_csv(path)
    assert list(frame["state"]) == list(tracked_search.search.cv_results_["state"])
    assert "mean_test_score" in frame.columns and "params" in frame.columns


def test_tracker_best_model_loads_and_predicts_like_best_estimator(tracked_search, monkeypatch):
    import mlflow.sklearn
    from mlflow.tracking._tracking_service.utils import _use_tracking_uri

    monkeypatch.setenv("MLFLOW_ALLOW_PICKLE_DESERIALIZATION", "true")
    assert tracked_search.tracker.model_uri.startswith("models:/")
    model_id = tracked_search.tracker.model_uri.rsplit("/", 1)[-1]
    logged = tracked_search.tracker.client.get_logged_model(model_id)
    assert logged.experiment_id == tracked_search.tracker.experiment_id  # not "Default"
    assert logged.source_run_id == tracked_search.tracker.parent_run_id
    with _use_tracking_uri(tracked_search.uri):
        model = mlflow.sklearn.load_model(tracked_search.tracker.model_uri)
    expected = tracked_search.search.best_estimator_.predict(tracked_search.X)
    np.testing.assert_array_equal(model.predict(tracked_search.X), expected)


# ---- hooks driven directly -----------------------------------------------------
def test_tracker_pickles_without_client_and_logs_from_a_copy(manual):
    tracker, _ = manual
    copy = pickle.loads(pickle.dumps(tracker))
    assert copy._client_obj is None and copy.parent_run_id == tracker.parent_run_id
    for epoch in range(1, 4):
        copy.on_epoch(10, epoch, {"mean_test_score": 0.5 + epoch / 10})
    copy.on_trial_end(_record(10, "complete"))
    copy.flush()
    runs = tracker.client.search_runs(
        [tracker.experiment_id], filter_string="tags.`tuner.trial` = '10'")
    assert len(runs) == 1
    assert runs[0].data.tags["mlflow.parentRunId"] == tracker.parent_run_id


def test_tracker_sends_one_log_batch_per_trial(manual):
    from tuner.tracking.children import log_trial_run

    tracker, _ = manual
    calls = []
    real = tracker.client.log_batch

    def counting(*args, **kwargs):
        calls.append(len(kwargs.get("metrics", ())))
        return real(*args, **kwargs)

    tracker.client.log_batch = counting
    buffered = [(1000 + epoch, epoch, {"mean_test_score": 0.5, "train_loss": 1.0})
                for epoch in range(1, 301)]  # 300 epochs x 4 values: more than one REST batch
    try:  # what the writer runs for each trial
        log_trial_run(tracker.client, (tracker.experiment_id, tracker.parent_run_id, "manual"),
                      _record(11, "complete", epochs=300), buffered, start=1000, end=2000)
    finally:
        del tracker.client.log_batch
    assert len(calls) == 1 and calls[0] > 1000
    run = tracker.client.search_runs([tracker.experiment_id],
                                     filter_string="tags.`tuner.trial` = '11'")[0]
    assert len(tracker.client.get_metric_history(run.info.run_id, "train_loss")) == 300


def test_tracker_log_test_score_and_search_test_score(manual):
    tracker, study = manual
    tracker.on_study_end(_Search(best_score_=0.8, test_score_=0.75, best_params_={}), study)
    assert tracker.client.get_run(tracker.parent_run_id).data.metrics["test_score"] == 0.75
    tracker.log_test_score({"test_accuracy": 0.9, "test_f1": 0.85})
    metrics = tracker.client.get_run(tracker.parent_run_id).data.metrics
    assert (metrics["test_accuracy"], metrics["test_f1"]) == (0.9, 0.85)


def test_tracker_resumed_study_reuses_its_parent_run(manual):
    tracker, study = manual
    again = MLflowTracker(tracker.tracking_uri, log_plots=False, log_model=False)
    again.on_study_start(_Search(), study)
    assert again.parent_run_id == tracker.parent_run_id
    assert again.client.get_run(again.parent_run_id).info.status == "RUNNING"


def test_tracker_worker_without_study_start_finds_parent(manual):
    tracker, _ = manual
    worker = MLflowTracker(tracker.tracking_uri, experiment_name="manual")
    worker.on_trial_end(_record(12, "pruned", study_name="manual"))
    worker.flush()
    run = tracker.client.search_runs([tracker.experiment_id],
                                     filter_string="tags.`tuner.trial` = '12'")[0]
    assert run.data.tags["mlflow.parentRunId"] == tracker.parent_run_id
    assert run.info.status == "KILLED"


def test_tracker_unreachable_store_warns_instead_of_failing_the_trial(manual, monkeypatch):
    tracker, _ = manual
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "2")
    broken = pickle.loads(pickle.dumps(tracker))
    broken.tracking_uri = "http://127.0.0.1:9"  # nothing listens on the discard port
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        broken.on_trial_end(_record(13, "complete"))
        broken.flush()
    assert any("could not log trial 13" in str(w.message) for w in caught)


@pytest.mark.parametrize("ending", ["exit", "interrupt"])
def test_tracker_queued_runs_are_written_by_a_writer_process_before_exit(manual, ending):
    tracker, _ = manual
    numbers = (40, 41) if ending == "exit" else (42, 43)
    code = textwrap.dedent(f"""
        import os, sys
        from tuner.search.trials import TrialRecord
        from tuner.tracking import MLflowTracker, _writer

        tracker = MLflowTracker({tracker.tracking_uri!r}, experiment_name="manual")
        for number in {numbers!r}:  # queued; the script ends at once, without a flush
            tracker.on_epoch(number, 1, {{"mean_test_score": 0.5}})
            tracker.on_trial_end(TrialRecord(number=number, state="complete", params={{}},
                                             raw_params={{}}, n_epochs=1, study_name="manual"))
        print("mlflow" in sys.modules, _writer.writer_pid() not in (None, os.getpid()))
        {"raise KeyboardInterrupt" if ending == "interrupt" else "pass"}
    """)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=600)
    assert (result.returncode == 0) == (ending == "exit"), result.stderr
    assert result.stdout.split() == ["False", "True"]  # the trial's process stays mlflow-free
    runs = tracker.client.search_runs([tracker.experiment_id], filter_string=(
        f"tags.`mlflow.parentRunId` = '{tracker.parent_run_id}'"))
    written = {int(r.data.tags["tuner.trial"]): r for r in runs}
    assert set(numbers) <= set(written), result.stderr
    for number in numbers:
        history = tracker.client.get_metric_history(written[number].info.run_id,
                                                    "mean_test_score")
        assert [(p.step, p.value) for p in history] == [(1, 0.5)]


def test_tracker_replaces_a_killed_writer_process_without_losing_runs(manual):
    from tuner.tracking import _writer

    tracker, _ = manual
    tracker.on_trial_end(_record(15, "complete"))
    tracker.flush()
    killed = _writer.writer_pid()
    os.kill(killed, signal.SIGKILL)
    os.waitpid(killed, 0)  # reap it: its pipe is closed now
    for number in (16, 17):  # the first finds the pipe broken and runs on a thread here
        tracker.on_trial_end(_record(number, "complete"))
    tracker.flush()
    runs = tracker.client.search_runs([tracker.experiment_id], filter_string=(
        f"tags.`mlflow.parentRunId` = '{tracker.parent_run_id}'"))
    assert {15, 16, 17} <= {int(r.data.tags["tuner.trial"]) for r in runs}
    assert _writer.writer_pid() not in (None, killed)


def test_tracker_writes_on_a_thread_where_no_writer_process_can_run(manual):
    tracker, _ = manual
    code = textwrap.dedent(f"""
        import os
        from tuner.search.trials import TrialRecord
        from tuner.tracking import MLflowTracker, _writer

        _writer._BOOT = "import sys; sys.exit(3)"  # a writer process that dies at once
        tracker = MLflowTracker({tracker.tracking_uri!r}, experiment_name="manual")
        for number in (44, 45):
            tracker.on_trial_end(TrialRecord(number=number, state="complete", params={{}},
                                             raw_params={{}}, study_name="manual"))
        tracker.flush()
        print(_writer.writer_pid(), os.getpid() in _writer._no_process)
    """)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=600)
    assert result.stdout.split() == ["None", "True"], result.stderr
    runs = tracker.client.search_runs([tracker.experiment_id], filter_string=(
        f"tags.`mlflow.parentRunId` = '{tracker.parent_run_id}'"))
    assert {44, 45} <= {int(r.data.tags["tuner.trial"]) for r in runs}


def test_fail_orphan_runs_creates_failed_children_and_keeps_finished(manual):
    tracker, _ = manual
    created = fail_orphan_runs(tracker.tracking_uri, tracker.parent_run_id, [10, 20, 21],
                               "worker died (stale heartbeat)")
    assert len(created) == 2  # trial 10 already finished: left alone
    for run_id in created:
        run = tracker.client.get_run(run_id)
        assert run.info.status == "FAILED"
        assert run.data.tags["tuner.state"] == "failed"
        assert run.data.tags["tuner.fail_reason"] == "worker died (stale heartbeat)"
        assert run.data.tags["mlflow.parentRunId"] == tracker.parent_run_id
    killed = fail_orphan_runs(tracker.tracking_uri, tracker.parent_run_id, [22], "stopped",
                              status="KILLED")
    assert tracker.client.get_run(killed[0]).data.tags["tuner.state"] == "pruned"
    with pytest.raises(ValueError, match="FAILED"):
        fail_orphan_runs(tracker.tracking_uri, tracker.parent_run_id, [23], "x", status="DONE")


def test_resolve_tracking_uri_env_then_default_in_working_directory(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    assert resolve_tracking_uri() == f"sqlite:///{tmp_path.resolve() / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:5000")
    assert resolve_tracking_uri() == "http://127.0.0.1:5000"
    assert resolve_tracking_uri("sqlite:///x.db") == f"sqlite:///{tmp_path.resolve() / 'x.db'}"


def test_tracking_import_does_not_import_mlflow():
    code = "import sys, tuner.tracking, tuner.plots; print('mlflow' in sys.modules, " \
           "'matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split()
    assert out == ["False", "False"]
