"""tuner's searches against scikit-learn's GridSearchCV, side by side, whole study.

Each measurement is a fresh Python process that imports, loads the data, runs
one search and exits: the wall time is what a user waits for (interpreter and
imports, worker start-up, CV, refit), not one inner loop. The two tools run
alternately, ``--repeats`` times each, in the same invocation; the table shows
the range of wall times, the ratio of medians (GridSearchCV / tuner: above 1
means tuner is faster) and the best mean CV score of each side.

Scenarios (3-fold stratified CV, ``n_jobs`` workers on both sides, no MLflow):

a. digits / 16, hidden (64,), adam, 30 epochs, tol=0; grid learning_rate_init
   [1e-3, 3e-3, 1e-2, 3e-2] x batch_size [32, 128] x alpha [1e-4, 1e-2]
   (16 points); tuner without pruning and with ``pruner="median"``.
b. the same grid on ``Pipeline(StandardScaler, MLP)``.
c. a LogisticRegression grid (C x tol) on digits.
d. an SGDClassifier grid (alpha x loss) on digits.
e. a small table with string labels (300 rows, 8 columns, 200 epochs).

Run::

    .venv/bin/python benchmarks/bench_vs_sklearn.py [--repeats 3] [--n-jobs 2] [--only a b]
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

GRID_MLP = {"learning_rate_init": [1e-3, 3e-3, 1e-2, 3e-2], "batch_size": [32, 128],
            "alpha": [1e-4, 1e-2]}
MLP_PARAMS = {"hidden_layer_sizes": (64,), "solver": "adam", "max_iter": 30, "tol": 0.0,
              "n_iter_no_change": 30, "random_state": 0}
SMALL_MLP_PARAMS = {"hidden_layer_sizes": (32,), "solver": "adam", "max_iter": 200,
                    "tol": 0.0, "n_iter_no_change": 200, "random_state": 0}

SCENARIOS = {
    "a": "digits MLP grid (16 points), no pruning",
    "a-median": "digits MLP grid, tuner with median pruning",
    "b": "Pipeline(StandardScaler, MLP), same grid",
    "c": "LogisticRegression grid (8 points)",
    "d": "SGDClassifier grid (8 points)",
    "e": "small table, string labels, MLP 200 epochs (4 points)",
}


def _digits():
    """digits scaled to [0, 1]."""
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    return X / 16.0, y


def _small_table():
    """300 rows, 8 numeric columns, three string classes."""
    import numpy as np
    from sklearn.datasets import make_classification

    X, y = make_classification(n_samples=300, n_features=8, n_informative=5, n_classes=3,
                               random_state=0)
    return X, np.array(["low", "mid", "high"], dtype=object)[y]


def _mlp(side, params):
    """The MLPClassifier of one side."""
    if side == "sklearn":
        from sklearn.neural_network import MLPClassifier
    else:
        from tuner import MLPClassifier
    return MLPClassifier(**params)


def _problem(side, scenario):
    """(estimator, grid, X, y, extra search kwargs) of one scenario."""
    if scenario in ("a", "a-median"):
        pruner = {"pruner": "median"} if scenario == "a-median" and side == "tuner" else {}
        return (_mlp(side, MLP_PARAMS), GRID_MLP, *_digits(), pruner)
    if scenario == "b":
        from sklearn.pipeline import Pipeline
        from sklearn.preprocessing import StandardScaler

        pipe = Pipeline([("scale", StandardScaler()), ("mlp", _mlp(side, MLP_PARAMS))])
        return pipe, {f"mlp__{k}": v for k, v in GRID_MLP.items()}, *_digits(), {}
    if scenario == "c":
        from sklearn.linear_model import LogisticRegression

        grid = {"C": [0.01, 0.1, 1.0, 10.0], "tol": [1e-4, 1e-3]}
        return LogisticRegression(max_iter=300), grid, *_digits(), {}
    if scenario == "d":
        from sklearn.linear_model import SGDClassifier

        grid = {"alpha": [1e-5, 1e-4, 1e-3, 1e-2], "loss": ["hinge", "log_loss"]}
        return SGDClassifier(random_state=0), grid, *_digits(), {}
    if scenario == "e":
        grid = {"learning_rate_init": [1e-3, 1e-2], "alpha": [1e-4, 1e-2]}
        return (_mlp(side, SMALL_MLP_PARAMS), grid, *_small_table(), {})
    raise ValueError(f"unknown scenario {scenario!r}; choose from {sorted(SCENARIOS)}")


def _search(side, estimator, grid, n_jobs, extra):
    """GridSearchCV or tuner.GridSearch over ``grid``."""
    from sklearn.model_selection import StratifiedKFold

    cv = StratifiedKFold(n_splits=3, shuffle=True, random_state=0)
    if side == "sklearn":
        from sklearn.model_selection import GridSearchCV

        return GridSearchCV(estimator, grid, cv=cv, n_jobs=n_jobs)
    from tuner import GridSearch

    return GridSearch(estimator, grid, cv=cv, n_jobs=n_jobs, random_state=0, **extra)


def run_one(side, scenario, n_jobs):
    """Child process body: one search; prints a JSON line (best CV, fit seconds)."""
    import warnings

    warnings.filterwarnings("ignore")
    estimator, grid, X, y, extra = _problem(side, scenario)
    search = _search(side, estimator, grid, n_jobs, extra)
    start = time.perf_counter()
    search.fit(X, y)
    print(json.dumps({"best_cv": float(search.best_score_),
                      "fit_s": time.perf_counter() - start}))


def _measure(side, scenario, n_jobs):
    """Wall seconds of a fresh process running one search, and what it printed."""
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    start = time.perf_counter()
    out = subprocess.run([sys.executable, __file__, "--child", side, scenario,
                          "--n-jobs", str(n_jobs)], capture_output=True, text=True, env=env,
                         check=True).stdout
    wall = time.perf_counter() - start
    return wall, json.loads(out.strip().splitlines()[-1])


def _blas_kernel():
    """The OpenBLAS core type in use (these machines force Haswell)."""
    import numpy  # noqa: F401  (loads OpenBLAS, so threadpoolctl can see it)
    from threadpoolctl import threadpool_info

    return ", ".join(f"{i.get('internal_api')} {i.get('architecture')}"
                     for i in threadpool_info() if i.get("user_api") == "blas") or "none"


def _row(scenario, runs):
    """One markdown row: wall ranges, ratio of medians, best CV of each side."""
    walls = {side: [w for w, _ in runs[side]] for side in runs}
    best = {side: runs[side][0][1]["best_cv"] for side in runs}
    ratio = statistics.median(walls["sklearn"]) / statistics.median(walls["tuner"])
    cell = {side: f"{min(walls[side]):.1f}-{max(walls[side]):.1f}" for side in walls}
    return (f"| {scenario} | {SCENARIOS[scenario]} | {cell['sklearn']} | {cell['tuner']} | "
            f"{ratio:.2f}x | {best['sklearn']:.4f} | {best['tuner']:.4f} |")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--only", nargs="+", choices=sorted(SCENARIOS), default=None)
    parser.add_argument("--child", nargs=2, metavar=("SIDE", "SCENARIO"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return run_one(*args.child, args.n_jobs)
    print(f"BLAS: {_blas_kernel()}  OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE')}  "
          f"load average before: {os.getloadavg()[0]:.2f}  repeats: {args.repeats}  "
          f"n_jobs: {args.n_jobs}")
    print("| | scenario | GridSearchCV wall s | tuner wall s | speed-up | best CV sklearn "
          "| best CV tuner |\n|---|---|---|---|---|---|---|")
    for scenario in args.only or SCENARIOS:
        runs = {"sklearn": [], "tuner": []}
        for _ in range(args.repeats):
            for side in runs:
                runs[side].append(_measure(side, scenario, args.n_jobs))
        print(_row(scenario, runs), flush=True)
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
