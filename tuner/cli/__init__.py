"""Command line: ``python -m tuner run experiments/digits_optuna.yaml`` and friends.

Thin click commands; the library does the work: each command calls one
function of :mod:`tuner.cli.commands` (``lr-find``: :mod:`tuner.cli.lr_find`),
imported inside the command. Only click is imported at module level, so
``python -m tuner --help`` stays fast (no mlflow, optuna or scikit-learn import).

The exit codes, here and nowhere else: :data:`EXIT_OK` 0 success,
:data:`EXIT_USAGE` 2 user error (a :class:`tuner.errors.ConfigError` or a usage
error: one line on stderr, no traceback), :data:`EXIT_INTERRUPTED` 130
interrupted (Ctrl-C), :data:`EXIT_FAILURE` 1 anything else (e.g. no trial
completed).

Examples
--------
>>> main(["validate", "experiments/digits_optuna.yaml"])  # doctest: +SKIP
0
"""

import click

#: success
EXIT_OK = 0
#: a run that could not finish (e.g. every trial failed)
EXIT_FAILURE = 1
#: a user error: bad file, key or value, or a usage error (one line on stderr)
EXIT_USAGE = 2
#: interrupted by Ctrl-C (128 + SIGINT, as shells report it)
EXIT_INTERRUPTED = 130

_EXPERIMENT = click.argument("experiment", type=click.Path())
_SET = click.option("--set", "overrides", multiple=True, metavar="KEY.SUB=VALUE",
                    help="Override a key of the experiment file (value parsed as YAML).")
_N_TRIALS = click.option("--n-trials", type=click.IntRange(min=1),
                         help="Total trials of the study (default: the file's budget).")
_N_JOBS = click.option("--n-jobs", type=int, help="Worker processes, as in joblib: N, or "
                       "-1 for all cores, -2 for all but one (default: the file's n_jobs).")
_TRACKING_URI = click.option("--tracking-uri", help="MLflow store (default: the file's, "
                             "else MLFLOW_TRACKING_URI, else sqlite:///mlflow.db; a worker: the "
                             "store recorded on the study).")


_STALE_AFTER = click.option(
    "--stale-after", type=click.FloatRange(min=0, min_open=True), metavar="SECONDS",
    envvar="TUNER_STALE_AFTER",
    help="Fail (and retry once) RUNNING trials of other hosts that started more than SECONDS "
         "ago; same-host trials are failed as soon as their process is gone (journal storage "
         "has no heartbeats). Env: TUNER_STALE_AFTER.")


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="tuner", prog_name="tuner")
def cli():
    """Hyperparameter tuning for neural networks: grid, random and Optuna search, in MLflow.

    \f
    Examples
    --------
    >>> main(["--help"])  # doctest: +SKIP
    """


@cli.command()
@_EXPERIMENT
@_SET
@_N_TRIALS
@_N_JOBS
@click.option("--storage", help="Optuna storage: journal file path or database URL "
              "(default: .tuner/<name>.journal next to the experiment file).")
@_TRACKING_URI
@click.option("--no-mlflow", is_flag=True, help="Do not log to MLflow.")
@click.option("--dry-run", is_flag=True, help="Validate and print the plan; run nothing.")
@click.option("--fresh", is_flag=True, help="Delete the experiment's stored study first and "
              "start over (its MLflow runs are kept; default: resume it up to its budget).")
@_STALE_AFTER
def run(*, experiment, overrides, n_trials, n_jobs, storage, tracking_uri, no_mlflow, dry_run,
        fresh, stale_after):
    """Run an experiment file: plan, live progress bar, summary.

    Re-running the same experiment resumes its study: only the remaining trial
    budget runs. --fresh deletes the stored study of that name and starts over.

    \f
    Examples
    --------
    >>> main(["run", "experiments/digits_optuna.yaml", "--dry-run"])  # doctest: +SKIP
    0
    """
    from tuner.cli.commands import run_command

    return run_command(experiment, overrides=overrides, n_trials=n_trials, n_jobs=n_jobs,
                       storage=storage, tracking_uri=tracking_uri, tracking=not no_mlflow,
                       dry_run=dry_run, fresh=fresh, stale_after=stale_after)


@cli.command()
@_EXPERIMENT
@_SET
@_N_TRIALS
@_N_JOBS
@click.option("--storage", help="Where the study is (default: .tuner/<name>.journal next to "
              "the experiment file).")
@_TRACKING_URI
@click.option("--no-mlflow", is_flag=True, help="Do not log to MLflow.")
def resume(*, experiment, overrides, n_trials, n_jobs, storage, tracking_uri, no_mlflow):
    """Continue the stored study of EXPERIMENT up to its budget (fails if there is none).

    The same as `run` on an existing study: finished trials are kept, only the
    remaining budget runs; raise the budget with --n-trials.

    \f
    Examples
    --------
    >>> main(["resume", "experiments/digits_optuna.yaml", "--n-trials", "40"])  # doctest: +SKIP
    0
    """
    from tuner.cli.commands import run_command

    return run_command(experiment, overrides=overrides, n_trials=n_trials, n_jobs=n_jobs,
                       storage=storage, tracking_uri=tracking_uri, tracking=not no_mlflow,
                       require_study=True)


@cli.command()
@_EXPERIMENT
@click.option("--storage", required=True, help="The shared study storage (database URL or a "
              "journal file on a shared disk; not SQLite).")
@_SET
@_N_TRIALS
@_N_JOBS
@_TRACKING_URI
@click.option("--no-mlflow", is_flag=True, help="Do not log to MLflow.")
@_STALE_AFTER
def worker(*, experiment, storage, overrides, n_trials, n_jobs, tracking_uri, no_mlflow,
           stale_after):
    """Join the study of EXPERIMENT from any machine and run trials until its budget is spent.

    The study must exist (start it with `tuner run`); the worker neither refits nor
    summarises: the `run` process does.

    \f
    Examples
    --------
    >>> main(["worker", "experiments/digits_optuna.yaml",
    ...       "--storage", "postgresql://db/t"])  # doctest: +SKIP
    0
    """
    from tuner.cli.commands import worker_command

    return worker_command(experiment, storage=storage, overrides=overrides, n_trials=n_trials,
                          n_jobs=n_jobs, tracking_uri=tracking_uri, tracking=not no_mlflow,
                          stale_after=stale_after)


@cli.command()
@click.argument("path", type=click.Path())
@_SET
def validate(*, path, overrides):
    """Validate an experiment file (loading its data) or a search space file.

    \f
    Examples
    --------
    >>> main(["validate", "experiments/digits_grid.yaml"])  # doctest: +SKIP
    0
    """
    from tuner.cli.commands import validate_command

    return validate_command(path, overrides=overrides)


@cli.command()
def spaces():
    """List the shipped search spaces with their descriptions and sizes.

    \f
    Examples
    --------
    >>> main(["spaces"])  # doctest: +SKIP
    0
    """
    from tuner.cli.commands import spaces_command

    return spaces_command()


@cli.command()
@click.option("--port", default=5000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--host", default="127.0.0.1", show_default=True)
@_TRACKING_URI
def ui(*, port, host, tracking_uri):
    """Open the MLflow UI on the tracking store.

    \f
    Examples
    --------
    >>> main(["ui", "--port", "5001"])  # doctest: +SKIP
    0
    """
    from tuner.tracking import launch_ui

    launch_ui(tracking_uri, host=host, port=port)
    return EXIT_OK


class _BatchSize(click.ParamType):
    """A batch size: an int >= 1, ``full`` (all rows) or ``auto`` (min(200, rows))."""

    name = "INT|full|auto"

    def convert(self, value, param, ctx):
        """'64' -> 64; 'full' and 'auto' stay strings; anything else is a usage error."""
        if isinstance(value, int) or value in ("full", "auto"):
            return value
        try:
            number = int(value)
        except ValueError:
            number = 0
        if number < 1:
            self.fail(f"{value!r} is not an int >= 1, 'full' or 'auto'", param, ctx)
        return number


@cli.command("lr-find")
@_EXPERIMENT
@_SET
@click.option("--batch-size", "batch_sizes", multiple=True, type=_BatchSize(),
              help="Batch size(s) to test, one curve each: an int, 'full' or 'auto' "
                   "(repeat the option; default: the estimator's).")
@click.option("--write-space", type=click.Path(dir_okay=False),
              help="Write the experiment's space with learning_rate_init narrowed here.")
@click.option("--out", type=click.Path(dir_okay=False), help="Plot file "
              "(default: reports/<name>/lr_find.png next to the experiment file).")
@_TRACKING_URI
@click.option("--no-mlflow", is_flag=True, help="Do not log the plot to MLflow.")
def lr_find(*, experiment, overrides, batch_sizes, write_space, out, tracking_uri, no_mlflow):
    """Learning-rate range test on the experiment's training data.

    \f
    Examples
    --------
    >>> main(["lr-find", "experiments/digits_optuna.yaml", "--batch-size", "32"])  # doctest: +SKIP
    0
    """
    from tuner.cli.lr_find import lr_find_command

    return lr_find_command(experiment, overrides=overrides, batch_sizes=batch_sizes,
                           write_space=write_space, out=out, tracking_uri=tracking_uri,
                           tracking=not no_mlflow)


@cli.command()
@_EXPERIMENT
@_SET
@click.option("--out", type=click.Path(file_okay=False), help="Output directory "
              "(default: reports/<name> next to the experiment file).")
@click.option("--storage", help="Study storage (default: the experiment's).")
def report(*, experiment, overrides, out, storage):
    """Write the HTML report (figures + tables) of the experiment's study.

    \f
    Examples
    --------
    >>> main(["report", "experiments/digits_optuna.yaml"])  # doctest: +SKIP
    0
    """
    from tuner.cli.commands import report_command

    return report_command(experiment, overrides=overrides, out=out, storage=storage)


def _error(message):
    """Print one line to stderr."""
    click.echo(" ".join(str(message).split()), err=True)


def main(argv=None):
    """Run the command line; return the exit code (never raises for user errors).

    Parameters
    ----------
    argv : list of str, optional
        Arguments (default: ``sys.argv[1:]``).

    Returns
    -------
    int
        0 success, 1 failure, 2 user error, 130 interrupted.

    Examples
    --------
    >>> main(["--version"])  # doctest: +ELLIPSIS
    tuner, version ...
    0
    """
    from tuner.errors import ConfigError

    try:
        code = cli.main(args=argv, prog_name="tuner", standalone_mode=False)
    except click.exceptions.Abort:
        _error("interrupted")
        return EXIT_INTERRUPTED
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except ConfigError as exc:
        _error(f"error: {exc}")
        return EXIT_USAGE
    except KeyboardInterrupt:
        _error("interrupted")
        return EXIT_INTERRUPTED
    return code if isinstance(code, int) else EXIT_OK
