"""tuner.search.loop: ask/tell under the study lock, one budget for every process."""

import math
import threading
import warnings

import optuna
import pytest
from optuna.trial import TrialState

from tuner.search.loop import ask_within_budget, budget_left, run_trials
from tuner.search.processes import worker_identity
from tuner.search.trials import WORKER_ATTR

optuna.logging.set_verbosity(optuna.logging.WARNING)


def _study(storage=None):
    """(study, storage) in memory unless given."""
    storage = storage or optuna.storages.InMemoryStorage()
    return optuna.create_study(storage=storage, direction="maximize"), storage


def _x(trial):
    return trial.suggest_float("x", 0.0, 1.0)


def test_loop_runs_exactly_the_study_budget_across_calls():
    study, storage = _study()
    assert run_trials(study, _x, storage=storage, n_trials=3) == 3
    assert run_trials(study, _x, storage=storage, n_trials=3) == 0  # spent: a resume runs none
    assert run_trials(study, _x, storage=storage, n_trials=5) == 2  # a larger budget: the rest
    trials = study.get_trials()
    assert len(trials) == 5 and {t.state for t in trials} == {TrialState.COMPLETE}
    assert all(t.system_attrs[WORKER_ATTR]["pid"] == worker_identity()["pid"] for t in trials)


def test_loop_asks_enqueued_points_first_and_counts_them():
    study, storage = _study()
    for x in (0.25, 0.5):
        study.enqueue_trial({"x": x})
    assert run_trials(study, _x, storage=storage, n_trials=2) == 2
    assert [t.params["x"] for t in study.trials] == [0.25, 0.5]


def test_loop_study_budget_stops_when_finished_trials_used_it():
    study, storage = _study()

    def three_epochs(trial):
        trial.set_user_attr("n_epochs", 3)
        return _x(trial)

    assert run_trials(study, three_epochs, storage=storage, n_trials=10,
                      study_budget=("epochs", 7)) == 3  # 0, 3, 6 epochs used: a third starts
    assert not budget_left(study.trials, 10, ("epochs", 7))
    assert budget_left(study.trials, 10, ("epochs", 10))
    assert ask_within_budget(study, storage, n_trials=3) is None


def test_loop_records_fail_and_prune_states_and_reraises_errors():
    study, storage = _study()
    outcomes = iter([math.nan, "prune", 0.5])

    def objective(trial):
        outcome = next(outcomes)
        if outcome == "prune":
            trial.report(0.1, step=1)
            raise optuna.TrialPruned()
        return outcome

    ended = []
    run_trials(study, objective, storage=storage, n_trials=3,
               on_trial_end=lambda s, t: ended.append((t.number, t.state)))
    assert ended == [(0, TrialState.FAIL), (1, TrialState.PRUNED), (2, TrialState.COMPLETE)]
    assert study.trials[1].value == 0.1  # a pruned trial keeps its last reported score

    def broken(trial):
        raise RuntimeError("bug")

    with pytest.raises(RuntimeError, match="bug"):
        run_trials(study, broken, storage=storage, n_trials=5)
    assert study.trials[3].state == TrialState.FAIL and len(study.trials) == 4


def test_loop_stop_event_and_timeout_start_no_new_trial():
    study, storage = _study()
    stop = threading.Event()

    def stop_after_first(trial):
        stop.set()
        return _x(trial)

    assert run_trials(study, stop_after_first, storage=storage, n_trials=5, stop=stop) == 1
    assert run_trials(study, _x, storage=storage, n_trials=5, timeout=0) == 0
    assert len(study.trials) == 1


def test_loop_sends_heartbeats_of_an_rdb_storage_without_warnings(tmp_path):
    with warnings.catch_warnings():  # heartbeats are "experimental" in Optuna
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        storage = optuna.storages.RDBStorage(f"sqlite:///{tmp_path / 'hb.db'}",
                                             heartbeat_interval=1, grace_period=2)
    study, _ = _study(storage)
    beats = []
    real = storage.record_heartbeat
    storage.record_heartbeat = lambda trial_id: (beats.append(trial_id), real(trial_id))[1]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        run_trials(study, _x, storage=storage, n_trials=2)
    assert [t.state for t in study.trials] == [TrialState.COMPLETE] * 2
    assert len(set(beats)) == 2  # each trial sent its heartbeat
    assert [str(w.message) for w in caught] == []


def test_loop_interrupt_fails_the_trial_never_leaves_it_running(monkeypatch):
    import tuner.search.loop

    study, storage = _study()

    def interrupted(trial):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_trials(study, interrupted, storage=storage, n_trials=3)
    monkeypatch.setattr(tuner.search.loop, "_evaluate", lambda *args: interrupted(None))
    with pytest.raises(KeyboardInterrupt):  # between the ask and the objective
        run_trials(study, _x, storage=storage, n_trials=3)
    assert [t.state for t in study.trials] == [TrialState.FAIL, TrialState.FAIL]
