"""Errors a user can cause, each rendered as one line naming where and what.

Examples
--------
>>> err = ConfigError("must be positive", source="exp.yaml", key="cv", value=-1, allowed="int >= 2")
>>> print(err)
exp.yaml: cv: must be positive (got -1; allowed: int >= 2)
"""

import difflib
import reprlib


def did_you_mean(word, options):
    """The hint ``" (did you mean 'x'?)"`` naming the option closest to `word`, or ``""``.

    THE did-you-mean of every user error (unknown keys, names, kinds, files).

    Parameters
    ----------
    word : object
        What the user wrote (compared as text).
    options : iterable
        The accepted values.

    Examples
    --------
    >>> did_you_mean("lerning_rate", ["learning_rate", "batch_size"])
    " (did you mean 'learning_rate'?)"
    >>> did_you_mean("zzz", ["learning_rate"])
    ''
    """
    close = difflib.get_close_matches(str(word), [str(o) for o in options], n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


#: Longest echo of a user's value in an error message (longer ones end in "...").
MAX_ECHO = 80


def shorten(value, limit=MAX_ECHO):
    """``repr(value)`` cut to `limit` characters plus ``"..."``: THE echo of user values.

    Examples
    --------
    >>> shorten("x" * 100, limit=10)
    "'xxxxxx..."
    >>> shorten([1, 2])
    '[1, 2]'
    """
    text = _BOUNDED.repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _bounded_repr():
    """A reprlib.Repr bounded in time for huge or deeply shared containers (alias bombs)."""
    bounded = reprlib.Repr()
    bounded.maxlevel = 4
    for attr in ("maxtuple", "maxlist", "maxarray", "maxdict", "maxset", "maxfrozenset",
                 "maxdeque"):
        setattr(bounded, attr, 20)
    bounded.maxstring = bounded.maxlong = bounded.maxother = MAX_ECHO + 10
    return bounded


_BOUNDED = _bounded_repr()


class TunerError(Exception):
    """Base class of tuner's own exceptions."""


class ConfigError(TunerError, ValueError):
    """A user mistake (file, key, value or data); the CLI prints it and exits with 2.

    Parameters
    ----------
    message : str
        What is wrong.
    source : str, optional
        The file (or object) the value came from.
    key : str, optional
        The dotted key of the offending value.
    value : object, optional
        The offending value.
    allowed : str, optional
        What would have been accepted.
    """

    _UNSET = object()

    def __init__(self, message, *, source=None, key=None, value=_UNSET, allowed=None):
        self.message, self.source, self.key = message, source, key
        self.value, self.allowed = value, allowed
        super().__init__(self._one_line())

    def _one_line(self):
        where = ": ".join(str(part) for part in (self.source, self.key) if part)
        details = []
        if self.value is not self._UNSET:
            details.append(f"got {shorten(self.value)}")
        if self.allowed:
            details.append(f"allowed: {self.allowed}")
        text = f"{where}: {self.message}" if where else self.message
        text = f"{text} ({'; '.join(details)})" if details else text
        return " ".join(text.split())


class SearchSpaceError(ConfigError):
    """An invalid search space."""


class ExperimentError(ConfigError):
    """An invalid experiment file or dataset specification."""


class DataError(ConfigError):
    """Unusable input data: NaN or infinite values, wrong shape, missing target column."""
