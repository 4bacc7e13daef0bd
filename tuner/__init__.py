"""tuner: hyperparameter tuning for neural networks.

A numpy backprop core trains MLPs; scikit-learn compatible estimators wrap it;
grid, random and Optuna search drivers sweep any estimator parameter with
cross-validation and per-epoch pruning; studies and trials are logged to MLflow.

Public names are imported lazily so that ``import tuner`` and
``python -m tuner --help`` stay fast (optuna and mlflow are heavy imports).

Examples
--------
>>> from tuner import MLPClassifier
>>> MLPClassifier(hidden_layer_sizes=(32,), max_iter=5).get_params()["max_iter"]
5
"""

from importlib import import_module

__version__ = "0.1.0"

_EXPORTS = {
    "MLPClassifier": "tuner.estimators",
    "MLPRegressor": "tuner.estimators",
    "GridSearch": "tuner.search",
    "RandomSearch": "tuner.search",
    "OptunaSearch": "tuner.search",
    "SearchSpace": "tuner.spaces",
    "lr_find": "tuner.lr_finder",
    "load_experiment": "tuner.experiment",
    "run_experiment": "tuner.experiment",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name):
    """Import a public name from its module on first use (PEP 562)."""
    if name not in _EXPORTS:
        raise AttributeError(f"module 'tuner' has no attribute {name!r}")
    value = getattr(import_module(_EXPORTS[name]), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(list(globals()) + __all__)
