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


def squared_error(Y, P, out):
    """``1/(2n) * sum (P - Y)**2``: half the summed squared error, mean over rows."""
    D = np.subtract(P, Y, out=out)
    return 0.5 * float(np.vdot(D, D)) / P.shape[0]


def log_loss(Y, P, out):
    """Multinomial cross-entropy ``-1/n * sum Y log P`` (rows of ``P`` sum to one)."""
    return -float(np.vdot(Y, _log_clipped(P, out))) / P.shape[0]


def binary_log_loss(Y, P, out):
    """Binary cross-entropy summed over outputs, mean over rows."""
    total = np.vdot(Y, _log_clipped(P, out))
    # sum (1 - Y) log(1 - P) = sum log(1 - P) - sum Y log(1 - P)
    log_not = _log_clipped(P, out, complement=True)
    total += float(log_not.sum()) - float(np.vdot(Y, log_not))
    return -float(total) / P.shape[0]


LOSSES = {
    "squared_error": squared_error,
    "log_loss": log_loss,
    "binary_log_loss": binary_log_loss,
}


def loss_and_delta(out_activation, Y, P, D):
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
        Overwritten with ``dL/dZ = (P - Y) / n``.

    Returns
    -------
    loss : float
        The mean loss over the ``n`` rows (no penalty term).

    Examples
    --------
    >>> import numpy as np
    >>> P = np.array([[2.0]]); Y = np.array([[1.0]]); D = np.empty_like(P)
    >>> loss_and_delta("identity", Y, P, D), D
    (0.5, array([[1.]]))
    """
    loss = LOSSES[OUTPUT_LOSS[out_activation]](Y, P, D)  # D serves as scratch space
    np.subtract(P, Y, out=D)
    np.multiply(D, 1.0 / P.shape[0], out=D)
    return loss
