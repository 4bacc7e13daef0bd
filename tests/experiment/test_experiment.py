"""Tests of experiment files: schema, one-line errors, overrides, spaces, data and running."""

from pathlib import Path

import pytest
import yaml
from experiment_helpers import BASE, error_of, write

from tuner.errors import DataError, ExperimentError, SearchSpaceError
from tuner.experiment import (
    epoch_budget,
    load_experiment,
)
from tuner.experiment.load import apply_overrides, parse_override
from tuner.experiment.schema import validate_experiment

ROOT = Path(__file__).resolve().parents[2]
EXPERIMENTS = sorted((ROOT / "experiments").glob("*.yaml"))
SPACES = sorted((ROOT / "tuner" / "search_spaces").glob("*.yaml"))

# ---------------------------------------------------------------- shipped files

@pytest.mark.parametrize("path", EXPERIMENTS, ids=lambda p: p.name)
def test_load_experiment_every_shipped_file_validates(path):
    exp = load_experiment(path)
    assert exp.name == path.stem
    assert exp.space.names
    data = exp.load_data()
    assert data.X.shape[0] > 0
    assert (data.task == "classification") == exp.is_classifier


@pytest.mark.parametrize("path", SPACES, ids=lambda p: p.name)
def test_search_space_every_shipped_file_validates(path):
    from tuner.spaces import SearchSpace

    space = SearchSpace.load(path)
    assert space.names
    assert yaml.safe_load(path.read_text())["description"]


def test_shipped_experiments_cover_the_required_set():
    names = {p.stem for p in EXPERIMENTS}
    assert {"digits_optuna", "digits_grid", "digits_random", "breast_cancer_optuna",
            "diabetes_regression", "gradient_descent_variants", "lr_batch_coupled"} <= names


def test_digits_optuna_is_short_enough_for_the_readme():
    exp = load_experiment(ROOT / "experiments" / "digits_optuna.yaml")
    assert exp.driver.pruner == "hyperband"
    assert 20 <= exp.driver.n_trials <= 30
    assert exp.n_jobs == 2
    assert epoch_budget(exp) <= 30


# ---------------------------------------------------------------- schema and errors

def test_validate_experiment_defaults():
    cfg = validate_experiment({"name": "x", "dataset": "digits", "search_space": "mlp_default"})
    assert cfg.driver.type == "optuna" and cfg.driver.sampler == "tpe"
    assert cfg.driver.pruner == "none"
    assert (cfg.cv, cfg.seed, cfg.n_jobs, cfg.test_size, cfg.preprocess) == (5, 0, 1, 0.2,
                                                                             "auto")
    assert cfg.tracking.enabled is True and cfg.storage is None


def test_validate_experiment_shorthands_expand():
    cfg = validate_experiment({**BASE, "dataset": "data.csv", "tracking": False,
                               "driver": {"type": "optuna", "pruner": "median"}}
                              | {"dataset": {"path": "d.csv", "target": "y"}})
    assert cfg.dataset.path == "d.csv" and cfg.tracking.enabled is False
    assert cfg.driver.pruner == "median"
    assert validate_experiment({**BASE, "driver": "grid"}).driver.type == "grid"


def test_load_experiment_unknown_top_key_did_you_mean(tmp_path):
    text = error_of(tmp_path, {**BASE, "scorng": "accuracy"}, exc=ExperimentError)
    assert text.startswith(f"{tmp_path / 'exp.yaml'}: scorng: unknown key (did you mean "
                           "'scoring'?)")
    assert "allowed: name, description, dataset" in text


def test_load_experiment_unknown_nested_key_did_you_mean(tmp_path):
    text = error_of(tmp_path, {**BASE, "driver": {"type": "random", "n_trial": 3}})
    assert ": driver.n_trial: unknown key (did you mean 'n_trials'?)" in text


def test_load_experiment_wrong_type_names_key_and_value(tmp_path):
    text = error_of(tmp_path, {**BASE, "cv": "three"})
    assert ": cv: Input should be a valid integer (got 'three')" in text


def test_load_experiment_impossible_value(tmp_path):
    text = error_of(tmp_path, {**BASE, "test_size": 1.5})
    assert ": test_size: Input should be less than 1 (got 1.5)" in text


def test_load_experiment_misspelt_choice_did_you_mean(tmp_path):
    text = error_of(tmp_path, {**BASE, "driver": {"type": "optuna", "sampler": "tpee"}})
    assert "driver.sampler: not a valid choice (did you mean 'tpe'?) (got 'tpee'" in text


def test_load_experiment_missing_required_key(tmp_path):
    data = {k: v for k, v in BASE.items() if k != "dataset"}
    assert ": dataset: required key is missing" in error_of(tmp_path, data)


def test_load_experiment_unknown_dataset_did_you_mean(tmp_path):
    text = error_of(tmp_path, {**BASE, "dataset": "breast_cancr"})
    assert "dataset.name: unknown dataset (did you mean 'breast_cancer'?)" in text


def test_load_experiment_malformed_yaml_names_line(tmp_path):
    text = error_of(tmp_path, "name: x\ndataset: [iris\ncv: 2\n", exc=ExperimentError)
    assert text.startswith(f"{tmp_path / 'exp.yaml'}: line ")
    assert "malformed YAML" in text


def test_load_experiment_not_a_mapping(tmp_path):
    text = error_of(tmp_path, "- just\n- a list\n")
    assert "must be a mapping" in text


def test_load_experiment_missing_file(tmp_path):
    with pytest.raises(ExperimentError, match="experiment file not found"):
        load_experiment(tmp_path / "nope.yaml")


@pytest.mark.parametrize(("key", "value"), [("sampler", "gp"), ("n_trials", 3),
                                            ("timeout", 10)])
def test_load_experiment_grid_driver_rejects_trial_options(tmp_path, key, value):
    text = error_of(tmp_path, {**BASE, "driver": {"type": "grid", key: value}})
    assert f"driver.{key}: the grid driver runs every grid point once" in text


def test_load_experiment_random_driver_rejects_sampler(tmp_path):
    text = error_of(tmp_path, {**BASE, "driver": {"type": "random", "sampler": "gp"}})
    assert "driver.sampler: the random driver chooses its own sampler" in text


@pytest.mark.parametrize(("budget", "where"), [({"epochs": 0}, "budget.epochs"),
                                              ({"epochs": 3, "updates": 5}, "budget"),
                                              ({}, "budget")])
@pytest.mark.parametrize(("key", "what"), [("budget", "per trial"),
                                           ("study_budget", "for the study")])
def test_load_experiment_budget_needs_one_positive_value(tmp_path, budget, where, key, what):
    text = error_of(tmp_path, {**BASE, "driver": {"type": "random", key: budget}})
    where = where.replace("budget", key, 1)
    assert f"driver.{where}: give one positive budget {what}" in text


def test_driver_budget_arg_keeps_ints():
    cfg = validate_experiment({**BASE, "driver": {"type": "random", "budget": {"updates": 500}}})
    assert cfg.driver.budget_arg() == {"updates": 500}
    cfg = validate_experiment({**BASE, "driver": {"type": "random", "budget": {"seconds": 2}}})
    assert cfg.driver.budget_arg() == {"seconds": 2.0}


def test_load_experiment_bad_name(tmp_path):
    assert "name: not a valid experiment name" in error_of(tmp_path, {**BASE, "name": "a/b"})


# ---------------------------------------------------------------- overrides

def test_parse_override_parses_yaml_values():
    assert parse_override("cv=3") == (["cv"], 3)
    assert parse_override("tracking.enabled=false") == (["tracking", "enabled"], False)
    assert parse_override("name=") == (["name"], None)


@pytest.mark.parametrize("text", ["cv", "=3", "a..b=1", "a b=1"])
def test_parse_override_malformed_is_user_error(text):
    with pytest.raises(ExperimentError, match="an override must look like key.sub=value"):
        parse_override(text)


def test_apply_overrides_expands_shorthands_and_creates_sections():
    data = {"dataset": "digits", "driver": "grid", "tracking": True}
    out = apply_overrides(data, ["dataset.name=wine", "driver.n_trials=4",
                                 "tracking.tracking_uri=sqlite:///x.db", "report.top=3"])
    assert out == {"dataset": {"name": "wine"}, "driver": {"type": "grid", "n_trials": 4},
                   "tracking": {"enabled": True, "tracking_uri": "sqlite:///x.db"},
                   "report": {"top": 3}}
    assert data["dataset"] == "digits"  # input untouched


def test_apply_overrides_into_scalar_is_user_error():
    with pytest.raises(ExperimentError, match="cv is not a mapping"):
        apply_overrides({"cv": 3}, ["cv.x=1"])


def test_load_experiment_overrides_apply_before_validation(tmp_path):
    path = write(tmp_path, BASE)
    exp = load_experiment(path, overrides=["cv=4", "driver.n_trials=7", "dataset=wine"])
    assert (exp.cv, exp.driver.n_trials, exp.config.dataset.name) == (4, 7, "wine")
    with pytest.raises(ExperimentError, match=r"cv: Input should be greater than or equal"):
        load_experiment(path, overrides=["cv=1"])


# ---------------------------------------------------------------- search spaces

def test_load_experiment_space_by_name_with_override_replace_merge_remove(tmp_path):
    data = {**BASE, "search_space": {"file": "mlp_default", "override": {
        "max_iter": {"type": "int", "low": 2, "high": 4},
        "batch_size": {"grid": [16, 32]},
        "dropout": None}}}
    exp = load_experiment(write(tmp_path, data))
    spec = exp.space.to_dict()["parameters"]
    assert spec["max_iter"] == {"type": "int", "low": 2, "high": 4}
    assert spec["batch_size"]["grid"] == [16, 32] and spec["batch_size"]["low"] == 16
    assert "dropout" not in spec
    assert exp.space.upper_bound("max_iter") == 4


def test_load_experiment_space_path_relative_to_experiment(tmp_path):
    (tmp_path / "spaces").mkdir()
    (tmp_path / "spaces" / "mine.yaml").write_text(
        "description: mine\nparameters:\n  alpha: {type: float, low: 1.0e-5, high: 1.0e-2}\n")
    exp = load_experiment(write(tmp_path, {**BASE, "search_space": "spaces/mine.yaml"}))
    assert exp.space.names == ["alpha"]


def test_load_experiment_unknown_space_did_you_mean(tmp_path):
    text = error_of(tmp_path, {**BASE, "search_space": "mlp_defualt"})
    assert "search_space.file: search space not found (did you mean 'mlp_default'?)" in text


def test_load_experiment_inline_space_error_names_experiment_key(tmp_path):
    data = {**BASE, "search_space": {"parameters": {
        "learning_rate_init": {"type": "float", "low": 0.1, "high": 0.01}}}}
    text = error_of(tmp_path, data, exc=SearchSpaceError)
    assert text.startswith(f"{tmp_path / 'exp.yaml'}: search_space.parameters."
                           "learning_rate_init")


def test_load_experiment_remove_unknown_space_parameter(tmp_path):
    data = {**BASE, "search_space": {"file": "mlp_default", "override": {"dropuot": None}}}
    assert "search_space.override.dropuot: cannot remove" in error_of(tmp_path, data)


def test_load_experiment_space_parameter_not_an_estimator_param(tmp_path):
    data = {**BASE, "search_space": {"parameters": {
        "learning_rate_int": {"type": "float", "low": 0.01, "high": 0.1}}}}
    text = error_of(tmp_path, data)
    assert "search_space.parameters.learning_rate_int: unknown name (did you mean " \
           "'learning_rate_init'?)" in text


# ---------------------------------------------------------------- cross-section checks

def test_load_experiment_unknown_estimator_param(tmp_path):
    data = {**BASE, "estimator": {"type": "classifier", "params": {"hiden_layer_sizes": [8]}}}
    assert "estimator.params.hiden_layer_sizes: unknown name (did you mean " \
           "'hidden_layer_sizes'?)" in error_of(tmp_path, data)


def test_load_experiment_invalid_estimator_value(tmp_path):
    data = {**BASE, "estimator": {"params": {"learning_rate_init": -1.0}}}
    text = error_of(tmp_path, data)
    assert "estimator.params.learning_rate_init:" in text and "(got -1.0)" in text


def test_load_experiment_unknown_scoring(tmp_path):
    assert "scoring: unknown name (did you mean 'accuracy'?)" in error_of(
        tmp_path, {**BASE, "scoring": "acuracy"})


def test_load_experiment_unknown_report_column(tmp_path):
    text = error_of(tmp_path, {**BASE, "report": {"columns": ["n_update"]}})
    assert "report.columns: unknown name (did you mean 'n_updates'?)" in text


# ---------------------------------------------------------------- data

def test_experiment_load_data_classifier_on_regression_set(tmp_path):
    exp = load_experiment(write(tmp_path, {**BASE, "dataset": "diabetes"}))
    with pytest.raises(ExperimentError, match="estimator.type: diabetes has a continuous"):
        exp.load_data()


def test_experiment_load_data_file_relative_to_experiment(tmp_path):
    (tmp_path / "d.csv").write_text("a,b,y\n" + "".join(f"{i},{i % 3},{i % 2}\n"
                                                         for i in range(20)))
    data = {**BASE, "dataset": {"path": "d.csv", "target": "y"}}
    exp = load_experiment(write(tmp_path, data))
    assert exp.load_data().X.shape == (20, 2)


def test_experiment_load_data_missing_target_column(tmp_path):
    (tmp_path / "d.csv").write_text("a,y\n1,0\n2,1\n")
    exp = load_experiment(write(tmp_path, {**BASE, "dataset": {"path": "d.csv",
                                                                "target": "label"}}))
    with pytest.raises(DataError, match=r"exp.yaml: dataset.target: column not found"):
        exp.load_data()


def test_experiment_load_data_nan_names_file_column_rows(tmp_path):
    (tmp_path / "d.csv").write_text("a,y\n1,0\n,1\n3,0\n")
    exp = load_experiment(write(tmp_path, {**BASE, "preprocess": "standard",
                                           "dataset": {"path": "d.csv", "target": "y"}}))
    with pytest.raises(DataError, match=r"d.csv: column 'a': 1 of 3 rows have a missing"):
        exp.load_data()


def test_experiment_storage_defaults_to_journal_under_dot_tuner(tmp_path):
    exp = load_experiment(write(tmp_path, BASE))
    assert exp.storage == str(tmp_path / ".tuner" / "tiny.journal")  # next to the file
    exp2 = load_experiment(write(tmp_path, BASE), overrides=["storage=sqlite:///s.db"])
    assert exp2.storage == f"sqlite:///{tmp_path / 's.db'}"
