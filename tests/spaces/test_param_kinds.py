"""Tests of the parameter kinds: numeric ranges, base 2, choices, fixed values, conditions."""

import numpy as np
import optuna
import pytest
import yaml
from space_helpers import write

from tuner.errors import SearchSpaceError
from tuner.spaces import SearchSpace

optuna.logging.set_verbosity(optuna.logging.WARNING)


def test_spaces_grid_discretisation_values():
    space = SearchSpace.load({"parameters": {
        "a": {"type": "float", "low": 0.0, "high": 0.5},
        "b": {"type": "float", "low": 1e-4, "high": 0.1, "log": True, "n_points": 4},
        "c": {"type": "int", "low": 1, "high": 3, "n_points": 5},
        "d": {"type": "int", "low": 1, "high": 100, "log": True},
        "e": {"type": "int", "low": 16, "high": 512, "base": 2},
        "f": {"type": "float", "low": 0.0, "high": 1.0, "step": 0.25, "n_points": 4},
        "g": {"type": "int", "low": 2, "high": 20, "step": 3},
    }})
    values = {name: space._params[name].grid_values() for name in space.names}
    assert values["a"] == [0.0, 0.25, 0.5]  # default n_points is 3
    assert values["b"] == pytest.approx([1e-4, 1e-3, 1e-2, 1e-1])
    assert values["c"] == [1, 2, 3]  # 5 points rounded and de-duplicated
    assert values["d"] == [1, 10, 100]
    assert values["e"] == [16, 32, 64, 128, 256, 512]
    assert values["f"] == [0.0, 0.25, 0.75, 1.0]
    assert values["g"] == [2, 11, 20]
    assert len(space.grid()) == 3 * 4 * 3 * 3 * 6 * 4 * 3


def test_spaces_base2_value_visible_in_trial_params():
    sp = SearchSpace.load("mlp_default")
    study = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=0))
    study.enqueue_trial({"batch_size": 64})
    study.optimize(lambda t: float(sp.suggest(t)["batch_size"]), n_trials=12)
    assert study.trials[0].params["batch_size"] == 64
    assert all(t.params["batch_size"] in (16, 32, 64, 128, 256, 512) for t in study.trials)
    assert isinstance(study.trials[-1].params["batch_size"], int)


INVALID = {
    "low_above_high": ("lr: {type: float, low: 0.5, high: 0.1}", "lr.low", "low must not exceed"),
    "log_nonpositive": ("lr: {type: float, low: 0.0, high: 0.1, log: true}", "lr.low", "log"),
    "unknown_kind": ("lr: {type: floot, low: 0.0, high: 0.1}", "lr.type", "did you mean 'float'"),
    "unknown_key": ("lr: {type: float, low: 0.1, high: 1, scale_wth: b}", "lr",
                    "unknown key 'scale_wth' (did you mean 'scale_with'?)"),
    "step_with_log": ("lr: {type: float, low: 0.1, high: 1, log: true, step: 0.1}", "lr.step",
                      "step cannot be combined with log"),
    "unknown_condition": ("solver: {type: categorical, choices: [sgd]}\n"
                          "  momentum: {type: float, low: 0.1, high: 1, when: {solvr: sgd}}",
                          "momentum.when", "unknown parameter (did you mean 'solver'?)"),
    "grid_outside": ("lr: {type: float, low: 0.1, high: 1, grid: [0.1, 2.0]}", "lr.grid",
                     "grid value outside the range (got 2.0"),
    "empty_choices": ("solver: {type: categorical, choices: []}", "solver.choices",
                      "non-empty"),
    "condition_value": ("solver: {type: categorical, choices: [sgd]}\n"
                        "  momentum: {type: float, low: 0.1, high: 1, when: {solver: sdg}}",
                        "momentum.when.solver", "never taken"),
    "base_with_log": ("b: {type: int, low: 16, high: 512, base: 2, log: true}", "b.base",
                      "cannot be combined"),
}


@pytest.mark.parametrize("case", sorted(INVALID))
def test_spaces_invalid_spec_raises_with_file_and_param(tmp_path, case):
    body, key, rule = INVALID[case]
    path = write(tmp_path, f"description: bad\nparameters:\n  {body}\n")
    with pytest.raises(SearchSpaceError) as info:
        SearchSpace.load(path)
    message = str(info.value)
    assert message.startswith(f"{path}: {key}: ") and rule in message and "\n" not in message


def test_spaces_to_dict_of_numpy_and_tuple_values_is_yaml_able():
    sp = SearchSpace.load({"alpha": np.array([1e-4, 1e-3]), "batch_size": [np.int64(32)],
                           "hidden_layer_sizes": [(10,), (20, np.int64(10))]})
    dumped = yaml.safe_dump(sp.to_dict(), sort_keys=False)
    assert SearchSpace.load(yaml.safe_load(dumped)) == sp
    assert sp.to_dict()["parameters"]["hidden_layer_sizes"]["choices"] == [[10], [20, 10]]
    assert type(sp.grid()[0]["batch_size"]) is int


def test_spaces_fixed_value_with_condition_set_only_when_it_holds():
    sp = SearchSpace.load({"parameters": {
        "solver": {"type": "categorical", "choices": ["sgd", "adam"]},
        "nesterovs_momentum": {"type": "fixed", "value": True, "when": {"solver": "sgd"}}}})
    assert sp.names == ["solver"] and sp.grid() == [{"solver": "sgd"}, {"solver": "adam"}]
    assert sp.resolve({"solver": "sgd"}) == {"solver": "sgd", "nesterovs_momentum": True}
    assert sp.resolve({"solver": "adam"}) == {"solver": "adam"}


def test_spaces_condition_cycle_raises():
    with pytest.raises(SearchSpaceError, match="cycle"):
        SearchSpace.load({"parameters": {
            "a": {"type": "categorical", "choices": [1, 2], "when": {"b": 1}},
            "b": {"type": "categorical", "choices": [1, 2], "when": {"a": 1}}}})


@pytest.mark.parametrize("n_samples", [50, 300])
def test_spaces_derived_rate_follows_the_training_batch_size_rule(n_samples):
    from tuner.nn.training import resolve_batch_size

    sp = SearchSpace.load({"parameters": {
        "batch_size": {"type": "categorical", "choices": ["auto", "full", 64, 1000]},
        "learning_rate_init": {"type": "float", "low": 0.01, "high": 1.0,
                               "scale_with": "batch_size", "reference": 100}}})
    for batch_size in ("auto", "full", 64, 1000):
        rate = sp.resolve({"batch_size": batch_size, "learning_rate_init": 1.0},
                          n_samples=n_samples)["learning_rate_init"]
        assert rate == pytest.approx(resolve_batch_size(batch_size, n_samples) / 100)
    assert sp.resolve({"batch_size": 1000, "learning_rate_init": 1.0})[
        "learning_rate_init"] == pytest.approx(10.0)  # no n_samples: ints as given
