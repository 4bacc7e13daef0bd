"""The installed wheel carries what the package reads at run time (the shipped search spaces)."""

import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tomllib
from pathlib import Path

import pytest

from tuner.spaces.files import SHIPPED_DIR

ROOT = Path(__file__).resolve().parents[1]


def test_package_data_covers_the_shipped_spaces():
    package_data = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"][
        "package-data"]["tuner"]
    assert SHIPPED_DIR == ROOT / "tuner" / "search_spaces"
    shipped = sorted(SHIPPED_DIR.glob("*.yaml"))
    assert shipped and all(any(p.relative_to(ROOT / "tuner").match(g) for g in package_data)
                           for p in shipped)
    ignored = (ROOT / ".gitignore").read_text().split()
    assert "build/" in ignored and "dist/" in ignored


def _readme_example():
    """The README's Python example, made small (2 trials, one process)."""
    code = re.search(r"## Python API\n\n```python\n(.*?)```", (ROOT / "README.md").read_text(),
                     re.S).group(1)
    return code.replace("n_trials=20", "n_trials=2").replace("n_jobs=2", "n_jobs=1")


@pytest.mark.slow
def test_wheel_installed_without_the_source_tree_ships_its_spaces(tmp_path):
    source = tmp_path / "src"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(
        ".venv", ".git", "build", "dist", "*.egg-info", ".tuner", "mlruns", "__pycache__"))
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w",
                            str(tmp_path / "dist"), str(source)], capture_output=True, text=True)
    if built.returncode != 0:  # the build backend comes from the package index
        pytest.skip(f"cannot build the wheel here: {built.stderr.strip().splitlines()[-1:]}")
    wheel = next((tmp_path / "dist").glob("tuner-*.whl"))
    venv = tmp_path / "venv"
    alone = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # no source tree
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, env=alone)
    subprocess.run([venv / "bin" / "python", "-m", "pip", "install", "-q", "--no-deps",
                    str(wheel)], check=True, env=alone)
    # dependencies from this interpreter's site-packages (not its editable tuner: a .pth
    # file is read only in site directories, not on PYTHONPATH)
    paths = sysconfig.get_paths()
    env = {**alone, "PYTHONPATH": os.pathsep.join({paths["purelib"], paths["platlib"]}),
           "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'mlflow.db'}"}
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()

    def run(*args):
        done = subprocess.run(args, cwd=elsewhere, env=env, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        return done.stdout

    where = run(venv / "bin" / "python", "-c", "import tuner; print(tuner.__file__)")
    assert where.startswith(str(venv))
    assert "mlp_default" in run(venv / "bin" / "tuner", "spaces")
    loaded = run(venv / "bin" / "python", "-c", "from tuner import SearchSpace; "
                 "print(SearchSpace.load('mlp_default').names)")
    assert "learning_rate_init" in loaded
    assert "CV " in run(venv / "bin" / "python", "-c", _readme_example())
