"""Output losses with their fused output deltas.

Each output activation is paired with the loss whose gradient with respect to
the output layer's pre-activation ``Z`` is simply ``(P - Y) / n``
(``P = f(Z)``, ``n`` the number of rows), so the backward pass never forms the
Jacobian of the output activation:

===========  ====================  ==============================================
output       loss                  value (mean over the ``n`` rows)
===========  ====================  ==============================================
identity     ``squared_error``     ``1/(2n) * sum_ik (P_ik - Y_ik)**2``
softmax      ``log_loss``          ``-1/n * sum_ik Y_ik log P_ik``
logistic     ``binary_log_loss``   ``-1/n * sum_ik Y_ik log P_ik + (1-Y_ik) log(1-P_ik)``
===========  ====================  ==============================================

Why the delta is the same: for softmax + cross-entropy, ``dL/dZ_k = P_k - Y_k``
when the rows of ``Y`` sum to one; for sigmoid + binary cross-entropy,
``dL/dP = (P - Y) / (P (1 - P))`` and ``dP/dZ = P (1 - P)``; for identity +
squared error, ``dL/dZ = P - Y`` directly.

The squared error sums over outputs (then averages over rows), so for one
output it is half scikit-learn's mean squared error, as in scikit-learn's MLP.

Sample weights replace the mean over rows by a weighted mean: with row weights
``w_i`` and ``v_i = w_i / sum_j w_j`` (so ``sum_i v_i = 1``; ``v_i = 1/n``
without weights), every loss is ``sum_i v_i l_i`` where ``l_i`` is the row's
loss in the table, and the delta is ``dL/dZ_i = v_i (P_i - Y_i)``.  An integer
weight ``w`` therefore gives exactly the loss and gradient of the row repeated
``w`` times.

Examples
--------
>>> import numpy as np
>>> P = np.array([[0.5, 0.5]]); Y = np.array([[1.0, 0.0]]); D = np.empty_like(P)
>>> round(loss_and_delta("softmax", Y, P, D), 4)
0.6931
>>> D
array([[-0.5,  0.5]])
"""

import numpy as np

OUTPUT_LOSS = {"identity": "squared_error", "softmax": "log_loss", "logistic": "binary_log_loss"}


_EPS = {np.dtype(t): float(np.finfo(t).eps) for t in (np.float16, np.float32, np.float64)}


def _log_clipped(P, out, *, complement=False):
    """``log(clip(P))`` (or ``log(1 - clip(P))``) into ``out``; clipping keeps it finite."""
    eps = _EPS[P.dtype]
    # clip(P, eps, 1 - eps) as two ufuncs (np.clip's wrapper costs ~2 us per minibatch)
    np.minimum(np.maximum(P, eps, out=out), 1.0 - eps, out=out)
    if complement:
        np.negative(out, out=out)
        return np.log1p(out, out=out)
    return np.log(out, out=out)


def _average(L, weights, Y=None):
    """``sum_i v_i sum_k Y_ik L_ik`` (``Y`` omitted: ones) with ``v_i = weights_i`` or ``1/n``."""
    if weights is None:
        total = L.sum() if Y is None else np.vdot(Y, L)
        return float(total) / L.shape[0]
    rows = L.sum(axis=1) if Y is None else np.einsum("ik,ik->i", Y, L)
    return float(np.dot(rows, weights))


def squared_error(Y, P, out, weights=None):
    """``1/2 sum_i v_i sum_k (P_ik - Y_ik)**2``: half the summed squared error, mean over rows."""
    D = np.subtract(P, Y, out=out)
    return 0.5 * _average(D, weights, D)


def log_loss(Y, P, out, weights=None):
    """Multinomial cross-entropy ``-sum_i v_i sum_k Y_ik log P_ik`` (rows of ``P`` sum to one)."""
    return -_average(_log_clipped(P, out), weights, Y)


def binary_log_loss(Y, P, out, weights=None):
    """Binary cross-entropy summed over outputs, (weighted) mean over rows."""
    total = _average(_log_clipped(P, out), weights, Y)
    # sum (1 - Y) log(1 - P) = sum log(1 - P) - sum Y log(1 - P)
    log_not = _log_clipped(P, out, complement=True)
    total += _average(log_not, weights) - _average(log_not, weights, Y)
    return -total


LOSSES = {
    "squared_error": squared_error,
    "log_loss": log_loss,
    "binary_log_loss": binary_log_loss,
}


def loss_and_delta(out_activation, Y, P, D, weights=None):
    """Return the loss of ``P`` against ``Y`` and write the output delta into ``D``.

    Parameters
    ----------
    out_activation : {"identity", "softmax", "logistic"}
        The output activation; it selects the loss (see the module table).
    Y : ndarray of shape (n, k)
        Targets (one-hot or indicator rows for classification).
    P : ndarray of shape (n, k)
        Output activations.
    D : ndarray of shape (n, k)
        Overwritten with ``dL/dZ = (P - Y) / n``, or ``v_i (P_i - Y_i)`` with weights.
    weights : ndarray of shape (n,), optional
        Normalised row weights ``v_i = w_i / sum_j w_j`` (they sum to one, or are all
        zero for a batch without weight); None means ``v_i = 1/n``.

    Returns
    -------
    loss : float
        The (weighted) mean loss over the ``n`` rows (no penalty term).

    Examples
    --------
    >>> import numpy as np
    >>> P = np.array([[2.0]]); Y = np.array([[1.0]]); D = np.empty_like(P)
    >>> loss_and_delta("identity", Y, P, D), D
    (0.5, array([[1.]]))
    >>> P = np.array([[2.0], [0.0]]); Y = np.zeros((2, 1)); D = np.empty_like(P)
    >>> loss_and_delta("identity", Y, P, D, weights=np.array([0.75, 0.25])), D.ravel()
    (1.5, array([1.5, 0. ]))
    """
    loss = LOSSES[OUTPUT_LOSS[out_activation]](Y, P, D, weights)  # D serves as scratch space
    np.subtract(P, Y, out=D)
    # dL/dZ_i = v_i (P_i - Y_i), v_i = 1/n or the normalised weight of row i
    if weights is None:
        np.multiply(D, 1.0 / P.shape[0], out=D)
    else:
        np.multiply(D, weights[:, None], out=D)
    return loss
