"""Random search (full budget) vs TPE + Hyperband vs scikit-learn's HalvingRandomSearchCV.

All three tune tuner's MLPClassifier on digits over ``tuner/search_spaces/mlp_default.yaml``
(learning rate, batch size, epochs, dropout) with 3-fold CV and 2 worker processes,
on 80% of the data; the held-out 20% scores each refitted best model.

Work is counted in fold-epochs (epochs x CV folds, refit excluded) and in samples
processed (epochs x training-fold size, which is how HalvingRandomSearchCV saves:
it trains early rounds on subsets of the rows). The estimator's plateau rule is
off (``n_iter_no_change=inf``) so that ``fit`` (used by HalvingRandomSearchCV)
trains exactly ``max_iter`` epochs, like the partial_fit loop of tuner's searches.

Run::

    .venv/bin/python benchmarks/bench_search.py [--n-trials 100] [--n-jobs 2]
"""

import argparse
import os
import sys
import time
import warnings

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("PYTHONWARNINGS", "ignore")  # workers: no ConvergenceWarning spam

import numpy as np  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.experimental import enable_halving_search_cv  # noqa: E402, F401
from sklearn.model_selection import HalvingRandomSearchCV, train_test_split  # noqa: E402

from tuner.estimators import MLPClassifier  # noqa: E402
from tuner.search import OptunaSearch, RandomSearch  # noqa: E402
from tuner.spaces import SearchSpace  # noqa: E402


class Marginal:
    """One parameter of a SearchSpace as a scipy-like distribution (``rvs``) for sklearn.

    mlp_default's parameters are independent, so sampling each from its own
    marginal draws from the same distribution as ``SearchSpace.sample``.
    """

    def __init__(self, space, name):
        self.space, self.name = space, name

    def rvs(self, random_state=None):
        rng = np.random.default_rng(np.random.RandomState(random_state).randint(2**31 - 1)
                                    if not isinstance(random_state, np.random.RandomState)
                                    else random_state.randint(2**31 - 1))
        return self.space.resolve(self.space.sample(rng))[self.name]


def run_tuner(search, X, y, X_test, y_test):
    """Fit a tuner search; return the row of the comparison table."""
    start = time.perf_counter()
    search.fit(X, y)
    wall = time.perf_counter() - start
    results = search.cv_results_
    folds = search.n_splits_
    states = {s: int((results["state"] == s).sum()) for s in ("complete", "pruned", "fail")}
    return {
        "best_cv": search.best_score_, "test": search.score(X_test, y_test),
        "fold_epochs": int(results["n_epochs"].sum() * folds),
        "samples": int(results["n_samples_seen"].sum() * folds), "wall": wall,
        "trials": len(results["params"]), "note": ", ".join(f"{v} {k}" for k, v in
                                                            states.items() if v),
    }


def run_halving(estimator, space, X, y, X_test, y_test, *, n_candidates, n_jobs):
    """Fit HalvingRandomSearchCV over the same marginals; return its table row."""
    search = HalvingRandomSearchCV(
        estimator, {name: Marginal(space, name) for name in space.names},
        n_candidates=n_candidates, factor=3, resource="n_samples", min_resources="exhaust",
        cv=3, n_jobs=n_jobs, random_state=0, refit=True)
    start = time.perf_counter()
    search.fit(X, y)
    wall = time.perf_counter() - start
    results = search.cv_results_
    epochs = np.asarray(results["param_max_iter"], dtype=float)
    # each candidate trains max_iter epochs on 2/3 of its n_resources rows, per fold
    train_rows = np.asarray(results["n_resources"]) * (search.n_splits_ - 1) / search.n_splits_
    return {
        "best_cv": search.best_score_, "test": search.score(X_test, y_test),
        "fold_epochs": int(epochs.sum() * search.n_splits_),
        "samples": int((epochs * train_rows).sum() * search.n_splits_), "wall": wall,
        "trials": len(results["params"]),
        "note": f"{search.n_iterations_} rounds, {search.n_candidates_[0]} candidates",
    }


def table(rows):
    """Markdown table of the rows, with ratios to random search."""
    ref = rows["random search (full budget)"]
    lines = ["| method | trials | best CV acc | test acc | fold-epochs | % of random |"
             " samples seen | % of random | wall s | notes |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for name, r in rows.items():
        lines.append(
            f"| {name} | {r['trials']} | {r['best_cv']:.4f} | {r['test']:.4f} | "
            f"{r['fold_epochs']} | {100 * r['fold_epochs'] / ref['fold_epochs']:.1f}% | "
            f"{r['samples']:,} | {100 * r['samples'] / ref['samples']:.1f}% | "
            f"{r['wall']:.0f} | {r['note']} |")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-trials", type=int, default=100)
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0],
                        help="random_state values for the TPE + hyperband runs")
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore")
    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X / 16.0, y, test_size=0.2,
                                                        stratify=y, random_state=0)
    space = SearchSpace.load("mlp_default")
    est = MLPClassifier(random_state=0, n_iter_no_change=np.inf)
    common = {"cv": 3, "n_jobs": args.n_jobs, "random_state": 0, "n_trials": args.n_trials}
    rows = {}
    rows["random search (full budget)"] = run_tuner(
        RandomSearch(est, space, **common), X_train, y_train, X_test, y_test)
    for seed in args.seeds:
        rows[f"OptunaSearch TPE + hyperband (seed {seed})"] = run_tuner(
            OptunaSearch(est, space, sampler="tpe", pruner="hyperband",
                         **{**common, "random_state": seed}),
            X_train, y_train, X_test, y_test)
    rows["sklearn HalvingRandomSearchCV"] = run_halving(
        est, space, X_train, y_train, X_test, y_test, n_candidates=args.n_trials,
        n_jobs=args.n_jobs)
    print(f"digits {X_train.shape} train / {X_test.shape[0]} test, mlp_default, cv=3, "
          f"n_jobs={args.n_jobs}, n_trials={args.n_trials}")
    print(table(rows))
    ref = rows["random search (full budget)"]
    print("\nTPE + hyperband vs random search (target: <= 0.3 points below, <= 20% of the "
          "epochs):")
    for seed in args.seeds:
        tpe = rows[f"OptunaSearch TPE + hyperband (seed {seed})"]
        print(f"  seed {seed}: {100 * (ref['best_cv'] - tpe['best_cv']):+.2f} points below, "
              f"{100 * tpe['fold_epochs'] / ref['fold_epochs']:.1f}% of the epochs, "
              f"test accuracy {100 * (tpe['test'] - ref['test']):+.2f} points")
    return 0


if __name__ == "__main__":
    sys.exit(main())
