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
#: Bounds of :func:`read_yaml`: file size, nesting depth, values after alias expansion.
MAX_FILE_BYTES, MAX_DEPTH, MAX_NODES = 1_000_000, 50, 100_000
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
    """Read the space file `name` names with :func:`read_yaml`; return (data, source)."""
    path = find_space_file(name)
    source = str(path)
    data = read_yaml(path, error=SearchSpaceError, what="search space")
    if not isinstance(data, dict | list):
        raise SearchSpaceError("a search space file must be a YAML mapping", source=source,
                               value=type(data).__name__,
                               allowed="a mapping with 'description' and 'parameters'")
    return data, source


def read_yaml(path, *, error=SearchSpaceError, what="search space"):
    """THE YAML reader of user files (experiments and spaces), bounded against hostile input.

    ``yaml.safe_load`` semantics, but a file over :data:`MAX_FILE_BYTES`, nested
    deeper than :data:`MAX_DEPTH`, or holding more than :data:`MAX_NODES` values
    once its aliases are expanded (a "billion laughs" file) is refused, as is
    malformed YAML: each is one line (an `error`) naming the file.

    Parameters
    ----------
    path : str or pathlib.Path
        The file.
    error : type of ConfigError
        The error raised (ExperimentError for experiments).
    what : str
        What the file is, for "... file not found".

    Examples
    --------
    >>> sorted(read_yaml(find_space_file("mlp_default")))
    ['description', 'parameters']
    """
    import yaml

    path, source = Path(path), str(path)
    if path.is_dir():
        raise error("is a folder, not a file", source=source, allowed="a .yaml file")
    if not path.is_file():
        raise error(f"{what} file not found", source=source, allowed="an existing .yaml file")
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise error("file too large", source=source, value=path.stat().st_size,
                        allowed=f"at most {MAX_FILE_BYTES} bytes")
        return load_bounded(path.read_text(encoding="utf-8"), error=error, source=source)
    except OSError as exc:
        raise error(f"cannot read the file: {exc.strerror}", source=source) from None
    except UnicodeDecodeError:
        raise error("not a UTF-8 text file", source=source) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else None
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise error(f"malformed YAML: {problem}", source=source, key=where,
                    allowed="valid YAML (check indentation, colons and quotes)") from None


def load_bounded(text, *, error=SearchSpaceError, source=None):
    """``yaml.safe_load(text)`` within :data:`MAX_DEPTH` and :data:`MAX_NODES` (aliases
    expanded), else an `error` naming `source`; malformed YAML raises ``yaml.YAMLError``.

    Examples
    --------
    >>> load_bounded("a: [1, 2]")
    {'a': [1, 2]}
    """
    import yaml

    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _check_tree(node, error, source)
        return loader.construct_document(node)
    except RecursionError:
        raise error("nested too deeply", source=source,
                    allowed=f"at most {MAX_DEPTH} levels") from None
    finally:
        loader.dispose()


def _check_tree(root, error, source):
    """Refuse a composed YAML tree deeper than MAX_DEPTH, with a recursive alias, or larger
    than MAX_NODES once its aliases are expanded (sizes memoised per node: linear in the
    file, not in its expansion)."""
    sizes, open_, stack = {}, set(), [(root, 1, False)]
    while stack:
        node, depth, done = stack.pop()
        if done:
            open_.discard(id(node))
            sizes[id(node)] = 1 + sum(sizes[id(child)] for child in _children(node))
            if sizes[id(node)] > MAX_NODES:
                raise error("too many values (YAML aliases *name counted expanded)",
                            source=source, allowed=f"at most {MAX_NODES} values")
            continue
        mark = node.start_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}"
        if depth > MAX_DEPTH:
            raise error("nested too deeply", source=source, key=where,
                        allowed=f"at most {MAX_DEPTH} levels")
        if id(node) in open_:
            raise error("a YAML alias refers to a value that contains it", source=source,
                        key=where, allowed="aliases of finished values only")
        if id(node) in sizes:
            continue
        open_.add(id(node))
        stack.append((node, depth, True))
        stack.extend((child, depth + 1, False) for child in _children(node))


def _children(node):
    """The child nodes of a composed YAML node (keys and values of a mapping)."""
    import yaml

    if isinstance(node, yaml.SequenceNode):
        return node.value
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    return []


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
