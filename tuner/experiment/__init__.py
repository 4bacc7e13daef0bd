"""Experiments as files: load and validate ``experiments/*.yaml``, then run them.

An experiment file names a dataset, an estimator, a search space, a driver and
where results go; :func:`load_experiment` validates it and resolves the search
space, and :func:`run_experiment` runs the search on the training split and
scores the best model on the held-out test split.

- :mod:`tuner.experiment.schema`: the pydantic schema of the file, errors in one line;
- :mod:`tuner.experiment.load`: YAML, ``--set`` overrides, search spaces, :class:`Experiment`;
- :mod:`tuner.experiment.preflight`: every check made before anything is created;
- :mod:`tuner.experiment.build`: data split, estimator, budgets, search driver;
- :mod:`tuner.experiment.run`: :func:`run_experiment`, :func:`run_worker`, Ctrl-C clean-up;
- :mod:`tuner.experiment.tracking`: the MLflow tracker of a run and of a worker;
- :mod:`tuner.experiment.lr`: the learning-rate range test of an experiment.

Examples
--------
>>> import tempfile, pathlib
>>> path = pathlib.Path(tempfile.mkdtemp()) / "iris.yaml"
>>> _ = path.write_text('''
... name: iris_demo
... dataset: iris
... search_space: {parameters: {learning_rate_init: {type: float, low: 0.001, high: 0.1}}}
... driver: {type: random, n_trials: 3}
... ''')
>>> exp = load_experiment(path, overrides=["cv=3"])
>>> exp.name, exp.config.cv, exp.space.names
('iris_demo', 3, ['learning_rate_init'])
"""

from tuner.experiment.build import (
    DataSplit,
    build_estimator,
    build_search,
    epoch_budget,
    n_trials_budget,
    split_data,
)
from tuner.experiment.load import Experiment, load_experiment
from tuner.experiment.run import ExperimentResult, run_experiment, run_worker
from tuner.experiment.tracking import make_tracker
from tuner.spaces import list_spaces

__all__ = ["DataSplit", "Experiment", "ExperimentResult", "build_estimator", "build_search",
           "epoch_budget", "list_spaces", "load_experiment", "make_tracker", "n_trials_budget",
           "run_experiment", "run_worker", "split_data"]
