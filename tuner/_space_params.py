"""Parameter kinds of a search space (private helpers of :mod:`tuner.spaces`).

Each kind parses and validates one parameter spec, lists its grid values,
draws a value with numpy and asks an Optuna trial for one. Values produced
here are *raw*: what Optuna stores (None, bool, int, float or str).
"""

import contextlib
import difflib
import math
import numbers

import numpy as np

from tuner.errors import SearchSpaceError

DEFAULT_N_POINTS = 3
RULES = ("linear", "sqrt")
DEFAULT_REFERENCE = 256
AUTO_BATCH_SIZE = 200  # the estimators' batch_size="auto" means min(200, n_samples)
_LATTICE_TOL = 1e-8  # the tolerance Optuna's FloatDistribution uses for `step`


def did_you_mean(word, options):
    """Return ' (did you mean X?)' for the closest option, or ''."""
    close = difflib.get_close_matches(str(word), [str(o) for o in options], n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def to_python(value):
    """Turn numpy scalars and arrays into plain Python values."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    return value.item() if isinstance(value, np.generic) else value


def _is_number(value):
    """True for int/float values that are not bools."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


class Param:
    """Base of the parameter kinds: name, spec, condition and error helper."""

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


class RangeParam(Param):
    """Shared logic of numeric ranges: bounds, log, step, grid, n_points."""

    keys = Param.keys | {"low", "high", "log", "step", "grid", "n_points"}

    def __init__(self, name, spec, source):
        super().__init__(name, spec, source)
        self.low, self.high = self._bound("low"), self._bound("high")
        self.log = self._flag("log")
        self.step = self._bound("step") if self.spec.get("step") is not None else None
        self.n_points = self._n_points()
        self._check_range()

    def _coerce(self, value, field):
        """Convert a spec value to this kind's number type or raise."""
        raise NotImplementedError

    def _bound(self, field):
        """A required numeric field of the spec."""
        if field not in self.spec:
            raise self.error(f"missing required key {field!r}", field=field)
        self.spec[field] = self._coerce(self.spec[field], field)
        return self.spec[field]

    def _flag(self, field):
        """An optional boolean field (default False)."""
        value = self.spec.get(field, False)
        if not isinstance(value, bool):
            raise self.error(f"{field} must be true or false", field=field, value=value)
        return value

    def _n_points(self):
        """Number of grid points when no explicit grid is given."""
        n_points = self.spec.get("n_points", DEFAULT_N_POINTS)
        if isinstance(n_points, bool) or not isinstance(n_points, int) or n_points < 1:
            raise self.error("n_points must be an integer >= 1", field="n_points",
                             value=n_points)
        return n_points

    def _check_range(self):
        """Apply the rules Optuna's distributions enforce, with our messages."""
        if self.low > self.high:
            raise self.error("low must not exceed high", field="low", value=self.low,
                             allowed=f"<= high ({self.high})")
        if self.log and self.low <= 0:
            raise self.error("log scale needs low > 0", field="low", value=self.low)
        if self.step is None:
            return
        if self.log:
            raise self.error("step cannot be combined with log: true", field="step",
                             value=self.step)
        if self.step <= 0:
            raise self.error("step must be positive", field="step", value=self.step)
        if not self._on_lattice(self.high):
            raise self.error("high must equal low + k * step", field="high", value=self.high,
                             allowed=f"low={self.low}, step={self.step}")

    def _on_lattice(self, value):
        """True if value is low + k * step (k an integer) within Optuna's tolerance."""
        k = (value - self.low) / self.step
        return abs(k - round(k)) < _LATTICE_TOL

    def contains(self, value):
        """True if Optuna's distribution used by `suggest` contains value."""
        if not _is_number(value) or not self.low <= value <= self.high:
            return False
        return self.step is None or self._on_lattice(value)

    def _parse_grid(self):
        """Explicit grid values, validated to lie inside the distribution."""
        grid = self._grid_list()
        if grid is None:
            return None
        values = []
        for value in grid:
            value = self._coerce(value, "grid")
            if not self.contains(value):
                raise self.error("grid value outside the range", field="grid", value=value,
                                 allowed=self._range_text())
            if value not in values:
                values.append(value)
        self.spec["grid"] = values
        return values

    def _range_text(self):
        """Human text of the range, e.g. '[16, 512] powers of 2'."""
        text = f"[{self.low}, {self.high}]"
        if self.log:
            text += " log"
        if self.step is not None:
            text += f" step {self.step}"
        return text

    def grid_values(self):
        """Explicit grid, or n_points spread over the range (log-spaced when log)."""
        if self.grid is not None:
            return list(self.grid)
        if self.n_points == 1:
            # a single point: the (geometric when log) midpoint of the range
            mid = math.sqrt(self.low * self.high) if self.log else (self.low + self.high) / 2
            return [self._snap(mid)]
        space = np.geomspace if self.log else np.linspace
        raw = space(self.low, self.high, self.n_points)
        values = []
        for value in raw:
            value = self._snap(float(value))
            if value not in values:
                values.append(value)
        return values

    def upper_bound(self):
        """Largest value the parameter can take."""
        return self.high

    def describe(self):
        """One-line summary, e.g. 'float [0.0001, 0.1] log'."""
        return f"{self.kind} {self._range_text()}{self.when_text()}"


class FloatParam(RangeParam):
    """A real-valued parameter: uniform, log-uniform or on a step lattice."""

    kind = "float"
    keys = RangeParam.keys | {"scale_with", "rule", "reference"}

    def __init__(self, name, spec, source):
        super().__init__(name, spec, source)
        self.grid = self._parse_grid()
        self.scale_with, self.rule, self.reference = self._parse_derived()

    def _coerce(self, value, field):
        """Accept int, float or a numeric string such as '1e-4' (YAML 1.1 quirk)."""
        if isinstance(value, str):
            with contextlib.suppress(ValueError):
                value = float(value)
        if not _is_number(value) or not math.isfinite(value):
            raise self.error(f"{field} must be a finite number", field=field, value=value)
        return float(value)

    def _parse_derived(self):
        """The optional batch-size scaling rule (scale_with, rule, reference)."""
        target = self.spec.get("scale_with")
        if target is None:
            for key in ("rule", "reference"):
                if key in self.spec:
                    raise self.error(f"{key!r} needs 'scale_with'", field=key)
            return None, None, None
        rule = self.spec.get("rule", "linear")
        if rule not in RULES:
            raise self.error(f"unknown rule{did_you_mean(rule, RULES)}", field="rule",
                             value=rule, allowed=", ".join(RULES))
        reference = self.spec.get("reference", DEFAULT_REFERENCE)
        if not _is_number(reference) or reference <= 0:
            raise self.error("reference must be a positive number", field="reference",
                             value=reference)
        return str(target), rule, reference

    def _snap(self, value):
        """Put a computed grid value on the step lattice and round it for readability."""
        if self.step is not None:
            value = self.low + round((value - self.low) / self.step) * self.step
            return float(f"{value:.12g}")
        if value in (self.low, self.high):
            return value
        return min(max(float(f"{value:.6g}"), self.low), self.high)

    def sample(self, rng):
        """Draw like Optuna's RandomSampler: uniform, log-uniform or a lattice point."""
        if self.step is not None:
            k = randint(rng, 0, round((self.high - self.low) / self.step))
            return self._snap(self.low + k * self.step)
        if self.log:
            return float(math.exp(rng.uniform(math.log(self.low), math.log(self.high))))
        return float(rng.uniform(self.low, self.high))

    def suggest(self, trial):
        """Ask the trial with suggest_float (keyword arguments)."""
        return trial.suggest_float(self.name, low=self.low, high=self.high, log=self.log,
                                   step=self.step)

    def scale(self, base_value, batch_size, n_samples):
        """Effective value: base * (B / reference) (linear) or * sqrt(B / reference)."""
        ratio = effective_batch_size(self, batch_size, n_samples) / self.reference
        return base_value * (ratio if self.rule == "linear" else math.sqrt(ratio))

    def describe(self):
        """Summary including the scaling rule."""
        text = super().describe()
        if self.scale_with:
            text += f", x {self.rule}({self.scale_with}/{self.reference})"
        return text


def effective_batch_size(param, batch_size, n_samples):
    """The batch size actually used: 'full' is n, 'auto' is min(200, n), ints clip to n."""
    if batch_size is None:
        raise param.error(f"derived value needs {param.scale_with!r}, absent from the point",
                          field="scale_with")
    if isinstance(batch_size, str):
        if batch_size not in ("full", "auto"):
            raise param.error(f"cannot scale with {param.scale_with}={batch_size!r}",
                              field="scale_with", allowed="an int, 'full' or 'auto'")
        if n_samples is None:
            raise param.error(f"{param.scale_with}={batch_size!r} needs the number of "
                              "training samples: call resolve(raw, n_samples=...)",
                              field="scale_with")
        return n_samples if batch_size == "full" else min(AUTO_BATCH_SIZE, n_samples)
    return batch_size if n_samples is None else min(batch_size, n_samples)


def randint(rng, low, high):
    """Uniform integer in [low, high] from a numpy Generator or RandomState."""
    if hasattr(rng, "integers"):
        return int(rng.integers(low, high + 1))
    return int(rng.randint(low, high + 1))
