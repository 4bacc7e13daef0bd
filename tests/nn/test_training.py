"""Tests of tuner.nn.training and the network's buffers."""

import pickle

import numpy as np
import pytest

from tuner.nn.network import MLPNetwork
from tuner.nn.optimizers import get_optimizer
from tuner.nn.training import (
    DivergenceError,
    EarlyStopper,
    Plateau,
    Trainer,
    resolve_batch_size,
)


def _linear_problem(n=50, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    return X, X @ np.array([[1.0], [-2.0], [0.5]])


def _trainer(batch_size, *, solver="sgd", seed=0, shuffle=True, **options):
    rng = np.random.default_rng(seed)
    net = MLPNetwork([3, 1], activation="identity")
    net.initialize(rng)
    optimizer = get_optimizer(solver, net.params, net.grads, momentum=0.0)
    return Trainer(net, optimizer, batch_size=batch_size, rng=rng, shuffle=shuffle, **options)


@pytest.mark.parametrize(("batch_size", "expected"), [(1, 50), (8, 7), ("auto", 1), ("full", 1)])
def test_trainer_epoch_makes_one_update_per_minibatch(batch_size, expected):
    X, Y = _linear_problem()
    result = _trainer(batch_size).run_epoch(X, Y, 0.01)
    assert (result.n_updates, result.n_samples) == (expected, 50)


def test_resolve_batch_size_rules():
    assert [resolve_batch_size(b, 300) for b in ("auto", "full", 1, 64, 1000)] == [
        200, 300, 1, 64, 300]


def test_trainer_without_shuffle_visits_rows_in_order():
    X, Y = _linear_problem(n=6)
    seen = []
    trainer = _trainer(2, shuffle=False)
    original = trainer.network.loss_and_grad

    def spy(Xb, Yb, **kwargs):
        seen.append(Xb[:, 0].copy())
        return original(Xb, Yb, **kwargs)

    trainer.network.loss_and_grad = spy
    trainer.run_epoch(X, Y, 0.0)
    np.testing.assert_array_equal(np.concatenate(seen), X[:, 0])


def test_trainer_epoch_loss_is_size_weighted_mean_of_batch_losses():
    X, Y = _linear_problem(n=10)
    losses = []
    result = _trainer(4).run_epoch(X, Y, 0.01, on_batch=lambda i, lr, loss: losses.append(loss))
    assert result.loss == pytest.approx((4 * losses[0] + 4 * losses[1] + 2 * losses[2]) / 10)


def test_trainer_per_batch_learning_rate_and_early_stop_from_callback():
    X, Y = _linear_problem(n=40)
    seen = []

    def on_batch(i, lr, loss):
        seen.append(lr)
        return i == 2

    result = _trainer(10).run_epoch(X, Y, lambda i: 0.1 * 2**i, on_batch=on_batch)
    assert seen == [0.1, 0.2, 0.4]
    assert result.stopped and result.n_updates == 2


def test_trainer_raises_divergence_error_naming_epoch_and_rate():
    X, Y = _linear_problem()
    trainer = _trainer("full")
    epoch = 0
    with pytest.raises(DivergenceError, match=r"epoch \d+ \(learning rate 1000\)") as info:
        for epoch in range(1, 100):
            trainer.run_epoch(X * 100, Y, 1000.0, epoch=epoch)
    assert isinstance(info.value, FloatingPointError) and isinstance(info.value, ValueError)
    assert f"epoch {epoch} " in str(info.value)
    assert (info.value.epoch, info.value.learning_rate) == (epoch, 1000.0)
    copy = pickle.loads(pickle.dumps(info.value))  # worker processes send it back
    assert (type(copy), str(copy), copy.epoch) == (DivergenceError, str(info.value), epoch)


def test_trainer_l2_uses_alpha_over_epoch_rows():
    X, Y = _linear_problem(n=20)
    trainer = _trainer("full", alpha=2.0)
    losses = []
    trainer.run_epoch(X, Y, 0.0, on_batch=lambda i, lr, loss: losses.append(loss))
    W = trainer.network.coefs[0]
    plain = trainer.network.loss_and_grad(X, Y, l2=0.0)
    assert losses[0] == pytest.approx(plain + 0.5 * (2.0 / 20) * np.sum(W**2))


def test_plateau_follows_sklearn_rule():
    plateau = Plateau(tol=0.1, n_iter_no_change=2, mode="min")
    stops = []
    for loss in (1.0, 0.5, 0.45, 0.44, 0.43):
        plateau.update(loss)
        stops.append(plateau.should_stop)
    assert stops == [False, False, False, False, True]
    assert plateau.best == 0.43


def test_early_stopper_restores_best_parameters():
    params = np.zeros(2)
    scores = iter([0.2, 0.8, 0.5, 0.4, 0.3])
    stopper = EarlyStopper(params, tol=0.0, n_iter_no_change=2, validate=lambda: next(scores))
    epochs = 0
    for epoch in range(5):
        params[:] = epoch
        epochs += 1
        if stopper.after_epoch(loss=0.0):
            break
    stopper.restore()
    assert epochs == 5 and stopper.validation_scores == [0.2, 0.8, 0.5, 0.4, 0.3]
    np.testing.assert_array_equal(params, [1.0, 1.0])
    assert (stopper.best_validation_score, stopper.best_loss) == (0.8, None)


def test_network_views_alias_flat_buffer_and_survive_pickle():
    net = MLPNetwork([3, 4, 2], activation="tanh", out_activation="softmax")
    net.initialize(np.random.default_rng(0))
    net.coefs[1][0, 0] = 42.0
    assert net.params[3 * 4] == 42.0
    clone = pickle.loads(pickle.dumps(net))
    clone.params[:] = 1.0
    assert clone.coefs[1][0, 0] == 1.0 and clone.layers[1].W[0, 0] == 1.0
    assert net.coefs[1][0, 0] == 42.0


def test_network_float32_buffers_stay_float32():
    net = MLPNetwork([3, 4, 2], activation="relu", out_activation="softmax", dtype=np.float32,
                     dropout=0.5)
    net.initialize(np.random.default_rng(0))
    X = np.ones((5, 3), np.float32)
    Y = np.eye(2, dtype=np.float32)[[0, 1, 0, 1, 0]]
    net.loss_and_grad(X, Y, l2=0.1, rng=np.random.default_rng(1))
    ws = net.workspace(5)
    assert {a.dtype for a in (net.params, net.grads, ws.P, *ws.H, *ws.M, *ws.D)} == {
        np.dtype(np.float32)}


def test_trainer_raises_when_loss_explodes_while_finite():
    X, Y = _linear_problem()
    trainer = _trainer("full")
    trainer.run_epoch(X, Y, 0.0)
    reference = trainer.reference_loss
    trainer.network.params[:] = 1e6  # finite but absurd weights
    with pytest.raises(DivergenceError, match="exploded"):
        trainer.run_epoch(X, Y, 0.0, epoch=2)
    assert reference == max(1.0, reference)


def test_trainer_integer_weights_train_like_repeated_rows():
    X, Y = _linear_problem(n=12)
    w = np.array([0, 1, 2, 3, 1, 1, 0, 2, 1, 4, 1, 1])
    weighted, repeated = _trainer("full", alpha=0.5), _trainer("full", alpha=0.5)
    for _ in range(5):
        a = weighted.run_epoch(X, Y, 0.05, sample_weight=w.astype(float))
        b = repeated.run_epoch(X.repeat(w, axis=0), Y.repeat(w, axis=0), 0.05)
        assert a.loss == pytest.approx(b.loss, rel=1e-10)
    np.testing.assert_allclose(weighted.network.params, repeated.network.params, rtol=1e-10)


def test_trainer_weights_follow_their_rows_and_keep_batches():
    X, Y = _linear_problem(n=10)
    w = np.arange(10, dtype=float)
    seen = []
    trainer = _trainer(4)
    original = trainer.network.loss_and_grad

    def spy(Xb, Yb, **kwargs):
        seen.append((Xb.shape[0], Xb[:, 0].copy(), kwargs["sample_weight"].copy()))
        return original(Xb, Yb, **kwargs)

    trainer.network.loss_and_grad = spy
    losses = []
    result = trainer.run_epoch(X, Y, 0.0, sample_weight=w,
                               on_batch=lambda i, lr, loss: losses.append(loss))
    assert [size for size, _, _ in seen] == [4, 4, 2]
    rows = np.concatenate([x for _, x, _ in seen])
    order = [int(np.flatnonzero(X[:, 0] == x)[0]) for x in rows]
    np.testing.assert_array_equal(np.concatenate([b for _, _, b in seen]), w[order])
    masses = [b.sum() for _, _, b in seen]
    assert result.loss == pytest.approx(np.dot(losses, masses) / w.sum())


def test_trainer_sparse_input_densifies_per_batch_and_matches_dense():
    sparse = pytest.importorskip("scipy.sparse")
    X, Y = _linear_problem(n=30)
    X[np.abs(X) < 0.8] = 0.0
    dense, csr = _trainer(8), _trainer(8)
    shapes = []
    original = csr.network.loss_and_grad

    def spy(Xb, Yb, **kwargs):
        shapes.append((type(Xb), Xb.shape))
        return original(Xb, Yb, **kwargs)

    csr.network.loss_and_grad = spy
    for _ in range(3):
        a = dense.run_epoch(X, Y, 0.05)
        b = csr.run_epoch(sparse.csr_matrix(X), Y, 0.05)
        assert a.loss == pytest.approx(b.loss, rel=1e-12)
    np.testing.assert_allclose(dense.network.params, csr.network.params, rtol=1e-12)
    assert set(shapes) == {(np.ndarray, (8, 3)), (np.ndarray, (6, 3))}
