"""The look the study figures share, and how values read on their axes.

Every figure gets the same trial-state markers: complete trials filled, pruned
ones hollow grey (their score is where they were stopped, not where they would
have ended), failed ones a red cross. matplotlib is imported inside functions only.
"""

import math

# parameters drawn on a log axis when they span more than two decades
LOG_SPAN = 100.0

#: resource -> axis label
RESOURCE_LABELS = {"epochs": "epoch", "updates": "weight updates (per fold)",
                   "samples": "training samples seen (per fold)"}

#: trial state -> scatter style (facecolor "none": hollow)
STATE_STYLE = {
    "complete": {"marker": "o", "edgecolors": "#1f77b4", "facecolors": "#1f77b4"},
    "pruned": {"marker": "o", "edgecolors": "#7f7f7f", "facecolors": "none"},
    "fail": {"marker": "X", "edgecolors": "#d62728", "facecolors": "#d62728"},
}
#: legend labels of figures that plot scores; pruned scores are not final scores
SCORE_LABELS = {"complete": "complete", "pruned": "pruned (score when stopped)",
                "fail": "failed (last score)"}
STATE_LABELS = {"complete": "complete", "pruned": "pruned", "fail": "failed"}


def finite(value):
    """True for a finite real number (not a bool)."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def positive(value):
    """True for a finite number > 0 (usable on a log scale)."""
    return finite(value) and value > 0


def spans_decades(values):
    """True for positive numbers spanning more than :data:`LOG_SPAN` (drawn on a log axis)."""
    values = list(values)
    return bool(values) and all(positive(v) for v in values) \
        and max(values) > LOG_SPAN * min(values)


def label(value):
    """How a parameter value reads on an axis: strings without quotes, numbers short."""
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list | tuple):
        return "(" + ", ".join(label(v) for v in value) + ")"
    return str(value)


def categories(values):
    """Distinct labels of ``values``: numbers ascending, then the rest in first-seen order."""
    numbers = sorted({v for v in values if finite(v)})
    others = [v for v in values if not finite(v)]
    return list(dict.fromkeys([label(v) for v in numbers] + [label(v) for v in others]))


def new_figure(nrows=1, ncols=1, *, width=7.5, height=4.5):
    """A pyplot-free figure with a grid of axes (always returned as a flat list)."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), layout="constrained")
    axes = figure.subplots(nrows, ncols, squeeze=False)
    return figure, list(axes.ravel())


def integer_ticks(axis):
    """Only whole-number ticks on ``axis`` (trial numbers, epochs, counts)."""
    from matplotlib.ticker import MaxNLocator

    axis.set_major_locator(MaxNLocator(integer=True))


def scatter_states(ax, points, *, labels=SCORE_LABELS, size=26):
    """Scatter ``(x, y, state)`` points: one collection per state, in :data:`STATE_STYLE` order."""
    for state, style in STATE_STYLE.items():
        xy = [(x, y) for x, y, s in points if s == state]
        if xy:
            xs, ys = zip(*xy, strict=True)
            ax.scatter(xs, ys, s=size, linewidths=1.2, zorder=3, label=labels[state],
                       alpha=0.9, **style)


def legend_below(figure, axes):
    """One legend of the labelled artists found on ``axes`` (trial states first), under them."""
    found = {}
    for ax in axes:
        for handle, text in zip(*ax.get_legend_handles_labels(), strict=True):
            found.setdefault(text, handle)
    known = [*SCORE_LABELS.values(), *STATE_LABELS.values()]
    order = sorted(found, key=lambda t: known.index(t) if t in known else len(known))
    figure.legend([found[t] for t in order], order, loc="outside lower center",
                  ncols=max(1, len(order)), fontsize=8, frameon=False)
