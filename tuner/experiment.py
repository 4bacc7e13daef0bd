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
from tuner._experiment_files import (
    apply_overrides,
    check_semantics,
    check_task,
    list_spaces,
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
from tuner.errors import ExperimentError

__all__ = ["Experiment", "build_estimator", "build_search", "epoch_budget", "list_spaces",
           "load_experiment", "n_trials_budget", "run_experiment", "run_worker", "split_data"]

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

def make_tracker(experiment, data, *, tracking_uri=None):
    """The MLflow callback of an experiment (MLflow experiment name = the experiment's name).

    The parent run gets the dataset, split and every estimator parameter
    (``mlp.<name>``) as params besides what the tracker logs itself.

    Examples
    --------
    >>> from tuner._experiment_run import EXAMPLE
    >>> exp = load_experiment(EXAMPLE)
    >>> tracker = make_tracker(exp, exp.load_data())
    >>> tracker.experiment_name, tracker.context["mlp.hidden_layer_sizes"]
    ('digits_grid', (64,))
    """
    from tuner.tracking import MLflowTracker

    cfg = experiment.config.tracking
    estimator = build_estimator(experiment)
    final = estimator.steps[-1][1] if hasattr(estimator, "steps") else estimator
    context = {"experiment_file": experiment.where, "dataset": data.name,
               "n_samples": data.X.shape[0], "n_features": data.X.shape[1],
               "test_size": experiment.config.test_size, "preprocess": experiment.preprocess,
               "estimator_class": type(final).__name__,
               **{f"mlp.{k}": v for k, v in final.get_params().items()}}
    return MLflowTracker(tracking_uri or cfg.tracking_uri,
                         cfg.experiment_name or experiment.name, log_model=cfg.log_model,
                         context={k: v for k, v in context.items() if v is not None})


def _on_interrupt(experiment, storage, tracker):
    """After Ctrl-C: fail the interrupted trials in Optuna and close their MLflow runs."""
    reason = "interrupted (KeyboardInterrupt)"
    numbers = run_helpers.fail_interrupted_trials(storage, experiment.name, reason)
    if tracker is None or tracker.parent_run_id is None:
        return
    try:
        from tuner.tracking import fail_orphan_runs

        fail_orphan_runs(tracker.tracking_uri, tracker.parent_run_id, numbers, reason)
        run_helpers.close_running_child_runs(tracker, storage, experiment.name)
        tracker.client.set_terminated(tracker.parent_run_id, status="KILLED")
    except Exception as exc:  # noqa: BLE001 - never hide the interrupt behind a logging error
        import warnings

        warnings.warn(f"MLflow: could not close the interrupted runs: {exc!r}", stacklevel=2)


def run_experiment(experiment, *, n_trials=None, n_jobs=None, storage=None, tracking_uri=None,
                   tracking=True, fresh=False, callbacks=(), data=None):
    """Run an experiment: search on the training split, then score the held-out test split.

    Parameters
    ----------
    experiment : Experiment, str or Path
        A loaded experiment or the path of its file.
    n_trials : int, optional
        The study's total trial budget (default: the file's ``driver.n_trials``).
    n_jobs : int, optional
        Worker processes (default: the file's ``n_jobs``).
    storage : str, optional
        Optuna storage (default: the file's, else ``.tuner/<name>.journal``). The
        study is named after the experiment, so running again resumes it: only
        the remaining budget runs.
    tracking_uri : str, optional
        MLflow store (default: the file's ``tracking.tracking_uri``).
    tracking : bool, default=True
        Log to MLflow (when the file's ``tracking.enabled`` is also true).
    fresh : bool, default=False
        Delete the stored study of this name first and start over.
    callbacks : sequence
        Extra search callbacks (e.g. :class:`tuner.progress.StudyProgress`).
    data : tuner.datasets.Dataset, optional
        The experiment's data when already loaded (default: ``experiment.load_data()``).

    Returns
    -------
    search : GridSearch, RandomSearch or OptunaSearch
        Fitted; ``search.test_score_`` holds the held-out score (when
        ``test_size > 0``), ``search.experiment_`` the experiment and
        ``search.data_`` the loaded dataset.

    Raises
    ------
    KeyboardInterrupt
        After marking the interrupted trials failed in Optuna and MLflow;
        completed trials stay in the storage.

    Examples
    --------
    >>> search = run_experiment("experiments/digits_grid.yaml", tracking=False)  # doctest: +SKIP
    >>> search.best_score_, search.test_score_  # doctest: +SKIP
    (0.96..., 0.97...)
    """
    if not isinstance(experiment, Experiment):
        experiment = load_experiment(experiment)
    data = experiment.load_data() if data is None else data
    X_train, X_test, y_train, y_test = run_helpers.split_data(experiment, data)
    storage = storage or experiment.storage
    if fresh:
        from tuner.search.storage import delete_stored_study

        delete_stored_study(storage, experiment.name)
    tracker = None
    if tracking and experiment.config.tracking.enabled:
        tracker = make_tracker(experiment, data, tracking_uri=tracking_uri)
    hooks = [run_helpers.HeldOutScore(X_test, y_test), *([tracker] if tracker else []),
             *callbacks]
    search = run_helpers.build_search(experiment, n_trials=n_trials, n_jobs=n_jobs,
                                      storage=storage, callbacks=hooks)
    search.experiment_, search.data_, search.tracker_ = experiment, data, tracker
    try:
        search.fit(X_train, y_train)
    except KeyboardInterrupt:
        _on_interrupt(experiment, storage, tracker)
        raise
    return search


class _WorkerHooks:
    """A tracker seen by a worker: it joins the study's parent run (never creates, reopens or
    closes it) and logs its own trials as child runs."""

    def __init__(self, tracker):
        self.tracker = tracker

    def on_study_start(self, search, study):
        """Attach to the parent run recorded on the study by the ``run`` process."""
        from tuner.tracking import PARENT_RUN_ATTR

        run = self.tracker.client.get_run(study.user_attrs[PARENT_RUN_ATTR])
        self.tracker.parent_run_id, self.tracker.study_name = run.info.run_id, study.study_name
        self.tracker.experiment_id = run.info.experiment_id

    def on_epoch(self, trial_number, epoch, metrics):
        """Forwarded to the tracker."""
        self.tracker.on_epoch(trial_number, epoch, metrics)

    def on_trial_end(self, record):
        """Forwarded to the tracker."""
        self.tracker.on_trial_end(record)


def _has_parent_run(storage, experiment):
    """True when the ``run`` process logs the study to MLflow (else the worker cannot)."""
    import warnings

    from tuner.search.storage import stored_study_attrs
    from tuner.tracking import PARENT_RUN_ATTR

    if PARENT_RUN_ATTR in stored_study_attrs(storage, experiment.name):
        return True
    warnings.warn(f"study {experiment.name!r} has no MLflow parent run (started with "
                  "--no-mlflow?): this worker logs nothing to MLflow", stacklevel=3)
    return False


def run_worker(experiment, *, storage, n_trials=None, n_jobs=None, tracking_uri=None,
               tracking=True, callbacks=()):
    """Join the stored study of an experiment and run trials until its budget is spent.

    The study must exist (``tuner run`` creates it). Trials are logged to the
    study's MLflow parent run; the worker does not refit, score the test split
    or close the study (the ``run`` process does). Its sampler seed is derived
    from the experiment's seed and a worker index claimed from the study, so it
    never proposes the same points as the other workers.

    Parameters
    ----------
    experiment : Experiment, str or Path
    storage : str
        The shared storage (database URL, or journal file on a shared disk).
    n_trials, n_jobs, tracking_uri, tracking, callbacks
        As in :func:`run_experiment`.

    Returns
    -------
    int
        Number of trials of the study after this worker stopped.

    Examples
    --------
    >>> run_worker("experiments/digits_optuna.yaml",
    ...            storage="postgresql+psycopg2://db/tuner")  # doctest: +SKIP
    24
    """
    if not isinstance(experiment, Experiment):
        experiment = load_experiment(experiment)
    from tuner.search.storage import stored_trials

    if stored_trials(storage, experiment.name) is None:
        raise ExperimentError("no study of this experiment in the storage", source=experiment.where,
                              key="storage", value=storage,
                              allowed="start it with: python -m tuner run EXPERIMENT --storage "
                                      "URL, then start workers")
    data = experiment.load_data()
    X_train, _, y_train, _ = run_helpers.split_data(experiment, data)
    hooks = list(callbacks)
    if tracking and experiment.config.tracking.enabled and _has_parent_run(storage, experiment):
        tracker = make_tracker(experiment, data, tracking_uri=tracking_uri)
        _ = tracker.client  # import mlflow (3-5 s) before joining, not while holding trials up
        hooks.insert(0, _WorkerHooks(tracker))
    search = run_helpers.build_search(experiment, n_trials=n_trials, n_jobs=n_jobs,
                                      storage=storage, callbacks=hooks, refit=False)
    try:
        search.fit(X_train, y_train)
    except KeyboardInterrupt:
        run_helpers.fail_interrupted_trials(storage, experiment.name,
                                            "worker interrupted (KeyboardInterrupt)")
        raise
    return len(search.study_.trials)
