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

import difflib
import re
from pathlib import Path

from tuner._experiment_files import apply_overrides, list_spaces, read_yaml, resolve_space
from tuner._experiment_schema import validate_experiment
from tuner.errors import ExperimentError

__all__ = ["Experiment", "load_experiment", "run_experiment", "run_worker", "list_spaces"]

STORAGE_DIR = ".tuner"
#: Columns of cv_results_ (besides parameters) a ``report.columns`` entry may name.
RESULT_COLUMNS = ("mean_test_score", "std_test_score", "rank_test_score", "mean_train_score",
                  "mean_fit_time", "std_fit_time", "mean_score_time", "n_epochs", "n_updates",
                  "state", "trial_number")


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
    ...                            "search_space": {"parameters": {"alpha": {"type": "fixed",
    ...                                                                      "value": 0.1}}}})
    >>> Experiment(cfg, SearchSpace.load({"parameters": {}})).storage
    '.tuner/x.journal'
    """

    def __init__(self, config, space, source=None):
        self.config, self.space = config, space
        self.source = Path(source) if source is not None else None

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
        _check_task(self, data)
        return data


def _check_task(experiment, data):
    """A classifier needs class labels, a regressor numbers."""
    import numpy as np

    named = experiment.config.dataset.name is not None
    if experiment.is_classifier and data.task == "regression":
        continuous = data.y.dtype.kind == "f" and not np.all(np.mod(data.y, 1) == 0)
        if named or continuous:
            raise ExperimentError(f"{data.name} has a continuous target",
                                  source=experiment.where, key="estimator.type",
                                  value="classifier", allowed="regressor")
    if not experiment.is_classifier and data.y.dtype.kind in "OUSb":
        raise ExperimentError(f"{data.name} has non-numeric labels", source=experiment.where,
                              key="estimator.type", value="regressor", allowed="classifier")


def _unknown(name, choices, *, source, key, value):
    """An ExperimentError for a name that is not among ``choices``, with a did-you-mean."""
    close = difflib.get_close_matches(str(name), list(choices), n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return ExperimentError(f"unknown name{hint}", source=source, key=key, value=value,
                           allowed=", ".join(sorted(choices)))


def _check_estimator_params(experiment):
    """Fixed estimator parameters must exist and be valid (sklearn's parameter constraints)."""
    from sklearn.utils._param_validation import InvalidParameterError

    cls, params = experiment.estimator_class(), experiment.config.estimator.params
    valid = cls().get_params()
    for name in params:
        if name not in valid:
            raise _unknown(name, valid, source=experiment.where,
                           key=f"estimator.params.{name}", value=name)
    try:
        cls(**_yaml_params(params))._validate_params()
    except InvalidParameterError as exc:
        found = re.search(r"The '(\w+)' parameter", str(exc))
        name = found.group(1) if found else None
        raise ExperimentError(str(exc).split(" Got ")[0].removeprefix(f"The '{name}' "),
                              source=experiment.where, key=f"estimator.params.{name}",
                              value=params.get(name)) from None
    return valid


def _yaml_params(params):
    """YAML has no tuples: ``hidden_layer_sizes: [64, 32]`` becomes (64, 32)."""
    return {k: tuple(v) if isinstance(v, list) else v for k, v in params.items()}


def _check_semantics(experiment):
    """Cross-section checks: names in the space, scoring, report columns."""
    valid = _check_estimator_params(experiment)
    where = experiment.where
    spec = experiment.space.to_dict()
    for name in {n: 0 for group in spec.get("union", [spec]) for n in group["parameters"]}:
        if name not in valid:
            raise _unknown(name, valid, source=where, key=f"search_space.parameters.{name}",
                           value=name)
    scoring = experiment.config.scoring
    if scoring is not None:
        from sklearn.metrics import get_scorer_names

        if scoring not in get_scorer_names():
            raise _unknown(scoring, get_scorer_names(), source=where, key="scoring",
                           value=scoring)
    allowed = set(RESULT_COLUMNS) | set(valid)
    for column in experiment.config.report.columns:
        if column not in allowed:
            raise _unknown(column, allowed, source=where, key="report.columns", value=column)


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
    experiment = Experiment(config, resolve_space(config, path), source=path)
    _check_semantics(experiment)
    return experiment


# ---------------------------------------------------------------- running

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
              **_yaml_params(experiment.config.estimator.params)}
    estimator = experiment.estimator_class()(**params)
    scaler = {"standard": StandardScaler, "minmax": MinMaxScaler}.get(experiment.preprocess)
    return estimator if scaler is None else Pipeline([("scale", scaler()), ("mlp", estimator)])


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
