"""What a fitted search answers through its refitted best estimator, as GridSearchCV does.

``predict``, ``predict_proba``, ``predict_log_proba``, ``decision_function``,
``transform``, ``inverse_transform``, ``score``, ``classes_`` and
``n_features_in_`` go to ``best_estimator_``; each method exists only when the
estimator has it (``available_if``), and needs ``refit=True``.
"""

from copy import deepcopy

from sklearn.exceptions import NotFittedError
from sklearn.utils import get_tags
from sklearn.utils.metaestimators import available_if


def _estimator_has(attr):
    """``available_if`` check: delegate ``attr`` to the refitted (or template) estimator."""

    def check(self):
        if not self.refit:
            raise AttributeError(f"{attr} needs refit=True; refit best_params_ yourself")
        getattr(self.best_estimator_ if hasattr(self, "best_estimator_") else self.estimator,
                attr)
        return True

    return check


class BestEstimatorDelegation:
    """Mixin of :class:`tuner.search.base.BaseSearch`: delegation to ``best_estimator_``."""

    def __sklearn_tags__(self):
        """Take the estimator type (classifier/regressor) and input tags of the estimator."""
        tags = super().__sklearn_tags__()
        sub = get_tags(self.estimator)
        tags.estimator_type = sub.estimator_type
        tags.classifier_tags = deepcopy(sub.classifier_tags)
        tags.regressor_tags = deepcopy(sub.regressor_tags)
        tags.input_tags.pairwise, tags.input_tags.sparse = sub.input_tags.pairwise, \
            sub.input_tags.sparse
        return tags

    def _best(self, name):
        """The refitted best estimator, or NotFittedError."""
        if not hasattr(self, "best_estimator_"):
            raise NotFittedError(f"{type(self).__name__} is not fitted; call fit before {name}")
        return self.best_estimator_

    @available_if(_estimator_has("predict"))
    def predict(self, X):
        """Predict with the best estimator."""
        return self._best("predict").predict(X)

    @available_if(_estimator_has("predict_proba"))
    def predict_proba(self, X):
        """Class probabilities from the best estimator."""
        return self._best("predict_proba").predict_proba(X)

    @available_if(_estimator_has("predict_log_proba"))
    def predict_log_proba(self, X):
        """Log class probabilities from the best estimator."""
        return self._best("predict_log_proba").predict_log_proba(X)

    @available_if(_estimator_has("decision_function"))
    def decision_function(self, X):
        """Decision function of the best estimator."""
        return self._best("decision_function").decision_function(X)

    @available_if(_estimator_has("transform"))
    def transform(self, X):
        """Transform with the best estimator."""
        return self._best("transform").transform(X)

    @available_if(_estimator_has("inverse_transform"))
    def inverse_transform(self, X):
        """Inverse-transform with the best estimator."""
        return self._best("inverse_transform").inverse_transform(X)

    def score(self, X, y=None):
        """Score of the best estimator with the search's scorer (the refit metric)."""
        estimator = self._best("score")
        scorer = self.scorer_[self.refit] if self.multimetric_ else self.scorer_
        return scorer(estimator, X, y)

    @property
    def classes_(self):
        """Class labels of the best estimator."""
        return self._best("classes_").classes_

    @property
    def n_features_in_(self):
        """Number of features seen by the best estimator."""
        return self._best("n_features_in_").n_features_in_
