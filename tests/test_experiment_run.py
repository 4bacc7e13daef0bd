"""Tests of running experiments: data split, estimator, budgets, search building, lr narrowing."""

import numpy as np
import pytest
from experiment_helpers import BASE, ROOT, error_of, write

from tuner._experiment_lr import narrow_space
from tuner.errors import ExperimentError
from tuner.experiment import (
    build_estimator,
    epoch_budget,
    load_experiment,
    n_trials_budget,
    run_experiment,
    split_data,
)

# ---------------------------------------------------------------- building blocks

def test_split_data_is_stratified_and_seeded(tmp_path):
    exp = load_experiment(write(tmp_path, {**BASE, "test_size": 0.2}))
    data = exp.load_data()
    X_train, X_test, y_train, y_test = split_data(exp, data)
    assert X_test.shape == (30, 4)
    assert np.bincount(y_test).tolist() == [10, 10, 10]
    again = split_data(exp, data)
    np.testing.assert_array_equal(again[1], X_test)


def test_split_data_zero_test_size_keeps_everything(tmp_path):
    exp = load_experiment(write(tmp_path, {**BASE, "test_size": 0}))
    X_train, X_test, _, y_test = split_data(exp, exp.load_data())
    assert X_train.shape == (150, 4) and X_test is None and y_test is None


def test_build_estimator_pipeline_and_seed(tmp_path):
    exp = load_experiment(write(tmp_path, {**BASE, "seed": 7, "estimator": {
        "params": {"hidden_layer_sizes": [8, 4]}}}))
    model = build_estimator(exp)
    assert [name for name, _ in model.steps] == ["scale", "mlp"]
    assert model.named_steps["mlp"].hidden_layer_sizes == (8, 4)
    assert model.named_steps["mlp"].random_state == 7
    raw = load_experiment(write(tmp_path, {**BASE, "preprocess": "none"}))
    assert not hasattr(build_estimator(raw), "steps")


def test_budgets_from_space_estimator_and_driver(tmp_path):
    exp = load_experiment(write(tmp_path, {**BASE, "estimator": {"params": {"max_iter": 7}}}))
    assert epoch_budget(exp) == 7
    assert n_trials_budget(exp) == 2 and n_trials_budget(exp, 5) == 5
    grid = load_experiment(ROOT / "experiments" / "digits_grid.yaml")
    assert n_trials_budget(grid) == len(grid.space.grid()) == 9
    assert epoch_budget(grid) == 20


def test_experiment_repr_and_attribute_fallthrough(tmp_path):
    exp = load_experiment(write(tmp_path, BASE))
    assert repr(exp).startswith("Experiment(name='tiny'")
    assert exp.driver.n_trials == 2 and exp.cv == 2
    assert exp.description == "" and exp.config.description == ""


# ---------------------------------------------------------------- running (in process)

def test_run_experiment_scores_held_out_split_and_resumes(tmp_path):
    path = write(tmp_path, {**BASE, "search_space": {"parameters": {
        "learning_rate_init": {"type": "float", "low": 1e-3, "high": 1e-1, "log": True},
        "max_iter": {"type": "int", "low": 2, "high": 3}}}})
    storage = str(tmp_path / "s.journal")
    search = run_experiment(path, tracking=False, storage=storage)
    exp = search.experiment_
    _, X_test, _, y_test = split_data(exp, exp.load_data())
    assert search.test_score_ == pytest.approx(search.score(X_test, y_test))
    assert search.study_.user_attrs["test_score"] == pytest.approx(search.test_score_)
    assert set(search.best_params_) == {"mlp__learning_rate_init", "mlp__max_iter"}
    assert set(search.study_.best_params) == {"learning_rate_init", "max_iter"}
    again = run_experiment(path, tracking=False, storage=storage, n_trials=3)
    assert [t.number for t in again.study_.trials] == [0, 1, 2]
    assert again.study_.trials[0].params == search.study_.trials[0].params


def test_space_with_prefix_routes_resolved_params_to_the_step():
    from tuner._experiment_run import STEP
    from tuner.spaces import SearchSpace

    space = SearchSpace.load("lr_batch_coupled").with_prefix(STEP)
    raw = {"batch_size": 64, "learning_rate_init": 0.1}
    assert space.resolve(raw) == {"mlp__batch_size": 64, "mlp__learning_rate_init": 0.025,
                                  "mlp__solver": "sgd", "mlp__momentum": 0.9,
                                  "mlp__max_iter": 30}
    assert space.upper_bound("mlp__batch_size") == space.upper_bound("batch_size") == 512
    assert "mlp__batch_size" in space and space.names == ["batch_size", "learning_rate_init"]
    assert len(space.grid()) == 9


def test_narrow_space_converts_scaled_rate_to_base_units():
    from types import SimpleNamespace

    from tuner.spaces import SearchSpace

    space = SearchSpace.load("lr_batch_coupled")  # lr = base * batch_size / 256
    found = SimpleNamespace(suggested_range=(1e-3, 1e-2), batch_size=64)
    spec = narrow_space(space, found, 1000).to_dict()["parameters"]["learning_rate_init"]
    assert (spec["low"], spec["high"]) == (0.004, 0.04)
    assert spec["grid"] == [0.004, 0.0126, 0.04] and spec["scale_with"] == "batch_size"


def test_narrow_space_adds_rate_when_space_lacks_it():
    from types import SimpleNamespace

    from tuner.spaces import SearchSpace

    space = SearchSpace.load({"parameters": {"alpha": {"type": "float", "low": 0.1,
                                                       "high": 1.0}}})
    found = SimpleNamespace(suggested_range=(2e-3, 5e-2), batch_size=32)
    spec = narrow_space(space, found, 100).to_dict()["parameters"]["learning_rate_init"]
    assert spec == {"type": "float", "low": 0.002, "high": 0.05, "log": True}


def test_load_experiment_sampler_missing_package_is_user_error(tmp_path):
    import importlib.util

    if importlib.util.find_spec("torch") is not None:
        pytest.skip("torch is installed: the gp sampler is available")
    data = {**BASE, "driver": {"type": "optuna", "sampler": "gp", "n_trials": 2}}
    text = error_of(tmp_path, data, exc=ExperimentError)
    assert "driver.sampler: sampler 'gp' needs the 'torch' package (got 'gp'; allowed: " \
           "pip install torch)" in text


def test_build_search_grid_rejects_n_trials_override():
    from tuner._experiment_run import EXAMPLE, build_search

    exp = load_experiment(EXAMPLE)
    with pytest.raises(ExperimentError, match="--n-trials does not apply to a grid"):
        build_search(exp, n_trials=3)
    search = build_search(exp, storage="x.journal", n_jobs=1)
    assert (search.storage, search.study_name, search.n_jobs) == ("x.journal", "digits_grid", 1)


def test_build_search_maps_driver_options(tmp_path):
    from tuner._experiment_run import build_search

    data = {**BASE, "driver": {"type": "optuna", "sampler": "qmc", "pruner": "hyperband",
                               "n_trials": 4, "timeout": 30, "budget": {"updates": 100},
                               "resource": "updates", "study_budget": {"epochs": 50}},
            "preprocess": "minmax"}
    search = build_search(load_experiment(write(tmp_path, data)))
    assert (search.sampler, search.pruner, search.n_trials, search.timeout) == \
        ("qmc", "hyperband", 4, 30.0)
    assert search.budget == {"updates": 100} and search.resource == "updates"
    assert search.study_budget == {"epochs": 50}
    assert type(search.estimator.steps[0][1]).__name__ == "MinMaxScaler"
    assert search.space.resolve({"learning_rate_init": 0.01}) == {
        "mlp__learning_rate_init": 0.01}


def test_load_experiment_space_value_outside_estimator_constraints(tmp_path):
    data = {**BASE, "search_space": {"parameters": {
        "alpha": {"type": "float", "low": -2.0, "high": -1.0}}}}
    text = error_of(tmp_path, data, exc=ExperimentError)
    assert "search_space.parameters.alpha: parameter of MLPClassifier must be a float in " \
           "the range [0.0, inf)" in text


def test_load_experiment_set_can_narrow_one_bound_of_a_space_parameter():
    exp = load_experiment(ROOT / "experiments" / "digits_random.yaml",
                          overrides=["search_space.override.max_iter.high=10"])
    assert exp.space.to_dict()["parameters"]["max_iter"] == {"type": "int", "low": 5,
                                                             "high": 10}
    assert epoch_budget(exp) == 10
