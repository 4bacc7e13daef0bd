"""The scikit-learn helpers tuner needs that scikit-learn keeps private, one adapter each.

scikit-learn's own searches (``BaseSearchCV``) use these to behave exactly like
``GridSearchCV``: the same rows of any array-like, the same multi-metric
scoring rules, the same ``param_<name>`` masked columns. They have no public
equivalent, so this is the one module that imports them; if scikit-learn
moves one, only this file changes.

Examples
--------
>>> import numpy as np
>>> rows(np.arange(6).reshape(3, 2), [2]).tolist(), n_samples([[1], [2]])
([[4, 5]], 2)
"""

from sklearn.metrics._scorer import _check_multimetric_scoring, _MultimetricScorer
from sklearn.model_selection._search import _yield_masked_array_for_each_param
from sklearn.utils import _safe_indexing
from sklearn.utils.validation import _num_samples


def rows(X, indices):
    """Rows ``indices`` of an array, DataFrame, sparse matrix or list (``_safe_indexing``)."""
    return _safe_indexing(X, indices)


def n_samples(X):
    """Number of rows of any array-like (``_num_samples``)."""
    return _num_samples(X)


def multimetric_scorers(estimator, scoring):
    """``{name: scorer}`` of a list, tuple or dict ``scoring``, validated as
    ``GridSearchCV`` does (``_check_multimetric_scoring``)."""
    return _check_multimetric_scoring(estimator, scoring)


def score_all(scorers, estimator, X, y):
    """``{name: score}``; predictions shared by the scorers, errors raised
    (``_MultimetricScorer``, as ``cross_validate`` scores)."""
    return _MultimetricScorer(scorers=scorers, raise_exc=True)(estimator, X, y)


def param_columns(params):
    """``cv_results_``'s ``param_<name>`` masked arrays of a list of parameter dicts
    (``_yield_masked_array_for_each_param``)."""
    return dict(_yield_masked_array_for_each_param(params))
