"""What ``tuner run`` prints when it ends (private): the summary tables and where to look next.

- :func:`print_summary`: after a finished run (best trial, CV and held-out
  scores, training, time, trial counts, the optional per-trial table);
- :func:`print_partial`: after Ctrl-C, or when no trial completed: what the
  stored study holds;
- both end with the commands that open the study, its report and the MLflow UI.

Trials lost with their worker and retried (see :mod:`tuner.search.recovery`)
are failed attempts that do not count towards the budget; the counts say how
many there were.

Examples
--------
>>> counts_text(["complete", "complete", "fail"], retried=1)
'3 trials: 2 complete, 0 pruned, 1 failed (1 lost with its worker and retried)'
"""

import math
import shlex

from tuner._experiment_run import STEP
from tuner.search.trials import retried_failures, state_of

_STATE_ORDER = ("complete", "pruned", "fail", "running")


def fmt(value):
    """Compact text for a number or parameter value."""
    if isinstance(value, float):
        return "nan" if math.isnan(value) else f"{value:.4g}"
    return str(value)


def grid(rows, title=None):
    """A two-column rich table without borders."""
    from rich.table import Table

    table = Table(title=title, show_header=False, box=None, pad_edge=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column()
    for key, value in rows:
        table.add_row(key, value)
    return table


def counts_text(states, *, retried=0):
    """'24 trials: 15 complete, 8 pruned, 1 failed', plus how many failures were retried."""
    counts = {s: sum(1 for x in states if x == s) for s in _STATE_ORDER}
    parts = [f"{counts[s]} {'failed' if s == 'fail' else s}" for s in _STATE_ORDER
             if counts[s] or s != "running"]
    text = f"{len(states)} trials: " + ", ".join(parts)
    if retried:
        text += f" ({retried} lost with {'its' if retried == 1 else 'their'} worker and retried)"
    return text


def mlflow_target(experiment, *, tracking=True, tracking_uri=None):
    """(tracking URI, MLflow experiment name) a run logs to, or None when it does not."""
    if not (tracking and experiment.config.tracking.enabled):
        return None
    from tuner._experiment_checks import run_tracking_uri

    uri = run_tracking_uri(experiment, tracking_uri)[0]
    return uri, experiment.config.tracking.experiment_name or experiment.name


def print_results(out, experiment, storage, mlflow=None):
    """How to look at the results afterwards (never wrapped: the commands stay copyable).

    ``mlflow``: (tracking URI, experiment name), or None when nothing went to MLflow.
    """
    source = experiment.where or experiment.name
    flag = "".join(f" --set {shlex.quote(item)}" for item in experiment.overrides)
    flag += "" if storage == experiment.storage else f" --storage {storage}"
    lines = [f"Study:  '{experiment.name}' in {storage} (run again to resume, --fresh to "
             "restart)", f"Report: python -m tuner report {source}{flag}"]
    if mlflow is not None:
        lines.append(f"MLflow: python -m tuner ui --tracking-uri {mlflow[0]}  "
                     f"(experiment '{mlflow[1]}')")
    for line in lines:
        out.print(line, soft_wrap=True)


def _param_rows(raw, resolved):
    """Best raw parameters; a derived value (e.g. a batch-scaled rate) shows what was used."""
    rows = []
    for name, value in raw.items():
        used = resolved.get(f"{STEP}__{name}", resolved.get(name, value))
        text = fmt(value) if fmt(used) == fmt(value) else f"{fmt(value)} (used: {fmt(used)})"
        rows.append((f"  {name}", text))
    return rows


def print_summary(out, search, *, storage, elapsed):
    """The summary table after a finished run."""
    experiment, results = search.experiment_, search.cv_results_
    best = search.best_index_
    scoring = experiment.scoring or "score"
    retried = len(retried_failures(search.study_.get_trials(deepcopy=False)))
    rows = [(f"Best trial #{results['trial_number'][best]}", counts_text(
        [str(s) for s in results["state"]], retried=retried))]
    rows += _param_rows(results["base_params"][best], results["params"][best])
    rows.append((f"CV {scoring}", f"{search.best_score_:.4f} +- "
                                  f"{results['std_test_score'][best]:.4f} "
                                  f"({search.n_splits_} folds)"))
    test = getattr(search, "test_score_", None)
    if test is not None:
        rows.append((f"Held-out {scoring}", f"{test:.4f} (best params refitted on train split)"))
    rows.append(("Training", f"{results['n_epochs'][best]} epochs, "
                             f"{results['n_updates'][best]} weight updates per fold"))
    rows.append(("Time", f"{elapsed:.1f} s (best trial fit {results['mean_fit_time'][best]:.2f}"
                         f" s per fold, refit {getattr(search, 'refit_time_', 0.0):.2f} s)"))
    out.print(grid(rows, title="Summary"))
    if experiment.report.columns:
        out.print(trials_table(search, experiment.report.columns, top=experiment.report.top))
    tracker = getattr(search, "tracker_", None)
    mlflow = None if tracker is None else (tracker.tracking_uri, tracker.experiment_name)
    print_results(out, experiment, storage, mlflow)


def trials_table(search, columns, *, top=10):
    """Per-trial table of the requested parameter / result columns, best first."""
    from rich.table import Table

    results = search.cv_results_
    order = sorted(range(len(results["params"])), key=lambda i: results["rank_test_score"][i])
    table = Table(title=f"Trials (best {min(top, len(order))} of {len(order)})",
                  title_justify="left")
    for column in ["trial", *columns]:
        table.add_column(column, justify="right")
    for i in order[:top]:
        cells = [str(results["trial_number"][i])]
        for column in columns:
            raw, params = results["base_params"][i], results["params"][i]
            value = raw.get(column, params.get(f"{STEP}__{column}", params.get(column)))
            if value is None and column in results:
                value = results[column][i]
            cells.append(fmt(value.item() if hasattr(value, "item") else value))
        table.add_row(*cells)
    return table


def print_partial(out, experiment, storage, *, title="Summary (interrupted)", mlflow=None):
    """After Ctrl-C (or when no trial completed): what the stored study holds.

    ``mlflow``: as in :func:`print_results` (see :func:`mlflow_target`).
    """
    from tuner.search.storage import stored_trials

    trials = stored_trials(storage, experiment.name) or []
    states = [state_of(t) for t in trials if state_of(t) != "waiting"]
    complete = [t for t in trials if t.state.name == "COMPLETE" and t.value is not None]
    rows = [("Trials", counts_text(states, retried=len(retried_failures(trials)))
             + " kept in the study")]
    if complete:
        best = max(complete, key=lambda t: t.value)
        rows.append((f"Best so far #{best.number}", f"{best.value:.4f}  " + ", ".join(
            f"{k}={fmt(v)}" for k, v in best.params.items())))
    out.print(grid(rows, title=title))
    print_results(out, experiment, storage, mlflow)
