"""The estimators' docstrings: one numpydoc entry per parameter and per fitted attribute."""

import inspect
import re

import numpy as np
import pytest

from tuner.estimators import MLPClassifier, MLPRegressor


def _section(doc, title):
    """Names documented in one numpydoc section of ``doc``."""
    body = doc.split(f"\n    {title}\n    {'-' * len(title)}\n")[1]
    body = re.split(r"\n    \w[\w ]*\n    -{3,}\n", body)[0]
    return re.findall(r"^    (\w+) :", body, flags=re.M)


@pytest.mark.parametrize("Estimator", [MLPClassifier, MLPRegressor])
def test_docstring_documents_every_parameter_once_in_order(Estimator):
    assert _section(Estimator.__doc__, "Parameters") == list(
        inspect.signature(Estimator).parameters)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("Estimator", [MLPClassifier, MLPRegressor])
def test_docstring_documents_every_fitted_attribute(Estimator):
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(20, 3)), np.arange(20) % 2
    est = Estimator((4,), max_iter=2).fit(X, y)
    fitted = {name for name in vars(est) if name.endswith("_") and not name.startswith("_")}
    documented = _section(Estimator.__doc__, "Attributes")
    assert len(documented) == len(set(documented))
    assert fitted <= set(documented)
    assert set(documented) - fitted == {"feature_names_in_"}  # only with named columns
