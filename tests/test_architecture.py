"""Import rules of ARCHITECTURE.md, read from every import statement under tuner/ with ast.

- tuner/nn imports only numpy and the standard library, except numba in tuner/nn/compiled.py
  (the optional kernels), which only tuner/nn/accelerate.py imports, inside a function;
- optuna only under tuner/search/, tuner/spaces/, tuner/plots/, in tuner/report.py;
- mlflow only in the tuner/tracking package (tracking grew past 400 lines), and only
  inside functions;
- matplotlib only inside functions of tuner/plots/, tuner/report.py,
  tuner/lr_finder.py;
- imports flow one way: cli -> experiment -> search -> estimators -> nn;
- tuner/__init__.py, tuner/cli/__init__.py and tuner/__main__.py import no heavy package at
  module level, and ``python -m tuner --help`` imports none at all.
"""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "tuner"
HEAVY = ("mlflow", "optuna", "sklearn", "matplotlib", "numba")
COMPILED, DISPATCH = "tuner/nn/compiled.py", "tuner/nn/accelerate.py"


def _modules():
    """Every Python file of the package, as (path relative to the repo, source tree)."""
    files = sorted(PACKAGE.rglob("*.py"))
    assert files, "no modules found"
    return [(path.relative_to(ROOT).as_posix(), ast.parse(path.read_text(), str(path)))
            for path in files]


def _imports(tree):
    """(top-level module name, full dotted name, inside a function?) for each import."""
    found = []

    def visit(node, in_function):
        for child in ast.iter_child_nodes(node):
            nested = in_function or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef |
                                               ast.Lambda)
            if isinstance(child, ast.Import):
                found.extend((a.name.split(".")[0], a.name, in_function) for a in child.names)
            elif isinstance(child, ast.ImportFrom):
                name = "." * child.level + (child.module or "")
                found.append((name.split(".")[0] if child.level == 0 else ".", name,
                              in_function))
            visit(child, nested)

    visit(tree, False)
    return found


MODULES = _modules()


def _where(path, name):
    """Assertion message."""
    return f"{path} imports {name}"


def test_architecture_finds_every_module():
    paths = {path for path, _ in MODULES}
    assert {"tuner/cli/__init__.py", "tuner/experiment/__init__.py", "tuner/datasets.py"} <= paths
    assert any(path.startswith("tuner/nn/") for path in paths)


@pytest.mark.parametrize(("path", "tree"), [m for m in MODULES if m[0].startswith("tuner/nn/")],
                         ids=lambda v: v if isinstance(v, str) else "")
def test_architecture_nn_imports_only_numpy_and_stdlib(path, tree):
    for top, name, _ in _imports(tree):
        allowed = top in ("numpy", ".") or top in sys.stdlib_module_names \
            or name.startswith("tuner.nn") or (top == "numba" and path == COMPILED)
        assert allowed, _where(path, name)


def _names_compiled(node):
    """Whether an import statement imports tuner.nn.compiled (absolutely or relatively)."""
    if isinstance(node, ast.Import):
        return any(a.name == "tuner.nn.compiled" for a in node.names)
    module = node.module or ""
    return module.endswith("compiled") or any(a.name == "compiled" for a in node.names)


def test_architecture_compiled_kernels_are_imported_lazily_by_the_dispatch_only():
    for path, tree in MODULES:
        functions = [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)]
        inside = {id(n) for f in functions for n in ast.walk(f)}
        for node in ast.walk(tree):
            if isinstance(node, ast.Import | ast.ImportFrom) and _names_compiled(node):
                assert path == DISPATCH, f"{path} imports tuner.nn.compiled"
                assert id(node) in inside, f"{path} imports tuner.nn.compiled at module level"


def _allowed_for(path, package):
    """(allowed here at all, only inside functions) for a heavy package in ``path``."""
    rules = {
        "optuna": (path.startswith(("tuner/search/", "tuner/spaces/", "tuner/plots/"))
                   or path == "tuner/report.py",
                   False),
        "mlflow": (path.startswith("tuner/tracking/"), True),
        "matplotlib": (path in ("tuner/report.py", "tuner/lr_finder.py")
                       or path.startswith("tuner/plots/"), True),
    }
    return rules[package]


@pytest.mark.parametrize("package", ["optuna", "mlflow", "matplotlib"])
def test_architecture_heavy_imports_stay_in_their_modules(package):
    for path, tree in MODULES:
        allowed, functions_only = _allowed_for(path, package)
        for top, name, in_function in _imports(tree):
            if top != package:
                continue
            assert allowed, _where(path, name)
            assert in_function or not functions_only, _where(path, name) + " at module level"


LAYERS = [("tuner/nn/", ("tuner.estimators", "tuner.search", "tuner.experiment", "tuner.cli",
                         "tuner.spaces", "tuner.tracking")),
          ("tuner/estimators/", ("tuner.search", "tuner.experiment", "tuner.cli")),
          ("tuner/search/", ("tuner.experiment", "tuner.cli")),
          ("tuner/experiment/", ("tuner.cli",))]


@pytest.mark.parametrize(("prefix", "forbidden"), LAYERS, ids=[p for p, _ in LAYERS])
def test_architecture_imports_flow_one_way(prefix, forbidden):
    for path, tree in MODULES:
        if not path.startswith(prefix):
            continue
        for _, name, _ in _imports(tree):
            assert not name.startswith(forbidden), _where(path, name)


@pytest.mark.parametrize("path", ["tuner/__init__.py", "tuner/cli/__init__.py",
                                  "tuner/__main__.py"])
def test_architecture_entry_points_import_nothing_heavy_at_module_level(path):
    tree = dict(MODULES)[path]
    for top, name, in_function in _imports(tree):
        assert in_function or top not in HEAVY, _where(path, name) + " at module level"
        local = name.startswith("tuner.") and not in_function and path != "tuner/__main__.py"
        assert not local or name in ("tuner.errors",), _where(path, name) + " at module level"


def test_architecture_help_imports_no_heavy_package():
    script = ("import runpy, sys\n"
              "sys.argv = ['tuner', '--help']\n"
              "try:\n    runpy.run_module('tuner', run_name='__main__')\n"
              "except SystemExit as exc:\n    code = exc.code\n"
              f"print(code, sorted(m for m in {HEAVY!r} if m in sys.modules))\n")
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          cwd=ROOT, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "0 []"
    assert "Usage: tuner" in proc.stdout


def _private_module(name):
    """True when the dotted ``tuner.<package>.<...>`` name goes through an underscore module."""
    parts = name.split(".")
    return parts[0] == "tuner" and any(p.startswith("_") for p in parts[2:])


def _imported_names(tree):
    """Every dotted name an import statement brings in (``from a.b import c`` gives ``a.b.c``)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.module
            yield from (f"{node.module}.{alias.name}" for alias in node.names)


def test_architecture_private_module_rule_sees_both_import_forms():
    tree = ast.parse("from tuner.tracking import _writer\nimport tuner.search._x\n")
    assert [n for n in _imported_names(tree) if _private_module(n)] == \
        ["tuner.tracking._writer", "tuner.search._x"]


@pytest.mark.parametrize(("path", "tree"), MODULES, ids=lambda v: v if isinstance(v, str) else "")
def test_architecture_packages_use_each_others_public_modules_only(path, tree):
    package = path.split("/")[1]  # tuner/<package>/... (or a module directly in tuner/)
    for name in _imported_names(tree):
        if _private_module(name):
            assert name.split(".")[1] == package, _where(path, name) + " (a private module)"
