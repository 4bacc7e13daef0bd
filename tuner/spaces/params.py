"""The parameter base: spec keys, ``when`` conditions, the kind registry, dependency order.

Each kind (:mod:`tuner.spaces.numeric`, :mod:`tuner.spaces.categorical`)
parses and validates one parameter spec, lists its grid values, draws a value
with numpy and asks an Optuna trial for one. Values produced by the kinds are
*raw*: what Optuna stores (None, bool, int, float or str).

Examples
--------
>>> make_param("solver", {"type": "categorical", "choices": ["sgd", "adam"]}, "<dict>").kind
'categorical'
"""

import functools
import numbers

import numpy as np

from tuner.errors import SearchSpaceError, did_you_mean

#: Most values one parameter may list or spread (choices, grid, n_points): the grid limit.
MAX_VALUES = 10_000


def to_python(value):
    """Turn numpy scalars and arrays into plain Python values."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    return value.item() if isinstance(value, np.generic) else value


def is_number(value):
    """True for int/float values that are not bools."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def randint(rng, low, high):
    """Uniform integer in [low, high] from a numpy Generator or RandomState."""
    if hasattr(rng, "integers"):
        return int(rng.integers(low, high + 1))
    return int(rng.randint(low, high + 1))


class Param:
    """Base of the parameter kinds: name, spec, condition and error helper.

    Parameters
    ----------
    name : str
        The parameter's name.
    spec : dict
        Its spec (``type`` plus the keys of its kind).
    source : str
        Where the space came from; named in every error message.

    Examples
    --------
    >>> param = make_param("momentum", {"type": "float", "low": 0.5, "high": 0.9,
    ...                                 "when": {"solver": "sgd"}}, "<dict>")
    >>> param.holds({"solver": "sgd"}), param.holds({"solver": "adam"})
    (True, False)
    """

    kind = ""
    keys = frozenset({"type", "when"})
    tunable = True

    def __init__(self, name, spec, source):
        self.name, self.source = name, source
        self.spec = {key: to_python(value) for key, value in spec.items()}
        for key in self.spec:
            if key not in self.keys:
                raise self.error(f"unknown key {key!r}{did_you_mean(key, self.keys)}",
                                 allowed=", ".join(sorted(self.keys)))
        self.when = self._parse_when(self.spec.get("when"))

    def error(self, message, *, field=None, value=SearchSpaceError._UNSET, allowed=None):
        """Build a SearchSpaceError naming the source file and this parameter."""
        key = f"{self.name}.{field}" if field else self.name
        return SearchSpaceError(message, source=self.source, key=key, value=value,
                                allowed=allowed)

    def _parse_when(self, when):
        """Map each parent parameter to the tuple of values that activate this one."""
        if when is None:
            return {}
        if not isinstance(when, dict) or not when:
            raise self.error("'when' must map a parameter name to a value or list of values",
                             field="when", value=when)
        parsed = {}
        for parent, allowed in when.items():
            values = tuple(allowed) if isinstance(allowed, list | tuple) else (allowed,)
            if not values:
                raise self.error("empty list of allowed values", field=f"when.{parent}")
            parsed[str(parent)] = values
        return parsed

    def _grid_list(self):
        """The ``grid:`` list as written (None when absent); a non-empty list or an error."""
        grid = self.spec.get("grid")
        if grid is not None and (not isinstance(grid, list) or not grid):
            raise self.error("grid must be a non-empty list", field="grid", value=grid)
        if grid is not None and len(grid) > MAX_VALUES:
            raise self.error("too many grid values", field="grid", value=len(grid),
                             allowed=f"at most {MAX_VALUES}")
        return grid

    def holds(self, context):
        """True when every parent named in `when` has one of its allowed values."""
        return all(context.get(parent, _Absent) in values
                   for parent, values in self.when.items())

    def raw_values(self):
        """Every raw value this parameter can take, if finite (for condition checks)."""
        return None

    def decode(self, raw):
        """Turn a raw value into the estimator's value."""
        return raw

    def to_dict(self):
        """The spec as a YAML-able mapping, `type` first."""
        return {"type": self.kind, **{k: v for k, v in self.spec.items() if k != "type"}}

    def describe(self):
        """One-line human summary used by ``SearchSpace.__repr__``."""
        return self.kind + self.when_text()

    def when_text(self):
        """' when solver in [sgd]' or ''."""
        if not self.when:
            return ""
        return " when " + ", ".join(f"{k} in {list(v)}" for k, v in self.when.items())


class _Absent:
    """Sentinel for a parent parameter absent from a point."""


@functools.cache
def kinds():
    """The parameter classes by ``type`` name (imported here: each module subclasses Param)."""
    from tuner.spaces.categorical import CategoricalParam, FixedParam
    from tuner.spaces.numeric import FloatParam, IntParam

    return {cls.kind: cls for cls in (FloatParam, IntParam, CategoricalParam, FixedParam)}


def make_param(name, spec, source):
    """Build the parameter object of one spec (a mapping with ``type``, or a list of choices)."""
    if isinstance(spec, np.ndarray | list | tuple):
        spec = {"type": "categorical", "choices": list(spec)}
    if not isinstance(spec, dict):
        raise SearchSpaceError("a parameter spec must be a mapping with 'type' (or a list "
                               "of choices)", source=source, key=name, value=spec)
    kind, known = spec.get("type"), kinds()
    if not isinstance(kind, str | None):
        raise SearchSpaceError("'type' must be a kind name", source=source, key=f"{name}.type",
                               value=kind, allowed=", ".join(known))
    if kind not in known:
        if kind is None:
            raise SearchSpaceError("missing 'type'", source=source, key=f"{name}.type",
                                   allowed=", ".join(known))
        raise SearchSpaceError(f"unknown kind{did_you_mean(kind, known)}", source=source,
                               key=f"{name}.type", value=kind, allowed=", ".join(known))
    return known[kind](str(name), spec, source)


def check_references(params):
    """Conditions and scale_with must name other parameters, with reachable values."""
    for name, param in params.items():
        for parent, values in param.when.items():
            _check_known(params, parent, name, "when")
            allowed = params[parent].raw_values()
            for value in values:
                if allowed is not None and not any(value == a for a in allowed):
                    raise param.error(f"condition value is never taken by {parent!r}",
                                      field=f"when.{parent}", value=value,
                                      allowed=", ".join(map(str, allowed)))
        target = getattr(param, "scale_with", None)
        if target is not None:
            _check_known(params, target, name, "scale_with")


def _check_known(params, other, name, field):
    """Raise unless `other` is another parameter of the space."""
    if other == name or other not in params:
        problem = "refers to itself" if other == name else "refers to an unknown parameter"
        raise params[name].error(
            f"{field} {problem}{did_you_mean(other, set(params) - {name})}",
            field=field, value=other, allowed=", ".join(params))


def dependency_order(params):
    """File order, except that a parameter comes after the ones its `when` names."""
    order, pending = [], list(params)
    while pending:
        ready = [n for n in pending if all(p in order for p in params[n].when)]
        if not ready:
            raise params[pending[0]].error("conditions form a cycle", field="when",
                                           value=", ".join(pending))
        order.append(ready[0])
        pending.remove(ready[0])
    return order
