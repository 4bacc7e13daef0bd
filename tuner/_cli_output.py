"""What the CLI commands do and print (plan, progress, summary tables); imported lazily.

``tuner.cli`` only parses arguments; each command calls one ``*_command``
function here, which calls the library and prints with ``rich`` (plan and
summary to stdout, the progress bar to stderr).
"""

import math
import sys
import time
from pathlib import Path

from tuner._cli_summary import fmt as _fmt
from tuner._cli_summary import grid as _grid
from tuner._cli_summary import mlflow_target, print_partial, print_summary
from tuner._experiment_checks import check_run, check_worker, n_workers
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

EXIT_OK, EXIT_FAILURE, EXIT_INTERRUPTED = 0, 1, 130


def console(*, stderr=False):
    """A rich Console; 120 columns when not writing to a terminal (logs, tests)."""
    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    width = None if stream.isatty() else 120
    return Console(file=stream, width=width, highlight=False, soft_wrap=False)


def _spec_text(spec):
    """One parameter spec of a space as short text."""
    return ", ".join(f"{k}={_fmt(v)}" for k, v in spec.items() if k != "type") \
        + f"  ({spec.get('type', '?')})"


# ---------------------------------------------------------------- plan

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
    name = experiment.search_space.file or "inline"
    rows = [("Space", f"{name}: {len(experiment.space.names)} tunable parameters")]
    groups = spec.get("union", [spec])
    for group in groups:
        for param, param_spec in group.get("parameters", {}).items():
            rows.append(("", f"{param}: {_spec_text(param_spec)}"))
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
                   f"seed {experiment.config.seed}, {_jobs_text(experiment, n_jobs)}"),
            ("Storage", f"study '{experiment.name}' in {storage}"
                        + _fresh_text(stored, fresh=fresh, dry_run=dry_run)),
            ("Tracking", _tracking_text(experiment, tracking, tracking_uri))]
    if experiment.description:
        rows.insert(1, ("", experiment.description.strip()))
    out.print(_grid(rows))
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


# ---------------------------------------------------------------- commands

class _Announce:
    """Search callback: print one line when the study starts, i.e. once every check passed."""

    def __init__(self, out, text):
        self.out, self.text = out, text

    def __getstate__(self):
        return {"out": None, "text": self.text}  # worker processes print nothing

    def on_study_start(self, search, study):
        """Print the line (driver process)."""
        if self.out is not None:
            self.out.print(self.text, soft_wrap=True)


def _checked(path, *, overrides, storage, n_trials, n_jobs, tracking, tracking_uri,
             require_study):
    """(experiment, storage, data) once every check of ``run`` passed; nothing printed yet."""
    experiment = load_experiment(path, overrides=overrides)
    storage = storage or experiment.storage
    data = experiment.load_data()
    check_run(experiment, data, storage=storage, n_trials=n_trials, n_jobs=n_jobs,
              tracking=tracking, tracking_uri=tracking_uri, keys=("--n-jobs", "--tracking-uri"))
    if require_study and stored_trials(storage, experiment.name) is None:
        raise ExperimentError("no stored study to resume", source=experiment.where,
                              key="storage", value=str(storage),
                              allowed="start it with: python -m tuner run EXPERIMENT")
    return experiment, storage, data


def _partial(out, experiment, storage, *, tracking, tracking_uri, title="Summary (interrupted)"):
    """What the stored study holds after Ctrl-C (or when no trial completed)."""
    print_partial(out, experiment, storage, title=title,
                  mlflow=mlflow_target(experiment, tracking=tracking, tracking_uri=tracking_uri))


def run_command(path, *, overrides=(), n_trials=None, n_jobs=None, storage=None,
                tracking_uri=None, tracking=True, dry_run=False, fresh=False,
                require_study=False, stale_after=None):
    """``tuner run`` / ``resume``: plan, progress bar, summary; returns the exit code."""
    out, where = console(), {"tracking": tracking, "tracking_uri": tracking_uri}
    experiment, storage, data = _checked(path, overrides=overrides, storage=storage,
                                         n_trials=n_trials, n_jobs=n_jobs,
                                         require_study=require_study, **where)
    total = print_plan(out, experiment, data, storage=storage, n_trials=n_trials, n_jobs=n_jobs,
                       fresh=fresh, dry_run=dry_run, **where)
    if dry_run:
        out.print("Dry run: nothing was trained.")
        return EXIT_OK
    start = time.perf_counter()
    try:
        with StudyProgress(total, description=experiment.name,
                           console=console(stderr=True)) as bar:
            search = run_experiment(experiment, n_trials=n_trials, n_jobs=n_jobs, storage=storage,
                                    fresh=fresh, callbacks=[bar], data=data,
                                    stale_after=stale_after, **where)
    except KeyboardInterrupt:
        _partial(out, experiment, storage, **where)
        return EXIT_INTERRUPTED
    except ValueError as exc:  # the search found no complete trial to refit (all failed)
        stored = stored_trials(storage, experiment.name) or []
        if isinstance(exc, ConfigError) or any(t.state.name == "COMPLETE" for t in stored):
            raise
        _partial(out, experiment, storage, title="Summary (no trial completed)", **where)
        print("error: " + " ".join(str(exc).split()), file=sys.stderr)
        return EXIT_FAILURE
    print_summary(out, search, storage=storage, elapsed=time.perf_counter() - start)
    return EXIT_OK


def worker_command(path, *, storage, overrides=(), n_trials=None, n_jobs=None,
                   tracking_uri=None, tracking=True, stale_after=None):
    """``tuner worker``: run trials of a stored study until its budget is spent."""
    out = console()
    experiment = load_experiment(path, overrides=overrides)
    check_worker(experiment, storage=storage, n_jobs=n_jobs, key="--n-jobs")
    total = n_trials_budget(experiment, None if experiment.driver.type == "grid" else n_trials)
    header = _Announce(out, f"Worker for study '{experiment.name}' in {storage} "
                            f"(budget {total} trials)")
    try:
        with StudyProgress(total, description=f"{experiment.name} (worker)",
                           console=console(stderr=True)) as bar:
            n_total = run_worker(experiment, storage=storage, n_trials=n_trials, n_jobs=n_jobs,
                                 tracking_uri=tracking_uri, tracking=tracking,
                                 callbacks=[header, bar], stale_after=stale_after)
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
