"""Pickled estimators go on training as the original does."""

import pickle

import numpy as np
import pytest
from sklearn.datasets import load_digits

from tuner.estimators import MLPClassifier

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
