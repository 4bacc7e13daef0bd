"""Evaluate one trial: cross-validation folds trained in lockstep, epoch by epoch.

:func:`evaluate_trial` is the Optuna objective of every driver. Per trial it

1. asks the search space for the trial's raw parameters and resolves them into
   estimator parameters;
2. clones the estimator once per CV split and sets the parameters (a
   :class:`~sklearn.pipeline.Pipeline` takes ``step__name`` keys);
3. when the final estimator trains by epoch
   (:func:`~tuner.search.folds.trains_by_epoch`: tuner's and scikit-learn's MLPs,
   or any estimator with ``partial_fit`` given ``incremental=True``): fits the
   preprocessing steps of a pipeline once per fold (``fit_transform`` on the
   training split, ``transform`` on the validation split), then calls
   ``partial_fit`` (one epoch) on every fold in turn, scores every validation
   split after each epoch, reports the mean over folds to Optuna
   (``trial.report(mean, step)``) and stops when the pruner says so or the epoch
   budget is spent;
4. otherwise fits each fold once (no pruning).

A failure (any exception, e.g. ``DivergenceError`` for a too large learning rate)
is recorded on the trial (``fail_reason``, scores = ``error_score``) and the
objective returns NaN, so Optuna marks the trial FAIL and the search goes on;
with ``error_score="raise"`` the exception propagates.

Examples
--------
>>> import optuna
>>> from sklearn.datasets import load_iris
>>> from sklearn.linear_model import SGDClassifier
>>> from sklearn.metrics import check_scoring
>>> from sklearn.model_selection import KFold
>>> from scipy.stats import loguniform
>>> from tuner.search.task import TrialTask
>>> from tuner.spaces import SearchSpace
>>> X, y = load_iris(return_X_y=True)
>>> est = SGDClassifier(max_iter=3, random_state=0)
>>> space = SearchSpace.load({"alpha": loguniform(1e-4, 1e-2)})
>>> task = TrialTask(estimator=est, X=X, y=y, space=space,
...                  splits=list(KFold(3, shuffle=True, random_state=0).split(X)),
...                  scorers={"score": check_scoring(est)}, classes=[0, 1, 2],
...                  incremental=True)
>>> study = optuna.create_study(direction="maximize")
>>> study.optimize(lambda t: evaluate_trial(t, task), n_trials=1)
>>> study.trials[0].user_attrs["n_epochs"]
3
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field

import numpy as np
import optuna

from tuner.search.budget import most_epochs
from tuner.search.folds import Fold
from tuner.search.steps import fitted_target_regressor
from tuner.search.trials import GRID_ATTR, write_attrs

_logger = logging.getLogger(__name__)
__all__ = ["evaluate_trial", "refit_incremental"]



@dataclass
class _Progress:
    """What a trial has produced so far (kept when it fails midway)."""

    folds: list = field(default_factory=list)
    history: list = field(default_factory=list)
    test_scores: list = field(default_factory=list)
    train_scores: list = field(default_factory=list)
    state: str = "complete"

    def mean_of(self, attr):
        """Mean over folds of an integer fold attribute."""
        return int(round(float(np.mean([getattr(f, attr) for f in self.folds])))) \
            if self.folds else 0


def _epoch_limit(task, estimator):
    """Epochs to train unless another budget stops first (None: until the updates budget)."""
    return most_epochs(task.budget, estimator.get_params().get("max_iter"), default=1)


def _budget_spent(task, progress, limit):
    """True when the trial has used its budget (epochs, updates or fit seconds)."""
    kind, value = task.budget or (None, None)
    if kind == "updates":
        return progress.mean_of("n_updates") >= value
    if kind == "seconds" and sum(f.fit_time for f in progress.folds) >= value:
        return True
    return progress.folds[0].epochs >= limit


def _step(task, progress):
    """The step reported to the pruner: epochs, weight updates or samples seen."""
    if task.resource == "updates":
        return progress.mean_of("n_updates")
    if task.resource == "samples":
        return progress.mean_of("n_train") * progress.folds[0].epochs
    return progress.folds[0].epochs


def _epoch_metrics(task, progress, scores):
    """Per-epoch metrics: fold scores, their mean and std, training loss, counters."""
    metrics = {"epoch": progress.folds[0].epochs}
    for name in task.scorers:
        values = [s[name] for s in scores]
        metrics[f"mean_test_{name}"] = float(np.mean(values))
        metrics[f"std_test_{name}"] = float(np.std(values))
        for k, value in enumerate(values):
            metrics[f"split{k}_test_{name}"] = value
    metrics["mean_test_score"] = metrics[f"mean_test_{task.objective}"]
    losses = [getattr(f.final, "loss_", None) for f in progress.folds]
    if all(loss is not None for loss in losses):
        metrics["train_loss"] = float(np.mean(losses))
    metrics["n_updates"] = progress.mean_of("n_updates")
    metrics["n_samples_seen"] = progress.mean_of("n_train") * progress.folds[0].epochs
    metrics["fit_time"] = float(sum(f.fit_time for f in progress.folds))
    return metrics


def _after_epoch(trial, task, progress):
    """Score every fold, record the epoch's metrics and tell the callbacks."""
    progress.test_scores = [fold.score(task.scorers) for fold in progress.folds]
    metrics = _epoch_metrics(task, progress, progress.test_scores)
    progress.history.append(metrics)
    task.callbacks.on_epoch(trial.number, metrics["epoch"], metrics)
    return metrics["mean_test_score"]


def _train(trial, task, progress):
    """Train (see :func:`_train_epochs`), then score the training folds if asked."""
    _train_epochs(trial, task, progress)
    if task.return_train_score:
        progress.train_scores = [f.score(task.scorers, train=True) for f in progress.folds]


def _train_epochs(trial, task, progress):
    """Fit once, or train every fold one epoch at a time until budget or pruning."""
    folds = progress.folds
    if not folds[0].incremental:
        for fold in folds:
            fold.fit_once()
        _after_epoch(trial, task, progress)
        return
    for fold in folds:
        fold.preprocess()
    limit = _epoch_limit(task, folds[0].final)
    kind, budget = task.budget or (None, None)
    while True:
        for fold in folds:
            fold.train_epoch(task.classes,
                             updates_left=budget - fold.n_updates if kind == "updates" else None)
        value = _after_epoch(trial, task, progress)
        trial.report(value, step=_step(task, progress))
        if _budget_spent(task, progress, limit):
            return
        if trial.should_prune():
            progress.state = "pruned"
            return


def _store(trial, task, progress, split_test, fail_reason=None):
    """Write the trial's results as Optuna user attributes (see :mod:`~tuner.search.trials`)."""
    n_splits = len(task.splits)
    fit_times = [f.fit_time for f in progress.folds] + [math.nan] * n_splits
    score_times = [f.score_time for f in progress.folds] + [math.nan] * n_splits
    attrs = {
        "split_test_scores": split_test,
        "fit_times": fit_times[:n_splits], "score_times": score_times[:n_splits],
        "n_epochs": progress.folds[0].epochs if progress.folds else 0,
        "n_updates": progress.mean_of("n_updates"),
        "n_samples_seen": progress.mean_of("n_train") * (
            progress.folds[0].epochs if progress.folds else 0),
        "history": progress.history,
    }
    if progress.train_scores:
        attrs["split_train_scores"] = {m: [s[m] for s in progress.train_scores]
                                       for m in task.scorers}
    if fail_reason is not None:
        attrs["fail_reason"] = fail_reason
    write_attrs(trial, **attrs)


def _failure(trial, task, progress, reason):
    """Record a failed trial (scores = ``error_score``) and return NaN so Optuna marks FAIL."""
    _logger.warning("Trial %d failed: %s", trial.number, reason)
    score = float(task.error_score)
    split_test = {m: [score] * len(task.splits) for m in task.scorers}
    progress.train_scores = [{m: score for m in task.scorers}] * len(task.splits) \
        if task.return_train_score else []
    _store(trial, task, progress, split_test, fail_reason=reason)
    return math.nan


def evaluate_trial(trial, task):
    """Optuna objective: cross-validate one trial's parameters epoch by epoch.

    Parameters
    ----------
    trial : optuna.Trial
    task : TrialTask

    Returns
    -------
    float
        Mean validation ``task.objective`` at the last epoch; NaN (FAIL) on failure.

    Raises
    ------
    optuna.TrialPruned
        When pruned (last scores kept); fit errors when ``error_score="raise"``.

    Examples
    --------
    See the module docstring (``study.optimize(lambda t: evaluate_trial(t, task))``).
    """
    raw = task.space.suggest(trial, point=trial.user_attrs.get(GRID_ATTR))
    params = task.space.resolve(raw, n_samples=task.n_samples)
    write_attrs(trial, params=params)
    progress = _Progress()
    try:
        progress.folds = [Fold.from_task(task, params, tr, te) for tr, te in task.splits]
        _train(trial, task, progress)
    except Exception as exc:
        if task.error_score == "raise":
            raise
        return _failure(trial, task, progress, f"{type(exc).__name__}: {exc}")
    split_test = {m: [s[m] for s in progress.test_scores] for m in task.scorers}
    value = float(np.mean(split_test[task.objective]))
    if not math.isfinite(value):
        return _failure(trial, task, progress, "non-finite validation score")
    _store(trial, task, progress, split_test)
    if progress.state == "pruned":
        raise optuna.TrialPruned(f"pruned after epoch {progress.folds[0].epochs}")
    return value


def refit_incremental(model, X, y, *, n_epochs, classes=None, n_updates=None,
                      incremental="auto"):
    """Train ``model`` like a trial does (preprocess once, ``n_epochs`` partial_fit calls).

    With ``n_updates`` (a trial trained to an updates budget) it trains until that
    many weight updates instead, stopping the last epoch early where it can.
    Falls back to ``model.fit(X, y)`` when trials fit it once
    (:func:`~tuner.search.folds.trains_by_epoch` with ``incremental``). Returns the
    fitted model.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.linear_model import SGDClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> refit_incremental(SGDClassifier(random_state=0), X, y, n_epochs=3,
    ...                   classes=[0, 1, 2], incremental=True).t_ > 0
    True
    """
    fold = Fold(model, X, y, incremental=incremental)
    if not fold.incremental:
        return model.fit(X, y)
    fold.preprocess()
    if n_updates is None:
        for _ in range(max(1, int(n_epochs))):
            fold.train_epoch(classes)
    else:
        while fold.epochs == 0 or fold.n_updates < n_updates:
            fold.train_epoch(classes, updates_left=n_updates - fold.n_updates)
    if fold.transformer is None:
        return model
    return fitted_target_regressor(model, fold.inner, fold.transformer, fold.y_fit.ndim)


