"""Raw tables: column kinds and the per-fold ColumnTransformer (tuner.preprocessing)."""

import numpy as np
import pandas as pd
import pytest
from sklearn.model_selection import cross_val_score
from sklearn.pipeline import make_pipeline

from tuner import MLPClassifier
from tuner.errors import ConfigError
from tuner.preprocessing import column_kinds, make_preprocessor


def _penguins_like(n=60, seed=0):
    """Strings, bools, integer codes, NaN in numeric and string columns, a string target."""
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({
        "bill": rng.normal(44, 5, n), "mass": rng.normal(4200, 800, n),
        "island": rng.choice(["Biscoe", "Dream", "Torgersen"], n),
        "male": rng.random(n) > 0.5, "year": rng.choice([2007, 2008, 2009], n)})
    X.loc[::7, "bill"] = np.nan
    X.loc[::9, "island"] = None
    y = np.where(X["mass"] > 4200, "Gentoo", "Adelie")
    return X, y


def test_column_kinds_sorts_strings_bools_and_listed_codes_as_categorical():
    X, _ = _penguins_like()
    kinds = column_kinds(X, categorical=["year"])
    assert kinds.numeric == ["bill", "mass"]
    assert kinds.categorical == ["island", "male", "year"]
    assert kinds.with_missing == ["bill", "island"]
    assert kinds.describe()[0] == "numeric (2): bill, mass"


def test_column_kinds_names_unknown_categorical_columns():
    X, _ = _penguins_like()
    with pytest.raises(ConfigError, match=r"dataset.categorical: columns not in the data "
                                          r"\(got \['colour'\]"):
        column_kinds(X, categorical=["colour"])


def test_make_preprocessor_imputes_scales_encodes_and_adds_missing_indicators():
    X, _ = _penguins_like()
    out = make_preprocessor(column_kinds(X)).fit(X)
    Z = out.transform(X)
    names = list(out.get_feature_names_out())
    assert not np.isnan(Z).any()
    assert names[-2:] == ["missingindicator_bill", "missingindicator_island"]
    np.testing.assert_array_equal(Z[:, -2], X["bill"].isna())  # 0/1, not scaled
    assert {"island_Biscoe", "island_Dream", "island_Torgersen", "male_True"} <= set(names)
    np.testing.assert_allclose(Z[:, names.index("mass")].mean(), 0, atol=1e-12)
    np.testing.assert_allclose(Z[:, names.index("mass")].std(), 1, rtol=1e-12)


def test_make_preprocessor_ignores_categories_unseen_in_the_training_fold():
    X, _ = _penguins_like()
    out = make_preprocessor(column_kinds(X)).fit(X)
    new = X.head(1).assign(island="Atlantis")
    encoded = out.transform(new)[0]
    names = list(out.get_feature_names_out())
    assert [encoded[names.index(f"island_{i}")] for i in ("Biscoe", "Dream", "Torgersen")] \
        == [0, 0, 0]


def test_make_preprocessor_lets_a_search_tune_the_scaler():
    X, y = _penguins_like()
    pipe = make_pipeline(make_preprocessor(column_kinds(X)), MLPClassifier((8,), max_iter=5,
                                                                           random_state=0))
    pipe.set_params(columntransformer__numeric__scale="passthrough")
    assert cross_val_score(pipe, X, y, cv=3).shape == (3,)
    with pytest.raises(ConfigError, match="preprocess: unknown scaler"):
        make_preprocessor(column_kinds(X), scaler="robust")


def test_make_preprocessor_transforms_missing_values_the_training_fold_did_not_have():
    """A fold whose training rows have no NaN in a column (penguins: the 2 rows missing every
    measurement can all land in a validation split) still transforms rows that do."""
    X, _ = _penguins_like()
    complete = X.dropna()
    out = make_preprocessor(column_kinds(X)).fit(complete)
    Z = out.transform(X)
    assert not np.isnan(Z).any() and Z.shape[0] == len(X)
