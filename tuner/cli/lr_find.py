"""The body of ``tuner lr-find``: what it does and prints; imported lazily by :mod:`tuner.cli`.

Order matters: the plot, the table and the MLflow run come first (they are the
test's results), the narrowed space last, so that a space that cannot be
narrowed (an exit-2 error) loses nothing else.
"""

from pathlib import Path

from tuner.cli import EXIT_OK
from tuner.cli.output import console
from tuner.experiment import load_experiment
from tuner.experiment import lr as lr_helpers


def lr_find_command(path, *, overrides=(), batch_sizes=(), write_space=None, out=None,
                    tracking_uri=None, tracking=True):
    """``tuner lr-find``: range test per batch size, plot, suggestions, narrowed space."""
    experiment = load_experiment(path, overrides=overrides)
    results, n_train = lr_helpers.lr_find_experiment(experiment, batch_sizes)
    png = Path(out or experiment.reports_dir() / "lr_find.png")
    png.parent.mkdir(parents=True, exist_ok=True)
    title = f"{experiment.name}: learning-rate range test ({n_train} training samples)"
    lr_helpers.lr_figure(results, title=title).savefig(png, dpi=110)
    out_console = console()
    out_console.print(_table(experiment.space, results, n_train, batch_sizes))
    out_console.print(f"Plot: {png}", soft_wrap=True)
    if tracking and experiment.config.tracking.enabled:
        uri = lr_helpers.log_lr_find(experiment, results, png, tracking_uri)
        out_console.print(f"Logged to MLflow run 'lr-find' ({uri})", soft_wrap=True)
    if write_space:
        _write_space(experiment, results, n_train, Path(write_space), out_console)
    return EXIT_OK


def _table(space, results, n_train, requested=()):
    """Suggestions per batch size (and in base units when the space scales the rate)."""
    from rich.table import Table

    derived = bool(lr_helpers.lr_spec(space).get("scale_with"))
    table = Table(title=f"Learning-rate range test on {n_train} training samples",
                  title_justify="left")
    columns = ["batch size", "suggested lr", "suggested range"]
    columns += ["base range (space units)"] if derived else []
    for column in [*columns, "minibatches", "diverged"]:
        table.add_column(column, justify="right")
    bases = lr_helpers.base_ranges(space, results, n_train) if derived else [None] * len(results)
    labels = [f"{size} ({r.batch_size})" if isinstance(size, str) else str(r.batch_size)
              for size, r in zip(requested or [None] * len(results), results, strict=True)]
    for label, r, base in zip(labels, results, bases, strict=True):
        cells = [label, f"{r.suggested_lr:.3g}", _range_text(r.suggested_range)]
        cells += [_range_text(base)] if derived else []
        table.add_row(*cells, str(len(r.lrs)), "yes" if r.diverged else "no")
    return table


def _range_text(bounds):
    """'0.001 .. 0.1'."""
    return f"{bounds[0]:.3g} .. {bounds[1]:.3g}"


def _write_space(experiment, results, n_train, path, out_console):
    """Write the narrowed space (a SearchSpaceError, nothing written, when it cannot be)."""
    import yaml

    space = lr_helpers.narrow_space(experiment.space, results, n_train)
    sizes = ", ".join(str(r.batch_size) for r in results)
    header = (f"# {experiment.name} space, learning_rate_init narrowed by lr-find "
              f"(batch sizes {sizes})\n")
    path.write_text(header + yaml.safe_dump(space.to_dict(), sort_keys=False))
    out_console.print(f"Space written: {path}", soft_wrap=True)
    out_console.print("  " + lr_helpers.narrowing_text(experiment.space, space), soft_wrap=True)
