"""Datasets by name: scikit-learn's bundled sets, synthetic generators, CSV/Parquet files.

Every loader returns a :class:`Dataset` (``X`` as float64, ``y`` as given) and
checks the data before any model sees it: missing or infinite values, a
missing target column or a non-numeric feature column raise
:class:`tuner.errors.DataError` with one line naming the file, the column and
how many rows are affected.

Examples
--------
>>> from tuner.datasets import load_dataset
>>> data = load_dataset("iris")
>>> data.X.shape, data.task
((150, 4), 'classification')
>>> load_dataset("make_regression", params={"n_samples": 50, "n_features": 3}).X.shape
(50, 3)
"""

import inspect
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from tuner.errors import DataError, ExperimentError, did_you_mean

#: Bundled scikit-learn datasets (no download): name -> (loader, task).
BUNDLED = {
    "iris": ("load_iris", "classification"),
    "wine": ("load_wine", "classification"),
    "breast_cancer": ("load_breast_cancer", "classification"),
    "digits": ("load_digits", "classification"),
    "diabetes": ("load_diabetes", "regression"),
    "linnerud": ("load_linnerud", "regression"),
}

#: Synthetic generators from :mod:`sklearn.datasets`: name -> task.
GENERATORS = {
    "make_classification": "classification",
    "make_regression": "regression",
    "make_blobs": "classification",
    "make_moons": "classification",
    "make_circles": "classification",
    "make_gaussian_quantiles": "classification",
    "make_hastie_10_2": "classification",
    "make_friedman1": "regression",
    "make_friedman2": "regression",
    "make_friedman3": "regression",
}

FILE_SUFFIXES = (".csv", ".parquet", ".pq")


@dataclass
class Dataset:
    """A loaded dataset.

    Attributes
    ----------
    X : ndarray of shape (n_samples, n_features), float64, or DataFrame
        A DataFrame of the raw feature columns for files loaded with ``raw=True``.
    y : ndarray of shape (n_samples,) or (n_samples, n_targets)
    name : str
        The dataset name or file path it came from.
    task : {"classification", "regression"}
        What the target looks like (bundled sets and generators know it;
        files are classified by the target column's dtype and cardinality).
    feature_names : list of str

    Examples
    --------
    >>> d = Dataset(np.zeros((2, 1)), np.array([0, 1]), "toy", "classification")
    >>> d.shape
    (2, 1)
    """

    X: np.ndarray
    y: np.ndarray
    name: str
    task: str
    feature_names: list = field(default_factory=list)

    @property
    def shape(self):
        """Shape of ``X``."""
        return self.X.shape

    def describe(self):
        """One line for the CLI's plan, e.g. ``digits: 1797 samples x 64 features, 10 classes``."""
        text = f"{self.name}: {self.X.shape[0]} samples x {self.X.shape[1]} features"
        if self.task == "classification":
            return f"{text}, {len(np.unique(self.y))} classes"
        n_targets = 1 if self.y.ndim == 1 else self.y.shape[1]
        return f"{text}, {n_targets} regression target{'s' if n_targets > 1 else ''}"


def available():
    """Names accepted by :func:`load_dataset` without a path.

    Examples
    --------
    >>> available()[:3]
    ['breast_cancer', 'diabetes', 'digits']
    """
    return sorted(BUNDLED) + sorted(GENERATORS)


def load_dataset(name=None, *, path=None, target=None, features=None, params=None,
                 raw=False, source=None, random_state=None):
    """Load a dataset by name or from a file.

    Parameters
    ----------
    name : str, optional
        A bundled set (``iris``, ``wine``, ``breast_cancer``, ``digits``,
        ``diabetes``, ``linnerud``) or a generator (``make_classification``,
        ``make_regression``, ...). Exactly one of ``name`` and ``path``.
    path : str or Path, optional
        A ``.csv`` or ``.parquet`` file; ``target`` names the label column.
    target : str, optional
        The label column (required for files; for ``linnerud`` picks one of
        its three targets).
    features : list of str, optional
        Feature columns of a file (default: every column but the target).
    params : dict, optional
        Keyword arguments of a generator (checked against its signature).
    raw : bool, default=False
        For files: keep the feature columns as a DataFrame, strings and
        missing values included (for :mod:`tuner.preprocessing`); otherwise
        every feature must be a finite number and ``X`` is float64.
    source : str, optional
        The experiment file, used in error messages.
    random_state : int, optional
        Seed for generators whose ``params`` do not set ``random_state``.

    Returns
    -------
    Dataset

    Raises
    ------
    ExperimentError
        Unknown name, unknown generator argument, missing file.
    DataError
        Missing target column, non-numeric features, NaN or infinite values.

    Examples
    --------
    >>> load_dataset("make_moons", params={"n_samples": 40}, random_state=0).y[:4]
    array([1, 1, 1, 0])
    """
    if (name is None) == (path is None):
        raise ExperimentError("give exactly one of name and path", source=source,
                              key="dataset", allowed="name: <dataset> or path: <file>")
    if path is not None:
        return load_file(path, target=target, features=features, raw=raw, source=source)
    if name in BUNDLED:
        if params:
            raise ExperimentError(f"bundled dataset {name!r} takes no params", source=source,
                                  key="dataset.params", value=params, allowed="omit params")
        return _load_bundled(name, target=target, source=source)
    if name in GENERATORS:
        return _generate(name, params or {}, source=source, random_state=random_state)
    raise ExperimentError(f"unknown dataset{did_you_mean(name, available())}", source=source,
                          key="dataset.name", value=name,
                          allowed=", ".join(available()) + ", or path: <file.csv|.parquet>")


def _load_bundled(name, *, target=None, source=None):
    """Load one of scikit-learn's bundled datasets."""
    from sklearn import datasets

    loader, task = BUNDLED[name]
    bunch = getattr(datasets, loader)()
    X, y = np.asarray(bunch.data, dtype=np.float64), np.asarray(bunch.target)
    target_names = [str(t) for t in getattr(bunch, "target_names", [])]
    if target is not None:
        if y.ndim != 2 or target not in target_names:
            allowed = ", ".join(target_names) if y.ndim == 2 else f"omit target for {name}"
            raise DataError(f"unknown target{did_you_mean(target, target_names)}",
                            source=source, key="dataset.target", value=target, allowed=allowed)
        y = y[:, target_names.index(target)]
    feature_names = [str(f) for f in getattr(bunch, "feature_names", range(X.shape[1]))]
    return Dataset(X, y, name, task, feature_names)


def _generate(name, params, *, source=None, random_state=None):
    """Call a ``sklearn.datasets.make_*`` generator with checked keyword arguments."""
    from sklearn import datasets

    func = getattr(datasets, name)
    accepted = [p for p in inspect.signature(func).parameters if p != "return_X_y"]
    for key in params:
        if key not in accepted:
            raise ExperimentError(f"unknown argument of {name}{did_you_mean(key, accepted)}",
                                  source=source, key=f"dataset.params.{key}", value=params[key],
                                  allowed=", ".join(accepted))
    kwargs = dict(params)
    if "random_state" in accepted and "random_state" not in kwargs:
        kwargs["random_state"] = random_state
    try:
        X, y = func(**kwargs)[:2]
    except (TypeError, ValueError) as exc:
        raise ExperimentError(f"{name} rejected its arguments: {exc}", source=source,
                              key="dataset.params", value=params) from None
    names = [f"x{i}" for i in range(X.shape[1])]
    return Dataset(np.asarray(X, dtype=np.float64), np.asarray(y), name, GENERATORS[name], names)


def _read_table(path, *, source=None):
    """Read a CSV or Parquet file into a DataFrame."""
    import pandas as pd

    path = Path(path)
    if path.suffix.lower() not in FILE_SUFFIXES:
        raise ExperimentError("unsupported data file type", source=source, key="dataset.path",
                              value=str(path), allowed=", ".join(FILE_SUFFIXES))
    if not path.is_file():
        raise ExperimentError("data file not found", source=source, key="dataset.path",
                              value=str(path), allowed="an existing .csv or .parquet file")
    try:
        if path.suffix.lower() == ".csv":
            return pd.read_csv(path)
        return pd.read_parquet(path)
    except (ValueError, OSError, pd.errors.ParserError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise DataError(f"cannot read data file: {first}", source=str(path)) from None


def load_file(path, *, target, features=None, raw=False, source=None):
    """Load a CSV or Parquet table; see :func:`load_dataset`.

    Rows whose target is missing are dropped, with a warning saying how many.
    Every problem of the table is reported at once, in one DataError.

    Examples
    --------
    >>> import tempfile, os
    >>> f = os.path.join(tempfile.mkdtemp(), "t.csv")
    >>> _ = open(f, "w").write("a,b,label\\n1,2,x\\n3,,y\\n")
    >>> load_file(f, target="label", raw=True).X.to_dict("list")
    {'a': [1, 3], 'b': [2.0, nan]}
    """
    frame = _read_table(path, source=source)
    columns = [str(c) for c in frame.columns]
    frame.columns = columns
    if target is None:
        raise ExperimentError("a data file needs a target column", source=source,
                              key="dataset.target", allowed=", ".join(columns))
    for key, wanted in [("dataset.target", [target]), ("dataset.features", features or [])]:
        for column in wanted:
            if column not in columns:
                raise DataError(f"column not found in {path}{did_you_mean(column, columns)}",
                                source=source, key=key, value=column, allowed=", ".join(columns))
    features = list(features) if features else [c for c in columns if c != target]
    frame = _drop_missing_targets(frame, target, path)
    _check_columns(frame, features, path, raw=raw)
    y = frame[target].to_numpy()
    X = frame[features].reset_index(drop=True) if raw else frame[features].to_numpy(np.float64)
    return Dataset(X, y, str(path), _infer_task(y), features)


def _drop_missing_targets(frame, target, path):
    """The rows of ``frame`` whose target is known (a warning says how many were dropped)."""
    if frame.empty:
        raise DataError("the file has a header but no rows", source=str(path),
                        allowed="a table with at least one row")
    missing = frame[target].isna()
    if missing.all():
        raise DataError(f"every row's target is missing (column {target!r})", source=str(path))
    if missing.any():
        warnings.warn(f"{path}: dropped {int(missing.sum())} of {len(frame)} rows whose target "
                      f"{target!r} is missing", UserWarning, stacklevel=3)
    return frame[~missing]


def _column_problems(values, n_rows, *, raw):
    """Why one feature column is unusable (empty when it is fine)."""
    import pandas as pd

    numeric = pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)
    problems = []
    n_missing = int(values.isna().sum())
    if n_missing and not raw:
        problems.append(f"{n_missing} of {n_rows} rows have a missing (NaN/empty) value")
    if not numeric and not raw:
        problems.append(f"feature column is not numeric (dtype {values.dtype})")
    if numeric:
        n_inf = int(np.isinf(values.to_numpy(dtype=np.float64)).sum())
        if n_inf:
            problems.append(f"{n_inf} of {n_rows} rows have an infinite value")
    if raw and n_missing == n_rows:
        problems.append("every row is missing")
    return problems


def _check_columns(frame, features, path, *, raw):
    """Raise one DataError listing every feature column with its problems."""
    problems = {column: _column_problems(frame[column], len(frame), raw=raw)
                for column in features}
    listed = "; ".join(f"column {column!r}: {', '.join(found)}"
                       for column, found in problems.items() if found)
    if listed:
        allowed = "finite numbers in every row" if raw else \
            "finite numbers in every row; use preprocess: auto for strings and missing values"
        raise DataError(listed, source=str(path), allowed=allowed)


def _infer_task(y):
    """Classification for string, boolean or small-cardinality integer targets."""
    if y.dtype.kind in "OUSb":
        return "classification"
    if y.dtype.kind in "iu" and len(np.unique(y)) <= max(20, int(np.sqrt(len(y)))):
        return "classification"
    return "regression"
