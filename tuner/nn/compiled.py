"""numba kernels fusing the element-wise passes of a minibatch step (the ``fast`` extra).

Only :mod:`tuner.nn.accelerate` imports this module, and only when numba is
installed and ``TUNER_ACCELERATE`` is not "0"; the numpy functions in
``activations``, ``losses``, ``network`` and ``optimizers`` stay the reference.
Each kernel performs, element by element, the same floating-point operations in
the same order as the numpy passes it replaces, with every scalar rounded to the
array's dtype first (as numpy does with a Python float), so that the two paths
agree to rounding: bit for bit except where a sum is taken in another order
(the softmax row sum follows numpy's pairwise summation; the loss values do not,
and they never reach the weights).  Transcendental functions (``exp``, ``tanh``)
are left to numpy's vectorised ufuncs, which are several times faster than the
scalar libm calls a numba loop would make, and give the reference's exact values.

``error_model="numpy"`` lets LLVM vectorise the loops (no division-by-zero
checks); ``fastmath=False`` keeps IEEE semantics (no reassociation, no fused
multiply-add), which the agreement with numpy depends on; ``cache=True`` stores
the machine code in ``NUMBA_CACHE_DIR`` (set by ``accelerate``), so other
processes load it instead of compiling.
"""

import numpy as np
from numba import njit

_jit = njit(cache=True, error_model="numpy", fastmath=False, nogil=True)


# --- hidden layers: forward ------------------------------------------------------------

@_jit
def bias_relu(Z, b, on):
    """``Z <- Z + b``; ``on <- Z > 0``; ``Z <- Z * on`` (relu keeping its mask)."""
    t = Z.dtype.type
    for i in range(Z.shape[0]):
        for k in range(Z.shape[1]):
            z = Z[i, k] + b[k]
            on[i, k] = z > 0
            Z[i, k] = z * t(z > 0)
    return Z


@_jit
def bias_add(Z, b):
    """``Z <- Z + b`` (before numpy's ``tanh``, or as the identity activation)."""
    for i in range(Z.shape[0]):
        for k in range(Z.shape[1]):
            Z[i, k] = Z[i, k] + b[k]
    return Z


@_jit
def bias_negate(Z, b):
    """``Z <- -(Z + b)``: the logistic's argument of ``exp`` (numpy takes the exp)."""
    for i in range(Z.shape[0]):
        for k in range(Z.shape[1]):
            Z[i, k] = -(Z[i, k] + b[k])
    return Z


@_jit
def reciprocal_one_plus(E):
    """``E <- 1 / (1 + E)``: the logistic from ``E = exp(-z)``."""
    one = E.dtype.type(1.0)
    for i in range(E.shape[0]):
        for k in range(E.shape[1]):
            E[i, k] = one / (E[i, k] + one)
    return E


@_jit
def dropout(H, M, A, rate, scale):
    """Inverted dropout: ``M <- 1[M >= rate] * scale`` (``M`` holds uniforms), ``A <- H * M``."""
    t = M.dtype.type
    rate_, scale_, zero = t(rate), t(scale), t(0.0)
    for i in range(H.shape[0]):
        for k in range(H.shape[1]):
            m = scale_ if M[i, k] >= rate_ else zero
            M[i, k] = m
            A[i, k] = H[i, k] * m
    return A


@_jit
def apply_mask(H, M, A):
    """``A <- H * M`` for a given dropout mask."""
    for i in range(H.shape[0]):
        for k in range(H.shape[1]):
            A[i, k] = H[i, k] * M[i, k]
    return A


# --- hidden layers: backward -----------------------------------------------------------

@_jit
def relu_delta(D, on, M):
    """``D <- D * M`` (dropout, when ``M`` is given), then ``D <- D * 1[Z > 0]``."""
    for i in range(D.shape[0]):
        for k in range(D.shape[1]):
            d = D[i, k]
            if M is not None:
                d = d * M[i, k]
            D[i, k] = d * on[i, k]
    return D


@_jit
def activation_delta(D, H, M, code):
    """``D <- D * M`` (when given), then ``D <- D * f'(Z)`` from ``H = f(Z)``.

    ``code``: 0 identity (``f' = 1``), 2 tanh (``1 - H**2``), 3 logistic (``H (1 - H)``).
    """
    one = D.dtype.type(1.0)
    for i in range(D.shape[0]):
        for k in range(D.shape[1]):
            d = D[i, k]
            if M is not None:
                d = d * M[i, k]
            h = H[i, k]
            if code == 2:
                d = d * (one - h * h)
            elif code == 3:
                d = d * (h * (one - h))
            D[i, k] = d
    return D


# --- output layer: activation, loss and delta ------------------------------------------

@_jit
def softmax_shift(Z, b):
    """``Z <- Z + b``, then subtract each row's maximum (numpy then takes the exp)."""
    for i in range(Z.shape[0]):
        top = Z[i, 0] + b[0]
        for k in range(Z.shape[1]):
            Z[i, k] = Z[i, k] + b[k]
            top = max(top, Z[i, k])
        for k in range(Z.shape[1]):
            Z[i, k] = Z[i, k] - top
    return Z


@_jit
def _block_sum(a, start, n):
    """numpy's sum of at most 128 values: 8 running sums, combined as a tree, then the rest."""
    if n < 8:
        total = a.dtype.type(0.0)
        for i in range(start, start + n):
            total = total + a[i]
        return total
    r0, r1, r2, r3 = a[start], a[start + 1], a[start + 2], a[start + 3]
    r4, r5, r6, r7 = a[start + 4], a[start + 5], a[start + 6], a[start + 7]
    stop = start + n - n % 8
    for i in range(start + 8, stop, 8):
        r0, r1, r2, r3 = r0 + a[i], r1 + a[i + 1], r2 + a[i + 2], r3 + a[i + 3]
        r4, r5, r6, r7 = r4 + a[i + 4], r5 + a[i + 5], r6 + a[i + 6], r7 + a[i + 7]
    total = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    for i in range(stop, start + n):
        total = total + a[i]
    return total


@_jit
def _split(n):
    """Where numpy's pairwise sum splits ``n > 128`` values: half, rounded down to 8."""
    half = n // 2
    return half - half % 8


@_jit
def _pairwise_sum(a, start, n):
    """numpy's pairwise summation of ``a[start:start + n]`` (the order of ``np.add.reduce``).

    numpy recurses, ``S(n) = S(h) + S(n - h)`` with ``h = _split(n)`` down to blocks of
    128; this walks the same tree with an explicit stack, because a recursive callee
    breaks numba's on-disk cache (loading it crashed).
    """
    if n <= 128:
        return _block_sum(a, start, n)
    starts, sizes = np.empty(64, np.int64), np.empty(64, np.int64)
    phase, left = np.zeros(64, np.int64), np.empty(64, a.dtype)
    top, starts[0], sizes[0] = 0, start, n
    while True:
        if sizes[top] > 128 and phase[top] == 0:  # descend into the left half
            phase[top] = 1
            starts[top + 1], sizes[top + 1], phase[top + 1] = starts[top], _split(sizes[top]), 0
            top += 1
            continue
        value = _block_sum(a, starts[top], sizes[top])
        while True:  # climb: a finished left half starts its right half; a right one adds
            top -= 1
            if top < 0:
                return value
            if phase[top] == 1:
                left[top], phase[top] = value, 2
                h = _split(sizes[top])
                starts[top + 1], sizes[top + 1], phase[top + 1] = starts[top] + h, sizes[top] - h, 0
                top += 1
                break
            value = left[top] + value


@_jit
def _clip(p, lo, hi):
    """``min(max(p, lo), hi)``, NaN passing through (as numpy's ``maximum`` / ``minimum``)."""
    return lo if p < lo else (hi if p > hi else p)


@_jit
def _delta_and_row_weight(P, Y, v, D, i):
    """``D_i <- (P_i - Y_i) v_i`` (``v_i = 1/n`` when ``v`` is None); returns ``v_i``."""
    if v is None:
        w = P.dtype.type(1.0 / P.shape[0])
        for k in range(P.shape[1]):
            D[i, k] = (P[i, k] - Y[i, k]) * w
        return 1.0 / P.shape[0]
    for k in range(P.shape[1]):
        D[i, k] = (P[i, k] - Y[i, k]) * v[i]
    return float(v[i])


@_jit
def softmax_loss_delta(P, Y, v, D, eps):
    """From ``P = exp(Z - max)``: normalise the rows, write the delta, return the log loss.

    ``loss = -sum_i v_i sum_k Y_ik log(clip(P_ik, eps, 1 - eps))``; only the nonzero
    ``Y_ik`` are visited (one log per row for one-hot targets).
    """
    t = P.dtype.type
    lo, hi = t(eps), t(1.0 - eps)
    loss = 0.0
    for i in range(P.shape[0]):
        row = P[i]
        total = _pairwise_sum(row, 0, P.shape[1])
        for k in range(P.shape[1]):
            P[i, k] = P[i, k] / total
        weight = _delta_and_row_weight(P, Y, v, D, i)
        acc = 0.0
        for k in range(P.shape[1]):
            if Y[i, k] != 0:
                acc += Y[i, k] * np.log(_clip(P[i, k], lo, hi))
        loss -= weight * acc
    return loss


@_jit
def logistic_loss_delta(P, Y, v, D, eps):
    """From ``P = exp(-Z)``: ``P <- 1 / (1 + P)``, write the delta, return the binary log loss."""
    t = P.dtype.type
    lo, hi, one = t(eps), t(1.0 - eps), t(1.0)
    loss = 0.0
    for i in range(P.shape[0]):
        for k in range(P.shape[1]):
            P[i, k] = one / (P[i, k] + one)
        weight = _delta_and_row_weight(P, Y, v, D, i)
        acc = 0.0
        for k in range(P.shape[1]):
            p = _clip(P[i, k], lo, hi)
            acc += Y[i, k] * np.log(p) + (1.0 - Y[i, k]) * np.log1p(-p)
        loss -= weight * acc
    return loss


@_jit
def squared_loss_delta(P, b, Y, v, D):
    """``P <- P + b`` (identity output), the delta; returns ``1/2 sum_i v_i ||P_i - Y_i||^2``."""
    loss = 0.0
    for i in range(P.shape[0]):
        acc = 0.0
        for k in range(P.shape[1]):
            P[i, k] = P[i, k] + b[k]
            diff = P[i, k] - Y[i, k]
            acc += diff * diff
        loss += 0.5 * _delta_and_row_weight(P, Y, v, D, i) * acc
    return loss


# --- penalty and optimizers (flat buffers) ---------------------------------------------

@_jit
def add_l2(W, gW, l2):
    """``gW <- gW + W * l2`` (the caller takes ``||W||^2`` from BLAS: a serial sum here
    would not vectorise without reassociating, which ``fastmath=False`` forbids)."""
    l2_ = W.dtype.type(l2)
    for j in range(W.shape[0]):
        gW[j] = gW[j] + W[j] * l2_
    return gW


@_jit
def sgd_step(params, g, velocity, update, lr, momentum, nesterov):
    """``v <- mu v - lr g``; update ``= mu v - lr g`` (Nesterov) or ``v``; ``params += update``."""
    t = params.dtype.type
    lr_, mu = t(lr), t(momentum)
    for j in range(params.shape[0]):
        g_lr = g[j] * lr_
        v = velocity[j] * mu - g_lr
        velocity[j] = v
        u = v * mu - g_lr if nesterov else v
        update[j] = u
        params[j] = params[j] + u


@_jit
def rmsprop_step(params, g, square_avg, update, lr, rho, epsilon):
    """``s <- rho s + (1 - rho) g^2``; update ``= -lr g / (sqrt(s) + eps)``; params += update."""
    t = params.dtype.type
    keep, new, eps, neg_lr = t(rho), t(1.0 - rho), t(epsilon), t(-lr)
    for j in range(params.shape[0]):
        s = square_avg[j] * keep + (g[j] * g[j]) * new
        square_avg[j] = s
        u = (g[j] / (np.sqrt(s) + eps)) * neg_lr
        update[j] = u
        params[j] = params[j] + u


@_jit
def adam_step(params, g, M, V, update, beta_1, beta_2, epsilon, factor):
    """Adam on rescaled moments (see ``optimizers.Adam``); ``factor`` = 0 means a zero step.

    ``M <- b1 M + g``, ``V <- b2 V + g^2``, update ``= M / ((sqrt(V) + eps') * factor)``
    with ``factor = -sqrt(1 - b2) / (lr_t (1 - b1))``; ``params += update``.
    """
    t = params.dtype.type
    b1, b2, eps, f = t(beta_1), t(beta_2), t(epsilon), t(factor)
    for j in range(params.shape[0]):
        m = M[j] * b1 + g[j]
        v = V[j] * b2 + g[j] * g[j]
        M[j], V[j] = m, v
        u = m / ((np.sqrt(v) + eps) * f) if factor != 0.0 else t(0.0)
        update[j] = u
        params[j] = params[j] + u
