"""Experiment files: YAML, ``--set`` overrides and search spaces, into an :class:`Experiment`.

:func:`load_experiment` reads the file, applies the overrides, validates it
(:mod:`tuner.experiment.schema`), resolves its search space (a shipped name, a
path, or inline, then ``search_space.override``) and makes the cross-section
checks of :mod:`tuner.experiment.preflight`.

Examples
--------
>>> apply_overrides({"driver": "grid"}, ["driver.n_trials=4"])
{'driver': {'type': 'grid', 'n_trials': 4}}
"""

import copy
import re
from pathlib import Path

import yaml

from tuner.errors import ConfigError, ExperimentError, SearchSpaceError, did_you_mean
from tuner.experiment.schema import validate_experiment
from tuner.experiment.semantics import check_semantics, check_task
from tuner.spaces.files import load_bounded
from tuner.spaces.files import read_yaml as read_bounded

STORAGE_DIR = ".tuner"
_SHORTHANDS = {"dataset": "name", "search_space": "file", "driver": "type",
               "driver.pruner": "type", "tracking": "enabled"}


# ---------------------------------------------------------------- YAML and overrides

def read_yaml(path, *, what="experiment"):
    """Parse an experiment file with THE bounded YAML reader (tuner.spaces.files.read_yaml)."""
    return read_bounded(path, error=ExperimentError, what=what)


def parse_override(text):
    """Split ``"key.sub=value"`` into (["key", "sub"], value parsed as YAML).

    Examples
    --------
    >>> parse_override("driver.n_trials=5")
    (['driver', 'n_trials'], 5)
    >>> parse_override("estimator.params.hidden_layer_sizes=[64, 32]")
    (['estimator', 'params', 'hidden_layer_sizes'], [64, 32])
    """
    key, sep, raw = str(text).partition("=")
    keys = key.strip().split(".")
    if not sep or not all(re.fullmatch(r"[A-Za-z0-9_\-]+", k) for k in keys):
        raise ExperimentError("an override must look like key.sub=value", source="--set",
                              value=text, allowed="e.g. driver.n_trials=20 or cv=3")
    try:
        value = load_bounded(raw, error=ExperimentError, source="--set") if raw.strip() else None
        return keys, value
    except yaml.YAMLError:
        raise ExperimentError("the value is not valid YAML", source="--set", key=key,
                              value=raw, allowed="a YAML scalar, list or mapping") from None


def apply_overrides(data, overrides):
    """Return a copy of ``data`` with every ``key.sub=value`` override set.

    Shorthand values are expanded first, so ``--set dataset.name=wine`` works on
    ``dataset: digits``.

    Examples
    --------
    >>> apply_overrides({"dataset": "digits", "cv": 5}, ["dataset.name=wine", "cv=3"])
    {'dataset': {'name': 'wine'}, 'cv': 3}
    """
    data = copy.deepcopy(data)
    for text in overrides:
        keys, value = parse_override(text)
        node = data
        for depth, key in enumerate(keys[:-1]):
            dotted = ".".join(keys[: depth + 1])
            child = node.get(key)
            if child is None:
                child = node[key] = {}
            elif not isinstance(child, dict) and dotted in _SHORTHANDS:
                child = node[key] = {_SHORTHANDS[dotted]: child}
            elif not isinstance(child, dict):
                raise ExperimentError(f"{dotted} is not a mapping", source="--set", key=text,
                                      value=child, allowed=f"set {dotted}=<value> instead")
            node = child
        node[keys[-1]] = value
    return data


# ---------------------------------------------------------------- search spaces

def _space_file(ref, experiment_path, source):
    """The file ``search_space.file`` names (:func:`tuner.spaces.find_space_file`)."""
    from tuner.spaces import find_space_file, list_spaces

    try:
        return find_space_file(ref, experiment_path=experiment_path)
    except SearchSpaceError:
        known = list_spaces(experiment_path)
        raise ExperimentError(f"search space not found{did_you_mean(ref, known)}",
                              source=source, key="search_space.file", value=ref,
                              allowed=", ".join(known) + ", or a path to a .yaml file") from None


def _merge_overrides(spec_dict, override, *, source):
    """Apply ``search_space.override``: a spec with ``type`` replaces, one without updates,
    ``null`` removes the parameter."""
    if "union" in spec_dict:
        raise ExperimentError("override does not apply to a union of sub-grids", source=source,
                              key="search_space.override", allowed="a space with parameters:")
    params = dict(spec_dict.get("parameters", {}))
    for name, spec in override.items():
        if spec is None:
            if name not in params:
                raise ExperimentError("cannot remove a parameter the space does not have",
                                      source=source, key=f"search_space.override.{name}",
                                      allowed=", ".join(params))
            del params[name]
        elif "type" in spec or name not in params:
            params[name] = dict(spec)
        else:
            params[name] = {**params[name], **spec}
    return {**spec_dict, "parameters": params}


def _resource(err, source, prefix):
    """Re-raise a SearchSpaceError from an in-experiment space under the experiment's name."""
    kwargs = {"source": source, "key": f"{prefix}.{err.key}" if err.key else prefix,
              "allowed": err.allowed}
    if err.value is not ConfigError._UNSET:
        kwargs["value"] = err.value
    return type(err)(err.message, **kwargs)


def resolve_space(config, experiment_path=None):
    """Build the SearchSpace of an experiment (file or inline, then overrides)."""
    from tuner.spaces import SearchSpace

    source = str(experiment_path) if experiment_path else None
    cfg = config.search_space
    if cfg.file is not None:
        space = SearchSpace.load(_space_file(cfg.file, experiment_path, source))
        if not cfg.override:
            return space
        spec, prefix = space.to_dict(), "search_space.override"
    else:
        spec = {"parameters": cfg.parameters}
        if cfg.description:
            spec["description"] = cfg.description
        prefix = "search_space.parameters"
    spec = _merge_overrides(spec, cfg.override, source=source)
    try:
        return SearchSpace.load(spec)
    except SearchSpaceError as err:
        raise _resource(err, source, prefix) from None


# ---------------------------------------------------------------- the experiment

class Experiment:
    """A validated experiment: its config, source file and resolved search space.

    Every key of the file is in :attr:`config`; the keys every part of a run
    reads (``name``, ``description``, ``driver``, ``cv``, ``scoring``, ``n_jobs``,
    ``preprocess``) are also read-only properties here, beside what the
    experiment derives (``storage``, ``is_classifier``, ``where``).

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
    >>> from tuner.spaces import SearchSpace
    >>> cfg = validate_experiment({"name": "x", "dataset": "iris",
    ...                            "search_space": "mlp_default"})
    >>> exp = Experiment(cfg, SearchSpace.load("mlp_default"))
    >>> exp.storage == str(Path.cwd() / ".tuner" / "x.journal"), exp.cv, exp.is_classifier
    (True, 5, True)
    """

    def __init__(self, config, space, source=None, overrides=()):
        self.config, self.space = config, space
        self.source = Path(source) if source is not None else None
        self.overrides = tuple(overrides)  # the --set values it was loaded with

    def __repr__(self):
        return f"Experiment(name={self.name!r}, source={str(self.source)!r})"

    name = property(lambda self: self.config.name, doc="The study's and MLflow's name.")
    description = property(lambda self: self.config.description, doc="The file's text.")
    driver = property(lambda self: self.config.driver, doc="The ``driver:`` section.")
    cv = property(lambda self: self.config.cv, doc="Number of CV folds.")
    scoring = property(lambda self: self.config.scoring, doc="Scorer name (None: default).")
    n_jobs = property(lambda self: self.config.n_jobs, doc="Worker processes (joblib's sign).")
    preprocess = property(lambda self: self.config.preprocess,
                          doc="auto (tables: tuner.preprocessing), standard, minmax or none.")

    @property
    def root(self):
        """THE folder every relative path of the experiment is resolved in: the experiment
        file's (the working directory for an experiment without a file)."""
        return self.source.resolve().parent if self.source is not None else Path.cwd()

    def resolve_path(self, path):
        """``path`` (str or Path) as an absolute Path, a relative one taken from :attr:`root`."""
        path = Path(path)
        return path if path.is_absolute() else self.root / path

    @property
    def storage(self):
        """The study storage: the file's ``storage`` or ``.tuner/<name>.journal``, a relative
        journal path or SQLite file taken from :attr:`root`."""
        storage = self.config.storage
        if storage is None:
            return str(self.root / STORAGE_DIR / f"{self.name}.journal")
        if "://" not in storage:
            return str(self.resolve_path(storage))
        scheme, _, rest = storage.partition(":///")
        if scheme.lower().startswith("sqlite") and rest and not rest.startswith(("/", ":")):
            return f"{scheme}:///{self.resolve_path(rest)}"
        return storage

    def reports_dir(self):
        """Where reports and plots go by default: ``reports/<name>`` under :attr:`root`."""
        return self.root / "reports" / self.name

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
        """The data file (a relative path is taken from :attr:`root`)."""
        return self.resolve_path(self.config.dataset.path)

    def load_data(self):
        """Load the dataset (a :class:`tuner.datasets.Dataset`), checked against the estimator."""
        from tuner.datasets import load_dataset

        ds = self.config.dataset
        data = load_dataset(ds.name, path=self.data_path() if ds.path else None,
                            target=ds.target, features=ds.features, params=ds.params,
                            raw=self.preprocess == "auto", source=self.where,
                            random_state=self.config.seed)
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
