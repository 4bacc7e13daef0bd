"""Pydantic schema of experiment files and the conversion of its errors to one line.

Every section forbids unknown keys; shorthands are expanded before validation
(``dataset: digits``, ``search_space: mlp_default``, ``pruner: hyperband``,
``tracking: false``). :func:`validate_experiment` turns the first pydantic
error into a :class:`tuner.errors.ExperimentError` naming the file, the dotted
key, the value and what is allowed (with a did-you-mean for unknown keys and
misspelt choices).

Every key of an experiment file, with its default::

    name: digits_optuna            # required; names the study, the MLflow experiment, files
    description: ""
    dataset: digits                # or {name: make_classification, params: {n_samples: 500}}
                                   # or {path: data.csv, target: label, features: [a, b],
                                   #     categorical: [code]}  (numbers to one-hot encode)
    test_size: 0.2                 # held out for the final score (0: none)
    preprocess: auto               # auto | standard | minmax | none (fitted once per CV fold;
                                   # auto: tuner.preprocessing for tables, else standard)
    target_transform: standard     # regressors: standard | none (scores, predictions on the
                                   # original scale)
    estimator: {type: classifier, params: {}}       # or regressor; fixed parameters
    search_space: mlp_default      # a name in search_spaces/, a path, or inline:
                                   # {parameters: {...}}, plus override: {name: spec | null}
    driver:
      type: optuna                 # grid | random | optuna
      sampler: tpe                 # optuna only: tpe | gp | cmaes | qmc | random
      pruner: none                 # none | median | halving | hyperband
      n_trials: 10                 # the study's total (grid: every point);
                                   # default tuner.search.DEFAULT_N_TRIALS
      timeout: null                # seconds
      budget: null                 # per trial: {epochs: N} | {updates: N} | {seconds: S}
      study_budget: null           # whole study, same units (finished trials add up)
      resource: epochs             # step reported to the pruner: epochs | updates | samples
    cv: 5
    scoring: null                  # any scikit-learn scorer name
    seed: 0
    n_jobs: 1                      # worker processes (-1: all cores, -2: all but one)
    storage: null                  # default .tuner/<name>.journal; or a database URL
    tracking: {enabled: true, tracking_uri: null, experiment_name: null, log_model: true}
    report: {columns: [], top: 10} # extra per-trial table in the CLI summary

Examples
--------
>>> exp = validate_experiment({"name": "demo", "dataset": "iris", "search_space": "mlp_default"})
>>> exp.dataset.name, exp.driver.type, exp.tracking.enabled
('iris', 'optuna', True)
"""

import math
import re
import typing
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from tuner.datasets import FILE_SUFFIXES, available
from tuner.errors import ExperimentError, did_you_mean


def _fail(message, allowed=None, *, key=None, **value):
    """A validation error carrying ``allowed``, a sub-``key`` and ``value`` to the message."""
    ctx = {"allowed": allowed, "key": key, **value}
    return PydanticCustomError("tuner", message, {k: v for k, v in ctx.items() if v is not None})


class _Section(BaseModel):
    """Base of every section: unknown keys are errors, no silent type coercion."""

    model_config = ConfigDict(extra="forbid", strict=True)


class DatasetConfig(_Section):
    """``dataset:`` a bundled set or generator by ``name``, or a file ``path`` + ``target``."""

    name: str | None = None
    path: str | None = None
    target: str | None = None
    features: list[str] | None = None
    categorical: list[str] | None = None
    params: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _expand(cls, data):
        """``dataset: digits`` -> name; ``dataset: data.csv`` -> path."""
        if isinstance(data, str):
            key = "path" if data.lower().endswith(FILE_SUFFIXES) else "name"
            return {key: data}
        return data

    @model_validator(mode="after")
    def _features_exclude_target(self):
        """The target column cannot also be a feature."""
        if self.target is not None and self.target in (self.features or ()):
            raise _fail("the target column is also listed as a feature",
                        "features without the target", key="features", value=self.target)
        return self

    @model_validator(mode="after")
    def _check(self):
        """Exactly one of name and path; a known name; files need a target."""
        if (self.name is None) == (self.path is None):
            raise _fail("give exactly one of dataset.name and dataset.path",
                        "name: <bundled set or generator> or path: <file.csv|.parquet>")
        if self.name is not None and self.name not in available():
            raise _fail(f"unknown dataset{did_you_mean(self.name, available())}",
                        ", ".join(available()) + ", or path: <file>",
                        key="name", value=self.name)
        if self.categorical is not None and self.path is None:
            raise _fail("dataset.categorical names columns of a data file",
                        "omit it, or use path: <file>", key="categorical", value=self.categorical)
        if self.path is not None and self.target is None:
            raise _fail("a data file needs a target (the label column)",
                        "target: <column name>", key="target")
        return self


class EstimatorConfig(_Section):
    """``estimator:`` which MLP and its fixed parameters."""

    type: Literal["classifier", "regressor"] = "classifier"
    params: dict[str, Any] = Field(default_factory=dict)


class SearchSpaceConfig(_Section):
    """``search_space:`` a file (name in search_spaces/ or path) or inline, plus overrides."""

    file: str | None = None
    description: str | None = None
    parameters: dict[str, Any] | None = None
    override: dict[str, dict[str, Any] | None] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _expand(cls, data):
        """``search_space: mlp_default`` -> file."""
        return {"file": data} if isinstance(data, str) else data

    @model_validator(mode="after")
    def _check(self):
        """Exactly one of file and inline parameters."""
        if (self.file is None) == (self.parameters is None):
            raise _fail("give exactly one of search_space.file and search_space.parameters",
                        "file: <name or path> or parameters: {...}")
        return self


class DriverConfig(_Section):
    """``driver:`` grid | random | optuna, the pruner and the study / per-trial budgets."""

    type: Literal["grid", "random", "optuna"] = "optuna"
    sampler: Literal["tpe", "gp", "cmaes", "qmc", "random"] = "tpe"
    pruner: Literal["none", "median", "halving", "hyperband"] = "none"
    n_trials: int | None = Field(None, ge=1)
    timeout: float | None = Field(None, gt=0, allow_inf_nan=False)
    budget: dict[Literal["epochs", "updates", "seconds"], float] | None = None
    study_budget: dict[Literal["epochs", "updates", "seconds"], float] | None = None
    resource: Literal["epochs", "updates", "samples"] = "epochs"

    @model_validator(mode="before")
    @classmethod
    def _expand(cls, data):
        """``driver: grid`` -> type; ``pruner: null`` -> none; ints accepted for seconds."""
        if isinstance(data, str):
            return {"type": data}
        if not isinstance(data, dict):
            return data
        data = {**data, "pruner": data.get("pruner") or "none"}
        if isinstance(data.get("timeout"), int) and not isinstance(data["timeout"], bool):
            data["timeout"] = float(data["timeout"])
        for key in ("budget", "study_budget"):
            if isinstance(data.get(key), dict):
                data[key] = {k: float(v) if isinstance(v, int) and not isinstance(v, bool)
                             else v for k, v in data[key].items()}
        return data

    @model_validator(mode="after")
    def _check(self):
        """A sampler, n_trials and timeout belong to random/optuna; one positive budget."""
        if self.type == "grid":
            for key in ("sampler", "n_trials", "timeout"):
                if key in self.model_fields_set:
                    raise _fail("the grid driver runs every grid point once",
                                "omit it, or set driver.type: random or optuna", key=key,
                                value=getattr(self, key))
        elif "sampler" in self.model_fields_set and self.type != "optuna":
            raise _fail(f"the {self.type} driver chooses its own sampler",
                        "omit sampler, or set driver.type: optuna", key="sampler",
                        value=self.sampler)
        for key, what in (("budget", "per trial"), ("study_budget", "for the study")):
            budget = getattr(self, key)
            if budget is None:
                continue
            kind, value = next(iter(budget.items()), ("", 0))
            if len(budget) != 1 or not 0 < value < math.inf:
                one = len(budget) == 1
                raise _fail(f"give one positive budget {what}", "{epochs: N}, "
                            "{updates: N} or {seconds: S}", key=f"{key}.{kind}" if one else key,
                            value=value if one else sorted(budget))
        return self

    def budget_arg(self, key="budget"):
        """The ``budget=`` (or ``study_budget=``) argument of the drivers (ints stay ints)."""
        budget = getattr(self, key)
        if budget is None:
            return None
        kind, value = next(iter(budget.items()))
        return {kind: int(value) if kind != "seconds" and value == int(value) else value}


class TrackingConfig(_Section):
    """``tracking:`` MLflow logging (on by default; experiment name = the experiment's name)."""

    enabled: bool = True
    tracking_uri: str | None = None
    experiment_name: str | None = None
    log_model: bool = True

    @model_validator(mode="before")
    @classmethod
    def _expand(cls, data):
        """``tracking: false`` -> enabled."""
        return {"enabled": data} if isinstance(data, bool) else data


class ReportConfig(_Section):
    """``report:`` extra columns of the per-trial table in the CLI summary."""

    columns: list[str] = Field(default_factory=list)
    top: int = Field(10, ge=1)


class ExperimentConfig(_Section):
    """The whole experiment file."""

    name: str = Field(max_length=100)
    description: str = ""
    dataset: DatasetConfig
    test_size: float = Field(0.2, ge=0.0, lt=1.0)
    preprocess: Literal["auto", "standard", "minmax", "none"] = "auto"
    target_transform: Literal["standard", "none"] = "standard"
    estimator: EstimatorConfig = Field(default_factory=EstimatorConfig)
    search_space: SearchSpaceConfig
    driver: DriverConfig = Field(default_factory=DriverConfig)
    cv: int = Field(5, ge=2)
    scoring: str | None = None
    seed: int | None = Field(0, ge=0, le=2**32 - 1)
    n_jobs: int = 1  # checked with the CLI's --n-jobs (joblib's convention, not 0)
    storage: str | None = None
    tracking: TrackingConfig = Field(default_factory=TrackingConfig)
    report: ReportConfig = Field(default_factory=ReportConfig)

    @model_validator(mode="before")
    @classmethod
    def _floats(cls, data):
        """Accept ``test_size: 0`` (an int) for a float field."""
        if isinstance(data, dict) and isinstance(data.get("test_size"), int):
            return {**data, "test_size": float(data["test_size"])}
        return data

    @model_validator(mode="after")
    def _target(self):
        """``target_transform`` scales a regressor's target; a classifier has labels."""
        if "target_transform" in self.model_fields_set and self.estimator.type == "classifier":
            raise _fail("target_transform scales a regressor's target", "omit it for a "
                        "classifier, or set estimator.type: regressor", key="target_transform",
                        value=self.target_transform)
        return self

    @field_validator("name")
    @classmethod
    def _name(cls, value):
        """The name becomes a study name and a file name: keep it to safe characters."""
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", value):
            raise _fail("not a valid experiment name",
                        "letters, digits, '_', '.' and '-' (it names the study and its files)")
        return value


# ---------------------------------------------------------------- errors -> one line

_TAG = re.compile(r"^(function-[a-z]+|[a-z_]+\[.*\]|int|float|str|bool|list|dict|none)$")


def _model_at(loc):
    """The pydantic model whose fields an error at ``loc`` (minus its last part) refers to."""
    model = ExperimentConfig
    for part in loc[:-1]:
        field = model.model_fields.get(part) if isinstance(part, str) else None
        if field is None:
            return None
        candidates = [field.annotation, *typing.get_args(field.annotation)]
        models = [c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)]
        if not models:
            return None
        model = models[0]
    return model


def _allowed(error, loc):
    """What would have been accepted, from the error context or the schema."""
    ctx = error.get("ctx") or {}
    if "allowed" in ctx:
        return ctx["allowed"]
    if error["type"] == "extra_forbidden":
        model = _model_at(loc)
        return ", ".join(model.model_fields) if model else None
    if error["type"] == "literal_error":
        return ctx.get("expected")
    if error["type"] == "missing":
        return "add this key"
    return None


def _message(error, loc):
    """The error text, with a did-you-mean for unknown keys and misspelt choices."""
    kind, msg = error["type"], error["msg"]
    if kind == "extra_forbidden":
        model = _model_at(loc)
        return "unknown key" + did_you_mean(loc[-1], model.model_fields if model else ())
    if kind == "literal_error":
        choices = re.findall(r"'([^']*)'", (error.get("ctx") or {}).get("expected", ""))
        return "not a valid choice" + did_you_mean(error.get("input"), choices)
    if kind == "missing":
        return "required key is missing"
    msg = re.sub(r" or instance of \w+", "", msg)
    return msg.removeprefix("Value error, ")


def validation_error_to_experiment_error(exc, source):
    """Convert the first error of a pydantic ``ValidationError`` into an ExperimentError.

    Examples
    --------
    >>> try:
    ...     ExperimentConfig.model_validate({"name": "x", "dataset": "iris",
    ...                                      "search_space": "s", "cvv": 3})
    ... except ValidationError as exc:
    ...     print(validation_error_to_experiment_error(exc, "x.yaml"))
    x.yaml: cvv: unknown key (did you mean 'cv'?) (got 3; allowed: name, description, \
dataset, test_size, preprocess, target_transform, estimator, search_space, driver, cv, \
scoring, seed, n_jobs, storage, tracking, report)
    """
    errors = exc.errors(include_url=False)
    error = errors[0]
    ctx = error.get("ctx") or {}
    loc = tuple(part for part in error["loc"] if not (isinstance(part, str) and _TAG.match(part)))
    loc += (ctx["key"],) if "key" in ctx else ()
    key = ".".join(str(part) for part in loc) or None
    kwargs = {"source": source, "key": key, "allowed": _allowed(error, loc)}
    value = ctx.get("value", error.get("input"))
    if error["type"] != "missing" and not isinstance(value, dict):
        kwargs["value"] = value
    message = _message(error, loc)
    if error["type"] == "missing":
        message += _misspelt_as(errors, error["loc"])
    return ExperimentError(message, **kwargs)


def _misspelt_as(errors, loc):
    """``; found 'naem' (did you mean 'name'?)`` when an unknown key beside a missing one is
    close to it."""
    for other in errors:
        if other["type"] == "extra_forbidden" and other["loc"][:-1] == loc[:-1]:
            hint = did_you_mean(other["loc"][-1], [loc[-1]])
            if hint:
                return f"; found {other['loc'][-1]!r}{hint}"
    return ""


def validate_experiment(data, source=None):
    """Validate a parsed experiment dict; raise ExperimentError (one line) when invalid.

    Examples
    --------
    >>> validate_experiment({"name": "x", "dataset": "iris", "search_space": "s", "cv": 1})
    Traceback (most recent call last):
    ...
    tuner.errors.ExperimentError: cv: Input should be greater than or equal to 2 (got 1)
    """
    if not isinstance(data, dict):
        raise ExperimentError("an experiment file must be a mapping of keys to values",
                              source=source, value=type(data).__name__,
                              allowed="name:, dataset:, search_space:, ...")
    try:
        return ExperimentConfig.model_validate(data)
    except ValidationError as exc:
        raise validation_error_to_experiment_error(exc, source) from None
