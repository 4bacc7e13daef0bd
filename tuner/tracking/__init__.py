"""Log studies and trials to MLflow: one parent run per study, one child run per trial.

The tracker is a search callback (see ``docs/INTERFACES.md``). ``mlflow`` is
imported inside functions only, so a search without tracking never pays its
3-5 s import.

Layout of what is logged
------------------------
Parent run (run name = study name, tag ``tuner.role=study``)
    params: driver, sampler, pruner, cv, scoring, n_trials, random_state,
    estimator class and its fixed parameters (``estimator.<name>``), the search
    space (``space.<name>``, and the artifact ``space.yaml``), the ``context``
    entries (dataset name and shape, ...), package versions (``version.<pkg>``).
    At study end: ``best_<name>`` params, metrics ``best_score``,
    ``n_trials_complete`` / ``n_trials_pruned`` / ``n_trials_failed``,
    ``test_score`` (see below), artifacts ``cv_results.csv``, the table
    ``cv_results.json``, ``plots/*.png`` and the refitted best model ``model``.
Child run per trial (run name ``trial-007``, tag ``mlflow.parentRunId``)
    params: the trial's estimator parameters; metrics per epoch with
    ``step=epoch`` (``mean_test_score``, ``std_test_score``, ``train_loss``,
    ``split<k>_test_score``, and ``mean_test_<metric>`` with several metrics),
    final ``mean_test_score``, ``std_test_score``, ``mean_fit_time``,
    ``n_epochs``, ``n_updates`` (step = last epoch); tags ``tuner.trial``,
    ``tuner.study``, ``tuner.state`` and ``tuner.fail_reason``.
    Run status: complete -> FINISHED, pruned -> KILLED, failed -> FAILED
    (filter with ``attributes.status = 'KILLED'`` or ``tags.`tuner.state` = 'pruned'``).

Cost: per trial one ``create_run``, one ``log_batch`` and one ``set_terminated``
(~50-90 ms on SQLite; the store is switched to write-ahead logging, which
halves it); the study start ~0.3 s, the study end ~1 s plus plots (~3 s) and
the model (~0.5 s). See ``docs/bench_tracking.md``.

Held-out test score: ``on_study_end`` logs ``search.test_score_`` (a number
or ``{name: number}``) when an earlier callback's ``on_study_end`` set it (the
experiment runner does); after ``fit``, ``tracker.log_test_score(score)`` does
the same.

Store: ``MLFLOW_TRACKING_URI``, else ``sqlite:///mlflow.db`` in the working
directory (made absolute). The driver creates it in ``on_study_start``, before
any worker starts (concurrent creation corrupts a new SQLite file), and puts it
in write-ahead-log mode. A new experiment created here keeps its artifacts next
to the SQLite file (``mlartifacts/<experiment>``) and is tagged as a model
training experiment so the MLflow 3 UI opens it on its runs. Crash recovery:
:func:`fail_orphan_runs`. UI: :func:`launch_ui`.
"""

import os
import warnings
from pathlib import Path

from tuner.tracking import _study as parts
from tuner.tracking._model import log_best_model
from tuner.tracking._study import (
    RUN_STATUS,
    batch,
    find_parent_run,
    flatten,
    get_experiment_id,
    make_client,
    metric_list,
    now_ms,
    package_versions,
    parent_params,
    parent_tags,
    space_yaml,
    trial_metrics,
    trial_params,
    trial_start,
    trial_tags,
    use_wal,
)
from tuner.tracking._ui import launch_ui

__all__ = ["MLflowTracker", "fail_orphan_runs", "launch_ui", "resolve_tracking_uri"]

PARENT_RUN_ATTR = "mlflow_parent_run_id"
TRACKING_URI_ATTR = "mlflow_tracking_uri"
DEFAULT_TRACKING_URI = "sqlite:///mlflow.db"


def resolve_tracking_uri(tracking_uri=None):
    """Return the tracking URI to use, with SQLite paths made absolute.

    Parameters
    ----------
    tracking_uri : str, optional
        Explicit URI. Default: ``MLFLOW_TRACKING_URI``, else ``sqlite:///mlflow.db``
        in the working directory.

    Returns
    -------
    str
        The URI; a relative SQLite path is resolved against the working
        directory so that workers and the UI started elsewhere find the same file.

    Examples
    --------
    >>> resolve_tracking_uri("http://127.0.0.1:5000")
    'http://127.0.0.1:5000'
    """
    uri = tracking_uri or os.environ.get("MLFLOW_TRACKING_URI") or DEFAULT_TRACKING_URI
    prefix = "sqlite:///"
    if uri.startswith(prefix) and not uri.startswith(prefix + "/"):
        uri = prefix + str(Path(uri[len(prefix):]).resolve())
    return uri


class MLflowTracker:
    """Search callback that logs a study to MLflow (parent run) and each trial (child run).

    Parameters
    ----------
    tracking_uri : str, optional
        MLflow store. Default: ``MLFLOW_TRACKING_URI``, else ``sqlite:///mlflow.db``
        in the working directory. Use a tracking server URL for many workers.
    experiment_name : str, optional
        MLflow experiment; default: the study name.
    log_model : bool, default=True
        Log the refitted best estimator with ``mlflow.sklearn.log_model``.
    log_plots : bool, default=True
        Log the figures of :func:`tuner.plots.study_figures` as PNG artifacts.
    run_name : str, optional
        Name of the parent run; default: the study name.
    tags : dict, optional
        Extra tags of the parent run.
    context : dict, optional
        Extra parent-run params, e.g. ``{"dataset": "digits", "n_samples": 1797}``.

    Notes
    -----
    Per-epoch values are buffered in the worker and sent with one
    ``MlflowClient.log_batch`` per trial. The parent run id is stored on the
    study as the user attribute ``mlflow_parent_run_id`` so that a resumed
    study, or a worker on another machine, attaches to the same parent. The
    tracker pickles without its client (workers reconnect lazily).

    After the study, ``parent_run_id`` and ``model_uri`` (``models:/m-...``,
    loadable with ``mlflow.sklearn.load_model`` once
    ``MLFLOW_ALLOW_PICKLE_DESERIALIZATION=true``) identify what was logged.

    Examples
    --------
    >>> tracker = MLflowTracker(experiment_name="digits", context={"dataset": "digits"})
    >>> tracker.parent_run_id is None
    True
    """

    def __init__(self, tracking_uri=None, experiment_name=None, *, log_model=True,
                 log_plots=True, run_name=None, tags=None, context=None):
        self.tracking_uri = tracking_uri
        self.experiment_name = experiment_name
        self.log_model = log_model
        self.log_plots = log_plots
        self.run_name = run_name
        self.tags = tags
        self.context = context
        self.experiment_id = self.parent_run_id = self.study_name = self.model_uri = None
        self._client_obj = None
        self._epochs = {}  # trial number -> [(timestamp ms, epoch, metrics)], this process only

    def __getstate__(self):
        """Pickle without the live client and this process's epoch buffers."""
        state = self.__dict__.copy()
        state.update(_client_obj=None, _epochs={})
        return state

    @property
    def client(self):
        """The ``MlflowClient`` of this process (created on first use)."""
        if self._client_obj is None:
            self.tracking_uri = resolve_tracking_uri(self.tracking_uri)
            self._client_obj = make_client(self.tracking_uri)
        return self._client_obj

    def on_study_start(self, search, study):
        """Create (or, for a resumed study, reopen) the parent run; store its id on the study."""
        client, self.study_name = self.client, study.study_name
        client.search_experiments(max_results=1)  # creates a new store's tables, here, first
        use_wal(self.tracking_uri)
        parent = self._existing_run(study.user_attrs.get(PARENT_RUN_ATTR))
        if parent is not None:
            self.experiment_id, self.parent_run_id = parent.info.experiment_id, parent.info.run_id
            client.update_run(self.parent_run_id, status="RUNNING")
            self._close_lost_trials(study)
            return
        name = self.experiment_name or study.study_name
        self.experiment_id = get_experiment_id(client, name, self.tracking_uri)
        tags = {**parent_tags(search, study), **(self.tags or {})}
        run = client.create_run(self.experiment_id, run_name=self.run_name or study.study_name,
                                tags=tags)
        self.parent_run_id = run.info.run_id
        params = {**parent_params(search, study), **flatten(self.context or {}),
                  **package_versions()}
        batch(client, self.parent_run_id, params=params)
        if (text := space_yaml(search)) is not None:
            client.log_text(self.parent_run_id, text, "space.yaml")
        study.set_user_attr(PARENT_RUN_ATTR, self.parent_run_id)
        study.set_user_attr(TRACKING_URI_ATTR, self.tracking_uri)

    def _existing_run(self, run_id):
        """The run ``run_id`` if it exists in the store, else None."""
        from mlflow.exceptions import MlflowException

        if not run_id:
            return None
        try:
            return self.client.get_run(run_id)
        except MlflowException:
            return None

    def _close_lost_trials(self, study):
        """Give trials that died with their worker a FAILED child run (crash recovery).

        Lost trials: failed by :func:`tuner.search.recovery.recover_orphans`
        (system attribute ``tuner:orphaned``) or by Optuna's stale-heartbeat check
        (retried, so listed in another trial's ``retry_history``)."""
        trials = study.get_trials(deepcopy=False)
        retried = {n for t in trials for n in t.system_attrs.get("retry_history", ())}
        lost = {t.number: t.system_attrs.get("tuner:orphaned", "worker lost (stale heartbeat)")
                for t in trials if t.state.name == "FAIL"
                and ("tuner:orphaned" in t.system_attrs or t.number in retried)}
        for reason in sorted(set(lost.values())):
            numbers = [number for number, why in lost.items() if why == reason]
            try:
                _close_orphans(self.client, self.parent_run_id, numbers, reason, "FAILED")
            except Exception as exc:  # noqa: BLE001 - the study itself is safe
                warnings.warn(f"MLflow: could not close lost trials {numbers}: {exc!r}",
                              stacklevel=2)

    def on_epoch(self, trial_number, epoch, metrics):
        """Buffer one epoch's metrics (sent at trial end, in one batch)."""
        self._epochs.setdefault(trial_number, []).append((now_ms(), epoch, dict(metrics)))

    def on_trial_end(self, record):
        """Log the trial as a child run: params, per-epoch metrics, finals, state tags."""
        from mlflow.exceptions import MlflowException

        buffered = self._epochs.pop(record.number, [])
        end = now_ms()
        try:
            self._ensure_parent(getattr(record, "study_name", None))
            start = trial_start(record, buffered, end)
            run = self.client.create_run(
                self.experiment_id, start_time=start, run_name=f"trial-{record.number:03d}",
                tags=trial_tags(record, self.parent_run_id, self.study_name))
            batch(self.client, run.info.run_id, params=trial_params(record),
                  metrics=trial_metrics(record, buffered, end))
            status = RUN_STATUS.get(str(getattr(record, "state", "complete")), "FAILED")
            self.client.set_terminated(run.info.run_id, status=status, end_time=end)
        except (MlflowException, OSError, LookupError) as exc:  # the result is safe in Optuna
            warnings.warn(f"MLflow: could not log trial {record.number}: {exc}", stacklevel=2)

    def _ensure_parent(self, study_name):
        """Find the parent run when this tracker never saw ``on_study_start`` (other machine)."""
        if self.parent_run_id is not None:
            return
        self.study_name = self.study_name or study_name
        run = find_parent_run(self.client, self.experiment_name or self.study_name,
                              self.study_name)
        self.experiment_id, self.parent_run_id = run.info.experiment_id, run.info.run_id

    def on_study_end(self, search, study):
        """Log best params and scores, counts, cv_results, plots and the model; close the run."""
        client, run_id = self.client, self.parent_run_id
        steps = [("lost trials", lambda: self._close_lost_trials(study)),
                 ("summary", lambda: parts.log_summary(client, run_id, search, study)),
                 ("cv_results", lambda: parts.log_cv_results(client, run_id, search))]
        if self.log_plots:
            steps.append(("plots", lambda: parts.log_plots(client, run_id, study)))
        if self.log_model and getattr(search, "best_estimator_", None) is not None:
            steps.append(("model", lambda: self._log_model(search)))
        for name, step in steps:
            try:
                step()
            except Exception as exc:  # noqa: BLE001 - never lose the study over a figure
                warnings.warn(f"MLflow: could not log {name}: {exc!r}", stacklevel=2)
        client.set_terminated(run_id, status="FINISHED")

    def _log_model(self, search):
        """Log the refitted best estimator; keep its ``models:/`` URI in ``model_uri``."""
        self.model_uri = log_best_model(self.client, self.parent_run_id, search).model_uri

    def log_test_score(self, score, *, name="test_score"):
        """Log the held-out test score(s) on the parent run (call after ``fit``).

        Parameters
        ----------
        score : float or dict
            One score, or ``{metric name: score}``.
        name : str, default="test_score"
            Metric name for a single score.

        Examples
        --------
        >>> tracker = MLflowTracker()
        >>> tracker.log_test_score(0.97)  # doctest: +SKIP
        """
        scores = score if isinstance(score, dict) else {name: score}
        batch(self.client, self.parent_run_id, metrics=metric_list(scores))


def fail_orphan_runs(tracking_uri, parent_run_id, trial_numbers, reason, *, status="FAILED"):
    """Close the child runs of trials that died with their worker (crash recovery).

    Child runs are written when a trial ends, so a trial killed mid-way has no
    run, or (older stores) one left RUNNING. Each listed trial gets a child run
    with ``tuner.state`` = ``fail`` (``pruned`` for status KILLED), the reason
    and the given terminal status; finished child runs are left alone.

    Parameters
    ----------
    tracking_uri : str or None
        The store (resolved like :func:`resolve_tracking_uri`).
    parent_run_id : str
        The study's parent run (``study.user_attrs["mlflow_parent_run_id"]``).
    trial_numbers : iterable of int
        Optuna trial numbers to close.
    reason : str
        Why they failed, e.g. ``"worker died (stale heartbeat)"``.
    status : {"FAILED", "KILLED"}, default="FAILED"

    Returns
    -------
    list of str
        Run ids that were created or closed.

    Examples
    --------
    >>> fail_orphan_runs(None, "abc", [], "worker died")  # doctest: +SKIP
    []
    """
    client = make_client(resolve_tracking_uri(tracking_uri))
    return _close_orphans(client, parent_run_id, list(trial_numbers), reason, status)


def _children(client, parent_run_id):
    """Child runs of a parent, keyed by trial number."""
    run = client.get_run(parent_run_id)
    runs = client.search_runs([run.info.experiment_id],
                              filter_string=f"tags.`mlflow.parentRunId` = '{parent_run_id}'",
                              max_results=50000)
    return {int(r.data.tags["tuner.trial"]): r for r in runs if "tuner.trial" in r.data.tags}


def _close_orphans(client, parent_run_id, trial_numbers, reason, status):
    """Create or close the child runs of ``trial_numbers`` with ``status`` and ``reason``."""
    if status not in ("FAILED", "KILLED"):
        raise ValueError(f"status must be 'FAILED' or 'KILLED', got {status!r}")
    state = {v: k for k, v in RUN_STATUS.items()}[status]
    parent = client.get_run(parent_run_id)
    children, closed = _children(client, parent_run_id), []
    for number in trial_numbers:
        run = children.get(number)
        if run is not None and run.info.status != "RUNNING":
            continue  # already finished: its own record is the truth
        if run is None:
            tags = {"mlflow.parentRunId": parent_run_id, "tuner.trial": str(number),
                    "tuner.study": parent.data.tags.get("tuner.study", "")}
            run = client.create_run(parent.info.experiment_id, run_name=f"trial-{number:03d}",
                                    tags=tags)
        batch(client, run.info.run_id, tags={
            "tuner.state": state, "tuner.fail_reason": reason,
            "mlflow.note.content": f"Trial {number} {state}: {reason}"})
        client.set_terminated(run.info.run_id, status=status)
        closed.append(run.info.run_id)
    return closed
