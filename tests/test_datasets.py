"""Tests of tuner.datasets: bundled sets, generators, CSV/Parquet files and their errors."""

import numpy as np
import pandas as pd
import pytest

from tuner.datasets import BUNDLED, GENERATORS, available, load_dataset, load_file
from tuner.errors import DataError, ExperimentError


@pytest.mark.parametrize(("name", "shape", "task"), [
    ("iris", (150, 4), "classification"),
    ("wine", (178, 13), "classification"),
    ("breast_cancer", (569, 30), "classification"),
    ("digits", (1797, 64), "classification"),
    ("diabetes", (442, 10), "regression"),
    ("linnerud", (20, 3), "regression"),
])
def test_load_dataset_bundled_shapes_and_tasks(name, shape, task):
    data = load_dataset(name)
    assert data.X.shape == shape
    assert data.X.dtype == np.float64
    assert data.task == task
    assert len(data.feature_names) == shape[1]


def test_load_dataset_describe_counts_classes():
    assert load_dataset("iris").describe() == "iris: 150 samples x 4 features, 3 classes"
    assert load_dataset("diabetes").describe().endswith("1 regression target")


def test_load_dataset_linnerud_target_selects_one_column():
    data = load_dataset("linnerud", target="Pulse")
    assert data.y.shape == (20,)
    assert load_dataset("linnerud").y.shape == (20, 3)


def test_load_dataset_linnerud_unknown_target_suggests_close_name():
    with pytest.raises(DataError, match=r"dataset.target: unknown target \(did you mean 'Waist'"):
        load_dataset("linnerud", target="waist")


def test_load_dataset_generator_uses_params_and_seed():
    a = load_dataset("make_classification", params={"n_samples": 60, "n_features": 5},
                     random_state=3)
    b = load_dataset("make_classification", params={"n_samples": 60, "n_features": 5},
                     random_state=3)
    assert a.X.shape == (60, 5)
    np.testing.assert_array_equal(a.X, b.X)
    assert a.task == "classification"
    assert load_dataset("make_regression", params={"n_samples": 30}).task == "regression"


def test_load_dataset_generator_params_random_state_wins():
    a = load_dataset("make_moons", params={"n_samples": 20, "random_state": 1}, random_state=2)
    b = load_dataset("make_moons", params={"n_samples": 20}, random_state=1)
    np.testing.assert_array_equal(a.X, b.X)


def test_load_dataset_generator_unknown_argument_did_you_mean():
    with pytest.raises(ExperimentError) as info:
        load_dataset("make_classification", params={"n_sample": 10}, source="e.yaml")
    text = str(info.value)
    assert text.startswith("e.yaml: dataset.params.n_sample: unknown argument")
    assert "did you mean 'n_samples'" in text
    assert "\n" not in text


def test_load_dataset_generator_impossible_value_is_user_error():
    with pytest.raises(ExperimentError, match="make_classification rejected its arguments"):
        load_dataset("make_classification", params={"n_samples": 10, "n_informative": 50})


def test_load_dataset_unknown_name_did_you_mean():
    with pytest.raises(ExperimentError, match=r"unknown dataset \(did you mean 'digits'\?\)"):
        load_dataset("digit")


def test_load_dataset_needs_exactly_one_of_name_and_path():
    with pytest.raises(ExperimentError, match="exactly one of name and path"):
        load_dataset()
    with pytest.raises(ExperimentError, match="exactly one of name and path"):
        load_dataset("iris", path="x.csv")


def test_available_lists_bundled_and_generators():
    assert set(available()) == set(BUNDLED) | set(GENERATORS)


@pytest.fixture
def table(tmp_path):
    frame = pd.DataFrame({"a": [1.0, 2.0, 3.0, 4.0], "b": [0, 1, 0, 1],
                          "label": ["x", "y", "x", "y"]})
    return frame, tmp_path


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_load_file_reads_features_and_target(table, suffix):
    frame, tmp = table
    path = tmp / f"data{suffix}"
    frame.to_csv(path, index=False) if suffix == ".csv" else frame.to_parquet(path)
    data = load_file(path, target="label")
    assert data.X.tolist() == [[1.0, 0.0], [2.0, 1.0], [3.0, 0.0], [4.0, 1.0]]
    assert data.y.tolist() == ["x", "y", "x", "y"]
    assert data.feature_names == ["a", "b"]
    assert data.task == "classification"


def test_load_file_features_select_columns(table):
    frame, tmp = table
    frame.to_csv(tmp / "d.csv", index=False)
    assert load_file(tmp / "d.csv", target="label", features=["b"]).X.shape == (4, 1)


def test_load_file_missing_target_column_names_columns(table):
    frame, tmp = table
    frame.to_csv(tmp / "d.csv", index=False)
    with pytest.raises(DataError) as info:
        load_file(tmp / "d.csv", target="labels", source="exp.yaml")
    text = str(info.value)
    assert text.startswith("exp.yaml: dataset.target: column not found")
    assert "did you mean 'label'" in text and "allowed: a, b, label" in text


def test_load_file_nan_names_file_column_and_row_count(tmp_path):
    path = tmp_path / "holes.csv"
    path.write_text("a,b,y\n1,,0\n2,3,1\n3,,0\n4,5,1\n")
    with pytest.raises(DataError) as info:
        load_file(path, target="y")
    text = str(info.value)
    assert text.startswith(f"{path}: column 'b': 2 of 4 rows have a missing")


def test_load_file_drops_rows_with_a_missing_target_and_says_how_many(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("a,y\n1,0\n2,\n3,1\n")
    with pytest.warns(UserWarning, match=r"t.csv: dropped 1 of 3 rows whose target 'y' is missing"):
        data = load_file(path, target="y")
    assert data.X.tolist() == [[1.0], [3.0]] and data.y.tolist() == [0, 1]


def test_load_file_reports_every_bad_column_in_one_line(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("a,b,c,y\n1,red,,0\ninf,blue,2,1\n")
    with pytest.raises(DataError) as info:
        load_file(path, target="y")
    assert str(info.value).startswith(
        f"{path}: column 'a': 1 of 2 rows have an infinite value; column 'b': feature column "
        "is not numeric (dtype str); column 'c': 1 of 2 rows have a missing (NaN/empty) value")
    assert "\n" not in str(info.value)


def test_load_file_raw_keeps_strings_and_missing_values_but_not_infinities(tmp_path):
    path = tmp_path / "raw.csv"
    path.write_text("a,b,y\n1,red,x\n,blue,y\n")
    data = load_file(path, target="y", raw=True)
    assert list(data.X.columns) == ["a", "b"] and data.X["a"].isna().tolist() == [False, True]
    path.write_text("a,b,y\n1,red,x\ninf,blue,y\n")
    with pytest.raises(DataError, match=r"column 'a': 1 of 2 rows have an infinite value"):
        load_file(path, target="y", raw=True)


def test_load_file_header_only_says_the_file_has_no_rows(tmp_path):
    path = tmp_path / "empty.csv"
    path.write_text("a,b,y\n")
    with pytest.raises(DataError, match=r"empty.csv: the file has a header but no rows"):
        load_file(path, target="y")


def test_load_file_infinite_value_is_reported(tmp_path):
    path = tmp_path / "inf.csv"
    path.write_text("a,y\n1,0\ninf,1\n")
    with pytest.raises(DataError, match=r"column 'a': 1 of 2 rows have an infinite value"):
        load_file(path, target="y")


def test_load_file_non_numeric_feature_is_reported(tmp_path):
    path = tmp_path / "s.csv"
    path.write_text("colour,y\nred,0\nblue,1\n")
    with pytest.raises(DataError, match=r"column 'colour': feature column is not numeric"):
        load_file(path, target="y")


def test_load_file_missing_file_and_wrong_suffix(tmp_path):
    with pytest.raises(ExperimentError, match="data file not found"):
        load_file(tmp_path / "nope.csv", target="y")
    (tmp_path / "x.txt").write_text("a\n")
    with pytest.raises(ExperimentError, match="unsupported data file type"):
        load_file(tmp_path / "x.txt", target="y")


def test_load_file_regression_target_inferred(tmp_path):
    path = tmp_path / "r.csv"
    rng = np.random.default_rng(0)
    pd.DataFrame({"a": rng.normal(size=50), "y": rng.normal(size=50)}).to_csv(path, index=False)
    assert load_file(path, target="y").task == "regression"
