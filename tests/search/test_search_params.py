"""Parameters of the search drivers refused with one-line ValueErrors before any trial."""

import numpy as np
import pytest

from tuner import RandomSearch
from tuner.estimators import MLPClassifier

SPACE = {"learning_rate_init": {"type": "float", "low": 1e-3, "high": 1e-1, "log": True}}


@pytest.mark.parametrize(("options", "match"), [
    ({"budget": {"epochs": float("inf")}}, r"budget\.epochs: budget must be positive and finite"),
    ({"study_budget": {"updates": float("inf")}}, r"study_budget\.updates: .*finite"),
    ({"error_score": "x"}, r"error_score: must be 'raise' or a number \(got 'x'"),
    ({"timeout": -1}, r"timeout: must be a positive number of seconds \(got -1"),
    ({"timeout": float("nan")}, r"timeout: must be a positive number"),
])
def test_search_bad_parameters_raise_value_error(options, match):
    X, y = np.random.default_rng(0).normal(size=(40, 3)), np.arange(40) % 2
    search = RandomSearch(MLPClassifier(max_iter=2), SPACE, n_trials=2, cv=2, **options)
    with pytest.raises(ValueError, match=match):
        search.fit(X, y)
