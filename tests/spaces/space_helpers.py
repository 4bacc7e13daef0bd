"""Shared data of the search-space tests: every kind in one space, the shipped files."""

from pathlib import Path

from tuner.spaces import SearchSpace

SHIPPED = sorted((Path(__file__).resolve().parents[2] / "tuner" / "search_spaces")
                 .glob("*.yaml"))

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


def all_kinds_space():
    """The space of ALL_KINDS (every kind, conditions, a derived value, a fixed one)."""
    return SearchSpace.load({"description": "all kinds", "parameters": ALL_KINDS})


def check_point(space, raw):
    """Assert a raw point respects every bound, kind and condition of ALL_KINDS."""
    params = space._params
    assert ("momentum" in raw) == (raw["solver"] == "sgd")
    assert ("rho" in raw) == (raw["solver"] in ("sgd", "rmsprop"))
    for name, value in raw.items():
        assert params[name].contains(value), (name, value)
    assert raw["batch_size"] in (16, 32, 64, 128, 256, 512)
    assert (raw["n_iter_no_change"] - 2) % 3 == 0 and isinstance(raw["tol"], int)
    assert raw["hidden_layer_sizes"] in ("(64,)", "(128, 64)")


def write(tmp_path, text, name="bad_space.yaml"):
    """Write a space file and return its path."""
    path = tmp_path / name
    path.write_text(text)
    return path
