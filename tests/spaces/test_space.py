"""Tests of the SearchSpace protocol: suggest, sample, grid, resolve, unions, prefixes, replace."""

import math
import warnings

import numpy as np
import optuna
import pytest
import yaml
from space_helpers import ALL_KINDS, SHIPPED, all_kinds_space, check_point, write

from tuner.errors import SearchSpaceError
from tuner.spaces import SearchSpace, SearchSpaceUnion

optuna.logging.set_verbosity(optuna.logging.WARNING)


@pytest.fixture
def space():
    return all_kinds_space()


@pytest.mark.parametrize("sampler_cls", [optuna.samplers.RandomSampler,
                                         optuna.samplers.TPESampler])
def test_spaces_suggest_within_bounds(space, sampler_cls):
    study = optuna.create_study(sampler=sampler_cls(seed=0))
    seen = []

    def objective(trial):
        raw = space.suggest(trial)
        check_point(space, raw)
        seen.append((raw, trial))
        return raw["learning_rate_init"] * raw["batch_size"]

    study.optimize(objective, n_trials=30)
    assert all(raw == trial.params for raw, trial in seen)
    assert {raw["solver"] for raw, _ in seen} == {"sgd", "rmsprop", "adam"}


def test_spaces_sample_within_bounds_and_reproducible(space):
    draws = [space.sample(np.random.default_rng(seed)) for seed in range(200)]
    for raw in draws:
        check_point(space, raw)
    assert space.sample(np.random.RandomState(3)) == space.sample(np.random.RandomState(3))
    assert space.sample(7) == space.sample(np.random.default_rng(7))
    lrs = np.log10([raw["learning_rate_init"] for raw in draws])
    assert 0.2 < np.mean(lrs < -2.5) < 0.8  # log-uniform: half the mass below 10**-2.5


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


def test_spaces_union_rejects_non_grid_drivers():
    union = SearchSpace.load([{"a": [1, 2]}, {"b": ["x"]}])
    with pytest.raises(SearchSpaceError, match="grid search only"):
        union.sample(0)
    with pytest.raises(SearchSpaceError, match="grid search only"):
        union.suggest(None)
    assert union.upper_bound("a") == 2 and union.names == ["a", "b"]
    assert SearchSpace.load(union.to_dict()) == union


def test_spaces_grid_too_large_raises_with_file_and_param(tmp_path):
    path = write(tmp_path, "parameters:\n  a: {type: int, low: 1, high: 100, n_points: 100}\n"
                            "  b: {type: int, low: 1, high: 100, n_points: 100}\n")
    sp = SearchSpace.load(path)
    with pytest.raises(SearchSpaceError, match=rf"^{path}: b: grid has more than 5000 points"):
        sp.grid(max_grid_size=5000)
    assert len(sp.grid()) == 10_000  # the default limit allows exactly 10 000


def test_spaces_to_dict_round_trips(space, tmp_path):
    path = tmp_path / "dumped.yaml"
    path.write_text(yaml.safe_dump(space.to_dict(), sort_keys=False))
    again = SearchSpace.load(path)
    assert again.to_dict() == space.to_dict() and again.sample(1) == space.sample(1)
    assert SearchSpace.load(space.to_dict()) == space


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


def test_spaces_repr_lists_parameters(space):
    text = repr(space)
    assert text.startswith("SearchSpace('<dict>', 11 tunable parameters:")
    assert "batch_size" in text and "powers of 2" in text and "when solver in ['sgd']" in text


def test_space_with_prefix_routes_names_of_other_steps_as_is():
    plain = SearchSpace.load({"alpha": [0.1], "preprocess__numeric__impute__strategy": ["mean"]})
    raw = {"alpha": 0.1, "preprocess__numeric__impute__strategy": "mean"}
    assert plain.with_prefix("mlp").resolve(raw) == {
        "mlp__alpha": 0.1, "preprocess__numeric__impute__strategy": "mean"}
    assert plain.with_prefix("mlp").grid() == [raw]
    assert plain.with_prefix("mlp").with_prefix("regressor").resolve(raw) == {
        "regressor__mlp__alpha": 0.1, "regressor__preprocess__numeric__impute__strategy": "mean"}


def test_space_with_prefix_resolves_step_names_and_keeps_raw_names():
    plain = SearchSpace.load("lr_batch_coupled")
    space = plain.with_prefix("mlp")
    raw = {"batch_size": 64, "learning_rate_init": 0.1}
    assert space.grid() == plain.grid() and space.names == plain.names
    assert space.resolve(raw) == {f"mlp__{k}": v for k, v in plain.resolve(raw).items()}
    assert space.upper_bound("mlp__batch_size") == space.upper_bound("batch_size") == 512
    assert "mlp__solver" in space and "solver" in space and "mlp__solver" not in plain
    assert space.replace("batch_size", grid=[32]).resolve({**raw, "batch_size": 32}) == \
        {f"mlp__{k}": v for k, v in plain.resolve({**raw, "batch_size": 32}).items()}
    assert space != plain and space == plain.with_prefix("mlp")
    assert repr(space).startswith("SearchSpace('") and "prefix='mlp__'" in repr(space)
    assert plain.with_prefix("inner").with_prefix("outer").resolve(raw)["outer__inner__solver"] \
        == "sgd"
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    trial = study.ask()
    assert set(space.suggest(trial)) == set(plain.names) == set(trial.params)


def test_space_union_with_prefix_answers_grid_and_resolve_like_the_step_wrapper():
    union = SearchSpace.load([{"kernel": ["linear"], "C": [1, 10]},
                              {"kernel": ["rbf"], "gamma": [0.1, 0.01]}])
    prefixed = union.with_prefix("svc")
    assert isinstance(prefixed, SearchSpaceUnion) and prefixed.grid_only
    assert prefixed.grid() == union.grid() and prefixed.names == union.names
    for point in union.grid():
        assert prefixed.resolve(point) == {f"svc__{k}": v for k, v in union.resolve(point).items()}
    assert prefixed.upper_bound("svc__C") == prefixed.upper_bound("C") == 10
    assert "svc__gamma" in prefixed and "gamma" in prefixed
    with pytest.raises(SearchSpaceError, match="grid search only"):
        prefixed.sample(0)


def test_space_union_suggest_records_the_enqueued_grid_point():
    union = SearchSpace.load([{"a": [1, 2]}, {"b": ["x", "y"], "a": [3]}])
    points = union.grid()
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    for point in points:
        study.enqueue_trial(point)
    for point in points:
        trial = study.ask()
        assert union.suggest(trial, point=point) == point == trial.params
        study.tell(trial, 0.0)
    assert study.trials[-1].distributions["a"].choices == (1, 2, 3)
    with pytest.raises(SearchSpaceError, match="grid search only"):
        union.suggest(study.ask())


def test_space_grid_only_is_true_for_unions_only(space):
    assert not space.grid_only and not space.with_prefix("mlp").grid_only
    assert SearchSpace.load([{"a": [1]}, {"b": [2]}]).grid_only


def test_space_iter_lists_every_parameter_fixed_included(space):
    assert list(space) == list(ALL_KINDS) and "alpha" not in space.names
    assert list(SearchSpace.load([{"a": [1]}, {"b": [2], "a": [3]}])) == ["a", "b"]
