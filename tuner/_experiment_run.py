"""Building blocks of :func:`tuner.experiment.run_experiment` (private).

Data split, estimator (a Pipeline with the scaler), the search space routed to
the Pipeline's ``mlp`` step, budgets, the search driver, the held-out test
score callback and the stored-study helpers used by ``--fresh``, ``report`` and
the Ctrl-C summary.
"""

from pathlib import Path

from tuner.errors import ExperimentError

STEP = "mlp"  # name of the estimator's step in the preprocessing Pipeline


def yaml_params(params):
    """YAML has no tuples: ``hidden_layer_sizes: [64, 32]`` becomes (64, 32)."""
    return {k: tuple(v) if isinstance(v, list) else v for k, v in params.items()}


def split_data(experiment, data):
    """Hold out ``test_size`` of the data (stratified for classifiers, seeded).

    Returns ``(X_train, X_test, y_train, y_test)``; the test arrays are None
    when ``test_size`` is 0.
    """
    from sklearn.model_selection import train_test_split

    size = experiment.config.test_size
    if size == 0:
        return data.X, None, data.y, None
    stratify = data.y if experiment.is_classifier else None
    try:
        return train_test_split(data.X, data.y, test_size=size, stratify=stratify,
                                random_state=experiment.config.seed)
    except ValueError as exc:  # e.g. a class with one sample, or too few samples
        raise ExperimentError(f"cannot hold out a test split: {exc}", source=experiment.where,
                              key="test_size", value=size) from None


def build_estimator(experiment):
    """The estimator with the file's fixed parameters, behind the preprocessing step."""
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import MinMaxScaler, StandardScaler

    params = {"random_state": experiment.config.seed,
              **yaml_params(experiment.config.estimator.params)}
    estimator = experiment.estimator_class()(**params)
    scaler = {"standard": StandardScaler, "minmax": MinMaxScaler}.get(experiment.preprocess)
    return estimator if scaler is None else Pipeline([("scale", scaler()), (STEP, estimator)])


def epoch_budget(experiment):
    """Most epochs a trial can train: ``driver.budget``, else the space's or estimator's
    ``max_iter`` (the pruner's ``max_resource``)."""
    if experiment.driver.budget is not None:
        return experiment.driver.budget
    if "max_iter" in experiment.space:
        return int(experiment.space.upper_bound("max_iter"))
    params = experiment.estimator_class()().get_params()
    return int(experiment.config.estimator.params.get("max_iter", params["max_iter"]))


def n_trials_budget(experiment, n_trials=None):
    """The study's trial budget: the override, ``driver.n_trials``, or the grid size for grid
    (20 for random/optuna)."""
    if n_trials is not None:
        return n_trials
    if experiment.driver.n_trials is not None:
        return experiment.driver.n_trials
    return len(experiment.space.grid()) if experiment.driver.type == "grid" else 20


def cv_splitter(experiment):
    """Shuffled, seeded (stratified) K-fold, so folds do not follow the file's row order."""
    from sklearn.model_selection import KFold, StratifiedKFold

    cls = StratifiedKFold if experiment.is_classifier else KFold
    return cls(n_splits=experiment.cv, shuffle=True, random_state=experiment.config.seed)


class StepSpace:
    """A search space whose estimator parameters go to one step of a Pipeline.

    Raw points (what Optuna stores, what plots and summaries show) keep the
    plain names of the space (``learning_rate_init``); :meth:`resolve` returns
    ``mlp__learning_rate_init`` so the search can ``set_params`` on the Pipeline.

    Examples
    --------
    >>> from tuner.spaces import SearchSpace
    >>> space = StepSpace(SearchSpace.load({"alpha": [0.1, 1.0]}), "mlp")
    >>> space.grid(), space.resolve({"alpha": 0.1})
    ([{'alpha': 0.1}, {'alpha': 1.0}], {'mlp__alpha': 0.1})
    """

    def __init__(self, space, step=STEP):
        self.space, self.step = space, step

    def __repr__(self):
        return f"StepSpace({self.space!r}, step={self.step!r})"

    def __contains__(self, name):
        return name.removeprefix(f"{self.step}__") in self.space

    names = property(lambda self: self.space.names, doc="Tunable (raw) parameter names.")
    members = property(lambda self: getattr(self.space, "members", None),
                       doc="Sub-spaces of a union of grids, else None.")
    description = property(lambda self: self.space.description, doc="The space's text.")

    def suggest(self, trial):
        """Raw params from an Optuna trial (plain names)."""
        return self.space.suggest(trial)

    def sample(self, rng=None):
        """Raw params drawn without Optuna."""
        return self.space.sample(rng)

    def grid(self, **kwargs):
        """Raw grid points (plain names)."""
        return self.space.grid(**kwargs)

    def resolve(self, raw, *, n_samples=None):
        """Estimator params of a raw point, named ``<step>__<name>``."""
        params = self.space.resolve(raw, n_samples=n_samples)
        return {f"{self.step}__{name}": value for name, value in params.items()}

    def upper_bound(self, name):
        """Largest value of a numeric parameter (plain or prefixed name)."""
        return self.space.upper_bound(name.removeprefix(f"{self.step}__"))

    def to_dict(self):
        """The space as YAML-able dict (plain names)."""
        return self.space.to_dict()


def search_space(experiment, estimator):
    """The space to hand to the driver: routed to the Pipeline's step when there is one."""
    return StepSpace(experiment.space) if hasattr(estimator, "steps") else experiment.space


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


def build_search(experiment, *, n_trials=None, n_jobs=None, storage=None, callbacks=(),
                 random_state=None, refit=True):
    """The experiment's GridSearch / RandomSearch / OptunaSearch, not yet fitted."""
    from tuner.search import GridSearch, OptunaSearch, RandomSearch

    driver = experiment.driver
    estimator = build_estimator(experiment)
    seed = experiment.config.seed if random_state is None else random_state
    kwargs = dict(scoring=experiment.scoring, cv=cv_splitter(experiment),
                  n_jobs=n_jobs or experiment.n_jobs, refit=refit,
                  pruner=None if driver.pruner == "none" else driver.pruner,
                  storage=storage or experiment.storage, study_name=experiment.name,
                  random_state=seed, callbacks=list(callbacks), budget=driver.budget_arg(),
                  resource=driver.resource)
    space = search_space(experiment, estimator)
    if driver.type == "grid":
        if n_trials is not None:
            raise ExperimentError("--n-trials does not apply to a grid (it runs every point)",
                                  source=experiment.where, key="driver.type", value="grid",
                                  allowed="omit --n-trials, or use driver.type random/optuna")
        return GridSearch(estimator, space, **kwargs)
    kwargs.update(n_trials=n_trials_budget(experiment, n_trials), timeout=driver.timeout)
    if driver.type == "random":
        return RandomSearch(estimator, space, **kwargs)
    return OptunaSearch(estimator, space, sampler=driver.sampler, **kwargs)


# ---------------------------------------------------------------- stored studies

def _storage(storage):
    """The Optuna storage object of a storage path or URL (None: a journal file not created yet,
    so looking never creates one)."""
    from tuner.search.storage import resolve_storage

    if "://" not in str(storage) and not Path(storage).expanduser().is_file():
        return None
    return resolve_storage(storage, n_workers=1).storage


def _study_id(backend, study_name):
    """The id of a stored study, or None."""
    if backend is None:
        return None
    try:
        return backend.get_study_id_from_name(study_name)
    except KeyError:
        return None


def stored_trials(storage, study_name):
    """The stored trials of a study (FrozenTrial list), or None when there is no such study."""
    backend = _storage(storage)
    study_id = _study_id(backend, study_name)
    return None if study_id is None else backend.get_all_trials(study_id, deepcopy=False)


def delete_study(storage, study_name):
    """Delete a stored study (``--fresh``); True when there was one."""
    backend = _storage(storage)
    study_id = _study_id(backend, study_name)
    if study_id is not None:
        backend.delete_study(study_id)
    return study_id is not None


def fail_interrupted_trials(storage, study_name, reason):
    """Mark trials left RUNNING by an interrupt as FAIL (with ``reason``).

    Returns the numbers of every interrupted trial: those just failed and
    those Optuna failed itself on KeyboardInterrupt (FAIL without a
    ``fail_reason``, which the evaluator writes for every error it catches).
    """
    backend = _storage(storage)
    study_id = _study_id(backend, study_name)
    numbers = []
    for trial in [] if study_id is None else backend.get_all_trials(study_id, deepcopy=False):
        if trial.state.name == "RUNNING":
            backend.set_trial_user_attr(trial._trial_id, "fail_reason", reason)
            backend.set_trial_state_values(trial._trial_id, state=type(trial.state).FAIL)
            numbers.append(trial.number)
        elif trial.state.name == "FAIL" and "fail_reason" not in trial.user_attrs:
            numbers.append(trial.number)
    return numbers


def open_study(storage, study_name, *, source=None):
    """Load a stored study (for reports); ExperimentError when it does not exist."""
    import optuna  # the one place outside tuner.search that needs a Study object

    if stored_trials(storage, study_name) is None:
        raise ExperimentError("no stored study of this experiment yet", source=source,
                              key="storage", value=str(storage),
                              allowed="run it first (python -m tuner run ...) or pass --storage")
    return optuna.load_study(study_name=study_name, storage=_storage(storage))


# ---------------------------------------------------------------- learning-rate range test

def lr_find_experiment(experiment, batch_sizes=(), **options):
    """Run :func:`tuner.lr_finder.lr_find` on the experiment's (scaled) training split.

    The estimator gets the file's fixed parameters and the space's fixed values
    (e.g. ``solver: sgd``); one test per batch size (default: the estimator's).
    Returns ``(results, n_train)``.
    """
    import contextlib

    from sklearn.base import clone

    from tuner.errors import SearchSpaceError
    from tuner.lr_finder import lr_find

    X, _, y, _ = split_data(experiment, experiment.load_data())
    model = build_estimator(experiment)
    if hasattr(model, "steps"):
        X, model = model[:-1].fit_transform(X, y), model.steps[-1][1]
    with contextlib.suppress(SearchSpaceError):  # a union of grids: no single fixed set
        model.set_params(**experiment.space.resolve({}, n_samples=len(y)))
    sizes = list(batch_sizes) or [model.batch_size]
    seed = experiment.config.seed
    results = [lr_find(clone(model).set_params(batch_size=size), X, y, random_state=seed,
                       **options) for size in sizes]
    return results, len(y)


def _lr_factor(space, batch_size, n_samples):
    """Effective / base learning rate at ``batch_size`` when the space scales it (else 1)."""
    from tuner.spaces import SearchSpace

    spec = space.to_dict().get("parameters", {}).get("learning_rate_init", {})
    if not spec.get("scale_with"):
        return 1.0
    probe = SearchSpace({spec["scale_with"]: {"type": "fixed", "value": batch_size},
                         "learning_rate_init": spec})
    return probe.resolve({"learning_rate_init": 1.0}, n_samples=n_samples)["learning_rate_init"]


def narrow_space(space, result, n_samples):
    """A copy of ``space`` with ``learning_rate_init`` bounded by the suggested range.

    When the space scales the rate with the batch size, the bounds are given in
    base units (divided by the scaling factor at the tested batch size). A grid
    keeps its length, log-spaced over the new range.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> from tuner.spaces import SearchSpace
    >>> space = SearchSpace.load({"parameters": {"learning_rate_init": {
    ...     "type": "float", "low": 1e-5, "high": 1.0, "log": True, "grid": [1e-4, 1e-2]}}})
    >>> found = SimpleNamespace(suggested_range=(1e-3, 1e-1), batch_size=32)
    >>> narrow_space(space, found, 100).to_dict()["parameters"]["learning_rate_init"]
    {'type': 'float', 'low': 0.001, 'high': 0.1, 'log': True, 'grid': [0.001, 0.1]}
    """
    import numpy as np

    factor = _lr_factor(space, result.batch_size, n_samples)
    low, high = (float(f"{v / factor:.3g}") for v in result.suggested_range)
    old = space.to_dict().get("parameters", {}).get("learning_rate_init", {})
    grid = None
    if old.get("grid"):
        grid = [float(f"{v:.3g}") for v in np.geomspace(low, high, len(old["grid"]))]
    if "learning_rate_init" not in space or old.get("type") != "float":
        return space.replace("learning_rate_init", type="float", low=low, high=high, log=True,
                             grid=grid)
    return space.replace("learning_rate_init", low=low, high=high, log=True, grid=grid)


def lr_figure(results):
    """One panel per batch size, side by side (the Figure of the first result, re-laid out)."""
    fig = results[0].plot()
    fig.clear()
    axes = fig.subplots(1, len(results), squeeze=False)[0]
    fig.set_size_inches(6.0 * len(results), 4.0)
    for ax, result in zip(axes, results, strict=True):
        result.plot(ax=ax)
    return fig


def log_lr_find(experiment, results, png, tracking_uri):
    """Log the range test as an MLflow run ``lr-find`` in the experiment; return the URI."""
    from tuner._mlflow_study import batch, get_experiment_id, metric_list
    from tuner.tracking import MLflowTracker

    tracker = MLflowTracker(tracking_uri or experiment.config.tracking.tracking_uri)
    client, name = tracker.client, experiment.config.tracking.experiment_name or experiment.name
    run = client.create_run(get_experiment_id(client, name, tracker.tracking_uri),
                            run_name="lr-find", tags={"tuner.role": "lr_find"})
    params = {f"suggested_lr.batch_{r.batch_size}": r.suggested_lr for r in results}
    params.update({f"suggested_range.batch_{r.batch_size}": list(r.suggested_range)
                   for r in results})
    batch(client, run.info.run_id, params=params, metrics=metric_list(
        {f"suggested_lr_batch_{r.batch_size}": r.suggested_lr for r in results}))
    client.log_artifact(run.info.run_id, str(png))
    client.set_terminated(run.info.run_id)
    return tracker.tracking_uri
