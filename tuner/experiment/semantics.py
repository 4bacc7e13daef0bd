"""The experiment file against its estimator, checked at load: names, values, scoring, task.

:func:`check_semantics` checks that every fixed and tuned parameter exists on the
estimator (with a did-you-mean) and passes its parameter constraints (both ends
of every range, the grid's points), the scoring, the report columns and the
sampler; :func:`check_task` that a classifier gets class labels and a regressor
numbers.
"""

import re

from tuner.errors import ConfigError, ExperimentError, did_you_mean
from tuner.experiment.build import PREPROCESS
from tuner.experiment.preflight import RESULT_COLUMNS, n_workers


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


def _check_layers(params, source, prefix):
    """``hidden_layer_sizes`` entries must be integers >= 1 (fit would refuse each trial)."""
    from numbers import Integral

    import numpy as np

    if "hidden_layer_sizes" not in params:
        return
    sizes = params["hidden_layer_sizes"]
    layers = np.atleast_1d(np.asarray(sizes, dtype=object)).tolist()
    if not all(isinstance(h, Integral) and not isinstance(h, bool) and h >= 1 for h in layers):
        raise ExperimentError("every layer needs at least one unit", source=source,
                              key=f"{prefix}.hidden_layer_sizes", value=sizes,
                              allowed="integers >= 1, e.g. [64, 32]")


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
    _check_layers(fixed, experiment.where, "estimator.params")
    return cls(**fixed)


def _range_ends(space, base):
    """Points with one range parameter at its low or its high end, the others as in `base`."""
    for name, spec in space.to_dict().get("parameters", {}).items():
        if name in base and "low" in spec and "high" in spec and spec.get("base") is None:
            yield from ({**base, name: spec[end]} for end in ("low", "high"))


def _check_space_values(experiment, estimator):
    """Values the space can propose must pass the estimator's parameter constraints
    (checked on the grid when it is small, else on 20 random points; for the random and
    Optuna drivers also at both ends of every range)."""
    import numpy as np
    from sklearn.base import clone
    from sklearn.utils._param_validation import InvalidParameterError

    from tuner.errors import SearchSpaceError

    space, rng = experiment.space, np.random.default_rng(0)
    try:
        points = space.grid(max_grid_size=200)
    except SearchSpaceError:  # too many points (or a large union): sample instead
        try:
            points = [space.sample(rng) for _ in range(20)]
        except SearchSpaceError:
            return
    if experiment.driver.type != "grid" and points:  # samplers reach the ranges' ends
        points += list(_range_ends(space, points[0]))
    for raw in points:
        params = {name: value for name, value in space.resolve(raw, n_samples=1000).items()
                  if "__" not in name}  # other steps' parameters: see _step_parameters
        try:
            clone(estimator).set_params(**params)._validate_params()
        except InvalidParameterError as exc:
            raise _invalid_param(exc, experiment.where, "search_space.parameters",
                                 params) from None
        _check_layers(params, experiment.where, "search_space.parameters")


def _check_grid(experiment):
    """The grid driver needs a grid within the documented limit (SearchSpace.grid)."""
    from tuner.errors import SearchSpaceError

    if experiment.driver.type != "grid":
        return
    try:
        experiment.space.grid()
    except SearchSpaceError as err:
        key = f"search_space.parameters.{err.key}" if err.key else "search_space"
        value = {} if err.value is ConfigError._UNSET else {"value": err.value}
        raise ExperimentError(err.message, source=experiment.where, key=key,
                              allowed=err.allowed, **value) from None


def _step_parameters(experiment):
    """Parameters of the preprocessing step a space may tune (``preprocess__...``), for a table
    with every kind of column (``preprocess: auto`` only: the other choices build no such step)."""
    from tuner.preprocessing import ColumnKinds, make_preprocessor

    if experiment.preprocess != "auto" or experiment.config.dataset.path is None:
        return {}
    every_kind = ColumnKinds(numeric=["n"], categorical=["c"], with_missing=["n"])
    return {f"{PREPROCESS}__{name}": value
            for name, value in make_preprocessor(every_kind).get_params().items()}


def check_semantics(experiment):
    """Cross-section checks: n_jobs, names in the space, scoring, report columns."""
    n_workers(experiment.config.n_jobs, source=experiment.where)
    estimator = _check_estimator_params(experiment)
    valid, where = {**estimator.get_params(), **_step_parameters(experiment)}, experiment.where
    for name in experiment.space:
        if name not in valid:
            raise _unknown(name, valid, source=where, key=f"search_space.parameters.{name}",
                           value=name)
    _check_grid(experiment)
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
