"""scikit-learn's estimator checks, parameter validation and input validation of tuner's MLPs."""

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.utils._param_validation import InvalidParameterError
from sklearn.utils.estimator_checks import parametrize_with_checks

from tuner.estimators import MLPClassifier, MLPRegressor

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X[:600] / 16.0, y[:600]


@parametrize_with_checks([MLPClassifier(), MLPRegressor()])
def test_estimators_pass_sklearn_checks(estimator, check):
    check(estimator)


@pytest.mark.parametrize("params", [{"solver": "lbfgs"}, {"dropout": 1.0},
                                    {"learning_rate": "adaptive"}, {"batch_size": 0},
                                    {"dtype": "float16"}, {"n_threads": 0},
                                    {"init": "xavier"}])
def test_invalid_parameters_raise_invalid_parameter_error(digits, params):
    X, y = digits
    with pytest.raises(InvalidParameterError):
        MLPClassifier(**params).fit(X, y)


def test_nan_input_raises_value_error(digits):
    X, y = digits
    X = X.copy()
    X[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        MLPClassifier().fit(X, y)
