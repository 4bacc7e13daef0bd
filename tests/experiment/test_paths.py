"""One root for relative paths: every relative path of an experiment is next to its file."""

import optuna
from experiment_helpers import BASE, write

from tuner.cli import main
from tuner.experiment import load_experiment


def test_experiment_paths_resolve_next_to_the_file_whatever_the_working_directory(
        tmp_path, monkeypatch):
    (tmp_path / "sub").mkdir()
    (tmp_path / "d.csv").write_text("a,b,y\n" + "".join(f"{i},{i % 3},{i % 2}\n"
                                                        for i in range(20)))
    (tmp_path / "space.yaml").write_text("parameters:\n  alpha: [0.001]\n")
    path = write(tmp_path, {**BASE, "dataset": {"path": "d.csv", "target": "y"},
                            "search_space": "space.yaml", "storage": "studies/s.journal"})
    monkeypatch.chdir(tmp_path / "sub")
    exp = load_experiment("../exp.yaml")
    assert exp.data_path() == tmp_path / "d.csv"
    assert exp.space.source == str(tmp_path / "space.yaml")
    assert exp.storage == str(tmp_path / "studies" / "s.journal")
    assert exp.reports_dir() == tmp_path / "reports" / "tiny"
    default = load_experiment(write(tmp_path, BASE, name="plain.yaml"))
    assert default.storage == str(tmp_path / ".tuner" / "tiny.journal")
    assert load_experiment(path, overrides=["storage=sqlite:///s.db"]).storage == \
        f"sqlite:///{tmp_path / 's.db'}"


def test_run_from_another_directory_resumes_the_same_study(tmp_path, monkeypatch, capsys):
    (tmp_path / "sub").mkdir()
    write(tmp_path, {**BASE, "tracking": False, "driver": {"type": "random", "n_trials": 1}})
    monkeypatch.chdir(tmp_path)
    assert main(["run", "exp.yaml"]) == 0
    monkeypatch.chdir(tmp_path / "sub")
    assert main(["run", "../exp.yaml", "--set", "driver.n_trials=2"]) == 0
    plan = capsys.readouterr().out
    assert str(tmp_path / ".tuner" / "tiny.journal") in plan.replace("\n", "")
    storage = optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(
        str(tmp_path / ".tuner" / "tiny.journal")))
    assert len(optuna.load_study(study_name="tiny", storage=storage).trials) == 2
    assert not (tmp_path / "sub" / ".tuner").exists()
    assert main(["report", "../exp.yaml"]) == 0
    assert (tmp_path / "reports" / "tiny").is_dir()
