"""Tests of tuner.lr_finder (learning-rate range test)."""

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.linear_model import SGDRegressor
from sklearn.preprocessing import StandardScaler

from tuner.errors import ConfigError
from tuner.estimators import MLPClassifier, MLPRegressor
from tuner.lr_finder import LRFinderResult, _read_curve, lr_find, plot_lr_curves, smooth_curve


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


@pytest.fixture(scope="module")
def digits():
    """Standardised digits, as ``tuner lr-find`` sees them."""
    X, y = load_digits(return_X_y=True)
    return StandardScaler().fit_transform(X), y


def _rolling_median(values, width=15):
    """Running median (edges padded): what the eye reads through a noisy curve."""
    padded = np.pad(values, width // 2, mode="edge")
    return np.median(np.lib.stride_tricks.sliding_window_view(padded, width), axis=1)


@pytest.mark.parametrize("batch_size", [32, 256])
def test_lr_find_smoothed_loss_tracks_the_raw_loss(digits, batch_size):
    X, y = digits
    result = lr_find(MLPClassifier((64,), batch_size=batch_size), X, y, random_state=0)
    error = np.abs(np.log(result.smoothed_losses / _rolling_median(result.losses)))
    bottom = int(np.argmin(result.smoothed_losses))
    # the old two-sided mean sat 4x above the loss at the bottom (1.3 vs 0.3)
    assert error[:bottom + 1].max() < np.log(2)
    assert error[:bottom + 1].mean() < 0.2
    # and jumped 6x at the cut between head and diverging tail
    assert np.abs(np.diff(np.log(result.smoothed_losses))).max() < 0.5


@pytest.mark.parametrize(("batch_size", "max_lr"), [("full", 10.0), ("full", 1e4), (32, 10.0)])
def test_lr_find_range_lies_below_divergence_bound(linear_task, batch_size, max_lr):
    X, y, bound = linear_task
    result = lr_find(_gd().set_params(batch_size=batch_size), X, y, min_lr=1e-4, max_lr=max_lr,
                     random_state=0)
    low, high = result.suggested_range
    assert low <= result.suggested_lr <= high < bound  # rates above 2 / lambda_max diverge
    assert 0.5 <= np.log10(high / low) <= 2.0 + 1e-9
    assert result.suggested_lr > bound / 100
    # the lower end is where the loss already falls, not on the flat start
    i_low, i_high = np.searchsorted(result.lrs, [low, high])
    start = result.smoothed_losses[:i_low + 1].max()
    assert result.smoothed_losses[i_low] < start - 0.05 * (start - result.smoothed_losses.min())
    assert result.smoothed_losses[i_high] < 0.5 * result.smoothed_losses[i_low]


def test_read_curve_flat_loss_gives_smallest_rate():
    lrs = np.geomspace(1e-6, 1e-3, 40)
    suggested, (low, high) = _read_curve(lrs, np.linspace(2.0, 1.98, 40))
    assert suggested == low == high == pytest.approx(1e-6)


def test_read_curve_sharp_drop_keeps_half_a_decade():
    lrs = np.geomspace(1e-4, 1.0, 81)  # 20 steps per decade
    smoothed = np.where(np.arange(81) < 60, 2.0, 2.0 - (np.arange(81) - 59) * 0.08)
    smoothed[75:] = 10.0  # falls only from step 60 on and blows up at step 75
    suggested, (low, high) = _read_curve(lrs, smoothed)
    assert np.log10(high / low) == pytest.approx(0.5, abs=0.06)
    assert high == pytest.approx(lrs[74] / 10 ** 0.5, rel=0.1)
    assert low <= suggested <= high


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


def test_smooth_curve_has_no_lag_inside_a_ramp():
    ramp = np.r_[np.full(40, 2.0), np.geomspace(2, 0.2, 80)]
    smoothed = smooth_curve(ramp, 0.05)
    # two-sided: no lag (a causal average is ~20 % high here)
    assert smoothed[80] == pytest.approx(ramp[80], rel=0.01)
    assert smoothed[-1] == pytest.approx(0.2, rel=0.01)  # no bias at the one-sided end
    noisy = ramp * np.exp(np.random.default_rng(0).normal(scale=0.2, size=ramp.size))
    error = np.abs(np.log(smooth_curve(noisy, 0.05) / ramp))
    assert error[5:-5].max() < 0.15 and error.max() < 0.25  # one-sided ends are noisier


def test_smooth_curve_banded_matches_full_least_squares():
    losses = np.exp(np.r_[np.zeros(300), np.linspace(0, 5, 100)]  # flat, then a blow-up
                    + np.random.default_rng(1).normal(size=400))
    d = np.subtract.outer(np.arange(400), np.arange(400)).T.astype(float)  # d[i, j] = j - i
    weights = 0.9 ** np.abs(d)
    trend = []
    for i in range(400):  # the weighted quadratic fit, written out
        A = np.vander(d[i], 3, increasing=True) * np.sqrt(weights[i])[:, None]
        b = np.log(losses) * np.sqrt(weights[i])
        trend.append(np.exp(np.linalg.lstsq(A, b, rcond=None)[0][0]))
    trend = np.array(trend)
    # level correction over j <= max(i, argmin trend): nothing of the blow-up leaks back
    seen = np.arange(400)[None, :] <= np.maximum(np.arange(400), np.argmin(trend))[:, None]
    level = (weights * seen) @ (losses / trend) / (weights * seen).sum(axis=1)
    np.testing.assert_allclose(smooth_curve(losses, 1 - 0.9 ** 0.5), trend * level, rtol=1e-6)


def test_smooth_curve_follows_the_mean_of_very_noisy_losses():
    # batch-size-1 losses spread over decades: exp(mean log) would sit 3x below the mean
    losses = np.exp(np.random.default_rng(2).normal(scale=1.5, size=2000))
    smoothed = smooth_curve(losses, 0.05)
    assert smoothed.mean() == pytest.approx(losses.mean(), rel=0.1)
    assert np.median(smoothed) > 2 * np.exp(np.log(losses).mean())  # not the geometric mean


def test_smooth_curve_without_smoothing_returns_the_losses():
    losses = np.array([3.0, 1.0, 2.0, 0.5])
    np.testing.assert_array_equal(smooth_curve(losses, 1.0), losses)


def test_lr_finder_result_plot_returns_figure(tmp_path, linear_task):
    X, y, _ = linear_task
    result = lr_find(_gd(), X, y, min_lr=1e-4, max_lr=1e3, num_steps=50, random_state=0)
    fig = result.plot()
    ax = fig.axes[0]
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    # raw, smoothed, suggestion dot, range bar and its dot
    assert len(ax.lines) == 5
    fig.savefig(tmp_path / "lr.png")
    assert (tmp_path / "lr.png").stat().st_size > 1000
    assert isinstance(result, LRFinderResult)


def test_plot_lr_curves_draws_every_batch_size_on_one_axes(linear_task):
    X, y, _ = linear_task
    results = [lr_find(_gd().set_params(batch_size=b), X, y, min_lr=1e-4, max_lr=1e3,
                       num_steps=40, random_state=0) for b in (16, 64)]
    fig = plot_lr_curves(results, title="two curves")
    assert len(fig.axes) == 1 and fig.axes[0].get_title() == "two curves"
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert [label.split(":")[0] for label in labels] == ["batch 16", "batch 64"]
    low, high = results[1].suggested_range
    bars = [line for line in fig.axes[0].lines if len(line.get_xdata()) == 2]
    assert [tuple(bar.get_xdata()) for bar in bars][1] == (low, high)


# ---------------------------------------------------------------- narrowing a space (--write-space)

def _found(*ranges):
    """Stand-ins for LRFinderResult: (batch_size, low, high) per curve."""
    from types import SimpleNamespace

    return [SimpleNamespace(batch_size=b, suggested_range=(lo, hi)) for b, lo, hi in ranges]


def _lr_spec(space):
    return space.to_dict()["parameters"]["learning_rate_init"]


def test_narrow_space_combines_batch_sizes_and_never_widens():
    from tuner.experiment.lr import narrow_space
    from tuner.spaces import SearchSpace

    space = SearchSpace.load("mlp_default")  # 1e-4 .. 0.1, grid [1e-3, 1e-2, 1e-1]
    spec = _lr_spec(narrow_space(space, _found((32, 2e-4, 0.015), (256, 3e-4, 0.024)), 1437))
    assert (spec["low"], spec["high"]) == (2e-4, 0.024)  # hull of the two ranges
    assert spec["grid"] == [2e-4, 0.00219, 0.024]
    # the audit's case: a range wider than the space leaves the bounds as they were
    spec = _lr_spec(narrow_space(space, _found((32, 2.6e-5, 0.278)), 1437))
    assert (spec["low"], spec["high"]) == (1e-4, 0.1)
    assert spec["grid"] == [1e-4, 0.00316, 0.1]


def test_narrow_space_converts_each_curve_to_the_base_rate():
    from tuner.experiment.lr import narrow_space
    from tuner.spaces import SearchSpace

    space = SearchSpace.load("lr_batch_coupled")  # 1e-3 .. 1.0, lr = base * batch_size / 256
    found = _found((16, 1e-3, 0.05), (256, 3e-3, 0.3))  # effective rates
    spec = _lr_spec(narrow_space(space, found, 1437))
    # batch 16: base = effective * 256 / 16 -> 0.016 .. 0.8; batch 256: as measured
    assert (spec["low"], spec["high"]) == (0.003, 0.8)
    assert spec["scale_with"] == "batch_size" and spec["rule"] == "linear"
    assert all(0.003 <= g <= 0.8 for g in spec["grid"]) and len(spec["grid"]) == 3


def test_narrow_space_disjoint_range_is_an_error():
    from tuner.errors import SearchSpaceError
    from tuner.experiment.lr import narrow_space
    from tuner.spaces import SearchSpace

    space = SearchSpace.load("mlp_default")
    with pytest.raises(SearchSpaceError, match=r"learning_rate_init: suggested range 0.3..3 "
                                               r"does not overlap the space's 0.0001..0.1"):
        narrow_space(space, _found((32, 0.3, 3.0)), 1437)


def test_narrow_space_skips_curves_whose_loss_never_fell():
    from tuner.errors import SearchSpaceError
    from tuner.experiment.lr import narrow_space
    from tuner.spaces import SearchSpace

    space = SearchSpace.load("mlp_default")
    spec = _lr_spec(narrow_space(space, _found((32, 1e-6, 1e-6), (64, 1e-3, 1e-2)), 1437))
    assert (spec["low"], spec["high"]) == (1e-3, 1e-2)
    with pytest.raises(SearchSpaceError, match="the loss fell at no tested learning rate"):
        narrow_space(space, _found((32, 1e-6, 1e-6)), 1437)


def test_narrow_space_filters_categorical_choices():
    from tuner.experiment.lr import narrow_space
    from tuner.spaces import SearchSpace

    space = SearchSpace.load({"parameters": {"learning_rate_init": {
        "type": "categorical", "choices": [1e-4, 1e-3, 1e-2, 1e-1], "grid": [1e-4, 1e-2]}}})
    spec = _lr_spec(narrow_space(space, _found((32, 5e-4, 0.05)), 100))
    assert spec["choices"] == [1e-3, 1e-2] and spec["grid"] == [1e-2]
