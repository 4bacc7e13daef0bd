"""The learning-rate range test of an experiment (``tuner lr-find``).

Runs :func:`tuner.lr_finder.lr_find` on the experiment's scaled training split
(one curve per batch size), draws all curves on one axes, narrows the space's
``learning_rate_init`` to the suggested range and logs the test to MLflow.

How ``--write-space`` narrows (:func:`narrow_space`):

1. each curve's range is converted to the space's units: when the space derives
   the rate from the batch size (``scale_with: batch_size``), the curve measured
   the effective rate ``base * factor(B)``, so its bounds are divided by the rule's
   factor at that curve's batch size;
2. the per-batch-size ranges are combined by their hull ``[min low, max high]``:
   one ``learning_rate_init`` serves every batch size the search tries, so it must
   keep each tested batch size's good rates (with a correct scaling rule the base
   ranges coincide and the hull is each of them);
3. the hull is intersected with the space's bounds: the space is never widened.
   An empty intersection is a :class:`~tuner.errors.SearchSpaceError` (the CLI
   prints one line and exits 2, the space file is not written);
4. a ``grid:`` is re-spread log-uniformly over the new bounds, keeping its length
   (the grid search's budget); categorical choices outside the bounds are dropped.
"""

from tuner.errors import SearchSpaceError
from tuner.experiment.build import build_estimator, split_data

NAME = "learning_rate_init"


def lr_find_experiment(experiment, batch_sizes=(), **options):
    """Run :func:`tuner.lr_finder.lr_find` on the experiment's (scaled) training split.

    The estimator (:func:`~tuner.experiment.build_estimator`) has the file's fixed
    parameters and the space's fixed values (e.g. ``solver: sgd``); one test per
    batch size (ints, ``"full"`` or ``"auto"``; default: the estimator's).
    Returns ``(results, n_train)``.
    """
    from sklearn.base import clone

    from tuner.lr_finder import lr_find

    X, _, y, _ = split_data(experiment, experiment.load_data())
    model = build_estimator(experiment, X=X)
    if hasattr(model, "transformer"):  # target_transform: the regressor learns the scaled target
        y = model.transformer.fit_transform(y.reshape(-1, 1)).ravel()
        model = model.regressor
    if hasattr(model, "steps"):
        X, model = model[:-1].fit_transform(X, y), model.steps[-1][1]
    sizes = list(batch_sizes) or [model.batch_size]
    seed = experiment.config.seed
    results = [lr_find(clone(model).set_params(batch_size=size), X, y, random_state=seed,
                       **options) for size in sizes]
    return results, len(y)


def lr_spec(space):
    """The space's ``learning_rate_init`` spec ({} when absent)."""
    return space.to_dict().get("parameters", {}).get(NAME, {})


def lr_factor(space, batch_size, n_samples):
    """Effective / base learning rate at ``batch_size`` when the space scales it (else 1).

    Examples
    --------
    >>> from tuner.spaces import SearchSpace
    >>> lr_factor(SearchSpace.load("lr_batch_coupled"), 64, 1000)
    0.25
    """
    from tuner.spaces import SearchSpace

    spec = {k: v for k, v in lr_spec(space).items() if k not in ("when", "grid")}
    if not spec.get("scale_with"):
        return 1.0
    probe = SearchSpace({spec["scale_with"]: {"type": "fixed", "value": batch_size}, NAME: spec})
    return probe.resolve({NAME: 1.0}, n_samples=n_samples)[NAME]


def base_ranges(space, results, n_samples):
    """Each curve's suggested range in the space's units (base rate when derived)."""
    ranges = []
    for result in results:
        factor = lr_factor(space, result.batch_size, n_samples)
        ranges.append(tuple(v / factor for v in result.suggested_range))
    return ranges


def combined_range(space, results, n_samples):
    """Hull ``(min low, max high)`` of the curves' ranges in space units (see the module doc).

    Curves whose loss never fell (a single-point range) are left out; a
    :class:`SearchSpaceError` when none is left.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> from tuner.spaces import SearchSpace
    >>> found = [SimpleNamespace(suggested_range=(1e-3, 1e-2), batch_size=64),
    ...          SimpleNamespace(suggested_range=(4e-3, 8e-2), batch_size=256)]
    >>> combined_range(SearchSpace.load("lr_batch_coupled"), found, 1000)
    (0.004, 0.08)
    """
    ranges = [(lo, hi) for lo, hi in base_ranges(space, results, n_samples) if hi > lo]
    if not ranges:
        raise SearchSpaceError("the loss fell at no tested learning rate: nothing to narrow",
                               source=space.source, key=NAME,
                               allowed="rerun lr-find with other batch sizes or data")
    return min(lo for lo, _ in ranges), max(hi for _, hi in ranges)


def _round(value):
    """Three significant digits (the written file stays readable)."""
    return float(f"{value:.3g}")


def narrow_space(space, results, n_samples):
    """A copy of ``space`` with ``learning_rate_init`` narrowed to the suggested range.

    ``results`` is one :class:`~tuner.lr_finder.LRFinderResult` or several (one
    per batch size); see the module docstring for how they are combined and
    intersected with the old bounds (never widened).

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> from tuner.spaces import SearchSpace
    >>> space = SearchSpace.load({"parameters": {"learning_rate_init": {
    ...     "type": "float", "low": 1e-5, "high": 1.0, "log": True, "grid": [1e-4, 1e-2]}}})
    >>> found = SimpleNamespace(suggested_range=(1e-3, 1e-1), batch_size=32)
    >>> narrow_space(space, found, 100).to_dict()["parameters"]["learning_rate_init"]
    {'type': 'float', 'low': 0.001, 'high': 0.1, 'log': True, 'grid': [0.001, 0.1]}
    """
    if space.grid_only:
        raise SearchSpaceError("--write-space needs a single space, not a union of sub-grids",
                               source=space.source, key=NAME)
    results = [results] if hasattr(results, "suggested_range") else list(results)
    low, high = combined_range(space, results, n_samples)
    old = lr_spec(space)
    kind = old.get("type")
    if kind is None:  # no bounds to widen: add the range
        return space.replace(NAME, type="float", low=_round(low), high=_round(high), log=True)
    if kind == "categorical":
        return _narrow_choices(space, old, low, high)
    if kind != "float":
        raise SearchSpaceError(f"cannot narrow a {kind} parameter", source=space.source,
                               key=NAME, value=old.get("value"),
                               allowed="a float range or numeric choices")
    new_low = min(max(old["low"], _round(low)), old["high"])
    new_high = max(min(old["high"], _round(high)), old["low"])
    if not new_low < new_high:
        _no_overlap(space, old, low, high)
    grid = None
    if old.get("grid"):
        grid = _spread(new_low, new_high, len(old["grid"]))
    return space.replace(NAME, low=new_low, high=new_high, log=True, grid=grid)


def _spread(low, high, count):
    """``count`` log-spaced values from ``low`` to ``high``, rounded inside the bounds."""
    import numpy as np

    if count == 1:
        return [_round(float(np.sqrt(low * high)))]
    values = [min(max(_round(v), low), high) for v in np.geomspace(low, high, count)]
    return sorted(set(values))


def _no_overlap(space, old, low, high):
    """Raise: the suggested range misses the space's bounds (old bounds kept, nothing written)."""
    bounds = f"{old['low']:.3g}..{old['high']:.3g}" if "low" in old else str(old.get("choices"))
    raise SearchSpaceError(
        f"suggested range {low:.3g}..{high:.3g} does not overlap the space's {bounds}; "
        "space not written", source=space.source, key=NAME,
        allowed="widen the bounds by hand if the curve is right")


def _narrow_choices(space, old, low, high):
    """Keep the numeric choices (and grid values) inside ``[low, high]``."""
    def inside(value):
        return isinstance(value, int | float) and low <= value <= high

    choices = [c for c in old["choices"] if inside(c)]
    if not choices:
        _no_overlap(space, old, low, high)
    grid = [g for g in old.get("grid") or [] if inside(g)] or None
    return space.replace(NAME, choices=choices, grid=grid)


def narrowing_text(old_space, new_space):
    """One line: the old and new ``learning_rate_init`` bounds (and grid) that were written."""
    def describe(spec):
        if not spec:
            return "absent"
        if spec.get("type") == "categorical":
            return f"choices {spec['choices']}"
        text = f"{spec['low']:.3g}..{spec['high']:.3g}"
        return text + (f" grid {spec['grid']}" if spec.get("grid") else "")

    old, new = lr_spec(old_space), lr_spec(new_space)
    text = f"{NAME}: {describe(old)} -> {describe(new)}"
    if new.get("scale_with"):
        text += (f" (base rate at {new['scale_with']} {new.get('reference', 256)}, "
                 f"rule {new.get('rule', 'linear')})")
    return text


def lr_figure(results, title=None):
    """All curves on one axes (:func:`tuner.lr_finder.plot_lr_curves`)."""
    from tuner.lr_finder import plot_lr_curves

    return plot_lr_curves(results, title=title)


def log_lr_find(experiment, results, png, tracking_uri):
    """Log the range test as an MLflow run ``lr-find`` in the experiment; return the URI."""
    from tuner.tracking import MLflowTracker
    from tuner.tracking.client import batch, get_experiment_id
    from tuner.tracking.values import metric_list

    tracker = MLflowTracker(tracking_uri or experiment.config.tracking.tracking_uri)
    client, name = tracker.client, experiment.config.tracking.experiment_name or experiment.name
    run = client.create_run(get_experiment_id(client, name, tracker.tracking_uri),
                            run_name="lr-find", tags={"tuner.role": "lr_find"})
    params = {f"suggested_lr.batch_{r.batch_size}": r.suggested_lr for r in results}
    params.update({f"suggested_range.batch_{r.batch_size}": list(r.suggested_range)
                   for r in results})
    batch(client, run.info.run_id, params=params, metrics=metric_list(
        {f"suggested_lr_batch_{r.batch_size}": r.suggested_lr for r in results}))
    client.log_artifact(run.info.run_id, str(png))
    client.set_terminated(run.info.run_id)
    return tracker.tracking_uri
