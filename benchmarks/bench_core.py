"""Training speed of tuner.MLPClassifier against scikit-learn's MLPClassifier.

scikit-learn and tuner train side by side in this process with the same
architecture, solver (adam), batch size and number of epochs, one BLAS thread
each; tuner twice, on its two paths: "numpy" (``TUNER_ACCELERATE=0``, the
reference) and "compiled" (the numba kernels of the ``fast`` extra; skipped
when numba is not installed).  For every configuration the script prints the
training throughput (samples/s, the best of ``--repeats`` alternating fits),
the speed ratios to scikit-learn (best, and the range over the repeats), the
held-out accuracy of each, and the achieved GFLOP/s of the compiled path's
matrix products as a share of a measured one-thread ``numpy.matmul`` peak.
It also prints the OpenBLAS kernel in use (threadpoolctl), the time to load or
compile the kernels, and the load average before and after: numbers on a
shared machine are noisy.

A second table compares held-out accuracy over several seeds on the synthetic
set: scikit-learn, tuner with its default initialisation (He before relu) and
tuner with ``init="glorot"`` (scikit-learn's), which separates the effect of the
initialisation from that of the training code.

Usage::

    python benchmarks/bench_core.py [--repeats 2] [--seeds 3] [--quick] [--overhead-only]
                                    [--targets-only]

Targets: >= 3x scikit-learn at batch 32 float64, >= 2x at batch 256 float32,
accuracy within 1 point.
"""

import argparse
import contextlib
import importlib.util
import os
import time
import warnings

import numpy as np
from sklearn.datasets import load_digits, make_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier as SklearnMLP
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_info, threadpool_limits

from tuner import MLPClassifier


def matmul_peak(dtype, size=1024, repeats=5):
    """Best one-thread GFLOP/s of a square ``numpy.matmul`` in ``dtype``."""
    rng = np.random.default_rng(0)
    A, B = rng.random((size, size)).astype(dtype), rng.random((size, size)).astype(dtype)
    out = np.empty_like(A)
    best = np.inf
    for _ in range(repeats):
        start = time.perf_counter()
        np.matmul(A, B, out=out)
        best = min(best, time.perf_counter() - start)
    return 2 * size**3 / best / 1e9


def flops_per_sample(n_features, hidden, n_outputs):
    """Matmul FLOPs of one training sample: forward, weight gradients, input deltas.

    Each layer of ``P = fan_in * fan_out`` weights costs ``2P`` forward, ``2P``
    for its weight gradient and ``2P`` for the delta of the layer below, which the
    first layer does not need.
    """
    sizes = [n_features, *hidden, n_outputs]
    weights = sum(a * b for a, b in zip(sizes[:-1], sizes[1:], strict=True))
    return 6 * weights - 2 * sizes[0] * sizes[1]


def datasets():
    """``name -> (X_train, X_test, y_train, y_test, hidden)`` for the two benchmarks."""
    X, y = load_digits(return_X_y=True)
    digits = train_test_split(X / 16.0, y, test_size=0.25, stratify=y, random_state=0)
    X, y = make_classification(50_000, 100, n_informative=50, n_classes=10, random_state=0)
    X = StandardScaler().fit_transform(X)
    big = train_test_split(X, y, test_size=0.25, stratify=y, random_state=0)
    return {"digits": (*digits, (128, 64)), "synthetic": (*big, (256, 128))}


@contextlib.contextmanager
def tuner_path(name):
    """Train tuner on its numpy path ("numpy") or with the compiled kernels ("compiled")."""
    old = os.environ.get("TUNER_ACCELERATE")
    os.environ["TUNER_ACCELERATE"] = "0" if name == "numpy" else "1"
    try:
        yield
    finally:
        if old is None:
            del os.environ["TUNER_ACCELERATE"]
        else:
            os.environ["TUNER_ACCELERATE"] = old


def paths():
    """tuner's paths to time: numpy always, compiled when numba is installed."""
    return ("numpy", "compiled") if importlib.util.find_spec("numba") else ("numpy",)


def blas_kernels():
    """``internal_api architecture (threads)`` of each BLAS library loaded, from threadpoolctl."""
    return ", ".join(f"{i['internal_api']} {i.get('version')} {i.get('architecture')} "
                     f"({i['num_threads']} threads)" for i in threadpool_info()
                     if i["user_api"] == "blas")


def warm_up():
    """Seconds to load (or compile) the compiled kernels for both dtypes, by a tiny fit."""
    X, y = np.random.default_rng(0).random((64, 4)), np.arange(64) % 3
    start = time.perf_counter()
    with tuner_path("compiled"):
        for dtype in ("float64", "float32"):
            for activation in ("relu", "tanh"):
                MLPClassifier((8,), activation=activation, max_iter=1, batch_size=32,
                              dtype=dtype).fit(X.astype(dtype), y)
    return time.perf_counter() - start


def run_case(data, batch_size, epochs, dtype, repeats):
    """One configuration, every estimator with the same settings; returns their figures.

    The fits alternate (scikit-learn, tuner numpy, tuner compiled, scikit-learn, ...)
    so that a change of load on the shared machine hits all; the fastest of
    ``repeats`` fits is kept, and ``ratios`` holds each repeat's speed ratio.
    """
    X_train, X_test, y_train, y_test, hidden = data
    X_train, X_test = X_train.astype(dtype), X_test.astype(dtype)
    common = dict(hidden_layer_sizes=hidden, solver="adam", max_iter=epochs, random_state=0,
                  tol=0.0, n_iter_no_change=10**9)
    # scikit-learn has no "full": the same thing is a batch of every training row
    makers = {"sklearn": lambda: SklearnMLP(**common, batch_size=(
        len(X_train) if batch_size == "full" else batch_size))}
    for path in paths():
        makers[path] = lambda: MLPClassifier(**common, batch_size=batch_size, n_threads=1)
    times, fitted = {name: [] for name in makers}, {}
    for _ in range(repeats):
        for name, make in makers.items():
            est = make()
            with tuner_path(name):
                start = time.perf_counter()
                est.fit(X_train, y_train)
                times[name].append(time.perf_counter() - start)
            fitted[name] = est
    samples = epochs * len(X_train)
    flops = samples * flops_per_sample(X_train.shape[1], hidden, 10)
    return {name: dict(rate=samples / min(times[name]), gflops=flops / min(times[name]) / 1e9,
                       ratios=[s / t for s, t in zip(times["sklearn"], times[name], strict=True)],
                       accuracy=fitted[name].score(X_test, y_test),
                       epochs=fitted[name].n_iter_) for name in makers}


def print_case(name, batch, epochs, dtype, figures, peak):
    """One markdown row of the main table."""
    sk = figures["sklearn"]
    cells = [name, batch, np.dtype(dtype).name, epochs, f"{sk['rate']:,.0f}"]
    for path in ("numpy", "compiled"):
        tu = figures.get(path)
        if tu is None:
            cells += ["-", "-"]
            continue
        assert sk["epochs"] == tu["epochs"] == epochs, "every estimator must run every epoch"
        low, high = min(tu["ratios"]), max(tu["ratios"])
        cells += [f"{tu['rate']:,.0f}", f"{tu['rate'] / sk['rate']:.2f}x ({low:.2f}-{high:.2f})"]
    cells += ["/".join(f"{figures[p]['accuracy']:.3f}" for p in figures)]
    fast = figures.get("compiled", figures["numpy"])
    cells += [f"{fast['gflops']:.1f} ({100 * fast['gflops'] / peak:.0f}%)"]
    print("| " + " | ".join(str(c) for c in cells) + " |", flush=True)


def accuracy_by_init(data, seeds, epochs):
    """Mean and spread of held-out accuracy over ``seeds``: sklearn, tuner He, tuner Glorot."""
    X_train, X_test, y_train, y_test, hidden = data
    X_train, X_test = X_train.astype(np.float32), X_test.astype(np.float32)
    common = dict(hidden_layer_sizes=hidden, solver="adam", max_iter=epochs, batch_size=256,
                  tol=0.0, n_iter_no_change=10**9)
    makers = {"sklearn": lambda seed: SklearnMLP(**common, random_state=seed),
              "tuner (He, default)": lambda seed: MLPClassifier(**common, random_state=seed),
              "tuner (init=glorot)": lambda seed: MLPClassifier(**common, random_state=seed,
                                                                init="glorot")}
    return {name: [make(seed).fit(X_train, y_train).score(X_test, y_test) for seed in seeds]
            for name, make in makers.items()}


def print_accuracy(data, seeds, epochs):
    """Print the markdown table of :func:`accuracy_by_init`."""
    print(f"\n| synthetic, batch 256, float32, {epochs} epochs | mean accuracy "
          f"({len(seeds)} seeds) | min | max |")
    print("|---|---|---|---|")
    for name, scores in accuracy_by_init(data, seeds, epochs).items():
        print(f"| {name} | {np.mean(scores):.3f} | {min(scores):.3f} | {max(scores):.3f} |",
              flush=True)


def partial_fit_overhead(X, y, hidden, repeats=7):
    """Median milliseconds of one ``partial_fit`` call beyond its epoch, and of the epoch.

    The epoch alone is ``Trainer.run_epoch`` on the already encoded targets (private
    attributes, read here only to separate the per-call validation from training).
    """
    clf = MLPClassifier(hidden_layer_sizes=hidden, batch_size=256, random_state=0, n_threads=1)
    clf.partial_fit(X, y, classes=np.unique(y))
    Y = clf._label_binarizer.transform(y).astype(X.dtype)
    calls, epochs = [], []
    for _ in range(repeats):
        start = time.perf_counter()
        clf.partial_fit(X, y)
        calls.append(time.perf_counter() - start)
        start = time.perf_counter()
        clf._trainer.run_epoch(X, Y, clf.learning_rate_init)
        epochs.append(time.perf_counter() - start)
    call, epoch = np.median(calls), np.median(epochs)
    return 1e3 * (call - epoch), 1e3 * epoch


def print_overhead(data):
    """Print the markdown table of :func:`partial_fit_overhead` for both data sets."""
    print("\n| data | rows | partial_fit overhead (ms per call) | its epoch (ms) |")
    print("|---|---|---|---|")
    for name in ("digits", "synthetic"):
        X_train, _, y_train, _, hidden = data[name]
        overhead, epoch = partial_fit_overhead(X_train, y_train, hidden)
        print(f"| {name} | {len(X_train)} | {overhead:.2f} | {epoch:.1f} |", flush=True)
    print()


def main(argv=None):
    """Run every configuration and print a markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=2, help="fits per estimator (best kept)")
    parser.add_argument("--seeds", type=int, default=3, help="seeds of the accuracy table")
    parser.add_argument("--quick", action="store_true", help="fewer epochs (smoke test)")
    parser.add_argument("--overhead-only", action="store_true", help="only the partial_fit table")
    parser.add_argument("--targets-only", action="store_true",
                        help="only the two rows with targets (batch 32 float64, 256 float32)")
    args = parser.parse_args(argv)
    scale = 0.1 if args.quick else 1.0
    data = datasets()
    cases = [("digits", 32, 20, np.float64), ("digits", 32, 20, np.float32),
             ("digits", 128, 40, np.float64), ("digits", "full", 200, np.float64),
             ("synthetic", 256, 15, np.float32), ("synthetic", 256, 15, np.float64)]
    if args.targets_only:
        cases = [cases[0], cases[4]]
    warnings.simplefilter("ignore", ConvergenceWarning)
    with threadpool_limits(limits=1, user_api="blas"):
        peaks = {dt: matmul_peak(dt) for dt in (np.float32, np.float64)}
        print(f"BLAS: {blas_kernels()}; OPENBLAS_CORETYPE="
              f"{os.environ.get('OPENBLAS_CORETYPE')}")
        print(f"one-thread matmul peak: float32 {peaks[np.float32]:.1f} GFLOP/s, "
              f"float64 {peaks[np.float64]:.1f} GFLOP/s")
        print(f"load average (1, 5, 15 min): {', '.join(f'{v:.2f}' for v in os.getloadavg())}")
        if "compiled" in paths():
            print(f"compiled kernels loaded or compiled in {warm_up():.2f} s "
                  f"(cache: {os.environ.get('NUMBA_CACHE_DIR')})")
        else:
            print("numba is not installed: numpy path only (pip install -e '.[fast]')")
        if not args.targets_only:
            print_overhead(data)
        if args.overhead_only:
            return
        print("| data | batch | dtype | epochs | sklearn samples/s | numpy samples/s "
              "| numpy ratio (range) | compiled samples/s | compiled ratio (range) "
              "| accuracy sklearn/numpy/compiled | compiled GFLOP/s (% peak) |")
        print("|---|---|---|---|---|---|---|---|---|---|---|")
        for name, batch, epochs, dtype in cases:
            epochs = max(1, round(epochs * scale))
            figures = run_case(data[name], batch, epochs, dtype, args.repeats)
            print_case(name, batch, epochs, dtype, figures, peaks[dtype])
        print(f"\nload average after the table: {os.getloadavg()[0]:.2f}")
        if args.targets_only:
            return
        print_accuracy(data["synthetic"], range(args.seeds), max(1, round(15 * scale)))


if __name__ == "__main__":
    main()
