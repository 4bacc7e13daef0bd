"""GridSearch, RandomSearch and OptunaSearch: each only picks a sampler and a trial plan.

Every driver is one Optuna study (direction ``maximize``: scikit-learn scorers are
greater-is-better), so resuming, several worker processes and pruning work the
same for all three. See :class:`~tuner.search.base.BaseSearch` for ``fit``.
"""

from __future__ import annotations

import copy
import numbers

import optuna

from tuner.errors import ConfigError
from tuner.search.base import BaseSearch, init_signature
from tuner.search.trials import GRID_ATTR

#: Trials of a random or Optuna study when ``n_trials`` is not given: the drivers'
#: default, and the default of ``driver.n_trials`` in experiment files.
DEFAULT_N_TRIALS = 10

_COMMON = """
    estimator : estimator
        Any scikit-learn estimator. When it (or a Pipeline's final step) is an
        MLP (tuner's or scikit-learn's), or has ``partial_fit`` and a ``budget``
        or ``pruner`` is set, trials train one epoch per ``partial_fit`` call on
        all CV folds in lockstep and can be pruned after every epoch; otherwise
        each fold is fitted once (see ``incremental``).
    space : SearchSpace, str, pathlib.Path, dict or list of dict
        The search space: a SearchSpace, a YAML file, our space dict, or a
        scikit-learn ``param_grid`` / ``param_distributions``
        (``SearchSpace.load``). Pipeline parameters use ``step__name`` keys.
    scoring : str, callable, list, tuple or dict, default=None
        As in scikit-learn; several metrics give ``mean_test_<metric>`` keys.
    cv : int, CV splitter or iterable, default=5
        As in scikit-learn (``check_cv``; stratified for classifiers).
    n_jobs : int, default=1
        Worker processes sharing the study (-1: all cores). Each pins BLAS to
        one thread.
    refit : bool, str or callable, default=True
        Refit the best complete trial on all data (a metric name with several
        metrics; a callable returns the best index from ``cv_results_``).
    error_score : "raise" or float, default=np.nan
        Score recorded for failed trials (their reason goes to
        ``cv_results_["fail_reason"]``); "raise" re-raises the error.
    return_train_score : bool, default=False
        Also score the training folds (at the last epoch).
    pruner : None, {"median", "halving", "hyperband"} or optuna pruner, default=None
        Stops unpromising trials early. Hyperband's ``max_resource`` is the
        largest number of steps a trial reports: epochs (largest ``max_iter`` of
        the space, or the epochs budget), the updates budget, or epochs x fold
        size for ``resource="samples"``.
    storage : None, str, pathlib.Path or optuna storage, default=None
        Where the study lives: in memory (a temporary journal file when
        ``n_jobs > 1``), a journal file path, or a database URL.
    study_name : str, default=None
        With ``storage``, an existing study of that name is resumed and its
        trials count towards the budget. Default: ``<driver>-<timestamp>-<id>``.
    random_state : int, RandomState instance or None, default=None
        Seeds the sampler(s) (one derived seed per worker) and any unset
        ``random_state`` parameter of the estimator, so ``n_jobs=1`` runs are
        reproducible.
    callbacks : sequence of objects, default=()
        Objects with ``on_study_start``, ``on_epoch``, ``on_trial_end``,
        ``on_progress`` and/or ``on_study_end`` (:mod:`tuner.search.callbacks`).
    verbose : int, default=0
        0: quiet; 1: one line per trial; 2: also Optuna's own log.
    budget : None or dict, default=None
        Training budget per trial: None (``max_iter`` epochs), ``{"epochs": N}``,
        ``{"updates": N}`` (train until ``n_updates_ >= N``, whatever the batch
        size) or ``{"seconds": S}`` (stop after the epoch that crosses S seconds
        of fit time, at most ``max_iter`` epochs).
    resource : {"epochs", "updates", "samples"}, default="epochs"
        The step reported to the pruner, so that e.g. Hyperband compares small
        and large batches on equal weight updates.
    study_budget : None or dict, default=None
        Budget of the whole study in the same units (epochs and updates per fold,
        fit seconds summed over folds): no trial starts once the finished trials
        have used it (``n_trials`` and ``timeout`` still cap the study).
    incremental : "auto" or bool, default="auto"
        Which estimators train epoch by epoch: "auto" only MLPs, unless
        ``budget`` or ``pruner`` is set (they count epochs: then as True); True
        any estimator with ``partial_fit`` (one call = one epoch, so ``max_iter``
        epochs, budgets and pruning apply); False none (each fold fitted once)."""

_ATTRIBUTES = """
    Attributes
    ----------
    cv_results_ : dict of numpy arrays
        scikit-learn's keys plus ``state``, ``n_epochs``, ``trial_number``,
        ``base_params``, ``n_updates``, ``n_samples_seen``, ``fail_reason``.
    best_estimator_ : estimator
        The best parameters refitted on all data (``refit=True``).
    best_score_ : float
        Mean CV score of the best complete trial.
    best_params_ : dict
        Its estimator parameters.
    best_index_ : int
        Its row in ``cv_results_``.
    scorer_ : callable or dict
    n_splits_ : int
    refit_time_ : float
    multimetric_ : bool
    study_ : optuna.Study
        The study (an in-memory copy when its storage was temporary)."""


def _check_n_trials(n_trials, space):
    """A positive integer number of trials (and a space that can be sampled), or ConfigError."""
    if space.grid_only:
        raise ConfigError("a list of param grids can only be searched by GridSearch",
                          key="space", value="list of grids",
                          allowed="GridSearch, or one dict of lists / distributions")
    if isinstance(n_trials, bool) or not isinstance(n_trials, numbers.Integral) or n_trials < 1:
        raise ConfigError("n_trials must be a positive integer", key="n_trials",
                          value=n_trials, allowed="int >= 1")
    return int(n_trials)


def _trials_given(search):
    """``n_trials``, or scikit-learn's ``n_iter`` when that is given instead."""
    if search.n_iter is None:
        return search.n_trials
    if search.n_trials != DEFAULT_N_TRIALS:
        raise ConfigError("give n_trials or its scikit-learn alias n_iter, not both",
                          key="n_iter", value=search.n_iter)
    return search.n_iter


class GridSearch(BaseSearch):
    __doc__ = f"""Evaluate every point of the space's grid exactly once.

    Every grid point is enqueued once in the study (``skip_if_exists``), and the
    study's budget is the number of points, so each point runs exactly once, also
    with several workers or when resumed.

    Parameters
    ----------{_COMMON}
    param_grid : dict or list of dict, default=None
        scikit-learn's name for ``space`` (give one of the two), so that
        ``GridSearchCV(estimator, param_grid=...)`` code runs unchanged.
{_ATTRIBUTES}

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.linear_model import LogisticRegression
    >>> X, y = load_iris(return_X_y=True)
    >>> search = GridSearch(LogisticRegression(max_iter=500), {{"C": [0.1, 1.0]}}, cv=3)
    >>> search.fit(X, y).cv_results_["state"].tolist()
    ['complete', 'complete']
    """

    _space_alias = "param_grid"

    def __init__(self, estimator, space=None, *, param_grid=None, **options):
        super().__init__(estimator, space, **options)
        self.param_grid = param_grid

    __init__.__signature__ = init_signature(__init__)

    def _make_sampler(self, seed):
        """Only enqueued grid points run, so any sampler works; RandomSampler is the cheapest."""
        return optuna.samplers.RandomSampler(seed=seed)

    def _plan(self, study, space):
        """Enqueue every grid point once; the budget is the number of points."""
        points = space.grid()
        for point in points:
            study.enqueue_trial(point, user_attrs={GRID_ATTR: point}, skip_if_exists=True)
        return len(points)


#: sampler name -> (factory(seed), extra package it needs)
SAMPLERS = {
    "tpe": (lambda seed: optuna.samplers.TPESampler(seed=seed), None),
    "gp": (lambda seed: optuna.samplers.GPSampler(seed=seed), "torch"),
    "cmaes": (lambda seed: optuna.samplers.CmaEsSampler(seed=seed, warn_independent_sampling=False),
              "cmaes"),
    "qmc": (lambda seed: optuna.samplers.QMCSampler(seed=seed), None),
    "random": (lambda seed: optuna.samplers.RandomSampler(seed=seed), None),
}


def make_sampler(sampler, seed):
    """An Optuna sampler from a name in :data:`SAMPLERS` or a sampler object.

    Examples
    --------
    >>> type(make_sampler("tpe", seed=0)).__name__
    'TPESampler'
    """
    if isinstance(sampler, optuna.samplers.BaseSampler):
        return sampler
    if sampler not in SAMPLERS:
        raise ConfigError("unknown sampler", key="sampler", value=sampler,
                          allowed=", ".join(SAMPLERS) + " or an optuna sampler")
    factory, package = SAMPLERS[sampler]
    if package is not None:
        import importlib.util

        if importlib.util.find_spec(package) is None:
            raise ConfigError(f"sampler {sampler!r} needs the {package!r} package",
                              key="sampler", value=sampler, allowed=f"pip install {package}")
    return factory(seed)


#: Parameters of the drivers that sample (the study budget and its scikit-learn aliases).
_TRIALS = """    n_trials : int, default=DEFAULT_N_TRIALS (10)
        Total trials of the study (trials already in ``storage`` count).
    timeout : float, default=None
        Stop starting new trials after this many seconds.
    param_distributions : dict, default=None
        scikit-learn's name for ``space`` (give one of the two).
    n_iter : int, default=None
        scikit-learn's name for ``n_trials`` (RandomizedSearchCV); when given
        it is the budget, and ``n_trials`` must be left at its default."""


class OptunaSearch(BaseSearch):
    __doc__ = f"""Model-based search with an Optuna sampler (TPE by default).

    Parameters
    ----------{_COMMON}
{_TRIALS}
    sampler : {{"tpe", "gp", "cmaes", "qmc", "random"}} or optuna sampler, default="tpe"
        TPE is multivariate with constant liar (Optuna 5 defaults); "gp" needs
        torch and "cmaes" the cmaes package. A sampler object is used as is
        (with several workers each gets a copy, reseeded).
{_ATTRIBUTES}

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.linear_model import SGDClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> space = {{"parameters": {{"alpha": {{"type": "float", "low": 1e-5, "high": 1e-1,
    ...                                      "log": True}}}}}}
    >>> search = OptunaSearch(SGDClassifier(max_iter=5), space, n_trials=4, cv=3,
    ...                       pruner="median", random_state=0).fit(X, y)
    >>> sorted(search.best_params_)
    ['alpha']
    """

    _space_alias = "param_distributions"

    def __init__(self, estimator, space=None, *, n_trials=DEFAULT_N_TRIALS, timeout=None,
                 sampler="tpe", param_distributions=None, n_iter=None, **options):
        super().__init__(estimator, space, **options)
        self.n_trials, self.timeout, self.sampler = n_trials, timeout, sampler
        self.param_distributions, self.n_iter = param_distributions, n_iter

    __init__.__signature__ = init_signature(__init__)

    def _make_sampler(self, seed):
        """The chosen sampler, seeded per worker."""
        sampler = make_sampler(self.sampler, seed)
        if sampler is self.sampler and self.n_jobs != 1:
            # each worker gets its own copy, reseeded so they do not propose the same points
            sampler = copy.deepcopy(sampler)
            sampler.reseed_rng()
        return sampler

    def _plan(self, study, space):
        """The budget is ``n_trials`` (the study's total)."""
        return _check_n_trials(_trials_given(self), space)


class RandomSearch(OptunaSearch):
    __doc__ = f"""Sample ``n_trials`` points at random (Optuna's RandomSampler).

    Parameters
    ----------{_COMMON}
{_TRIALS}
{_ATTRIBUTES}

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.linear_model import SGDClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> search = RandomSearch(SGDClassifier(max_iter=5), {{"alpha": [1e-4, 1e-3, 1e-2]}},
    ...                       n_trials=3, cv=3, random_state=0)
    >>> len(search.fit(X, y).cv_results_["params"])
    3
    """

    sampler = "random"  # fixed, not a parameter: RandomSearch is OptunaSearch(sampler="random")

    def __init__(self, estimator, space=None, *, n_trials=DEFAULT_N_TRIALS, timeout=None,
                 param_distributions=None, n_iter=None, **options):
        BaseSearch.__init__(self, estimator, space, **options)
        self.n_trials, self.timeout = n_trials, timeout
        self.param_distributions, self.n_iter = param_distributions, n_iter

    __init__.__signature__ = init_signature(__init__)
