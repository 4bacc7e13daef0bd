"""Experiment files: YAML, ``--set`` overrides, search spaces and cross-section checks.

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

#: Columns of cv_results_ (besides parameters) a ``report.columns`` entry may name.
RESULT_COLUMNS = ("mean_test_score", "std_test_score", "rank_test_score", "mean_train_score",
                  "mean_fit_time", "std_fit_time", "mean_score_time", "n_epochs", "n_updates",
                  "n_samples_seen", "state", "trial_number", "fail_reason")
_SHORTHANDS = {"dataset": "name", "search_space": "file", "driver": "type",
               "driver.pruner": "type", "tracking": "enabled"}


# ---------------------------------------------------------------- YAML and overrides

def read_yaml(path, *, what="experiment"):
    """Parse a YAML file; malformed YAML becomes one line naming the file and line."""
    path = Path(path)
    if not path.is_file():
        raise ExperimentError(f"{what} file not found", source=str(path),
                              allowed="an existing .yaml file")
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else None
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ExperimentError(f"malformed YAML: {problem}", source=str(path), key=where,
                              allowed="valid YAML (check indentation, colons and quotes)") from None
    except UnicodeDecodeError:
        raise ExperimentError("not a UTF-8 text file", source=str(path)) from None


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
        return keys, yaml.safe_load(raw) if raw.strip() else None
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


# ---------------------------------------------------------------- cross-section checks

def check_task(experiment, data):
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
    return ExperimentError(f"unknown name{did_you_mean(name, choices)}", source=source, key=key,
                           value=value, allowed=", ".join(sorted(choices)))


def _invalid_param(exc, source, prefix, values):
    """ExperimentError for sklearn's InvalidParameterError, naming the parameter."""
    found = re.search(r"The '(\w+)' parameter", str(exc))
    name = found.group(1) if found else None
    return ExperimentError(str(exc).split(" Got ")[0].removeprefix(f"The '{name}' "),
                           source=source, key=f"{prefix}.{name}", value=values.get(name))


def _check_estimator_params(experiment):
    """Fixed estimator parameters must exist and be valid (sklearn's parameter constraints)."""
    from sklearn.utils._param_validation import InvalidParameterError

    cls, params = experiment.estimator_class(), experiment.config.estimator.params
    valid = cls().get_params()
    for name in params:
        if name not in valid:
            raise _unknown(name, valid, source=experiment.where,
                           key=f"estimator.params.{name}", value=name)
    fixed = {k: tuple(v) if isinstance(v, list) else v for k, v in params.items()}
    try:
        cls(**fixed)._validate_params()
    except InvalidParameterError as exc:
        raise _invalid_param(exc, experiment.where, "estimator.params", params) from None
    return cls(**fixed)


def _check_space_values(experiment, estimator):
    """Values the space can propose must pass the estimator's parameter constraints
    (checked on the grid when it is small, else on 20 random points)."""
    import numpy as np
    from sklearn.base import clone
    from sklearn.utils._param_validation import InvalidParameterError

    space, rng = experiment.space, np.random.default_rng(0)
    try:
        points = space.grid(max_grid_size=200)
    except SearchSpaceError:  # too many points (or a large union): sample instead
        try:
            points = [space.sample(rng) for _ in range(20)]
        except SearchSpaceError:
            return
    for raw in points:
        params = space.resolve(raw, n_samples=1000)
        try:
            clone(estimator).set_params(**params)._validate_params()
        except InvalidParameterError as exc:
            raise _invalid_param(exc, experiment.where, "search_space.parameters",
                                 params) from None


def check_semantics(experiment):
    """Cross-section checks: n_jobs, names in the space, scoring, report columns."""
    from tuner._experiment_checks import n_workers

    n_workers(experiment.config.n_jobs, source=experiment.where)
    estimator = _check_estimator_params(experiment)
    valid, where = estimator.get_params(), experiment.where
    for name in experiment.space:
        if name not in valid:
            raise _unknown(name, valid, source=where, key=f"search_space.parameters.{name}",
                           value=name)
    _check_space_values(experiment, estimator)
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
    _check_sampler(experiment)


def _check_sampler(experiment):
    """Samplers that need an extra package (gp: torch, cmaes: cmaes) must find it."""
    driver = experiment.driver
    if driver.type != "optuna" or driver.sampler in ("tpe", "random", "qmc"):
        return
    from tuner.search.drivers import make_sampler

    try:
        make_sampler(driver.sampler, 0)
    except ConfigError as err:
        raise ExperimentError(err.message, source=experiment.where, key="driver.sampler",
                              value=driver.sampler, allowed=err.allowed) from None
