"""Tests of tuner.errors: one-line user errors and THE did-you-mean hint."""

import ast
from pathlib import Path

import pytest
from experiment_helpers import BASE, error_of

from tuner.errors import SearchSpaceError, did_you_mean
from tuner.spaces import SearchSpace

PACKAGE = Path(__file__).resolve().parent.parent / "tuner"


def test_did_you_mean_names_the_closest_option_or_nothing():
    assert did_you_mean("floot", ["float", "int"]) == " (did you mean 'float'?)"
    assert did_you_mean(3, [1, 3.0, "3"]) == " (did you mean '3'?)"
    assert did_you_mean("zzz", ["float", "int"]) == ""


def test_did_you_mean_is_the_only_close_match_search():
    users = []
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Attribute) and node.attr == "get_close_matches":
                users.append(path.relative_to(PACKAGE).as_posix())
    assert users == ["errors.py"]


def test_did_you_mean_in_a_space_error_and_an_experiment_key_error(tmp_path):
    with pytest.raises(SearchSpaceError) as info:
        SearchSpace.load({"lr": {"type": "floot", "low": 0.0, "high": 0.1}})
    assert f"lr.type: unknown kind{did_you_mean('floot', ['float', 'int'])} " in str(info.value)
    text = error_of(tmp_path, {**BASE, "cvv": 3})
    assert f"cvv: unknown key{did_you_mean('cvv', ['cv', 'seed'])} " in text
