"""MLflow around an experiment run: the tracker, a worker's view of it, Ctrl-C.

- :func:`make_tracker`: the run's :class:`tuner.tracking.MLflowTracker`;
- :func:`worker_tracker`: a worker's tracker, attached to the parent run the
  ``run`` process stored on the study, in the tracking store stored there too
  (unless ``--tracking-uri`` / ``MLFLOW_TRACKING_URI`` say otherwise);
- :func:`close_interrupted_runs`: after Ctrl-C, the child runs of the interrupted
  trials closed in MLflow (their trials are failed in Optuna by
  :func:`tuner.experiment.run.fail_interrupted_trials`).
"""

import warnings

from tuner.errors import ConfigError
from tuner.experiment.build import build_estimator
from tuner.experiment.preflight import check_tracking_uri, worker_tracking_uri
from tuner.search.steps import final_step


def make_tracker(experiment, data, *, tracking_uri=None):
    """The MLflow callback of an experiment (MLflow experiment name = the experiment's name).

    The parent run gets the dataset, split and every estimator parameter
    (``mlp.<name>``) as params besides what the tracker logs itself.

    Examples
    --------
    >>> from tuner.experiment import load_experiment
    >>> from tuner.experiment.build import EXAMPLE
    >>> exp = load_experiment(EXAMPLE)
    >>> tracker = make_tracker(exp, exp.load_data())
    >>> tracker.experiment_name, tracker.context["mlp.hidden_layer_sizes"]
    ('digits_grid', (64,))
    """
    from tuner.tracking import MLflowTracker

    cfg = experiment.config.tracking
    estimator = build_estimator(experiment, X=data.X)
    final = final_step(estimator)
    context = {"experiment_file": experiment.where, "dataset": data.name,
               "n_samples": data.X.shape[0], "n_features": data.X.shape[1],
               "test_size": experiment.config.test_size, "preprocess": experiment.preprocess,
               "estimator_class": type(final).__name__,
               **{f"mlp.{k}": v for k, v in final.get_params().items()}}
    return MLflowTracker(tracking_uri or cfg.tracking_uri,
                         cfg.experiment_name or experiment.name, log_model=cfg.log_model,
                         context={k: v for k, v in context.items() if v is not None})


class WorkerHooks:
    """A tracker seen by a worker: it joins the study's parent run (never creates, reopens or
    closes it) and logs its own trials as child runs."""

    def __init__(self, tracker):
        self.tracker = tracker

    def on_study_start(self, search, study):
        """Attach to the parent run recorded on the study by the ``run`` process."""
        from tuner.tracking import PARENT_RUN_ATTR

        if self.tracker.parent_run_id is None:
            run = self.tracker.client.get_run(study.user_attrs[PARENT_RUN_ATTR])
            self.tracker.parent_run_id = run.info.run_id
            self.tracker.experiment_id = run.info.experiment_id
        self.tracker.study_name = study.study_name

    def on_epoch(self, trial_number, epoch, metrics):
        """Forwarded to the tracker."""
        self.tracker.on_epoch(trial_number, epoch, metrics)

    def on_trial_end(self, record):
        """Forwarded to the tracker."""
        self.tracker.on_trial_end(record)


def _parent_run(tracker, run_id, *, uri, key, source):
    """The parent run in the tracker's store, else a ConfigError saying where it was looked for."""
    try:
        return tracker.client.get_run(run_id)
    except Exception as exc:  # noqa: BLE001 - MlflowException (not found, bad store) and kin
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConfigError(f"the study's MLflow parent run {run_id} is not in this tracking "
                          f"store ({reason})", source=source, key=key, value=uri,
                          allowed="the run process's store (stored on the study), or a tracking "
                                  "server every machine reaches (--tracking-uri)") from None


def worker_tracker(experiment, data, storage, *, tracking_uri=None, tracking=True,
                   key="tracking_uri"):
    """The tracker of a worker, attached to the study's parent run; None when not tracking.

    Raises ConfigError (nothing created) when the store or the parent run is not found.
    """
    from tuner.search.storage import stored_study_attrs
    from tuner.tracking import PARENT_RUN_ATTR, TRACKING_URI_ATTR

    if not (tracking and experiment.config.tracking.enabled):
        return None
    attrs = stored_study_attrs(storage, experiment.name)
    if PARENT_RUN_ATTR not in attrs:
        warnings.warn(f"study {experiment.name!r} has no MLflow parent run (started with "
                      "--no-mlflow?): this worker logs nothing to MLflow", stacklevel=3)
        return None
    uri, key, source = worker_tracking_uri(experiment, attrs.get(TRACKING_URI_ATTR),
                                           tracking_uri, key=key)
    check_tracking_uri(uri, key=key, source=source, existing=True)
    tracker = make_tracker(experiment, data, tracking_uri=uri)
    run = _parent_run(tracker, attrs[PARENT_RUN_ATTR], uri=uri, key=key, source=source)
    tracker.parent_run_id, tracker.experiment_id = run.info.run_id, run.info.experiment_id
    return tracker


def close_interrupted_runs(tracker, storage, study_name, numbers, reason):
    """After Ctrl-C: fail the child runs of the interrupted trials ``numbers``, close the
    runs left RUNNING and end the parent run KILLED (a logging error only warns)."""
    if tracker is None or tracker.parent_run_id is None:
        return
    try:
        from tuner.tracking import fail_orphan_runs

        fail_orphan_runs(tracker.tracking_uri, tracker.parent_run_id, numbers, reason)
        close_running_child_runs(tracker, storage, study_name)
        tracker.client.set_terminated(tracker.parent_run_id, status="KILLED")
    except Exception as exc:  # noqa: BLE001 - never hide the interrupt behind a logging error
        warnings.warn(f"MLflow: could not close the interrupted runs: {exc!r}", stacklevel=2)


def close_running_child_runs(tracker, storage, study_name):
    """Close MLflow child runs an interrupt left RUNNING (a worker stopped while logging),
    with the status of their trial's final state in the study."""
    from tuner.search.storage import stored_trials
    from tuner.search.trials import state_of
    from tuner.tracking.runs import RUN_STATUS

    states = {t.number: state_of(t) for t in stored_trials(storage, study_name) or []}
    client, parent = tracker.client, tracker.parent_run_id
    runs = client.search_runs([tracker.experiment_id], filter_string=(
        f"tags.mlflow.parentRunId = '{parent}' and attributes.status = 'RUNNING'"))
    for run in runs:
        number = int(run.data.tags.get("tuner.trial", -1))
        status = RUN_STATUS.get(states.get(number), "FAILED")
        client.set_terminated(run.info.run_id, status=status)
    return len(runs)
