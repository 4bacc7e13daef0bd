"""Helpers shared by the experiment tests: a small experiment and writers."""

from pathlib import Path

import pytest
import yaml

from tuner.errors import ConfigError
from tuner.experiment import load_experiment

ROOT = Path(__file__).resolve().parents[2]

BASE = {
    "name": "tiny",
    "dataset": "iris",
    "search_space": {"parameters": {"learning_rate_init": {"type": "float", "low": 1e-3,
                                                           "high": 1e-1, "log": True}}},
    "driver": {"type": "random", "n_trials": 2},
    "cv": 2,
}


def write(tmp_path, data, name="exp.yaml"):
    """Write an experiment dict (or raw text) to tmp_path/name and return the path."""
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data))
    return path


def error_of(tmp_path, data, *, overrides=(), exc=ConfigError):
    """The one-line message load_experiment raises for ``data``."""
    path = write(tmp_path, data)
    with pytest.raises(exc) as info:
        load_experiment(path, overrides=overrides)
    text = str(info.value)
    assert "\n" not in text
    return text
