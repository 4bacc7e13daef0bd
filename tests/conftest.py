"""Shared test helpers.

``requires_or_ci(condition, reason)``: tests that need an external program
(Chromium, PostgreSQL) call it first; it skips with ``reason`` when
``condition`` is false, except under ``CI=true`` where a missing program is a
failure (so CI cannot pass by skipping). Import it with
``from conftest import requires_or_ci`` (pytest puts this folder on sys.path).
"""

import os

import pytest

# One BLAS thread per process: on the 2 shared cores, more threads made numpy 3-30x slower.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")


def in_ci():
    """True when the environment variable ``CI`` is ``true`` (as CI services set it)."""
    return os.environ.get("CI", "").strip().lower() == "true"


def requires_or_ci(condition, reason):
    """Skip the calling test when ``condition`` is false; fail instead when ``CI=true``.

    Parameters
    ----------
    condition : bool
        Whether the requirement (a browser, a database server, ...) is available.
    reason : str
        What is missing, e.g. ``"needs /usr/bin/chromium"``.
    """
    if condition:
        return
    if in_ci():
        pytest.fail(f"required in CI but missing: {reason}")
    pytest.skip(reason)


@pytest.fixture
def require():
    """The :func:`requires_or_ci` helper as a fixture (for test modules in sub-packages)."""
    return requires_or_ci


@pytest.fixture(scope="session")
def postgres_url():
    """URL of a private PostgreSQL server on 127.0.0.1, started once per session.

    ``initdb`` into a temporary directory and ``pg_ctl start`` on a free port
    (``tests/pg_server.py``); stopped and removed after the session. Skips when
    PostgreSQL is not installed, fails instead under ``CI=true``.
    """
    from pg_server import PostgresServer, missing_reason

    reason = missing_reason()
    requires_or_ci(reason is None, reason or "")
    with PostgresServer() as server:
        yield server.url


@pytest.fixture(scope="session")
def tracked_search(tmp_path_factory):
    """A real, tiny, tracked grid search: 2 complete, 1 pruned and 1 failed trial.

    Grid points run in file order: learning rates 0.02 and 0.01 complete their
    6 epochs; 1e-5 barely learns and is pruned at epoch 2 (median pruner, 2
    start-up trials, 2 warm-up steps); -1.0 is rejected by the estimator, so
    that trial fails with a reason. The MLflow store lives in a temporary folder.
    """
    import warnings
    from types import SimpleNamespace

    import optuna
    from sklearn.datasets import load_digits

    from tuner.estimators import MLPClassifier
    from tuner.search import GridSearch
    from tuner.tracking import MLflowTracker

    folder = tmp_path_factory.mktemp("mlflow")
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    X, y = load_digits(return_X_y=True)
    X, y = X[:360] / 16.0, y[:360]
    tracker = MLflowTracker(uri, context={"dataset": "digits", "n_samples": 360,
                                          "n_features": 64})
    tracker.client.search_experiments()  # create the store before the search starts
    search = GridSearch(
        MLPClassifier(hidden_layer_sizes=(16,), max_iter=6, random_state=0),
        {"learning_rate_init": [0.02, 0.01, 1e-5, -1.0]}, cv=3, random_state=0,
        pruner=optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=2),
        callbacks=[tracker], study_name="tiny-grid")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        search.fit(X, y)
    return SimpleNamespace(uri=uri, folder=folder, tracker=tracker, search=search,
                           study=search.study_, X=X, y=y)
