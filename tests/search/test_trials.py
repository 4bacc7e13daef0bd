"""tuner.search.trials: the one owner of stored trial attributes and trial states."""

import math

import optuna
import pytest
from optuna.trial import TrialState

from tuner.search.trials import (
    ORPHAN_ATTR,
    RETRY_ATTR,
    STATES,
    WORKER_ATTR,
    TrialAttrs,
    TrialRecord,
    budget_used,
    fail_trial,
    is_finished,
    lost_trials,
    read_attrs,
    record_worker,
    retried_failures,
    retry_of,
    state_of,
    worker_of,
    write_attrs,
)


def _trials(*specs):
    """Frozen trials numbered in order from ``(state, system_attrs)`` pairs."""
    trials = []
    for number, (state, system) in enumerate(specs):
        value = 1.0 if state == TrialState.COMPLETE else None
        trial = optuna.trial.create_trial(state=state, value=value, system_attrs=system)
        trial.number = number
        trials.append(trial)
    return trials


def test_trials_state_of_maps_every_optuna_state():
    names = {state_of(_trials((s, {}))[0]) for s in TrialState}
    assert names == set(STATES.values()) == {"complete", "pruned", "fail", "running", "waiting"}
    assert [is_finished(t) for t in _trials(*((s, {}) for s in TrialState))] == [
        s in (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL) for s in TrialState]


def test_trials_retried_failure_is_listed_in_another_trials_retry_history():
    trials = _trials((TrialState.FAIL, {}), (TrialState.FAIL, {}),
                     (TrialState.COMPLETE, {RETRY_ATTR: [0]}))
    assert retried_failures(trials) == {0}  # trial 1 failed and was not retried
    # a retry of a retry lists both; only failures count as retried
    trials = _trials((TrialState.FAIL, {}), (TrialState.FAIL, {RETRY_ATTR: [0]}),
                     (TrialState.RUNNING, {RETRY_ATTR: [0, 1]}))
    assert retried_failures(trials) == {0, 1}
    assert retried_failures(_trials((TrialState.COMPLETE, {}), (TrialState.WAITING,
                                                                {RETRY_ATTR: [0]}))) == set()


def test_trials_budget_used_counts_started_trials_but_not_retried_failures():
    trials = _trials((TrialState.FAIL, {}), (TrialState.COMPLETE, {RETRY_ATTR: [0]}),
                     (TrialState.PRUNED, {}), (TrialState.RUNNING, {}), (TrialState.WAITING, {}),
                     (TrialState.FAIL, {}))
    assert budget_used(trials) == 4  # complete, pruned, running, the failure not retried


def test_trials_lost_trials_are_orphaned_or_retried_failures():
    trials = _trials((TrialState.FAIL, {ORPHAN_ATTR: "worker x (pid 1) is gone"}),
                     (TrialState.FAIL, {}), (TrialState.FAIL, {}),
                     (TrialState.COMPLETE, {RETRY_ATTR: [1]}))
    assert lost_trials(trials) == {0: "worker x (pid 1) is gone",
                                   1: "worker lost (stale heartbeat)"}


def test_trials_attrs_written_on_a_trial_read_back_with_defaults():
    study = optuna.create_study()
    trial = study.ask()
    write_attrs(trial, params={"hidden_layer_sizes": (8, 4)}, n_epochs=3,
                fit_times=[0.5, math.nan], split_test_scores={"score": [0.5, 0.7]})
    frozen = study.tell(trial, 0.6)
    attrs = read_attrs(frozen)
    assert attrs.params == {"hidden_layer_sizes": [8, 4]}  # JSON form
    assert (attrs.n_epochs, attrs.n_updates, attrs.history, attrs.fail_reason) == (3, 0, [], None)
    assert attrs.fit_times[0] == 0.5 and math.isnan(attrs.fit_times[1])
    assert attrs.n_epochs == TrialAttrs.parse(frozen.user_attrs).n_epochs
    record = TrialRecord.from_trial(frozen, study_name=study.study_name)
    assert (record.state, record.n_epochs, record.mean_test_score) == ("complete", 3,
                                                                       pytest.approx(0.6))
    assert math.isnan(record.mean_fit_time)  # a fold without a time is NaN


def test_trials_fail_trial_and_retry_of_copy_what_a_retry_needs():
    storage = optuna.storages.InMemoryStorage()
    study = optuna.create_study(storage=storage)
    trial = study.ask()
    trial.suggest_float("x", 0.0, 1.0)
    record_worker(storage, study.study_name, trial.number, {"host": "h", "pid": 1})
    fail_trial(storage, study.study_name, trial.number, "gone", orphaned=True)
    failed = study.trials[0]
    assert failed.state == TrialState.FAIL and worker_of(failed) == {"host": "h", "pid": 1}
    assert failed.user_attrs["fail_reason"] == failed.system_attrs[ORPHAN_ATTR] == "gone"
    retry = retry_of(failed, max_retry=1)
    assert retry.state == TrialState.WAITING and retry.params == failed.params
    assert WORKER_ATTR not in retry.system_attrs and ORPHAN_ATTR not in retry.system_attrs
    assert retry.system_attrs[RETRY_ATTR] == [0] and "fail_reason" not in retry.user_attrs
    study.add_trial(retry)
    assert retry_of(study.trials[1], max_retry=1) is None  # retried once already
    with pytest.raises(optuna.exceptions.UpdateFinishedTrialError):
        fail_trial(storage, study.study_name, 0, "again")
