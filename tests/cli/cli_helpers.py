"""Helpers of the command-line tests: a tiny experiment, a writer and a subprocess runner."""

import os
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]

TINY = {
    "name": "tiny",
    "dataset": "iris",
    "estimator": {"params": {"hidden_layer_sizes": [8]}},
    "search_space": {"parameters": {
        "learning_rate_init": {"type": "float", "low": 1e-3, "high": 1e-1, "log": True},
        "max_iter": {"type": "int", "low": 2, "high": 4}}},
    "driver": {"type": "random", "n_trials": 3},
    "cv": 2,
}


def tuner(*args, cwd, env=None, timeout=180):
    """``python -m tuner ARGS`` in ``cwd``, without MLFLOW_TRACKING_URI unless ``env`` sets it."""
    base = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    base.update(PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1",
                COLUMNS="120", **(env or {}))
    return subprocess.run([sys.executable, "-m", "tuner", *map(str, args)], cwd=cwd, env=base,
                          capture_output=True, text=True, timeout=timeout)


def write(directory, data=None, name="tiny.yaml"):
    """Write an experiment (a dict, TINY by default, or raw text) into ``directory``."""
    path = Path(directory) / name
    data = TINY if data is None else data
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data, sort_keys=False))
    return path


def study_trials(journal, name="tiny"):
    """The trials stored in a journal file, read with Optuna."""
    import optuna
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    storage = JournalStorage(JournalFileBackend(str(journal)))
    return optuna.load_study(study_name=name, storage=storage).trials
