"""Tests of tuner.MLPClassifier / tuner.MLPRegressor."""

import numpy as np
import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

from tuner.estimators import MLPClassifier, MLPRegressor


@parametrize_with_checks([MLPClassifier(), MLPRegressor()])
def test_estimators_pass_sklearn_checks(estimator, check):
    check(estimator)
