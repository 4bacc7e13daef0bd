"""A study report: PNG figures and one self-contained HTML page, from the study storage.

Nothing is retrained: everything comes from the Optuna trials and the user
attributes the evaluator stored on them (per-epoch history, epochs, updates).

Examples
--------
>>> import optuna, tempfile
>>> study = optuna.create_study(direction="maximize", study_name="demo")
>>> study.optimize(lambda t: -(t.suggest_float("x", -1, 1)) ** 2, n_trials=3)
>>> write_report(study, tempfile.mkdtemp()).name
'report.html'
"""

import base64
import html
import math
from pathlib import Path

from tuner.plots import study_figures, trial_views

CAPTIONS = {
    "optimization_history": "Mean cross-validation score of every trial and the best complete "
                            "score so far. Hollow grey: pruned trials, at the score they had "
                            "when stopped (not a final score).",
    "learning_curves": "Validation score and training loss per epoch (or per weight update / "
                       "sample seen when the pruner counted those), one line per trial, "
                       "coloured by learning rate on a log scale: too small a rate learns "
                       "slowly, too large a rate is noisy or diverges. When the learning rate "
                       "is fixed the colour follows the parameter that varies (see the title). "
                       "The marker is where each trial stopped.",
    "score_vs_params": "Final score against each hyperparameter that varied and against the "
                       "epochs each trial trained. Filled: complete trials; hollow grey: "
                       "pruned trials at their score when stopped, which says the pruner "
                       "stopped them early, not that the value is bad.",
    "param_importances": "How much each hyperparameter that varied matters for reaching the "
                         "best scores (Optuna's default evaluator, PED-ANOVA, complete trials "
                         "only; normalised to sum to 1).",
    "epochs_and_updates": "Epochs trained and weight updates per fold of every trial, grouped "
                          "by batch size (with its updates per epoch): smaller batches make "
                          "more updates for the same epochs.",
    "pruning": "Where each trial stopped (epochs, or the resource the pruner counted), by "
               "trial and as a histogram of pruned vs complete trials.",
}

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1150px; color: #222; }
h1 { font-size: 1.6em; } h2 { font-size: 1.2em; margin-top: 1.6em; }
table { border-collapse: collapse; font-size: 0.85em; }
td, th { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: left; }
th { background: #f3f3f3; } figure { margin: 1em 0; } img { max-width: 100%; }
figcaption { color: #555; font-size: 0.9em; } .complete { color: #1f77b4; }
.pruned { color: #7f7f7f; } .fail { color: #d62728; }
"""


def _fmt(value):
    """Short human form of a value for the tables."""
    if isinstance(value, float):
        return "nan" if not math.isfinite(value) else f"{value:.4g}"
    return str(value)


def _table(header, rows):
    """An HTML table (cells escaped)."""
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header or ())
    body = "".join(
        "<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)
    return f"<table>{f'<tr>{head}</tr>' if head else ''}{body}</table>"


def _summary(study, views):
    """Key facts of the study: direction, trial counts, best trial and its parameters."""
    counts = {s: sum(v.state == s for v in views) for s in ("complete", "pruned", "fail")}
    rows = [("study", study.study_name), ("direction", study.direction.name.lower()),
            ("trials", f"{len(views)} ({', '.join(f'{n} {s}' for s, n in counts.items())})")]
    complete = [v for v in views if v.state == "complete" and v.score is not None]
    if complete:
        pick = max if study.direction.name == "MAXIMIZE" else min
        best = pick(complete, key=lambda v: v.score)
        rows += [("best trial", best.number), ("best mean CV score", _fmt(best.score))]
        rows += [(f"best {k}", _fmt(v)) for k, v in best.params.items()]
    return _table(None, [(html.escape(str(k)), html.escape(str(v))) for k, v in rows])


def _trials_table(views):
    """One row per trial: state, score, epochs, updates and parameters."""
    rows = []
    for v in views:
        params = ", ".join(f"{k}={_fmt(x)}" for k, x in v.params.items())
        rows.append((v.number, f'<span class="{v.state}">{v.state}</span>',
                     _fmt(v.score) if v.score is not None else "", v.n_epochs, v.n_updates,
                     html.escape(params)))
    return _table(("trial", "state", "score", "epochs", "updates", "parameters"), rows)


def _figure_html(name, png):
    """A figure element with the PNG embedded as base64 and its caption."""
    data = base64.b64encode(png).decode("ascii")
    caption = html.escape(CAPTIONS.get(name, name))
    return (f'<figure id="{name}"><img alt="{name}" src="data:image/png;base64,{data}">'
            f"<figcaption>{caption} (<a href=\"{name}.png\">{name}.png</a>)</figcaption>"
            "</figure>")


def write_figures(study, out_dir, *, dpi=110):
    """Save every figure of :func:`tuner.plots.study_figures` as ``<out_dir>/<name>.png``.

    Parameters
    ----------
    study : optuna.Study
    out_dir : str or Path
        Created if missing.
    dpi : int, default=110

    Returns
    -------
    dict of str to Path
        Figure name -> PNG file.

    Examples
    --------
    >>> import optuna, tempfile
    >>> study = optuna.create_study()
    >>> write_figures(study, tempfile.mkdtemp())
    {}
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, figure in study_figures(study).items():
        paths[name] = out_dir / f"{name}.png"
        figure.savefig(paths[name], dpi=dpi)
    return paths


def write_report(study, out_dir, *, title=None):
    """Write the PNG figures and a self-contained ``report.html`` for a finished study.

    Parameters
    ----------
    study : optuna.Study
        A study run by a tuner search, e.g. ``optuna.load_study(...)``.
    out_dir : str or Path
        Folder for ``report.html`` and the ``<figure>.png`` files (created if missing).
    title : str, optional
        Page title; default ``"Study <name>"``.

    Returns
    -------
    pathlib.Path
        The HTML file; its images are embedded (base64), so it can be mailed alone.

    Examples
    --------
    >>> import optuna, tempfile
    >>> study = optuna.create_study(study_name="empty")
    >>> write_report(study, tempfile.mkdtemp(), title="Nothing yet").exists()
    True
    """
    out_dir = Path(out_dir)
    paths = write_figures(study, out_dir)
    views = trial_views(study)
    title = title or f"Study {study.study_name}"
    figures = "".join(_figure_html(name, path.read_bytes()) for name, path in paths.items())
    missing = [name for name in CAPTIONS if name not in paths]
    note = (f"<p>Not drawn (not enough data): {html.escape(', '.join(missing))}.</p>"
            if missing else "")
    page = (f"<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>{html.escape(title)}"
            f"</title><style>{_STYLE}</style></head><body><h1>{html.escape(title)}</h1>"
            f"<h2>Summary</h2>{_summary(study, views)}<h2>Figures</h2>{figures}{note}"
            f"<h2>Trials</h2>{_trials_table(views)}</body></html>\n")
    path = out_dir / "report.html"
    path.write_text(page, encoding="utf-8")
    return path
