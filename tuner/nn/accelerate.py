"""Compiled or numpy: the one place that chooses, and the compiled minibatch it drives.

With numba installed (``pip install tuner[fast]``) training runs the element-wise
passes of a minibatch through the fused kernels of :mod:`tuner.nn.compiled`; the
matrix products stay numpy's BLAS calls.  ``TUNER_ACCELERATE=0`` turns the kernels
off, and so does a dtype other than float32 / float64: training then runs the numpy
functions of ``network``, ``losses`` and ``optimizers``, which are the reference
the compiled path is tested against.

Nothing here imports numba until the first minibatch is trained, so ``import
tuner`` stays fast.  Before it is imported, ``NUMBA_CACHE_DIR`` defaults to
:func:`cache_dir` (a directory the user can write), where the compiled machine code
is cached, so that worker processes load it (~0.3 s) instead of compiling it
(~1 s per dtype).

Examples
--------
>>> kernels("float16") is None  # numpy only for dtypes other than float32 / float64
True
>>> k = kernels("float64")  # the compiled module, or None (no numba, TUNER_ACCELERATE=0)
"""

import contextlib
import functools
import importlib.util
import os
import tempfile
import warnings
from pathlib import Path

import numpy as np

ENV = "TUNER_ACCELERATE"
_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
_DERIVATIVE_CODE = {"identity": 0, "tanh": 2, "logistic": 3}  # compiled.activation_delta


def kernels(dtype):
    """The compiled kernels module for arrays of ``dtype``, or None for the numpy path.

    None when numba is not installed, when the environment variable
    ``TUNER_ACCELERATE`` is "0", or for a dtype other than float32 / float64.
    """
    if os.environ.get(ENV, "").strip() == "0" or np.dtype(dtype) not in _DTYPES:
        return None
    return _load()


def cache_dir():
    """Where numba caches compiled kernels: ``$XDG_CACHE_HOME/tuner/numba`` or ``~/.cache/...``.

    If that directory cannot be created or written (a read-only home), a per-user
    directory under the system's temporary directory.
    """
    path = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "tuner" / "numba"
    with contextlib.suppress(OSError):
        path.mkdir(parents=True, exist_ok=True)
    if os.access(path, os.W_OK):
        return path
    return Path(tempfile.gettempdir()) / f"tuner-numba-{os.getuid()}"


@functools.cache
def _load():
    """Import :mod:`tuner.nn.compiled` once (None without numba), caching in :func:`cache_dir`.

    A numba that is installed but cannot be imported (built for another numpy, say)
    warns once and leaves training on the numpy path.
    """
    if importlib.util.find_spec("numba") is None:
        return None
    os.environ.setdefault("NUMBA_CACHE_DIR", str(cache_dir()))  # read when numba is imported
    try:
        from . import compiled
    except ImportError as exc:
        warnings.warn(f"numba is installed but cannot be imported ({exc}); tuner trains with "
                      f"numpy (set {ENV}=0 to silence this)", RuntimeWarning, stacklevel=2)
        return None
    return compiled


def loss_and_grad(net, ws, X, Y, *, l2, rng, masks, weights):
    """The compiled ``MLPNetwork.loss_and_grad`` (same arguments, same results to rounding).

    ``ws`` is the network's workspace for ``X``'s rows (``ws.kernels`` set) and
    ``weights`` the normalised row weights or None.  The dropout uniforms are drawn
    from ``rng`` in the reference's order (every hidden layer before the forward pass).
    """
    k = ws.kernels
    sample = masks is None and net.dropout is not None and rng is not None
    if sample:
        for U in ws.M:
            rng.random(out=U, dtype=U.dtype)  # thresholded into masks by k.dropout
        masks = ws.M
    P = _forward(net, ws, X, masks, sample)
    loss = _output_loss_delta(net, ws, P, Y, weights)
    _backward(net, ws, X, masks)
    if l2:
        # J += l2/2 ||W||^2  =>  dJ/dW += l2 W   (one fused pass)
        W = net.params[:net.n_coef]
        loss += 0.5 * l2 * float(np.vdot(W, W))
        k.add_l2(W, net.grads[:net.n_coef], l2)
    return loss


def _forward(net, ws, X, masks, sample):
    """Hidden layers (BLAS product, then one fused pass each) into ``ws``; returns ``P``."""
    k, inputs, A = ws.kernels, ws.inputs, X
    inputs[0] = X
    for j, layer in enumerate(net.layers[:-1]):
        Z = np.dot(A, layer.W, out=ws.H[j])
        _hidden_activation(k, net.activation, Z, layer.b, ws.on[j] if ws.on else None)
        A = Z
        if masks is not None:
            out = ws.A[j] if ws.A is not ws.H else np.empty_like(Z)
            if sample:  # inverted dropout: M in {0, 1/(1-rate)}
                A = k.dropout(Z, masks[j], out, net.dropout.rate, 1.0 / (1.0 - net.dropout.rate))
            else:
                A = k.apply_mask(Z, masks[j], out)
        inputs[j + 1] = A
    return np.dot(A, net.layers[-1].W, out=ws.P)


def _hidden_activation(k, activation, Z, b, on):
    """``Z <- f(Z + b)`` in place (relu also fills its mask ``on``)."""
    if activation == "relu":
        k.bias_relu(Z, b, on)
    elif activation == "logistic":
        # 1 / (1 + exp(-z)); exp may overflow to inf for very negative z (then exactly 0)
        k.bias_negate(Z, b)
        with np.errstate(over="ignore"):
            np.exp(Z, out=Z)
        k.reciprocal_one_plus(Z)
    else:
        k.bias_add(Z, b)
        if activation == "tanh":
            np.tanh(Z, out=Z)


def _output_loss_delta(net, ws, P, Y, weights):
    """Output activation, loss and ``ws.D[-1] = dL/dZ``, from ``P = A @ W`` (no bias yet)."""
    k, b, D, out = ws.kernels, net.layers[-1].b, ws.D[-1], net.out_activation
    eps = float(np.finfo(P.dtype).eps)
    if out == "softmax":
        k.softmax_shift(P, b)
        np.exp(P, out=P)
        return k.softmax_loss_delta(P, Y, weights, D, eps)
    if out == "logistic":
        k.bias_negate(P, b)
        with np.errstate(over="ignore"):
            np.exp(P, out=P)
        return k.logistic_loss_delta(P, Y, weights, D, eps)
    return k.squared_loss_delta(P, b, Y, weights, D)


def _backward(net, ws, X, masks):
    """Backpropagate ``ws.D[-1]``: BLAS products per layer, one fused pass per hidden delta."""
    k, layers, D, code = ws.kernels, net.layers, ws.D, _DERIVATIVE_CODE.get(net.activation)
    for j in range(len(layers) - 1, 0, -1):
        layers[j].backward(ws.inputs[j], D[j], D[j - 1], ones=ws.ones)
        M = None if masks is None else masks[j - 1]
        if ws.on:
            k.relu_delta(D[j - 1], ws.on[j - 1], M)
        elif code or M is not None:  # identity without dropout: nothing to do
            k.activation_delta(D[j - 1], ws.H[j - 1], M, code)
    layers[0].backward(X, D[0], ones=ws.ones)
