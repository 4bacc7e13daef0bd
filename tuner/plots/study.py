"""The figures of a finished study (history, importances, effort, pruning) and the registry.

Every function takes an Optuna study whose trials carry the evaluator's user
attributes (``history``, ``params``, ``n_epochs``, ``n_updates``: see
:mod:`tuner.search.trials`) and returns a :class:`matplotlib.figure.Figure`
built without pyplot (no global state; rendered by the Agg canvas), or None
when the study holds too little to draw it. matplotlib is imported inside
functions so that ``import tuner`` stays fast. Learning curves and the score
figure live in :mod:`tuner.plots.curves`, the trial data in :mod:`tuner.plots.trials`,
the shared look in :mod:`tuner.plots.style`.

Examples
--------
>>> import optuna
>>> study = optuna.create_study(direction="maximize")
>>> study_figures(study)
{}
"""

import math
import warnings
from collections import Counter

from tuner.plots.curves import learning_curves, score_vs_params
from tuner.plots.style import (
    RESOURCE_LABELS,
    STATE_LABELS,
    STATE_STYLE,
    categories,
    integer_ticks,
    label,
    legend_below,
    new_figure,
    scatter_states,
    spans_decades,
)
from tuner.plots.trials import study_resource, trial_views


def _maximize(study):
    """True when larger objective values are better."""
    return study.direction.name == "MAXIMIZE"


def optimization_history(study):
    """Score of each trial and the best complete score so far, by trial number."""
    views = [v for v in trial_views(study) if v.score is not None]
    if not views:
        return None
    figure, (ax,) = new_figure()
    scatter_states(ax, [(v.number, v.score, v.state) for v in views])
    best, line = None, []
    pick = max if _maximize(study) else min
    for view in views:
        if view.state == "complete":
            best = view.score if best is None else pick(best, view.score)
        line.append(best)
    ax.step([v.number for v in views], line, where="post", color="k", lw=1.2,
            label="best complete so far")
    legend_below(figure, [ax])
    ax.set(xlabel="trial", ylabel="mean CV score", title="Optimization history")
    integer_ticks(ax.xaxis)
    ax.grid(alpha=0.3)
    return figure


def _importances(study):
    """``(importances, complete trials)`` over the parameters that varied among complete trials.

    Optuna's warnings about tiny studies are silenced: the title gives the count.
    """
    import optuna

    complete = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    names = dict.fromkeys(n for t in complete for n in t.params)
    varied = [n for n in names if len({label(t.params[n]) for t in complete
                                       if n in t.params}) > 1]
    if len(complete) < 2 or not varied:
        return None, complete
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return optuna.importance.get_param_importances(study, params=varied), complete
    except (ValueError, RuntimeError):
        return None, complete


def param_importances(study):
    """Optuna's parameter importances (default evaluator), over the parameters that varied.

    None with fewer than two complete trials or no parameter varying among
    them; with a single varying parameter, its importance is 1 by definition
    and the title says so.
    """
    importances, complete = _importances(study)
    if not importances:
        return None
    names = list(importances)[::-1]  # most important at the top
    figure, (ax,) = new_figure(height=max(2.5, 0.45 * len(names) + 1.3))
    ax.barh(names, [importances[n] for n in names], color="#1f77b4")
    for y, name in enumerate(names):
        ax.text(importances[name], y, f" {importances[name]:.2f}", va="center", fontsize=8)
    note = f"{len(complete)} complete trials"
    if len(names) == 1:
        note += f"; only {names[0]} varied: 1 by definition"
    elif len(complete) < 10:
        note += "; few trials: a rough estimate"
    ax.set(xlabel="importance (sums to 1)", xlim=(0, 1.12),
           title=f"Hyperparameter importance ({note})")
    ax.title.set_fontsize(10)
    return figure


def _spread(groups, names):
    """x of each trial: its group's column, spread within +-0.25 so equal values stay apart."""
    counts, seen, xs = Counter(groups), Counter(), []
    for group in groups:
        n, k = counts[group], seen[group]
        seen[group] += 1
        xs.append(names.index(group) + (0.0 if n == 1 else -0.25 + 0.5 * k / (n - 1)))
    return xs


def _effort_axis(ax, values, ylabel):
    """y-axis of an effort panel: log when counts span more than two decades, else integers."""
    if spans_decades(values):
        ax.set_yscale("log")
        ax.yaxis.set_major_formatter("{x:g}")
    else:
        integer_ticks(ax.yaxis)
        ax.set_ylim(0, max(values) * 1.08 + 0.5)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3, axis="y")


def _batch_columns(views):
    """``(x of each trial, column labels)``: one column per batch size, with its (median)
    updates per epoch, ``ceil(n / b)``: what turns epochs into weight updates."""
    values = [v.params.get("batch_size", "default") for v in views]
    groups, names, ticks = [label(x) for x in values], categories(values), []
    for name in names:
        rates = sorted(round(v.n_updates / v.n_epochs) for v, group in
                       zip(views, groups, strict=True) if group == name and v.n_updates)
        ticks.append(f"{name}\n{rates[len(rates) // 2]}/epoch" if rates else name)
    return _spread(groups, names), ticks


def epochs_and_updates(study):
    """Epochs trained and weight updates per trial, grouped by batch size (one point per trial).

    With ``n`` training samples and batch size ``b`` an epoch makes ``ceil(n / b)``
    updates, so small batches make many more updates for the same epochs.
    """
    views = [v for v in trial_views(study) if v.n_epochs]
    if not views:
        return None
    xs, ticks = _batch_columns(views)
    tuned = any("batch_size" in v.params for v in views)
    figure, axes = new_figure(1, 2, width=11, height=4.8)
    for ax, attr, ylabel in ((axes[0], "n_epochs", "epochs trained"),
                             (axes[1], "n_updates", "weight updates (per fold)")):
        counts = [getattr(v, attr) for v in views]
        scatter_states(ax, [(x, c, v.state) for x, c, v in zip(xs, counts, views, strict=True)],
                       labels=STATE_LABELS)
        for column in range(1, len(ticks), 2):  # shade every other column: groups stay apart
            ax.axvspan(column - 0.5, column + 0.5, color="0.93", zorder=0)
        ax.set_xticks(range(len(ticks)), ticks, fontsize=8)
        ax.set(xlim=(-0.5, len(ticks) - 0.5),
               xlabel="batch_size, updates per epoch" if tuned
               else "batch_size (not in the search space), updates per epoch")
        _effort_axis(ax, counts, ylabel)
    legend_below(figure, axes)
    figure.suptitle("Training effort per trial, by batch size (hollow: pruned)", fontsize=10)
    return figure


def _bins(stops):
    """Histogram bin edges: one per step up to 30 steps, else 30 bins (log-spaced when the
    stops span decades, as Hyperband's rungs do), so bars stay visible."""
    low, top = min(stops), max(stops)
    if spans_decades(stops):
        low, top = low / 1.2, top * 1.2
        return [low * (top / low) ** (k / 30) for k in range(31)]
    width = max(1, math.ceil(top / 30))
    return [0.5 + width * k for k in range(math.ceil(top / width) + 1)]


def _stop_axes(axes, stops, what):
    """Axes of the pruning figure: log when the stops span decades, else integer ticks."""
    axes[0].set(xlabel="trial", ylabel=what, title="Where each trial ended")
    axes[1].set(xlabel=f"{what} when the trial ended", ylabel="trials", title="Stopping points")
    integer_ticks(axes[0].xaxis)
    integer_ticks(axes[1].yaxis)
    if spans_decades(stops):  # Hyperband's rungs (1, 3, 9, ... epochs) evenly apart
        axes[0].set_yscale("log")
        axes[1].set_xscale("log")
        axes[0].yaxis.set_major_formatter("{x:g}")
        axes[1].xaxis.set_major_formatter("{x:g}")
    else:
        axes[0].set_ylim(0, max(stops) * 1.08 + 0.5)
        integer_ticks(axes[0].yaxis)
        integer_ticks(axes[1].xaxis)
    for ax in axes:
        ax.grid(alpha=0.3)


def pruning(study):
    """Where trials stopped: the resource (epochs, updates or samples) each trial reached, by
    trial and as a histogram of pruned vs complete trials."""
    views = [v for v in trial_views(study) if v.n_epochs]
    if not views:
        return None
    resource = study_resource(study)
    stops = [v.stop(resource) for v in views]
    what = "epochs trained" if resource == "epochs" else RESOURCE_LABELS[resource]
    figure, axes = new_figure(1, 2, width=11, height=4.4)
    scatter_states(axes[0], [(v.number, s, v.state) for v, s in zip(views, stops, strict=True)],
                   labels=STATE_LABELS)
    states = [s for s in STATE_STYLE if any(v.state == s for v in views)]
    axes[1].hist([[s for v, s in zip(views, stops, strict=True) if v.state == state]
                  for state in states], bins=_bins(stops), stacked=True,
                 color=[STATE_STYLE[s]["edgecolors"] for s in states],
                 label=[STATE_LABELS[s] for s in states])
    _stop_axes(axes, stops, what)
    legend_below(figure, axes[:1])  # the histogram's colours are the markers' edges
    n_pruned = sum(v.state == "pruned" for v in views)
    figure.suptitle(f"Pruning: {n_pruned} of {len(views)} trials stopped early", fontsize=10)
    return figure


FIGURES = {
    "optimization_history": optimization_history,
    "learning_curves": learning_curves,
    "score_vs_params": score_vs_params,
    "param_importances": param_importances,
    "epochs_and_updates": epochs_and_updates,
    "pruning": pruning,
}


def study_figures(study):
    """All figures that the study has data for, by name (the PNG file stem).

    Parameters
    ----------
    study : optuna.Study
        A study run by a tuner search (or any Optuna study: figures that need
        tuner's per-epoch user attributes fall back to intermediate values).

    Returns
    -------
    dict of str to matplotlib.figure.Figure
        Keys among :data:`FIGURES`; figures without data are left out.

    Examples
    --------
    >>> import optuna
    >>> study = optuna.create_study(direction="maximize")
    >>> study.optimize(lambda t: -(t.suggest_float("x", -1, 1)) ** 2, n_trials=3)
    >>> sorted(study_figures(study))
    ['optimization_history', 'param_importances', 'score_vs_params']
    """
    figures = {}
    for name, build in FIGURES.items():
        figure = build(study)
        if figure is not None:
            figures[name] = figure
    return figures
