"""Integer, categorical and fixed parameter kinds, and the kind registry (private)."""

import math

import numpy as np

from tuner._space_params import (
    FloatParam,
    Param,
    RangeParam,
    _is_number,
    did_you_mean,
    randint,
    to_python,
)
from tuner.errors import SearchSpaceError


class IntParam(RangeParam):
    """An integer parameter; with ``base: b`` it takes the powers of b in [low, high].

    Powers of two are suggested with ``suggest_categorical`` over the ascending
    powers (see :mod:`tuner.spaces` for why): the stored value is the batch size itself.
    """

    kind = "int"
    keys = RangeParam.keys | {"base"}

    def __init__(self, name, spec, source):
        super().__init__(name, spec, source)
        self.base = self._parse_base()
        self.grid = self._parse_grid()

    def _coerce(self, value, field):
        """Accept integers (and integral floats such as 1e3 from YAML)."""
        if _is_number(value) and float(value).is_integer():
            return int(value)
        raise self.error(f"{field} must be an integer", field=field, value=value)

    def _parse_base(self):
        """Validate ``base`` and list the powers of it inside [low, high]."""
        base = self.spec.get("base")
        if base is None:
            return None
        if isinstance(base, bool) or not isinstance(base, int) or base < 2:
            raise self.error("base must be an integer >= 2", field="base", value=base)
        if self.log or self.step is not None:
            raise self.error("base cannot be combined with log or step", field="base",
                             value=base)
        if self.low < 1:
            raise self.error("base needs low >= 1", field="low", value=self.low)
        self.powers, power = [], 1
        while power <= self.high:
            if power >= self.low:
                self.powers.append(power)
            power *= base
        if not self.powers:
            raise self.error(f"no power of {base} inside the range", field="base",
                             value=base, allowed=f"[{self.low}, {self.high}]")
        return base

    def contains(self, value):
        """True if `suggest` can return value (a power of base when base is set)."""
        if self.base is not None:
            return _is_number(value) and value in self.powers
        return super().contains(value)

    def raw_values(self):
        """All values when the parameter is a set of powers."""
        return list(self.powers) if self.base is not None else None

    def _range_text(self):
        """Range summary, mentioning the base."""
        text = super()._range_text()
        return f"{text} powers of {self.base}" if self.base is not None else text

    def _snap(self, value):
        """Round a computed grid value onto the integer (step) lattice."""
        step = self.step or 1
        return int(self.low + round((value - self.low) / step) * step)

    def grid_values(self):
        """Explicit grid, all powers of base, or n_points rounded and de-duplicated."""
        if self.grid is None and self.base is not None:
            return list(self.powers)
        return super().grid_values()

    def upper_bound(self):
        """Largest value (the largest power when base is set)."""
        return self.powers[-1] if self.base is not None else self.high

    def sample(self, rng):
        """Draw like Optuna's RandomSampler (log: uniform in log(low-0.5)..log(high+0.5))."""
        if self.base is not None:
            return self.powers[randint(rng, 0, len(self.powers) - 1)]
        if self.log:
            # widen by half a unit each side so that rounding gives the ends a fair share
            log_value = rng.uniform(math.log(self.low - 0.5), math.log(self.high + 0.5))
            return int(min(max(round(math.exp(log_value)), self.low), self.high))
        step = self.step or 1
        return self.low + step * randint(rng, 0, (self.high - self.low) // step)

    def suggest(self, trial):
        """suggest_int, or suggest_categorical over the powers when base is set."""
        if self.base is not None:
            return trial.suggest_categorical(self.name, self.powers)
        return trial.suggest_int(self.name, low=self.low, high=self.high, step=self.step or 1,
                                 log=self.log)


def encode_choice(value):
    """Raw (Optuna-storable) form of a choice: lists/tuples become '(128, 64)' strings."""
    value = to_python(value)
    if isinstance(value, list | tuple):
        items = tuple(to_python(item) for item in value)
        if not all(_is_storable(item) and item is not None for item in items):
            raise ValueError("tuple items must be numbers, strings or booleans")
        return repr(items), items
    if not _is_storable(value):
        raise ValueError("a choice must be None, a bool, a number, a string or a list")
    return value, value


def _yaml_able(value):
    """Tuples as lists, so that to_dict() output goes through yaml.safe_dump."""
    return list(value) if isinstance(value, tuple) else value


def _is_storable(value):
    """True for the scalar types Optuna's CategoricalDistribution stores."""
    if isinstance(value, float) and not math.isfinite(value):
        return False
    return value is None or isinstance(value, bool | int | float | str)


class CategoricalParam(Param):
    """A choice among values; lists (e.g. hidden_layer_sizes) are stored as strings."""

    kind = "categorical"
    keys = Param.keys | {"choices", "grid"}

    def __init__(self, name, spec, source):
        super().__init__(name, spec, source)
        choices = self.spec.get("choices")
        if not isinstance(choices, list) or not choices:
            raise self.error("choices must be a non-empty list", field="choices",
                             value=choices)
        self.choices, self._decoded = [], {}
        for choice in choices:
            raw, decoded = self._encode(choice, "choices")
            if any(raw == seen for seen in self.choices):  # note True == 1 in Optuna too
                raise self.error("duplicate choice", field="choices", value=choice)
            self.choices.append(raw)
            self._decoded[(type(raw), raw)] = decoded
        self.spec["choices"] = [_yaml_able(self._decoded[(type(c), c)]) for c in self.choices]
        self.grid = self._parse_grid()

    def _encode(self, value, field):
        """encode_choice with errors naming this parameter."""
        try:
            return encode_choice(value)
        except ValueError as exc:
            raise self.error(str(exc), field=field, value=value) from None

    def _parse_grid(self):
        """An optional subset of the choices used under grid search."""
        grid = self._grid_list()
        if grid is None:
            return None
        values = [self._encode(value, "grid")[0] for value in grid]
        self.spec["grid"] = [_yaml_able(self._encode(value, "grid")[1]) for value in grid]
        for value in values:
            if not self.contains(value):
                raise self.error("grid value is not one of the choices", field="grid",
                                 value=value, allowed=", ".join(map(str, self.choices)))
        return values

    def contains(self, value):
        """True if value is one of the raw choices (same type, so True is not 1)."""
        return (type(value), value) in self._decoded

    def raw_values(self):
        """The raw choices."""
        return list(self.choices)

    def grid_values(self):
        """The grid subset, or every choice."""
        return list(self.grid if self.grid is not None else self.choices)

    def decode(self, raw):
        """The estimator value of a raw choice (tuples for encoded lists)."""
        if not self.contains(raw):
            raise self.error("value is not one of the choices", value=raw,
                             allowed=", ".join(map(str, self.choices)))
        return self._decoded[(type(raw), raw)]

    def upper_bound(self):
        """Largest numeric choice."""
        numbers = [c for c in self.choices if _is_number(c)]
        if not numbers:
            raise self.error("upper_bound needs a numeric parameter")
        return max(numbers)

    def sample(self, rng):
        """A uniformly drawn choice."""
        return self.choices[randint(rng, 0, len(self.choices) - 1)]

    def suggest(self, trial):
        """suggest_categorical over the raw choices."""
        return trial.suggest_categorical(self.name, self.choices)

    def describe(self):
        """Summary listing the choices."""
        return f"categorical {self.choices}{self.when_text()}"


class FixedParam(Param):
    """A constant set by ``resolve`` (when its condition holds); never tuned."""

    kind = "fixed"
    keys = Param.keys | {"value"}
    tunable = False

    def __init__(self, name, spec, source):
        super().__init__(name, spec, source)
        if "value" not in self.spec:
            raise self.error("missing required key 'value'", field="value")
        value = to_python(self.spec["value"])
        is_list = isinstance(value, list | tuple)
        self.value = tuple(to_python(v) for v in value) if is_list else value
        self.raw = repr(self.value) if is_list else value
        self.spec["value"] = list(self.value) if is_list else value

    def raw_values(self):
        """The single value, as conditions see it."""
        return [self.raw]

    def decode(self, raw):
        """The constant (lists as tuples)."""
        return self.value

    def upper_bound(self):
        """The value itself, if numeric."""
        if not _is_number(self.value):
            raise self.error("upper_bound needs a numeric parameter", value=self.value)
        return self.value

    def describe(self):
        """Summary with the value."""
        return f"fixed {self.value!r}{self.when_text()}"


KINDS = {cls.kind: cls for cls in (FloatParam, IntParam, CategoricalParam, FixedParam)}


def make_param(name, spec, source):
    """Build the parameter object of one spec (a mapping with ``type``)."""
    if isinstance(spec, np.ndarray | list | tuple):
        spec = {"type": "categorical", "choices": list(spec)}
    if not isinstance(spec, dict):
        raise SearchSpaceError("a parameter spec must be a mapping with 'type' (or a list "
                               "of choices)", source=source, key=name, value=spec)
    kind = spec.get("type")
    if kind not in KINDS:
        if kind is None:
            raise SearchSpaceError("missing 'type'", source=source, key=f"{name}.type",
                                   allowed=", ".join(KINDS))
        raise SearchSpaceError(f"unknown kind{did_you_mean(kind, KINDS)}", source=source,
                               key=f"{name}.type", value=kind, allowed=", ".join(KINDS))
    return KINDS[kind](str(name), spec, source)


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
