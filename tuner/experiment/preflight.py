"""Checks made before anything is created: at load, and before ``run`` or ``worker``.

A value the user gave that cannot work must end the command with one line and
exit 2 before the plan or a progress bar is printed, and before a study, a
journal file or an MLflow store is created. At load,
:mod:`tuner.experiment.semantics` checks the file against its estimator;
:func:`check_run` checks ``n_jobs``, the
storage, the data (:func:`check_data`: features, classes, the held-out split,
``cv``, the scorer against the task) and the MLflow tracking URL before a run
(``tuner validate`` runs the same checks), :func:`check_worker` the processes,
the storage and the stored study before a worker.
The library calls them too (``load_experiment``, ``run_experiment``,
``run_worker``), so the Python API gets the same messages.

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
from tuner.experiment.build import check_n_trials, split_data

#: Most worker processes ``n_jobs`` may ask for.
MAX_N_JOBS = 1024
#: Seconds to wait for an http(s) tracking server to answer.
TRACKING_TIMEOUT = 5
#: Tracking URI schemes MLflow 3 accepts (besides file stores, see check_tracking_uri).
_DATABASES, _HOSTED = ("postgresql", "mysql", "mssql"), ("databricks", "databricks-uc", "uc")
_TRACKING_FORMS = ("sqlite:///path/mlflow.db, http(s)://host:port (a tracking server), "
                   "postgresql+psycopg2://user@host/db, mysql+pymysql://user@host/db")
#: Columns of cv_results_ (besides parameters) a ``report.columns`` entry may name.
RESULT_COLUMNS = ("mean_test_score", "std_test_score", "rank_test_score", "mean_train_score",
                  "mean_fit_time", "std_fit_time", "mean_score_time", "n_epochs", "n_updates",
                  "n_samples_seen", "state", "trial_number", "fail_reason")


def n_workers(n_jobs, *, key="n_jobs", source=None):
    """Worker processes for ``n_jobs`` in joblib's convention (-1: all cores, -2: all but one).

    0, and a negative value that leaves no core (below ``-cpu_count``), are errors.
    """
    from joblib import cpu_count

    cores = cpu_count()
    if (isinstance(n_jobs, int) and not isinstance(n_jobs, bool)
            and -cores <= n_jobs <= MAX_N_JOBS and n_jobs != 0):
        return n_jobs if n_jobs > 0 else cores + 1 + n_jobs
    raise ExperimentError("must be a positive number of worker processes, or negative as in "
                          "joblib", source=source, key=key, value=n_jobs,
                          allowed=f"1 to {MAX_N_JOBS}, or -1 (all {cores} cores) down to "
                                  f"-{cores} (one process)")


def check_data(experiment, data):
    """The data must suit the file: feature columns, two classes or more for a classifier,
    a scorer for the task, a held-out split that leaves ``cv`` folds of every class."""
    import numpy as np

    where = experiment.where
    if data.X.ndim != 2 or data.X.shape[1] == 0:
        raise ExperimentError("the data has no feature columns", source=where, key="dataset",
                              allowed="a table with at least one feature column")
    if experiment.is_classifier and len(np.unique(np.asarray(data.y))) < 2:
        raise ExperimentError("the target has a single class: nothing to learn", source=where,
                              key="dataset", allowed="a target with two classes or more")
    _check_scoring_task(experiment, data)
    check_cv(experiment, split_data(experiment, data)[2])


#: Scorers that need a binary target (sklearn's default average='binary' or binary-only).
BINARY_SCORERS = ("roc_auc", "average_precision", "f1", "precision", "recall", "jaccard",
                  "neg_brier_score")


def _check_scoring_task(experiment, data):
    """The scorer must fit the task: no regression scorer on a classifier (and vice versa),
    no binary-only scorer on a multiclass target."""
    import numpy as np
    from sklearn.metrics import get_scorer

    name = experiment.config.scoring
    if name is None:
        return
    module = getattr(getattr(get_scorer(name), "_score_func", None), "__module__", "")
    regression = module.endswith("_regression")
    classification = module.endswith(("_classification", "_ranking"))
    task = "classifier" if experiment.is_classifier else "regressor"
    if (regression and experiment.is_classifier) or (classification and not
                                                       experiment.is_classifier):
        raise ExperimentError(f"a {'regression' if regression else 'classification'} scorer "
                              f"for a {task}", source=experiment.where, key="scoring",
                              value=name, allowed="accuracy, balanced_accuracy, f1_macro, "
                              "neg_log_loss, ..." if experiment.is_classifier else
                              "r2, neg_mean_squared_error, neg_mean_absolute_error, ...")
    n_classes = len(np.unique(np.asarray(data.y))) if experiment.is_classifier else 0
    if name in BINARY_SCORERS and n_classes > 2:
        raise ExperimentError(f"a binary-only scorer for a target of {n_classes} classes",
                              source=experiment.where, key="scoring", value=name,
                              allowed=f"{name}_ovr, {name}_macro, ... or accuracy"
                              if name not in ("average_precision", "neg_brier_score")
                              else "accuracy, neg_log_loss, f1_macro, ...")


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


def check_storage_path(storage, *, source=None):
    """A journal file or a SQLite file must be creatable: not a folder, not under a file,
    and (SQLite, which does not create folders) in an existing folder."""
    from tuner.search.storage import sqlite_path

    text = os.fspath(storage) if isinstance(storage, str | os.PathLike) else None
    if text is None or ("://" in text and sqlite_path(text) is None):
        return
    path = sqlite_path(text) if "://" in text else Path(text).expanduser()
    if path.is_dir():
        raise ExperimentError("the storage is a folder", source=source, key="storage",
                              value=text, allowed="a file path, e.g. .tuner/<name>.journal")
    parent = next((p for p in path.parents if p.exists()), None)
    if parent is not None and not parent.is_dir():
        raise ExperimentError(f"the storage lies under a file ({parent})", source=source,
                              key="storage", value=text, allowed="a path in a folder")
    if "://" in text and not path.parent.is_dir():
        raise ExperimentError("the folder of the SQLite file does not exist", source=source,
                              key="storage", value=text,
                              allowed="sqlite:///<existing folder>/study.db")


def check_run(experiment, data, *, storage, n_trials=None, n_jobs=None, tracking=True,
              tracking_uri=None, keys=("n_jobs", "tracking_uri")):
    """Everything ``run`` checks before it prints its plan or creates a study.

    ``keys``: the names of the ``n_jobs`` and ``tracking_uri`` arguments for messages
    (the CLI passes ``--n-jobs``, ``--tracking-uri``).
    """
    from tuner.search.storage import check_storage

    check_n_trials(experiment, n_trials)
    workers = n_workers(experiment.n_jobs if n_jobs is None else n_jobs,
                        key=keys[0] if n_jobs is not None else "n_jobs",
                        source=None if n_jobs is not None else experiment.where)
    check_storage_path(storage, source=experiment.where)
    check_storage(storage, n_workers=workers, source=experiment.where)
    check_data(experiment, data)
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
