"""Search callbacks: objects with any of the hook methods below.

Hooks (all optional; a callback defines only what it needs):

``on_study_start(search, study)``
    Driver process, before any worker starts (create stores, parent runs here).
``on_epoch(trial_number, epoch, metrics)``
    Worker process, after each epoch of a trial; ``metrics`` holds
    ``mean_test_score``, ``train_loss``, ``split<k>_test_score``, ...
``on_trial_end(record)``
    Worker process, once the trial's state is final; ``record`` is a
    :class:`~tuner.search.trials.TrialRecord`.
``on_progress(study)``
    Driver process: after each trial (``n_jobs=1``) or about once a second
    while worker processes run.
``on_study_end(search, study)``
    Driver process, after the refit.
``on_study_error(search, study, error)``
    Driver process, instead of ``on_study_end`` when the search fails after its
    trials ran (e.g. no trial completed, or the refit raised); ``error`` is then
    re-raised by ``fit``.

Callbacks are pickled to the worker processes after ``on_study_start`` ran.

Examples
--------
>>> class Count:
...     def __init__(self):
...         self.epochs = 0
...     def on_epoch(self, trial_number, epoch, metrics):
...         self.epochs += 1
>>> hooks = CallbackList([Count()])
>>> hooks.on_epoch(0, 1, {"mean_test_score": 0.5})
>>> hooks.callbacks[0].epochs
1
"""

from __future__ import annotations

import sys

HOOKS = ("on_study_start", "on_epoch", "on_trial_end", "on_progress", "on_study_end",
         "on_study_error")


class CallbackList:
    """Dispatch each hook to every callback that defines it.

    Parameters
    ----------
    callbacks : iterable of objects
        Callbacks; objects defining none of :data:`HOOKS` are rejected.

    Examples
    --------
    >>> CallbackList([]).on_progress(None)
    """

    def __init__(self, callbacks=()):
        self.callbacks = list(callbacks or ())
        for cb in self.callbacks:
            if not any(callable(getattr(cb, hook, None)) for hook in HOOKS):
                from tuner.errors import ConfigError

                raise ConfigError(
                    "a callback must define at least one hook", key="callbacks",
                    value=type(cb).__name__, allowed=", ".join(HOOKS),
                )

    def _call(self, hook, *args):
        """Call ``hook`` on every callback that has it."""
        for cb in self.callbacks:
            method = getattr(cb, hook, None)
            if callable(method):
                method(*args)

    def on_study_start(self, search, study):
        """Forward to each callback's ``on_study_start``."""
        self._call("on_study_start", search, study)

    def on_epoch(self, trial_number, epoch, metrics):
        """Forward to each callback's ``on_epoch``."""
        self._call("on_epoch", trial_number, epoch, metrics)

    def on_trial_end(self, record):
        """Forward to each callback's ``on_trial_end``."""
        self._call("on_trial_end", record)

    def on_progress(self, study):
        """Forward to each callback's ``on_progress``."""
        self._call("on_progress", study)

    def on_study_end(self, search, study):
        """Forward to each callback's ``on_study_end``."""
        self._call("on_study_end", search, study)

    def on_study_error(self, search, study, error):
        """Forward to each callback's ``on_study_error``."""
        self._call("on_study_error", search, study, error)


class TrialPrinter:
    """Print one line per finished trial (used by ``verbose >= 1``).

    Parameters
    ----------
    stream : file-like, optional
        Where to write; default ``sys.stdout`` of the process running the trial.

    Examples
    --------
    >>> from tuner.search.trials import TrialRecord
    >>> TrialPrinter().on_trial_end(TrialRecord(number=0, state="complete", params={"a": 1},
    ...                                         raw_params={"a": 1}, mean_test_score=0.5))
    [trial 0] complete score=0.5000 epochs=0 params={'a': 1}
    """

    def __init__(self, stream=None):
        self.stream = stream

    def on_trial_end(self, record):
        """Write the trial's state, score, epochs and parameters."""
        line = (f"[trial {record.number}] {record.state} score={record.mean_test_score:.4f} "
                f"epochs={record.n_epochs} params={record.raw_params}")
        if record.fail_reason:
            line += f" reason={record.fail_reason}"
        print(line, file=self.stream or sys.stdout, flush=True)
