"""The multi-layer perceptron: flat parameter buffer, forward, backward, predict.

All weights live in one flat buffer ``params`` (every layer's ``W`` first,
then every bias) and all gradients in a buffer ``grads`` of the same layout;
``coefs`` / ``intercepts`` are per-layer views.  An optimizer therefore
updates the whole network with a few vector operations, and the L2 penalty
touches one contiguous slice ``params[:n_coef]``.

Training objective on a minibatch ``B`` drawn from ``n`` training samples::

    J_B(W) = 1/|B| sum_{i in B} loss_i  +  l2 / 2 * sum_layers ||W||_F**2

with ``l2 = alpha / n`` (set by the caller).  ``J_B`` is an unbiased estimate
of the full objective ``1/n sum_i loss_i + alpha / (2n) ||W||**2`` for any
batch size, so the penalty is the same whether one trains with batch 1 or the
full batch (biases are not penalised).

With sample weights ``w_i`` the batch mean becomes a weighted mean and ``n``
the total weight::

    J_B(W) = sum_{i in B} w_i loss_i / sum_{i in B} w_i  +  l2 / 2 * ||W||**2,
    l2 = alpha / sum_i w_i

so an integer weight ``w`` trains like the row repeated ``w`` times (in one batch).

Examples
--------
>>> import numpy as np
>>> net = MLPNetwork([2, 3, 1], activation="tanh", out_activation="identity")
>>> net.initialize(np.random.default_rng(0))
>>> X = np.ones((4, 2)); Y = np.zeros((4, 1))
>>> loss = net.loss_and_grad(X, Y, l2=0.0)
>>> net.grads.shape == net.params.shape == (2 * 3 + 3 * 1 + 3 + 1,)
True
"""

import numpy as np

from .activations import ACTIVATIONS, DERIVATIVES, HIDDEN_ACTIVATIONS, softmax
from .layers import Dense, Dropout, init_for
from .losses import OUTPUT_LOSS, loss_and_delta

_MAX_WORKSPACES = 4


def forward_pass(X, coefs, intercepts, activation, out_activation):
    """Return the network output for ``X`` (allocating; for prediction).

    Examples
    --------
    >>> import numpy as np
    >>> forward_pass(np.ones((1, 2)), [np.ones((2, 1))], [np.zeros(1)], "relu", "identity")
    array([[2.]])
    """
    A = X
    last = len(coefs) - 1
    for j, (W, b) in enumerate(zip(coefs, intercepts, strict=True)):
        A = A @ W
        A += b
        ACTIVATIONS[out_activation if j == last else activation](A)
    return A


def _normalised(sample_weight):
    """``v_i = w_i / sum_B w`` (all zero for a batch whose weights are all zero)."""
    total = float(sample_weight.sum())
    return sample_weight / total if total > 0 else np.zeros_like(sample_weight)


class _Workspace:
    """Preallocated buffers for one batch size (activations, masks, deltas)."""

    def __init__(self, n, sizes, dtype, dropout, relu):
        hidden = sizes[1:-1]
        self.on = [np.empty((n, h), dtype=bool) for h in hidden] if relu else []  # Z > 0
        self.H = [np.empty((n, h), dtype=dtype) for h in hidden]  # f(Z) before the mask
        self.M = [np.empty((n, h), dtype=dtype) for h in hidden] if dropout else []
        self.A = [np.empty((n, h), dtype=dtype) for h in hidden] if dropout else self.H
        self.P = np.empty((n, sizes[-1]), dtype=dtype)
        self.D = [np.empty((n, h), dtype=dtype) for h in sizes[1:]]
        self.ones = np.ones(n, dtype=dtype)  # bias gradients as ones @ D (BLAS)
        self.row = np.empty((n, 1), dtype=dtype)  # softmax row reductions
        self.inputs = [None] * (len(sizes) - 1)  # the input of each layer (set per batch)


class MLPNetwork:
    """A fully connected network stored in one flat parameter buffer.

    Parameters
    ----------
    layer_sizes : sequence of int
        ``[n_features, hidden..., n_outputs]``.
    activation : {"identity", "relu", "tanh", "logistic"}
        Hidden activation.
    out_activation : {"identity", "softmax", "logistic"}
        Output activation; it selects the loss (see :mod:`tuner.nn.losses`).
    dtype : numpy dtype
        float32 or float64; all buffers use it.
    dropout : float
        Inverted-dropout rate of the hidden layers at training time.
    init : {"auto", "he", "glorot"}
        Initialisation of the hidden layers ("auto": He before relu, else Glorot);
        the output layer always gets Glorot.

    Attributes
    ----------
    params, grads : ndarray of shape (n_params,)
        Flat parameter and gradient buffers.
    coefs, intercepts : list of ndarray
        Per-layer views of ``params``.
    n_coef : int
        Number of weights (``params[:n_coef]`` are penalised by L2).

    Examples
    --------
    >>> import numpy as np
    >>> net = MLPNetwork([4, 8, 3], out_activation="softmax")
    >>> [c.shape for c in net.coefs], net.n_coef
    ([(4, 8), (8, 3)], 56)
    """

    def __init__(self, layer_sizes, *, activation="relu", out_activation="identity",
                 dtype=np.float64, dropout=0.0, init="auto"):
        if activation not in HIDDEN_ACTIVATIONS:
            raise ValueError(f"activation must be one of {HIDDEN_ACTIVATIONS}, got {activation!r}")
        if out_activation not in OUTPUT_LOSS:
            raise ValueError(f"out_activation must be one of {sorted(OUTPUT_LOSS)}")
        self.sizes = [int(s) for s in layer_sizes]
        self.activation, self.out_activation = activation, out_activation
        self.dtype = np.dtype(dtype)
        self.dropout = Dropout(dropout) if dropout > 0 else None
        self.n_coef = sum(i * o for i, o in zip(self.sizes[:-1], self.sizes[1:], strict=True))
        self.params = np.zeros(self.n_coef + sum(self.sizes[1:]), dtype=self.dtype)
        self.grads = np.zeros_like(self.params)
        inits = [init_for(activation, init)] * (len(self.sizes) - 2) + ["glorot"]
        self.layers = [Dense(None, None, None, None, init=init) for init in inits]
        self._make_views()
        self._scratch = np.empty(self.n_coef, dtype=self.dtype)
        self._workspaces = {}

    def _make_views(self):
        """Per-layer views of ``params`` / ``grads``: all weights first, then all biases."""
        shapes = list(zip(self.sizes[:-1], self.sizes[1:], strict=True))
        shapes += [(o,) for o in self.sizes[1:]]
        views, start = [], 0
        for shape in shapes:
            size = int(np.prod(shape))
            views.append((self.params[start:start + size].reshape(shape),
                          self.grads[start:start + size].reshape(shape)))
            start += size
        n = len(self.layers)
        self.coefs, self.grad_coefs = (list(v) for v in zip(*views[:n], strict=True))
        self.intercepts, self.grad_intercepts = (list(v) for v in zip(*views[n:], strict=True))
        for layer, (W, gW), (b, gb) in zip(self.layers, views[:n], views[n:], strict=True):
            layer.W, layer.b, layer.gW, layer.gb = W, b, gW, gb

    def initialize(self, rng):
        """Initialise every layer from ``rng`` (a ``numpy.random.Generator``)."""
        for layer in self.layers:
            layer.initialize(rng)

    def set_weights(self, coefs, intercepts):
        """Copy ``coefs`` / ``intercepts`` (lists of arrays) into the flat buffer."""
        for dst, src in zip(self.coefs + self.intercepts, list(coefs) + list(intercepts),
                            strict=True):
            src = np.asarray(src)
            if src.shape != dst.shape:
                raise ValueError(f"weight of shape {src.shape} does not fit layer {dst.shape}")
            np.copyto(dst, src, casting="unsafe")

    def set_dropout(self, rate):
        """Change the dropout rate (the workspaces are rebuilt when needed)."""
        current = self.dropout.rate if self.dropout is not None else 0.0
        if rate != current:
            self.dropout = Dropout(rate) if rate > 0 else None
            self._workspaces = {}

    def __getstate__(self):
        """Drop the per-batch workspaces (they are rebuilt on demand)."""
        state = self.__dict__.copy()
        state["_workspaces"] = {}
        return state

    def __setstate__(self, state):
        """Restore and rebuild the views so that they alias the flat buffers again."""
        self.__dict__.update(state)
        self._make_views()

    def workspace(self, n):
        """Buffers for a batch of ``n`` rows (cached; at most a few sizes kept)."""
        ws = self._workspaces.get(n)
        if ws is None:
            if len(self._workspaces) >= _MAX_WORKSPACES:
                self._workspaces.pop(next(iter(self._workspaces)))
            ws = self._workspaces[n] = _Workspace(n, self.sizes, self.dtype, self.dropout,
                                                        self.activation == "relu")
        return ws

    def predict(self, X):
        """Output activations for ``X`` (no dropout)."""
        return forward_pass(X, self.coefs, self.intercepts, self.activation, self.out_activation)

    def loss_and_grad(self, X, Y, *, l2=0.0, rng=None, masks=None, sample_weight=None):
        """Return the minibatch objective ``J_B`` and store its gradient in ``grads``.

        Parameters
        ----------
        X, Y : ndarray
            Batch inputs ``(n, n_features)`` and targets ``(n, n_outputs)``, of ``dtype``.
        l2 : float
            Penalty coefficient (``alpha / n_train``, see the module docstring).
        rng : numpy.random.Generator, optional
            Source of dropout masks; without it (and without ``masks``) no dropout.
        masks : list of ndarray, optional
            Fixed dropout masks, one per hidden layer (for gradient checks).
        sample_weight : ndarray of shape (n,), optional
            Non-negative row weights: ``J_B`` uses their weighted mean (module docstring).
        """
        ws = self.workspace(X.shape[0])
        if masks is None and self.dropout is not None and rng is not None:
            masks = [self.dropout.sample(rng, M) for M in ws.M]
        P = self._forward(X, ws, masks)
        weights = None if sample_weight is None else _normalised(sample_weight)
        loss = loss_and_delta(self.out_activation, Y, P, ws.D[-1], weights)
        self._backward(X, ws, masks)
        if l2:
            # J += l2/2 ||W||^2  =>  dJ/dW += l2 W   (one pass over the weight slice)
            W, gW = self.params[:self.n_coef], self.grads[:self.n_coef]
            loss += 0.5 * l2 * float(np.vdot(W, W))
            np.multiply(W, l2, out=self._scratch)
            np.add(gW, self._scratch, out=gW)
        return loss

    def _forward(self, X, ws, masks):
        """Training forward pass into the workspace; returns the output ``P``."""
        act, inputs, A = ACTIVATIONS[self.activation], ws.inputs, X
        inputs[0] = X
        for j in range(len(self.layers) - 1):
            Z = self.layers[j].forward(A, ws.H[j])
            # relu as Z * 1[Z > 0], keeping the mask 1[Z > 0] for the backward pass
            A = np.multiply(Z, np.greater(Z, 0, out=ws.on[j]), out=Z) if ws.on else act(Z)
            if masks is not None:
                # Inverted dropout: A = H * M with M in {0, 1/(1-rate)}.
                A = np.multiply(A, masks[j], out=ws.A[j] if ws.A is not ws.H else None)
            inputs[j + 1] = A
        P = self.layers[-1].forward(A, ws.P)
        if self.out_activation == "softmax":
            return softmax(P, ws.row)
        return ACTIVATIONS[self.out_activation](P)

    def _backward(self, X, ws, masks):
        """Backpropagate ``ws.D[-1] = dJ/dZ_out`` and fill ``grads``."""
        derivative, layers, D, H, inputs = (DERIVATIVES[self.activation], self.layers, ws.D,
                                            ws.H, ws.inputs)
        for j in range(len(layers) - 1, 0, -1):
            # dL/dW_j = A_{j-1}^T D_j ; dL/db_j = 1^T D_j ; dL/dA_{j-1} = D_j W_j^T
            layers[j].backward(inputs[j], D[j], D[j - 1], ones=ws.ones)
            if masks is not None:
                np.multiply(D[j - 1], masks[j - 1], out=D[j - 1])  # dL/dH = dL/dA * M
            if ws.on:  # relu: f'(Z) = 1[Z > 0], the mask kept by the forward pass
                np.multiply(D[j - 1], ws.on[j - 1], out=D[j - 1])
            else:
                derivative(H[j - 1], D[j - 1])  # dL/dZ = dL/dH * f'(Z)
        layers[0].backward(X, D[0], ones=ws.ones)  # the input needs no delta
