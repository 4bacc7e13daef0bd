"""Search drivers against scikit-learn's own searches, on tiny real data (no mocks)."""

import importlib.util

import numpy as np
import optuna
import pandas as pd
import pytest
from sklearn.base import clone, is_classifier
from sklearn.datasets import load_digits, load_iris
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import GridSearchCV, KFold, StratifiedKFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from tuner.errors import ConfigError
from tuner.estimators import MLPClassifier
from tuner.search import GridSearch, OptunaSearch, RandomSearch
from tuner.search.results import rank_by_state
from tuner.spaces import SearchSpace


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X[:300] / 16.0, y[:300]


@pytest.fixture(scope="module")
def iris():
    return load_iris(return_X_y=True)


def mlp(**params):
    defaults = {"hidden_layer_sizes": (16,), "random_state": 0, "batch_size": 32}
    return MLPClassifier(**{**defaults, **params})


CV3 = StratifiedKFold(3, shuffle=True, random_state=0)


def sklearn_keys(grid_search):
    return set(grid_search.cv_results_)


def test_grid_search_matches_gridsearchcv_for_ridge():
    X, y = load_digits(return_X_y=True)
    grid = {"alpha": [0.1, 1.0, 10.0], "fit_intercept": [True, False]}
    cv = KFold(3, shuffle=True, random_state=0)
    ours = GridSearch(Ridge(), grid, cv=cv).fit(X, y)
    ref = GridSearchCV(Ridge(), grid, cv=cv).fit(X, y)
    order = [ours.cv_results_["params"].index(p) for p in ref.cv_results_["params"]]
    np.testing.assert_allclose(ours.cv_results_["mean_test_score"][order],
                               ref.cv_results_["mean_test_score"], rtol=1e-12)
    np.testing.assert_array_equal(ours.cv_results_["rank_test_score"][order],
                                  ref.cv_results_["rank_test_score"])
    assert ours.best_params_ == ref.best_params_
    assert ours.best_score_ == pytest.approx(ref.best_score_, rel=1e-12)
    assert set(ours.cv_results_["n_epochs"]) == {1}  # fitted once, no partial_fit


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_grid_search_matches_gridsearchcv_for_our_mlp_pipeline(digits):
    X, y = digits
    est = Pipeline([("scale", StandardScaler()), ("mlp", mlp())])
    grid = {"mlp__learning_rate_init": [0.003, 0.03], "mlp__max_iter": [2, 4]}
    ours = GridSearch(est, grid, cv=CV3, return_train_score=True).fit(X, y)
    ref = GridSearchCV(est, grid, cv=CV3, return_train_score=True).fit(X, y)
    order = [ours.cv_results_["params"].index(p) for p in ref.cv_results_["params"]]
    for key in ("mean_test_score", "split0_test_score", "mean_train_score"):
        np.testing.assert_allclose(ours.cv_results_[key][order], ref.cv_results_[key],
                                   rtol=1e-10)
    assert sorted(ours.cv_results_["n_epochs"]) == [2, 2, 4, 4]
    assert set(ref.cv_results_) <= set(ours.cv_results_)
    np.testing.assert_allclose(ours.predict_proba(X), ref.predict_proba(X), rtol=1e-10)


def test_cv_results_keys_match_sklearn_and_extras(iris):
    X, y = iris
    grid = {"C": [0.1, 1.0]}
    ours = GridSearch(LogisticRegression(max_iter=300), grid, cv=3,
                      return_train_score=True).fit(X, y)
    ref = GridSearchCV(LogisticRegression(max_iter=300), grid, cv=3,
                       return_train_score=True).fit(X, y)
    extras = set(ours.cv_results_) - set(ref.cv_results_)
    assert set(ref.cv_results_) <= set(ours.cv_results_)
    assert extras == {"state", "n_epochs", "trial_number", "base_params", "n_updates",
                      "n_samples_seen", "fail_reason"}
    assert isinstance(ours.cv_results_["param_C"], np.ma.MaskedArray)
    frame = pd.DataFrame(ours.cv_results_)
    assert frame.shape == (2, len(ours.cv_results_))
    assert ours.n_splits_ == 3 and ours.refit_time_ > 0 and not ours.multimetric_


def test_multimetric_scoring_names_keys_and_refits_named_metric(iris):
    X, y = iris
    grid = {"C": [0.01, 1.0]}
    scoring = {"acc": "accuracy", "f1": "f1_macro"}
    ours = GridSearch(LogisticRegression(max_iter=300), grid, cv=3, scoring=scoring,
                      refit="f1").fit(X, y)
    ref = GridSearchCV(LogisticRegression(max_iter=300), grid, cv=3, scoring=scoring,
                       refit="f1").fit(X, y)
    assert set(ref.cv_results_) <= set(ours.cv_results_)
    np.testing.assert_allclose(ours.cv_results_["mean_test_f1"], ref.cv_results_["mean_test_f1"])
    assert ours.best_params_ == ref.best_params_ and ours.multimetric_
    assert ours.score(X, y) == pytest.approx(ref.score(X, y))
    assert ours.study_.user_attrs["objective"] == "f1"


def test_multimetric_refit_true_is_rejected(iris):
    X, y = iris
    search = GridSearch(LogisticRegression(), {"C": [1.0]}, scoring=["accuracy", "f1_macro"])
    with pytest.raises(ConfigError, match="refit"):
        search.fit(X, y)


def test_refit_callable_picks_index_without_best_score(iris):
    X, y = iris
    search = GridSearch(LogisticRegression(max_iter=300), {"C": [0.01, 0.1, 1.0]}, cv=3,
                        refit=lambda results: 0).fit(X, y)
    assert search.best_index_ == 0 and not hasattr(search, "best_score_")
    assert search.best_params_ == {"C": 0.01}


@pytest.mark.parametrize("pruner", ["median", "halving", "hyperband"])
def test_pruning_trains_fewer_epochs_than_no_pruning(digits, pruner):
    X, y = digits
    space = {"parameters": {
        "learning_rate_init": {"type": "float", "low": 1e-5, "high": 0.1, "log": True},
        "max_iter": {"type": "fixed", "value": 8}}}
    kwargs = {"n_trials": 12, "cv": CV3, "random_state": 0, "sampler": "random"}
    full = OptunaSearch(mlp(), space, **kwargs).fit(X, y)
    pruned = OptunaSearch(mlp(), space, pruner=pruner, **kwargs).fit(X, y)
    assert full.cv_results_["n_epochs"].sum() == 12 * 8
    assert pruned.cv_results_["n_epochs"].sum() < 12 * 8
    states = pruned.cv_results_["state"]
    assert "pruned" in set(states)
    assert states[pruned.best_index_] == "complete"
    pruned_rows = states == "pruned"
    assert pruned.cv_results_["rank_test_score"][pruned_rows].min() > \
        pruned.cv_results_["rank_test_score"][states == "complete"].max()
    # a pruned trial keeps the scores of the epoch it stopped at
    assert np.isfinite(pruned.cv_results_["mean_test_score"][pruned_rows]).all()


def test_conditional_parameter_absent_when_condition_fails(digits):
    X, y = digits
    space = {"parameters": {
        "solver": {"type": "categorical", "choices": ["sgd", "adam"]},
        "momentum": {"type": "float", "low": 0.5, "high": 0.9, "when": {"solver": "sgd"},
                     "grid": [0.5, 0.9]},
        "max_iter": {"type": "fixed", "value": 1}}}
    search = GridSearch(mlp(), space, cv=CV3).fit(X, y)
    results = search.cv_results_
    assert len(results["params"]) == 3
    for params, raw, masked in zip(results["params"], results["base_params"],
                                   np.ma.getmaskarray(results["param_momentum"]), strict=True):
        assert ("momentum" in params) == (params["solver"] == "sgd") == (not masked)
        assert ("momentum" in raw) == (raw["solver"] == "sgd")


DIVERGING = 1e20  # learning rate that makes the training loss non-finite in epoch 1


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_error_score_nan_records_failure_and_continues(digits):
    X, y = digits
    grid = {"learning_rate_init": [1e-2, DIVERGING], "max_iter": [3]}
    search = GridSearch(mlp(solver="sgd", momentum=0.0), grid, cv=CV3).fit(X, y)
    results = search.cv_results_
    failed = results["state"] == "fail"
    assert failed.sum() == 1 and results["params"][int(np.argmax(failed))][
        "learning_rate_init"] == DIVERGING
    assert np.isnan(results["mean_test_score"][failed]).all()
    assert results["fail_reason"][failed][0].startswith("DivergenceError: ")
    assert results["n_epochs"][failed][0] < 3  # epochs completed before diverging
    assert results["rank_test_score"][failed][0] == 2
    assert search.best_params_["learning_rate_init"] == 1e-2
    trial = search.study_.trials[results["trial_number"][failed][0]]
    assert trial.state == optuna.trial.TrialState.FAIL
    assert trial.user_attrs["fail_reason"] == results["fail_reason"][failed][0]


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_error_score_number_and_raise(digits):
    X, y = digits
    grid = {"learning_rate_init": [DIVERGING], "max_iter": [2]}
    est = mlp(solver="sgd", momentum=0.0)
    with pytest.raises(ValueError, match="no trial completed"):
        GridSearch(est, grid, cv=CV3, error_score=-1.0).fit(X, y)
    search = GridSearch(est, grid, cv=CV3, error_score=-1.0, refit=False).fit(X, y)
    assert search.cv_results_["split2_test_score"][0] == -1.0
    with pytest.raises(FloatingPointError):
        GridSearch(est, grid, cv=CV3, error_score="raise").fit(X, y)


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_error_score_raise_reaches_the_caller_from_worker_processes(digits):
    X, y = digits
    grid = {"learning_rate_init": [DIVERGING, 1e-2], "max_iter": [2]}
    with pytest.raises(FloatingPointError, match="Training diverged at epoch 1"):
        GridSearch(mlp(solver="sgd", momentum=0.0), grid, cv=CV3, n_jobs=2,
                   error_score="raise").fit(X, y)


def test_random_search_reproducible_with_random_state(digits):
    X, y = digits
    space = {"parameters": {
        "learning_rate_init": {"type": "float", "low": 1e-3, "high": 0.1, "log": True},
        "max_iter": {"type": "int", "low": 1, "high": 3}}}
    est = MLPClassifier(hidden_layer_sizes=(8,), batch_size=64)  # random_state unset
    runs = [RandomSearch(est, space, n_trials=3, cv=CV3, random_state=7).fit(X, y)
            for _ in range(2)]
    assert runs[0].cv_results_["base_params"] == runs[1].cv_results_["base_params"]
    np.testing.assert_array_equal(runs[0].cv_results_["mean_test_score"],
                                  runs[1].cv_results_["mean_test_score"])
    other = RandomSearch(est, space, n_trials=3, cv=CV3, random_state=8).fit(X, y)
    assert other.cv_results_["base_params"] != runs[0].cv_results_["base_params"]


def test_hyperband_search_reproducible_with_random_state(digits):
    # Optuna's Hyperband picks each trial's bracket from a hash of the study name
    X, y = digits
    runs = [RandomSearch(mlp(), "mlp_default", n_trials=8, cv=CV3, random_state=3, refit=False,
                         pruner="hyperband", budget={"epochs": 9}).fit(X, y) for _ in range(2)]
    first, second = (run.cv_results_ for run in runs)
    assert list(first["state"]).count("pruned") > 0
    np.testing.assert_array_equal(first["n_epochs"], second["n_epochs"])
    np.testing.assert_array_equal(first["mean_test_score"], second["mean_test_score"])


def test_derived_learning_rate_follows_the_training_fold_size(digits):
    X, y = digits  # 300 rows: 3-fold CV trains on 200
    space = {"parameters": {
        "learning_rate_init": {"type": "float", "low": 1e-3, "high": 1e-2, "grid": [0.01],
                               "scale_with": "batch_size", "rule": "linear", "reference": 100},
        "batch_size": {"type": "categorical", "choices": ["full", 50, 256]},
        "max_iter": {"type": "fixed", "value": 1}}}
    search = GridSearch(mlp(), space, cv=CV3, refit=False).fit(X, y)
    rates = {p["batch_size"]: p["learning_rate_init"] for p in search.cv_results_["params"]}
    assert rates == pytest.approx({"full": 0.02, 50: 0.005, 256: 0.02})  # batch 256 -> 200 rows
    # both rates are visible: the space's base value and the effective one
    assert [p["learning_rate_init"] for p in search.cv_results_["base_params"]] == [0.01] * 3
    assert sorted(search.cv_results_["param_learning_rate_init"]) == pytest.approx(
        [0.005, 0.02, 0.02])


def test_delegation_predict_score_classes(iris):
    X, y = iris
    search = GridSearch(LogisticRegression(max_iter=300), {"C": [1.0]}, cv=3).fit(X, y)
    np.testing.assert_array_equal(search.predict(X), search.best_estimator_.predict(X))
    np.testing.assert_array_equal(search.classes_, [0, 1, 2])
    assert search.score(X, y) == pytest.approx(search.best_estimator_.score(X, y))
    assert search.decision_function(X).shape == (150, 3)
    assert not hasattr(search, "transform")
    no_refit = GridSearch(LogisticRegression(max_iter=300), {"C": [1.0]}, cv=3, refit=False)
    assert not hasattr(no_refit, "predict")
    no_refit.fit(X, y)
    assert no_refit.best_params_ == {"C": 1.0}
    with pytest.raises(NotFittedError):
        no_refit.score(X, y)


def test_callbacks_receive_epochs_trial_records_and_progress(digits):
    X, y = digits

    class Recorder:
        def __init__(self):
            self.events = []

        def on_study_start(self, search, study):
            self.events.append(("start", study.study_name))

        def on_epoch(self, trial_number, epoch, metrics):
            self.events.append(("epoch", trial_number, epoch, metrics))

        def on_trial_end(self, record):
            self.events.append(("end", record))

        def on_progress(self, study):
            self.events.append(("progress",))

        def on_study_end(self, search, study):
            self.events.append(("stop", len(search.cv_results_["params"])))

    recorder = Recorder()
    GridSearch(mlp(), {"max_iter": [2, 3]}, cv=CV3, callbacks=[recorder],
               study_name="cb").fit(X, y)
    kinds = [e[0] for e in recorder.events]
    assert kinds[0] == "start" and kinds[-1] == "stop" and recorder.events[-1][1] == 2
    assert kinds.count("epoch") == 5 and kinds.count("end") == 2 and kinds.count("progress") == 2
    epoch = next(e for e in recorder.events if e[0] == "epoch")
    assert {"mean_test_score", "train_loss", "split0_test_score", "split2_test_score"} <= set(
        epoch[3])
    record = next(e[1] for e in recorder.events if e[0] == "end")
    assert record.state == "complete" and record.n_epochs == 2 and len(record.history) == 2
    assert record.study_name == "cb"
    assert record.mean_test_score == pytest.approx(record.history[-1]["mean_test_score"])


def test_study_records_driver_and_space_and_restores_logging(iris):
    X, y = iris
    before = optuna.logging.get_verbosity()
    search = GridSearch(LogisticRegression(max_iter=300), {"C": [1.0, 2.0]}, cv=3).fit(X, y)
    assert optuna.logging.get_verbosity() == before
    attrs = search.study_.user_attrs
    assert attrs["driver"] == "GridSearch"
    assert SearchSpace.load(attrs["space"]).grid() == [{"C": 1.0}, {"C": 2.0}]
    assert search.study_.direction == optuna.study.StudyDirection.MAXIMIZE
    assert search.study_.study_name.startswith("gridsearch-")


def test_grid_search_accepts_list_of_param_grids(iris):
    X, y = iris
    grid = [{"C": [0.1]}, {"C": [1.0], "fit_intercept": [False]}]
    ours = GridSearch(LogisticRegression(max_iter=300), grid, cv=3).fit(X, y)
    ref = GridSearchCV(LogisticRegression(max_iter=300), grid, cv=3).fit(X, y)
    assert ours.cv_results_["params"] == ref.cv_results_["params"]
    np.testing.assert_allclose(ours.cv_results_["mean_test_score"],
                               ref.cv_results_["mean_test_score"])
    assert np.ma.getmaskarray(ours.cv_results_["param_fit_intercept"]).tolist() == [True, False]
    with pytest.raises(ConfigError, match="GridSearch"):
        RandomSearch(LogisticRegression(), grid, n_trials=2).fit(X, y)


def test_pandas_input_and_estimator_early_stopping(digits, capsys):
    X, y = digits
    frame = pd.DataFrame(X, index=np.arange(1000, 1000 + len(X)))
    target = pd.Series(y, index=frame.index)
    search = GridSearch(mlp(early_stopping=True), {"max_iter": [2]}, cv=CV3,
                        verbose=1).fit(frame, target)
    assert search.cv_results_["state"].tolist() == ["complete"]
    assert search.best_estimator_.n_iter_ == 2
    assert capsys.readouterr().out.startswith("[trial 0] complete score=")


def test_rank_by_state_orders_complete_then_pruned_then_failed():
    scores = np.array([0.2, 0.9, 0.5, np.nan, 0.5, 0.95])
    states = np.array(["complete", "pruned", "complete", "complete", "complete", "fail"])
    assert rank_by_state(scores, states).tolist() == [3, 5, 1, 4, 1, 6]


@pytest.mark.parametrize("bad", [{"epochs": 0}, {"steps": 3}, {"epochs": 1, "updates": 2}, 5])
def test_budget_rejects_invalid_values(iris, bad):
    X, y = iris
    with pytest.raises(ConfigError, match="budget"):
        GridSearch(LogisticRegression(), {"C": [1.0]}, budget=bad).fit(X, y)


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"pruner": "sometimes"}, "pruner"), ({"resource": "minutes"}, "resource"),
])
def test_drivers_reject_unknown_options(iris, kwargs, match):
    X, y = iris
    with pytest.raises(ConfigError, match=match):
        GridSearch(LogisticRegression(), {"C": [1.0]}, **kwargs).fit(X, y)


def test_search_is_a_clonable_sklearn_meta_estimator():
    search = OptunaSearch(mlp(), {"alpha": [1e-4]}, n_trials=3, sampler="qmc", pruner="median")
    copy = clone(search)
    assert copy.get_params()["n_trials"] == 3 and copy.get_params()["estimator__alpha"] == 1e-4
    assert is_classifier(search) and not is_classifier(GridSearch(Ridge(), {"alpha": [1.0]}))


def test_optuna_search_rejects_unknown_sampler_and_bad_n_trials(iris):
    X, y = iris
    if importlib.util.find_spec("torch") is None:
        with pytest.raises(ConfigError, match="torch"):
            OptunaSearch(LogisticRegression(), {"C": [1.0]}, sampler="gp").fit(X, y)
    with pytest.raises(ConfigError, match="sampler"):
        OptunaSearch(LogisticRegression(), {"C": [1.0]}, sampler="annealing").fit(X, y)
    with pytest.raises(ConfigError, match="n_trials"):
        RandomSearch(LogisticRegression(), {"C": [1.0]}, n_trials=0).fit(X, y)


def test_incremental_auto_fits_other_estimators_once_unless_epochs_are_asked_for():
    from sklearn.datasets import load_iris
    from sklearn.linear_model import SGDClassifier

    X, y = load_iris(return_X_y=True)
    sgd = SGDClassifier(max_iter=50, tol=None, random_state=0)
    once = GridSearch(sgd, {"alpha": [1e-4]}, cv=3).fit(X, y)
    by_epoch = GridSearch(sgd, {"alpha": [1e-4]}, cv=3, incremental=True).fit(X, y)
    pruned = GridSearch(sgd, {"alpha": [1e-4]}, cv=3, pruner="median").fit(X, y)
    assert once.cv_results_["n_epochs"].tolist() == [1]  # one fit per fold
    assert once.best_estimator_.n_iter_ == 50  # fit's own loop
    assert by_epoch.cv_results_["n_epochs"].tolist() == [50] == pruned.cv_results_["n_epochs"]
    with pytest.raises(ValueError, match="incremental: not a valid choice"):
        GridSearch(sgd, {"alpha": [1e-4]}, cv=3, incremental="yes").fit(X, y)


def test_scikit_learn_constructor_names_are_aliases():
    from sklearn.base import clone
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    X, y = load_iris(return_X_y=True)
    est = LogisticRegression(max_iter=300)
    grid = GridSearch(est, param_grid={"C": [0.1, 1.0]}, cv=3).fit(X, y)
    assert len(grid.cv_results_["params"]) == 2 and clone(grid).param_grid == {"C": [0.1, 1.0]}
    rand = RandomSearch(est, param_distributions={"C": [0.01, 0.1, 1.0, 10.0]}, n_iter=3,
                        cv=3, random_state=0).fit(X, y)
    assert len(rand.cv_results_["params"]) == 3
    assert "n_iter" in rand.get_params() and "param_distributions" in rand.get_params()
    with pytest.raises(ConfigError, match="exactly one of space and its scikit-learn alias"):
        GridSearch(est, {"C": [1.0]}, param_grid={"C": [1.0]}).fit(X, y)
    with pytest.raises(ConfigError, match="n_trials or its scikit-learn alias n_iter"):
        RandomSearch(est, {"C": [1.0, 2.0]}, n_trials=4, n_iter=3).fit(X, y)
