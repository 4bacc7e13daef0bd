"""Tabular preprocessing for raw tables: what every tabular pipeline does, fitted per CV fold.

``preprocess: auto`` builds a scikit-learn ``ColumnTransformer`` from the
columns of the data:

=================================  ==========================================
column kind                        steps
=================================  ==========================================
numeric (ints, floats)             ``SimpleImputer(median)`` then the scaler
                                   (standard, min-max or none)
categorical (strings, pandas       ``SimpleImputer(most_frequent)`` then
categories, bools, or listed in    ``OneHotEncoder(handle_unknown="ignore")``
``dataset.categorical``)
=================================  ==========================================

A 0/1 missing-value indicator column is added for each column that had NaN
(or None) in the training fold (``MissingIndicator(features="missing-only")``),
unscaled; a column missing values only outside the training fold gets no
indicator (its values are still imputed). The transformer is a
Pipeline step, so its choices are parameters a search space can tune, e.g.
``preprocess__numeric__scale: {type: categorical, choices: [standard, minmax]}``
(see :data:`SCALERS`) or ``preprocess__numeric__impute__strategy``.

Examples
--------
>>> import pandas as pd
>>> X = pd.DataFrame({"mass": [3.7, None, 4.1], "island": ["Biscoe", "Dream", None]})
>>> kinds = column_kinds(X)
>>> kinds.numeric, kinds.categorical, kinds.with_missing
(['mass'], ['island'], ['mass', 'island'])
>>> make_preprocessor(kinds).fit_transform(X).shape
(3, 5)
"""

from dataclasses import dataclass, field

from tuner.errors import ConfigError

#: scaler names (``none`` passes the imputed values through)
SCALERS = ("standard", "minmax", "none")


@dataclass
class ColumnKinds:
    """Which columns of a table are numeric or categorical, and which have missing values.

    Attributes
    ----------
    numeric, categorical, with_missing : list of str
        Column names, in table order.
    """

    numeric: list = field(default_factory=list)
    categorical: list = field(default_factory=list)
    with_missing: list = field(default_factory=list)

    def describe(self):
        """One line per kind, for the plan of a run."""
        lines = [f"numeric ({len(self.numeric)}): {', '.join(self.numeric) or '-'}",
                 f"categorical ({len(self.categorical)}): {', '.join(self.categorical) or '-'}"]
        if self.with_missing:
            lines.append(f"missing values imputed (+ indicator): {', '.join(self.with_missing)}")
        return lines


def column_kinds(X, categorical=()):
    """Sort the columns of the DataFrame ``X`` into numeric and categorical ones.

    Parameters
    ----------
    X : pandas.DataFrame
    categorical : sequence of str, default=()
        Columns to treat as categorical even when numeric (e.g. integer codes).

    Returns
    -------
    ColumnKinds
    """
    from pandas.api import types

    unknown = [name for name in categorical if name not in X.columns]
    if unknown:
        raise ConfigError("columns not in the data", key="dataset.categorical",
                          value=unknown, allowed=f"columns of the table: {list(X.columns)}")
    kinds = ColumnKinds()
    for name in X.columns:
        values = X[name]
        numeric = types.is_numeric_dtype(values) and not types.is_bool_dtype(values)
        (kinds.numeric if numeric and name not in categorical else kinds.categorical).append(
            str(name))
        if values.isna().any():
            kinds.with_missing.append(str(name))
    return kinds


def make_preprocessor(kinds, *, scaler="standard"):
    """The ``ColumnTransformer`` for tables of these column kinds.

    Parameters
    ----------
    kinds : ColumnKinds
    scaler : {"standard", "minmax", "none"}, default="standard"

    Returns
    -------
    sklearn.compose.ColumnTransformer
        Dense output; transformers named ``numeric`` (steps ``impute``,
        ``scale``), ``categorical`` (steps ``missing``, ``impute``, ``encode``)
        and ``indicators``.
    """
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import MissingIndicator, SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import FunctionTransformer, OneHotEncoder

    as_nan = ("missing", FunctionTransformer(_missing_as_nan, feature_names_out="one-to-one"))
    numeric = Pipeline([("impute", SimpleImputer(strategy="median")),
                        ("scale", make_scaler(scaler))])
    categorical = Pipeline([as_nan, ("impute", SimpleImputer(strategy="most_frequent")),
                            ("encode", OneHotEncoder(handle_unknown="ignore",
                                                     sparse_output=False))])
    indicators = Pipeline([as_nan, ("indicate", MissingIndicator(features="missing-only",
                                                                error_on_new=False))])
    parts = [("numeric", numeric, kinds.numeric), ("categorical", categorical, kinds.categorical),
             ("indicators", indicators, kinds.numeric + kinds.categorical)]
    return ColumnTransformer([part for part in parts if part[2]], sparse_threshold=0.0,
                             verbose_feature_names_out=False)


def _missing_as_nan(X):
    """None and pandas.NA as NaN (the imputer's marker of a missing value), as objects."""
    import numpy as np
    import pandas as pd

    frame = pd.DataFrame(X).astype(object)
    return frame.where(frame.notna(), np.nan)


def make_scaler(name):
    """A scaler by name: ``StandardScaler``, ``MinMaxScaler`` or ``"passthrough"``."""
    from sklearn.preprocessing import MinMaxScaler, StandardScaler

    factories = {"standard": StandardScaler, "minmax": MinMaxScaler}
    if name not in SCALERS:
        raise ConfigError("unknown scaler", key="preprocess", value=name,
                          allowed=", ".join(SCALERS))
    return factories[name]() if name in factories else "passthrough"
