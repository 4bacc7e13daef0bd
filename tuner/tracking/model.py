"""The best model of a study as an MLflow logged model (part of :mod:`tuner.tracking`)."""

import logging
from pathlib import Path

from tuner.tracking.values import param_str, plain_names

_PIP_PACKAGES = ("numpy", "scikit-learn", "cloudpickle")


def _input_example(search):
    """The first training rows the search kept (``input_example_``), or None."""
    return getattr(search, "input_example_", None)


def _code_paths():
    """The ``tuner`` package folder: the pickled model refers to tuner's classes, so the
    model carries their code and loads where tuner is not installed."""
    import tuner

    return [str(Path(tuner.__file__).resolve().parent)]


def _pip_requirements():
    """Pinned requirements: given explicitly so MLflow skips its ~7 s inference subprocess."""
    from importlib import metadata

    pins = []
    for name in _PIP_PACKAGES:
        try:
            pins.append(f"{name}=={metadata.version(name)}")
        except metadata.PackageNotFoundError:
            pins.append(name)
    return pins


def log_best_model(client, run_id, search):
    """Log ``best_estimator_`` (signature, input example) as the parent run's model ``model``."""
    import mlflow.sklearn
    from mlflow.models import infer_signature

    model = search.best_estimator_
    example = _input_example(search)  # real rows: the signature has the true dtypes/columns
    signature = None if example is None else infer_signature(example, model.predict(example))
    # created here so that it lands in the run's experiment, not the "active" (Default) one
    logged = client.create_logged_model(
        client.get_run(run_id).info.experiment_id, name="model", source_run_id=run_id,
        params={k: param_str(v) for k, v in plain_names(search.best_params_).items()},
        model_type=type(model).__name__)
    # cloudpickle on purpose: skops would need every custom type (tuner.*) allow-listed at
    # load time; MLflow's warning about it is dropped, loading still needs the opt-in env var
    logger, quiet = logging.getLogger("mlflow.sklearn"), _QuietPickleWarning()
    logger.addFilter(quiet)
    try:
        with _tracking_uri(client.tracking_uri):
            return mlflow.sklearn.log_model(
                model, name="model", signature=signature, input_example=example,
                pip_requirements=_pip_requirements(), code_paths=_code_paths(),
                serialization_format="cloudpickle",
                run_id=run_id, model_id=logged.model_id)
    finally:
        logger.removeFilter(quiet)


def _tracking_uri(uri):
    """Within the block MLflow's global tracking URI is ``uri``, restored afterwards.

    ``mlflow.sklearn.log_model`` writes to the global URI and has no parameter
    for another one; ``mlflow.set_tracking_uri`` would change it for the whole
    process. MLflow's private ``_use_tracking_uri`` does exactly this; this is
    the one place that uses it."""
    from mlflow.tracking._tracking_service.utils import _use_tracking_uri

    return _use_tracking_uri(uri)


class _QuietPickleWarning(logging.Filter):
    """Drop MLflow's warning that the (deliberately chosen) cloudpickle format is unsafe."""

    def filter(self, record):
        """Keep every record but that warning."""
        return "pickle or cloudpickle format" not in record.getMessage()
