"""Search drivers: grid, random and Optuna searches over any scikit-learn estimator.

Each driver runs one Optuna study; trials train cross-validation folds in
lockstep, one ``partial_fit`` epoch at a time, and report the mean validation
score per epoch to an optional pruner. Results follow scikit-learn's
``cv_results_`` conventions.

Examples
--------
>>> from tuner.search import GridSearch, OptunaSearch, RandomSearch
>>> GridSearch.__name__, RandomSearch.__name__, OptunaSearch.__name__
('GridSearch', 'RandomSearch', 'OptunaSearch')
"""

from tuner.search.callbacks import CallbackList, TrialPrinter
from tuner.search.drivers import DEFAULT_N_TRIALS, GridSearch, OptunaSearch, RandomSearch
from tuner.search.storage import resolve_storage
from tuner.search.trials import TrialRecord

__all__ = ["DEFAULT_N_TRIALS", "CallbackList", "GridSearch", "OptunaSearch", "RandomSearch",
           "TrialPrinter", "TrialRecord", "resolve_storage"]
