"""Tests of tuner.lr_finder (learning-rate range test)."""

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.linear_model import SGDRegressor

from tuner.errors import ConfigError
from tuner.estimators import MLPClassifier, MLPRegressor
from tuner.lr_finder import LRFinderResult, local_mean, lr_find


@pytest.fixture(scope="module")
def linear_task():
    """Least squares whose gradient descent diverges above 2 / lambda_max(Hessian)."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(256, 4)) * np.array([1.0, 2.0, 0.5, 1.0])
    y = X @ np.array([1.0, -2.0, 0.5, 3.0]) + 0.1 * rng.normal(size=256)
    # J(w, b) = 1/(2n) ||X w + b - y||^2  =>  Hessian = [X 1]^T [X 1] / n
    Xa = np.column_stack([X, np.ones(len(X))])
    bound = 2.0 / np.linalg.eigvalsh(Xa.T @ Xa / len(X)).max()
    return X, y, bound


def _gd(**params):
    """Plain gradient descent on a linear model (no hidden layer, no penalty)."""
    return MLPRegressor((), solver="sgd", momentum=0.0, alpha=0.0, batch_size="full", **params)


def test_lr_find_suggestion_is_below_divergence_bound(linear_task):
    X, y, bound = linear_task
    result = lr_find(_gd(), X, y, min_lr=1e-4, max_lr=10.0, num_steps=100, random_state=0)
    low, high = result.suggested_range
    assert 1e-4 <= low <= result.suggested_lr <= high
    assert bound / 100 < result.suggested_lr < bound
    assert low < bound < 10 * high and high < 10 * bound
    # the loss really falls between the two ends of the range
    i_low, i_high = np.searchsorted(result.lrs, [low, high])
    assert result.smoothed_losses[i_high] < 0.5 * result.smoothed_losses[i_low]


def test_lr_find_stops_at_divergence(linear_task):
    X, y, bound = linear_task
    result = lr_find(_gd(), X, y, min_lr=1e-4, max_lr=1e4, num_steps=100, random_state=0)
    assert result.diverged and len(result.lrs) < 100
    assert result.lrs[-1] > bound  # it stopped because of rates past the bound
    assert len(result.lrs) == len(result.losses) == len(result.smoothed_losses)
    ratios = result.lrs[1:] / result.lrs[:-1]
    np.testing.assert_allclose(ratios, (1e4 / 1e-4) ** (1 / 99))  # exponential ramp


def test_lr_find_runs_num_steps_without_divergence(linear_task):
    X, y, _ = linear_task
    result = lr_find(_gd(), X, y, min_lr=1e-6, max_lr=1e-2, num_steps=30, random_state=0)
    assert not result.diverged and len(result.lrs) == 30
    assert result.lrs[0] == pytest.approx(1e-6) and result.lrs[-1] == pytest.approx(1e-2)


@pytest.mark.parametrize(("solver", "batch_size"), [("adam", 32), ("adam", 1), ("sgd", 1),
                                                    ("rmsprop", "auto")])
def test_lr_find_works_for_solvers_and_batch_sizes(solver, batch_size):
    X, y = load_digits(return_X_y=True)
    clf = MLPClassifier((16,), solver=solver, batch_size=batch_size, dropout=0.1)
    result = lr_find(clf, X[:500] / 16, y[:500], num_steps=60, random_state=0)
    expected_batch = {"auto": 200}.get(batch_size, batch_size)
    assert result.batch_size == expected_batch
    assert 0 < len(result.lrs) <= 60 and np.isfinite(result.losses).all()
    low, high = result.suggested_range
    assert 1e-6 <= low <= result.suggested_lr <= high <= 10
    assert result.suggested_lr in result.lrs


def test_lr_find_cycles_over_small_data_and_is_reproducible(linear_task):
    X, y, _ = linear_task
    est = _gd().set_params(batch_size=64)  # 4 minibatches per epoch, 40 steps = 10 epochs
    first = lr_find(est, X, y, min_lr=1e-5, max_lr=1e-1, num_steps=40, random_state=3)
    second = lr_find(est, X, y, min_lr=1e-5, max_lr=1e-1, num_steps=40, random_state=3)
    assert len(first.lrs) == 40
    np.testing.assert_array_equal(first.losses, second.losses)
    assert not hasattr(est, "coefs_")  # the estimator itself stays untouched


def test_lr_find_rejects_bad_options_and_estimators(linear_task):
    X, y, _ = linear_task
    with pytest.raises(ConfigError, match="max_lr"):
        lr_find(_gd(), X, y, min_lr=1.0, max_lr=0.1)
    with pytest.raises(ConfigError, match="smooth"):
        lr_find(_gd(), X, y, smooth=0.0)
    with pytest.raises(ConfigError, match="tuner MLP estimator"):
        lr_find(SGDRegressor(), X, y)


def test_local_mean_has_no_lag_inside_a_ramp():
    ramp = np.r_[np.full(40, 2.0), np.linspace(2, 1, 80)]
    smoothed = local_mean(ramp, 0.1)
    # two-sided weights cancel the lag that a causal average has (0.127 here)
    assert smoothed[70] == pytest.approx(ramp[70], abs=0.002)
    assert smoothed[10] == pytest.approx(2.0, abs=0.01)
    noisy = ramp + np.random.default_rng(0).normal(scale=0.1, size=ramp.size)
    assert np.abs(local_mean(noisy, 0.1) - ramp)[10:-10].max() < 0.1


def test_local_mean_without_smoothing_returns_the_losses():
    losses = np.array([3.0, 1.0, 2.0, 0.5])
    np.testing.assert_array_equal(local_mean(losses, 1.0), losses)


def test_lr_finder_result_plot_returns_figure(tmp_path, linear_task):
    X, y, _ = linear_task
    result = lr_find(_gd(), X, y, min_lr=1e-4, max_lr=1e3, num_steps=50, random_state=0)
    fig = result.plot()
    ax = fig.axes[0]
    assert ax.get_xscale() == "log" and len(ax.lines) == 3
    fig.savefig(tmp_path / "lr.png")
    assert (tmp_path / "lr.png").stat().st_size > 1000
    assert isinstance(result, LRFinderResult)
