"""Pickled estimators go on training as the original does."""

import pickle

import numpy as np
import pytest
from sklearn.datasets import load_digits

from tuner.estimators import MLPClassifier, MLPRegressor

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X[:600] / 16.0, y[:600]


def test_pickled_estimator_continues_training_identically(digits):
    X, y = digits
    clf = MLPClassifier((8,), random_state=0, dropout=0.1)
    clf.partial_fit(X, y, classes=np.arange(10))
    copy = pickle.loads(pickle.dumps(clf))
    clf.partial_fit(X, y)
    copy.partial_fit(X, y)
    np.testing.assert_array_equal(clf.coefs_[1], copy.coefs_[1])


@pytest.mark.parametrize("resume", ["partial_fit", "warm_start"])
def test_joblib_loaded_estimator_trains_its_weights(tmp_path, resume):
    joblib = pytest.importorskip("joblib")
    X, y = np.array([[2.0]]), np.array([4.0])
    est = MLPRegressor((8,), random_state=0, learning_rate_init=0.01, max_iter=50).fit(X, y)
    joblib.dump(est, tmp_path / "mlp.joblib")
    loaded = joblib.load(tmp_path / "mlp.joblib")
    before = loaded.predict(X)
    if resume == "partial_fit":
        loaded.partial_fit(X, np.array([1.0]))
    else:
        loaded.set_params(warm_start=True, max_iter=1).fit(X, np.array([1.0]))
    assert loaded.predict(X)[0] < before[0]
    np.testing.assert_array_equal(loaded._trainer.optimizer.params, loaded._network.params)
    assert loaded._trainer.optimizer.params is loaded._network.params
