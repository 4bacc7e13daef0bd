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
    At study end: metrics ``best_score``, ``n_trials_complete`` /
    ``n_trials_pruned`` / ``n_trials_failed``, ``test_score`` (see below); the
    best parameters as tags ``best.<name>`` and, when numeric, metrics
    ``best_<name>``; tag ``tuner.best_trial``; artifacts ``cv_results.csv``, the
    table ``cv_results.json``, ``plots/*.png`` and the refitted best model
    ``model``. Status FINISHED, or FAILED when no trial completed or the search
    failed after its trials (tag ``tuner.error``: why).
Child run per trial (run name ``trial-007``, tag ``mlflow.parentRunId``)
    params: the trial's estimator parameters; metrics per epoch with
    ``step=epoch`` (``mean_test_score``, ``std_test_score``, ``train_loss``,
    ``split<k>_test_score``, and ``mean_test_<metric>`` with several metrics),
    final ``mean_test_score``, ``std_test_score``, ``mean_fit_time``,
    ``n_epochs``, ``n_updates`` (step = last epoch); tags ``tuner.trial``,
    ``tuner.study``, ``tuner.state`` (``complete`` / ``pruned`` / ``failed``;
    ``cv_results_`` and Optuna keep their own ``fail``) and ``tuner.fail_reason``.
    Run status: complete -> FINISHED, pruned -> KILLED, failed -> FAILED
    (filter with ``attributes.status = 'KILLED'`` or ``tags.`tuner.state` = 'pruned'``).

Resumed studies
---------------
Running the same study again (larger ``n_trials``) reopens its parent run.
MLflow params are immutable, so nothing that a resume can change is a param:
the best parameters are tags ``best.<name>`` (overwritten at each study end)
and metrics ``best_<name>`` / ``best_score`` whose latest value is the current
best (step = number of finished trials, so the history shows each resume);
``cv_results.csv`` and the ``cv_results.json`` table are rewritten with every
trial (``log_table`` alone would append the old rows again).

Cost and reliability
--------------------
Per trial one ``create_run``, one ``log_batch`` and one ``set_terminated``
(~35-60 ms of CPU on SQLite, nearly all SQLAlchemy's Python work).
``on_trial_end`` only pickles them into a pipe (~0.3 ms): a writer process,
one per tracking process (:mod:`~tuner.tracking._writer`), writes the runs on
another core while the next trial trains, so the trial's process neither
waits for MLflow nor imports it. Sent runs are written before the study end
logs its summary, before crash recovery closes runs, and before the process
exits (also after Ctrl-C, which never reaches the writer). If a run is lost
anyway (a worker killed between Optuna recording the trial and the write, a
store that was down), the next study start (resume) or study end rebuilds it
from the Optuna trial's stored attributes, per-epoch history included (tag
``tuner.reconciled``). The study start and end cost ~0.05-0.1 s each, plus
plots (~2 s) and the model (~0.5 s). See ``docs/bench_tracking.md``.

Held-out test score: ``on_study_end`` logs ``search.test_score_`` (a number
or ``{name: number}``) when an earlier callback's ``on_study_end`` set it; after
``fit``, ``tracker.log_test_score(score)`` does the same (the experiment runner
does this).

Model: ``mlflow.sklearn.log_model`` with explicit ``pip_requirements``, the
first training rows as input example (and signature), and the ``tuner``
package as ``code_paths``, so the model loads where tuner is not installed
(``MLFLOW_ALLOW_PICKLE_DESERIALIZATION=true`` is still needed: cloudpickle).

Store: ``MLFLOW_TRACKING_URI``, else ``sqlite:///mlflow.db`` in the working
directory (made absolute). The driver creates it in ``on_study_start``, before
any worker starts (concurrent creation corrupts a new SQLite file), and puts it
in write-ahead-log mode. A new experiment created here keeps its artifacts next
to the SQLite file (``mlartifacts/<experiment>``) and is tagged as a model
training experiment so the MLflow 3 UI opens it on its runs. Crash recovery:
:func:`fail_orphan_runs`. UI: :func:`launch_ui`.
"""

import warnings
from functools import partial

from tuner.tracking import _writer, runs
from tuner.tracking.children import (
    close_orphans,
    fail_orphan_runs,
    write_missing_runs,
    write_trial,
)
from tuner.tracking.client import (
    DEFAULT_TRACKING_URI,  # noqa: F401 - part of this package's names
    batch,
    get_experiment_id,
    make_client,
    resolve_tracking_uri,
    use_wal,
)
from tuner.tracking.model import log_best_model
from tuner.tracking.runs import (
    package_versions,
    parent_params,
    parent_tags,
    space_yaml,
    trial_counts,
)
from tuner.tracking.ui import launch_ui
from tuner.tracking.values import flatten, metric_list, now_ms

__all__ = ["MLflowTracker", "fail_orphan_runs", "launch_ui", "resolve_tracking_uri"]

PARENT_RUN_ATTR = "mlflow_parent_run_id"
TRACKING_URI_ATTR = "mlflow_tracking_uri"
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
        self._sent, self._failures = set(), None  # trials handed to this process's writer

    def __getstate__(self):
        """Pickle without the live client and this process's epoch buffers."""
        state = self.__dict__.copy()
        state.update(_client_obj=None, _epochs={}, _sent=set(), _failures=None)
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
        name = self.experiment_name or study.study_name
        experiment = client.get_experiment_by_name(name)  # creates a new store's tables, here
        use_wal(self.tracking_uri)
        parent = self._existing_run(study.user_attrs.get(PARENT_RUN_ATTR))
        if parent is not None:
            self.experiment_id, self.parent_run_id = parent.info.experiment_id, parent.info.run_id
            client.update_run(self.parent_run_id, status="RUNNING")
            self._repair_children(study)
            return
        self.experiment_id = experiment.experiment_id if experiment is not None else \
            get_experiment_id(client, name, self.tracking_uri)
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

    def _repair_children(self, study):
        """Close the runs of trials lost with their worker, then rebuild any missing run.

        Lost trials: failed by :func:`tuner.search.recovery.recover_orphans`
        (system attribute ``tuner:orphaned``) or by Optuna's stale-heartbeat check
        (retried, so listed in another trial's ``retry_history``). Then every
        settled, finished trial without a child run gets one from its stored
        attributes (:meth:`reconcile`)."""
        from tuner.search.trials import lost_trials

        trials = study.get_trials(deepcopy=False)
        lost = lost_trials(trials)
        try:
            for reason in sorted(set(lost.values())):
                numbers = [number for number, why in lost.items() if why == reason]
                close_orphans(self.client, self.parent_run_id, numbers, reason, "FAILED")
            if not self._all_written_here(trials):
                write_missing_runs(self.client, self._ids(), study)
        except Exception as exc:  # noqa: BLE001 - the study itself is safe in Optuna
            warnings.warn(f"MLflow: could not repair the child runs: {exc!r}", stacklevel=2)

    def reconcile(self, study):
        """Write the child run of each finished trial of ``study`` that has none in MLflow.

        Runs at every study start (resume) and end; call it to repair a store by
        hand. A missing run (a worker stopped between Optuna recording the trial
        and the run being written, a store that was down) is rebuilt from the
        attributes the evaluator stored on the Optuna trial: params, the
        per-epoch history, final scores, state and failure reason (tag
        ``tuner.reconciled``). Trials that another live worker may still be
        logging are left to it.

        Parameters
        ----------
        study : optuna.Study
            The study of this tracker's parent run (after ``on_study_start``).

        Returns
        -------
        list of int
            Numbers of the trials whose runs were written.

        Examples
        --------
        >>> tracker.reconcile(search.study_)  # doctest: +SKIP
        [4]
        """
        self.flush()
        return write_missing_runs(self.client, self._ids(), study)

    def _all_written_here(self, trials):
        """True when this process's writer wrote every finished trial, without a failure
        (the usual ``n_jobs=1`` study end): then no run can be missing."""
        from tuner.search.trials import is_finished

        finished = {t.number for t in trials if is_finished(t)}
        return self._failures is not None and finished <= self._sent \
            and _writer.failures() == self._failures

    def _ids(self):
        """``(experiment_id, parent_run_id, study_name)`` of the parent run."""
        return self.experiment_id, self.parent_run_id, self.study_name

    def on_epoch(self, trial_number, epoch, metrics):
        """Buffer one epoch's metrics (sent at trial end, in one batch)."""
        self._epochs.setdefault(trial_number, []).append((now_ms(), epoch, dict(metrics)))

    def on_trial_end(self, record):
        """Hand the trial's child run to this process's background writer, and go on.

        The run is written by :mod:`~tuner.tracking._writer` (a writer process);
        the trial's process does not import mlflow for it. Flushed at study end."""
        buffered = self._epochs.pop(record.number, [])
        if self._failures is None:
            self._failures = _writer.failures()
        self._sent.add(record.number)
        target = {"tracking_uri": resolve_tracking_uri(self.tracking_uri),
                  "experiment_name": self.experiment_name, "study_name": self.study_name,
                  "experiment_id": self.experiment_id, "parent_run_id": self.parent_run_id}
        _writer.submit(partial(write_trial, target, record, buffered, now_ms()))

    def flush(self):
        """Wait until this process's queued child runs are written.

        Examples
        --------
        >>> MLflowTracker().flush()
        """
        _writer.flush()

    def on_study_end(self, search, study):
        """Log best params and scores, counts, cv_results, plots and the model; close the run.

        The parent ends FINISHED, or FAILED when no trial completed or the
        search refits but has no refitted model."""
        failed = trial_counts(study)["n_trials_complete"] == 0 or (
            getattr(search, "refit", False) and not hasattr(search, "best_estimator_"))
        self._finish(search, study, status="FAILED" if failed else "FINISHED")

    def on_study_error(self, search, study, error):
        """Close the parent run FAILED, with what the study logged so far and the error."""
        self._finish(search, study, status="FAILED",
                     tags={"tuner.error": f"{type(error).__name__}: {error}"})

    def _finish(self, search, study, *, status, tags=None):
        """Wait for queued runs, repair children, log the summary and end the parent run."""
        self.flush()
        client, run_id, tags = self.client, self.parent_run_id, dict(tags or {})

        def cv_results():
            if runs.log_cv_results(client, run_id, search):
                tags.update([runs.CV_TABLE_TAG])  # sent with the summary's batch

        steps = [("child runs", lambda: self._repair_children(study)),
                 ("cv_results", cv_results),
                 ("summary", lambda: runs.log_summary(client, run_id, search, study,
                                                        tags=tags))]
        if self.log_plots and status == "FINISHED":
            steps.append(("plots", lambda: runs.log_plots(client, run_id, study)))
        if self.log_model and getattr(search, "best_estimator_", None) is not None:
            steps.append(("model", lambda: self._log_model(search)))
        for name, step in steps:
            try:
                step()
            except Exception as exc:  # noqa: BLE001 - never lose the study over a figure
                warnings.warn(f"MLflow: could not log {name}: {exc!r}", stacklevel=2)
        client.set_terminated(run_id, status=status)

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
