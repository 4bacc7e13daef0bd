"""SearchSpace: the one protocol of grid, random and Optuna search over a space.

Every space answers the same calls: ``grid``, ``sample``, ``suggest``,
``resolve(raw, n_samples=None)``, ``replace`` (narrow one parameter),
``with_prefix`` (route estimator parameters to a Pipeline step), ``upper_bound``,
``to_dict``; ``grid_only`` says whether it can be sampled at all. A list of
sklearn param grids is a :class:`~tuner.spaces.union.SearchSpaceUnion` answering
the same calls, so no caller special-cases it. The format is in :mod:`tuner.spaces`.
"""

import copy
import math

import numpy as np

from tuner.errors import SearchSpaceError, did_you_mean
from tuner.spaces.files import parse_object, read_space_file
from tuner.spaces.params import check_references, dependency_order, make_param

DEFAULT_MAX_GRID_SIZE = 10_000


class SearchSpace:
    """Parameters to tune, their kinds, conditions and derived values.

    Parameters
    ----------
    parameters : dict
        Parameter name -> spec mapping (see the module docstring), in order.
    description : str, default=""
        Free text.
    source : str, default="<dict>"
        Where the space came from; named in every error message.

    Attributes
    ----------
    grid_only : bool
        True when the space has no distribution to sample (a union of grids).
    prefix : str
        ``"step__"`` of a space routed to a Pipeline step (:meth:`with_prefix`), else "".

    Examples
    --------
    >>> space = SearchSpace({"batch_size": {"type": "int", "low": 16, "high": 64, "base": 2},
    ...                      "learning_rate_init": {"type": "float", "low": 0.01, "high": 0.1,
    ...                                             "scale_with": "batch_size"}})
    >>> space.grid()[0]
    {'batch_size': 16, 'learning_rate_init': 0.01}
    >>> space.resolve({"batch_size": 64, "learning_rate_init": 0.1})
    {'batch_size': 64, 'learning_rate_init': 0.025}
    """

    grid_only = False
    prefix = ""

    def __init__(self, parameters, *, description="", source="<dict>"):
        self.description, self.source = description, source
        self._params = {str(name): make_param(str(name), spec, source)
                        for name, spec in parameters.items()}
        check_references(self._params)
        self._order = dependency_order(self._params)

    @classmethod
    def load(cls, obj, *, source=None):
        """Build a space from a SearchSpace, a YAML path or shipped name, or a mapping.

        Parameters
        ----------
        obj : SearchSpace, str, pathlib.Path, dict or list of dict
            Our dict format, an sklearn ``param_grid`` (a dict of lists, or a
            list of such dicts: a union of sub-grids) or ``param_distributions``.
        source : str, optional
            Name used in error messages for in-memory objects.

        Examples
        --------
        >>> SearchSpace.load({"alpha": [1e-4, 1e-3]}).grid()
        [{'alpha': 0.0001}, {'alpha': 0.001}]
        """
        if isinstance(obj, SearchSpace):
            return obj
        if isinstance(obj, str) or hasattr(obj, "__fspath__"):
            obj, source = read_space_file(obj)
        source = source or "<dict>"
        description, specs = parse_object(obj, source)
        if isinstance(specs, list):
            from tuner.spaces.union import SearchSpaceUnion  # a subclass: imported here

            members = [SearchSpace(member, source=source) for member in specs]
            if len(members) == 1:
                return SearchSpace(specs[0], description=description, source=source)
            return SearchSpaceUnion(members, description=description, source=source)
        return SearchSpace(specs, description=description, source=source)

    def with_prefix(self, step):
        """The same space for the Pipeline step `step`: ``resolve`` names ``step__name``.

        Raw points (what Optuna stores, what plots and summaries show) keep the
        plain names; ``upper_bound`` and ``in`` accept plain or prefixed names.
        A name that already contains ``__`` names another step's parameter and
        is routed as is (see :meth:`routed`).

        Parameters
        ----------
        step : str
            The step's name in the Pipeline (prefixes nest: outer steps go first).

        Examples
        --------
        >>> space = SearchSpace.load({"alpha": [0.1, 1.0]}).with_prefix("mlp")
        >>> space.grid(), space.resolve({"alpha": 0.1})
        ([{'alpha': 0.1}, {'alpha': 1.0}], {'mlp__alpha': 0.1})
        >>> SearchSpace.load({"scale__with_mean": [True]}).with_prefix("mlp").resolve(
        ...     {"scale__with_mean": True})
        {'scale__with_mean': True}
        """
        prefixed = copy.copy(self)
        prefixed.prefix = f"{step}__{self.prefix}"
        return prefixed

    @property
    def names(self):
        """Tunable parameter names, in file order (fixed values excluded)."""
        return [name for name, param in self._params.items() if param.tunable]

    def __contains__(self, name):
        return name.removeprefix(self.prefix) in self._params

    def __iter__(self):
        """Every parameter name (fixed ones included), in file order."""
        return iter(self._params)

    def __eq__(self, other):
        return (type(self) is type(other) and self.prefix == other.prefix
                and self.to_dict() == other.to_dict())

    __hash__ = None

    def __repr__(self):
        width = max(map(len, self._params), default=0)
        lines = [f"  {name:<{width}}  {param.describe()}" for name, param in
                 self._params.items()]
        prefix = f", prefix={self.prefix!r}" if self.prefix else ""
        head = f"SearchSpace({self.source!r}{prefix}, {len(self.names)} tunable parameters"
        return "\n".join([head + (":" if lines else ")"), *lines]) + (")" if lines else "")

    def _get(self, name):
        """The parameter object of `name`, or a SearchSpaceError with a suggestion."""
        if name not in self._params:
            raise SearchSpaceError(f"unknown parameter{did_you_mean(name, self._params)}",
                                   source=self.source, key=str(name),
                                   allowed=", ".join(self._params))
        return self._params[name]

    def _draw(self, draw):
        """Walk parameters in dependency order, drawing each active tunable one."""
        context, raw = {}, {}
        for name in self._order:
            param = self._params[name]
            if not param.holds(context):
                continue
            if param.tunable:
                raw[name] = context[name] = draw(param)
            else:
                context[name] = param.raw
        return {name: raw[name] for name in self._params if name in raw}

    def suggest(self, trial, *, point=None):
        """Ask an Optuna trial for a raw point (conditional parameters only when active).

        ``point`` (the raw point enqueued for a grid trial) is not needed here:
        the trial returns the enqueued values (a union uses it, see
        :meth:`SearchSpaceUnion.suggest`).

        Examples
        --------
        >>> import optuna
        >>> space = SearchSpace.load({"solver": ["sgd", "adam"]})
        >>> study = optuna.create_study()
        >>> study.enqueue_trial({"solver": "adam"})
        >>> space.suggest(study.ask())
        {'solver': 'adam'}
        """
        return self._draw(lambda param: param.suggest(trial))

    def sample(self, rng=None):
        """Draw a raw point with numpy (a Generator, a RandomState, a seed or None).

        Examples
        --------
        >>> space = SearchSpace.load({"batch_size": {"type": "int", "low": 16, "high": 512,
        ...                                          "base": 2}})
        >>> space.sample(0)["batch_size"] in (16, 32, 64, 128, 256, 512)
        True
        """
        if rng is None or isinstance(rng, int | np.integer):
            rng = np.random.default_rng(rng)
        return self._draw(lambda param: param.sample(rng))

    def grid(self, *, max_grid_size=DEFAULT_MAX_GRID_SIZE):
        """Every raw grid point; a conditional parameter multiplies only its active branches.

        Examples
        --------
        >>> space = SearchSpace.load({"parameters": {
        ...     "solver": {"type": "categorical", "choices": ["sgd", "adam"]},
        ...     "momentum": {"type": "float", "low": 0.5, "high": 0.9, "n_points": 2,
        ...                  "when": {"solver": "sgd"}}}})
        >>> space.grid()
        [{'solver': 'sgd', 'momentum': 0.5}, {'solver': 'sgd', 'momentum': 0.9}, {'solver': 'adam'}]
        """
        self._check_grid_size(max_grid_size)
        points = [{}]
        for name in self._order:
            param, expanded = self._params[name], []
            for point in points:
                if not param.holds(point):
                    expanded.append(point)
                elif not param.tunable:
                    expanded.append({**point, name: param.raw})
                else:
                    expanded.extend({**point, name: value} for value in param.grid_values())
                if len(expanded) > max_grid_size:
                    raise SearchSpaceError(
                        f"grid has more than {max_grid_size} points", source=self.source,
                        key=name, allowed="give shorter 'grid' lists, smaller n_points or "
                        "a larger max_grid_size")
            points = expanded
        names = self.names
        return [{name: point[name] for name in names if name in point} for point in points]

    def _check_grid_size(self, max_grid_size):
        """Refuse a grid whose size (the product of the parameters' value counts) exceeds
        `max_grid_size` before any point is built (conditional grids: while building);
        the key is the parameter that takes the product past the limit."""
        params = [(name, self._params[name]) for name in self._order]
        if any(param.when for _, param in params):
            return
        sizes = [(name, len(param.grid_values())) for name, param in params if param.tunable]
        total = math.prod(size for _, size in sizes)
        if total <= max_grid_size:
            return
        running = 1
        for name, size in sizes:
            running *= size
            if running > max_grid_size:
                raise SearchSpaceError(
                    f"grid has more than {max_grid_size} points", source=self.source, key=name,
                    value=total, allowed="give shorter 'grid' lists, smaller n_points or a "
                    "larger max_grid_size")

    def resolve(self, raw, *, n_samples=None):
        """Estimator parameters of a raw point: decode tuples, apply derived rules, add fixed.

        Parameters whose ``when`` condition fails (fixed ones included) are left out;
        the names carry the space's prefix (see :meth:`with_prefix`).

        Parameters
        ----------
        raw : dict
            A raw point (from ``suggest``, ``sample``, ``grid`` or ``trial.params``).
        n_samples : int, optional
            Training-set size; needed when a derived value scales with a
            ``"full"`` or ``"auto"`` batch size (and used to clip larger ones).

        Examples
        --------
        >>> space = SearchSpace.load("lr_batch_coupled")
        >>> space.resolve({"batch_size": 512, "learning_rate_init": 0.01})["learning_rate_init"]
        0.02
        """
        for name in raw:
            if not self._get(name).tunable:
                raise SearchSpaceError("not a tunable parameter", source=self.source,
                                       key=str(name), allowed=", ".join(self.names))
        context, values = {}, {}
        for name in self._order:
            param = self._params[name]
            if not param.holds(context) or (param.tunable and name not in raw):
                continue
            context[name] = raw[name] if param.tunable else param.raw
            values[name] = param.decode(context[name])
        for name, value in list(values.items()):
            target = getattr(self._params[name], "scale_with", None)
            if target is not None:
                values[name] = self._params[name].scale(value, values.get(target), n_samples)
        return {self.routed(name): values[name] for name in self._params if name in values}

    def routed(self, name):
        """The estimator parameter ``name`` sets: prefixed; a name that already names a step
        (``step__param``, e.g. ``preprocess__numeric__impute__strategy``) gets only the
        outer prefixes (those added after the first :meth:`with_prefix`)."""
        if "__" not in name:
            return self.prefix + name
        steps = self.prefix.split("__")[:-1]
        return "".join(f"{step}__" for step in steps[:-1]) + name

    def upper_bound(self, name):
        """Largest value a numeric parameter can take (e.g. the most epochs).

        Examples
        --------
        >>> SearchSpace.load("mlp_default").upper_bound("max_iter")
        100
        """
        return self._get(name.removeprefix(self.prefix)).upper_bound()

    def to_dict(self):
        """A YAML-able mapping that ``SearchSpace.load`` turns back into an equal space.

        Examples
        --------
        >>> space = SearchSpace.load("optimizers")
        >>> SearchSpace.load(space.to_dict()) == space
        True
        """
        return {"description": self.description,
                "parameters": {name: param.to_dict() for name, param in self._params.items()}}

    def replace(self, name, **spec):
        """A copy with one parameter's spec updated (or added, given a full spec).

        Keys given are merged into the old spec; a key given as None is removed
        (pass ``grid=None`` when the new range no longer holds the old grid).
        Giving a different ``type`` replaces the spec wholesale.

        Examples
        --------
        >>> space = SearchSpace.load("mlp_default")
        >>> space.replace("learning_rate_init", low=1e-3, grid=None).upper_bound(
        ...     "learning_rate_init")
        0.1
        """
        specs = {n: p.to_dict() for n, p in self._params.items()}
        old = specs.get(name, {})
        merged = {**old, **spec} if spec.get("type", old.get("type")) == old.get("type") else spec
        specs[name] = {k: v for k, v in merged.items() if v is not None or k == "value"}
        replaced = SearchSpace(specs, description=self.description, source=self.source)
        replaced.prefix = self.prefix
        return replaced
