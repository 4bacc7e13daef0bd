"""Running an experiment: :func:`run_experiment` (search, refit, held-out score) and
:func:`run_worker` (a worker joining the stored study), and the clean-up after Ctrl-C.

Examples
--------
>>> run_experiment("experiments/digits_grid.yaml", tracking=False)  # doctest: +SKIP
"""

from dataclasses import dataclass
from typing import Any

from tuner.experiment.build import DataSplit, build_search, split_data
from tuner.experiment.load import Experiment, load_experiment
from tuner.experiment.preflight import check_cv, check_run, check_worker
from tuner.experiment.tracking import (
    WorkerHooks,
    close_interrupted_runs,
    make_tracker,
    worker_tracker,
)


def _loaded(experiment):
    """An Experiment, from itself or from the path of its file."""
    return experiment if isinstance(experiment, Experiment) else load_experiment(experiment)


def _fit(search, X, y, on_interrupt, *, stale_after=None):
    """``search.fit(X, y)``; on Ctrl-C call ``on_interrupt()`` before re-raising."""
    try:
        search.fit(X, y, stale_after=stale_after)
    except KeyboardInterrupt:
        on_interrupt()
        raise
    return search


def _tracker(experiment, data, tracking, tracking_uri):
    """The run's MLflow tracker, or None when tracking is off (here or in the file)."""
    if tracking and experiment.config.tracking.enabled:
        return make_tracker(experiment, data, tracking_uri=tracking_uri)
    return None


def _delete_study(storage, name):
    """``--fresh``: delete the stored study ``name``."""
    from tuner.search.storage import delete_stored_study

    delete_stored_study(storage, name)


@dataclass(frozen=True)
class ExperimentResult:
    """What :func:`run_experiment` returns: the fitted search and what it ran on.

    Attributes
    ----------
    experiment : Experiment
        The experiment that ran.
    search : GridSearch, RandomSearch or OptunaSearch
        The fitted search (``study_``, ``cv_results_``, ``best_estimator_``, ...).
    data : tuner.datasets.Dataset
        The experiment's whole dataset.
    split : DataSplit
        ``(X_train, X_test, y_train, y_test)``: the search ran on the training split.
    test_score : float or None
        The search's scorer on the held-out test split, refitted best model;
        None without a test split (``test_size: 0``) or a refitted model.
    tracker : MLflowTracker or None
        The run's MLflow tracker (``tracking_uri``, ``parent_run_id``, ...), None
        when tracking is off.

    Examples
    --------
    >>> result = run_experiment("experiments/digits_grid.yaml", tracking=False)  # doctest: +SKIP
    >>> result.search.best_params_, result.test_score  # doctest: +SKIP
    """

    experiment: Experiment
    search: Any
    data: Any
    split: DataSplit
    test_score: float | None = None
    tracker: Any = None


def held_out_score(search, split):
    """The search's scorer on the test split, with the refitted best model (None: no split
    or no refitted model); stored on the study (user attribute ``test_score``) for reports."""
    if split.X_test is None or not hasattr(search, "best_estimator_"):
        return None
    score = float(search.score(split.X_test, split.y_test))
    search.study_.set_user_attr("test_score", score)
    return score


def run_experiment(experiment, *, n_trials=None, n_jobs=None, storage=None, tracking_uri=None,
                   tracking=True, fresh=False, callbacks=(), data=None, stale_after=None):
    """Run an experiment: search on the training split, score the held-out test split.

    Parameters
    ----------
    experiment : Experiment, str or Path
    n_trials, n_jobs, storage, tracking_uri : optional
        Instead of the file's ``driver.n_trials``, ``n_jobs`` (joblib's convention),
        ``storage`` (default ``.tuner/<name>.journal``) and ``tracking.tracking_uri``.
    tracking, fresh : bool, default=True, False
        Log to MLflow (if ``tracking.enabled``); delete the stored study first
        (else it resumes: the study is named after the experiment).
    callbacks : sequence
        Extra search callbacks (e.g. :class:`tuner.cli.progress.StudyProgress`).
    data : tuner.datasets.Dataset, optional
        The experiment's data when already loaded.
    stale_after : float, optional
        Seconds after which RUNNING trials of other hosts are failed and retried
        (``--stale-after``; see :meth:`tuner.search.base.BaseSearch.fit`).

    Returns
    -------
    ExperimentResult
        The fitted search, the data and its split, the held-out score (also
        logged to MLflow as ``test_score``) and the tracker. A bad value raises
        ConfigError before anything is created; Ctrl-C fails the interrupted
        trials in Optuna and MLflow, then raises KeyboardInterrupt.

    Examples
    --------
    >>> result = run_experiment("experiments/digits_grid.yaml", tracking=False)  # doctest: +SKIP
    >>> result.test_score  # doctest: +SKIP
    0.97
    """
    experiment = _loaded(experiment)
    data, storage = experiment.load_data() if data is None else data, storage or experiment.storage
    check_run(experiment, data, storage=storage, n_trials=n_trials, n_jobs=n_jobs,
              tracking=tracking, tracking_uri=tracking_uri)
    tracker = _tracker(experiment, data, tracking, tracking_uri)
    split = split_data(experiment, data)
    search = build_search(experiment, n_trials=n_trials, n_jobs=n_jobs, storage=storage,
                          callbacks=[*([tracker] if tracker else []), *callbacks],
                          X=split.X_train)
    if fresh:  # after every check: a refused run deletes nothing
        _delete_study(storage, experiment.name)
    _fit(search, split.X_train, split.y_train,
         lambda: close_interrupted(experiment, storage, tracker), stale_after=stale_after)
    test_score = held_out_score(search, split)
    if tracker is not None and test_score is not None:
        tracker.log_test_score(test_score)
    return ExperimentResult(experiment, search, data, split, test_score, tracker)


def run_worker(experiment, *, storage, n_trials=None, n_jobs=None, tracking_uri=None,
               tracking=True, callbacks=(), stale_after=None):
    """Join the stored study of an experiment and run trials until its budget is spent.

    The study must exist (``tuner run`` creates it). Trials become child runs of
    the study's MLflow parent run, in the store recorded on the study unless
    ``tracking_uri`` or ``MLFLOW_TRACKING_URI`` is given. The worker neither refits
    nor closes the study (the ``run`` process does); its sampler seed derives from
    the experiment's seed and a worker index claimed from the study.

    Parameters
    ----------
    experiment : Experiment, str or Path
    storage : str
        The shared storage: a database URL, or a journal file on a shared disk.
    n_trials, n_jobs, tracking_uri, tracking, callbacks, stale_after
        As in :func:`run_experiment`.

    Returns
    -------
    int
        Number of trials of the study after this worker stopped.

    Examples
    --------
    >>> run_worker("experiments/digits_optuna.yaml", storage=URL)  # doctest: +SKIP
    """
    experiment = _loaded(experiment)
    check_worker(experiment, storage=storage, n_jobs=n_jobs)
    data = experiment.load_data()
    X_train, _, y_train, _ = split_data(experiment, data)
    check_cv(experiment, y_train)
    tracker = worker_tracker(experiment, data, storage, tracking_uri=tracking_uri,
                             tracking=tracking)
    hooks = [*([WorkerHooks(tracker)] if tracker else []), *callbacks]
    search = build_search(experiment, n_trials=n_trials, n_jobs=n_jobs, storage=storage,
                          callbacks=hooks, refit=False, X=X_train)
    _fit(search, X_train, y_train, lambda: fail_interrupted_trials(
        storage, experiment.name, "worker interrupted (KeyboardInterrupt)"),
         stale_after=stale_after)
    return len(search.study_.trials)


# ---------------------------------------------------------------- after Ctrl-C

def fail_interrupted_trials(storage, study_name, reason):
    """Mark trials left RUNNING by an interrupt as FAIL (with ``reason``).

    Returns the numbers of every interrupted trial: those just failed and
    those Optuna failed itself on KeyboardInterrupt (FAIL without a
    ``fail_reason``, which the evaluator writes for every error it catches).
    """
    from tuner.search.processes import runs_here
    from tuner.search.storage import stored_study
    from tuner.search.trials import fail_trial

    backend, study_id = stored_study(storage, study_name)
    numbers = []
    for trial in [] if study_id is None else backend.get_all_trials(study_id, deepcopy=False):
        if trial.state.name == "RUNNING" and runs_here(trial):  # not other workers' trials
            fail_trial(backend, study_name, trial.number, reason)
            numbers.append(trial.number)
        elif trial.state.name == "FAIL" and "fail_reason" not in trial.user_attrs:
            numbers.append(trial.number)
    return numbers


def close_interrupted(experiment, storage, tracker):
    """After Ctrl-C: fail the interrupted trials in Optuna and close their MLflow runs."""
    reason = "interrupted (KeyboardInterrupt)"
    numbers = fail_interrupted_trials(storage, experiment.name, reason)
    close_interrupted_runs(tracker, storage, experiment.name, numbers, reason)
