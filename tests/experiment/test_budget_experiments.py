"""The shipped gradient-descent experiments: equal epochs, equal updates, equal time."""

import numpy as np
import pytest
from experiment_helpers import ROOT

from tuner.experiment import load_experiment, run_experiment

SMALL = ("cv=2", "n_jobs=1", "test_size=0.5")


def _run(name, tmp_path, *overrides):
    exp = load_experiment(ROOT / "experiments" / f"{name}.yaml", overrides=SMALL + overrides)
    return run_experiment(exp, storage=str(tmp_path / "study.journal"), tracking=False).search


@pytest.mark.slow
def test_gradient_descent_equal_updates_gives_every_batch_size_the_same_updates(tmp_path):
    search = _run("gradient_descent_equal_updates", tmp_path, "driver.budget.updates=150")
    results = search.cv_results_
    assert len(results["params"]) == 9
    np.testing.assert_array_equal(results["n_updates"], 150)
    epochs = {p["batch_size"]: e for p, e in zip(results["base_params"], results["n_epochs"],
                                                 strict=True)}
    assert epochs == {1: 2, 32: 30, "full": 150}  # 142 rows per fold: 5 batches of 32
    assert search.best_estimator_[-1].n_updates_ == 150


def test_gradient_descent_views_share_one_grid():
    names = ("gradient_descent_variants", "gradient_descent_equal_updates",
             "gradient_descent_equal_time")
    experiments = [load_experiment(ROOT / "experiments" / f"{n}.yaml") for n in names]
    grids = [[{k: v for k, v in p.items() if k != "max_iter"} for p in e.space.grid()]
             for e in experiments]
    assert grids[0] == grids[1] == grids[2] and len(grids[0]) == 9
    assert [e.driver.budget for e in experiments] == [None, {"updates": 600},
                                                      {"seconds": 0.6}]
