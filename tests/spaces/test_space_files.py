"""Tests of space files: YAML, shipped spaces, the space-file resolver, sklearn grids."""

import pytest
from scipy import stats
from sklearn.model_selection import ParameterGrid
from space_helpers import SHIPPED, write

from tuner.errors import SearchSpaceError
from tuner.spaces import SearchSpace, SearchSpaceUnion, available_spaces


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


@pytest.mark.parametrize(("text", "rule"), [
    ("- a\n- b\n", "must hold mappings"),
    ("just text\n", "must be a YAML mapping"),
    ("parameters: {a: [1, 2]\n", "line 2, column 1: malformed YAML"),
    ("parameter: {a: {type: fixed, value: 1}}\n", "unknown top-level key 'parameter'"),
])
def test_spaces_invalid_file_raises_with_file(tmp_path, text, rule):
    path = write(tmp_path, text)
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


def test_find_space_file_searches_the_most_specific_folder_first(tmp_path, monkeypatch):
    from tuner.spaces import find_space_file

    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)  # no ./search_spaces: names come from the shipped folder
    shipped = find_space_file("mlp_default")
    assert shipped == SHIPPED[[p.stem for p in SHIPPED].index("mlp_default")]
    project = tmp_path / "project"
    (project / "experiments").mkdir(parents=True)
    (project / "search_spaces").mkdir()
    mine = write(project / "search_spaces", "a: [1, 2]\n", "mlp_default.yaml")
    experiment = project / "experiments" / "exp.yaml"
    assert find_space_file("mlp_default", experiment_path=experiment) == mine
    assert find_space_file("mlp_default.yaml", experiment_path=experiment) == mine
    assert find_space_file("../search_spaces/mlp_default.yaml",
                           experiment_path=experiment).resolve() == mine
    assert find_space_file("mlp_default") == shipped  # the experiment's folders only with it
    (cwd / "search_spaces").mkdir()
    local = write(cwd / "search_spaces", "b: [1]\n", "mlp_default.yml")
    assert find_space_file("mlp_default", experiment_path=experiment) == local
    assert SearchSpace.load("mlp_default").names == ["b"]
    assert set(available_spaces()) == {p.stem for p in SHIPPED}


def test_find_space_file_unknown_name_did_you_mean():
    from tuner.errors import did_you_mean
    from tuner.spaces import find_space_file, list_spaces

    with pytest.raises(SearchSpaceError) as info:
        find_space_file("optimisers")
    hint = did_you_mean("optimisers", list_spaces())
    assert str(info.value).startswith(f"optimisers: no such file or shipped search space{hint}")
    assert "(did you mean 'optimizers'?)" in str(info.value)
