"""What an experiment builds from its config: the data split, the estimator, the search.

Data split, estimator (a Pipeline with the preprocessing), the search space
routed to the Pipeline's ``mlp`` step (names of other steps, ``preprocess__...``,
as they are), budgets (epochs per trial, trials per study) and
the search driver, not yet fitted (:mod:`tuner.experiment.run` fits it).
"""

from pathlib import Path
from typing import Any, NamedTuple

from tuner.errors import ExperimentError

STEP = "mlp"  # name of the estimator's step in the preprocessing Pipeline
PREPROCESS = "preprocess"  # name of the ColumnTransformer's step (preprocess: auto on a table)
EXAMPLE = Path(__file__).resolve().parents[2] / "experiments" / "digits_grid.yaml"


def yaml_params(params):
    """YAML has no tuples: ``hidden_layer_sizes: [64, 32]`` becomes (64, 32)."""
    return {k: tuple(v) if isinstance(v, list) else v for k, v in params.items()}


class DataSplit(NamedTuple):
    """The training split (searched with CV) and the held-out test split (None: no split)."""

    X_train: Any
    X_test: Any
    y_train: Any
    y_test: Any


def split_data(experiment, data):
    """Hold out ``test_size`` of the data (stratified for classifiers, seeded by ``seed``).

    Parameters
    ----------
    experiment : Experiment
    data : tuner.datasets.Dataset

    Returns
    -------
    DataSplit
        ``(X_train, X_test, y_train, y_test)``; the test arrays are None when
        ``test_size`` is 0.

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
        return DataSplit(data.X, None, data.y, None)
    stratify = data.y if experiment.is_classifier else None
    try:
        return DataSplit(*train_test_split(data.X, data.y, test_size=size, stratify=stratify,
                                           random_state=experiment.config.seed))
    except ValueError as exc:  # e.g. a class with one sample, or too few samples
        raise ExperimentError(f"cannot hold out a test split: {exc}", source=experiment.where,
                              key="test_size", value=size) from None


def build_estimator(experiment, *, X=None):
    """The estimator with the file's and the space's fixed parameters, behind the preprocessing.

    ``preprocess: auto`` (the default) on a table (``X`` a DataFrame, from a
    data file) gives ``Pipeline([("preprocess", ColumnTransformer), ("mlp",
    estimator)])`` (:func:`tuner.preprocessing.make_preprocessor` of the
    table's :func:`~tuner.preprocessing.column_kinds`, ``dataset.categorical``
    included); on numeric arrays ``auto`` is ``standard``:
    ``Pipeline([("scale", StandardScaler()), ("mlp", estimator)])``. The search
    fits the preprocessing once per CV fold. ``random_state`` defaults to ``seed``.
    A regressor's model is wrapped by :func:`scaled_target` (``target_transform``).

    Examples
    --------
    >>> from tuner.experiment import load_experiment
    >>> model = build_estimator(load_experiment(EXAMPLE))
    >>> [name for name, _ in model.steps], model.named_steps["mlp"].hidden_layer_sizes
    (['scale', 'mlp'], (64,))
    """
    from sklearn.pipeline import Pipeline

    params = {"random_state": experiment.config.seed,
              **yaml_params(experiment.config.estimator.params), **_fixed_values(experiment)}
    estimator = experiment.estimator_class()(**params)
    first = preprocessing_step(experiment, X)
    model = estimator if first is None else Pipeline([first, (STEP, estimator)])
    return scaled_target(experiment, model)


def scaled_target(experiment, model):
    """A regressor with ``target_transform: standard`` learns the standardized target:
    ``TransformedTargetRegressor(regressor=model, transformer=StandardScaler())``, whose
    scores and predictions are on the original scale (the search trains it epoch by epoch)."""
    from sklearn.compose import TransformedTargetRegressor
    from sklearn.preprocessing import StandardScaler

    if experiment.is_classifier or experiment.config.target_transform == "none":
        return model
    return TransformedTargetRegressor(regressor=model, transformer=StandardScaler())


def preprocessing_step(experiment, X=None):
    """The Pipeline's ``(name, transformer)`` before the estimator (None: ``preprocess: none``)."""
    from tuner.preprocessing import column_kinds, make_preprocessor, make_scaler

    if experiment.preprocess == "auto" and hasattr(X, "columns"):
        kinds = column_kinds(X, categorical=experiment.config.dataset.categorical or ())
        return PREPROCESS, make_preprocessor(kinds)
    scaler = make_scaler("standard" if experiment.preprocess == "auto" else experiment.preprocess)
    return None if scaler == "passthrough" else ("scale", scaler)


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
    points (grid) or the drivers' default, :data:`tuner.search.DEFAULT_N_TRIALS`
    (random, optuna).

    Examples
    --------
    >>> from tuner.experiment import load_experiment
    >>> n_trials_budget(load_experiment(EXAMPLE))
    9
    """
    if n_trials is not None:
        return n_trials
    from tuner.search import DEFAULT_N_TRIALS

    if experiment.driver.n_trials is not None:
        return experiment.driver.n_trials
    return len(experiment.space.grid()) if experiment.driver.type == "grid" else DEFAULT_N_TRIALS


def cv_splitter(experiment):
    """Shuffled, seeded (stratified) K-fold, so folds do not follow the file's row order."""
    from sklearn.model_selection import KFold, StratifiedKFold

    cls = StratifiedKFold if experiment.is_classifier else KFold
    return cls(n_splits=experiment.cv, shuffle=True, random_state=experiment.config.seed)


def search_space(experiment, estimator):
    """The space to hand to the driver: routed to the Pipeline's ``mlp`` step when there is
    one, inside the ``regressor`` of a target-scaling wrapper when there is one."""
    space = experiment.space
    inner = getattr(estimator, "regressor", estimator)
    space = space.with_prefix(STEP) if hasattr(inner, "steps") else space
    return space.with_prefix("regressor") if inner is not estimator else space


def check_n_trials(experiment, n_trials):
    """A trial budget does not apply to a grid (it runs every point)."""
    if experiment.driver.type == "grid" and n_trials is not None:
        raise ExperimentError("--n-trials does not apply to a grid (it runs every point)",
                              source=experiment.where, key="driver.type", value="grid",
                              allowed="omit --n-trials, or use driver.type random/optuna")


def build_search(experiment, *, n_trials=None, n_jobs=None, storage=None, callbacks=(),
                 random_state=None, refit=True, X=None):
    """The experiment's GridSearch / RandomSearch / OptunaSearch, not yet fitted.

    The study is named after the experiment and lives in ``storage`` (default:
    the experiment's), so fitting again resumes it. CV folds are shuffled and
    seeded; the space is routed to the Pipeline's ``mlp`` step. ``X``: the
    training features, whose columns ``preprocess: auto`` sorts (see
    :func:`build_estimator`).

    Examples
    --------
    >>> from tuner.experiment import load_experiment
    >>> search = build_search(load_experiment(EXAMPLE), storage="/tmp/doc.journal")
    >>> type(search).__name__, search.study_name, search.cv.n_splits
    ('GridSearch', 'digits_grid', 3)
    """
    from tuner.search import GridSearch, OptunaSearch, RandomSearch

    driver = experiment.driver
    estimator = build_estimator(experiment, X=X)
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
