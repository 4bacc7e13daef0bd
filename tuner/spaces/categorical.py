"""Categorical and fixed parameter kinds, and the raw encoding of choices.

Choices are stored raw, as Optuna stores them (None, bool, int, float, str); a
list choice such as ``hidden_layer_sizes: [128, 64]`` is stored as the string
``"(128, 64)"`` and decoded to the tuple by looking it up among the choices.

Examples
--------
>>> encode_choice([128, 64])
('(128, 64)', (128, 64))
"""

import math

from tuner.spaces.params import MAX_VALUES, Param, is_number, randint, to_python


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
    """A choice among values; lists (e.g. hidden_layer_sizes) are stored as strings.

    Parameters are those of :class:`~tuner.spaces.params.Param`.

    Examples
    --------
    >>> sizes = CategoricalParam("hidden_layer_sizes", {"type": "categorical",
    ...                                                 "choices": [[64], [128, 64]]}, "<dict>")
    >>> sizes.grid_values(), sizes.decode("(128, 64)")
    (['(64,)', '(128, 64)'], (128, 64))
    """

    kind = "categorical"
    keys = Param.keys | {"choices", "grid"}

    def __init__(self, name, spec, source):
        super().__init__(name, spec, source)
        choices = self.spec.get("choices")
        if not isinstance(choices, list) or not choices:
            raise self.error("choices must be a non-empty list", field="choices",
                             value=choices)
        if len(choices) > MAX_VALUES:
            raise self.error("too many choices", field="choices", value=len(choices),
                             allowed=f"at most {MAX_VALUES}")
        self.choices, self._decoded, seen = [], {}, set()
        for choice in choices:
            raw, decoded = self._encode(choice, "choices")
            if raw in seen:  # note True == 1 (equal hashes) in Optuna too
                raise self.error("duplicate choice", field="choices", value=choice)
            seen.add(raw)
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
        numbers = [c for c in self.choices if is_number(c)]
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
    """A constant set by ``resolve`` (when its condition holds); never tuned.

    Parameters are those of :class:`~tuner.spaces.params.Param`.

    Examples
    --------
    >>> FixedParam("alpha", {"type": "fixed", "value": 1e-4}, "<dict>").decode(None)
    0.0001
    """

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
        if not is_number(self.value):
            raise self.error("upper_bound needs a numeric parameter", value=self.value)
        return self.value

    def describe(self):
        """Summary with the value."""
        return f"fixed {self.value!r}{self.when_text()}"
