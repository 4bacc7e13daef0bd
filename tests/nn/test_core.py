"""Unit tests of tuner.nn: activations, losses, layers, optimizers, schedules."""

import math

import numpy as np
import pytest

from tuner.nn.activations import ACTIVATIONS, DERIVATIVES
from tuner.nn.layers import Dense, Dropout
from tuner.nn.losses import loss_and_delta
from tuner.nn.network import MLPNetwork
from tuner.nn.optimizers import SGD, Adam, RMSProp, get_optimizer
from tuner.nn.schedules import LearningRateSchedule
from tuner.nn.targets import UnknownLabelError, can_encode, encode_labels


def test_activations_match_reference_formulas():
    Z = np.linspace(-3, 3, 13).reshape(1, -1)
    expected = {
        "identity": Z, "relu": np.maximum(Z, 0), "tanh": np.tanh(Z),
        "logistic": 1 / (1 + np.exp(-Z)), "softmax": np.exp(Z) / np.exp(Z).sum(),
    }
    for name, reference in expected.items():
        np.testing.assert_allclose(ACTIVATIONS[name](Z.copy()), reference, rtol=1e-12)


def test_activations_logistic_is_finite_for_huge_inputs():
    out = ACTIVATIONS["logistic"](np.array([[-1000.0, 1000.0]]))
    np.testing.assert_array_equal(out, [[0.0, 1.0]])


@pytest.mark.parametrize("name", ["identity", "relu", "tanh", "logistic"])
def test_activation_derivative_matches_central_difference(name):
    Z = np.array([[-1.3, -0.2, 0.4, 2.0]])
    A = ACTIVATIONS[name](Z.copy())
    analytic = DERIVATIVES[name](A, np.ones_like(Z))
    h = 1e-6
    numeric = (ACTIVATIONS[name](Z + h) - ACTIVATIONS[name](Z - h)) / (2 * h)
    np.testing.assert_allclose(analytic, numeric, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize(("out", "expected_loss"), [
    ("identity", 0.5 * (0.2**2 + 0.2**2 + 0.7**2 + 0.7**2) / 2),
    ("softmax", -(np.log(0.8) + np.log(0.3)) / 2),
    ("logistic", -(2 * np.log(0.8) + 2 * np.log(0.3)) / 2),
])
def test_loss_and_delta_values(out, expected_loss):
    P = np.array([[0.8, 0.2], [0.7, 0.3]])
    Y = np.array([[1.0, 0.0], [0.0, 1.0]])
    D = np.empty_like(P)
    assert loss_and_delta(out, Y, P, D) == pytest.approx(expected_loss, rel=1e-12)
    np.testing.assert_allclose(D, (P - Y) / 2)


def test_dense_init_bounds_he_and_glorot():
    rng = np.random.default_rng(0)
    for init, bound in (("he", np.sqrt(6 / 400)), ("glorot", np.sqrt(6 / 500))):
        W, b = np.empty((400, 100)), np.ones(100)
        Dense(W, b, W.copy(), b.copy(), init=init).initialize(rng)
        assert np.abs(W).max() <= bound
        assert np.abs(W).max() > 0.99 * bound
        np.testing.assert_array_equal(b, 0.0)


def test_network_uses_he_before_relu_and_glorot_before_output():
    net = MLPNetwork([10, 20, 3], activation="relu")
    assert [layer.init for layer in net.layers] == ["he", "glorot"]
    net = MLPNetwork([10, 20, 3], activation="tanh")
    assert [layer.init for layer in net.layers] == ["glorot", "glorot"]
    net = MLPNetwork([10, 20, 20, 3], activation="relu", init="glorot")
    assert [layer.init for layer in net.layers] == ["glorot", "glorot", "glorot"]
    net = MLPNetwork([10, 20, 3], activation="tanh", init="he")
    assert [layer.init for layer in net.layers] == ["he", "glorot"]


def test_dropout_mask_values_and_rate():
    mask = Dropout(0.25).sample(np.random.default_rng(0), np.empty((200, 500), np.float32))
    assert mask.dtype == np.float32
    assert set(np.unique(mask).tolist()) == {0.0, np.float32(1 / 0.75)}
    assert (mask == 0).mean() == pytest.approx(0.25, abs=0.01)
    assert mask.mean() == pytest.approx(1.0, abs=0.01)  # inverted: expectation unchanged


def test_sgd_nesterov_step_matches_formula():
    p, g = np.array([1.0]), np.array([0.5])
    opt = SGD(p, g, momentum=0.9, nesterov=True)
    opt.step(0.1)  # v = -0.05; update = 0.9 v - 0.1 g = -0.095
    opt.step(0.1)  # v = 0.9 (-0.05) - 0.05 = -0.095; update = 0.9 v - 0.05 = -0.1355
    assert p[0] == pytest.approx(1.0 - 0.095 - 0.1355, rel=1e-12)


def test_rmsprop_step_matches_formula():
    p, g = np.array([1.0]), np.array([2.0])
    RMSProp(p, g, rho=0.9, epsilon=0.0).step(0.01)  # s = 0.1 * 4; update = -0.01 * 2 / sqrt(s)
    assert p[0] == pytest.approx(1.0 - 0.01 * 2 / math.sqrt(0.4), rel=1e-12)


def test_adam_two_steps_match_formula():
    p, g = np.array([1.0]), np.array([2.0])
    opt = Adam(p, g, beta_1=0.9, beta_2=0.999, epsilon=0.0)
    opt.step(0.1)
    g[0] = -1.0
    opt.step(0.1)
    m = 0.9 * 0.2 + 0.1 * -1.0
    v = 0.999 * 0.004 + 0.001 * 1.0
    lr_t = 0.1 * math.sqrt(1 - 0.999**2) / (1 - 0.9**2)
    assert p[0] == pytest.approx(1.0 - 0.1 - lr_t * m / math.sqrt(v), rel=1e-12)


@pytest.mark.parametrize("solver", ["sgd", "rmsprop", "adam"])
def test_optimizers_minimise_a_quadratic(solver):
    target = np.array([3.0, -2.0, 0.5])
    p, g = np.zeros(3), np.zeros(3)
    opt = get_optimizer(solver, p, g, momentum=0.5)
    for _ in range(2000):
        np.subtract(p, target, out=g)  # gradient of ||p - target||^2 / 2
        opt.step(0.01)
    np.testing.assert_allclose(p, target, atol=1e-2)


def test_get_optimizer_rejects_unknown_solver():
    with pytest.raises(ValueError, match="solver must be one of"):
        get_optimizer("lbfgs", np.zeros(1), np.zeros(1))


@pytest.mark.parametrize(("name", "options", "expected"), [
    ("constant", {}, [0.1, 0.1, 0.1, 0.1]),
    ("invscaling", {"power_t": 0.5}, [0.1, 0.1 / math.sqrt(2), 0.1 / math.sqrt(3), 0.05]),
    ("step", {"step_size": 2, "gamma": 0.1}, [0.1, 0.1, 0.01, 0.01]),
    ("cosine", {"max_iter": 4}, [0.1, 0.05 * (1 + math.cos(math.pi / 4)), 0.05,
                                 0.05 * (1 + math.cos(3 * math.pi / 4))]),
])
def test_schedules_produce_documented_values(name, options, expected):
    schedule = LearningRateSchedule(name, 0.1, **options)
    assert [schedule(e) for e in range(4)] == pytest.approx(expected, rel=1e-12)


def test_schedule_warmup_ramps_then_starts_schedule():
    schedule = LearningRateSchedule("step", 0.3, step_size=1, gamma=0.5, warmup_epochs=2)
    assert [schedule(e) for e in range(5)] == pytest.approx([0.1, 0.2, 0.3, 0.15, 0.075])


def test_schedule_cosine_stays_positive_after_horizon():
    schedule = LearningRateSchedule("cosine", 1.0, max_iter=10)
    assert schedule(50) == schedule(9) > 0


def test_schedule_rejects_unknown_name():
    with pytest.raises(ValueError, match="learning_rate must be one of"):
        LearningRateSchedule("adaptive", 0.1)


def test_encode_labels_one_hot_and_binary_columns():
    Y = encode_labels(np.array([9, 2, 9]), np.array([2, 5, 9]), dtype=np.float32)
    np.testing.assert_array_equal(Y, [[0, 0, 1], [1, 0, 0], [0, 0, 1]])
    assert Y.dtype == np.float32
    B = encode_labels(np.array(["n", "y", "y"]), np.array(["n", "y"]), binary=True)
    np.testing.assert_array_equal(B, [[0.0], [1.0], [1.0]])


@pytest.mark.parametrize("bad", [[1, 3], [10], [-1], [2.5]])
def test_encode_labels_rejects_unknown_labels(bad):
    with pytest.raises(UnknownLabelError, match=r"classes \[.*\] not among the known classes"):
        encode_labels(np.array(bad), np.array([0, 1, 2]))


def test_can_encode_needs_1d_labels_of_a_comparable_kind():
    ints, strings = np.arange(3), np.array(["a", "b"])
    assert can_encode(ints.astype(float), ints) and can_encode(strings, strings)
    assert not can_encode(strings, ints)
    assert not can_encode(np.eye(3, dtype=int), ints)
    assert not can_encode(strings.astype(object), strings)


def test_network_relu_training_pass_matches_prediction_pass():
    rng = np.random.default_rng(3)
    net = MLPNetwork([5, 7, 6, 3], activation="relu", out_activation="softmax")
    net.initialize(rng)
    X, Y = rng.normal(size=(9, 5)), np.eye(3)[rng.integers(0, 3, 9)]
    expected = -np.sum(Y * np.log(net.predict(X))) / 9
    assert net.loss_and_grad(X, Y) == pytest.approx(expected, rel=1e-12)
    np.testing.assert_array_equal(net.workspace(9).on[0], X @ net.coefs[0] + net.intercepts[0] > 0)
