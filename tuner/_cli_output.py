"""What the CLI commands do and print (plan, progress, summary tables); imported lazily.

``tuner.cli`` only parses arguments; each command calls one ``*_command``
function here, which calls the library and prints with ``rich`` (plan and
summary to stdout, the progress bar to stderr).
"""

import math
import shlex
import sys
import time
from pathlib import Path

from tuner import _experiment_run as run_helpers
from tuner.errors import ConfigError, ExperimentError
from tuner.experiment import (
    epoch_budget,
    list_spaces,
    load_experiment,
    n_trials_budget,
    run_experiment,
    run_worker,
)
from tuner.progress import StudyProgress
from tuner.search.storage import load_stored_study, stored_trials
from tuner.search.workers import quiet_interrupts

EXIT_OK, EXIT_FAILURE, EXIT_INTERRUPTED = 0, 1, 130
_STATE_ORDER = ("complete", "pruned", "fail", "running")


def console(*, stderr=False):
    """A rich Console; 120 columns when not writing to a terminal (logs, tests)."""
    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    width = None if stream.isatty() else 120
    return Console(file=stream, width=width, highlight=False, soft_wrap=False)


def _fmt(value):
    """Compact text for a number or parameter value."""
    if isinstance(value, float):
        return "nan" if math.isnan(value) else f"{value:.4g}"
    return str(value)


def _spec_text(spec):
    """One parameter spec of a space as short text."""
    return ", ".join(f"{k}={_fmt(v)}" for k, v in spec.items() if k != "type") \
        + f"  ({spec.get('type', '?')})"


def _grid(rows, title=None):
    """A two-column rich table without borders."""
    from rich.table import Table

    table = Table(title=title, show_header=False, box=None, pad_edge=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column()
    for key, value in rows:
        table.add_row(key, value)
    return table


# ---------------------------------------------------------------- plan

def _budget_text(experiment, n_trials, done):
    """'grid of 9 points' or '24 trials', with what is already stored."""
    kind = experiment.driver.type
    total = n_trials_budget(experiment) if kind == "grid" else \
        n_trials_budget(experiment, n_trials)
    text = f"grid of {total} points" if kind == "grid" else f"{total} trials"
    if experiment.driver.timeout:
        text += f" or {experiment.driver.timeout:g} s"
    if done:
        text += f" ({done} already in the study: resuming, {max(total - done, 0)} to run)"
    return text, total


def _space_rows(experiment):
    """Rows describing the search space."""
    spec = experiment.space.to_dict()
    name = experiment.search_space.file or "inline"
    rows = [("Space", f"{name}: {len(experiment.space.names)} tunable parameters")]
    groups = spec.get("union", [spec])
    for group in groups:
        for param, param_spec in group.get("parameters", {}).items():
            rows.append(("", f"{param}: {_spec_text(param_spec)}"))
    return rows


def print_plan(out, experiment, data, *, storage, n_trials=None, n_jobs=None, tracking=True,
               tracking_uri=None, fresh=False):
    """Print what ``run`` is about to do; return the trial budget."""
    trials = [] if fresh else stored_trials(storage, experiment.name) or []
    done = sum(t.state.name in ("COMPLETE", "PRUNED", "FAIL") for t in trials)
    budget, total = _budget_text(experiment, n_trials, done)
    driver = experiment.driver
    sampler = f"sampler {driver.sampler}, " if driver.type == "optuna" else ""
    size = experiment.config.test_size
    n_test = math.ceil(size * len(data.y))  # train_test_split rounds the test part up
    split = f"train {len(data.y) - n_test} / held-out test {n_test}" if size else "no test split"
    params = experiment.estimator.params
    rows = [("Experiment", f"{experiment.name}  ({experiment.where})"),
            ("Dataset", f"{data.describe()}; {split}"),
            ("Preprocess", {"standard": "standard scaling", "minmax": "min-max scaling",
                            "none": "none"}[experiment.preprocess] + " (fitted per CV fold)"),
            ("Estimator", f"{experiment.estimator_class().__name__}("
                          + ", ".join(f"{k}={_fmt(v)}" for k, v in params.items()) + ")"),
            *_space_rows(experiment),
            ("Driver", f"{driver.type} ({sampler}pruner {driver.pruner}), {budget}"),
            ("CV", f"{experiment.cv}-fold, scoring {experiment.scoring or 'default'}, "
                   f"{_trial_budget_text(experiment)}, "
                   f"seed {experiment.config.seed}, n_jobs {n_jobs or experiment.n_jobs}"),
            ("Storage", f"study '{experiment.name}' in {storage}"
                        + (" (--fresh: previous study deleted)" if fresh else "")),
            ("Tracking", _tracking_text(experiment, tracking, tracking_uri))]
    if experiment.description:
        rows.insert(1, ("", experiment.description.strip()))
    out.print(_grid(rows))
    return total


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


# ---------------------------------------------------------------- summary

def _counts_text(states):
    """'24 trials: 15 complete, 8 pruned, 1 failed'."""
    counts = {s: sum(1 for x in states if x == s) for s in _STATE_ORDER}
    parts = [f"{counts[s]} {'failed' if s == 'fail' else s}" for s in _STATE_ORDER
             if counts[s] or s != "running"]
    return f"{len(states)} trials: " + ", ".join(parts)


def _print_results(out, experiment, storage, tracker):
    """How to look at the results afterwards (never wrapped: the commands stay copyable)."""
    source = experiment.where or experiment.name
    flag = "".join(f" --set {shlex.quote(item)}" for item in experiment.overrides)
    flag += "" if storage == experiment.storage else f" --storage {storage}"
    lines = [f"Study:  '{experiment.name}' in {storage} (run again to resume, --fresh to "
             "restart)", f"Report: python -m tuner report {source}{flag}"]
    if tracker is not None:
        lines.append(f"MLflow: python -m tuner ui --tracking-uri {tracker.tracking_uri}  "
                     f"(experiment '{tracker.experiment_name}')")
    for line in lines:
        out.print(line, soft_wrap=True)


def _param_rows(raw, resolved):
    """Best raw parameters; a derived value (e.g. a batch-scaled rate) shows what was used."""
    rows = []
    for name, value in raw.items():
        used = resolved.get(f"{run_helpers.STEP}__{name}", resolved.get(name, value))
        text = _fmt(value) if _fmt(used) == _fmt(value) else f"{_fmt(value)} (used: {_fmt(used)})"
        rows.append((f"  {name}", text))
    return rows


def print_summary(out, search, *, storage, elapsed):
    """The summary table after a finished run."""
    experiment, results = search.experiment_, search.cv_results_
    best = search.best_index_
    scoring = experiment.scoring or "score"
    rows = [(f"Best trial #{results['trial_number'][best]}", _counts_text(
        [str(s) for s in results["state"]]))]
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
    out.print(_grid(rows, title="Summary"))
    if experiment.report.columns:
        out.print(trials_table(search, experiment.report.columns, top=experiment.report.top))
    _print_results(out, experiment, storage, getattr(search, "tracker_", None))


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
            value = raw.get(column, params.get(f"{run_helpers.STEP}__{column}", params.get(column)))
            if value is None and column in results:
                value = results[column][i]
            cells.append(_fmt(value.item() if hasattr(value, "item") else value))
        table.add_row(*cells)
    return table


def print_partial(out, experiment, storage, *, title="Summary (interrupted)"):
    """After Ctrl-C (or when no trial completed): what the stored study holds."""
    trials = stored_trials(storage, experiment.name) or []
    states = [{"COMPLETE": "complete", "PRUNED": "pruned", "FAIL": "fail"}.get(
        t.state.name, "running") for t in trials if t.state.name != "WAITING"]
    complete = [t for t in trials if t.state.name == "COMPLETE" and t.value is not None]
    rows = [("Trials", _counts_text(states) + " kept in the study")]
    if complete:
        best = max(complete, key=lambda t: t.value)
        rows.append((f"Best so far #{best.number}", f"{best.value:.4f}  " + ", ".join(
            f"{k}={_fmt(v)}" for k, v in best.params.items())))
    out.print(_grid(rows, title=title))
    _print_results(out, experiment, storage, None)


# ---------------------------------------------------------------- commands

def run_command(path, *, overrides=(), n_trials=None, n_jobs=None, storage=None,
                tracking_uri=None, tracking=True, dry_run=False, fresh=False,
                require_study=False):
    """``tuner run`` / ``resume``: plan, progress bar, summary; returns the exit code."""
    out = console()
    experiment = load_experiment(path, overrides=overrides)
    storage = storage or experiment.storage
    if require_study and stored_trials(storage, experiment.name) is None:
        raise ExperimentError("no stored study to resume", source=experiment.where,
                              key="storage", value=str(storage),
                              allowed="start it with: python -m tuner run EXPERIMENT")
    data = experiment.load_data()
    total = print_plan(out, experiment, data, storage=storage, n_trials=n_trials, n_jobs=n_jobs,
                       tracking=tracking, tracking_uri=tracking_uri, fresh=fresh)
    if dry_run:
        out.print("Dry run: nothing was trained.")
        return EXIT_OK
    quiet_interrupts()
    start = time.perf_counter()
    try:
        with StudyProgress(total, description=experiment.name,
                           console=console(stderr=True)) as bar:
            search = run_experiment(experiment, n_trials=n_trials, n_jobs=n_jobs,
                                    storage=storage, tracking_uri=tracking_uri,
                                    tracking=tracking, fresh=fresh, callbacks=[bar],
                                    data=data)
    except KeyboardInterrupt:
        print_partial(out, experiment, storage)
        return EXIT_INTERRUPTED
    except ValueError as exc:  # the search found no complete trial to refit (all failed)
        stored = stored_trials(storage, experiment.name) or []
        if isinstance(exc, ConfigError) or any(t.state.name == "COMPLETE" for t in stored):
            raise
        print_partial(out, experiment, storage, title="Summary (no trial completed)")
        print("error: " + " ".join(str(exc).split()), file=sys.stderr)
        return EXIT_FAILURE
    print_summary(out, search, storage=storage, elapsed=time.perf_counter() - start)
    return EXIT_OK


def worker_command(path, *, storage, overrides=(), n_trials=None, n_jobs=None,
                   tracking_uri=None, tracking=True):
    """``tuner worker``: run trials of a stored study until its budget is spent."""
    out = console()
    experiment = load_experiment(path, overrides=overrides)
    total = n_trials_budget(experiment, None if experiment.driver.type == "grid" else n_trials)
    quiet_interrupts()
    out.print(f"Worker for study '{experiment.name}' in {storage} (budget {total} trials)")
    try:
        with StudyProgress(total, description=f"{experiment.name} (worker)",
                           console=console(stderr=True)) as bar:
            n_total = run_worker(experiment, storage=storage, n_trials=n_trials, n_jobs=n_jobs,
                                 tracking_uri=tracking_uri, tracking=tracking, callbacks=[bar])
    except KeyboardInterrupt:
        print_partial(out, experiment, storage)
        return EXIT_INTERRUPTED
    out.print(f"Study '{experiment.name}' now has {n_total} trials; the run process refits "
              "and summarises.")
    return EXIT_OK


def _is_space_file(path):
    """True when a YAML file looks like a search space (parameters/union, no name)."""
    from tuner._experiment_files import read_yaml

    data = read_yaml(path)
    return isinstance(data, list) or (isinstance(data, dict) and "name" not in data and
                                      ("parameters" in data or "union" in data))


def _grid_size(space):
    """Number of grid points, or '> max' when too large to enumerate."""
    from tuner.errors import SearchSpaceError

    try:
        return str(len(space.grid()))
    except SearchSpaceError:
        return "> 10000"


def validate_command(path, *, overrides=()):
    """``tuner validate``: an experiment (and its data) or a search space file."""
    out = console()
    if not overrides and _is_space_file(path):
        from tuner.spaces import SearchSpace

        space = SearchSpace.load(Path(path))
        out.print(f"OK: search space {path}: {len(space.names)} tunable parameters "
                  f"({', '.join(space.names)}), grid of {_grid_size(space)} points")
        return EXIT_OK
    experiment = load_experiment(path, overrides=overrides)
    data = experiment.load_data()
    out.print(f"OK: experiment {experiment.name} ({path}): {data.describe()}; "
              f"{experiment.driver.type} over {len(experiment.space.names)} parameters")
    return EXIT_OK


def spaces_command():
    """``tuner spaces``: shipped search spaces with description and size."""
    from rich.table import Table

    from tuner.spaces import SearchSpace

    table = Table(title="Search spaces (use by name: search_space: <name>)", title_justify="left")
    for column in ("name", "parameters", "grid", "description"):
        table.add_column(column, overflow="fold")
    for name, path in list_spaces().items():
        space = SearchSpace.load(path)
        table.add_row(name, ", ".join(space.names), _grid_size(space),
                      " ".join((space.description or "").split()))
    console().print(table)
    return EXIT_OK


def report_command(path, *, overrides=(), out=None, storage=None):
    """``tuner report``: HTML report of the experiment's stored study."""
    from tuner.report import write_report

    experiment = load_experiment(path, overrides=overrides)
    storage = storage or experiment.storage
    study = load_stored_study(storage, experiment.name)
    if study is None:
        raise ExperimentError("no stored study of this experiment yet", source=experiment.where,
                              key="storage", value=str(storage),
                              allowed="run it first (python -m tuner run ...) or pass --storage")
    html = write_report(study, Path(out or Path("reports") / experiment.name),
                        title=f"{experiment.name}: {experiment.description.strip()}".rstrip(": "))
    console().print(f"Report written: {html}")
    return EXIT_OK
