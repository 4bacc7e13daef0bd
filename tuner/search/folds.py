"""One CV split of a trial: its cloned model and data, trained epoch by epoch or fitted once.

:class:`Fold` holds a split's (preprocessed) data, trains the learning step one
``partial_fit`` epoch at a time through the estimator's pre-validated epoch
runner when it has one, scores the validation rows from one forward pass when
the metrics allow it (:mod:`tuner.search.scoring`), and keeps fit and score
times. :func:`trains_by_epoch` is the rule for which estimators train by epoch.
"""

from __future__ import annotations

import inspect
import math
import time

import numpy as np
from sklearn.base import clone, is_classifier
from sklearn.compose import TransformedTargetRegressor
from sklearn.pipeline import Pipeline

from tuner.errors import ConfigError
from tuner.nn.training import resolve_batch_size
from tuner.search.scoring import metric_of, metrics_from_output
from tuner.search.sklearn_private import rows, score_all
from tuner.search.steps import final_step, fitted_target_regressor


def _batches_per_epoch(estimator, n_train):
    """Weight updates per epoch implied by ``batch_size`` (1 sample per update without it)."""
    batch = estimator.get_params().get("batch_size", 1)
    batch = resolve_batch_size("full" if batch is None else batch, n_train)
    return math.ceil(n_train / max(1, batch))


#: Estimators whose ``partial_fit`` is one epoch and whose ``max_iter`` counts epochs.
EPOCH_ESTIMATORS = ("tuner.estimators", "sklearn.neural_network")


def check_incremental(incremental):
    """``incremental`` as given, or a ConfigError naming what is allowed."""
    if incremental == "auto" or isinstance(incremental, bool):
        return incremental
    raise ConfigError("not a valid choice", key="incremental", value=incremental,
                      allowed='"auto", True or False')


def trains_by_epoch(estimator, incremental="auto"):
    """True when trials train ``estimator`` one ``partial_fit`` epoch at a time.

    ``"auto"``: only neural networks whose ``partial_fit`` is one epoch (tuner's
    and scikit-learn's MLPs); any other estimator is fitted once per fold with
    ``fit``, at scikit-learn's cost (an ``SGDClassifier``'s ``max_iter`` would
    otherwise mean up to 1000 partial_fit calls, each validated and scored).
    ``True``: every estimator with ``partial_fit`` (declares one call = one epoch,
    so the pruner can act after each); ``False``: always ``fit``.

    Examples
    --------
    >>> from sklearn.linear_model import SGDClassifier
    >>> from tuner import MLPClassifier
    >>> trains_by_epoch(MLPClassifier()), trains_by_epoch(SGDClassifier())
    (True, False)
    >>> trains_by_epoch(SGDClassifier(), incremental=True)
    True
    """
    if not hasattr(estimator, "partial_fit") or incremental is False:
        return False
    return incremental is True or type(estimator).__module__.startswith(EPOCH_ESTIMATORS)


class Fold:
    """One CV split: the cloned model, its (preprocessed) data, epochs and timings.

    A ``TransformedTargetRegressor`` has no ``partial_fit``: when its regressor
    (or the regressor Pipeline's final step) has one, the fold fits the target
    transformer on the training split itself and trains the regressor on the
    transformed target epoch by epoch; scores are computed on the original scale.
    """

    def __init__(self, model, X_train, y_train, X_test=None, y_test=None, *, incremental="auto"):
        self.model = model
        self.target = model if isinstance(model, TransformedTargetRegressor) else None
        self.inner = model if self.target is None else model.regressor
        self.final = final_step(model)
        self.incremental = trains_by_epoch(self.final, incremental)
        self.takes_max_updates = self.incremental and "max_updates" in inspect.signature(
            self.final.partial_fit).parameters
        if self.incremental and self.final.get_params().get("early_stopping") is True:
            # Trials stop through the pruner and the budget; an estimator's own
            # early stopping (a held-out split inside fit) does not apply to partial_fit.
            self.final.set_params(early_stopping=False)
        self.X_train, self.y_train, self.X_test, self.y_test = X_train, y_train, X_test, y_test
        self.y_fit = self._fit_target(y_train) if self.incremental else y_train
        self.n_train = len(y_train) if y_train is not None else len(X_train)
        self.fit_time = self.score_time = 0.0
        self.epochs = 0
        self._next_epoch = None  # the estimator's pre-validated epoch runner (tuner's MLPs)
        self._fast_scoring = None  # (metric per scorer, checked X, y) once known; False: none

    def _fit_target(self, y):
        """The target the regressor learns: transformed by a fitted copy of the wrapper's
        transformer (``self.transformer``), or as given."""
        self.transformer = None
        if self.target is None or y is None:
            return y
        y = np.asarray(y)
        column = y.reshape(-1, 1) if y.ndim == 1 else y
        self.transformer = clone(self.target.transformer).fit(column)
        scaled = self.transformer.transform(column)
        return scaled.ravel() if y.ndim == 1 else scaled

    @classmethod
    def from_task(cls, task, params, train, test):
        """Clone the task's estimator with ``params`` on one split."""
        model = clone(task.estimator).set_params(**params)
        X, y = task.X, task.y
        return cls(model, rows(X, train), None if y is None else rows(y, train),
                   rows(X, test), None if y is None else rows(y, test),
                   incremental=task.incremental)

    def preprocess(self):
        """Fit a pipeline's preceding steps once; keep the transformed splits."""
        if self.incremental and isinstance(self.inner, Pipeline) and len(self.inner) > 1:
            start = time.perf_counter()
            head = self.inner[:-1]
            self.X_train = head.fit_transform(self.X_train, self.y_fit)
            if self.X_test is not None:
                self.X_test = head.transform(self.X_test)
            self.fit_time += time.perf_counter() - start

    def train_epoch(self, classes, updates_left=None):
        """One ``partial_fit`` call (= one epoch); ``classes`` on the first call.

        With ``updates_left`` (an updates budget) the epoch stops after that many
        weight updates when the estimator's ``partial_fit`` takes ``max_updates``
        (ours do), so that every batch size gets exactly the same number of updates.
        """
        kwargs = {"classes": classes} if self.epochs == 0 and classes is not None else {}
        if updates_left is not None and self.takes_max_updates:
            kwargs["max_updates"] = max(1, int(updates_left))
        start = time.perf_counter()
        if self._next_epoch is not None:
            self._next_epoch(max_updates=kwargs.get("max_updates"))
        else:
            self.final.partial_fit(self.X_train, self.y_fit, **kwargs)
            if hasattr(self.final, "_epochs_on"):  # later epochs skip re-validating the split
                self._next_epoch = self.final._epochs_on(self.X_train, self.y_fit)
        self.fit_time += time.perf_counter() - start
        self.epochs += 1

    def fit_once(self):
        """Fit the whole model once (estimators without ``partial_fit``)."""
        start = time.perf_counter()
        self.model.fit(self.X_train, self.y_train)
        self.fit_time += time.perf_counter() - start
        self.epochs = 1

    def score(self, scorers, *, train=False):
        """``{metric: score}`` on the validation (or training) split; timed for validation."""
        est = self.final if self.incremental else self.model
        if self.incremental and self.transformer is not None:
            est = fitted_target_regressor(self.target, est, self.transformer, self.y_fit.ndim)
        X, y = (self.X_train, self.y_train) if train else (self.X_test, self.y_test)
        start = time.perf_counter()
        scores = None if train else self._scores_from_output(scorers)
        if scores is None:
            scores = score_all(scorers, est, X, y)
        if not train:
            self.score_time += time.perf_counter() - start
        return {name: float(value) for name, value in scores.items()}

    def _scores_from_output(self, scorers):
        """Validation scores from one forward pass (:mod:`tuner.search.scoring`), else None."""
        if self._fast_scoring is None:
            self._fast_scoring = self._plan_fast_scoring(scorers)
        if not self._fast_scoring:
            return None
        metrics, X, y = self._fast_scoring
        output = self.final._network_output(X)
        if not np.isfinite(output).all():
            return None  # the scorer's own error (or value) for non-finite predictions
        values = metrics_from_output(set(metrics.values()), y, output,
                                     classifier=is_classifier(self.final))
        return {name: values[metric] for name, metric in metrics.items()}

    def _plan_fast_scoring(self, scorers):
        """(metric per scorer, validated X, encoded y) when every scorer has a fast metric."""
        metrics = {name: metric_of(scorer, self.final) for name, scorer in scorers.items()}
        if not self.incremental or self.y_test is None or None in metrics.values() \
                or getattr(self, "transformer", None) is not None:  # scaled target: the scorers
            return False
        if not is_classifier(self.final):
            return metrics, self.final._checked_inputs(self.X_test), np.asarray(self.y_test, float)
        try:
            y = self.final._class_indices(np.asarray(self.y_test))
        except ValueError:  # a label unknown to the model: the scorers say what they say
            return False
        if y is None:  # multilabel targets: the scorers
            return False
        if "neg_log_loss" in metrics.values() and len(np.unique(y)) < len(self.final.classes_):
            return False  # scikit-learn's log_loss refuses a split missing a class
        return metrics, self.final._checked_inputs(self.X_test), y

    @property
    def n_updates(self):
        """Weight updates so far: ``n_updates_`` when the estimator has it, else computed."""
        n = getattr(self.final, "n_updates_", None)
        if n is not None:
            return int(n)
        return self.epochs * _batches_per_epoch(self.final, self.n_train)
