"""What a study's parent run and its trials' child runs hold (params, tags, metrics, files).

Child run of a trial: :func:`trial_params`, :func:`trial_tags`, :func:`trial_metrics`
(per epoch, then the final values), :func:`trial_start`. Parent run: at the start
:func:`parent_params`, :func:`parent_tags`, :func:`space_yaml`; at the end
:func:`log_summary`, :func:`log_cv_results` (the cv table) and :func:`log_plots`.

Examples
--------
>>> parent_tags(type("GridSearch", (), {})(), type("S", (), {"study_name": "s"})())
{'tuner.role': 'study', 'tuner.study': 's', 'tuner.driver': 'GridSearch'}
"""

import functools
import json
import math
from importlib import metadata
from pathlib import Path

from tuner.tracking.client import batch
from tuner.tracking.values import metric_list, number, param_str, plain, plain_names

RUN_STATUS = {"complete": "FINISHED", "pruned": "KILLED", "fail": "FAILED"}

#: tuner's trial state (Optuna-like, as in ``cv_results_``) -> the ``tuner.state`` tag in MLflow
MLFLOW_STATE = {"complete": "complete", "pruned": "pruned", "fail": "failed"}

_PACKAGES = ("tuner", "numpy", "scikit-learn", "optuna", "mlflow")

# per-epoch counters logged once, as final values (each metric value costs ~0.25 ms in SQLite)
_EPOCH_COUNTERS = frozenset({"epoch", "n_updates", "n_samples_seen", "fit_time"})

_SEARCH_PARAMS = ("cv", "scoring", "n_trials", "timeout", "random_state", "refit", "error_score",
                  "n_jobs", "return_train_score", "budget", "resource")


@functools.cache
def package_versions():
    """Installed versions of the packages a study's results depend on (looked up once)."""
    versions = {}
    for name in _PACKAGES:
        try:
            versions[f"version.{name}"] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[f"version.{name}"] = "not installed"
    return versions

def trial_metrics(record, buffered, end_ms):
    """Per-epoch metrics (step = epoch) followed by the trial's final values."""
    from mlflow.entities import Metric

    stamps = {epoch: stamp for stamp, epoch, _ in buffered}
    history = list(getattr(record, "history", None) or [])
    rows = list(enumerate(history, start=1)) or [(e, m) for _, e, m in buffered]
    metrics = {}
    for index, values in rows:
        epoch = int(values.get("epoch", index))
        for key, value in values.items():
            if key not in _EPOCH_COUNTERS and (finite := number(value)) is not None:
                metrics[key, epoch] = Metric(key, finite, stamps.get(epoch, end_ms), epoch)
    step = int(getattr(record, "n_epochs", 0) or len(rows))
    for key, value in _final_values(record).items():
        if (finite := number(value)) is not None:
            metrics[key, step] = Metric(key, finite, end_ms, step)  # replaces the last epoch's
    return list(metrics.values())

def _final_values(record):
    """The trial's summary numbers, named like sklearn's ``cv_results_`` keys."""
    values = {
        name: getattr(record, name, None)
        for name in ("mean_test_score", "std_test_score", "mean_fit_time", "n_epochs", "n_updates")
    }
    for metric, scores in (getattr(record, "split_test_scores", None) or {}).items():
        suffix = "score" if metric == "score" else metric
        for k, score in enumerate(scores):
            values[f"split{k}_test_{suffix}"] = score
    return values

def trial_tags(record, parent_run_id, study_name):
    """Tags of a trial's child run; the failure reason also becomes the run description."""
    state = MLFLOW_STATE.get(str(getattr(record, "state", "complete")), "failed")
    tags = {
        "mlflow.parentRunId": parent_run_id,
        "tuner.trial": str(record.number),
        "tuner.study": getattr(record, "study_name", None) or study_name or "",
        "tuner.state": state,
    }
    if reason := getattr(record, "fail_reason", None):
        tags["tuner.fail_reason"] = reason
        tags["mlflow.note.content"] = f"Trial {record.number} {state}: {reason}"
    return tags

def trial_params(record):
    """Estimator params of the trial, plus raw (Optuna) values the space turned into others.

    A raw ``learning_rate_init`` matches the estimator's ``learning_rate_init``
    or a pipeline's ``mlp__learning_rate_init``; it is logged as
    ``raw.learning_rate_init`` only when the values differ (derived rules).
    """
    params = plain_names(getattr(record, "params", None) or {})
    for name, raw in (getattr(record, "raw_params", None) or {}).items():
        match = [k for k in params if k == name or k.endswith(f"__{name}")]
        if not match:
            params[name] = raw
        elif param_str(params[match[0]]) != param_str(raw):
            params[f"raw.{name}"] = raw
    return params

def trial_start(record, buffered, end):
    """Start time (ms) of a trial: end minus its fitting and scoring time, summed over folds."""
    from tuner.search.trials import TrialAttrs, fold_values

    attrs = TrialAttrs.parse(getattr(record, "user_attrs", None) or {})
    seconds = [t for key in ("fit_times", "score_times") for t in fold_values(attrs, key)
               if number(t) is not None]
    if seconds:
        return end - int(1000 * sum(seconds))  # folds are trained one after another
    return buffered[0][0] if buffered else end

def _name(obj):
    """Class name of an object (the sampler and pruner are logged by name)."""
    return type(obj).__name__ if obj is not None else "None"

def _space_dict(search):
    """The search space as the YAML-able dict of ``SearchSpace.to_dict``, or None."""
    space = getattr(search, "space_", None) or getattr(search, "space", None)
    if space is None:
        return None
    if not hasattr(space, "to_dict"):
        from tuner.spaces import SearchSpace

        space = SearchSpace.load(space)
    return space.to_dict()

def space_yaml(search):
    """The search space as YAML text (artifact ``space.yaml``), or None."""
    import yaml

    space = _space_dict(search)
    return None if space is None else yaml.safe_dump(space, sort_keys=False)

def parent_tags(search, study):
    """Tags that identify the parent run of a study."""
    return {"tuner.role": "study", "tuner.study": study.study_name,
            "tuner.driver": type(search).__name__}

def parent_params(search, study):
    """Driver, sampler, pruner, CV settings, estimator and search space as flat params."""
    params = {"driver": type(search).__name__, "sampler": _name(study.sampler),
              "pruner": _name(study.pruner), "study_name": study.study_name}
    for name in _SEARCH_PARAMS:
        if hasattr(search, name):
            params[name] = getattr(search, name)
    estimator = getattr(search, "estimator", None)
    if estimator is not None:
        params["estimator"] = type(estimator).__name__
        if hasattr(estimator, "get_params"):
            for key, value in estimator.get_params(deep=False).items():
                params[f"estimator.{key}"] = value
    params.update(_space_params(_space_dict(search) or {}))
    return params

def _space_params(space, prefix="space."):
    """One param per searched parameter (its spec as compact JSON); unions get an index."""
    params = {}
    for index, branch in enumerate(space.get("union") or []):
        params.update(_space_params(branch, f"{prefix}{index}."))
    for key, spec in (space.get("parameters") or {}).items():
        params[f"{prefix}{key}"] = json.dumps(spec, default=str, separators=(",", ":"))
    return params

def trial_counts(study):
    """Number of trials per final state, e.g. ``{"n_trials_complete": 7, ...}``."""
    from tuner.search.trials import is_finished, state_of

    counts = {f"n_trials_{state}": 0 for state in MLFLOW_STATE.values()}
    for trial in study.get_trials(deepcopy=False):
        if is_finished(trial):
            counts[f"n_trials_{MLFLOW_STATE[state_of(trial)]}"] += 1
    return counts

def log_summary(client, run_id, search, study, *, tags=None):
    """Best score, best parameters, trial counts and test score on the parent run.

    A resumed study can change its best trial, and MLflow params are immutable:
    so the best parameters are tags ``best.<name>`` (overwritten at every study
    end), numeric ones also metrics ``best_<name>`` (step = finished trials, so
    their history shows how the best moved), never params that could go stale.
    ``tags`` are sent in the same batch.
    """
    counts = trial_counts(study)
    finished = sum(counts.values())
    values = {**counts, "best_score": getattr(search, "best_score_", None)}
    test = getattr(search, "test_score_", None)
    values.update(test if isinstance(test, dict) else {"test_score": test})
    best = plain_names(getattr(search, "best_params_", None) or {})
    values.update({f"best_{k}": v for k, v in best.items()})  # non-numbers are skipped
    tags = {**(tags or {}), **{f"best.{k}": param_str(v) for k, v in best.items()}}
    if (index := getattr(search, "best_index_", None)) is not None:
        numbers = search.cv_results_.get("trial_number")
        tags["tuner.best_trial"] = str(plain(numbers[index]) if numbers is not None else index)
    batch(client, run_id, metrics=metric_list(values, step=finished), tags=tags)

def cv_results_frame(cv_results):
    """``cv_results_`` as a pandas DataFrame with plain cells (dicts as JSON, masks as None)."""
    import numpy as np
    import pandas as pd

    columns = {}
    for key, column in cv_results.items():
        mask = np.ma.getmaskarray(column) if np.ma.isMaskedArray(column) else None
        cells = []
        for i, cell in enumerate(list(column)):
            cell = None if mask is not None and mask[i] else plain(cell)
            if isinstance(cell, dict | list | tuple):
                cell = json.dumps(cell, default=str)
            elif isinstance(cell, float) and not math.isfinite(cell):
                cell = None
            cells.append(cell)
        columns[key] = cells
    return pd.DataFrame(columns)

#: The parent run's table, as ``MlflowClient.log_table`` registers it for the UI.
CV_TABLE_TAG = ("mlflow.loggedArtifacts", json.dumps([{"path": "cv_results.json",
                                                       "type": "table"}]))

def log_cv_results(client, run_id, search):
    """``cv_results.csv`` and the MLflow table ``cv_results.json``, both with every trial.

    The table is written the way ``log_table`` writes one (pandas JSON, layout
    ``"split"``) and registered with its tag (:data:`CV_TABLE_TAG`, which the
    caller logs in its batch), but overwritten: ``log_table`` appends to an
    existing table, so a resumed study would repeat the rows it logged before.
    Both files go up in one ``log_artifacts`` call."""
    import tempfile

    cv_results = getattr(search, "cv_results_", None)
    if not cv_results:
        return False
    frame = cv_results_frame(cv_results)
    with tempfile.TemporaryDirectory(prefix="tuner-cv-") as folder:
        frame.to_csv(Path(folder) / "cv_results.csv", index=False)
        frame.to_json(Path(folder) / "cv_results.json", orient="split", index=False,
                      date_format="iso")
        client.log_artifacts(run_id, folder)
    return True

def log_plots(client, run_id, study):
    """Render :func:`tuner.plots.study_figures` and log each as ``plots/<name>.png``."""
    from tuner.plots import study_figures

    for name, figure in study_figures(study).items():  # pyplot-free figures: no close needed
        client.log_figure(run_id, figure, f"plots/{name}.png", save_kwargs={"dpi": 110})
