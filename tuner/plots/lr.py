"""Figure of learning-rate range tests (:func:`tuner.lr_finder.lr_find`).

All curves on one log-log axes, so that batch sizes compare at a glance;
matplotlib is imported inside the functions (Agg canvas, no pyplot).
"""

import math

import numpy as np


def plot_lr_curves(results, *, ax=None, title=None):
    """All range tests on one log-log axes: loss vs learning rate, one colour per curve.

    Each curve shows its minibatch losses (thin), the smoothed loss (thick) and the
    suggested learning rate (dot on the smoothed loss); the suggested ranges are
    bars along the bottom of the axes, one row per curve, in the curve's colour.

    Parameters
    ----------
    results : sequence of LRFinderResult
    ax : matplotlib Axes, optional
        Where to draw; a new figure (Agg canvas, no pyplot) when omitted.
    title : str, optional
        Axes title (default: "Learning-rate range test").

    Returns
    -------
    fig : matplotlib.figure.Figure

    Examples
    --------
    >>> from tuner.lr_finder import LRFinderResult
    >>> lrs = np.geomspace(1e-4, 1.0, 20); losses = 1 + np.cos(np.linspace(0, 3, 20))
    >>> r = LRFinderResult(lrs, losses, losses, 1e-2, (1e-3, 1e-1), 32, False)
    >>> len(plot_lr_curves([r, r]).axes)
    1
    """
    from matplotlib.figure import Figure
    from matplotlib.ticker import FormatStrFormatter, FuncFormatter

    if ax is None:
        ax = Figure(figsize=(7.5, 4.8), layout="constrained").add_subplot()
    for k, result in enumerate(results):
        _draw_curve(ax, result, f"C{k}", k)
    ax.set(xscale="log", yscale="log", xlabel="learning rate (log scale)",
           ylabel="training loss (log scale)", title=title or "Learning-rate range test")
    low, high = _loss_limits(results)
    ax.set_ylim(low, high)
    ax.yaxis.set_major_formatter(FormatStrFormatter("%g"))  # 0.3, not 3 x 10^-1
    few_decades = math.log10(high / low) <= 2  # else minor labels would crowd the axis
    ax.yaxis.set_minor_formatter(FuncFormatter(
        lambda v, _: f"{v:g}" if few_decades and f"{v:.0e}"[0] in "25" else ""))
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(loc="best", fontsize="small", title="dot: suggested lr; bar below: range",
              title_fontsize="small")
    return ax.figure


def _draw_curve(ax, result, color, row):
    """One curve: raw and smoothed loss, the suggestion (dot) and the range (bar at the bottom)."""
    low, high = result.suggested_range
    ax.plot(result.lrs, result.losses, color=color, lw=0.8, alpha=0.35)
    ax.plot(result.lrs, result.smoothed_losses, color=color, lw=2,
            label=f"batch {result.batch_size}: lr {result.suggested_lr:.2g}, "
                  f"range {low:.2g}..{high:.2g}")
    at = int(np.argmin(np.abs(np.log(result.lrs / result.suggested_lr))))
    ax.plot(result.suggested_lr, result.smoothed_losses[at], "o", color=color, ms=8,
            mec="black", zorder=5)
    # the range as a bar in axes coordinates, one row per curve, so that ranges never overlap
    y = 0.04 + 0.045 * row
    ax.plot([low, high], [y, y], color=color, lw=6, solid_capstyle="butt",
            transform=ax.get_xaxis_transform())
    ax.plot(result.suggested_lr, y, "o", color=color, ms=7, mec="black",
            transform=ax.get_xaxis_transform(), zorder=5)


def _loss_limits(results):
    """y limits: the lowest smoothed loss to a few times the starting loss (tail cut off)."""
    lows = [np.nanmin(r.smoothed_losses) for r in results]
    finite = [r.losses[np.isfinite(r.losses)] for r in results]
    lows += [np.percentile(f, 5) for f in finite if f.size]
    starts = [r.smoothed_losses[0] for r in results]
    low = max(min(lows), 1e-12 * max(starts))
    return 0.4 * low, 3.0 * max(max(starts), low)  # room for the range bars below
