"""Running an experiment: :func:`run_experiment` (search, refit, held-out score) and
:func:`run_worker` (a worker joining the stored study), and the clean-up after Ctrl-C.

Examples
--------
>>> run_experiment("experiments/digits_grid.yaml", tracking=False)  # doctest: +SKIP
"""

from tuner.experiment.build import build_search, split_data
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


def _fit(search, X, y, on_interrupt):
    """``search.fit(X, y)``; on Ctrl-C call ``on_interrupt()`` before re-raising."""
    try:
        search.fit(X, y)
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


def _run_search(experiment, data, *, storage, tracker, n_trials, n_jobs, callbacks):
    """The run's search (held-out score, tracker, callbacks) and its training split."""
    X_train, X_test, y_train, y_test = split_data(experiment, data)
    hooks = [HeldOutScore(X_test, y_test), *([tracker] if tracker else []), *callbacks]
    search = build_search(experiment, n_trials=n_trials, n_jobs=n_jobs, storage=storage,
                          callbacks=hooks)
    search.experiment_, search.data_, search.tracker_ = experiment, data, tracker
    return search, X_train, y_train


def run_experiment(experiment, *, n_trials=None, n_jobs=None, storage=None, tracking_uri=None,
                   tracking=True, fresh=False, callbacks=(), data=None):
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

    Returns
    -------
    search : fitted GridSearch, RandomSearch or OptunaSearch
        With ``test_score_``, ``experiment_``, ``data_`` and ``tracker_``. A bad value
        raises ConfigError before anything is created; Ctrl-C fails the interrupted
        trials in Optuna and MLflow, then raises KeyboardInterrupt.

    Examples
    --------
    >>> run_experiment("experiments/digits_grid.yaml", tracking=False)  # doctest: +SKIP
    """
    experiment = _loaded(experiment)
    data, storage = experiment.load_data() if data is None else data, storage or experiment.storage
    check_run(experiment, data, storage=storage, n_trials=n_trials, n_jobs=n_jobs,
              tracking=tracking, tracking_uri=tracking_uri)
    tracker = _tracker(experiment, data, tracking, tracking_uri)
    search, X_train, y_train = _run_search(experiment, data, storage=storage, tracker=tracker,
                                           n_trials=n_trials, n_jobs=n_jobs, callbacks=callbacks)
    if fresh:  # after every check: a refused run deletes nothing
        _delete_study(storage, experiment.name)
    return _fit(search, X_train, y_train, lambda: close_interrupted(experiment, storage, tracker))


def run_worker(experiment, *, storage, n_trials=None, n_jobs=None, tracking_uri=None,
               tracking=True, callbacks=()):
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
    n_trials, n_jobs, tracking_uri, tracking, callbacks
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
                          callbacks=hooks, refit=False)
    _fit(search, X_train, y_train, lambda: fail_interrupted_trials(
        storage, experiment.name, "worker interrupted (KeyboardInterrupt)"))
    return len(search.study_.trials)


class HeldOutScore:
    """Search callback: score the refitted best model on the held-out test split.

    Runs in ``on_study_end`` (so list it before the MLflow tracker, which logs
    ``search.test_score_``) and stores the value on the study (user attribute
    ``test_score``) for reports. Pickles without the test data.

    Examples
    --------
    >>> HeldOutScore(None, None).__getstate__()["X_test"] is None
    True
    """

    def __init__(self, X_test, y_test):
        self.X_test, self.y_test = X_test, y_test

    def __getstate__(self):
        return {**self.__dict__, "X_test": None, "y_test": None}

    def on_study_end(self, search, study):
        """Set ``search.test_score_`` (the search's scorer on the test split)."""
        if self.X_test is None or not hasattr(search, "best_estimator_"):
            return
        search.test_score_ = float(search.score(self.X_test, self.y_test))
        study.set_user_attr("test_score", search.test_score_)


# ---------------------------------------------------------------- after Ctrl-C

def fail_interrupted_trials(storage, study_name, reason):
    """Mark trials left RUNNING by an interrupt as FAIL (with ``reason``).

    Returns the numbers of every interrupted trial: those just failed and
    those Optuna failed itself on KeyboardInterrupt (FAIL without a
    ``fail_reason``, which the evaluator writes for every error it catches).
    """
    from tuner.search.recovery import runs_here
    from tuner.search.storage import stored_study

    backend, study_id = stored_study(storage, study_name)
    numbers = []
    for trial in [] if study_id is None else backend.get_all_trials(study_id, deepcopy=False):
        if trial.state.name == "RUNNING" and runs_here(trial):  # not other workers' trials
            backend.set_trial_user_attr(trial._trial_id, "fail_reason", reason)
            backend.set_trial_state_values(trial._trial_id, state=type(trial.state).FAIL)
            numbers.append(trial.number)
        elif trial.state.name == "FAIL" and "fail_reason" not in trial.user_attrs:
            numbers.append(trial.number)
    return numbers


def close_interrupted(experiment, storage, tracker):
    """After Ctrl-C: fail the interrupted trials in Optuna and close their MLflow runs."""
    reason = "interrupted (KeyboardInterrupt)"
    numbers = fail_interrupted_trials(storage, experiment.name, reason)
    close_interrupted_runs(tracker, storage, experiment.name, numbers, reason)
