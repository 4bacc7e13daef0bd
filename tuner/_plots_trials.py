"""What the study figures read from the trials, and the look they share.

:func:`trial_views` turns the Optuna trials (with the evaluator's user
attributes, read with :mod:`tuner.search.trials`) into :class:`TrialView` objects;
:func:`study_resource` tells which resource (epochs, weight updates or samples
seen) the trials reported to the pruner. The drawing helpers give every figure
the same trial-state markers: complete trials filled, pruned ones hollow grey
(their score is where they were stopped, not where they would have ended),
failed ones a red cross. matplotlib is imported inside functions only.
"""

import math
from dataclasses import dataclass, field

from tuner.search.trials import is_finished, read_attrs, state_of

LR_PARAM = "learning_rate_init"
# parameters drawn on a log axis when they span more than two decades
LOG_SPAN = 100.0

#: resource -> key of the per-epoch history row that holds it
RESOURCE_KEYS = {"epochs": "epoch", "updates": "n_updates", "samples": "n_samples_seen"}
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
    n_samples_seen: int = 0

    def stop(self, resource):
        """How far the trial trained, in ``resource`` units (epochs, updates or samples)."""
        if resource == "updates":
            return self.n_updates
        return self.n_samples_seen if resource == "samples" else self.n_epochs


def _history(trial):
    """Per-epoch metric dicts: the evaluator's ``history``, else Optuna's intermediate values."""
    history = read_attrs(trial).history
    if history:
        return list(history)
    steps = sorted(trial.intermediate_values)
    return [{"step": s, "mean_test_score": trial.intermediate_values[s]} for s in steps]


def _params(trial):
    """Estimator params (pipeline prefixes such as ``mlp__`` dropped), then raw Optuna ones.

    The estimator's values come first: with a derived rule (e.g. learning rate
    scaled with batch size) they are the values actually used for training.
    """
    params = {}
    for key, value in read_attrs(trial).params.items():
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
    for trial in study.get_trials(deepcopy=False):
        if not is_finished(trial):
            continue  # running or waiting
        history, attrs = _history(trial), read_attrs(trial)
        views.append(TrialView(
            number=trial.number, state=state_of(trial), score=_final_score(trial, history),
            params=_params(trial), history=history, n_epochs=attrs.n_epochs or len(history),
            n_updates=attrs.n_updates, n_samples_seen=attrs.n_samples_seen))
    return views


def _steps_match(trial, key):
    """True when the steps the trial reported are its history's ``key`` values."""
    rows = read_attrs(trial).history
    return sorted(trial.intermediate_values) == [row.get(key) for row in rows]


def study_resource(study):
    """The resource the trials reported to the pruner: ``"epochs"``, ``"updates"`` or ``"samples"``.

    A ``resource`` study attribute wins; otherwise the reported steps are
    compared with the per-epoch records (epoch number, weight updates, samples
    seen), and ``"epochs"`` is the default when nothing tells.
    """
    declared = study.user_attrs.get("resource")
    if declared in RESOURCE_KEYS:
        return declared
    trials = [t for t in study.get_trials(deepcopy=False)
              if t.intermediate_values and read_attrs(t).history]
    for resource, key in RESOURCE_KEYS.items():
        if trials and all(_steps_match(t, key) for t in trials):
            return resource
    return "epochs"


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


def varied_params(views):
    """Parameters that take more than one value across the trials, in first-seen order."""
    names = {}
    for view in views:
        for name, value in view.params.items():
            names.setdefault(name, set()).add(label(value))
    return [name for name, values in names.items() if len(values) > 1]


def log_flags(study):
    """``{name: log}`` of the study's float and int distributions (``log: true`` in the space)."""
    return {name: dist.log for trial in study.get_trials(deepcopy=False)
            for name, dist in trial.distributions.items() if hasattr(dist, "log")}


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
