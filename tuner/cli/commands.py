"""The bodies of the CLI commands; imported lazily by :mod:`tuner.cli`.

Each click command of :mod:`tuner.cli` calls one ``*_command`` function here,
which loads the experiment, calls the library and prints with
:mod:`tuner.cli.output` (plan and summary to stdout, the progress bar of
:mod:`tuner.cli.progress` to stderr); each returns an exit code of :mod:`tuner.cli`.
"""

import sys
import time
from pathlib import Path

from tuner.cli import EXIT_FAILURE, EXIT_INTERRUPTED, EXIT_OK
from tuner.cli.output import console, mlflow_target, print_partial, print_plan, print_summary
from tuner.cli.progress import StudyProgress
from tuner.errors import ConfigError, ExperimentError
from tuner.experiment import (
    list_spaces,
    load_experiment,
    n_trials_budget,
    run_experiment,
    run_worker,
)
from tuner.experiment.preflight import check_run, check_worker
from tuner.search.storage import load_stored_study, stored_trials


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
            result = run_experiment(experiment, n_trials=n_trials, n_jobs=n_jobs, storage=storage,
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
    print_summary(out, result, storage=storage, elapsed=time.perf_counter() - start)
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
    from tuner.experiment.load import read_yaml

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
    """``tuner validate``: an experiment (every check of ``run`` before its first trial,
    data included, writing nothing) or a search space file."""
    out = console()
    if not overrides and _is_space_file(path):
        from tuner.spaces import SearchSpace

        space = SearchSpace.load(Path(path))
        out.print(f"OK: search space {path}: {len(space.names)} tunable parameters "
                  f"({', '.join(space.names)}), grid of {_grid_size(space)} points")
        return EXIT_OK
    experiment, _, data = _checked(path, overrides=overrides, storage=None, n_trials=None,
                                   n_jobs=None, tracking=True, tracking_uri=None,
                                   require_study=False)
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
    html = write_report(study, Path(out or experiment.reports_dir()),
                        title=f"{experiment.name}: {experiment.description.strip()}".rstrip(": "))
    console().print(f"Report written: {html}")
    return EXIT_OK
