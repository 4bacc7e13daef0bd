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
