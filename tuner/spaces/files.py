"""Space files: YAML reading, THE space-file resolver, shipped spaces, sklearn grids.

A space is named by a path or by a bare name. :func:`find_space_file` resolves
both, in one order for every caller (``SearchSpace.load``, experiment files,
the CLI): a path as given (relative to the experiment's folder, or without an
experiment to the working directory), else a name looked up in the
``search_spaces/`` folders, most specific first: the working directory's, the
experiment's, its parent's, then the shipped one (``tuner/search_spaces/``,
installed with the package).

Examples
--------
>>> find_space_file("mlp_default").name
'mlp_default.yaml'
"""

from pathlib import Path

import numpy as np

from tuner.errors import SearchSpaceError, did_you_mean
from tuner.spaces.params import to_python

#: The folder of the shipped spaces (``tuner/search_spaces/``, package data).
SHIPPED_DIR = Path(__file__).resolve().parents[1] / "search_spaces"
TOP_KEYS = ("description", "parameters", "union")
# scipy.stats family name -> (our kind, log scale)
_DISTRIBUTIONS = {
    "loguniform": ("float", True),
    "reciprocal": ("float", True),
    "uniform": ("float", False),
    "randint": ("int", False),
}


def space_dirs(experiment_path=None):
    """Folders searched for a space name, most specific first (existing ones, once each)."""
    dirs = [Path.cwd() / "search_spaces"]
    if experiment_path is not None:
        here = Path(experiment_path).resolve().parent
        dirs += [here / "search_spaces", here.parent / "search_spaces"]
    dirs.append(SHIPPED_DIR)
    unique = []
    for folder in dirs:
        if folder.is_dir() and folder.resolve() not in [u.resolve() for u in unique]:
            unique.append(folder)
    return unique


def list_spaces(experiment_path=None):
    """Every space file found by :func:`space_dirs`: {name: path}, first found wins.

    Examples
    --------
    >>> "mlp_default" in list_spaces()
    True
    """
    found = {}
    for folder in space_dirs(experiment_path):
        for path in sorted(folder.glob("*.y*ml")):
            found.setdefault(path.stem, path)
    return found


def available_spaces():
    """Names of the spaces a bare name can load (shipped and ``./search_spaces``), sorted.

    Examples
    --------
    >>> "mlp_default" in available_spaces()
    True
    """
    return sorted(list_spaces())


def find_space_file(ref, *, experiment_path=None):
    """THE space-file resolver: the path of the space file `ref` names.

    Parameters
    ----------
    ref : str or pathlib.Path
        A path to a YAML file or the name of a space in a ``search_spaces/``
        folder (with or without ``.yaml``).
    experiment_path : str or pathlib.Path, optional
        The experiment file naming `ref`: a relative path is taken from its
        folder (else from the working directory), a name is also looked up in
        its ``search_spaces/`` (and its parent's).

    Returns
    -------
    pathlib.Path

    Raises
    ------
    SearchSpaceError
        When nothing matches (the message lists the known names).

    Examples
    --------
    >>> find_space_file("optimizers.yaml") == find_space_file("optimizers")
    True
    """
    path = Path(ref)
    bases = [Path(experiment_path).resolve().parent] if experiment_path else [Path.cwd()]
    for base in bases:
        candidate = path if path.is_absolute() else base / path
        if candidate.is_file():
            return candidate
    known = list_spaces(experiment_path)
    if len(path.parts) == 1 and path.suffix in ("", ".yaml", ".yml") and path.stem in known:
        return known[path.stem]
    raise SearchSpaceError(f"no such file or shipped search space{did_you_mean(ref, known)}",
                           source=str(ref),
                           allowed=", ".join(known) + ", or a path to a YAML file")


def read_space_file(name):
    """Load a YAML file with yaml.safe_load; return (data, source)."""
    import yaml

    path = find_space_file(name)
    source = str(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise SearchSpaceError(f"cannot read the file: {exc.strerror}", source=source) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise SearchSpaceError(f"malformed YAML{where}: {problem}", source=source) from None
    if not isinstance(data, dict | list):
        raise SearchSpaceError("a search space file must be a YAML mapping", source=source,
                               value=type(data).__name__,
                               allowed="a mapping with 'description' and 'parameters'")
    return data, source


def parse_object(obj, source):
    """Return (description, specs) where specs is a dict, or a list of dicts for a union."""
    if isinstance(obj, list | tuple):
        if not obj or not all(isinstance(grid, dict) for grid in obj):
            raise SearchSpaceError("a list of param grids must hold mappings", source=source,
                                   value=obj)
        members = [parse_object(grid, source)[1] for grid in obj]
        if any(isinstance(member, list) for member in members):
            raise SearchSpaceError("unions cannot be nested", source=source, key="union")
        return "", members
    if not isinstance(obj, dict):
        raise SearchSpaceError("a search space must be a mapping", source=source,
                               value=type(obj).__name__)
    if not any(key in obj for key in TOP_KEYS):
        for key, value in obj.items():
            if isinstance(value, dict) and "type" not in value and did_you_mean(key, TOP_KEYS):
                raise SearchSpaceError(f"unknown top-level key {key!r}"
                                       f"{did_you_mean(key, TOP_KEYS)}", source=source,
                                       key=str(key), allowed=", ".join(TOP_KEYS))
        return "", sklearn_specs(obj, source)
    return _parse_ours(obj, source)


def _parse_ours(obj, source):
    """Our format: description plus parameters (or a union of parameter mappings)."""
    for key in obj:
        if key not in TOP_KEYS:
            raise SearchSpaceError(f"unknown top-level key {key!r}{did_you_mean(key, TOP_KEYS)}",
                                   source=source, key=str(key), allowed=", ".join(TOP_KEYS))
    description = obj.get("description") or ""
    if not isinstance(description, str):
        raise SearchSpaceError("description must be text", source=source, key="description",
                               value=description)
    if "union" in obj:
        if "parameters" in obj:
            raise SearchSpaceError("give either 'parameters' or 'union', not both",
                                   source=source, key="union")
        return description, parse_object(obj["union"], source)[1]
    parameters = obj.get("parameters")
    if not isinstance(parameters, dict) or not parameters:
        raise SearchSpaceError("'parameters' must be a non-empty mapping", source=source,
                               key="parameters", value=parameters)
    return description, dict(parameters)


def sklearn_specs(obj, source):
    """Specs of an sklearn param_grid / param_distributions mapping (or bare specs).

    Pure sklearn mappings are taken in sorted-key order, like ParameterGrid,
    so that ``grid()`` lists points in ParameterGrid's order.
    """
    pure = not any(isinstance(value, dict) for value in obj.values())
    names = sorted(obj, key=str) if pure else list(obj)
    specs = {}
    for name in names:
        value = obj[name]
        if isinstance(value, dict):
            specs[name] = value
        elif isinstance(value, list | tuple | np.ndarray):
            specs[name] = {"type": "categorical", "choices": list(to_python(value))}
        elif hasattr(value, "rvs"):
            specs[name] = distribution_spec(name, value, source)
        else:
            raise SearchSpaceError("a parameter needs a list of values, a scipy.stats "
                                   "distribution or a spec mapping", source=source,
                                   key=str(name), value=value)
    return specs


def distribution_spec(name, dist, source):
    """Spec of a frozen scipy.stats distribution: loguniform, uniform or randint."""
    family = getattr(getattr(dist, "dist", None), "name", None)
    if family not in _DISTRIBUTIONS:
        raise SearchSpaceError("unsupported distribution", source=source, key=str(name),
                               value=family or type(dist).__name__,
                               allowed="scipy.stats loguniform, uniform, randint or a list")
    kind, log = _DISTRIBUTIONS[family]
    low, high = (to_python(bound) for bound in dist.support())
    if log and _loc(dist) != 0:
        raise SearchSpaceError("a shifted loguniform (loc != 0) is not log-uniform",
                               source=source, key=str(name), value=_loc(dist))
    spec = {"type": kind, "low": int(low) if kind == "int" else float(low),
            "high": int(high) if kind == "int" else float(high)}
    if log:
        spec["log"] = True
    return spec


def _loc(dist):
    """The loc argument of a frozen scipy distribution (positional or keyword)."""
    n_shapes = dist.dist.numargs
    if len(dist.args) > n_shapes:
        return dist.args[n_shapes]
    return dist.kwds.get("loc", 0)
