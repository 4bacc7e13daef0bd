"""fit and partial_fit of tuner's MLPs: epochs, updates, optimizers, schedules, stopping."""

import warnings

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import load_digits, make_regression
from sklearn.exceptions import ConvergenceWarning

from tuner.estimators import MLPClassifier, MLPRegressor
from tuner.nn.network import forward_pass
from tuner.nn.training import DivergenceError

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X[:600] / 16.0, y[:600]

@pytest.fixture(scope="module")
def regression():
    X, y = make_regression(n_samples=200, n_features=5, noise=1.0, random_state=0)
    return X, y / y.std()


def test_classifier_same_random_state_gives_identical_coefs(digits):
    X, y = digits
    params = dict(hidden_layer_sizes=(16,), max_iter=3, random_state=7, dropout=0.2)
    a, b = MLPClassifier(**params).fit(X, y), MLPClassifier(**params).fit(X, y)
    for wa, wb in zip(a.coefs_ + a.intercepts_, b.coefs_ + b.intercepts_, strict=True):
        np.testing.assert_array_equal(wa, wb)
    c = MLPClassifier(**{**params, "random_state": 8}).fit(X, y)
    assert not np.array_equal(a.coefs_[0], c.coefs_[0])


def test_classifier_dropout_changes_training_not_prediction(digits):
    X, y = digits
    plain = MLPClassifier((32,), max_iter=3, random_state=0).fit(X, y)
    dropped = MLPClassifier((32,), max_iter=3, random_state=0, dropout=0.5).fit(X, y)
    assert not np.allclose(plain.coefs_[0], dropped.coefs_[0])
    # prediction is the plain forward pass (no mask, no rescaling) and is deterministic
    expected = forward_pass(X, dropped.coefs_, dropped.intercepts_, "relu", "softmax")
    np.testing.assert_array_equal(dropped.predict_proba(X), expected)
    np.testing.assert_array_equal(dropped.predict_proba(X), dropped.predict_proba(X))


@pytest.mark.parametrize(("batch_size", "per_epoch"), [(1, 600), (64, 10), ("auto", 3),
                                                       ("full", 1)])
def test_classifier_n_updates_counts_minibatches(digits, batch_size, per_epoch):
    X, y = digits
    clf = MLPClassifier((8,), max_iter=2, batch_size=batch_size, random_state=0).fit(X, y)
    assert (clf.n_iter_, clf.t_, clf.n_updates_) == (2, 1200, 2 * per_epoch)


@pytest.mark.parametrize(("solver", "lr"), [("sgd", 0.1), ("rmsprop", 0.003), ("adam", 0.003)])
def test_classifier_optimizers_converge_on_digits(digits, solver, lr):
    X, y = digits
    clf = MLPClassifier((32,), solver=solver, learning_rate_init=lr, batch_size=32,
                        max_iter=15, random_state=0).fit(X, y)
    assert clf.score(X, y) > 0.95
    assert clf.loss_curve_[-1] < 0.5 * clf.loss_curve_[0]


def test_classifier_early_stopping_restores_best_weights(digits):
    X, y = digits
    clf = MLPClassifier((32,), max_iter=60, early_stopping=True, n_iter_no_change=3,
                        learning_rate_init=0.05, random_state=0).fit(X, y)
    scores = clf.validation_scores_
    assert clf.n_iter_ == len(scores) < 60
    assert clf.best_validation_score_ == max(scores) and clf.best_loss_ is None
    best_epoch = int(np.argmax(scores))
    assert len(scores) - 1 - best_epoch >= 3  # stopped after the patience ran out
    # refit with the same seed for exactly best_epoch + 1 epochs: the same weights
    again = clone(clf).set_params(max_iter=best_epoch + 1, n_iter_no_change=1000).fit(X, y)
    np.testing.assert_array_equal(clf.coefs_[0], again.coefs_[0])


def test_classifier_divergence_error_names_epoch_and_learning_rate(digits):
    X, y = digits
    for activation in ("relu", "identity"):
        clf = MLPClassifier((16,), activation=activation, solver="sgd", learning_rate_init=1e3,
                            random_state=0)
        with pytest.raises(DivergenceError, match=r"epoch \d+ \(learning rate 1000\)") as info:
            clf.fit(X, y)
        assert f"epoch {info.value.epoch} " in str(info.value)


def test_regressor_divergence_is_floating_point_error(regression):
    X, y = regression
    reg = MLPRegressor((16,), solver="sgd", learning_rate_init=1e3, batch_size="full",
                       random_state=0)
    with pytest.raises(FloatingPointError, match="learning rate 1000"):
        reg.fit(X, y * 1e3)


def test_fit_equals_repeated_partial_fit(digits):
    X, y = digits
    params = dict(hidden_layer_sizes=(16,), max_iter=4, random_state=3, batch_size=50,
                  dropout=0.3, solver="sgd", learning_rate="step", lr_step_size=1,
                  lr_gamma=0.5)
    fitted = MLPClassifier(**params).fit(X, y)
    stepped = MLPClassifier(**params)
    for _ in range(4):
        stepped.partial_fit(X, y, classes=np.unique(y))
    assert stepped.n_iter_ == 4 and stepped.n_updates_ == fitted.n_updates_ == 48
    np.testing.assert_array_equal(fitted.coefs_[0], stepped.coefs_[0])
    assert stepped.loss_curve_ == fitted.loss_curve_


def test_partial_fit_honours_schedule_by_epoch(regression):
    X, y = regression
    reg = MLPRegressor((8,), solver="sgd", learning_rate="step", lr_step_size=1, lr_gamma=1e-12,
                       momentum=0.0, learning_rate_init=0.01, random_state=0)
    reg.partial_fit(X, y)
    after_first = reg.coefs_[0].copy()
    reg.partial_fit(X, y)  # epoch 2 runs at 1e-14: the weights barely move
    np.testing.assert_allclose(reg.coefs_[0], after_first, rtol=0, atol=1e-10)
    assert reg.n_iter_ == 2 and reg.t_ == 400


def test_partial_fit_runs_one_epoch_and_keeps_optimizer_state(digits):
    X, y = digits
    clf = MLPClassifier((8,), batch_size=100, random_state=0)
    clf.partial_fit(X, y, classes=np.arange(10))
    optimizer = clf._trainer.optimizer
    clf.partial_fit(X[:300], y[:300])
    assert clf._trainer.optimizer is optimizer and optimizer.t == 6 + 3
    assert (clf.n_iter_, clf.t_, clf.n_updates_, len(clf.loss_curve_)) == (2, 900, 9, 2)


@pytest.mark.parametrize("Estimator", [MLPClassifier, MLPRegressor])
def test_partial_fit_max_updates_stops_the_epoch_early(digits, Estimator):
    X, y = digits  # 600 rows, batch 7: 86 updates per epoch
    kwargs = {"classes": np.arange(10)} if Estimator is MLPClassifier else {}
    est = Estimator((8,), batch_size=7, random_state=0)
    est.partial_fit(X, y, max_updates=5, **kwargs)
    assert (est.n_iter_, est.n_updates_, est.t_) == (1, 5, 35)
    assert est._trainer.optimizer.t == 5
    est.partial_fit(X, y, max_updates=1000)  # more than an epoch: the whole epoch
    assert (est.n_iter_, est.n_updates_, est.t_) == (2, 5 + 86, 35 + 600)


def test_init_glorot_and_he_set_the_hidden_layer_bounds(digits):
    X, y = digits  # 64 features -> 32 hidden units -> 10 classes
    bounds = {"he": np.sqrt(6 / 64), "glorot": np.sqrt(6 / (64 + 32))}
    for init in ("auto", "he", "glorot"):
        clf = MLPClassifier((32,), init=init, max_iter=1, learning_rate_init=1e-12,
                            random_state=0).fit(X, y)
        bound = bounds["he" if init == "auto" else init]  # auto: He before relu
        assert bound * 0.95 < np.abs(clf.coefs_[0]).max() <= bound
        assert np.abs(clf.coefs_[1]).max() <= np.sqrt(6 / (32 + 10))  # output: Glorot
    clf = MLPClassifier((32,), activation="tanh", max_iter=1, learning_rate_init=1e-12,
                        random_state=0).fit(X, y)
    assert np.abs(clf.coefs_[0]).max() <= bounds["glorot"]


def test_warm_start_continues_from_user_set_coefs(regression):
    X, y = regression
    reg = MLPRegressor((8,), max_iter=2, random_state=0).fit(X, y)
    reg.set_params(warm_start=True, learning_rate_init=1e-12, max_iter=1)
    reg.coefs_ = [np.full_like(c, 0.01) for c in reg.coefs_]
    reg.fit(X, y)
    np.testing.assert_allclose(reg.coefs_[0], 0.01, atol=1e-9)
    assert reg.t_ == 600 and len(reg.loss_curve_) == 3


def test_dtype_float32_is_preserved_and_forced(digits):
    X, y = digits
    clf = MLPClassifier((8,), max_iter=2, random_state=0).fit(X.astype(np.float32), y)
    assert clf.coefs_[0].dtype == np.float32 and clf.predict_proba(X).dtype == np.float32
    forced = MLPClassifier((8,), max_iter=2, random_state=0, dtype="float32").fit(X, y)
    assert forced.coefs_[0].dtype == np.float32
    assert MLPClassifier((8,), max_iter=2).fit(X.astype(int), y).coefs_[0].dtype == np.float64


def test_fit_warns_when_max_iter_reached(digits):
    X, y = digits
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        MLPClassifier((4,), max_iter=1).fit(X, y)
    assert any(issubclass(w.category, ConvergenceWarning) for w in caught)


def test_regressor_multioutput_and_l2_in_loss(regression):
    X, y = regression
    Y = np.column_stack([y, -y])
    params = dict(hidden_layer_sizes=(16,), max_iter=50, batch_size=32, learning_rate_init=0.01,
                  random_state=0)
    reg = MLPRegressor(alpha=0.0, **params).fit(X, Y)
    assert reg.predict(X).shape == (200, 2) and reg.score(X, Y) > 0.95
    heavy = MLPRegressor(alpha=100.0, **params).fit(X, Y)
    assert np.abs(heavy.coefs_[0]).sum() < np.abs(reg.coefs_[0]).sum()


@pytest.mark.parametrize(("n_threads", "expected"), [(1, 1), (None, 2)])
def test_fit_limits_blas_threads_to_n_threads(digits, monkeypatch, n_threads, expected):
    from threadpoolctl import threadpool_info, threadpool_limits

    from tuner.nn.training import Trainer

    seen, run_epoch = [], Trainer.run_epoch

    def spying_run_epoch(self, *args, **kwargs):
        seen.append({pool["num_threads"] for pool in threadpool_info()
                     if pool["user_api"] == "blas"})
        return run_epoch(self, *args, **kwargs)

    monkeypatch.setattr(Trainer, "run_epoch", spying_run_epoch)
    X, y = digits
    with threadpool_limits(limits=2, user_api="blas"):  # the process allows two
        MLPClassifier((8,), max_iter=2, n_threads=n_threads, random_state=0).fit(X, y)
    assert seen == [{expected}, {expected}]


def _user_weights(n_features, hidden, n_outputs):
    rng = np.random.default_rng(0)
    sizes = [n_features, hidden, n_outputs]
    coefs = [rng.uniform(-0.5, 0.5, (i, o)) for i, o in zip(sizes[:-1], sizes[1:], strict=True)]
    return coefs, [np.zeros(o) for o in sizes[1:]]


@pytest.mark.parametrize("call", ["warm_start_fit", "partial_fit"])
@pytest.mark.parametrize("Estimator", [MLPClassifier, MLPRegressor])
def test_user_set_weights_on_unfitted_estimator_are_trained(digits, call, Estimator):
    X, y = digits
    n_outputs = 10 if Estimator is MLPClassifier else 1
    est = Estimator((3,), solver="sgd", momentum=0.0, learning_rate_init=1e-6, max_iter=1,
                    warm_start=call == "warm_start_fit", random_state=0)
    coefs, intercepts = _user_weights(X.shape[1], 3, n_outputs)
    est.coefs_, est.intercepts_ = [c.copy() for c in coefs], intercepts
    if call == "partial_fit":
        kwargs = {"classes": np.arange(10)} if Estimator is MLPClassifier else {}
        est.partial_fit(X, y, **kwargs)
    else:
        est.fit(X, y)
    np.testing.assert_allclose(est.coefs_[0], coefs[0], atol=1e-4)  # trained from them
    assert not np.array_equal(est.coefs_[0], coefs[0])
    assert est.n_iter_ == 1 and est.n_features_in_ == X.shape[1]
    np.testing.assert_array_equal(est._network.coefs[0], est.coefs_[0])


def test_sklearn_worked_example_from_user_set_weights():
    # scikit-learn's test_mlp.py::test_fit: one SGD step from given weights
    X, y = np.array([[0.6, 0.8, 0.7]]), np.array([0])
    mlp = MLPClassifier(solver="sgd", learning_rate_init=0.1, alpha=0.1, activation="logistic",
                        random_state=1, max_iter=1, hidden_layer_sizes=2, momentum=0)
    mlp.coefs_ = [np.array([[0.1, 0.2], [0.3, 0.1], [0.5, 0]]), np.array([[0.1], [0.2]])]
    mlp.intercepts_ = [np.array([0.1, 0.1]), np.array([1.0])]
    mlp.partial_fit(X, y, classes=[0, 1])
    np.testing.assert_allclose(mlp.intercepts_[1], [0.9235], atol=1e-3)
    assert mlp.predict_proba(X)[0, 1] == pytest.approx(0.739, abs=1e-3)


@pytest.mark.parametrize("Estimator", [MLPClassifier, MLPRegressor])
def test_epochs_on_trains_exactly_like_repeated_partial_fit(Estimator):
    X, y = load_digits(return_X_y=True)
    X, y = X[:300] / 16, y[:300] if Estimator is MLPClassifier else y[:300] / 9.0
    weight = np.random.default_rng(0).uniform(0.5, 2, len(y))
    kwargs = {"classes": np.unique(y)} if Estimator is MLPClassifier else {}
    repeated, hooked = (Estimator((16,), batch_size=32, random_state=0) for _ in range(2))
    for est in (repeated, hooked):
        est.partial_fit(X, y, sample_weight=weight, **kwargs)
    run_epoch = hooked._epochs_on(X, y, sample_weight=weight)
    for _ in range(3):
        repeated.partial_fit(X, y, sample_weight=weight)
        run_epoch()
    run_epoch(max_updates=2)
    repeated.partial_fit(X, y, sample_weight=weight, max_updates=2)
    for a, b in zip(repeated.coefs_ + repeated.intercepts_, hooked.coefs_ + hooked.intercepts_,
                    strict=True):
        np.testing.assert_array_equal(a, b)
    assert (hooked.n_iter_, hooked.n_updates_, hooked.loss_curve_, hooked.best_loss_) == \
        (repeated.n_iter_, repeated.n_updates_, repeated.loss_curve_, repeated.best_loss_)
    np.testing.assert_array_equal(hooked._network_output(hooked._checked_inputs(X)),
                                  repeated._output(X))
