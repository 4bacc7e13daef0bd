"""Finite-difference gradient checks for every hidden activation x output loss."""

import itertools

import numpy as np
import pytest

from tuner.nn.layers import Dropout
from tuner.nn.network import MLPNetwork

HIDDEN = ("identity", "relu", "tanh", "logistic")
OUTPUTS = ("identity", "softmax", "logistic")


def _problem(out_activation, rng, n=7, n_features=4, n_outputs=3):
    """Inputs and targets suited to the output activation (float64)."""
    X = rng.normal(size=(n, n_features))
    if out_activation == "softmax":
        Y = np.eye(n_outputs)[rng.integers(0, n_outputs, n)]
    elif out_activation == "logistic":
        Y = (rng.random((n, n_outputs)) > 0.5).astype(float)
    else:
        Y = rng.normal(size=(n, n_outputs))
    return X, Y


def _numeric_grad(net, X, Y, l2, masks, *, h=1e-6):
    """Central differences of the objective with respect to every parameter."""
    grad = np.empty_like(net.params)
    for k in range(net.params.size):
        saved = net.params[k]
        net.params[k] = saved + h
        plus = net.loss_and_grad(X, Y, l2=l2, masks=masks)
        net.params[k] = saved - h
        minus = net.loss_and_grad(X, Y, l2=l2, masks=masks)
        net.params[k] = saved
        grad[k] = (plus - minus) / (2 * h)
    return grad


def _relative_error(a, b):
    return np.linalg.norm(a - b) / max(np.linalg.norm(a) + np.linalg.norm(b), 1e-300)


@pytest.mark.parametrize(
    ("activation", "out_activation", "l2", "dropout"),
    [(a, o, l2, d) for a, o in itertools.product(HIDDEN, OUTPUTS)
     for l2, d in ((0.0, 0.0), (0.3, 0.0), (0.0, 0.4), (0.3, 0.4))],
)
def test_network_gradient_matches_finite_differences(activation, out_activation, l2, dropout):
    rng = np.random.default_rng(42)
    net = MLPNetwork([4, 5, 6, 3], activation=activation, out_activation=out_activation,
                     dropout=dropout)
    net.initialize(rng)
    net.params[net.n_coef:] = rng.normal(scale=0.1, size=net.params.size - net.n_coef)
    X, Y = _problem(out_activation, rng)
    if activation == "relu":  # keep pre-activations away from the kink at 0
        X *= 3.0
    masks = None
    if dropout:
        dropper = Dropout(dropout)
        masks = [dropper.sample(rng, np.empty((X.shape[0], h))) for h in (5, 6)]
    net.loss_and_grad(X, Y, l2=l2, masks=masks)
    analytic = net.grads.copy()
    numeric = _numeric_grad(net, X, Y, l2, masks)
    assert _relative_error(analytic, numeric) <= 1e-6


def test_network_dropout_mask_zeroes_gradient_of_dropped_units():
    rng = np.random.default_rng(0)
    net = MLPNetwork([3, 4, 2], activation="tanh", out_activation="softmax", dropout=0.5)
    net.initialize(rng)
    X, Y = _problem("softmax", rng, n_features=3, n_outputs=2)
    mask = np.ones((X.shape[0], 4)) * 2.0
    mask[:, 1] = 0.0  # unit 1 dropped for every sample
    net.loss_and_grad(X, Y, masks=[mask])
    np.testing.assert_array_equal(net.grad_coefs[0][:, 1], 0.0)
    np.testing.assert_array_equal(net.grad_coefs[1][1, :], 0.0)


def test_network_l2_adds_alpha_times_weights_to_gradient():
    rng = np.random.default_rng(1)
    net = MLPNetwork([3, 4, 1], activation="relu")
    net.initialize(rng)
    X, Y = _problem("identity", rng, n_features=3, n_outputs=1)
    base_loss = net.loss_and_grad(X, Y, l2=0.0)
    base = net.grads.copy()
    loss = net.loss_and_grad(X, Y, l2=0.5)
    W = net.params[:net.n_coef]
    assert loss == pytest.approx(base_loss + 0.25 * np.sum(W**2), rel=1e-12)
    np.testing.assert_allclose(net.grads[:net.n_coef], base[:net.n_coef] + 0.5 * W, rtol=1e-12)
    np.testing.assert_array_equal(net.grads[net.n_coef:], base[net.n_coef:])


@pytest.mark.parametrize("out_activation", OUTPUTS)
def test_network_integer_weights_equal_repeated_rows(out_activation):
    rng = np.random.default_rng(3)
    net = MLPNetwork([4, 5, 3], activation="tanh", out_activation=out_activation)
    net.initialize(rng)
    X, Y = _problem(out_activation, rng)
    w = np.array([0, 1, 3, 2, 1, 0, 4], dtype=float)
    loss = net.loss_and_grad(X, Y, l2=0.2, sample_weight=w)
    weighted = net.grads.copy()
    repeated_loss = net.loss_and_grad(X.repeat(w.astype(int), axis=0),
                                      Y.repeat(w.astype(int), axis=0), l2=0.2)
    assert loss == pytest.approx(repeated_loss, rel=1e-12)
    np.testing.assert_allclose(weighted, net.grads, rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("out_activation", OUTPUTS)
def test_network_weighted_gradient_matches_finite_differences(out_activation):
    rng = np.random.default_rng(5)
    net = MLPNetwork([4, 5, 3], activation="logistic", out_activation=out_activation)
    net.initialize(rng)
    X, Y = _problem(out_activation, rng)
    w = rng.random(X.shape[0]) * 3
    net.loss_and_grad(X, Y, l2=0.3, sample_weight=w)
    analytic = net.grads.copy()
    numeric = np.empty_like(net.params)
    for k in range(net.params.size):
        saved = net.params[k]
        net.params[k] = saved + 1e-6
        plus = net.loss_and_grad(X, Y, l2=0.3, sample_weight=w)
        net.params[k] = saved - 1e-6
        minus = net.loss_and_grad(X, Y, l2=0.3, sample_weight=w)
        net.params[k] = saved
        numeric[k] = (plus - minus) / 2e-6
    assert _relative_error(analytic, numeric) <= 1e-6


def test_network_zero_weight_batch_has_only_the_penalty_gradient():
    rng = np.random.default_rng(2)
    net = MLPNetwork([3, 4, 1], activation="relu")
    net.initialize(rng)
    X, Y = _problem("identity", rng, n_features=3, n_outputs=1)
    loss = net.loss_and_grad(X, Y, l2=0.5, sample_weight=np.zeros(X.shape[0]))
    W = net.params[:net.n_coef]
    assert loss == pytest.approx(0.25 * np.sum(W**2))
    np.testing.assert_allclose(net.grads[:net.n_coef], 0.5 * W)
    np.testing.assert_array_equal(net.grads[net.n_coef:], 0.0)
