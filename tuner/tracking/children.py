"""Child runs of a study's parent run (part of :mod:`tuner.tracking`); mlflow lazily.

One child run per trial, written three ways: by the tracker of the process that
ran the trial (:func:`log_trial_run`, from the background writer), by crash
recovery for trials lost with their worker (:func:`close_orphans`), and by
:func:`write_missing_runs`, which rebuilds the run of any finished trial that has none
from what the evaluator stored on the Optuna trial (a worker stopped between
Optuna recording the trial and its run being written, a store that was down).
"""

import time
import warnings

from tuner.tracking import _writer
from tuner.tracking.client import batch, find_parent_run, make_client, resolve_tracking_uri
from tuner.tracking.runs import (
    MLFLOW_STATE,
    RUN_STATUS,
    trial_metrics,
    trial_params,
    trial_start,
    trial_tags,
)

#: Seconds after which a trial finished by a worker on another machine is taken as
#: settled (its own tracker had time to write the run): only then is it reconciled.
OTHER_HOST_GRACE_SECONDS = 120


def log_trial_run(client, ids, record, buffered, *, start, end, tags=None):
    """Create the child run of ``record`` with params, metrics, tags and its final status.

    ``ids`` is ``(experiment_id, parent_run_id, study_name)``; three calls:
    ``create_run``, one ``log_batch``, ``set_terminated``. Returns the run id."""
    experiment_id, parent_run_id, study_name = ids
    run = client.create_run(experiment_id, start_time=start,
                            run_name=f"trial-{record.number:03d}",
                            tags={**trial_tags(record, parent_run_id, study_name),
                                  **(tags or {})})
    batch(client, run.info.run_id, params=trial_params(record),
          metrics=trial_metrics(record, buffered, end))
    status = RUN_STATUS.get(str(getattr(record, "state", "complete")), "FAILED")
    client.set_terminated(run.info.run_id, status=status, end_time=end)
    return run.info.run_id


_clients = {}  # tracking URI -> MlflowClient of this process (the writer's, usually)
_parents = {}  # (URI, experiment name, study name) -> ids of the parent run found


def _client(uri):
    """The cached ``MlflowClient`` of this process for ``uri``."""
    if uri not in _clients:
        _clients[uri] = make_client(uri)
    return _clients[uri]


def _parent_ids(client, target, study_name):
    """``(experiment_id, parent_run_id, study_name)``; looked up once when the tracker that
    sent the job never saw ``on_study_start`` (a worker on another machine)."""
    study_name = target["study_name"] or study_name
    if target["parent_run_id"] is not None:
        return target["experiment_id"], target["parent_run_id"], study_name
    key = (target["tracking_uri"], target["experiment_name"] or study_name, study_name)
    if key not in _parents:
        run = find_parent_run(client, key[1], study_name)
        _parents[key] = (run.info.experiment_id, run.info.run_id, study_name)
    return _parents[key]


def write_trial(target, record, buffered, end):
    """Log one finished trial as a child run (a writer job; see :mod:`._writer`).

    ``target`` holds the tracker's ``tracking_uri``, ``experiment_name``,
    ``study_name``, ``experiment_id`` and ``parent_run_id`` (None: find it)."""
    from mlflow.exceptions import MlflowException

    try:
        client = _client(target["tracking_uri"])
        ids = _parent_ids(client, target, getattr(record, "study_name", None))
        log_trial_run(client, ids, record, buffered, start=trial_start(record, buffered, end),
                      end=end)
    except (MlflowException, OSError, LookupError) as exc:  # the result is safe in Optuna
        warnings.warn(f"MLflow: could not log trial {record.number}: {exc}", stacklevel=2)


def children(client, parent_run_id, experiment_id=None):
    """Child runs of a parent, keyed by trial number."""
    if experiment_id is None:
        experiment_id = client.get_run(parent_run_id).info.experiment_id
    runs = client.search_runs([experiment_id],
                              filter_string=f"tags.`mlflow.parentRunId` = '{parent_run_id}'",
                              max_results=50000)
    return {int(r.data.tags["tuner.trial"]): r for r in runs if "tuner.trial" in r.data.tags}


def close_orphans(client, parent_run_id, trial_numbers, reason, status):
    """Create or close the child runs of ``trial_numbers`` with ``status`` and ``reason``."""
    if status not in ("FAILED", "KILLED"):
        raise ValueError(f"status must be 'FAILED' or 'KILLED', got {status!r}")
    state = MLFLOW_STATE[{v: k for k, v in RUN_STATUS.items()}[status]]
    parent = client.get_run(parent_run_id)
    runs, closed = children(client, parent_run_id, parent.info.experiment_id), []
    for number in trial_numbers:
        run = runs.get(number)
        if run is not None and run.info.status != "RUNNING":
            continue  # already finished: its own record is the truth
        if run is None:
            tags = {"mlflow.parentRunId": parent_run_id, "tuner.trial": str(number),
                    "tuner.study": parent.data.tags.get("tuner.study", "")}
            run = client.create_run(parent.info.experiment_id, run_name=f"trial-{number:03d}",
                                    tags=tags)
        batch(client, run.info.run_id, tags={
            "tuner.state": state, "tuner.fail_reason": reason,
            "mlflow.note.content": f"Trial {number} {state}: {reason}"})
        client.set_terminated(run.info.run_id, status=status)
        closed.append(run.info.run_id)
    return closed


def _settled(trial, here, now):
    """True when no tracker may still be writing the trial's run.

    Its worker is this process (whose writer was flushed), a process of this
    machine that is gone, or a worker elsewhere that finished it long enough ago."""
    from tuner.search.processes import process_alive
    from tuner.search.trials import worker_of

    info = worker_of(trial)
    if not info:
        return True
    if info.get("host") == here["host"]:
        return info.get("pid") == here["pid"] or info.get("boot") != here["boot"] \
            or not process_alive(info["pid"], info.get("start_ticks"))
    finished = trial.datetime_complete.timestamp() if trial.datetime_complete else 0.0
    return now - finished > OTHER_HOST_GRACE_SECONDS


def _ms(moment, default):
    """A datetime as MLflow milliseconds (``default`` when missing)."""
    return int(moment.timestamp() * 1000) if moment is not None else default


def _stored_record(trial, study):
    """The TrialRecord of a finished trial, from its user attributes (tuples restored)."""
    from tuner.search.trials import TrialRecord

    record = TrialRecord.from_trial(trial, metric=study.user_attrs.get("objective", "score"),
                                    study_name=study.study_name)
    record.params = {k: tuple(v) if isinstance(v, list) else v  # JSON turned tuples into lists
                     for k, v in record.params.items()}
    return record


def write_missing_runs(client, ids, study):
    """Write the child run of every settled, finished trial of ``study`` that has none.

    Parameters
    ----------
    client : mlflow.MlflowClient
    ids : tuple
        ``(experiment_id, parent_run_id, study_name)`` of the study's parent run.
    study : optuna.Study

    Returns
    -------
    list of int
        Numbers of the trials whose runs were written.
    """
    from tuner.search.processes import worker_identity
    from tuner.search.trials import is_finished

    experiment_id, parent_run_id, _ = ids
    have = children(client, parent_run_id, experiment_id)
    here, now, written = worker_identity(), time.time(), []
    for trial in study.get_trials(deepcopy=False):
        if not is_finished(trial) or trial.number in have \
                or not _settled(trial, here, now):
            continue
        end = _ms(trial.datetime_complete, int(now * 1000))
        log_trial_run(client, ids, _stored_record(trial, study), [],
                      start=_ms(trial.datetime_start, end), end=end,
                      tags={"tuner.reconciled": "true"})  # rebuilt from the Optuna trial
        written.append(trial.number)
    return written


def fail_orphan_runs(tracking_uri, parent_run_id, trial_numbers, reason, *, status="FAILED"):
    """Close the child runs of trials that died with their worker (crash recovery).

    Child runs are written when a trial ends, so a trial killed mid-way has no
    run, or (older stores) one left RUNNING. Each listed trial gets a child run
    with ``tuner.state`` = ``failed`` (``pruned`` for status KILLED), the reason
    and the given terminal status; finished child runs are left alone.

    Parameters
    ----------
    tracking_uri : str or None
        The store (resolved like :func:`resolve_tracking_uri`).
    parent_run_id : str
        The study's parent run (``study.user_attrs["mlflow_parent_run_id"]``).
    trial_numbers : iterable of int
        Optuna trial numbers to close.
    reason : str
        Why they failed, e.g. ``"worker died (stale heartbeat)"``.
    status : {"FAILED", "KILLED"}, default="FAILED"

    Returns
    -------
    list of str
        Run ids that were created or closed.

    Examples
    --------
    >>> fail_orphan_runs(None, "abc", [], "worker died")  # doctest: +SKIP
    []
    """
    _writer.flush()  # runs this process queued are written first, never duplicated
    client = make_client(resolve_tracking_uri(tracking_uri))
    return close_orphans(client, parent_run_id, list(trial_numbers), reason, status)
