"""Numeric parameter kinds: float and int ranges, powers of a base, derived ``scale_with``.

A range is ``[low, high]``, optionally ``log`` or on a ``step`` lattice; its grid
is ``grid:`` or ``n_points`` values spread over it. An int with ``base: 2``
takes the powers of two inside the range. A float with ``scale_with:
batch_size`` is derived: ``resolve`` returns ``base * B / reference`` (``rule:
linear``) or ``base * sqrt(B / reference)`` (``rule: sqrt``), where B is the
batch size :func:`tuner.nn.training.resolve_batch_size` trains with.

Examples
--------
>>> IntParam("batch_size", {"type": "int", "low": 16, "high": 64, "base": 2}, "<dict>").powers
[16, 32, 64]
"""

import contextlib
import math
import numbers

import numpy as np

from tuner.errors import did_you_mean
from tuner.nn.training import resolve_batch_size
from tuner.spaces.params import MAX_VALUES, Param, is_number, randint

DEFAULT_N_POINTS = 3
INT64_MAX = 2**63 - 1
RULES = ("linear", "sqrt")
DEFAULT_REFERENCE = 256
_LATTICE_TOL = 1e-8  # the tolerance Optuna's FloatDistribution uses for `step`


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
        if (isinstance(n_points, bool) or not isinstance(n_points, int)
                or not 1 <= n_points <= MAX_VALUES):
            raise self.error(f"n_points must be an integer from 1 to {MAX_VALUES}",
                             field="n_points", value=n_points)
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
        if self.step > self.high - self.low > 0:
            raise self.error("step larger than the range", field="step", value=self.step,
                             allowed=f"at most high - low ({self.high - self.low})")
        if not self._on_lattice(self.high):
            raise self.error("high must equal low + k * step", field="high", value=self.high,
                             allowed=f"low={self.low}, step={self.step}")

    def _on_lattice(self, value):
        """True if value is low + k * step (k an integer) within Optuna's tolerance."""
        k = (value - self.low) / self.step
        return abs(k - round(k)) < _LATTICE_TOL

    def contains(self, value):
        """True if Optuna's distribution used by `suggest` contains value."""
        if not is_number(value) or not self.low <= value <= self.high:
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
            values.append(value)
        values = list(dict.fromkeys(values))  # de-duplicated, in order, linear
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
        return list(dict.fromkeys(self._snap(float(value)) for value in raw))

    def upper_bound(self):
        """Largest value the parameter can take."""
        return self.high

    def describe(self):
        """One-line summary, e.g. 'float [0.0001, 0.1] log'."""
        return f"{self.kind} {self._range_text()}{self.when_text()}"


class FloatParam(RangeParam):
    """A real-valued parameter: uniform, log-uniform or on a step lattice.

    Parameters are those of :class:`~tuner.spaces.params.Param`.

    Examples
    --------
    >>> lr = FloatParam("lr", {"type": "float", "low": 1e-3, "high": 0.1, "log": True,
    ...                        "scale_with": "batch_size"}, "<dict>")
    >>> lr.grid_values(), lr.scale(0.1, "auto", 1000)
    ([0.001, 0.01, 0.1], 0.078125)
    """

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
        if not is_number(value) or not math.isfinite(value):
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
        if not is_number(reference) or reference <= 0:
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
        ratio = self._batch_size(batch_size, n_samples) / self.reference
        return base_value * (ratio if self.rule == "linear" else math.sqrt(ratio))

    def _batch_size(self, batch_size, n_samples):
        """B of the scaling rule: the batch size training uses (ints as given without n)."""
        if batch_size is None:
            raise self.error(f"derived value needs {self.scale_with!r}, absent from the point",
                             field="scale_with")
        if isinstance(batch_size, str):
            if batch_size not in ("full", "auto"):
                raise self.error(f"cannot scale with {self.scale_with}={batch_size!r}",
                                 field="scale_with", allowed="an int, 'full' or 'auto'")
            if n_samples is None:
                raise self.error(f"{self.scale_with}={batch_size!r} needs the number of "
                                 "training samples: call resolve(raw, n_samples=...)",
                                 field="scale_with")
        elif n_samples is None:
            return batch_size
        return resolve_batch_size(batch_size, n_samples)

    def describe(self):
        """Summary including the scaling rule."""
        text = super().describe()
        if self.scale_with:
            text += f", x {self.rule}({self.scale_with}/{self.reference})"
        return text


class IntParam(RangeParam):
    """An integer parameter; with ``base: b`` it takes the powers of b in [low, high].

    Powers of two are suggested with ``suggest_categorical`` over the ascending
    powers (see :mod:`tuner.spaces` for why): the stored value is the batch size itself.
    Parameters are those of :class:`~tuner.spaces.params.Param`.

    Examples
    --------
    >>> IntParam("max_iter", {"type": "int", "low": 5, "high": 25}, "<dict>").grid_values()
    [5, 15, 25]
    """

    kind = "int"
    keys = RangeParam.keys | {"base"}

    def __init__(self, name, spec, source):
        super().__init__(name, spec, source)
        self.base = self._parse_base()
        self.grid = self._parse_grid()

    def _coerce(self, value, field):
        """Accept integers (and integral floats such as 1e3 from YAML)."""
        integral = is_number(value) and (isinstance(value, numbers.Integral) or (
            math.isfinite(value) and float(value).is_integer()))
        if not integral:
            raise self.error(f"{field} must be an integer", field=field, value=value)
        if abs(int(value)) > INT64_MAX:
            raise self.error(f"{field} must fit a 64-bit integer", field=field, value=value,
                             allowed=f"-{INT64_MAX} to {INT64_MAX}")
        return int(value)

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
            return is_number(value) and value in self.powers
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
