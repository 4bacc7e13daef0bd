"""A live progress bar for a study: trials done / pruned / failed, best score, elapsed, ETA.

:class:`StudyProgress` is a search callback using the driver-side hook
``on_progress(study)`` (see ``docs/INTERFACES.md``); it reads the trial states
straight from the study, so it shows resumed trials and trials run by other
workers too. A failed trial that was retried (its worker died; see
:mod:`tuner.search.recovery`) is shown as failed but does not advance the bar:
its retry does, so the bar never passes the budget.

Examples
--------
>>> from types import SimpleNamespace as NS
>>> trials = [NS(state=NS(name="COMPLETE"), value=0.9), NS(state=NS(name="PRUNED"), value=None)]
>>> study = NS(trials=trials, direction=NS(name="MAXIMIZE"))
>>> count_trials(study)
{'complete': 1, 'pruned': 1, 'fail': 0, 'running': 0, 'retried': 0, 'best': 0.9}
"""

import math

from tuner.search.trials import retried_failures, state_of


def _trials(study):
    """The study's trials without deep copies (when the study supports it)."""
    get = getattr(study, "get_trials", None)
    return get(deepcopy=False) if callable(get) else study.trials


def count_trials(study):
    """Trials per state and the best value of the complete ones (None if there is none).

    Parameters
    ----------
    study : optuna.Study
        Any object with ``trials`` (each with ``state.name`` and ``value``) and
        ``direction.name``.

    Returns
    -------
    dict
        ``complete``, ``pruned``, ``fail``, ``running`` counts, ``retried`` (the
        failures among them that were retried) and ``best``.

    Examples
    --------
    >>> import optuna
    >>> study = optuna.create_study(direction="minimize")
    >>> study.optimize(lambda t: t.suggest_float("x", 0, 1) ** 2, n_trials=3)
    >>> counts = count_trials(study)
    >>> counts["complete"], counts["best"] == study.best_value
    (3, True)
    """
    counts = dict.fromkeys(("complete", "pruned", "fail", "running"), 0)
    values, trials = [], _trials(study)
    for trial in trials:
        state = state_of(trial)
        if state in counts:
            counts[state] += 1
        if state == "complete" and trial.value is not None and math.isfinite(trial.value):
            values.append(trial.value)
    maximize = getattr(getattr(study, "direction", None), "name", "MAXIMIZE") == "MAXIMIZE"
    counts["retried"] = len(retried_failures(trials))
    counts["best"] = (max(values) if maximize else min(values)) if values else None
    return counts


class StudyProgress:
    """Search callback drawing a ``rich`` progress bar of a study.

    Parameters
    ----------
    total : int or None
        The study's trial budget (None: unknown, e.g. a time budget only).
    description : str, default="trials"
        Text before the bar.
    console : rich.console.Console, optional
        Where to draw (default: stderr, so stdout stays clean for the summary).
    sign : float, default=1.0
        Multiplier for displayed scores (``-1`` shows ``neg_*`` scorers as positive errors).

    Notes
    -----
    Use it as a context manager around ``fit``; the bar appears when the study
    starts (so a run refused before that prints no bar). It pickles without its
    live display, so it is safe to send to worker processes (they never call
    ``on_progress``).

    Examples
    --------
    >>> from types import SimpleNamespace as NS
    >>> study = NS(trials=[NS(state=NS(name="FAIL"), value=None)], direction=NS(name="MAXIMIZE"))
    >>> with StudyProgress(total=2) as bar:
    ...     bar.on_progress(study)
    >>> bar.last["fail"]
    1
    """

    def __init__(self, total=None, *, description="trials", console=None, sign=1.0):
        self.total, self.description, self.console, self.sign = total, description, console, sign
        self.last = None
        self._progress = self._task = None
        self._entered = False

    def __getstate__(self):
        state = self.__dict__.copy()
        state.update(_progress=None, _task=None, console=None, _entered=False)
        return state

    def __enter__(self):
        self._entered = True  # drawn from the first on_study_start / on_progress on
        return self

    def _start(self):
        """Start the live display."""
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            SpinnerColumn,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        console = self.console or Console(stderr=True)
        self._progress = Progress(
            SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
            MofNCompleteColumn(), TextColumn("{task.fields[states]}"),
            TextColumn("best {task.fields[best]}"), TimeElapsedColumn(),
            TextColumn("ETA"), TimeRemainingColumn(), console=console, transient=False)
        self._progress.start()
        self._task = self._progress.add_task(self.description, total=self.total,
                                             states="", best="-")

    def __exit__(self, *exc_info):
        if self._progress is not None:
            self._progress.stop()
        self._entered = False
        return False

    def on_study_start(self, search, study):
        """Show the trials a resumed study already has (driver process)."""
        self.on_progress(study)

    def on_progress(self, study):
        """Redraw from the study's trials (driver process)."""
        counts = self.last = count_trials(study)
        if self._progress is None:
            if not self._entered:
                return
            self._start()
        done = counts["complete"] + counts["pruned"] + counts["fail"] - counts["retried"]
        retried = f" ({counts['retried']} retried)" if counts["retried"] else ""
        states = (f"ok {counts['complete']}  pruned {counts['pruned']}  "
                  f"failed {counts['fail']}{retried}  running {counts['running']}")
        best = "-" if counts["best"] is None else f"{self.sign * counts['best']:.4f}"
        self._progress.update(self._task, completed=done, states=states, best=best)
