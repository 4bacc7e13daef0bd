"""Worker processes, shared storage, resume and storage resolution (real Optuna storages)."""

import subprocess
import sys

import optuna
import pytest
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression, SGDClassifier

from tuner.errors import ConfigError
from tuner.search import GridSearch, RandomSearch
from tuner.search.storage import resolve_storage


@pytest.fixture(scope="module")
def iris():
    return load_iris(return_X_y=True)


SPACE = {"parameters": {"alpha": {"type": "float", "low": 1e-5, "high": 1e-1, "log": True},
                        "max_iter": {"type": "int", "low": 1, "high": 3}}}


class TrialLog:
    """Appends one line per finished trial to a file (runs in the worker processes)."""

    def __init__(self, path):
        self.path = path

    def on_trial_end(self, record):
        with open(self.path, "a") as handle:
            handle.write(f"{record.number} {record.state} {record.n_epochs}\n")


class ProgressCounter:
    """Counts driver-side progress calls (pickled to the workers, used in the driver)."""

    def __init__(self):
        self.calls = 0

    def on_progress(self, study):
        self.calls += 1


@pytest.mark.slow
def test_grid_search_two_workers_evaluates_each_point_exactly_once(iris, tmp_path):
    X, y = iris
    grid = {"C": [0.01, 0.1, 1.0, 10.0], "fit_intercept": [True, False]}
    journal = tmp_path / "grid.log"
    progress, log = ProgressCounter(), tmp_path / "trials.txt"
    search = GridSearch(LogisticRegression(max_iter=200), grid, cv=3, n_jobs=2,
                        storage=journal, study_name="grid2",
                        callbacks=[progress, TrialLog(log)]).fit(X, y)
    seen = [tuple(sorted(p.items())) for p in search.cv_results_["params"]]
    assert len(seen) == 8 and len(set(seen)) == 8
    assert set(seen) == {(("C", c), ("fit_intercept", f)) for c in grid["C"]
                         for f in grid["fit_intercept"]}
    storage = resolve_storage(journal, n_workers=2).storage
    stored = optuna.load_study(study_name="grid2", storage=storage)
    assert len(stored.trials) == 8
    assert {t.state for t in stored.trials} == {optuna.trial.TrialState.COMPLETE}
    assert progress.calls >= 1
    lines = sorted(log.read_text().splitlines(), key=lambda line: int(line.split()[0]))
    assert lines == [f"{n} complete 1" for n in range(8)]


@pytest.mark.slow
def test_random_search_two_workers_runs_exactly_n_trials(iris):
    X, y = iris
    search = RandomSearch(SGDClassifier(random_state=0), SPACE, n_trials=7, cv=3, n_jobs=2,
                          random_state=0).fit(X, y)
    assert len(search.cv_results_["params"]) == 7
    assert len(search.study_.trials) == 7  # in-memory copy of the temporary journal
    assert sorted(search.cv_results_["trial_number"]) == list(range(7))
    assert len({tuple(p.items()) for p in search.cv_results_["base_params"]}) == 7
    assert hasattr(search, "best_estimator_")


def test_resume_continues_study_up_to_total_n_trials(iris, tmp_path):
    X, y = iris
    journal = tmp_path / "resume.log"
    kwargs = {"storage": journal, "study_name": "resume", "cv": 3, "random_state": 0}
    first = RandomSearch(SGDClassifier(random_state=0), SPACE, n_trials=4, **kwargs).fit(X, y)
    starts = [t.datetime_start for t in first.study_.trials]
    second = RandomSearch(SGDClassifier(random_state=0), SPACE, n_trials=6, **kwargs).fit(X, y)
    trials = second.study_.trials
    assert len(trials) == 6 and len(second.cv_results_["params"]) == 6
    assert [t.datetime_start for t in trials[:4]] == starts  # not re-run
    assert second.cv_results_["base_params"][:4] == first.cv_results_["base_params"]
    again = RandomSearch(SGDClassifier(random_state=0), SPACE, n_trials=6, **kwargs).fit(X, y)
    assert len(again.study_.trials) == 6


def test_grid_resume_skips_points_already_run(iris, tmp_path):
    X, y = iris
    journal = tmp_path / "grid.log"
    kwargs = {"storage": journal, "study_name": "g", "cv": 3}
    def space(points):
        return {"parameters": {"C": {"type": "float", "low": 0.01, "high": 100.0, "log": True,
                                     "grid": points}}}

    first = GridSearch(LogisticRegression(max_iter=200), space([0.1, 1.0]), **kwargs).fit(X, y)
    starts = [t.datetime_start for t in first.study_.trials]
    search = GridSearch(LogisticRegression(max_iter=200), space([0.1, 1.0, 10.0]),
                        **kwargs).fit(X, y)
    assert sorted(p["C"] for p in search.cv_results_["params"]) == [0.1, 1.0, 10.0]
    assert len(search.study_.trials) == 3
    assert [t.datetime_start for t in search.study_.trials[:2]] == starts


def test_database_url_storage_runs_and_resumes(iris, tmp_path):
    X, y = iris
    url = f"sqlite:///{tmp_path / 'study.db'}"
    kwargs = {"storage": url, "study_name": "rdb", "cv": 3, "random_state": 0}
    RandomSearch(SGDClassifier(random_state=0), SPACE, n_trials=2, **kwargs).fit(X, y)
    search = RandomSearch(SGDClassifier(random_state=0), SPACE, n_trials=3, **kwargs).fit(X, y)
    assert len(search.cv_results_["params"]) == 3
    assert len(optuna.load_study(study_name="rdb", storage=url).trials) == 3


def test_resolve_storage_kinds(tmp_path):
    with resolve_storage(None, n_workers=1) as memory:
        assert isinstance(memory.storage, optuna.storages.InMemoryStorage)
    with resolve_storage(None, n_workers=2) as temporary:
        directory = temporary.temporary_dir
        assert isinstance(temporary.storage, optuna.storages.JournalStorage)
    assert not (tmp_path / directory).exists()
    journal = resolve_storage(str(tmp_path / "sub" / "j.log"), n_workers=2)
    assert isinstance(journal.storage, optuna.storages.JournalStorage)
    assert not journal.is_temporary and (tmp_path / "sub").is_dir()
    rdb = resolve_storage(f"sqlite:///{tmp_path / 'db.sqlite'}", n_workers=1)
    assert isinstance(rdb.storage, optuna.storages.RDBStorage)
    assert rdb.storage.heartbeat_interval > 0
    with pytest.raises(ConfigError, match="in-memory"):
        resolve_storage(optuna.storages.InMemoryStorage(), n_workers=2)
    with pytest.raises(ConfigError, match="storage"):
        resolve_storage(42, n_workers=1)


SCRIPT = """
from sklearn.datasets import load_iris
from tuner import MLPClassifier, RandomSearch
{scorer}
X, y = load_iris(return_X_y=True)
{guard}search = RandomSearch(MLPClassifier(hidden_layer_sizes=(4,), max_iter=2),
                       {{"alpha": [1e-4, 1e-2]}}, n_trials=3, cv=2, n_jobs=2,
                       random_state=0{scoring})
{guard}print("trials", len(search.fit(X, y).cv_results_["params"]))
"""
SCORER = "def accuracy(estimator, X, y):\n    return float((estimator.predict(X) == y).mean())\n"


@pytest.mark.parametrize(("scorer", "guard"), [(False, False), (True, True)],
                         ids=["script-without-main-guard", "scorer-defined-in-script"])
def test_workers_start_from_a_script(tmp_path, scorer, guard):
    text = SCRIPT.format(scorer=SCORER if scorer else "",
                         guard="if __name__ == '__main__':\n    " if guard else "",
                         scoring=", scoring=accuracy" if scorer else "")
    (tmp_path / "script.py").write_text(text)
    proc = subprocess.run([sys.executable, "script.py"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "trials 3"


def test_workers_start_with_sigint_ignored_until_their_initializer():
    # a worker still importing when Ctrl-C arrives must not die with a traceback
    import signal

    from tuner.search.workers import _children_ignore_sigint

    probe = [sys.executable, "-c",
             "import signal; print(signal.getsignal(signal.SIGINT) == signal.SIG_IGN)"]
    with _children_ignore_sigint():
        inside = subprocess.run(probe, capture_output=True, text=True, check=True).stdout
    outside = subprocess.run(probe, capture_output=True, text=True, check=True).stdout
    assert (inside.strip(), outside.strip()) == ("True", "False")
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # restored here
