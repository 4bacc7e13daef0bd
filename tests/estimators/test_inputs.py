"""Input containers of tuner's MLPs: sparse matrices and DataFrames."""

import warnings

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning

from tuner.estimators import MLPClassifier, MLPRegressor

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X[:300] / 16.0, y[:300]


@pytest.mark.parametrize("container", ["csr_matrix", "csr_array", "csc_matrix"])
@pytest.mark.parametrize("Estimator", [MLPClassifier, MLPRegressor])
def test_sparse_input_trains_and_predicts_like_dense(digits, container, Estimator):
    sparse = pytest.importorskip("scipy.sparse")
    X, y = digits
    Xs = getattr(sparse, container)(X)
    params = dict(hidden_layer_sizes=(8,), max_iter=3, batch_size=32, random_state=0)
    dense, sp = Estimator(**params).fit(X, y), Estimator(**params).fit(Xs, y)
    np.testing.assert_allclose(dense.coefs_[0], sp.coefs_[0], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(sp.predict(Xs), dense.predict(X), rtol=1e-10, atol=1e-12)
    kwargs = {"classes": np.arange(10)} if Estimator is MLPClassifier else {}
    a = Estimator(**params).partial_fit(X, y, **kwargs)
    b = Estimator(**params).partial_fit(Xs, y, **kwargs)
    np.testing.assert_allclose(a.coefs_[1], b.coefs_[1], rtol=1e-10, atol=1e-12)


def test_sparse_input_is_densified_one_minibatch_at_a_time(digits, monkeypatch):
    sparse = pytest.importorskip("scipy.sparse")
    X, y = digits
    seen = []
    original = sparse.csr_matrix.toarray

    def spy(self, *args, **kwargs):
        seen.append(self.shape)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(sparse.csr_matrix, "toarray", spy)
    MLPClassifier((8,), max_iter=2, batch_size=64, random_state=0).fit(sparse.csr_matrix(X), y)
    assert seen and max(rows for rows, _ in seen) == 64


@pytest.mark.parametrize("Estimator", [MLPClassifier, MLPRegressor])
def test_early_stopping_on_dataframe_does_not_warn_about_feature_names(Estimator):
    pd = pytest.importorskip("pandas")
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(40, 2)), columns=["a", "b"])
    y = pd.Series(np.arange(40) % 2, name="y")
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        warnings.simplefilter("ignore", ConvergenceWarning)
        est = Estimator((4,), early_stopping=True, max_iter=3, random_state=0).fit(X, y)
    assert len(est.validation_scores_) == 3
    np.testing.assert_array_equal(est.feature_names_in_, ["a", "b"])
