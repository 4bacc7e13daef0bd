"""Common metrics from one forward pass, with the values of scikit-learn's scorers.

A search scores every fold after every epoch. Through the generic scorer each
call re-validates the data, re-derives the type of target and predicts twice
when two metrics need the same output (1.7 ms per fold-epoch on digits). For
tuner's MLPs a trial computes the network output of each validation split once
per epoch and gets every metric below from it; any other metric (a callable, a
scorer with arguments, ``roc_auc``...) goes through its scikit-learn scorer.

The maths (``w`` the sample weights, 1 when not given; ``p`` the output of the
network; ``k(i)`` the class index of row ``i``):

=============================  =====================================================
scorer name                    value
=============================  =====================================================
``accuracy``                   sum_i w_i [pred_i = k(i)] / sum_i w_i
``balanced_accuracy``          mean over classes c in y of
                               sum_{k(i)=c} w_i [pred_i = c] / sum_{k(i)=c} w_i
``neg_log_loss``               -sum_i w_i (-log clip(p_i,k(i), eps, 1 - eps)) / sum_i w_i
``r2``                         mean over outputs of 1 - SS_res / SS_tot (weighted)
``neg_mean_squared_error``     -mean over outputs of sum_i w_i (y_i - p_i)^2 / sum_i w_i
``neg_root_mean_squared_error``  -mean over outputs of the square root of that
``neg_mean_absolute_error``    -mean over outputs of sum_i w_i |y_i - p_i| / sum_i w_i
=============================  =====================================================

``pred_i`` is what the classifier's ``predict`` returns: the arg-max of the
softmax output, or ``p_i > 0.5`` for a binary (logistic) output; ``eps`` is the
machine epsilon of the output's dtype, as in :func:`sklearn.metrics.log_loss`.
``score`` is the estimator's own ``score``: accuracy for a classifier, R^2 for
a regressor.

Examples
--------
>>> import numpy as np
>>> output = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]])
>>> metrics_from_output(["accuracy", "neg_log_loss"], np.array([0, 1, 1]), output,
...                     classifier=True)
{'accuracy': 0.6666666666666666, 'neg_log_loss': -0.4149...}
"""

from functools import lru_cache

import numpy as np

CLASSIFIER_METRICS = ("accuracy", "balanced_accuracy", "neg_log_loss")
REGRESSOR_METRICS = ("r2", "neg_mean_squared_error", "neg_root_mean_squared_error",
                     "neg_mean_absolute_error")


def fast_metric(name, *, classifier):
    """The metric computed here for the scoring name ``name``, or None (use the scorer).

    ``None`` as a name is the estimator's ``score`` (accuracy or R^2).

    Examples
    --------
    >>> fast_metric(None, classifier=False), fast_metric("roc_auc", classifier=True)
    ('r2', None)
    """
    if name is None or name == "score":
        return "accuracy" if classifier else "r2"
    known = CLASSIFIER_METRICS if classifier else REGRESSOR_METRICS
    return name if name in known else None


@lru_cache(maxsize=1)
def _names_by_repr():
    """scikit-learn's scorer of each name here, keyed by its ``repr``."""
    from sklearn.metrics import get_scorer

    return {repr(get_scorer(name)): name for name in CLASSIFIER_METRICS + REGRESSOR_METRICS}


def metric_of(scorer, estimator):
    """The metric of this module that ``scorer`` computes on ``estimator``, or None.

    Only tuner's MLPs qualify (they expose the network output). A scorer is
    recognised by its ``repr``, which scikit-learn writes from the metric
    function, its arguments and response method (``make_scorer(log_loss,
    greater_is_better=False, response_method='predict_proba')``): any
    argument or other function gives another text, hence the scorer itself.
    ``check_scoring(estimator, None)`` wraps ``estimator.score`` and prints as
    ``MLPClassifier.score``; it qualifies while ``score`` is the mixin's own.

    Examples
    --------
    >>> from sklearn.metrics import check_scoring, get_scorer, make_scorer, fbeta_score
    >>> from tuner import MLPClassifier
    >>> clf = MLPClassifier()
    >>> metric_of(get_scorer("neg_log_loss"), clf), metric_of(check_scoring(clf), clf)
    ('neg_log_loss', 'accuracy')
    >>> metric_of(make_scorer(fbeta_score, beta=2), clf) is None
    True
    """
    from sklearn.base import ClassifierMixin, RegressorMixin, is_classifier

    if not hasattr(estimator, "_network_output"):
        return None
    classifier = is_classifier(estimator)
    if repr(scorer) == f"{type(estimator).__name__}.score":
        mixin = ClassifierMixin if classifier else RegressorMixin
        return fast_metric(None, classifier=classifier) \
            if type(estimator).score is mixin.score else None
    name = _names_by_repr().get(repr(scorer))
    return fast_metric(name, classifier=classifier) if name else None


def metrics_from_output(names, y_true, output, *, classifier, sample_weight=None):
    """``{name: value}`` of the metrics ``names`` (see :func:`fast_metric`) for ``output``.

    Parameters
    ----------
    names : sequence of str
        Metric names returned by :func:`fast_metric`.
    y_true : ndarray
        Class indices into the estimator's ``classes_`` (classifiers) or targets
        of shape (n_samples,) or (n_samples, n_outputs) (regressors).
    output : ndarray of shape (n_samples, n_outputs)
        The network output: probabilities (one logistic column for binary
        targets) or the regression predictions.
    classifier : bool
    sample_weight : ndarray of shape (n_samples,), default=None

    Returns
    -------
    dict of str to float
    """
    compute = _classification if classifier else _regression
    return compute(names, y_true, output, sample_weight)


def _classification(names, k, output, weight):
    """Accuracy, balanced accuracy and log loss from class indices and probabilities."""
    binary = output.shape[1] == 1
    predicted = (output[:, 0] > 0.5).astype(np.intp) if binary else output.argmax(axis=1)
    correct = (predicted == k).astype(np.float64)
    values = {}
    for name in names:
        if name == "accuracy":
            values[name] = float(np.average(correct, weights=weight))
        elif name == "balanced_accuracy":
            values[name] = _balanced_accuracy(k, correct, weight)
        else:
            values[name] = -_log_loss(k, output, weight, binary=binary)
    return values


def _balanced_accuracy(k, correct, weight):
    """Mean recall over the classes present in ``k``."""
    weight = np.ones(len(k)) if weight is None else np.asarray(weight, dtype=np.float64)
    per_class = np.bincount(k, weights=weight)
    present = per_class > 0
    recall = np.bincount(k, weights=weight * correct, minlength=len(per_class))[present] \
        / per_class[present]
    return float(np.mean(recall))


def _log_loss(k, output, weight, *, binary):
    """Cross-entropy of the true class, probabilities clipped to [eps, 1 - eps]."""
    eps = np.finfo(output.dtype).eps
    p_true = np.where(k == 1, output[:, 0], 1 - output[:, 0]) if binary \
        else output[np.arange(len(k)), k]
    loss = -np.log(np.clip(p_true, eps, 1 - eps))
    return float(np.average(loss, weights=weight))


def _regression(names, y_true, output, weight):
    """R^2, (root) mean squared and mean absolute error, averaged over outputs."""
    y_true = y_true.reshape(len(y_true), -1)
    residual = y_true - output
    values = {}
    for name in names:
        if name == "r2":
            values[name] = _r2(y_true, residual, weight)
        elif name == "neg_mean_absolute_error":
            values[name] = -float(np.mean(np.average(np.abs(residual), axis=0, weights=weight)))
        else:
            mse = np.average(residual**2, axis=0, weights=weight)
            root = name == "neg_root_mean_squared_error"
            values[name] = -float(np.mean(np.sqrt(mse) if root else mse))
    return values


def _r2(y_true, residual, weight):
    """1 - SS_res / SS_tot per output (1 or 0 where SS_tot is 0, as scikit-learn), averaged."""
    w = 1.0 if weight is None else np.asarray(weight, dtype=np.float64)[:, None]
    numerator = np.sum(w * residual**2, axis=0)
    denominator = np.sum(w * (y_true - np.average(y_true, axis=0, weights=weight))**2, axis=0)
    score = np.where(numerator == 0, 1.0, 0.0)
    nonzero = denominator != 0
    score[nonzero] = 1 - numerator[nonzero] / denominator[nonzero]
    return float(np.mean(score))
