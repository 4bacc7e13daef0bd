"""Figures of a finished study, read from its storage (no retraining).

Every function takes an Optuna study whose trials carry the evaluator's user
attributes (``history``, ``params``, ``n_epochs``, ``n_updates``: see
:mod:`tuner.search.records`) and returns a :class:`matplotlib.figure.Figure`
built without pyplot (no global state; rendered by the Agg canvas), or None
when the study holds too little to draw it. matplotlib is imported inside
functions so that ``import tuner`` stays fast.

Examples
--------
>>> import optuna
>>> study = optuna.create_study(direction="maximize")
>>> study_figures(study)
{}
"""

import math
from dataclasses import dataclass, field

STATE_COLORS = {"complete": "#1f77b4", "pruned": "#ff7f0e", "fail": "#d62728"}
_STATES = {"COMPLETE": "complete", "PRUNED": "pruned", "FAIL": "fail"}
LR_PARAM = "learning_rate_init"
# parameters drawn on a log axis when they span more than two decades
_LOG_SPAN = 100.0


@dataclass
class TrialView:
    """What the figures need from one finished trial."""

    number: int
    state: str
    score: float | None
    params: dict
    history: list = field(default_factory=list)
    n_epochs: int = 0
    n_updates: int = 0


def _history(trial):
    """Per-epoch metric dicts: the evaluator's ``history``, else Optuna's intermediate values."""
    history = trial.user_attrs.get("history")
    if history:
        return list(history)
    steps = sorted(trial.intermediate_values)
    return [{"mean_test_score": trial.intermediate_values[s]} for s in steps]


def _params(trial):
    """Estimator params (pipeline prefixes such as ``mlp__`` dropped), then raw Optuna ones.

    The estimator's values come first: with a derived rule (e.g. learning rate
    scaled with batch size) they are the values actually used for training.
    """
    params = {}
    for key, value in (trial.user_attrs.get("params") or {}).items():
        params.setdefault(key.rsplit("__", 1)[-1], value)
    for key, value in trial.params.items():
        params.setdefault(key, value)
    return params


def _final_score(trial, history):
    """The trial's objective value; for a pruned trial, its last reported score."""
    if trial.value is not None and math.isfinite(trial.value):
        return float(trial.value)
    last = history[-1].get("mean_test_score") if history else None
    return float(last) if last is not None and math.isfinite(last) else None


def trial_views(study):
    """One :class:`TrialView` per complete, pruned or failed trial, in trial order.

    Parameters
    ----------
    study : optuna.Study

    Returns
    -------
    list of TrialView

    Examples
    --------
    >>> import optuna
    >>> trial_views(optuna.create_study())
    []
    """
    views = []
    for trial in study.trials:
        state = _STATES.get(trial.state.name)
        if state is None:
            continue  # running or waiting
        history = _history(trial)
        params = _params(trial)
        views.append(TrialView(
            number=trial.number, state=state, score=_final_score(trial, history),
            params=params, history=history,
            n_epochs=int(trial.user_attrs.get("n_epochs") or len(history)),
            n_updates=int(trial.user_attrs.get("n_updates") or 0)))
    return views


def _figure(nrows=1, ncols=1, *, width=7.5, height=4.5):
    """A pyplot-free figure with a grid of axes (always returned as a flat list)."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), layout="constrained")
    axes = figure.subplots(nrows, ncols, squeeze=False)
    return figure, list(axes.ravel())


def _maximize(study):
    """True when larger objective values are better."""
    return study.direction.name == "MAXIMIZE"


def _state_legend(ax, states):
    """Legend with one entry per trial state present."""
    from matplotlib.lines import Line2D

    handles = [Line2D([], [], marker="o", ls="", color=STATE_COLORS[s], label=s)
               for s in STATE_COLORS if s in states]
    if handles:
        ax.legend(handles=handles, loc="best", fontsize=8, frameon=False)


def optimization_history(study):
    """Score of each trial and the best score so far, by trial number."""
    views = [v for v in trial_views(study) if v.score is not None]
    if not views:
        return None
    figure, (ax,) = _figure()
    for view in views:
        ax.scatter(view.number, view.score, color=STATE_COLORS[view.state], s=22, zorder=3)
    best, line = None, []
    pick = max if _maximize(study) else min
    for view in views:
        if view.state == "complete":
            best = view.score if best is None else pick(best, view.score)
        line.append(best)
    ax.step([v.number for v in views], line, where="post", color="k", lw=1.2, label="best")
    _state_legend(ax, {v.state for v in views})
    ax.set(xlabel="trial", ylabel="mean CV score", title="Optimization history")
    ax.grid(alpha=0.3)
    return figure


def _lr_norm(views):
    """Log colour scale over the trials' learning rates (None without a learning rate)."""
    from matplotlib.colors import LogNorm

    rates = [v.params[LR_PARAM] for v in views if _positive(v.params.get(LR_PARAM))]
    if not rates:
        return None
    low, high = min(rates), max(rates)
    return LogNorm(low / 1.5, high * 1.5) if low == high else LogNorm(low, high)


def _positive(value):
    """True for a finite number > 0 (usable on a log scale)."""
    return isinstance(value, int | float) and not isinstance(value, bool) and 0 < value < math.inf


def learning_curves(study):
    """Validation score and training loss per epoch, one line per trial coloured by learning rate.

    Too small a learning rate gives flat curves, a good one a quick rise, too
    large a noisy or diverging loss; the log colour scale makes that visible.
    """
    views = [v for v in trial_views(study) if v.history]
    if not views:
        return None
    from matplotlib import colormaps
    from matplotlib.cm import ScalarMappable

    norm, cmap = _lr_norm(views), colormaps["viridis"]
    has_loss = any("train_loss" in row for v in views for row in v.history)
    figure, axes = _figure(1, 2 if has_loss else 1, width=11 if has_loss else 7.5)
    for view in views:
        lr = view.params.get(LR_PARAM)
        color = cmap(norm(lr)) if norm is not None and _positive(lr) else "grey"
        style = {"color": color, "lw": 1.3, "alpha": 0.85,
                 "ls": "-" if view.state == "complete" else "--"}
        for ax, key in zip(axes, ("mean_test_score", "train_loss"), strict=False):
            points = [(e, row[key]) for e, row in enumerate(view.history, 1)
                      if _finite(row.get(key))]
            if points:
                ax.plot(*zip(*points, strict=True), **style)
    axes[0].set(xlabel="epoch", ylabel="mean CV score", title="Validation score")
    if has_loss:
        axes[1].set(xlabel="epoch", ylabel="training loss", title="Training loss", yscale="log")
    for ax in axes:
        ax.grid(alpha=0.3)
    if norm is not None:
        figure.colorbar(ScalarMappable(norm, cmap), ax=axes, label=LR_PARAM, pad=0.01)
    figure.suptitle("Learning curves (dashed: pruned or failed)", fontsize=10)
    return figure


def _finite(value):
    """True for a finite real number."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _varied_params(views):
    """Parameters that take more than one value across the trials, in first-seen order."""
    names = {}
    for view in views:
        for name, value in view.params.items():
            names.setdefault(name, set()).add(repr(value))
    return [name for name, values in names.items() if len(values) > 1]


def _log_flags(study):
    """``{name: log}`` of the study's float and int distributions (``log: true`` in the space)."""
    return {name: dist.log for trial in study.get_trials(deepcopy=False)
            for name, dist in trial.distributions.items() if hasattr(dist, "log")}


def _draw_param(ax, views, name, log=None):
    """Scatter the final score against one parameter: a log axis when the space samples it
    on a log scale (``log`` None: when its positive values span more than two decades)."""
    pairs = [(v.params[name], v.score, v.state) for v in views if name in v.params]
    values = [p[0] for p in pairs]
    if all(_finite(x) for x in values):
        positions = values
        wide = all(_positive(x) for x in values) and max(values) / min(values) > _LOG_SPAN
        powers = all(isinstance(x, int) and x > 0 for x in values) \
            and max(values) >= 8 * min(values)
        if wide if log is None else log:
            ax.set_xscale("log")
        elif log is None and powers:
            ax.set_xscale("log", base=2)  # batch sizes and layer widths: powers of two
    else:  # categorical: one column per value, in first-seen order
        labels = list(dict.fromkeys(repr(x) for x in values))
        positions = [labels.index(repr(x)) for x in values]
        ax.set_xticks(range(len(labels)), labels, rotation=20, fontsize=8)
    colors = [STATE_COLORS[p[2]] for p in pairs]
    ax.scatter(positions, [p[1] for p in pairs], c=colors, s=20, alpha=0.85)
    ax.set_xlabel(name)
    ax.grid(alpha=0.3)


def score_vs_params(study):
    """Final score against each parameter that varied (one panel per parameter)."""
    views = [v for v in trial_views(study) if v.score is not None]
    names = _varied_params(views)
    if not names:
        return None
    ncols = min(3, len(names))
    nrows = math.ceil(len(names) / ncols)
    figure, axes = _figure(nrows, ncols, width=3.8 * ncols, height=3.2 * nrows)
    log_flags = _log_flags(study)
    for ax, name in zip(axes, names, strict=False):
        _draw_param(ax, views, name, log=log_flags.get(name))
    for ax in axes[len(names):]:
        ax.set_visible(False)
    for ax in axes[::ncols]:
        ax.set_ylabel("mean CV score")
    _state_legend(axes[0], {v.state for v in views})
    figure.suptitle("Final score by hyperparameter", fontsize=10)
    return figure


def param_importances(study):
    """Optuna's parameter importances (None with fewer than two complete trials)."""
    import optuna

    complete = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    if len(complete) < 2:
        return None
    try:
        importances = optuna.importance.get_param_importances(study)
    except (ValueError, RuntimeError):  # e.g. no parameter varied among complete trials
        return None
    if not importances:
        return None
    names = list(importances)[::-1]  # most important at the top
    figure, (ax,) = _figure(height=max(2.5, 0.45 * len(names) + 1.2))
    ax.barh(names, [importances[n] for n in names], color="#1f77b4")
    for y, name in enumerate(names):
        ax.text(importances[name], y, f" {importances[name]:.2f}", va="center", fontsize=8)
    ax.set(xlabel="importance (sums to 1)", title="Hyperparameter importance", xlim=(0, 1.1))
    return figure


def _batch_colors(views):
    """A colour per distinct batch size (sorted), for the epochs/updates figure."""
    from matplotlib import colormaps

    sizes = sorted({str(v.params.get("batch_size", "n/a")) for v in views},
                   key=lambda s: (not s.isdigit(), int(s) if s.isdigit() else 0, s))
    cmap = colormaps["tab10"]
    return {size: cmap(i % 10) for i, size in enumerate(sizes)}


def epochs_and_updates(study):
    """Epochs trained and weight updates per trial, coloured by batch size.

    With ``n`` training samples and batch size ``b`` an epoch makes ``ceil(n / b)``
    updates, so small batches make many more updates for the same epochs.
    """
    views = [v for v in trial_views(study) if v.n_epochs]
    if not views:
        return None
    from matplotlib.patches import Patch

    colors = _batch_colors(views)
    figure, axes = _figure(1, 2, width=11)
    for ax, key, label in zip(axes, ("n_epochs", "n_updates"), ("epochs trained",
                                                               "weight updates (per fold)"),
                              strict=True):
        for view in views:
            ax.bar(view.number, getattr(view, key),
                   color=colors[str(view.params.get("batch_size", "n/a"))],
                   alpha=1.0 if view.state == "complete" else 0.5)
        ax.set(xlabel="trial", ylabel=label)
        ax.grid(alpha=0.3, axis="y")
    axes[1].legend(handles=[Patch(color=c, label=s) for s, c in colors.items()],
                   title="batch_size", fontsize=8, title_fontsize=8, frameon=False,
                   loc="upper left", bbox_to_anchor=(1.01, 1.0))  # outside: bars stay visible
    figure.suptitle("Training effort per trial (faded: pruned or failed)", fontsize=10)
    return figure


def pruning(study):
    """Epoch at which each trial ended, by state: where the pruner stopped trials."""
    views = [v for v in trial_views(study) if v.n_epochs]
    if not views:
        return None
    figure, axes = _figure(1, 2, width=11)
    for view in views:
        axes[0].scatter(view.number, view.n_epochs, color=STATE_COLORS[view.state], s=22)
    axes[0].set(xlabel="trial", ylabel="last epoch trained", title="Where each trial ended",
                ylim=(0, max(v.n_epochs for v in views) * 1.08))
    _state_legend(axes[0], {v.state for v in views})
    states = [s for s in STATE_COLORS if any(v.state == s for v in views)]
    top = max(v.n_epochs for v in views)
    bins = [b - 0.5 for b in range(1, top + 2)]
    axes[1].hist([[v.n_epochs for v in views if v.state == s] for s in states], bins=bins,
                 stacked=True, color=[STATE_COLORS[s] for s in states], label=states)
    axes[1].set(xlabel="last epoch trained", ylabel="trials", title="Stopping epochs")
    for ax in axes:
        ax.grid(alpha=0.3)
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
