"""Learning curves and final score against each hyperparameter (figures of :mod:`tuner.plots`)."""

import math

from tuner.plots.style import (
    LOG_SPAN,
    RESOURCE_LABELS,
    categories,
    finite,
    integer_ticks,
    label,
    legend_below,
    new_figure,
    positive,
    scatter_states,
    spans_decades,
)
from tuner.plots.trials import RESOURCE_KEYS, log_flags, study_resource, trial_views, varied_params

LR_PARAM = "learning_rate_init"

_ONE_COLOUR = "#1f77b4"


def _log_scale(values, log=None):
    """True when ``values`` belong on a log scale: the space says so, or they span 8x or more."""
    if log is not None:
        return bool(log) and all(positive(v) for v in values)
    return all(positive(v) for v in values) and max(values) >= 8 * min(values)


def _colour_param(views):
    """The parameter the curves are coloured by: the learning rate if it varies, else the
    batch size, else the first parameter that varies (None: nothing varies)."""
    varied = varied_params(views)
    return next((n for n in (LR_PARAM, "batch_size", *varied) if n in varied), None)


def _colouring(views, name, log=None):
    """``(colour of each view, draw_key)``: a colour bar for numbers, a legend for categories."""
    from matplotlib import colormaps
    from matplotlib.colors import LogNorm, Normalize

    if name is None:
        return [_ONE_COLOUR] * len(views), None
    values = [v.params.get(name) for v in views]
    if all(finite(x) for x in values):
        norm = (LogNorm if _log_scale(values, log) else Normalize)(min(values), max(values))
        cmap = colormaps["viridis"]
        return [cmap(norm(x)) for x in values], ("colorbar", norm, cmap, sorted(set(values)))
    names = categories(values)
    cmap = colormaps["tab10" if len(names) <= 10 else "tab20"]
    palette = {n: cmap(i % cmap.N) for i, n in enumerate(names)}
    return [palette[label(x)] for x in values], ("legend", palette)


def _draw_key(figure, axes, name, key):
    """The colour bar (numbers) or legend (categories) telling what the colours mean."""
    from matplotlib.cm import ScalarMappable
    from matplotlib.lines import Line2D

    if key is None:
        return
    if key[0] == "legend":
        handles = [Line2D([], [], color=c, lw=2, label=n) for n, c in key[1].items()]
        figure.legend(handles=handles, title=name, loc="outside right upper", fontsize=8,
                      title_fontsize=8, frameon=False)
        return
    _, norm, cmap, values = key
    bar = figure.colorbar(ScalarMappable(norm, cmap), ax=axes, label=name, pad=0.01)
    if len(values) <= 6:  # a grid: tick exactly the values tried
        bar.set_ticks(values, labels=[label(float(v)) for v in values])
        bar.ax.minorticks_off()


def _curve_axis(views, resource):
    """``(history key or None for the epoch number, x-axis label)`` of the learning curves."""
    key = RESOURCE_KEYS[resource]
    rows = [row for view in views for row in view.history]
    if all(key in row for row in rows):
        return key, RESOURCE_LABELS[resource]
    if all("step" in row for row in rows):  # a plain Optuna study: its reported steps
        return "step", "step reported to the pruner"
    if resource == "epochs":
        return None, "epoch"
    return None, f"epoch ({RESOURCE_LABELS[resource]} not stored per epoch)"


def _curve_title(name, views):
    """Figure title: what the colours mean, and the learning rate when it is fixed."""
    rates = {label(v.params[LR_PARAM]) for v in views if LR_PARAM in v.params}
    fixed = f"{LR_PARAM} fixed at {rates.pop()}" if len(rates) == 1 else ""
    if name is None:
        what = "(one colour: no parameter varies" + (f"; {fixed})" if fixed else ")")
    else:
        what = f"coloured by {name}" + (f" ({fixed})" if fixed and name != LR_PARAM else "")
    return (f"Learning curves {what}\nthe marker is where each trial stopped "
            "(filled: complete; hollow, dashed: pruned; x: failed)")


def _plot_curve(axes, view, x_key, color):
    """A trial's line in each panel, marked at its last point (so one-epoch trials show)."""
    ended = {"complete": ("o", color), "pruned": ("o", "white"), "fail": ("X", color)}
    marker, face = ended[view.state]
    style = {"color": color, "lw": 1.3, "alpha": 0.85, "marker": marker, "markersize": 5,
             "markerfacecolor": face, "ls": "-" if view.state == "complete" else "--"}
    for ax, metric in zip(axes, ("mean_test_score", "train_loss"), strict=False):
        points = [(e if x_key is None else row.get(x_key), row[metric])
                  for e, row in enumerate(view.history, 1) if finite(row.get(metric))]
        if points:
            ax.plot(*zip(*points, strict=True), markevery=[len(points) - 1], **style)


def learning_curves(study):
    """Validation score and training loss per epoch (or per resource unit), one line per trial.

    Lines are coloured by the learning rate on a log scale: too small a rate
    gives flat curves, a good one a quick rise, too large a noisy or diverging
    loss. When the learning rate is fixed, the colour follows the parameter
    that varies (batch size first); with nothing varying, one colour and no key.
    The x-axis is the pruner's resource (weight updates or samples seen) when
    the per-epoch records hold it, else the epoch.
    """
    views = [v for v in trial_views(study) if v.history]
    if not views:
        return None
    name = _colour_param(views)
    colors, key = _colouring(views, name, log_flags(study).get(name))
    has_loss = any("train_loss" in row for v in views for row in v.history)
    figure, axes = new_figure(1, 2 if has_loss else 1, width=12 if has_loss else 8, height=5)
    x_key, x_label = _curve_axis(views, study_resource(study))
    for view, color in zip(views, colors, strict=True):
        _plot_curve(axes, view, x_key, color)
    axes[0].set(xlabel=x_label, ylabel="mean CV score", title="Validation score")
    if has_loss:
        axes[1].set(xlabel=x_label, ylabel="training loss (log)", title="Training loss",
                    yscale="log")
        low, high = axes[1].get_ylim()
        if high < 10 * low:  # under a decade: 2.3, not 2.3x10^0
            axes[1].yaxis.set_major_formatter("{x:.4g}")
            axes[1].yaxis.set_minor_formatter("{x:.4g}")
    long = spans_decades(float(x) for ax in axes for line in ax.lines for x in line.get_xdata())
    for ax in axes:
        ax.grid(alpha=0.3)
        if long:  # hundreds of epochs, most trials pruned in the first few: log x
            ax.set_xscale("log")
            ax.xaxis.set_major_formatter("{x:g}")
            ax.set_xlabel(f"{x_label} (log scale)")
        else:
            integer_ticks(ax.xaxis)
    _draw_key(figure, axes, name, key)
    figure.suptitle(_curve_title(name, views), fontsize=9)
    return figure


def _panels(views):
    """``(title, value of a view)`` per panel: the varied parameters (learning rate and batch
    size first), then the epochs each trial trained, which replaces ``max_iter``."""
    varied = [n for n in varied_params(views) if n != "max_iter"]
    first = [n for n in (LR_PARAM, "batch_size") if n in varied]
    panels = [(n, lambda v, n=n: v.params.get(n)) for n in first + [n for n in varied
                                                                   if n not in first]]
    if any(v.n_epochs for v in views):
        panels.append(("epochs trained", lambda v: v.n_epochs))
    return panels


def _set_scale(ax, values, log):
    """Log axis when the space samples the parameter on a log scale (``log`` None: when it
    spans more than two decades, or base 2 for powers of two spanning 8x or more)."""
    loggable = all(positive(x) for x in values)
    wide = loggable and max(values) / min(values) > LOG_SPAN
    powers = all(isinstance(x, int) and x > 0 and x & (x - 1) == 0 for x in values) \
        and max(values) >= 8 * min(values)
    if loggable and (wide if log is None else log):
        ax.set_xscale("log")
    elif log is None and powers:
        ax.set_xscale("log", base=2)  # batch sizes and layer widths
        ax.xaxis.set_major_formatter("{x:g}")  # 16, 32, not 2^4, 2^5
    distinct = sorted(set(values))
    if all(isinstance(x, int) for x in values) and len(distinct) <= 8:
        ax.set_xticks(distinct, [f"{x:g}" for x in distinct])  # few values: tick exactly them
        ax.minorticks_off()
    elif all(isinstance(x, int) for x in values) and ax.get_xscale() == "linear":
        integer_ticks(ax.xaxis)


def _draw_param(ax, views, name, value_of, log=None):
    """Scatter the final score against one parameter, by trial state."""
    pairs = [(value_of(v), v.score, v.state) for v in views if value_of(v) is not None]
    values = [p[0] for p in pairs]
    if all(finite(x) for x in values):
        positions = values
        _set_scale(ax, values, log)
    else:  # categorical: one column per value, numbers first
        names = categories(values)
        positions = [names.index(label(x)) for x in values]
        ax.set_xticks(range(len(names)), names, rotation=20 if sum(map(len, names)) > 24 else 0,
                      fontsize=8)
        ax.set_xlim(-0.5, len(names) - 0.5)
    scatter_states(ax, [(x, s, st) for x, (_, s, st) in zip(positions, pairs, strict=True)])
    ax.set_xlabel(name)
    ax.grid(alpha=0.3)


def _score_title(views, n_unscored):
    """Figure title: what is drawn, fixed learning rate / batch size, trials without a score."""
    notes = []
    for name in (LR_PARAM, "batch_size"):
        values = {label(v.params[name]) for v in views if name in v.params}
        if len(values) == 1:
            notes.append(f"{name} fixed at {values.pop()}")
    if n_unscored:
        notes.append(f"{n_unscored} failed trial(s) without a score not shown")
    return "Final score by hyperparameter" + (f" ({'; '.join(notes)})" if notes else "")


def score_vs_params(study):
    """Final score against each varied parameter and the epochs trained (one panel each).

    Complete trials are filled; pruned ones hollow grey at the score they had
    when stopped, so that "stopped early" does not read as "bad value".
    """
    views = trial_views(study)
    scored = [v for v in views if v.score is not None]
    panels = _panels(scored)
    if not panels:
        return None
    ncols = 2 if len(panels) in (2, 4) else min(3, len(panels))
    nrows = math.ceil(len(panels) / ncols)
    figure, axes = new_figure(nrows, ncols, width=4 * ncols, height=3.2 * nrows + 0.6)
    flags = log_flags(study)
    for ax, (name, value_of) in zip(axes, panels, strict=False):
        _draw_param(ax, scored, name, value_of, log=flags.get(name))
    for ax in axes[len(panels):]:
        ax.set_visible(False)
    for ax in axes[::ncols]:
        ax.set_ylabel("mean CV score")
    legend_below(figure, axes[:len(panels)])
    figure.suptitle(_score_title(scored, len(views) - len(scored)), fontsize=10)
    return figure
