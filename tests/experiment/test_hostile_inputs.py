"""Careless and hostile experiment and space files: ``tuner validate`` refuses each one.

Every case is generated here (not checked in): exit 2, exactly one line naming the file
(and the key), no traceback, nothing written in the folder, within a time limit (a hang
fails the test). Most cases run in-process (``tuner.cli.main``, under an alarm); the ones
that used to hang or blow up run in a subprocess with a timeout.
"""

import copy
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tuner.cli import main

ROOT = Path(__file__).resolve().parents[2]
LIMIT = 20  # seconds per case

BASE = {
    "name": "hostile",
    "dataset": "iris",
    "estimator": {"params": {"hidden_layer_sizes": [8]}},
    "search_space": {"parameters": {
        "learning_rate_init": {"type": "float", "low": 1e-3, "high": 1e-1, "log": True},
        "max_iter": {"type": "int", "low": 2, "high": 4}}},
    "driver": {"type": "random", "n_trials": 3},
    "cv": 2,
}


def _with(path, value):
    """BASE with the dotted ``path`` set to ``value`` (``None`` path parts create mappings)."""
    data = copy.deepcopy(BASE)
    *parents, last = path.split(".")
    node = data
    for part in parents:
        node = node.setdefault(part, {})
    node[last] = value
    return data


def _param(spec):
    """BASE whose space has one more parameter, ``dropout``, with ``spec``."""
    return _with("search_space.parameters.dropout", spec)


def _bomb(levels=9):
    """A billion-laughs YAML: each anchor lists the previous one nine times."""
    lines = ["a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, levels)]
    return "\n".join(lines) + "\n"


def _csv(text):
    """An experiment reading ``data.csv`` (target ``y``) with `text` as that file."""
    return {"experiment": _with("dataset", {"path": "data.csv", "target": "y"}),
            "data.csv": text}


def _text(data):
    if isinstance(data, str):
        return data
    return yaml.safe_dump(data, sort_keys=False, default_flow_style=None)


# (id, file contents, what the one line must contain besides the file name); the YAML
# reader's cases that used to hang or overflow the stack run in a subprocess too
SUBPROCESS_CASES = ("alias-bomb-unknown-key", "deep-flow-sequences")
CASES = [
    ("alias-bomb-unknown-key", _bomb(), "aliases *name"),
    ("alias-bomb-description", _bomb() + "name: x\ndescription: [*a8, *a8]\n", "aliases *name"),
    ("recursive-alias", "name: &a [1, *a]\n", "alias"),
    ("deep-flow-sequences", "name: " + "[" * 20000 + "]" * 20000 + "\n", "nested too deeply"),
    ("deep-flow-mappings", "name: " + "{a: " * 5000 + "1" + "}" * 5000 + "\n",
     "nested too deeply"),
    ("five-megabytes", "name: " + "x" * 5_000_000 + "\n", "file too large"),
    ("malformed", "name: x\ndataset: {iris\n", "malformed YAML"),
    ("misspelt-name", {"naem": "x", **{k: v for k, v in BASE.items() if k != "name"}},
     "found 'naem' (did you mean 'name'?)"),
    ("long-name-cut", _with("name", "y" * 100_000), "name"),
    ("n-points-200000", _param({"type": "float", "low": 0.0, "high": 0.5, "n_points": 200_000}),
     "dropout.n_points"),
    ("choices-20000", _param({"type": "categorical", "choices": list(range(20_000))}),
     "dropout.choices"),
    ("grid-10001", _with("driver", "grid") | {"search_space": {"parameters": {
        "max_iter": {"type": "int", "low": 1, "high": 10001, "n_points": 10001}}}},
     "max_iter.n_points"),
    ("grid-10100", _with("driver", "grid") | {"search_space": {"parameters": {
        "max_iter": {"type": "int", "low": 1, "high": 101, "n_points": 101},
        "batch_size": {"type": "int", "low": 1, "high": 100, "n_points": 100}}}},
     "more than 10000 points (got 10100"),
    ("grid-100000", _with("driver", "grid") | {"search_space": {"parameters": {
        "max_iter": {"type": "int", "low": 1, "high": 1000, "n_points": 1000},
        "batch_size": {"type": "int", "low": 1, "high": 100, "n_points": 100}}}},
     "more than 10000 points (got 100000"),
    ("step-above-range", _param({"type": "float", "low": 0.0, "high": 0.5, "step": 1.0}),
     "dropout.step"),
    ("int-bound-10e30", _with("search_space.parameters.max_iter",
                              {"type": "int", "low": 2, "high": 10**30}), "max_iter.high"),
    ("nan-bound", _param({"type": "float", "low": float("nan"), "high": 0.5}), "dropout.low"),
    ("inf-bound", _param({"type": "float", "low": 0.0, "high": float("inf")}), "dropout.high"),
    ("dict-as-type", _param({"type": {"a": 1}, "low": 0.0, "high": 0.5}), "dropout.type"),
    ("epochs-inf", _with("driver.budget", {"epochs": float("inf")}), "driver.budget.epochs"),
    ("updates-inf", _with("driver.budget", {"updates": float("inf")}), "driver.budget.updates"),
    ("study-budget-inf", _with("driver.study_budget", {"epochs": float("inf")}),
     "driver.study_budget.epochs"),
    ("timeout-inf", _with("driver.timeout", float("inf")), "driver.timeout"),
    ("seed-negative", _with("seed", -1), "seed"),
    ("seed-2-32", _with("seed", 2**32), "seed"),
    ("n-jobs-10e30", _with("n_jobs", 10**30), "n_jobs"),
    ("layers-0", _with("estimator.params.hidden_layer_sizes", [0]),
     "estimator.params.hidden_layer_sizes"),
    ("layers-minus-1-in-space", _with("search_space.parameters.hidden_layer_sizes",
                                      {"type": "categorical", "choices": [[8], [-1]]}),
     "hidden_layer_sizes"),
    ("features-include-target", _with("dataset", {"path": "data.csv", "target": "y",
                                                  "features": ["a", "y"]}), "dataset.features"),
    ("cv-45-iris", _with("cv", 45), "cv"),
    ("cv-200-digits", _with("cv", 200) | {"dataset": "digits"}, "cv"),
    ("test-size-0.99", _with("test_size", 0.99), "test_size"),
    ("roc-auc-multiclass", _with("scoring", "roc_auc"), "scoring"),
    ("r2-on-a-classifier", _with("scoring", "r2"), "scoring"),
    ("accuracy-on-a-regressor", _with("scoring", "accuracy") | {
        "dataset": "diabetes", "estimator": {"type": "regressor"}}, "scoring"),
    ("single-class-csv", _csv("a,y\n" + "".join(f"{i},1\n" for i in range(30))), "dataset"),
    ("no-feature-columns-csv", _csv("y\n" + "".join(f"{i % 2}\n" for i in range(30))),
     "dataset"),
    ("one-row-csv", _csv("a,y\n1,0\n"), "single class"),
    ("class-with-one-row-csv", _csv("a,y\n" + "".join(f"{i},{i % 2}\n" for i in range(30))
                                    + "99,2\n"), "test_size"),
    ("storage-is-a-folder", {"experiment": _with("storage", "store"), "store/a": "x"},
     "storage"),
    ("storage-under-a-file", {"experiment": _with("storage", "afile/s.journal"), "afile": "x"},
     "storage"),
    ("sqlite-in-a-missing-folder", _with("storage", "sqlite:///nofolder/s.db"), "storage"),
    ("generator-one-sample", _with("dataset", {"name": "make_classification",
                                               "params": {"n_samples": 1}}), "dataset"),
    ("generator-one-class", _with("dataset", {"name": "make_classification",
                                              "params": {"n_classes": 1}}), "dataset"),
    ("dropout-from-minus-half", _param({"type": "float", "low": -0.5, "high": 0.5}),
     "dropout"),
    ("learning-rate-from-0", _with("search_space.parameters.learning_rate_init",
                                   {"type": "float", "low": 0.0, "high": 0.1}),
     "learning_rate_init"),
]


def _check_one_line(text, path, expected):
    lines = [line for line in text.splitlines() if line.strip()]
    assert len(lines) == 1, text[:2000]
    assert str(path.name) in lines[0] and expected in lines[0], lines[0]
    assert "Traceback" not in text and len(lines[0]) < 600, lines[0][:2000]


def _alarm(signum, frame):
    raise TimeoutError(f"no answer within {LIMIT} s")


@pytest.mark.parametrize(("data", "expected"), [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])
def test_hostile_validate_in_process(tmp_path, monkeypatch, capsys, data, expected):
    path = tmp_path / "exp.yaml"
    files = data if isinstance(data, dict) and "experiment" in data else {"experiment": data}
    for name, text in files.items():
        target = path if name == "experiment" else tmp_path / name
        target.parent.mkdir(exist_ok=True)
        target.write_text(_text(text))
    before = sorted(p.name for p in tmp_path.iterdir())
    monkeypatch.chdir(tmp_path)
    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(LIMIT)
    try:
        code = main(["validate", str(path)])
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    out = capsys.readouterr()
    assert code == 2, out
    _check_one_line(out.out + out.err, path, expected)
    assert sorted(p.name for p in tmp_path.iterdir()) == before


@pytest.mark.parametrize(("text", "expected"),
                         [c[1:] for c in CASES if c[0] in SUBPROCESS_CASES],
                         ids=[c[0] for c in CASES if c[0] in SUBPROCESS_CASES])
def test_hostile_yaml_in_a_subprocess(tmp_path, text, expected):
    path = tmp_path / "exp.yaml"
    path.write_text(text, encoding="utf-8")
    proc = subprocess.run([sys.executable, "-m", "tuner", "validate", str(path)], cwd=tmp_path,
                          capture_output=True, text=True, timeout=LIMIT,
                          env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert proc.returncode == 2, proc.stderr[-2000:]
    _check_one_line(proc.stdout + proc.stderr, path, expected)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["exp.yaml"]


def test_hostile_experiment_path_is_a_folder(tmp_path, monkeypatch, capsys):
    (tmp_path / "exp.yaml").mkdir()
    monkeypatch.chdir(tmp_path)
    assert main(["validate", "exp.yaml"]) == 2
    out = capsys.readouterr()
    _check_one_line(out.out + out.err, tmp_path / "exp.yaml", "folder")


def test_hostile_set_alias_bomb_is_one_line(tmp_path, monkeypatch, capsys):
    path = tmp_path / "exp.yaml"
    path.write_text(_text(BASE))
    levels = ["&a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    levels += [f"&a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 9)]
    monkeypatch.chdir(tmp_path)
    assert main(["validate", str(path), "--set", f"description=[{', '.join(levels)}]"]) == 2
    out = capsys.readouterr()
    assert out.err.count("\n") == 1 and "--set" in out.err and "aliases *name" in out.err
