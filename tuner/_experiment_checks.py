"""Checks made before ``run`` or ``worker`` creates anything (private).

A value the user gave that cannot work (``n_jobs``, ``cv``, a storage or an
MLflow tracking URL) must end the command with one line and exit 2 before the
plan or a progress bar is printed, and before a study, a journal file or an
MLflow store is created. :func:`check_run` and :func:`check_worker` do all of
it; the library calls them too (``run_experiment``, ``run_worker``), so the
Python API gets the same messages.

Examples
--------
>>> n_workers(-1) >= 1
True
>>> n_workers(0)
Traceback (most recent call last):
...
tuner.errors.ExperimentError: n_jobs: must be a positive number of worker processes, ...
"""

import os
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from tuner.errors import ConfigError, ExperimentError

#: Seconds to wait for an http(s) tracking server to answer.
TRACKING_TIMEOUT = 5
#: Tracking URI schemes MLflow 3 accepts (besides file stores, see check_tracking_uri).
_DATABASES, _HOSTED = ("postgresql", "mysql", "mssql"), ("databricks", "databricks-uc", "uc")
_TRACKING_FORMS = ("sqlite:///path/mlflow.db, http(s)://host:port (a tracking server), "
                   "postgresql+psycopg2://user@host/db, mysql+pymysql://user@host/db")


def n_workers(n_jobs, *, key="n_jobs", source=None):
    """Worker processes for ``n_jobs`` in joblib's convention (-1: all cores, -2: all but one).

    0, and a negative value that leaves no core (below ``-cpu_count``), are errors.
    """
    from joblib import cpu_count

    cores = cpu_count()
    if isinstance(n_jobs, int) and not isinstance(n_jobs, bool) and -cores <= n_jobs != 0:
        return n_jobs if n_jobs > 0 else cores + 1 + n_jobs
    raise ExperimentError("must be a positive number of worker processes, or negative as in "
                          "joblib", source=source, key=key, value=n_jobs,
                          allowed=f"1, 2, ... or -1 (all {cores} cores) down to -{cores} "
                                  "(one process)")


def check_cv(experiment, y_train):
    """``cv`` folds need that many training samples (classifiers: in every class)."""
    import numpy as np

    cv, n = experiment.cv, len(y_train)
    if experiment.is_classifier:
        labels, counts = np.unique(np.asarray(y_train), return_counts=True)
        smallest = int(counts.min())
        if cv > smallest:
            label = labels[counts.argmin()]
            raise ExperimentError(
                "more CV folds than training samples of the smallest class (class "
                f"{getattr(label, 'item', lambda: label)()!r}: {smallest} of {n} samples)",
                source=experiment.where,
                key="cv", value=cv, allowed=f"2 to {smallest}" if smallest >= 2 else
                "none: add samples of that class or lower test_size")
    elif cv > n:
        raise ExperimentError(f"more CV folds than training samples ({n})",
                              source=experiment.where, key="cv", value=cv,
                              allowed=f"2 to {n}")


def _reachable(uri, *, key, source, timeout=TRACKING_TIMEOUT):
    """An http(s) tracking server must answer (any HTTP status) within ``timeout`` seconds."""
    try:
        with urllib.request.urlopen(uri.rstrip("/") + "/health", timeout=timeout):
            return
    except urllib.error.HTTPError:  # it answered: reachable (auth etc. is MLflow's business)
        return
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", None) or exc
        raise ConfigError(f"MLflow tracking server not reachable ({reason})", source=source,
                          key=key, value=uri, allowed="a running server (mlflow server "
                          "--host ... --port ...), or sqlite:///path/mlflow.db") from None


def check_tracking_uri(uri, *, key="tracking_uri", source=None, existing=False):
    """Raise ConfigError for an MLflow tracking URI MLflow cannot use; create nothing.

    ``existing``: a SQLite store must already exist (a worker joins the run's store).
    """
    from tuner.search.storage import check_database_url, sqlite_path

    scheme = urllib.parse.urlsplit(uri).scheme.lower() if ":" in uri else ""
    base = scheme.split("+")[0] if len(scheme) > 1 else ""  # "c:" of a Windows path: a path
    if base in ("http", "https"):
        _reachable(uri, key=key, source=source)
    elif base == "sqlite":
        path = sqlite_path(uri)
        folder = Path(path).resolve().parent if path is not None else None
        if existing and path is not None and not path.is_file():
            raise ConfigError("no MLflow store at this path on this machine", source=source,
                              key=key, value=uri, allowed="the run's store, or a tracking "
                              "server (http://host:port) every machine reaches")
        if folder is not None and not folder.is_dir():
            raise ConfigError("the folder of the SQLite file does not exist", source=source,
                              key=key, value=uri, allowed="sqlite:///<existing folder>/mlflow.db")
    elif base in _DATABASES:
        check_database_url(uri, key=key, source=source)
    elif base in ("", "file"):
        if os.environ.get("MLFLOW_ALLOW_FILE_STORE", "").strip().lower() not in ("true", "1"):
            raise ConfigError("MLflow 3 refuses the file store (./mlruns) unless "
                              "MLFLOW_ALLOW_FILE_STORE=true", source=source, key=key, value=uri,
                              allowed=f"{_TRACKING_FORMS}, or set MLFLOW_ALLOW_FILE_STORE=true")
    elif base not in _HOSTED:
        raise ConfigError("unsupported tracking URI scheme", source=source, key=key, value=uri,
                          allowed=_TRACKING_FORMS)


def run_tracking_uri(experiment, tracking_uri=None, *, key="tracking_uri"):
    """(URI, key, source) that ``run`` logs to: the argument, the file's, the environment,
    else MLflow's default (``sqlite:///mlflow.db``), with where it came from."""
    from tuner.tracking import resolve_tracking_uri

    if tracking_uri:
        return resolve_tracking_uri(tracking_uri), key, None
    if experiment.config.tracking.tracking_uri:
        uri = experiment.config.tracking.tracking_uri
        return resolve_tracking_uri(uri), "tracking.tracking_uri", experiment.where
    if os.environ.get("MLFLOW_TRACKING_URI"):
        return resolve_tracking_uri(), "MLFLOW_TRACKING_URI", None
    return resolve_tracking_uri(), "tracking_uri", None


def worker_tracking_uri(experiment, stored_uri, tracking_uri=None, *, key="tracking_uri"):
    """(URI, key, source) a worker logs to: the argument or ``MLFLOW_TRACKING_URI``, else
    the URI stored on the study by the run (its parent run is there), else as ``run``."""
    if not tracking_uri and not os.environ.get("MLFLOW_TRACKING_URI") and stored_uri:
        return stored_uri, "mlflow_tracking_uri (stored on the study)", None
    return run_tracking_uri(experiment, tracking_uri, key=key)


def check_run(experiment, data, *, storage, n_trials=None, n_jobs=None, tracking=True,
              tracking_uri=None, keys=("n_jobs", "tracking_uri")):
    """Everything ``run`` checks before it prints its plan or creates a study.

    ``keys``: the names of the ``n_jobs`` and ``tracking_uri`` arguments for messages
    (the CLI passes ``--n-jobs``, ``--tracking-uri``).
    """
    from tuner._experiment_run import check_n_trials, split_data
    from tuner.search.storage import check_storage

    check_n_trials(experiment, n_trials)
    workers = n_workers(experiment.n_jobs if n_jobs is None else n_jobs,
                        key=keys[0] if n_jobs is not None else "n_jobs",
                        source=None if n_jobs is not None else experiment.where)
    check_storage(storage, n_workers=workers, source=experiment.where)
    check_cv(experiment, split_data(experiment, data)[2])
    if tracking and experiment.config.tracking.enabled:
        uri, key, source = run_tracking_uri(experiment, tracking_uri, key=keys[1])
        check_tracking_uri(uri, key=key, source=source)
    return workers


def check_worker(experiment, *, storage, n_jobs=None, key="n_jobs"):
    """What ``worker`` checks before it loads data: processes, storage, the stored study."""
    from tuner.search.storage import check_storage, stored_trials

    workers = n_workers(experiment.n_jobs if n_jobs is None else n_jobs,
                        key=key if n_jobs is not None else "n_jobs",
                        source=None if n_jobs is not None else experiment.where)
    check_storage(storage, n_workers=workers, joining=True, source=experiment.where)
    if stored_trials(storage, experiment.name) is None:
        raise ExperimentError("no study of this experiment in the storage", source=experiment.where,
                              key="storage", value=str(storage),
                              allowed="start it with: python -m tuner run EXPERIMENT --storage "
                                      "URL, then start workers")
    return workers
