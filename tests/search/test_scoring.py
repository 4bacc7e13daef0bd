"""Metrics from one forward pass equal scikit-learn's scorers (tuner.search.scoring)."""

import numpy as np
import pytest
from sklearn.metrics import get_scorer

from tuner import MLPClassifier, MLPRegressor
from tuner.search.scoring import (
    CLASSIFIER_METRICS,
    REGRESSOR_METRICS,
    fast_metric,
    metrics_from_output,
)

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def _classifier(n_classes, dtype, seed):
    """A fitted classifier, its validation rows, their class indices and its output."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(120, 5))
    y = np.array(["a", "b", "c", "d"])[:n_classes][rng.integers(0, n_classes, 120)]
    est = MLPClassifier((8,), max_iter=3, dtype=dtype, random_state=seed).fit(X[:80], y[:80])
    X_val, y_val = X[80:], y[80:]
    output = est.predict_proba(X_val)[:, 1:] if n_classes == 2 else est.predict_proba(X_val)
    return est, X_val, y_val, np.searchsorted(est.classes_, y_val), output


def _regressor(n_outputs, dtype, seed):
    """A fitted regressor, its validation rows and targets, and its predictions (2-D)."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(120, 4))
    y = X[:, :n_outputs] * 3 + rng.normal(size=(120, n_outputs))
    y = y.ravel() if n_outputs == 1 else y
    est = MLPRegressor((8,), max_iter=5, dtype=dtype, random_state=seed).fit(X[:80], y[:80])
    return est, X[80:], y[80:], est.predict(X[80:]).reshape(40, -1)


@pytest.mark.parametrize("n_classes", [2, 3, 4])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("weighted", [False, True])
def test_metrics_from_output_equal_sklearn_classification_scorers(n_classes, dtype, weighted):
    est, X_val, y_val, k, output = _classifier(n_classes, dtype, seed=n_classes)
    weight = np.random.default_rng(0).uniform(0, 3, len(k)) if weighted else None
    fast = metrics_from_output(CLASSIFIER_METRICS, k, output, classifier=True,
                               sample_weight=weight)
    for name in CLASSIFIER_METRICS:
        expected = get_scorer(name)(est, X_val, y_val, sample_weight=weight)
        assert fast[name] == pytest.approx(expected, rel=1e-12, abs=1e-12), name


@pytest.mark.parametrize("n_outputs", [1, 2])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("weighted", [False, True])
def test_metrics_from_output_equal_sklearn_regression_scorers(n_outputs, dtype, weighted):
    est, X_val, y_val, output = _regressor(n_outputs, dtype, seed=n_outputs)
    weight = np.random.default_rng(1).uniform(0, 3, len(y_val)) if weighted else None
    fast = metrics_from_output(REGRESSOR_METRICS, y_val, output, classifier=False,
                               sample_weight=weight)
    for name in REGRESSOR_METRICS:
        expected = get_scorer(name)(est, X_val, y_val, sample_weight=weight)
        assert fast[name] == pytest.approx(expected, rel=1e-12, abs=1e-12), name


def test_balanced_accuracy_ignores_classes_absent_from_the_validation_split():
    k = np.array([0, 0, 2, 2])
    output = np.array([[0.8, 0.1, 0.1], [0.2, 0.7, 0.1], [0.1, 0.1, 0.8], [0.1, 0.1, 0.8]])
    assert metrics_from_output(["balanced_accuracy"], k, output, classifier=True) == \
        {"balanced_accuracy": 0.75}  # class 0: 1/2, class 2: 2/2; class 1 absent


def test_r2_of_a_constant_target_follows_sklearn():
    y = np.ones(4)
    perfect, off = np.ones((4, 1)), np.full((4, 1), 2.0)
    assert metrics_from_output(["r2"], y, perfect, classifier=False) == {"r2": 1.0}
    assert metrics_from_output(["r2"], y, off, classifier=False) == {"r2": 0.0}


def test_fast_metric_maps_default_and_known_names_and_leaves_others_to_the_scorer():
    assert fast_metric(None, classifier=True) == "accuracy"
    assert fast_metric("score", classifier=False) == "r2"
    assert fast_metric("neg_log_loss", classifier=True) == "neg_log_loss"
    assert fast_metric("neg_log_loss", classifier=False) is None
    assert fast_metric("f1_macro", classifier=True) is None


def _as_callables(names):
    """The same metrics as plain callables (never recognised: always the scorer path)."""
    return {name: (lambda scorer: lambda est, X, y: scorer(est, X, y))(get_scorer(name))
            for name in names}


@pytest.mark.parametrize("Estimator, names", [
    (MLPClassifier, list(CLASSIFIER_METRICS)), (MLPRegressor, list(REGRESSOR_METRICS))])
def test_search_scores_from_one_forward_pass_equal_the_scorer_path(Estimator, names,
                                                                   monkeypatch):
    from sklearn.datasets import load_digits

    from tuner import GridSearch
    from tuner.search import folds

    calls = []
    monkeypatch.setattr(folds, "metrics_from_output",
                        lambda *args, **kwargs: calls.append(1) or metrics_from_output(*args,
                                                                                       **kwargs))

    X, y = load_digits(return_X_y=True)
    X, y = X[:240] / 16, y[:240] if Estimator is MLPClassifier else y[:240] / 9.0
    results = []
    for scoring in (names, _as_callables(names)):
        search = GridSearch(Estimator((8,), max_iter=3, random_state=0),
                            {"alpha": [1e-4, 1e-1]}, scoring=scoring, cv=3, refit=names[0])
        results.append(search.fit(X, y).cv_results_)
        results.append(len(calls))
    fast, n_fast, slow, n_total = results
    assert n_fast == 2 * 3 * 3 and n_total == n_fast  # points x folds x epochs, then none
    for name in names:
        np.testing.assert_allclose(fast[f"mean_test_{name}"], slow[f"mean_test_{name}"],
                                   rtol=1e-12, atol=1e-12)
