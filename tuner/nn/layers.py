"""Dense layer (He / Glorot initialisation) and inverted dropout.

A :class:`Dense` layer owns no memory: its weights and gradients are views of
the network's flat buffers (see :mod:`tuner.nn.network`), so an optimizer can
update every parameter with a handful of vector operations.

Examples
--------
>>> import numpy as np
>>> W, b = np.zeros((3, 2)), np.zeros(2)
>>> layer = Dense(W, b, np.empty_like(W), np.empty_like(b), init="he")
>>> layer.initialize(np.random.default_rng(0))
>>> bool(np.abs(W).max() <= np.sqrt(6 / 3))
True
"""

import numpy as np

INITS = ("he", "glorot")


def init_for(activation, init="auto"):
    """``init`` itself, or for "auto": He before a relu, Glorot before anything else."""
    if init == "auto":
        return "he" if activation == "relu" else "glorot"
    return init


class Dense:
    """Fully connected layer ``Z = A_in @ W + b`` over views of flat buffers.

    Parameters
    ----------
    W, b : ndarray
        Views of the weights ``(fan_in, fan_out)`` and bias ``(fan_out,)``.
    gW, gb : ndarray
        Views of their gradients, same shapes.
    init : {"he", "glorot"}
        Uniform initialisation: He, ``U(+-sqrt(6 / fan_in))``, keeps the
        variance of relu units constant through depth; Glorot,
        ``U(+-sqrt(6 / (fan_in + fan_out)))``, suits tanh, logistic and linear units.
        Biases start at zero.

    Examples
    --------
    >>> import numpy as np
    >>> W, b = np.eye(2), np.ones(2)
    >>> layer = Dense(W, b, np.empty_like(W), np.empty_like(b))
    >>> layer.forward(np.array([[1.0, 2.0]]), np.empty((1, 2)))
    array([[2., 3.]])
    """

    def __init__(self, W, b, gW, gb, *, init="glorot"):
        if init not in INITS:
            raise ValueError(f"init must be one of {INITS}, got {init!r}")
        self.W, self.b, self.gW, self.gb, self.init = W, b, gW, gb, init

    @property
    def bound(self):
        """Half-width of the uniform initialisation interval."""
        fan_in, fan_out = self.W.shape
        return np.sqrt(6.0 / fan_in) if self.init == "he" else np.sqrt(6.0 / (fan_in + fan_out))

    def initialize(self, rng):
        """Draw the weights from ``U(-bound, bound)`` and zero the bias, in place."""
        self.W[...] = rng.uniform(-self.bound, self.bound, self.W.shape)
        self.b[...] = 0.0

    def forward(self, A_in, out):
        """Write ``A_in @ W + b`` into ``out`` and return it."""
        # np.dot calls BLAS directly: ~0.5 us less per product than np.matmul's gufunc
        np.dot(A_in, self.W, out=out)
        return np.add(out, self.b, out=out)

    def backward(self, A_in, D, D_in=None, *, ones=None):
        """Store ``dL/dW = A_in^T D`` and ``dL/db = sum_rows D``; write ``D W^T`` into ``D_in``.

        ``D`` is ``dL/dZ`` for this layer; ``D_in`` receives ``dL/dA_in`` (the
        delta of the layer below before its activation derivative).  ``ones``, a
        vector of ones of length ``n``, turns the bias sum into a faster BLAS
        product ``ones @ D``.
        """
        np.dot(A_in.T, D, out=self.gW)
        if ones is None:
            np.add.reduce(D, axis=0, out=self.gb)
        else:
            np.dot(ones, D, out=self.gb)
        if D_in is not None:
            np.dot(D, self.W.T, out=D_in)


class Dropout:
    """Inverted dropout: zero each unit with probability ``rate``, scale survivors.

    Survivors are multiplied by ``1 / (1 - rate)`` so that the expected
    activation is unchanged and prediction needs no rescaling. The mask is
    applied to hidden activations at training time only; its gradient is the
    same mask (``dL/dH = dL/dA * M``).

    Parameters
    ----------
    rate : float in [0, 1)
        Probability of dropping a unit.

    Examples
    --------
    >>> import numpy as np
    >>> mask = Dropout(0.5).sample(np.random.default_rng(0), np.empty((2, 4)))
    >>> sorted(set(mask.ravel().tolist())) in ([0.0, 2.0], [2.0], [0.0])
    True
    """

    def __init__(self, rate):
        if not 0.0 <= rate < 1.0:
            raise ValueError(f"dropout rate must be in [0, 1), got {rate!r}")
        self.rate = rate

    def sample(self, rng, out):
        """Fill ``out`` with a fresh mask of 0 and ``1 / (1 - rate)`` drawn from ``rng``."""
        rng.random(out=out, dtype=out.dtype)
        # Keep a unit when u >= rate (probability 1 - rate); the comparison writes 0/1.
        np.greater_equal(out, self.rate, out=out)
        return np.multiply(out, 1.0 / (1.0 - self.rate), out=out)
