"""What the CLI prints: the plan before a run, the summary tables after it, and where to
look next.

- :func:`print_plan`: what ``tuner run`` is about to do (data, space, driver, budget,
  storage, tracking);
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
import sys

from tuner.experiment import epoch_budget, n_trials_budget
from tuner.experiment.preflight import n_workers, run_tracking_uri
from tuner.search.storage import stored_trials
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


def console(*, stderr=False):
    """A rich Console; 120 columns when not writing to a terminal (logs, tests)."""
    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    width = None if stream.isatty() else 120
    return Console(file=stream, width=width, highlight=False, soft_wrap=False)


def _spec_text(spec):
    """One parameter spec of a space as short text."""
    return ", ".join(f"{k}={fmt(v)}" for k, v in spec.items() if k != "type") \
        + f"  ({spec.get('type', '?')})"


def _budget_text(experiment, n_trials, done):
    """'grid of 9 points' or '24 trials', with what is already stored."""
    kind = experiment.driver.type
    total = n_trials_budget(experiment) if kind == "grid" else \
        n_trials_budget(experiment, n_trials)
    text = f"grid of {total} points" if kind == "grid" else f"{total} trials"
    if experiment.driver.timeout:
        text += f" or {experiment.driver.timeout:g} s"
    for kind, value in (experiment.driver.budget_arg("study_budget") or {}).items():
        unit = {"updates": "weight updates per fold", "seconds": "s of fit time"}.get(kind, kind)
        text += f" or {value:g} {unit} in all"
    if done:
        text += f" ({done} already in the study: resuming, {max(total - done, 0)} to run)"
    return text, total


def _space_rows(experiment):
    """Rows describing the search space."""
    spec = experiment.space.to_dict()
    name = experiment.config.search_space.file or "inline"
    rows = [("Space", f"{name}: {len(experiment.space.names)} tunable parameters")]
    groups = spec.get("union", [spec])
    for group in groups:
        for param, param_spec in group.get("parameters", {}).items():
            rows.append(("", f"{param}: {_spec_text(param_spec)}"))
    return rows


def _preprocess_rows(experiment, data):
    """What the preprocessing does, and for a table which columns went where."""
    from tuner.preprocessing import column_kinds

    names = {"standard": "standard scaling", "minmax": "min-max scaling", "none": "none"}
    table = experiment.preprocess == "auto" and hasattr(data.X, "columns")
    text = "auto: impute, scale, one-hot encode" if table else \
        names.get(experiment.preprocess, "standard scaling (numeric data)")
    rows = [("Preprocess", f"{text} (fitted per CV fold)")]
    if table:
        kinds = column_kinds(data.X, categorical=experiment.config.dataset.categorical or ())
        rows += [("", line) for line in kinds.describe()]
    return rows


def print_plan(out, experiment, data, *, storage, n_trials=None, n_jobs=None, tracking=True,
               tracking_uri=None, fresh=False, dry_run=False):
    """Print what ``run`` is about to do; return the trial budget."""
    stored = stored_trials(storage, experiment.name)
    trials = [] if fresh else stored or []
    done = sum(t.state.name in ("COMPLETE", "PRUNED", "FAIL") for t in trials)
    budget, total = _budget_text(experiment, n_trials, done)
    driver = experiment.driver
    sampler = f"sampler {driver.sampler}, " if driver.type == "optuna" else ""
    size = experiment.config.test_size
    n_test = math.ceil(size * len(data.y))  # train_test_split rounds the test part up
    split = f"train {len(data.y) - n_test} / held-out test {n_test}" if size else "no test split"
    params = experiment.config.estimator.params
    where = experiment.source.resolve() if experiment.source else "no file"
    rows = [("Experiment", f"{experiment.name}  ({where})"),
            ("Dataset", f"{data.describe()}; {split}"),
            *_preprocess_rows(experiment, data),
            ("Estimator", f"{experiment.estimator_class().__name__}("
                          + ", ".join(f"{k}={fmt(v)}" for k, v in params.items()) + ")"),
            *_space_rows(experiment),
            ("Driver", f"{driver.type} ({sampler}pruner {driver.pruner}), {budget}"),
            ("CV", f"{experiment.cv}-fold, scoring {experiment.scoring or 'default'}, "
                   f"{_trial_budget_text(experiment)}, "
                   f"seed {experiment.config.seed}, {_jobs_text(experiment, n_jobs)}"),
            ("Storage", f"study '{experiment.name}' in {storage}"
                        + _fresh_text(stored, fresh=fresh, dry_run=dry_run)),
            ("Tracking", _tracking_text(experiment, tracking, tracking_uri))]
    if experiment.description:
        rows.insert(1, ("", experiment.description.strip()))
    out.print(grid(rows))
    return total


def _jobs_text(experiment, n_jobs):
    """'n_jobs 2', or 'n_jobs -1 (2 processes)' for joblib's negative counts."""
    value = experiment.n_jobs if n_jobs is None else n_jobs
    count = n_workers(value)
    return f"n_jobs {value}" + ("" if value > 0 else f" ({count} processes)")


def _fresh_text(stored, *, fresh, dry_run):
    """What --fresh does (or, with --dry-run, would do) to the stored study."""
    if not fresh:
        return ""
    if stored is None:
        return " (--fresh: no stored study to delete)"
    if dry_run:
        return f" (--fresh: the stored study of {len(stored)} trials would be deleted)"
    return f" (--fresh: previous study deleted: {len(stored)} trials)"


def _trial_budget_text(experiment):
    """How long one trial trains: its budget in epochs, weight updates or fit seconds."""
    budget = experiment.driver.budget_arg() or {}
    if "updates" in budget:
        return f"{budget['updates']:g} weight updates per fold per trial"
    epochs = f"max {epoch_budget(experiment)} epochs per trial"
    if "seconds" in budget:
        return f"{budget['seconds']:g} s of fit time per trial (all folds), {epochs}"
    return epochs


def _tracking_text(experiment, tracking, tracking_uri):
    """Where MLflow logs go, or 'off'."""
    if not (tracking and experiment.config.tracking.enabled):
        return "off"
    from tuner.tracking import resolve_tracking_uri

    uri = resolve_tracking_uri(tracking_uri or experiment.config.tracking.tracking_uri)
    name = experiment.config.tracking.experiment_name or experiment.name
    return f"MLflow {uri}, experiment '{name}'"


def mlflow_target(experiment, *, tracking=True, tracking_uri=None):
    """(tracking URI, MLflow experiment name) a run logs to, or None when it does not."""
    if not (tracking and experiment.config.tracking.enabled):
        return None
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


def routed_value(params, name, default=None):
    """The value of the space's ``name`` among estimator ``params`` routed to a step
    (``mlp__name``, ``regressor__mlp__name``, ...), else ``default``."""
    return next((v for k, v in params.items() if k == name or k.endswith(f"__{name}")), default)


def _param_rows(raw, resolved):
    """Best raw parameters; a derived value (e.g. a batch-scaled rate) shows what was used."""
    rows = []
    for name, value in raw.items():
        used = routed_value(resolved, name, value)
        text = fmt(value) if fmt(used) == fmt(value) else f"{fmt(value)} (used: {fmt(used)})"
        rows.append((f"  {name}", text))
    return rows


def print_summary(out, result, *, storage, elapsed):
    """The summary table after a finished run (``result``: an ExperimentResult)."""
    experiment, search = result.experiment, result.search
    results, best = search.cv_results_, search.best_index_
    scoring = experiment.scoring or "score"
    retried = len(retried_failures(search.study_.get_trials(deepcopy=False)))
    rows = [(f"Best trial #{results['trial_number'][best]}", counts_text(
        [str(s) for s in results["state"]], retried=retried))]
    rows += _param_rows(results["base_params"][best], results["params"][best])
    rows.append((f"CV {scoring}", f"{search.best_score_:.4f} +- "
                                  f"{results['std_test_score'][best]:.4f} "
                                  f"({search.n_splits_} folds)"))
    if result.test_score is not None:
        rows.append((f"Held-out {scoring}",
                     f"{result.test_score:.4f} (best params refitted on train split)"))
    rows.append(("Training", f"{results['n_epochs'][best]} epochs, "
                             f"{results['n_updates'][best]} weight updates per fold"))
    rows.append(("Time", f"{elapsed:.1f} s (best trial fit {results['mean_fit_time'][best]:.2f}"
                         f" s per fold, refit {getattr(search, 'refit_time_', 0.0):.2f} s)"))
    out.print(grid(rows, title="Summary"))
    report = experiment.config.report
    if report.columns:
        out.print(trials_table(search, report.columns, top=report.top))
    tracker = result.tracker
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
            value = raw.get(column, routed_value(params, column))
            if value is None and column in results:
                value = results[column][i]
            cells.append(fmt(value.item() if hasattr(value, "item") else value))
        table.add_row(*cells)
    return table


def print_partial(out, experiment, storage, *, title="Summary (interrupted)", mlflow=None):
    """After Ctrl-C (or when no trial completed): what the stored study holds.

    ``mlflow``: as in :func:`print_results` (see :func:`mlflow_target`).
    """
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
