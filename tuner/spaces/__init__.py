"""Search spaces: one YAML file (or dict) drives grid, random and Optuna search.

A space lists parameters by kind::

    description: free text
    parameters:
      learning_rate_init: {type: float, low: 1.0e-4, high: 0.1, log: true,
                           scale_with: batch_size, rule: sqrt, reference: 256}
      batch_size: {type: int, low: 16, high: 512, base: 2}     # powers of two
      max_iter: {type: int, low: 5, high: 100, grid: [10, 30, 100]}
      dropout: {type: float, low: 0.0, high: 0.5, n_points: 3}
      solver: {type: categorical, choices: [sgd, adam]}
      momentum: {type: float, low: 0.5, high: 0.99, when: {solver: sgd}}
      hidden_layer_sizes: {type: categorical, choices: [[64], [128, 64]]}
      alpha: {type: fixed, value: 1.0e-4}

Design decisions
----------------
* **Raw vs resolved.** ``suggest``, ``sample`` and ``grid`` return *raw* points:
  exactly what Optuna stores in ``trial.params`` (None/bool/int/float/str), so
  an enqueued grid point reproduces itself. ``resolve`` turns a raw point into
  estimator parameters: lists decoded to tuples, derived values applied, fixed
  values added.
* **Powers of two** (``base: 2``) are suggested with ``suggest_categorical``
  over the ascending powers. The stored value is the batch size itself (64 is
  shown as 64 in ``trial.params``, ``cv_results_`` and the MLflow UI) and every
  grid point enqueues exactly. A hidden exponent would show 6 instead of 64,
  and ``suggest_int(log=True)`` cannot be restricted to powers. TPE models a
  categorical by per-choice weights from the good trials, which for the
  handful of powers in a batch-size range (6 for 16..512) learns as fast as an
  ordinal model; samplers that rely on distances (CMA-ES, QMC) treat the
  parameter with their independent fallback sampler.
* **Grid discretisation.** A range without ``grid:`` gives ``n_points``
  values (default 3, ``DEFAULT_N_POINTS``) spread linearly, or geometrically
  when ``log: true``; integer values are rounded and de-duplicated, ``step``
  ranges stay on their lattice, ``base`` ranges give all the powers.
  ``grid:`` values must lie inside the distribution ``suggest`` uses.
* **Conditions.** ``when: {solver: sgd}`` or ``when: {solver: [sgd, rmsprop]}``
  (several keys must all hold; values are compared with the parent's raw
  values). A parameter whose condition fails is absent from the point; in the
  grid it multiplies only the branches where it holds.
* **Derived values** (no expressions): a float with ``scale_with: batch_size``
  is a base value at the ``reference`` batch size (default 256); ``resolve``
  returns ``base * B / reference`` (``rule: linear``, the default) or
  ``base * sqrt(B / reference)`` (``rule: sqrt``), where B is the effective
  batch size training uses (:func:`tuner.nn.training.resolve_batch_size`;
  ints are taken as given when n_samples is not).
* **Lists** (e.g. ``hidden_layer_sizes``) are stored as strings such as
  ``"(128, 64)"`` and decoded by looking them up among the choices.
* **sklearn input.** A ``param_grid`` / ``param_distributions`` mapping becomes
  categorical parameters (sorted like ``ParameterGrid``); scipy.stats
  ``loguniform``, ``uniform`` and ``randint`` become float-log, float and int
  ranges. A *list* of param grids is a union of sub-grids
  (:class:`SearchSpaceUnion`, ``grid_only``): ``grid()`` and ``resolve()``
  work, ``sample`` raises SearchSpaceError and ``suggest`` only records an
  enqueued grid point (a union has no single distribution per name).
* **Pipeline steps.** ``space.with_prefix("mlp")`` resolves to ``mlp__name``
  while raw points keep the plain names.
* A bare name such as ``"mlp_default"`` loads ``mlp_default.yaml`` from the
  first ``search_spaces/`` folder that has it: ``./search_spaces``, then the
  shipped one (``tuner/search_spaces/``, package data); experiment files also search their own
  folder's (:func:`tuner.spaces.files.find_space_file`, the one resolver).

Modules: ``space`` (SearchSpace: the protocol), ``union`` (a union of grids),
``params`` (the parameter base, ``when``, the kind registry), ``numeric``
(float, int, base 2, derived), ``categorical`` (choices, fixed), ``files``
(YAML, sklearn grids, the space-file resolver, shipped spaces).
"""

from tuner.spaces.files import available_spaces, find_space_file, list_spaces
from tuner.spaces.numeric import DEFAULT_N_POINTS
from tuner.spaces.space import DEFAULT_MAX_GRID_SIZE, SearchSpace
from tuner.spaces.union import SearchSpaceUnion

__all__ = ["DEFAULT_MAX_GRID_SIZE", "DEFAULT_N_POINTS", "SearchSpace", "SearchSpaceUnion",
           "available_spaces", "find_space_file", "list_spaces"]
