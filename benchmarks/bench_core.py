"""Training speed of tuner.MLPClassifier against scikit-learn's MLPClassifier.

Both estimators train side by side in this process with the same architecture,
solver (adam), batch size and number of epochs, one BLAS thread each.  For
every configuration the script prints the training throughput (samples/s, the
best of ``--repeats`` fits), the speed ratio, the held-out accuracy of each,
and the achieved GFLOP/s of the matrix products as a share of a measured
one-thread ``numpy.matmul`` peak.  Numbers on a shared machine are noisy.

A second table compares held-out accuracy over several seeds on the synthetic
set: scikit-learn, tuner with its default initialisation (He before relu) and
tuner with ``init="glorot"`` (scikit-learn's), which separates the effect of the
initialisation from that of the training code.

Usage::

    python benchmarks/bench_core.py [--repeats 2] [--seeds 3] [--quick] [--overhead-only]

Targets: >= 3x scikit-learn at batch 32, >= 2x at batch 256 float32, >= 60% of
the one-thread matmul peak at batch 256 float32, accuracy within 1 point.
"""

import argparse
import time
import warnings

import numpy as np
from sklearn.datasets import load_digits, make_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier as SklearnMLP
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

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


def run_case(data, batch_size, epochs, dtype, repeats):
    """One configuration, both estimators with the same settings; returns their figures.

    The fits alternate (scikit-learn, tuner, scikit-learn, ...) so that a change of
    load on the shared machine hits both; the fastest of ``repeats`` fits is kept.
    """
    X_train, X_test, y_train, y_test, hidden = data
    X_train, X_test = X_train.astype(dtype), X_test.astype(dtype)
    common = dict(hidden_layer_sizes=hidden, solver="adam", max_iter=epochs, random_state=0,
                  tol=0.0, n_iter_no_change=10**9)
    # scikit-learn has no "full": the same thing is a batch of every training row
    makers = {
        "sklearn": lambda: SklearnMLP(**common, batch_size=(
            len(X_train) if batch_size == "full" else batch_size)),
        "tuner": lambda: MLPClassifier(**common, batch_size=batch_size, n_threads=1),
    }
    best, fitted = dict.fromkeys(makers, np.inf), {}
    for _ in range(repeats):
        for name, make in makers.items():
            est = make()
            start = time.perf_counter()
            est.fit(X_train, y_train)
            best[name] = min(best[name], time.perf_counter() - start)
            fitted[name] = est
    samples = epochs * len(X_train)
    flops = samples * flops_per_sample(X_train.shape[1], hidden, 10)
    return {name: dict(rate=samples / best[name], gflops=flops / best[name] / 1e9,
                       accuracy=fitted[name].score(X_test, y_test),
                       epochs=fitted[name].n_iter_) for name in makers}


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
    args = parser.parse_args(argv)
    scale = 0.1 if args.quick else 1.0
    data = datasets()
    cases = [("digits", 32, 20, np.float64), ("digits", 32, 20, np.float32),
             ("digits", 128, 40, np.float64), ("digits", "full", 200, np.float64),
             ("synthetic", 256, 15, np.float32), ("synthetic", 256, 15, np.float64)]
    warnings.simplefilter("ignore", ConvergenceWarning)
    with threadpool_limits(limits=1, user_api="blas"):
        peaks = {dt: matmul_peak(dt) for dt in (np.float32, np.float64)}
        print(f"one-thread matmul peak: float32 {peaks[np.float32]:.1f} GFLOP/s, "
              f"float64 {peaks[np.float64]:.1f} GFLOP/s")
        print_overhead(data)
        if args.overhead_only:
            return
        print("| data | batch | dtype | epochs | sklearn samples/s | tuner samples/s | ratio "
              "| sklearn acc | tuner acc | tuner GFLOP/s (% peak) | sklearn GFLOP/s (% peak) |")
        print("|---|---|---|---|---|---|---|---|---|---|---|")
        for name, batch, epochs, dtype in cases:
            epochs = max(1, round(epochs * scale))
            r = run_case(data[name], batch, epochs, dtype, args.repeats)
            sk, tu, peak = r["sklearn"], r["tuner"], peaks[dtype]
            assert sk["epochs"] == tu["epochs"] == epochs, "both must run every epoch"
            print(f"| {name} | {batch} | {np.dtype(dtype).name} | {epochs} | {sk['rate']:,.0f} "
                  f"| {tu['rate']:,.0f} | {tu['rate'] / sk['rate']:.2f}x "
                  f"| {sk['accuracy']:.3f} | {tu['accuracy']:.3f} "
                  f"| {tu['gflops']:.1f} ({100 * tu['gflops'] / peak:.0f}%) "
                  f"| {sk['gflops']:.1f} ({100 * sk['gflops'] / peak:.0f}%) |", flush=True)
        print_accuracy(data["synthetic"], range(args.seeds), max(1, round(15 * scale)))


if __name__ == "__main__":
    main()
