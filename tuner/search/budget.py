"""Training budgets per trial and the pruner that stops trials early.

A trial trains until its budget is spent (see ``budget=`` of the drivers):
``None`` (``max_iter`` epochs), ``{"epochs": N}``, ``{"updates": N}`` (until the
estimator's ``n_updates_`` reaches N, whatever the batch size) or
``{"seconds": S}`` (after the epoch that crosses S seconds of fit time). The
pruner compares trials at the same *step*, which is the ``resource``: epochs,
weight updates or training samples seen, so that e.g. Hyperband can compare
small and large batches on equal updates. Its ``max_resource`` is the largest
step a trial can report (:func:`max_resource`).

Examples
--------
>>> check_budget({"updates": 5000})
('updates', 5000)
"""

from __future__ import annotations

import math

import optuna
from sklearn.compose import TransformedTargetRegressor
from sklearn.pipeline import Pipeline

from tuner.errors import ConfigError
from tuner.search.steps import final_step
from tuner.search.trials import fold_values, is_finished, read_attrs

BUDGETS = ("epochs", "updates", "seconds")
RESOURCES = ("epochs", "updates", "samples")


def check_budget(budget, key="budget"):
    """``None`` or ``(kind, value)`` from a ``{"epochs" | "updates" | "seconds": value}`` dict."""
    if budget is None:
        return None
    if not isinstance(budget, dict) or len(budget) != 1 or next(iter(budget)) not in BUDGETS:
        raise ConfigError(f"{key} must be one kind with one value", key=key, value=budget,
                          allowed="None or {epochs: N} | {updates: N} | {seconds: S}")
    kind, value = next(iter(budget.items()))
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < math.inf:
        raise ConfigError(f"{key} must be positive and finite", key=f"{key}.{kind}",
                          value=value, allowed="a finite number > 0")
    return kind, value


def study_budget_used(trials, kind):
    """What the finished trials used of a study budget of ``kind``.

    Epochs and weight updates are counted per fold, as in ``cv_results_``
    (``n_epochs``, ``n_updates``); seconds are fit seconds summed over folds.

    Examples
    --------
    >>> import optuna
    >>> study = optuna.create_study()
    >>> study.add_trial(optuna.trial.create_trial(value=0.5, user_attrs={"n_updates": 40}))
    >>> study_budget_used(study.trials, "updates")
    40
    """
    finished = [read_attrs(t) for t in trials if is_finished(t)]
    if kind == "seconds":
        return math.fsum(s for a in finished for s in fold_values(a, "fit_times")
                         if math.isfinite(s))
    return sum(a.n_epochs if kind == "epochs" else a.n_updates for a in finished)


def most_epochs(budget, max_iter, *, default=None):
    """The most epochs a trial can get: THE rule, for the trial and for the pruner.

    The epochs budget wins; an updates budget has no epoch cap (None); otherwise
    ``max_iter`` (``default`` when it is unknown).

    Examples
    --------
    >>> most_epochs(("epochs", 5), 200), most_epochs(("updates", 9), 200), most_epochs(None, 30)
    (5, None, 30)
    """
    kind, value = budget or (None, None)
    if kind == "epochs":
        return int(value)
    if kind == "updates":
        return None
    return int(max_iter) if max_iter else default


def _max_iter_key(estimator):
    """The estimator parameter that sets the final step's ``max_iter`` (``mlp__max_iter``,
    ``regressor__mlp__max_iter`` ...)."""
    prefix = ""
    if isinstance(estimator, TransformedTargetRegressor):
        prefix, estimator = "regressor__", estimator.regressor
    if isinstance(estimator, Pipeline):
        prefix += f"{estimator.steps[-1][0]}__"
    return f"{prefix}max_iter"


def _max_iter_bound(estimator, space):
    """Largest ``max_iter`` a trial can get: from the space, else the estimator's."""
    try:
        bound = space.upper_bound(_max_iter_key(estimator))
    except (ValueError, KeyError, AttributeError, TypeError):  # not in the space
        bound = final_step(estimator).get_params().get("max_iter")
    return int(bound) if bound else None


def max_resource(task, space):
    """The largest step a trial reports (for Hyperband); ``"auto"`` when unknown.

    ``resource="epochs"``: the epochs budget, else the largest ``max_iter`` of
    the space (``space.upper_bound``), else the estimator's ``max_iter``.
    ``"updates"``: the updates budget. ``"samples"``: largest epochs x the
    training-fold size.
    """
    kind, value = task.budget or (None, None)
    if task.resource == "updates":
        return int(value) if kind == "updates" else "auto"
    epochs = most_epochs(task.budget, _max_iter_bound(task.estimator, space))
    if epochs is None:
        return "auto"
    return epochs * max(len(tr) for tr, _ in task.splits) if task.resource == "samples" \
        else epochs


def resolve_pruner(pruner, *, max_resource="auto"):
    """An Optuna pruner from None, "median", "halving", "hyperband" or a pruner object.

    Examples
    --------
    >>> type(resolve_pruner("hyperband", max_resource=100)).__name__
    'HyperbandPruner'
    """
    known = max_resource != "auto"
    min_resource = 1 if not known or max_resource <= 200 else max(1, max_resource // 100)
    if pruner is None:
        return optuna.pruners.NopPruner()
    if isinstance(pruner, optuna.pruners.BasePruner):
        return pruner
    if pruner == "median":  # no pruning during the first 10% of the budget
        warmup = math.ceil(0.1 * max_resource) if known else 0
        return optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=warmup)
    if pruner == "halving":
        return optuna.pruners.SuccessiveHalvingPruner(min_resource=min_resource,
                                                      reduction_factor=3)
    if pruner == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=min_resource,
                                              max_resource=max_resource, reduction_factor=3)
    raise ConfigError("unknown pruner", key="pruner", value=pruner,
                      allowed="None, median, halving, hyperband or an optuna pruner")
