"""The compiled kernels (tuner.nn.compiled, the ``fast`` extra) against the numpy reference.

Every hidden activation x output loss x optimizer trains twice from the same seed,
with dropout, L2, a learning-rate schedule and sample weights, once with the
kernels and once with ``TUNER_ACCELERATE=0``; the weights must agree to
``1e-12`` (float64) / ``1e-5`` (float32) relative to their largest magnitude.
Without numba these tests skip, except under ``CI=true`` where they fail.
"""

import importlib.util
import pickle
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest
from conftest import requires_or_ci

from tuner.nn import accelerate
from tuner.nn.activations import HIDDEN_ACTIVATIONS
from tuner.nn.network import MLPNetwork
from tuner.nn.optimizers import get_optimizer
from tuner.nn.schedules import LearningRateSchedule
from tuner.nn.training import Trainer

HAS_NUMBA = importlib.util.find_spec("numba") is not None
TOLERANCE = {np.float64: 1e-12, np.float32: 1e-5}
OPTIMIZERS = {"adam": ("adam", {}), "rmsprop": ("rmsprop", {}),
              "momentum": ("sgd", {"momentum": 0.9, "nesterov": False}),
              "nesterov": ("sgd", {"momentum": 0.9, "nesterov": True}),
              "sgd": ("sgd", {"momentum": 0.0, "nesterov": False})}


@pytest.fixture
def numba_required():
    requires_or_ci(HAS_NUMBA, "needs numba (pip install -e '.[fast]')")


def _problem(out_activation, dtype, n=150, seed=0):
    """Inputs, targets for ``out_activation`` and sample weights (some zero)."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 6))
    if out_activation == "softmax":
        Y = np.eye(4)[rng.integers(0, 4, n)]
    elif out_activation == "logistic":
        Y = (rng.random((n, 3)) < 0.4).astype(float)
    else:
        Y = np.c_[X[:, :2].sum(axis=1), np.tanh(X[:, 2])]
    weights = rng.uniform(0.0, 2.0, n)
    weights[::7] = 0.0
    return X.astype(dtype), Y.astype(dtype), weights.astype(dtype)


def _train(monkeypatch, accelerated, activation, out_activation, optimizer, dtype, *,
           dropout=0.2, alpha=1e-3, epochs=4, batch_size=32):
    """Train a 6-16-12-k network; returns (params, epoch losses, kernels used)."""
    monkeypatch.setenv(accelerate.ENV, "1" if accelerated else "0")
    X, Y, weights = _problem(out_activation, dtype)
    rng = np.random.default_rng(1)
    net = MLPNetwork([6, 16, 12, Y.shape[1]], activation=activation,
                     out_activation=out_activation, dtype=dtype, dropout=dropout)
    net.initialize(rng)
    solver, options = OPTIMIZERS[optimizer]
    opt = get_optimizer(solver, net.params, net.grads, **options)
    trainer = Trainer(net, opt, batch_size=batch_size, alpha=alpha, rng=rng)
    schedule = LearningRateSchedule("cosine", 0.02 if solver == "sgd" else 0.005,
                                    warmup_epochs=1, max_iter=epochs)
    losses = [trainer.run_epoch(X, Y, schedule(e), sample_weight=weights).loss
              for e in range(epochs)]
    return net.params.copy(), losses, net.workspace(batch_size).kernels


def _relative(a, b):
    """``max |a - b| / max |b|``."""
    return float(np.abs(a.astype(float) - b).max() / np.abs(b.astype(float)).max())


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("optimizer", list(OPTIMIZERS))
@pytest.mark.parametrize("out_activation", ["softmax", "logistic", "identity"])
@pytest.mark.parametrize("activation", HIDDEN_ACTIVATIONS)
def test_compiled_training_matches_numpy(numba_required, monkeypatch, activation,
                                         out_activation, optimizer, dtype):
    fast, fast_losses, kernels = _train(monkeypatch, True, activation, out_activation,
                                        optimizer, dtype)
    ref, ref_losses, no_kernels = _train(monkeypatch, False, activation, out_activation,
                                         optimizer, dtype)
    assert kernels is not None and no_kernels is None
    assert fast.dtype == ref.dtype == dtype
    assert not np.array_equal(ref, _train(monkeypatch, False, activation, out_activation,
                                          optimizer, dtype, epochs=1)[0]), "it trained"
    assert _relative(fast, ref) <= TOLERANCE[dtype]
    np.testing.assert_allclose(fast_losses, ref_losses, rtol=10 * TOLERANCE[dtype])


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("activation", HIDDEN_ACTIVATIONS)
def test_compiled_gradient_matches_numpy_without_weights_or_dropout(
        numba_required, monkeypatch, activation, dtype):
    X, Y, _ = _problem("softmax", dtype)
    grads = []
    for flag in ("1", "0"):
        monkeypatch.setenv(accelerate.ENV, flag)
        net = MLPNetwork([6, 16, 12, 4], activation=activation, out_activation="softmax",
                         dtype=dtype)
        net.initialize(np.random.default_rng(0))
        loss = net.loss_and_grad(X, Y, l2=0.01)
        grads.append((loss, net.grads.copy(), net.workspace(len(X)).kernels))
    (fast_loss, fast, kernels), (ref_loss, ref, no_kernels) = grads
    assert kernels is not None and no_kernels is None
    assert _relative(fast, ref) <= TOLERANCE[dtype]
    assert fast_loss == pytest.approx(ref_loss, rel=TOLERANCE[dtype])


def test_compiled_fixed_masks_match_numpy(numba_required, monkeypatch):
    X, Y, _ = _problem("identity", np.float64)
    masks = [np.where(np.random.default_rng(s).random((len(X), h)) < 0.3, 0.0, 1 / 0.7)
             for s, h in ((0, 16), (1, 12))]
    grads = []
    for flag in ("1", "0"):
        monkeypatch.setenv(accelerate.ENV, flag)
        net = MLPNetwork([6, 16, 12, 2], activation="tanh", dtype=np.float64)
        net.initialize(np.random.default_rng(0))
        net.loss_and_grad(X, Y, masks=masks)
        grads.append(net.grads.copy())
    assert _relative(*grads) <= 1e-12


def test_accelerate_off_switch_and_other_dtypes(monkeypatch):
    monkeypatch.setenv(accelerate.ENV, "0")
    assert accelerate.kernels(np.float64) is None
    monkeypatch.delenv(accelerate.ENV)
    assert accelerate.kernels(np.float16) is None
    assert (accelerate.kernels(np.float64) is not None) == HAS_NUMBA


def test_accelerate_falls_back_to_numpy_when_numba_cannot_be_imported(monkeypatch):
    monkeypatch.setattr(accelerate.importlib.util, "find_spec", lambda name: object())
    monkeypatch.setitem(sys.modules, "tuner.nn.compiled", None)  # import raises ImportError
    monkeypatch.delattr(sys.modules["tuner.nn"], "compiled", raising=False)
    accelerate._load.cache_clear()
    try:
        with pytest.warns(RuntimeWarning, match="cannot be imported"):
            assert accelerate.kernels(np.float64) is None
    finally:
        monkeypatch.undo()
        accelerate._load.cache_clear()
    assert (accelerate.kernels(np.float64) is not None) == HAS_NUMBA


def test_accelerate_cache_dir_is_under_the_user_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert accelerate.cache_dir() == tmp_path / "tuner" / "numba"
    assert (tmp_path / "tuner" / "numba").is_dir()


def test_accelerate_cache_dir_falls_back_when_the_home_cache_is_not_writable(
        monkeypatch, tmp_path):
    (tmp_path / "file").write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "file"))  # a file: no directory in it
    path = accelerate.cache_dir()
    assert path.parent == Path(tempfile.gettempdir()) and "tuner-numba" in path.name


def test_compiled_network_and_optimizer_pickle(numba_required, monkeypatch):
    monkeypatch.setenv(accelerate.ENV, "1")
    X, Y, _ = _problem("softmax", np.float64)
    net = MLPNetwork([6, 8, 4], out_activation="softmax")
    net.initialize(np.random.default_rng(0))
    trainer = Trainer(net, get_optimizer("adam", net.params, net.grads), batch_size=50,
                      rng=np.random.default_rng(0))
    trainer.run_epoch(X, Y, 0.01)
    twin = pickle.loads(pickle.dumps(trainer))
    assert [trainer.run_epoch(X, Y, 0.01).loss for _ in range(2)] == \
        [twin.run_epoch(X, Y, 0.01).loss for _ in range(2)]
    np.testing.assert_array_equal(trainer.network.params, twin.network.params)


def test_import_and_first_estimator_do_not_import_numba():
    script = ("import sys, tuner\n"
              "from tuner import MLPClassifier\n"
              "MLPClassifier()\n"
              "import tuner.nn\n"
              "print('numba' in sys.modules)\n")
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "False"


def test_compiled_worker_process_loads_cached_kernels(numba_required, tmp_path):
    """A second process finds the machine code the first one cached in NUMBA_CACHE_DIR."""
    script = ("import numpy as np\n"
              "from tuner.nn import MLPNetwork\n"
              "net = MLPNetwork([3, 4, 2], out_activation='softmax')\n"
              "net.initialize(np.random.default_rng(0))\n"
              "print(net.loss_and_grad(np.ones((5, 3)), np.eye(2)[[0, 1, 0, 1, 0]]))\n")
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "TUNER_ACCELERATE": "1",
           "PYTHONPATH": ":".join(sys.path), "NUMBA_DEBUG_CACHE": "1"}  # logs saves / loads
    first, second = (subprocess.run([sys.executable, "-c", script], capture_output=True,
                                    text=True, timeout=300, env=env) for _ in range(2))
    assert first.returncode == second.returncode == 0, second.stderr
    assert first.stdout.splitlines()[-1] == second.stdout.splitlines()[-1]  # the same loss
    assert "data saved" in first.stdout
    assert "data loaded" in second.stdout and "data saved" not in second.stdout
    assert list((tmp_path / ".cache" / "tuner" / "numba").rglob("*.nbi")), "cached elsewhere"
