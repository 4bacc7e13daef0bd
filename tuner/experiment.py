"""Experiments as files: load and validate ``experiments/*.yaml``, then run them.

An experiment file names a dataset, an estimator, a search space, a driver and
where results go; :func:`load_experiment` validates it (schema in
:mod:`tuner._experiment_schema`) and resolves the search space, and
:func:`run_experiment` runs the search on the training split and scores the
best model on the held-out test split.

Examples
--------
>>> import tempfile, pathlib
>>> path = pathlib.Path(tempfile.mkdtemp()) / "iris.yaml"
>>> _ = path.write_text('''
... name: iris_demo
... dataset: iris
... search_space: {parameters: {learning_rate_init: {type: float, low: 0.001, high: 0.1}}}
... driver: {type: random, n_trials: 3}
... ''')
>>> exp = load_experiment(path, overrides=["cv=3"])
>>> exp.name, exp.config.cv, exp.space.names
('iris_demo', 3, ['learning_rate_init'])
"""

from pathlib import Path

from tuner import _experiment_run as run_helpers
from tuner._experiment_checks import check_cv, check_run, check_worker
from tuner._experiment_files import (
    apply_overrides,
    check_semantics,
    check_task,
    read_yaml,
    resolve_space,
)
from tuner._experiment_run import (
    build_estimator,
    build_search,
    epoch_budget,
    n_trials_budget,
    split_data,
)
from tuner._experiment_schema import validate_experiment
from tuner._experiment_tracking import (
    WorkerHooks,
    close_interrupted,
    make_tracker,
    worker_tracker,
)
from tuner.spaces import list_spaces

__all__ = ["Experiment", "build_estimator", "build_search", "epoch_budget", "list_spaces",
           "load_experiment", "make_tracker", "n_trials_budget", "run_experiment", "run_worker",
           "split_data"]

STORAGE_DIR = ".tuner"


# ---------------------------------------------------------------- the experiment

class Experiment:
    """A validated experiment: its config, source file and resolved search space.

    Attribute access falls through to the validated config, so
    ``experiment.driver.n_trials`` and ``experiment.cv`` work.

    Parameters
    ----------
    config : ExperimentConfig
        The validated file contents.
    space : SearchSpace
        The resolved search space (file or inline, overrides applied).
    source : str or Path, optional
        The experiment file.

    Examples
    --------
    >>> from tuner._experiment_schema import validate_experiment
    >>> from tuner.spaces import SearchSpace
    >>> cfg = validate_experiment({"name": "x", "dataset": "iris",
    ...                            "search_space": "mlp_default"})
    >>> exp = Experiment(cfg, SearchSpace.load("mlp_default"))
    >>> exp.storage, exp.cv, exp.is_classifier
    ('.tuner/x.journal', 5, True)
    """

    def __init__(self, config, space, source=None, overrides=()):
        self.config, self.space = config, space
        self.source = Path(source) if source is not None else None
        self.overrides = tuple(overrides)  # the --set values it was loaded with

    def __getattr__(self, name):
        if name == "config":  # not yet set (e.g. while unpickling)
            raise AttributeError(name)
        return getattr(self.config, name)

    def __repr__(self):
        return f"Experiment(name={self.name!r}, source={str(self.source)!r})"

    @property
    def storage(self):
        """The study storage: the file's ``storage`` or ``.tuner/<name>.journal``."""
        return self.config.storage or f"{STORAGE_DIR}/{self.name}.journal"

    @property
    def is_classifier(self):
        """True when the estimator is a classifier."""
        return self.config.estimator.type == "classifier"

    @property
    def where(self):
        """The source file as a string for error messages."""
        return str(self.source) if self.source else None

    def estimator_class(self):
        """MLPClassifier or MLPRegressor."""
        from tuner.estimators import MLPClassifier, MLPRegressor

        return MLPClassifier if self.is_classifier else MLPRegressor

    def data_path(self):
        """The data file, relative to the experiment file first, then the working directory."""
        path = Path(self.config.dataset.path)
        if not path.is_absolute() and self.source is not None:
            beside = self.source.resolve().parent / path
            if beside.is_file() or not path.is_file():
                return beside
        return path

    def load_data(self):
        """Load the dataset (a :class:`tuner.datasets.Dataset`), checked against the estimator."""
        from tuner.datasets import load_dataset

        ds = self.config.dataset
        data = load_dataset(ds.name, path=self.data_path() if ds.path else None,
                            target=ds.target, features=ds.features, params=ds.params,
                            source=self.where, random_state=self.config.seed)
        check_task(self, data)
        return data


def load_experiment(path, overrides=()):
    """Load, validate and resolve an experiment file.

    Parameters
    ----------
    path : str or Path
        The experiment YAML file.
    overrides : iterable of str
        ``"key.sub=value"`` strings (values parsed as YAML), applied before validation.

    Returns
    -------
    Experiment

    Raises
    ------
    ExperimentError
        One line naming the file, the key, the value and what is allowed.
    SearchSpaceError
        The search space file is invalid.

    Examples
    --------
    >>> load_experiment("experiments/digits_optuna.yaml").driver.type  # doctest: +SKIP
    'optuna'
    """
    data = read_yaml(path)
    data = apply_overrides(data, overrides) if overrides and isinstance(data, dict) else data
    config = validate_experiment(data, source=str(path))
    experiment = Experiment(config, resolve_space(config, path), source=path,
                            overrides=overrides)
    check_semantics(experiment)
    return experiment


# ---------------------------------------------------------------- running

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


def _run_search(experiment, data, *, storage, tracker, n_trials, n_jobs, callbacks):
    """The run's search (held-out score, tracker, callbacks) and its training split."""
    X_train, X_test, y_train, y_test = run_helpers.split_data(experiment, data)
    hooks = [run_helpers.HeldOutScore(X_test, y_test), *([tracker] if tracker else []),
             *callbacks]
    search = run_helpers.build_search(experiment, n_trials=n_trials, n_jobs=n_jobs,
                                      storage=storage, callbacks=hooks)
    search.experiment_, search.data_, search.tracker_ = experiment, data, tracker
    return search, X_train, y_train


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
        Extra search callbacks (e.g. :class:`tuner.progress.StudyProgress`).
    data : tuner.datasets.Dataset, optional
        The experiment's data when already loaded.
    stale_after : float, optional
        Seconds after which RUNNING trials of other hosts are failed and retried
        (``--stale-after``; see :meth:`tuner.search.base.BaseSearch.fit`).

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
    return _fit(search, X_train, y_train, lambda: close_interrupted(experiment, storage, tracker),
                stale_after=stale_after)


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
    X_train, _, y_train, _ = run_helpers.split_data(experiment, data)
    check_cv(experiment, y_train)
    tracker = worker_tracker(experiment, data, storage, tracking_uri=tracking_uri,
                             tracking=tracking)
    hooks = [*([WorkerHooks(tracker)] if tracker else []), *callbacks]
    search = run_helpers.build_search(experiment, n_trials=n_trials, n_jobs=n_jobs,
                                      storage=storage, callbacks=hooks, refit=False)
    _fit(search, X_train, y_train, lambda: run_helpers.fail_interrupted_trials(
        storage, experiment.name, "worker interrupted (KeyboardInterrupt)"),
         stale_after=stale_after)
    return len(search.study_.trials)
