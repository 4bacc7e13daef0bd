"""``python -m tuner lr-find``: the plot, the suggestions, ``--write-space`` and MLflow."""

from pathlib import Path

import pytest
from cli_helpers import TINY, tuner, write

from tuner.cli import main


def _lr_rows(stdout):
    """The lr-find table's body rows, as lists of cell texts."""
    rows = [line.strip().strip("│").split("│") for line in stdout.splitlines()
            if line.startswith("│")]
    return [[cell.strip() for cell in row] for row in rows]


def _bounds(cell):
    """'0.001 .. 0.1' -> (0.001, 0.1)."""
    return tuple(float(v) for v in cell.split(".."))


def _hull_within(ranges, low, high):
    """The combined range lr-find writes: hull of the ranges, inside [low, high]."""
    return max(low, min(r[0] for r in ranges)), min(high, max(r[1] for r in ranges))


@pytest.mark.slow
def test_cli_lr_find_plots_and_writes_narrowed_space(tmp_path):
    from tuner.spaces import SearchSpace

    write(tmp_path, TINY)
    proc = tuner("lr-find", "tiny.yaml", "--batch-size", 16, "--batch-size", 64, "--no-mlflow",
                 "--write-space", "narrow.yaml", "--out", "lr.png", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "Learning-rate range test on 120 training samples" in proc.stdout
    rows = _lr_rows(proc.stdout)
    assert [row[0] for row in rows] == ["16", "64"]
    assert (tmp_path / "lr.png").read_bytes()[:4] == b"\x89PNG"
    space = SearchSpace.load(tmp_path / "narrow.yaml")
    spec = space.to_dict()["parameters"]["learning_rate_init"]
    low, high = _hull_within([_bounds(row[2]) for row in rows], 1e-3, 1e-1)
    assert spec["low"] == pytest.approx(low, rel=1e-2)
    assert spec["high"] == pytest.approx(high, rel=1e-2)
    assert 1e-3 <= spec["low"] < spec["high"] <= 1e-1  # never wider than the file's range
    assert space.names == ["learning_rate_init", "max_iter"]
    assert (f"learning_rate_init: 0.001..0.1 -> {spec['low']:.3g}..{spec['high']:.3g}"
            in proc.stdout)


@pytest.mark.slow
def test_cli_lr_find_accepts_full_and_auto_batch_sizes(tmp_path):
    write(tmp_path, TINY)
    proc = tuner("lr-find", "tiny.yaml", "--batch-size", "full", "--batch-size", "auto",
                 "--batch-size", 8, "--no-mlflow", "--out", "lr.png", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert [row[0] for row in _lr_rows(proc.stdout)] == ["full (120)", "auto (120)", "8"]
    assert main(["lr-find", str(tmp_path / "tiny.yaml"), "--batch-size", "0"]) == 2
    assert main(["lr-find", str(tmp_path / "tiny.yaml"), "--batch-size", "half"]) == 2


@pytest.mark.slow
def test_cli_lr_find_writes_base_rate_bounds_for_scaled_rate(tmp_path):
    from tuner.spaces import SearchSpace

    coupled = {**TINY, "search_space": {"parameters": {
        "batch_size": {"type": "int", "low": 16, "high": 64, "base": 2},
        "learning_rate_init": {"type": "float", "low": 1e-3, "high": 1.0, "log": True,
                               "grid": [0.01, 0.1], "scale_with": "batch_size",
                               "rule": "linear", "reference": 64}}}}
    write(tmp_path, coupled)
    proc = tuner("lr-find", "tiny.yaml", "--batch-size", 16, "--batch-size", 64, "--no-mlflow",
                 "--write-space", "narrow.yaml", "--out", "lr.png", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    rows = _lr_rows(proc.stdout)
    effective = [_bounds(row[2]) for row in rows]
    base = [_bounds(row[3]) for row in rows]
    # the curve at batch 16 ran at rates base * 16 / 64: its base range is 4x its rates
    assert base[0] == pytest.approx(tuple(4 * v for v in effective[0]), rel=1e-2)
    assert base[1] == pytest.approx(effective[1], rel=1e-2)
    spec = SearchSpace.load(tmp_path / "narrow.yaml").to_dict()["parameters"][
        "learning_rate_init"]
    low, high = _hull_within(base, 1e-3, 1.0)
    assert (spec["low"], spec["high"]) == (pytest.approx(low, rel=1e-2),
                                           pytest.approx(high, rel=1e-2))
    assert len(spec["grid"]) == 2 and all(low <= g <= high for g in spec["grid"])
    assert spec["scale_with"] == "batch_size" and "(base rate at batch_size 64" in proc.stdout


@pytest.mark.slow
def test_cli_lr_find_disjoint_space_exits_2_and_writes_nothing(tmp_path):
    far = {**TINY, "search_space": {"parameters": {
        "learning_rate_init": {"type": "float", "low": 1e-7, "high": 1e-6, "log": True}}}}
    write(tmp_path, far)
    proc = tuner("lr-find", "tiny.yaml", "--batch-size", 16, "--no-mlflow",
                 "--write-space", "narrow.yaml", "--out", "lr.png", cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr
    assert "does not overlap the space's 1e-07..1e-06" in proc.stderr
    assert not (tmp_path / "narrow.yaml").exists()
    assert (tmp_path / "lr.png").exists()  # the test itself was run and plotted


@pytest.mark.slow
def test_cli_lr_find_logs_plot_to_mlflow(tmp_path):
    from mlflow.tracking import MlflowClient

    write(tmp_path, TINY)
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    proc = tuner("lr-find", "tiny.yaml", "--batch-size", "16", cwd=tmp_path, timeout=300,
                 env={"MLFLOW_TRACKING_URI": uri})
    assert proc.returncode == 0, proc.stderr
    assert f"Logged to MLflow run 'lr-find' ({uri})" in proc.stdout
    client = MlflowClient(uri)
    runs = client.search_runs([client.get_experiment_by_name("tiny").experiment_id])
    assert [run.info.run_name for run in runs] == ["lr-find"]
    run = runs[0]
    assert run.data.tags["tuner.role"] == "lr_find" and run.info.status == "FINISHED"
    assert [a.path for a in client.list_artifacts(run.info.run_id)] == ["lr_find.png"]
    local = client.download_artifacts(run.info.run_id, "lr_find.png", str(tmp_path / "dl"))
    assert Path(local).read_bytes()[:4] == b"\x89PNG"
    assert float(run.data.params["suggested_lr.batch_16"]) > 0
