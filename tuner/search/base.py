"""BaseSearch: fit runs one Optuna study, then builds cv_results_, best_* and refits.

Drivers (:mod:`tuner.search.drivers`) only choose the sampler and how many trials
the study gets (``_make_sampler``, ``_plan``); everything else lives here or in
:mod:`~tuner.search.evaluate` (one trial), :mod:`~tuner.search.loop` (the trial
loop), :mod:`~tuner.search.workers` (processes), :mod:`~tuner.search.results`
(``cv_results_``) and :mod:`~tuner.search.storage`.
"""

from __future__ import annotations

import inspect
import math
import time
import uuid
from contextlib import contextmanager
from functools import partial
from numbers import Integral, Real

import numpy as np
import optuna
from joblib import effective_n_jobs
from sklearn.base import BaseEstimator, MetaEstimatorMixin, clone, is_classifier
from sklearn.metrics import check_scoring
from sklearn.model_selection import check_cv
from sklearn.utils import indexable
from sklearn.utils.multiclass import unique_labels

from tuner.errors import ConfigError
from tuner.search.budget import RESOURCES, check_budget, max_resource, resolve_pruner
from tuner.search.callbacks import CallbackList, TrialPrinter
from tuner.search.delegation import BestEstimatorDelegation
from tuner.search.evaluate import refit_incremental
from tuner.search.folds import check_incremental
from tuner.search.loop import join_study, wait_for_others
from tuner.search.results import build_cv_results
from tuner.search.seeds import worker_seeds
from tuner.search.sklearn_private import multimetric_scorers, n_samples, rows
from tuner.search.storage import resolve_storage
from tuner.search.task import TrialTask
from tuner.search.trials import FINISHED, jsonable, read_attrs
from tuner.search.workers import WorkerJob, run_in_process, run_workers


def load_space(space):
    """A SearchSpace from a SearchSpace, YAML path, dict or sklearn grid/distributions."""
    from tuner.spaces import SearchSpace

    return SearchSpace.load(space)


@contextmanager
def _optuna_verbosity(verbose):
    """Quiet Optuna (WARNING) during fit unless ``verbose >= 2``; restore afterwards."""
    previous = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.INFO if verbose >= 2 else optuna.logging.WARNING)
    try:
        yield
    finally:
        optuna.logging.set_verbosity(previous)


def init_signature(init):
    """The signature of a driver's ``__init__(self, estimator, space, *, <own>, **options)``
    with ``**options`` spelled out as :class:`BaseSearch`'s parameters.

    scikit-learn reads an estimator's parameters from its ``__init__`` signature
    (``get_params``, ``clone``), so a driver that passes the shared options on
    to ``BaseSearch.__init__`` declares them this way instead of repeating them.
    """
    own = [p for p in inspect.signature(init).parameters.values()
           if p.kind is inspect.Parameter.KEYWORD_ONLY]
    return inspect.signature(BaseSearch.__init__).replace(
        parameters=[*inspect.signature(BaseSearch.__init__).parameters.values(), *own])



def check_search_params(search):
    """``error_score`` must be 'raise' or a number, ``timeout`` None or seconds > 0.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> check_search_params(SimpleNamespace(error_score="x", timeout=None))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    tuner.errors.ConfigError: error_score: must be 'raise' or a number (got 'x'; ...)
    """
    error_score, timeout = search.error_score, getattr(search, "timeout", None)
    number = isinstance(error_score, Real) and not isinstance(error_score, bool)
    if not (number or (isinstance(error_score, str) and error_score == "raise")):
        raise ConfigError("must be 'raise' or a number", key="error_score", value=error_score,
                          allowed="'raise', or a number such as nan or 0")
    if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, Real)
                                or not 0 < timeout < math.inf):
        raise ConfigError("must be a positive number of seconds", key="timeout",
                          value=timeout, allowed="None, or a finite number > 0")


class BaseSearch(BestEstimatorDelegation, MetaEstimatorMixin, BaseEstimator):
    """Shared constructor and machinery of the drivers; not used directly.

    ``fit`` creates (or, with ``storage`` + ``study_name``, loads) one Optuna
    study, runs its trials with :func:`~tuner.search.evaluate.evaluate_trial`
    in this process or ``n_jobs`` worker processes, builds ``cv_results_``,
    selects the best complete trial and refits it on all data. The parameters
    are documented on the drivers (:mod:`tuner.search.drivers`).
    """

    def __init__(self, estimator, space=None, *, scoring=None, cv=5, n_jobs=1, refit=True,
                 error_score=np.nan, return_train_score=False, pruner=None, storage=None,
                 study_name=None, random_state=None, callbacks=(), verbose=0, budget=None,
                 resource="epochs", study_budget=None, incremental="auto"):
        self.estimator, self.space, self.scoring, self.cv = estimator, space, scoring, cv
        self.n_jobs, self.refit, self.error_score = n_jobs, refit, error_score
        self.return_train_score, self.pruner, self.storage = return_train_score, pruner, storage
        self.study_name, self.random_state, self.callbacks = study_name, random_state, callbacks
        self.verbose, self.budget, self.resource = verbose, budget, resource
        self.study_budget, self.incremental = study_budget, incremental

    def _make_sampler(self, seed):
        """The Optuna sampler of one worker (driver-specific)."""
        raise NotImplementedError

    def _plan(self, study, space):
        """Prepare the study (e.g. enqueue grid points); return its total trial budget."""
        raise NotImplementedError

    # ---- fit ---------------------------------------------------------------
    def fit(self, X, y=None, *, groups=None, stale_after=None):
        """Run the search, then refit the best parameters on all of ``X, y``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data.
        y : array-like of shape (n_samples,), optional
            Targets.
        groups : array-like of shape (n_samples,), optional
            Group labels for group-aware CV splitters.
        stale_after : float, optional
            Seconds after which a RUNNING trial of a worker on another machine
            is taken as lost (failed and retried once) when the study is joined;
            default never (trials of gone local processes are always recovered).

        Returns
        -------
        self
        """
        space = load_space(self._space_given())
        n_workers = max(1, effective_n_jobs(self.n_jobs))
        seeds = worker_seeds(self.random_state, n_workers)
        task = self._task(space, *indexable(X, y, groups), seed=seeds[0])
        with _optuna_verbosity(self.verbose), \
                resolve_storage(self.storage, n_workers=n_workers) as resolved:
            study = self._create_study(resolved.storage, space, task, seeds[1])
            first, n_trials = join_study(study, resolved.storage, n_workers,  # one at a time:
                                         partial(self._plan, study, space),  # grid enqueued,
                                         partial(task.callbacks.on_study_start, self, study),
                                         stale_after=stale_after)
            if first:  # a resumed study or a joining worker: fresh sampler streams
                seeds = worker_seeds(self.random_state, n_workers, first=first)
                study.sampler = self._make_sampler(seeds[1])
            self._run(study, task, resolved.storage, n_trials, seeds[1:])
            wait_for_others(study, resolved.storage, on_progress=task.callbacks.on_progress,
                            stale_after=stale_after)
            self.study_ = self._detach(study, resolved)
        try:
            self._collect(task)
            self._refit(task)
        except Exception as error:  # e.g. no trial completed: trackers close the study
            task.callbacks.on_study_error(self, self.study_, error)
            raise
        task.callbacks.on_study_end(self, self.study_)
        return self

    def _scorers(self):
        """``({metric: scorer}, multimetric)`` with scikit-learn's scoring rules."""
        if self.scoring is None or isinstance(self.scoring, str) or callable(self.scoring):
            return {"score": check_scoring(self.estimator, self.scoring)}, False
        scorers = multimetric_scorers(self.estimator, self.scoring)
        if self.refit is not False and not callable(self.refit) and self.refit not in scorers:
            raise ConfigError("with several metrics, refit must name one of them",
                              key="refit", value=self.refit,
                              allowed=f"False, a callable or one of {sorted(scorers)}")
        return scorers, True

    def _template(self, seed):
        """A clone of the estimator; unset ``random_state`` params get the search's seed."""
        template = clone(self.estimator)
        if seed is not None:
            fixed = {k: seed for k, v in template.get_params().items()
                     if (k == "random_state" or k.endswith("__random_state")) and v is None}
            template.set_params(**fixed)
        return template

    def _task(self, space, X, y, groups, *, seed=None):
        """Everything the trials need: data, CV splits, scorers, budget, callbacks."""
        check_search_params(self)
        scorers, self.multimetric_ = self._scorers()
        objective = self.refit if self.multimetric_ and isinstance(self.refit, str) \
            else next(iter(scorers))
        template = self._template(seed)
        cv = check_cv(self.cv, y, classifier=is_classifier(template))
        splits = list(cv.split(X, y, groups))
        self.n_splits_ = len(splits)
        if self.resource not in RESOURCES:
            raise ConfigError("unknown resource", key="resource", value=self.resource,
                              allowed=", ".join(RESOURCES))
        callbacks = list(self.callbacks or ()) + ([TrialPrinter()] if self.verbose else [])
        return TrialTask(
            estimator=template, X=X, y=y, space=space, splits=splits, scorers=scorers,
            objective=objective, error_score=self.error_score,
            classes=unique_labels(y) if is_classifier(template) else None,
            return_train_score=self.return_train_score, budget=check_budget(self.budget),
            study_budget=check_budget(self.study_budget, key="study_budget"),
            resource=self.resource, callbacks=CallbackList(callbacks),
            n_samples=round(np.mean([len(train) for train, _ in splits])),
            incremental=self._incremental(),
        )

    #: scikit-learn's name for ``space`` in this driver (GridSearchCV: param_grid)
    _space_alias = None

    def _space_given(self):
        """``space``, or its scikit-learn alias; exactly one of the two."""
        alias = getattr(self, self._space_alias, None) if self._space_alias else None
        if (self.space is None) == (alias is None):
            raise ConfigError("give exactly one of space and its scikit-learn alias",
                              key=f"space / {self._space_alias}",
                              allowed="a SearchSpace, YAML file, space dict or sklearn grid")
        return self.space if alias is None else alias

    def _incremental(self):
        """``incremental``, with "auto" made True when a budget or a pruner counts epochs."""
        incremental = check_incremental(self.incremental)
        if incremental == "auto" and (self.budget is not None or self.pruner is not None):
            return True
        return incremental

    def _create_study(self, storage, space, task, seed):
        """Create (or load, to resume) the study and describe it in its user attributes."""
        study = optuna.create_study(
            storage=storage, study_name=self.study_name or self._default_study_name(),
            direction="maximize", load_if_exists=True,
            sampler=self._make_sampler(seed),
            pruner=resolve_pruner(self.pruner, max_resource=max_resource(task, space)),
        )
        study.set_user_attr("driver", type(self).__name__)
        if callable(getattr(space, "to_dict", None)):
            study.set_user_attr("space", jsonable(space.to_dict()))
        study.set_user_attr("metrics", list(task.scorers))
        study.set_user_attr("objective", task.objective)
        study.set_user_attr("resource", task.resource)  # the pruner's step (plots read it)
        return study

    def _default_study_name(self):
        """A new name per search; fixed for a seeded search in a throwaway storage.

        Optuna's Hyperband assigns trials to brackets by hashing the study name, so
        a seeded search is only reproducible when its name is too.
        """
        kind = type(self).__name__.lower()
        if self.storage is None and isinstance(self.random_state, Integral):
            return f"{kind}-seed{self.random_state}"
        return f"{kind}-{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:6]}"

    def _run(self, study, task, storage, n_trials, seeds):
        """Run the remaining trials here (one worker) or in worker processes."""
        verbosity = optuna.logging.get_verbosity()

        def job(sampler):
            return WorkerJob(task=task, storage=storage, study_name=study.study_name,
                             sampler=sampler, pruner=study.pruner, n_trials=n_trials,
                             timeout=getattr(self, "timeout", None), verbosity=verbosity)

        if len(seeds) == 1:
            run_in_process(study, job(study.sampler))
        else:
            jobs = [job(self._make_sampler(seed)) for seed in seeds]
            run_workers(study, jobs, on_progress=task.callbacks.on_progress)

    @staticmethod
    def _detach(study, resolved):
        """The study itself, or an in-memory copy when its storage is temporary."""
        if not resolved.is_temporary:
            return study
        memory = optuna.storages.InMemoryStorage()
        optuna.copy_study(from_study_name=study.study_name, from_storage=resolved.storage,
                          to_storage=memory)
        return optuna.load_study(study_name=study.study_name, storage=memory)

    # ---- results -----------------------------------------------------------
    def _collect(self, task):
        """Build ``cv_results_``, ``scorer_`` and the ``best_*`` attributes."""
        trials = sorted(self.study_.get_trials(deepcopy=False, states=FINISHED),
                        key=lambda t: t.number)
        params = [self._params_of(task, t) for t in trials]
        self.cv_results_ = build_cv_results(
            trials, params, metrics=list(task.scorers), n_splits=self.n_splits_,
            return_train_score=self.return_train_score)
        self.scorer_ = task.scorers if self.multimetric_ else task.scorers["score"]
        self._select_best(task.objective)

    @staticmethod
    def _params_of(task, trial):
        """Estimator params of a trial: resolved from its raw params, else as stored."""
        try:
            return task.space.resolve(dict(trial.params), n_samples=task.n_samples)
        except Exception:  # params of a trial that failed while suggesting
            return dict(read_attrs(trial).params)

    def _select_best(self, objective):
        """``best_index_``, ``best_score_``, ``best_params_`` over complete trials."""
        results = self.cv_results_
        if callable(self.refit):
            index = self.refit(results)
            if not isinstance(index, int | np.integer) or not 0 <= index < len(results["params"]):
                raise ValueError(f"refit callable returned {index!r}, not a trial index")
        elif self.refit or not self.multimetric_:
            if not np.any(results["state"] == "complete"):
                if not self.refit:
                    return
                reasons = sorted({str(r) for r in results["fail_reason"] if r})
                raise ValueError(f"no trial completed ({len(results['params'])} trials; "
                                 f"failures: {'; '.join(reasons) or 'none'})")
            index = int(np.argmin(results[f"rank_test_{objective}"]))
            self.best_score_ = float(results[f"mean_test_{objective}"][index])
        else:
            return
        self.best_index_ = int(index)
        self.best_params_ = results["params"][self.best_index_]

    def _refit(self, task):
        """Train the best parameters on all data like a trial (same epochs or updates)."""
        if not self.refit:
            return
        model = clone(task.estimator).set_params(**self.best_params_)
        kind, budget = task.budget or (None, None)
        start = time.perf_counter()
        self.best_estimator_ = refit_incremental(
            model, task.X, task.y, n_epochs=int(self.cv_results_["n_epochs"][self.best_index_]),
            classes=task.classes, n_updates=budget if kind == "updates" else None,
            incremental=task.incremental)
        self.refit_time_ = time.perf_counter() - start
        # a few real rows for model signatures and input examples (MLflow's model logging)
        self.input_example_ = rows(task.X, np.arange(min(5, n_samples(task.X))))
