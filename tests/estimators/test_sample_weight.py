"""sample_weight in fit and partial_fit: the weighted loss, its checks and early stopping."""

import numpy as np
import pytest
from sklearn.datasets import load_digits, make_regression
from sklearn.utils.estimator_checks import (
    check_sample_weight_equivalence_on_dense_data,
    check_sample_weight_equivalence_on_sparse_data,
)

from tuner.estimators import MLPClassifier, MLPRegressor, _base

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

# scikit-learn's own parameters for these checks on its MLPs (in
# sklearn/utils/_test_common/instance_generator.py): the regressor's; its
# classifier's, solver="lbfgs", is not one of tuner's solvers, so both use them.
SKLEARN_CHECK_PARAMS = dict(solver="sgd", tol=1e-2, random_state=42)


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X[:300] / 16.0, y[:300]


@pytest.mark.parametrize("Estimator", [MLPClassifier, MLPRegressor])
@pytest.mark.parametrize("check", [check_sample_weight_equivalence_on_dense_data,
                                   check_sample_weight_equivalence_on_sparse_data])
def test_sample_weight_equivalence_with_sklearns_check_parameters(Estimator, check):
    check(Estimator.__name__, Estimator(**SKLEARN_CHECK_PARAMS))


@pytest.mark.parametrize("Estimator", [MLPClassifier, MLPRegressor])
def test_integer_weights_fit_like_repeated_rows(digits, Estimator):
    X, y = digits
    w = np.random.default_rng(0).integers(0, 4, size=len(y))
    params = dict(hidden_layer_sizes=(8,), batch_size="full", max_iter=20, random_state=0)
    weighted = Estimator(**params).fit(X, y, sample_weight=w)
    repeated = Estimator(**params).fit(X.repeat(w, axis=0), y.repeat(w))
    np.testing.assert_allclose(weighted.coefs_[0], repeated.coefs_[0], rtol=1e-8, atol=1e-12)
    assert weighted.loss_ == pytest.approx(repeated.loss_, rel=1e-8)


def test_partial_fit_takes_sample_weight_in_sklearns_position(digits):
    X, y = digits
    w = np.random.default_rng(1).integers(0, 3, size=len(y)).astype(float)
    params = dict(hidden_layer_sizes=(8,), batch_size="full", random_state=0)
    weighted = MLPClassifier(**params).partial_fit(X, y, w, np.arange(10))
    repeated = MLPClassifier(**params).partial_fit(X.repeat(w.astype(int), axis=0),
                                                   y.repeat(w.astype(int)), None, np.arange(10))
    np.testing.assert_allclose(weighted.coefs_[1], repeated.coefs_[1], rtol=1e-8, atol=1e-12)
    reg = MLPRegressor((4,), random_state=0).partial_fit(X, y * 1.0, w, max_updates=1)
    assert reg.n_updates_ == 1


@pytest.mark.parametrize("bad", [np.zeros(300), -np.ones(300), np.ones(299)])
def test_invalid_sample_weight_raises_value_error(digits, bad):
    X, y = digits
    with pytest.raises(ValueError, match="weight|sample|inconsistent"):
        MLPClassifier((4,), max_iter=1).fit(X, y, sample_weight=bad)


@pytest.mark.parametrize("Estimator", [MLPClassifier, MLPRegressor])
def test_early_stopping_scores_held_out_rows_with_their_weights(digits, monkeypatch, Estimator):
    X, y = digits
    w = np.random.default_rng(2).integers(1, 5, size=len(y)).astype(float)
    parts = []

    def spy(*arrays, **options):
        parts.append(_split(*arrays, **options))
        return parts[-1]

    _split = _base.train_test_split
    monkeypatch.setattr(_base, "train_test_split", spy)
    est = Estimator((8,), early_stopping=True, max_iter=1, random_state=0)
    est.fit(X, y, sample_weight=w)
    X_val, y_val, w_val = parts[0][1], parts[0][5], parts[0][7]
    assert est.validation_scores_[0] == pytest.approx(est.score(X_val, y_val,
                                                                sample_weight=w_val))
    assert est.validation_scores_[0] != pytest.approx(est.score(X_val, y_val))


def test_unit_weights_with_early_stopping_equal_no_weights():
    X, y = make_regression(n_samples=100, n_features=2, random_state=42)
    params = dict(hidden_layer_sizes=10, early_stopping=True, tol=1e-2, learning_rate_init=0.01,
                  batch_size=10, random_state=42)
    a = MLPRegressor(**params).fit(X, y, sample_weight=np.ones_like(y))
    b = MLPRegressor(**params).fit(X, y)
    np.testing.assert_allclose(a.predict(X), b.predict(X))
