"""Build scikit-learn's ``cv_results_`` from a study's finished trials.

Keys are scikit-learn's exactly (``mean_fit_time``, ``std_fit_time``,
``mean_score_time``, ``std_score_time``, ``param_<name>`` masked arrays,
``params``, ``split<k>_test_<metric>``, ``mean_test_<metric>``,
``std_test_<metric>``, ``rank_test_<metric>`` and the ``train`` counterparts when
``return_train_score``; ``<metric>`` is ``score`` for a single metric) plus
``state``, ``n_epochs``, ``trial_number``, ``base_params`` (raw Optuna values),
``n_updates``, ``n_samples_seen`` and ``fail_reason``.

Ranks: complete trials first, by score (ties share the lowest rank, like
scikit-learn's ``rankdata(method="min")``), then pruned trials by score, then
failed trials, so ``rank == 1`` is always a complete trial when there is one.

Examples
--------
>>> rank_by_state(np.array([0.5, 0.9, 0.7, np.nan]),
...               np.array(["complete", "pruned", "complete", "fail"]))
array([2, 3, 1, 4], dtype=int32)
"""

from __future__ import annotations

import math

import numpy as np

from tuner.search.sklearn_private import param_columns
from tuner.search.trials import fold_values, read_attrs, state_of

_STATE_ORDER = {"complete": 0, "pruned": 1, "fail": 2}


def rank_by_state(scores, states):
    """Ranks (1 = best) with complete < pruned < failed, then higher score first."""
    group = np.array([_STATE_ORDER.get(s, 3) for s in states], dtype=float)
    # NaN scores sort after every number within their group.
    key = np.where(np.isnan(scores), np.inf, -np.asarray(scores, dtype=float))
    order = np.lexsort((key, group))
    ranks = np.empty(len(scores), dtype=np.int32)
    previous, rank = None, 0
    for position, index in enumerate(order):
        current = (group[index], key[index])
        if current != previous:  # "min" method: equal (group, score) share a rank
            rank, previous = position + 1, current
        ranks[index] = rank
    return ranks


def _fold_matrix(attrs, key, metric, n_splits):
    """(n_trials, n_splits) array of one stored attribute's per-fold values (NaN if missing)."""
    rows = []
    for trial_attrs in attrs:
        row = fold_values(trial_attrs, key, metric)[:n_splits]
        rows.append(row + [math.nan] * (n_splits - len(row)))
    return np.asarray(rows, dtype=float).reshape(len(attrs), n_splits)


def _add_scores(results, attrs, states, *, split, metric, n_splits):
    """Add ``split<k>_<split>_<metric>``, mean, std (and rank for test) columns."""
    matrix = _fold_matrix(attrs, f"split_{split}_scores", metric, n_splits)
    for k in range(n_splits):
        results[f"split{k}_{split}_{metric}"] = matrix[:, k]
    with np.errstate(invalid="ignore"):
        results[f"mean_{split}_{metric}"] = matrix.mean(axis=1)
        results[f"std_{split}_{metric}"] = matrix.std(axis=1)
    if split == "test":
        results[f"rank_test_{metric}"] = rank_by_state(results[f"mean_test_{metric}"], states)


def _add_times(results, attrs, n_splits):
    """Add mean/std of per-fold fit and score seconds."""
    for name, key in (("fit", "fit_times"), ("score", "score_times")):
        matrix = _fold_matrix(attrs, key, None, n_splits)
        results[f"mean_{name}_time"] = matrix.mean(axis=1)
        results[f"std_{name}_time"] = matrix.std(axis=1)


def build_cv_results(trials, params, *, metrics, n_splits, return_train_score=False):
    """``cv_results_`` of finished trials.

    Parameters
    ----------
    trials : list of optuna.trial.FrozenTrial
        Finished trials (COMPLETE, PRUNED, FAIL), in trial-number order.
    params : list of dict
        Estimator parameters of each trial.
    metrics : list of str
        Metric names (``["score"]`` for a single metric).
    n_splits : int
        Number of CV splits.
    return_train_score : bool
        Add the ``train`` columns.

    Returns
    -------
    dict
        Column name -> array (``params`` and ``base_params`` are lists of dicts).
    """
    states = np.array([state_of(t) for t in trials], dtype=object)
    attrs = [read_attrs(t) for t in trials]
    results = {}
    with np.errstate(invalid="ignore"):
        _add_times(results, attrs, n_splits)
    results.update(param_columns(params))
    results["params"] = list(params)
    for metric in metrics:
        _add_scores(results, attrs, states, split="test", metric=metric, n_splits=n_splits)
    if return_train_score:
        for metric in metrics:
            _add_scores(results, attrs, states, split="train", metric=metric, n_splits=n_splits)
    results["state"] = states
    _add_extras(results, trials, attrs)
    return results


def _add_extras(results, trials, attrs):
    """Add tuner's own columns: epochs, trial number, raw params, counters, fail reason."""
    results["n_epochs"] = np.array([a.n_epochs for a in attrs], dtype=int)
    results["trial_number"] = np.array([t.number for t in trials], dtype=int)
    results["base_params"] = [dict(t.params) for t in trials]
    for key in ("n_updates", "n_samples_seen"):
        results[key] = np.array([getattr(a, key) for a in attrs], dtype=int)
    results["fail_reason"] = np.array([a.fail_reason for a in attrs], dtype=object)
