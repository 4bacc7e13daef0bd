"""Reproducibility: same experiment + seed -> same trials and bit-identical best model."""

import numpy as np
import optuna
import pytest
from sklearn.datasets import load_iris

from tuner.estimators import MLPClassifier
from tuner.experiment import run_experiment
from tuner.search import RandomSearch
from tuner.search.seeds import WORKERS_ATTR
from tuner.search.storage import resolve_storage

optuna.logging.set_verbosity(optuna.logging.WARNING)

EXPERIMENT = """
name: same_seed
dataset: iris
test_size: 0.2
estimator:
  type: classifier
  params: {hidden_layer_sizes: [8], solver: adam, max_iter: 15}
search_space:
  parameters:
    learning_rate_init: {type: float, low: 1.0e-3, high: 1.0e-1, log: true}
    batch_size: {type: int, low: 8, high: 64, base: 2}
    alpha: {type: float, low: 1.0e-6, high: 1.0e-2, log: true}
driver: {type: optuna, sampler: tpe, n_trials: 12}
cv: 2
seed: 3
n_jobs: 1
tracking: false
"""


def _final_step(search):
    """The MLP inside the refitted best Pipeline."""
    model = search.best_estimator_
    return model.steps[-1][1] if hasattr(model, "steps") else model


@pytest.mark.slow
def test_run_experiment_same_seed_gives_same_trials_and_model(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "exp.yaml").write_text(EXPERIMENT)
    journal = tmp_path / "study.journal"
    first_result = run_experiment("exp.yaml", storage=str(journal))
    first = first_result.search
    trials = [(t.number, t.params, t.value) for t in first.study_.trials]
    second_result = run_experiment("exp.yaml", storage=str(journal), fresh=True)
    second = second_result.search
    assert [(t.number, t.params, t.value) for t in second.study_.trials] == trials
    assert len({tuple(sorted(p.items())) for _, p, _ in trials}) == 12  # TPE, past start-up
    assert second.best_params_ == first.best_params_
    a, b = _final_step(first), _final_step(second)
    assert len(a.coefs_) == len(b.coefs_) == 2
    for left, right in zip(a.coefs_ + a.intercepts_, b.coefs_ + b.intercepts_, strict=True):
        assert left.dtype == right.dtype and np.array_equal(left, right)  # bit for bit
    assert second_result.test_score == first_result.test_score


def test_resumed_search_draws_fresh_points(tmp_path):
    X, y = load_iris(return_X_y=True)
    space = {"parameters": {"learning_rate_init": {"type": "float", "low": 1e-3, "high": 0.1,
                                                   "log": True}}}

    def search(n_trials):
        return RandomSearch(MLPClassifier(hidden_layer_sizes=(4,), max_iter=2), space,
                            n_trials=n_trials, cv=2, random_state=0, refit=False,
                            storage=str(tmp_path / "study.journal"), study_name="resumed")

    first = [t.params for t in search(3).fit(X, y).study_.trials]
    resumed = search(6).fit(X, y).study_
    assert [t.params for t in resumed.trials[:3]] == first
    later = [t.params for t in resumed.trials[3:]]
    assert len(later) == 3 and not any(p in first for p in later)  # worker index 1, not 0
    storage = resolve_storage(str(tmp_path / "study.journal"), n_workers=1).storage
    study_id = storage.get_study_id_from_name("resumed")
    assert storage.get_study_system_attrs(study_id)[WORKERS_ATTR] == 2
    again = RandomSearch(MLPClassifier(hidden_layer_sizes=(4,), max_iter=2), space,
                         n_trials=3, cv=2, random_state=0, refit=False).fit(X, y)
    assert [t.params for t in again.study_.trials] == first  # index 0 of a new study
