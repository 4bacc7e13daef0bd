"""What the study figures read from the trials.

:func:`trial_views` turns the Optuna trials (with the evaluator's user
attributes, read with :mod:`tuner.search.trials`) into :class:`TrialView` objects;
:func:`study_resource` tells which resource (epochs, weight updates or samples
seen) the trials reported to the pruner.
"""

import math
from dataclasses import dataclass, field

from tuner.plots.style import label
from tuner.search.trials import is_finished, read_attrs, state_of

#: resource -> key of the per-epoch history row that holds it
RESOURCE_KEYS = {"epochs": "epoch", "updates": "n_updates", "samples": "n_samples_seen"}


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
