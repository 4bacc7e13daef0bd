"""Tests of tuner.spaces: kinds, grids, conditions, derived values, sklearn input, errors."""

import math
import warnings
from pathlib import Path

import numpy as np
import optuna
import pytest
import yaml
from scipy import stats
from sklearn.model_selection import ParameterGrid

from tuner.errors import SearchSpaceError
from tuner.spaces import SearchSpace, SearchSpaceUnion, available_spaces

optuna.logging.set_verbosity(optuna.logging.WARNING)
SHIPPED = sorted((Path(__file__).resolve().parent.parent / "search_spaces").glob("*.yaml"))

ALL_KINDS = {
    "learning_rate_init": {"type": "float", "low": 1e-4, "high": 0.1, "log": True,
                           "scale_with": "batch_size", "rule": "sqrt", "reference": 256},
    "batch_size": {"type": "int", "low": 16, "high": 512, "base": 2},
    "max_iter": {"type": "int", "low": 5, "high": 100, "grid": [10, 30, 100]},
    "n_iter_no_change": {"type": "int", "low": 2, "high": 20, "step": 3},
    "tol": {"type": "int", "low": 1, "high": 1000, "log": True},
    "dropout": {"type": "float", "low": 0.0, "high": 0.5, "n_points": 3},
    "validation_fraction": {"type": "float", "low": 0.1, "high": 0.3, "step": 0.05},
    "solver": {"type": "categorical", "choices": ["sgd", "rmsprop", "adam"]},
    "momentum": {"type": "float", "low": 0.5, "high": 0.99, "when": {"solver": "sgd"}},
    "rho": {"type": "float", "low": 0.8, "high": 0.99, "when": {"solver": ["rmsprop", "sgd"]}},
    "hidden_layer_sizes": {"type": "categorical", "choices": [[64], [128, 64]]},
    "alpha": {"type": "fixed", "value": 1e-4},
}


@pytest.fixture
def space():
    return SearchSpace.load({"description": "all kinds", "parameters": ALL_KINDS})


def _check_point(space, raw):
    """Assert a raw point respects every bound, kind and condition of ALL_KINDS."""
    params = space._params
    assert ("momentum" in raw) == (raw["solver"] == "sgd")
    assert ("rho" in raw) == (raw["solver"] in ("sgd", "rmsprop"))
    for name, value in raw.items():
        assert params[name].contains(value), (name, value)
    assert raw["batch_size"] in (16, 32, 64, 128, 256, 512)
    assert (raw["n_iter_no_change"] - 2) % 3 == 0 and isinstance(raw["tol"], int)
    assert raw["hidden_layer_sizes"] in ("(64,)", "(128, 64)")


@pytest.mark.parametrize("sampler_cls", [optuna.samplers.RandomSampler,
                                         optuna.samplers.TPESampler])
def test_spaces_suggest_within_bounds(space, sampler_cls):
    study = optuna.create_study(sampler=sampler_cls(seed=0))
    seen = []

    def objective(trial):
        raw = space.suggest(trial)
        _check_point(space, raw)
        seen.append((raw, trial))
        return raw["learning_rate_init"] * raw["batch_size"]

    study.optimize(objective, n_trials=30)
    assert all(raw == trial.params for raw, trial in seen)
    assert {raw["solver"] for raw, _ in seen} == {"sgd", "rmsprop", "adam"}


def test_spaces_sample_within_bounds_and_reproducible(space):
    draws = [space.sample(np.random.default_rng(seed)) for seed in range(200)]
    for raw in draws:
        _check_point(space, raw)
    assert space.sample(np.random.RandomState(3)) == space.sample(np.random.RandomState(3))
    assert space.sample(7) == space.sample(np.random.default_rng(7))
    lrs = np.log10([raw["learning_rate_init"] for raw in draws])
    assert 0.2 < np.mean(lrs < -2.5) < 0.8  # log-uniform: half the mass below 10**-2.5


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


GROUPS = [["learning_rate_init", "batch_size"], ["max_iter", "n_iter_no_change"], ["tol"],
          ["dropout", "validation_fraction"], ["solver", "momentum", "rho"],
          ["hidden_layer_sizes", "alpha"]]


def test_spaces_grid_enqueued_trials_reproduce_exactly():
    groups = [SearchSpace({name: ALL_KINDS[name] for name in group}) for group in GROUPS]
    spaces = groups + [SearchSpace.load(path) for path in SHIPPED]
    for sp in spaces:
        points = sp.grid()
        study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=1))
        for point in points:
            study.enqueue_trial(point)
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # Optuna warns when a fixed value is out of range
            study.optimize(lambda t, sp=sp: float(len(sp.suggest(t))), n_trials=len(points))
        assert [t.params for t in study.trials] == points


def test_spaces_conditionals_absent_when_condition_fails():
    sp = SearchSpace.load("optimizers")
    grid = sp.grid()
    keys = {"sgd": {"momentum", "nesterovs_momentum"}, "rmsprop": {"rho"},
            "adam": {"beta_1", "beta_2"}}
    for point in grid:
        for solver, names in keys.items():
            assert (names <= set(point)) == (point["solver"] == solver)
            assert not (names & set(point)) or point["solver"] == solver
    assert len(grid) == 16 and len({tuple(sorted(p.items())) for p in grid}) == 16
    assert sum(p["solver"] == "adam" for p in grid) == 4
    for seed in range(50):
        raw = sp.sample(seed)
        assert ("rho" in raw) == (raw["solver"] == "rmsprop")
        assert "beta_1" not in sp.resolve({**raw, "beta_1": 0.9}) or raw["solver"] == "adam"


def test_spaces_grid_conditional_multiplies_only_its_branch():
    sp = SearchSpace.load({"parameters": {
        "solver": {"type": "categorical", "choices": ["sgd", "rmsprop", "adam"]},
        "momentum": {"type": "float", "low": 0.5, "high": 0.9, "n_points": 3,
                     "when": {"solver": ["sgd", "rmsprop"]}}}})
    grid = sp.grid()
    assert len(grid) == 3 + 3 + 1
    assert grid[-1] == {"solver": "adam"}


def test_spaces_resolve_derived_learning_rate_linear_and_sqrt():
    linear = SearchSpace.load("lr_batch_coupled")
    resolved = linear.resolve({"batch_size": 64, "learning_rate_init": 0.1})
    assert resolved["learning_rate_init"] == pytest.approx(0.1 * 64 / 256)
    assert resolved["solver"] == "sgd" and resolved["max_iter"] == 30
    sqrt = SearchSpace.load("gradient_descent_variants")
    raw = {"batch_size": 1, "learning_rate_init": 0.01}
    assert sqrt.resolve(raw)["learning_rate_init"] == pytest.approx(0.01 * math.sqrt(1 / 32))
    full = sqrt.resolve({"batch_size": "full", "learning_rate_init": 0.01}, n_samples=800)
    assert full["learning_rate_init"] == pytest.approx(0.01 * math.sqrt(800 / 32))
    assert full["batch_size"] == "full"
    with pytest.raises(SearchSpaceError, match="n_samples"):
        sqrt.resolve({"batch_size": "full", "learning_rate_init": 0.01})


def test_spaces_resolve_auto_and_clipped_batch_sizes():
    sp = SearchSpace.load({"parameters": {
        "batch_size": {"type": "categorical", "choices": ["auto", 512]},
        "learning_rate_init": {"type": "float", "low": 0.01, "high": 1.0,
                               "scale_with": "batch_size", "reference": 100}}})
    auto = sp.resolve({"batch_size": "auto", "learning_rate_init": 0.1}, n_samples=1000)
    assert auto["learning_rate_init"] == pytest.approx(0.1 * 200 / 100)
    clipped = sp.resolve({"batch_size": 512, "learning_rate_init": 0.1}, n_samples=300)
    assert clipped["learning_rate_init"] == pytest.approx(0.1 * 300 / 100)


def test_spaces_tuples_decode_to_tuples(space):
    assert space.replace("tol", grid=[1]).grid(max_grid_size=10**6)[0]["hidden_layer_sizes"] \
        == "(64,)"
    raw = space.sample(0)
    resolved = space.resolve({**raw, "hidden_layer_sizes": "(128, 64)"})
    assert resolved["hidden_layer_sizes"] == (128, 64)
    assert resolved["alpha"] == 1e-4 and "alpha" not in space.names


def test_spaces_base2_value_visible_in_trial_params():
    sp = SearchSpace.load("mlp_default")
    study = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=0))
    study.enqueue_trial({"batch_size": 64})
    study.optimize(lambda t: float(sp.suggest(t)["batch_size"]), n_trials=12)
    assert study.trials[0].params["batch_size"] == 64
    assert all(t.params["batch_size"] in (16, 32, 64, 128, 256, 512) for t in study.trials)
    assert isinstance(study.trials[-1].params["batch_size"], int)


def test_spaces_sklearn_param_grid_equals_parameter_grid():
    grids = [
        {"alpha": [1e-4, 1e-3], "hidden_layer_sizes": [(10,), (20, 10)], "solver": ["adam"]},
        [{"kernel": ["linear"], "C": [1, 10]},
         {"kernel": ["rbf"], "C": [1, 10], "gamma": [0.1, 0.01]}],
    ]
    for param_grid in grids:
        sp = SearchSpace.load(param_grid)
        resolved = [sp.resolve(point) for point in sp.grid()]
        assert resolved == list(ParameterGrid(param_grid))
    assert isinstance(SearchSpace.load(grids[1]), SearchSpaceUnion)


def test_spaces_union_rejects_non_grid_drivers():
    union = SearchSpace.load([{"a": [1, 2]}, {"b": ["x"]}])
    with pytest.raises(SearchSpaceError, match="grid search only"):
        union.sample(0)
    with pytest.raises(SearchSpaceError, match="grid search only"):
        union.suggest(None)
    assert union.upper_bound("a") == 2 and union.names == ["a", "b"]
    assert SearchSpace.load(union.to_dict()) == union


def test_spaces_param_distributions_from_scipy():
    sp = SearchSpace.load({"alpha": stats.loguniform(1e-5, 1e-1),
                           "dropout": stats.uniform(loc=0.1, scale=0.4),
                           "max_iter": stats.randint(5, 50), "solver": ["sgd", "adam"]})
    specs = sp.to_dict()["parameters"]
    assert specs["alpha"] == {"type": "float", "low": 1e-5, "high": 1e-1, "log": True}
    assert specs["dropout"] == {"type": "float", "low": 0.1, "high": pytest.approx(0.5)}
    assert specs["max_iter"] == {"type": "int", "low": 5, "high": 49}
    assert specs["solver"]["choices"] == ["sgd", "adam"]
    raw = sp.sample(0)
    assert 1e-5 <= raw["alpha"] <= 1e-1 and 5 <= raw["max_iter"] <= 49
    with pytest.raises(SearchSpaceError, match=r"alpha: unsupported distribution.*norm"):
        SearchSpace.load({"alpha": stats.norm(0, 1)})


def _write(tmp_path, text, name="bad_space.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return path


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
    path = _write(tmp_path, f"description: bad\nparameters:\n  {body}\n")
    with pytest.raises(SearchSpaceError) as info:
        SearchSpace.load(path)
    message = str(info.value)
    assert message.startswith(f"{path}: {key}: ") and rule in message and "\n" not in message


def test_spaces_grid_too_large_raises_with_file_and_param(tmp_path):
    path = _write(tmp_path, "parameters:\n  a: {type: int, low: 1, high: 100, n_points: 100}\n"
                            "  b: {type: int, low: 1, high: 100, n_points: 100}\n")
    sp = SearchSpace.load(path)
    with pytest.raises(SearchSpaceError, match=rf"^{path}: b: grid has more than 5000 points"):
        sp.grid(max_grid_size=5000)
    assert len(sp.grid()) == 10_000  # the default limit allows exactly 10 000


@pytest.mark.parametrize(("text", "rule"), [
    ("- a\n- b\n", "must hold mappings"),
    ("just text\n", "must be a YAML mapping"),
    ("parameters: {a: [1, 2]\n", "malformed YAML at line 2"),
    ("parameter: {a: {type: fixed, value: 1}}\n", "unknown top-level key 'parameter'"),
])
def test_spaces_invalid_file_raises_with_file(tmp_path, text, rule):
    path = _write(tmp_path, text)
    with pytest.raises(SearchSpaceError, match=r"^" + str(path)) as info:
        SearchSpace.load(path)
    assert rule in str(info.value)


def test_spaces_unknown_name_lists_shipped_spaces():
    with pytest.raises(SearchSpaceError, match="mlp_default") as info:
        SearchSpace.load("mlp_defualt")
    assert str(info.value).startswith("mlp_defualt: no such file")


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_spaces_shipped_yaml_loads_with_small_grid(path):
    sp = SearchSpace.load(path.stem)
    assert sp == SearchSpace.load(path) and sp.description
    assert 1 <= len(sp.grid()) <= 60
    if "max_iter" in sp:
        assert sp.upper_bound("max_iter") <= 100
    assert path.stem in available_spaces()


def test_spaces_mlp_default_contents():
    sp = SearchSpace.load("mlp_default")
    assert sp.names == ["learning_rate_init", "batch_size", "max_iter", "dropout"]
    assert len(sp.grid()) == 54
    assert sp.upper_bound("batch_size") == 512 and sp.upper_bound("max_iter") == 100
    assert sp.upper_bound("learning_rate_init") == 0.1


def test_spaces_to_dict_round_trips(space, tmp_path):
    path = tmp_path / "dumped.yaml"
    path.write_text(yaml.safe_dump(space.to_dict(), sort_keys=False))
    again = SearchSpace.load(path)
    assert again.to_dict() == space.to_dict() and again.sample(1) == space.sample(1)
    assert SearchSpace.load(space.to_dict()) == space


def test_spaces_to_dict_of_numpy_and_tuple_values_is_yaml_able():
    sp = SearchSpace.load({"alpha": np.array([1e-4, 1e-3]), "batch_size": [np.int64(32)],
                           "hidden_layer_sizes": [(10,), (20, np.int64(10))]})
    dumped = yaml.safe_dump(sp.to_dict(), sort_keys=False)
    assert SearchSpace.load(yaml.safe_load(dumped)) == sp
    assert sp.to_dict()["parameters"]["hidden_layer_sizes"]["choices"] == [[10], [20, 10]]
    assert type(sp.grid()[0]["batch_size"]) is int


def test_spaces_replace_updates_one_parameter():
    sp = SearchSpace.load("mlp_default")
    narrowed = sp.replace("learning_rate_init", low=1e-3, high=1e-2, grid=None)
    assert narrowed.to_dict()["parameters"]["learning_rate_init"] == {
        "type": "float", "low": 1e-3, "high": 1e-2, "log": True}
    assert sp.upper_bound("learning_rate_init") == 0.1  # the original is unchanged
    with pytest.raises(SearchSpaceError, match="learning_rate_init.grid: grid value outside"):
        sp.replace("learning_rate_init", high=1e-2)
    swapped = sp.replace("dropout", type="categorical", choices=[0.0, 0.5])
    assert swapped.grid()[:2] == [{**sp.grid()[0], "dropout": 0.0},
                                  {**sp.grid()[0], "dropout": 0.5}]
    added = sp.replace("alpha", type="fixed", value=0.01)
    assert added.resolve(sp.grid()[0])["alpha"] == 0.01


def test_spaces_resolve_and_upper_bound_reject_unknown_names(space):
    with pytest.raises(SearchSpaceError, match="did you mean 'dropout'"):
        space.upper_bound("dropuot")
    with pytest.raises(SearchSpaceError, match="alpha: not a tunable parameter"):
        space.resolve({"alpha": 0.1})
    with pytest.raises(SearchSpaceError, match="not one of the choices"):
        space.resolve({"hidden_layer_sizes": "(7,)"})


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


def test_spaces_repr_lists_parameters(space):
    text = repr(space)
    assert text.startswith("SearchSpace('<dict>', 11 tunable parameters:")
    assert "batch_size" in text and "powers of 2" in text and "when solver in ['sgd']" in text
