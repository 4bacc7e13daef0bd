"""Training budgets (epochs / updates / seconds) and the pruner's resource."""

import math

import numpy as np
import optuna
import pytest
from sklearn.datasets import load_digits, load_iris
from sklearn.linear_model import SGDClassifier
from sklearn.model_selection import StratifiedKFold
from sklearn.neural_network import MLPClassifier as SkMLPClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from tuner.estimators import MLPClassifier
from tuner.search import GridSearch, OptunaSearch
from tuner.search.budget import resolve_pruner

CV3 = StratifiedKFold(3, shuffle=True, random_state=0)


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X[:300] / 16.0, y[:300]


def mlp(**params):
    return MLPClassifier(hidden_layer_sizes=(8,), random_state=0, **params)


def test_updates_budget_equalises_updates_across_batch_sizes(digits):
    X, y = digits
    budget = 40
    search = GridSearch(mlp(), {"batch_size": [8, 32, 100]}, cv=CV3,
                        budget={"updates": budget}).fit(X, y)
    results = search.cv_results_
    n_train = 200  # 300 samples, 3 folds
    for params, n_updates, n_epochs in zip(results["params"], results["n_updates"],
                                           results["n_epochs"], strict=True):
        per_epoch = math.ceil(n_train / params["batch_size"])
        assert n_updates == budget  # the last epoch stops early: exactly the budget
        assert n_epochs == math.ceil(budget / per_epoch)
    for trial in search.study_.trials:
        assert trial.user_attrs["history"][-1]["n_updates"] == budget
    best = search.best_estimator_
    assert (best.n_updates_, best.n_iter_) == (budget, math.ceil(
        budget / math.ceil(300 / search.best_params_["batch_size"])))  # refit on 300 rows


def test_updates_budget_for_estimators_without_n_updates(digits):
    X, y = digits
    sk = GridSearch(SkMLPClassifier(hidden_layer_sizes=(8,), random_state=0, batch_size=50),
                    {"alpha": [1e-4]}, cv=CV3, budget={"updates": 10}).fit(X, y)
    assert sk.cv_results_["n_epochs"].tolist() == [3]  # 4 updates per epoch of 200 samples
    assert sk.cv_results_["n_updates"].tolist() == [12]
    sgd = GridSearch(SGDClassifier(random_state=0), {"alpha": [1e-4]}, cv=CV3,
                     budget={"updates": 450}).fit(X, y)
    assert sgd.cv_results_["n_epochs"].tolist() == [3]  # one update per sample
    assert sgd.cv_results_["n_updates"].tolist() == [600]


def test_epochs_budget_overrides_max_iter(digits):
    X, y = digits
    search = GridSearch(mlp(max_iter=50), {"batch_size": [64]}, cv=CV3,
                        budget={"epochs": 2}).fit(X, y)
    assert search.cv_results_["n_epochs"].tolist() == [2]
    history = search.study_.trials[0].user_attrs["history"]
    assert [h["epoch"] for h in history] == [1, 2]


def test_seconds_budget_stops_after_crossing_epoch(digits):
    X, y = digits
    tiny = GridSearch(mlp(max_iter=5), {"batch_size": [64]}, cv=CV3,
                      budget={"seconds": 1e-9}).fit(X, y)
    assert tiny.cv_results_["n_epochs"].tolist() == [1]
    ample = GridSearch(mlp(max_iter=3), {"batch_size": [64]}, cv=CV3,
                       budget={"seconds": 1e6}).fit(X, y)
    assert ample.cv_results_["n_epochs"].tolist() == [3]  # capped by max_iter


@pytest.mark.parametrize(("resource", "step"), [("epochs", 1), ("updates", 4),
                                                ("samples", 200)])
def test_resource_sets_reported_steps(digits, resource, step):
    X, y = digits
    search = GridSearch(mlp(max_iter=3, batch_size=64), {"alpha": [1e-4]}, cv=CV3,
                        resource=resource).fit(X, y)
    steps = sorted(search.study_.trials[0].intermediate_values)
    assert steps == [step, 2 * step, 3 * step]
    values = [search.study_.trials[0].intermediate_values[s] for s in steps]
    history = search.study_.trials[0].user_attrs["history"]
    assert values == pytest.approx([h["mean_test_score"] for h in history])
    assert search.study_.user_attrs["resource"] == resource  # the report's plots read it


def test_hyperband_max_resource_from_space_upper_bound(digits):
    X, y = digits
    space = {"parameters": {
        "learning_rate_init": {"type": "float", "low": 1e-3, "high": 0.1, "log": True},
        "max_iter": {"type": "int", "low": 2, "high": 9}}}
    search = OptunaSearch(mlp(batch_size=64), space, n_trials=6, cv=CV3, pruner="hyperband",
                          random_state=0).fit(X, y)
    pruner = search.study_.pruner
    assert isinstance(pruner, optuna.pruners.HyperbandPruner)
    assert pruner._max_resource == 9 and pruner._min_resource == 1
    assert len(search.cv_results_["params"]) == 6
    assert (search.cv_results_["n_epochs"] <= search.cv_results_["param_max_iter"]).all()
    updates = OptunaSearch(mlp(batch_size=64), space, n_trials=1, cv=CV3, pruner="hyperband",
                           resource="updates", budget={"updates": 400}).fit(X, y)
    assert updates.study_.pruner._max_resource == 400
    assert updates.study_.pruner._min_resource == 4


def test_hyperband_max_resource_for_pipeline_step_parameter(digits):
    X, y = digits
    est = Pipeline([("scale", StandardScaler()), ("mlp", mlp(batch_size=64))])
    space = {"parameters": {"mlp__max_iter": {"type": "int", "low": 1, "high": 4}}}
    search = OptunaSearch(est, space, n_trials=2, cv=CV3, pruner="hyperband",
                          random_state=0).fit(X, y)
    assert search.study_.pruner._max_resource == 4
    assert (search.cv_results_["n_epochs"] <= search.cv_results_["param_mlp__max_iter"]).all()


def test_resolve_pruner_names_and_objects():
    assert isinstance(resolve_pruner(None), optuna.pruners.NopPruner)
    median = resolve_pruner("median", max_resource=30)
    assert isinstance(median, optuna.pruners.MedianPruner)
    assert median._n_warmup_steps == 3 and median._n_startup_trials == 5
    assert isinstance(resolve_pruner("halving"), optuna.pruners.SuccessiveHalvingPruner)
    own = optuna.pruners.PercentilePruner(25.0)
    assert resolve_pruner(own) is own


def test_fit_once_estimators_ignore_pruner():
    X, y = load_iris(return_X_y=True)
    from sklearn.linear_model import LogisticRegression

    search = GridSearch(LogisticRegression(max_iter=300), {"C": [0.1, 1.0, 10.0]}, cv=3,
                        pruner="median").fit(X, y)
    assert set(search.cv_results_["state"]) == {"complete"}
    assert all(not t.intermediate_values for t in search.study_.trials)
    assert np.all(search.cv_results_["n_epochs"] == 1)


@pytest.mark.parametrize("kind", ["updates", "epochs"])
def test_study_budget_stops_starting_trials_once_spent(digits, kind):
    X, y = digits  # batch 50 on 200-row folds: 4 updates per epoch
    space = {"parameters": {"max_iter": {"type": "int", "low": 2, "high": 6}}}
    limit = {"updates": 30, "epochs": 8}[kind]
    search = OptunaSearch(mlp(batch_size=50), space, n_trials=50, cv=CV3, random_state=0,
                          sampler="random", study_budget={kind: limit}).fit(X, y)
    used = search.cv_results_[f"n_{kind}"]
    assert len(used) < 50
    assert used.sum() >= limit > used[:-1].sum()  # the last trial crossed it, no more started


def test_study_budget_in_seconds_and_invalid(digits):
    X, y = digits
    search = GridSearch(mlp(max_iter=2), {"batch_size": [16, 32, 64, 128]}, cv=CV3,
                        study_budget={"seconds": 1e-9}).fit(X, y)
    assert len(search.cv_results_["params"]) == 1  # the first trial spent it
    with pytest.raises(ValueError, match=r"study_budget.updates: study_budget must be positive"):
        GridSearch(mlp(), {"batch_size": [16]}, cv=CV3, study_budget={"updates": 0}).fit(X, y)
