"""Experiments on raw tables: ``preprocess: auto``, ``dataset.categorical``, target scaling."""

import numpy as np
import pandas as pd
import pytest
from experiment_helpers import BASE, write

from tuner.errors import ConfigError
from tuner.experiment import build_estimator, build_search, load_experiment, run_experiment
from tuner.experiment.schema import validate_experiment


def _table(tmp_path, n=90, seed=0):
    """A penguins-like CSV: strings, NaN in numeric and string columns, a string target."""
    rng = np.random.default_rng(seed)
    species = rng.choice(["Adelie", "Gentoo"], n)
    frame = pd.DataFrame({
        "bill": np.where(species == "Gentoo", 47.0, 39.0) + rng.normal(0, 1, n),
        "mass": np.where(species == "Gentoo", 5000.0, 3700.0) + rng.normal(0, 200, n),
        "island": np.where(species == "Gentoo", "Biscoe", rng.choice(["Dream", "Biscoe"], n)),
        "year": rng.choice([2007, 2008, 2009], n), "species": species})
    frame.loc[::7, "bill"] = np.nan
    frame.loc[::11, "island"] = None
    path = tmp_path / "table.csv"
    frame.to_csv(path, index=False)
    return path


def _raw(tmp_path, **extra):
    data = {**BASE, "dataset": {"path": "table.csv", "target": "species",
                                "categorical": ["year"]}, **extra}
    _table(tmp_path)
    return load_experiment(write(tmp_path, data))


def test_schema_preprocess_defaults_to_auto_and_takes_categorical():
    cfg = validate_experiment({"name": "x", "dataset": {"path": "t.csv", "target": "y",
                                                        "categorical": ["a"]},
                               "search_space": "mlp_default"})
    assert cfg.preprocess == "auto" and cfg.dataset.categorical == ["a"]


def test_build_estimator_auto_puts_the_column_transformer_first(tmp_path):
    exp = _raw(tmp_path)
    data = exp.load_data()
    assert isinstance(data.X, pd.DataFrame)
    model = build_estimator(exp, X=data.X)
    assert [name for name, _ in model.steps] == ["preprocess", "mlp"]
    columns = {name: cols for name, _, cols in model.named_steps["preprocess"].transformers}
    assert columns["numeric"] == ["bill", "mass"]
    assert columns["categorical"] == ["island", "year"]


def test_build_estimator_auto_on_numeric_data_is_standard_scaling(tmp_path):
    exp = load_experiment(write(tmp_path, BASE))
    assert exp.preprocess == "auto"
    model = build_estimator(exp, X=exp.load_data().X)
    assert [name for name, _ in model.steps] == ["scale", "mlp"]
    assert type(model.named_steps["scale"]).__name__ == "StandardScaler"


def test_run_experiment_auto_on_a_raw_table_scores_well(tmp_path):
    exp = _raw(tmp_path, driver={"type": "grid"}, search_space={"parameters": {
        "learning_rate_init": [0.01], "max_iter": {"type": "fixed", "value": 30}}})
    result = run_experiment(exp, storage=str(tmp_path / "s.journal"), tracking=False)
    assert result.search.best_score_ > 0.9 and result.test_score > 0.9


def test_search_space_tunes_the_preprocessing_routed_as_is(tmp_path):
    exp = _raw(tmp_path, search_space={"parameters": {
        "learning_rate_init": [0.01],
        "preprocess__numeric__impute__strategy": ["median", "mean"]}}, driver={"type": "grid"})
    search = build_search(exp, storage=str(tmp_path / "s.journal"), X=exp.load_data().X)
    resolved = search.space.resolve({"learning_rate_init": 0.01,
                                            "preprocess__numeric__impute__strategy": "mean"})
    assert resolved == {"mlp__learning_rate_init": 0.01,
                        "preprocess__numeric__impute__strategy": "mean"}
    result = run_experiment(exp, storage=str(tmp_path / "t.journal"), tracking=False)
    strategies = sorted(result.search.cv_results_["param_preprocess__numeric__impute__strategy"])
    assert strategies == ["mean", "median"]


def test_preprocess_parameters_in_a_space_need_auto(tmp_path):
    _table(tmp_path)
    data = {**BASE, "preprocess": "standard", "search_space": {"parameters": {
        "preprocess__numeric__impute__strategy": ["mean"]}}}
    with pytest.raises(ConfigError, match="search_space.parameters.preprocess__numeric"):
        load_experiment(write(tmp_path, data))


def test_categorical_needs_a_data_file():
    with pytest.raises(ConfigError, match="dataset.categorical"):
        validate_experiment({"name": "x", "dataset": {"name": "iris", "categorical": ["a"]},
                             "search_space": "mlp_default"})


def test_plan_shows_which_columns_went_where(tmp_path):
    import io

    from rich.console import Console

    from tuner.cli.output import print_plan

    exp = _raw(tmp_path)
    out = Console(file=io.StringIO(), width=200)
    print_plan(out, exp, exp.load_data(), storage=str(tmp_path / "s.journal"), tracking=False)
    text = out.file.getvalue()
    assert "auto: impute, scale, one-hot encode" in text
    assert "numeric (2): bill, mass" in text and "categorical (2): island, year" in text
    assert "missing values imputed (+ indicator): bill, island" in text


DIABETES = {**BASE, "dataset": "diabetes", "estimator": {"type": "regressor", "params": {
    "hidden_layer_sizes": [32], "batch_size": 32}}, "scoring": "r2", "cv": 3,
    "driver": {"type": "grid"}, "search_space": {"parameters": {
        "learning_rate_init": [1e-3], "max_iter": {"type": "fixed", "value": 30}}}}


def test_schema_target_transform_defaults_to_standard():
    cfg = validate_experiment({"name": "x", "dataset": "diabetes", "search_space": "s"})
    assert cfg.target_transform == "standard"


def test_build_estimator_regressor_scales_the_target(tmp_path):
    from sklearn.compose import TransformedTargetRegressor

    exp = load_experiment(write(tmp_path, DIABETES))
    model = build_estimator(exp)
    assert isinstance(model, TransformedTargetRegressor)
    assert [name for name, _ in model.regressor.steps] == ["scale", "mlp"]
    assert type(model.transformer).__name__ == "StandardScaler"
    none = load_experiment(write(tmp_path, {**DIABETES, "target_transform": "none"}))
    assert not isinstance(build_estimator(none), TransformedTargetRegressor)


def test_target_scaling_makes_the_raw_diabetes_target_learnable(tmp_path):
    """Raw target (mean 152, std 77): negative CV r2 at lr 1e-3 unscaled, positive scaled;
    scores and predictions are on the original scale."""
    scores = {}
    for transform in ("none", "standard"):
        exp = load_experiment(write(tmp_path, {**DIABETES, "target_transform": transform}))
        result = run_experiment(exp, storage=str(tmp_path / f"{transform}.journal"),
                                tracking=False)
        scores[transform] = result.search.best_score_
        predictions = result.search.predict(result.split.X_test)
    assert scores["none"] < 0 < scores["standard"]
    assert 100 < predictions.mean() < 200  # the original scale, not the standardized one
    assert result.test_score > 0
    assert result.search.cv_results_["n_epochs"][0] == 30  # trained epoch by epoch
    assert result.search.best_params_ == {"regressor__mlp__learning_rate_init": 1e-3,
                                          "regressor__mlp__max_iter": 30}


def test_target_transform_is_for_regressors(tmp_path):
    with pytest.raises(ConfigError, match="target_transform"):
        load_experiment(write(tmp_path, {**BASE, "target_transform": "standard"}))


def test_penguins_example_runs_on_the_table_as_published(tmp_path):
    from experiment_helpers import ROOT

    exp = load_experiment(ROOT / "experiments" / "penguins.yaml",
                          overrides=["driver.n_trials=2", f"storage={tmp_path / 's.journal'}"])
    data = exp.load_data()
    assert data.X.shape == (344, 7) and set(data.y) == {"Adelie", "Chinstrap", "Gentoo"}
    assert data.X["sex"].isna().sum() == 11 and data.X["island"].dtype.kind in "OT"
    result = run_experiment(exp, data=data, tracking=False)
    assert result.search.best_score_ > 0.9 and result.test_score > 0.9


def test_diabetes_raw_example_scales_its_raw_target():
    from experiment_helpers import ROOT
    from sklearn.compose import TransformedTargetRegressor

    exp = load_experiment(ROOT / "experiments" / "diabetes_raw.yaml")
    assert exp.load_data().y.mean() > 100  # the raw target
    assert isinstance(build_estimator(exp), TransformedTargetRegressor)
