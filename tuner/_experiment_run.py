"""Building blocks of :func:`tuner.experiment.run_experiment` (private).

Data split, estimator (a Pipeline with the scaler), the search space routed to
the Pipeline's ``mlp`` step, budgets, the search driver, the held-out test
score callback, and the clean-up of trials after Ctrl-C (MLflow's side:
:mod:`tuner._experiment_tracking`).
"""

from pathlib import Path

from tuner.errors import ExperimentError

STEP = "mlp"  # name of the estimator's step in the preprocessing Pipeline
EXAMPLE = Path(__file__).resolve().parent.parent / "experiments" / "digits_grid.yaml"


def yaml_params(params):
    """YAML has no tuples: ``hidden_layer_sizes: [64, 32]`` becomes (64, 32)."""
    return {k: tuple(v) if isinstance(v, list) else v for k, v in params.items()}


def split_data(experiment, data):
    """Hold out ``test_size`` of the data (stratified for classifiers, seeded by ``seed``).

    Parameters
    ----------
    experiment : Experiment
    data : tuner.datasets.Dataset

    Returns
    -------
    X_train, X_test, y_train, y_test : arrays
        The test arrays are None when ``test_size`` is 0.

    Examples
    --------
    >>> from tuner.experiment import load_experiment
    >>> exp = load_experiment(EXAMPLE)
    >>> [part.shape for part in split_data(exp, exp.load_data())]
    [(1437, 64), (360, 64), (1437,), (360,)]
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
    """The estimator with the file's and the space's fixed parameters, behind the scaler.

    ``preprocess: standard`` (the default) gives
    ``Pipeline([("scale", StandardScaler()), ("mlp", estimator)])``; the search
    fits the scaler once per CV fold. ``random_state`` defaults to ``seed``.

    Examples
    --------
    >>> from tuner.experiment import load_experiment
    >>> model = build_estimator(load_experiment(EXAMPLE))
    >>> [name for name, _ in model.steps], model.named_steps["mlp"].hidden_layer_sizes
    (['scale', 'mlp'], (64,))
    """
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import MinMaxScaler, StandardScaler

    params = {"random_state": experiment.config.seed,
              **yaml_params(experiment.config.estimator.params), **_fixed_values(experiment)}
    estimator = experiment.estimator_class()(**params)
    scaler = {"standard": StandardScaler, "minmax": MinMaxScaler}.get(experiment.preprocess)
    return estimator if scaler is None else Pipeline([("scale", scaler()), (STEP, estimator)])


def _fixed_values(experiment):
    """The space's ``type: fixed`` values (so the template already has, e.g., its max_iter)."""
    from tuner.errors import SearchSpaceError

    try:
        return experiment.space.resolve({})
    except SearchSpaceError:  # a union of sub-grids has no single set of fixed values
        return {}


def epoch_budget(experiment):
    """Most epochs a trial can train (what Hyperband's ``max_resource`` becomes).

    ``driver.budget.epochs`` if set, else the largest ``max_iter`` of the space,
    else the estimator's ``max_iter``.

    Examples
    --------
    >>> from tuner.experiment import load_experiment
    >>> epoch_budget(load_experiment(EXAMPLE))
    20
    """
    budget = experiment.driver.budget_arg() or {}
    if "epochs" in budget:
        return int(budget["epochs"])
    if "max_iter" in experiment.space:
        return int(experiment.space.upper_bound("max_iter"))
    params = experiment.estimator_class()().get_params()
    return int(experiment.config.estimator.params.get("max_iter", params["max_iter"]))


def n_trials_budget(experiment, n_trials=None):
    """The study's total trial budget.

    The ``n_trials`` override, else ``driver.n_trials``, else the number of grid
    points (grid) or 20 (random, optuna).

    Examples
    --------
    >>> from tuner.experiment import load_experiment
    >>> n_trials_budget(load_experiment(EXAMPLE))
    9
    """
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


def search_space(experiment, estimator):
    """The space to hand to the driver: routed to the Pipeline's step when there is one."""
    return experiment.space.with_prefix(STEP) if hasattr(estimator, "steps") else experiment.space


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


def check_n_trials(experiment, n_trials):
    """A trial budget does not apply to a grid (it runs every point)."""
    if experiment.driver.type == "grid" and n_trials is not None:
        raise ExperimentError("--n-trials does not apply to a grid (it runs every point)",
                              source=experiment.where, key="driver.type", value="grid",
                              allowed="omit --n-trials, or use driver.type random/optuna")


def build_search(experiment, *, n_trials=None, n_jobs=None, storage=None, callbacks=(),
                 random_state=None, refit=True):
    """The experiment's GridSearch / RandomSearch / OptunaSearch, not yet fitted.

    The study is named after the experiment and lives in ``storage`` (default:
    the experiment's), so fitting again resumes it. CV folds are shuffled and
    seeded; the space is routed to the Pipeline's ``mlp`` step.

    Examples
    --------
    >>> from tuner.experiment import load_experiment
    >>> search = build_search(load_experiment(EXAMPLE), storage="/tmp/doc.journal")
    >>> type(search).__name__, search.study_name, search.cv.n_splits
    ('GridSearch', 'digits_grid', 3)
    """
    from tuner.search import GridSearch, OptunaSearch, RandomSearch

    driver = experiment.driver
    estimator = build_estimator(experiment)
    seed = experiment.config.seed if random_state is None else random_state
    kwargs = dict(scoring=experiment.scoring, cv=cv_splitter(experiment),
                  n_jobs=experiment.n_jobs if n_jobs is None else n_jobs, refit=refit,
                  pruner=None if driver.pruner == "none" else driver.pruner,
                  storage=storage or experiment.storage, study_name=experiment.name,
                  random_state=seed, callbacks=list(callbacks), budget=driver.budget_arg(),
                  resource=driver.resource, study_budget=driver.budget_arg("study_budget"))
    space = search_space(experiment, estimator)
    check_n_trials(experiment, n_trials)
    if driver.type == "grid":
        return GridSearch(estimator, space, **kwargs)
    kwargs.update(n_trials=n_trials_budget(experiment, n_trials), timeout=driver.timeout)
    if driver.type == "random":
        return RandomSearch(estimator, space, **kwargs)
    return OptunaSearch(estimator, space, sampler=driver.sampler, **kwargs)


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

