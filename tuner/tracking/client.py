"""The MLflow store: client, tracking URI, experiment, SQLite WAL mode, batched writes.

Examples
--------
>>> resolve_tracking_uri("http://127.0.0.1:5000")
'http://127.0.0.1:5000'
"""

import logging
import os
from pathlib import Path

from tuner.tracking.values import MAX_VALUE, param_str

DEFAULT_TRACKING_URI = "sqlite:///mlflow.db"


def make_client(uri):
    """Import mlflow quietly and return an ``MlflowClient`` for ``uri``."""
    os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")
    from mlflow.client import MlflowClient

    # "Creating initial MLflow database tables..." would cut into the CLI's plan
    logging.getLogger("mlflow.store.db.utils").setLevel(logging.WARNING)
    return MlflowClient(tracking_uri=uri)

def resolve_tracking_uri(tracking_uri=None):
    """Return the tracking URI to use, with SQLite paths made absolute.

    Parameters
    ----------
    tracking_uri : str, optional
        Explicit URI. Default: ``MLFLOW_TRACKING_URI``, else ``sqlite:///mlflow.db``
        in the working directory.

    Returns
    -------
    str
        The URI; a relative SQLite path is resolved against the working
        directory so that workers and the UI started elsewhere find the same file.

    Examples
    --------
    >>> resolve_tracking_uri("http://127.0.0.1:5000")
    'http://127.0.0.1:5000'
    """
    uri = tracking_uri or os.environ.get("MLFLOW_TRACKING_URI") or DEFAULT_TRACKING_URI
    prefix = "sqlite:///"
    if uri.startswith(prefix) and not uri.startswith(prefix + "/"):
        uri = prefix + str(Path(uri[len(prefix):]).resolve())
    return uri

def _artifact_location(uri, experiment_name):
    """Artifact folder next to a SQLite store (not in whatever the working directory is)."""
    if not uri.startswith("sqlite:///"):
        return None  # servers and databases choose their own artifact root
    slug = "".join(c if c.isalnum() or c in "-_." else "_" for c in experiment_name)
    return (Path(uri[len("sqlite:///"):]).parent / "mlartifacts" / slug).as_uri()

def use_wal(uri):
    """Put a SQLite store in write-ahead-log mode (kept by the file); others are left alone.

    Commits cost ~2 ms instead of ~13 ms here, and the UI's reads never block writers."""
    if not uri.startswith("sqlite:///"):
        return
    import sqlite3
    from contextlib import closing

    try:
        with closing(sqlite3.connect(uri[len("sqlite:///"):], timeout=5)) as connection:
            connection.execute("PRAGMA journal_mode=WAL").fetchall()
    except sqlite3.Error:  # busy or read-only: the default journal still works
        pass

def get_experiment_id(client, name, uri):
    """Id of the experiment called ``name``, created (with its artifact folder) if missing."""
    experiment = client.get_experiment_by_name(name)
    if experiment is not None:
        return experiment.experiment_id
    # the MLflow 3 UI opens "model training" experiments on their runs (not the GenAI pages)
    return client.create_experiment(name, artifact_location=_artifact_location(uri, name),
                                    tags={"mlflow.experimentKind": "custom_model_development"})

def batch(client, run_id, *, params=None, metrics=(), tags=None):
    """Send params, metrics and tags of one run in one ``log_batch`` call."""
    from mlflow.entities import Param, RunTag

    params = [Param(k, param_str(v)) for k, v in (params or {}).items()]
    tags = [RunTag(k, str(v)[:MAX_VALUE]) for k, v in (tags or {}).items()]
    client.log_batch(run_id, metrics=list(metrics), params=params, tags=tags)

def find_parent_run(client, experiment_name, study_name):
    """The newest parent run of ``study_name`` (for a worker that did not create it)."""
    experiment = client.get_experiment_by_name(experiment_name)
    runs = [] if experiment is None else client.search_runs(
        [experiment.experiment_id],
        filter_string=f"tags.`tuner.role` = 'study' and tags.`tuner.study` = '{study_name}'",
        order_by=["attributes.start_time DESC"], max_results=1)
    if not runs:
        raise LookupError(f"no MLflow parent run for study {study_name!r} in experiment "
                          f"{experiment_name!r}; start the study with the tracker first")
    return runs[0]
