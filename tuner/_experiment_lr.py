"""The learning-rate range test of an experiment (``tuner lr-find``), private.

Runs :func:`tuner.lr_finder.lr_find` on the experiment's scaled training split,
draws one panel per batch size, narrows the space's ``learning_rate_init`` to
the suggested range and logs the test to MLflow.
"""

from tuner._experiment_run import build_estimator, split_data


def lr_find_experiment(experiment, batch_sizes=(), **options):
    """Run :func:`tuner.lr_finder.lr_find` on the experiment's (scaled) training split.

    The estimator (:func:`~tuner.experiment.build_estimator`) has the file's fixed
    parameters and the space's fixed values (e.g. ``solver: sgd``); one test per
    batch size (default: the estimator's).
    Returns ``(results, n_train)``.
    """
    from sklearn.base import clone

    from tuner.lr_finder import lr_find

    X, _, y, _ = split_data(experiment, experiment.load_data())
    model = build_estimator(experiment)
    if hasattr(model, "steps"):
        X, model = model[:-1].fit_transform(X, y), model.steps[-1][1]
    sizes = list(batch_sizes) or [model.batch_size]
    seed = experiment.config.seed
    results = [lr_find(clone(model).set_params(batch_size=size), X, y, random_state=seed,
                       **options) for size in sizes]
    return results, len(y)


def _lr_factor(space, batch_size, n_samples):
    """Effective / base learning rate at ``batch_size`` when the space scales it (else 1)."""
    from tuner.spaces import SearchSpace

    spec = space.to_dict().get("parameters", {}).get("learning_rate_init", {})
    if not spec.get("scale_with"):
        return 1.0
    probe = SearchSpace({spec["scale_with"]: {"type": "fixed", "value": batch_size},
                         "learning_rate_init": spec})
    return probe.resolve({"learning_rate_init": 1.0}, n_samples=n_samples)["learning_rate_init"]


def narrow_space(space, result, n_samples):
    """A copy of ``space`` with ``learning_rate_init`` bounded by the suggested range.

    When the space scales the rate with the batch size, the bounds are given in
    base units (divided by the scaling factor at the tested batch size). A grid
    keeps its length, log-spaced over the new range.

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
    import numpy as np

    factor = _lr_factor(space, result.batch_size, n_samples)
    low, high = (float(f"{v / factor:.3g}") for v in result.suggested_range)
    old = space.to_dict().get("parameters", {}).get("learning_rate_init", {})
    grid = None
    if old.get("grid"):
        grid = [float(f"{v:.3g}") for v in np.geomspace(low, high, len(old["grid"]))]
    if "learning_rate_init" not in space or old.get("type") != "float":
        return space.replace("learning_rate_init", type="float", low=low, high=high, log=True,
                             grid=grid)
    return space.replace("learning_rate_init", low=low, high=high, log=True, grid=grid)


def lr_figure(results):
    """One panel per batch size, side by side (the Figure of the first result, re-laid out)."""
    fig = results[0].plot()
    fig.clear()
    axes = fig.subplots(1, len(results), squeeze=False)[0]
    fig.set_size_inches(6.0 * len(results), 4.0)
    for ax, result in zip(axes, results, strict=True):
        result.plot(ax=ax)
    return fig


def log_lr_find(experiment, results, png, tracking_uri):
    """Log the range test as an MLflow run ``lr-find`` in the experiment; return the URI."""
    from tuner.tracking import MLflowTracker
    from tuner.tracking._study import batch, get_experiment_id, metric_list

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
