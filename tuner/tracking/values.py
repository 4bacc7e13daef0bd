"""How values are written to MLflow: bounded strings, finite numbers, flat names.

Examples
--------
>>> param_str(0.001), number(float("nan")), flatten({"a": {"b": 1}})
('0.001', None, {'a.b': 1})
"""

import math
import time

MAX_VALUE = 6000  # MLflow's limit on a param value (characters)


def now_ms():
    """Current time in milliseconds since the epoch (MLflow's timestamps)."""
    return int(time.time() * 1000)

def plain(value):
    """Turn numpy scalars into Python ones (so 0.001 logs as '0.001', not 'np.float64(...)')."""
    return value.item() if hasattr(value, "item") and getattr(value, "ndim", 1) == 0 else value

def param_str(value):
    """Render a parameter value as MLflow stores it: a string of bounded length."""
    value = plain(value)
    text = value if isinstance(value, str) else repr(value)
    return text[:MAX_VALUE]

def number(value):
    """Return ``value`` as a finite float, or None when it is missing or not finite."""
    value = plain(value)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None

def flatten(mapping, prefix=""):
    """Flatten nested dicts into ``{"a.b": value}`` (MLflow params are flat)."""
    flat = {}
    for key, value in mapping.items():
        if isinstance(value, dict):
            flat.update(flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat

def plain_names(params):
    """Params without Pipeline step prefixes (``mlp__batch_size`` -> ``batch_size``) when
    that makes no two names equal: the UI's columns then read like the search space."""
    plain = {k.rsplit("__", 1)[-1]: v for k, v in params.items()}
    return plain if len(plain) == len(params) else dict(params)

def metric_list(values, *, step=0):
    """``{name: number}`` -> list of MLflow ``Metric`` (non-finite values skipped)."""
    from mlflow.entities import Metric

    now = now_ms()
    return [Metric(k, n, now, step) for k, v in values.items() if (n := number(v)) is not None]
