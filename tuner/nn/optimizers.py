"""Stochastic optimizers updating a flat parameter buffer in place.

The base class applies ``params += update``; each subclass only computes
``update`` from the gradient (into a preallocated buffer) and keeps its state
(velocity, moment estimates) as flat arrays updated in place, so a step
allocates nothing.  ``lr`` is passed to every step, so a schedule (or the
learning-rate range test) can change it per update.

Examples
--------
>>> import numpy as np
>>> p = np.array([1.0, -2.0]); g = np.empty_like(p)
>>> opt = get_optimizer("sgd", p, g, momentum=0.0)
>>> g[:] = 2 * p               # gradient of ||p||^2
>>> opt.step(0.25); p
array([ 0.5, -1. ])
"""

import math

import numpy as np

from . import accelerate

_UNRESOLVED = object()


class Optimizer:
    """Base class: holds ``params`` / ``grads`` views and applies the update.

    Parameters
    ----------
    params, grads : ndarray
        Flat parameter and gradient buffers (same shape and dtype).
    """

    def __init__(self, params, grads):
        self.params, self.grads = params, grads
        self.update = np.zeros_like(params)
        self.t = 0  # number of steps taken
        self._kernels = _UNRESOLVED  # compiled kernels or None, chosen at the first step

    def __getstate__(self):
        """Drop the kernels module (a module does not pickle)."""
        return {k: v for k, v in self.__dict__.items() if k != "_kernels"}

    def __setstate__(self, state):
        """Restore; the kernels are chosen again at the next step."""
        self.__dict__.update(state, _kernels=_UNRESOLVED)

    def step(self, lr):
        """Take one step with learning rate ``lr``: ``params += update(grads, lr)``."""
        self.t += 1
        if self._kernels is _UNRESOLVED:
            self._kernels = accelerate.kernels(self.params.dtype)
        if self._kernels is None or not self._fused_step(self._kernels, float(lr)):
            self._compute_update(lr)
            np.add(self.params, self.update, out=self.params)

    def _compute_update(self, lr):
        """Write the parameter change into ``self.update``."""
        raise NotImplementedError

    def _fused_step(self, kernels, lr):
        """Take the whole step in one compiled pass; False if this optimizer has none."""
        return False


class SGD(Optimizer):
    """Stochastic gradient descent with (Nesterov) momentum.

    Examples
    --------
    >>> import numpy as np
    >>> p = np.ones(1); g = np.ones(1); opt = SGD(p, g, momentum=0.5, nesterov=False)
    >>> opt.step(0.1); opt.step(0.1); p
    array([0.75])
    """

    def __init__(self, params, grads, *, momentum=0.9, nesterov=True):
        super().__init__(params, grads)
        self.momentum, self.nesterov = momentum, nesterov
        self.velocity = np.zeros_like(params)
        self._scaled = np.empty_like(params)

    def _compute_update(self, lr):
        mu, v, g_lr = self.momentum, self.velocity, self._scaled
        np.multiply(self.grads, lr, out=g_lr)
        # v <- mu v - lr g
        np.multiply(v, mu, out=v)
        np.subtract(v, g_lr, out=v)
        if self.nesterov:
            # Nesterov (as in scikit-learn): update = mu v - lr g
            np.multiply(v, mu, out=self.update)
            np.subtract(self.update, g_lr, out=self.update)
        else:
            # classical momentum: update = v
            np.copyto(self.update, v)

    def _fused_step(self, kernels, lr):
        kernels.sgd_step(self.params, self.grads, self.velocity, self.update, lr,
                         self.momentum, self.nesterov)
        return True


class RMSProp(Optimizer):
    """RMSProp: divide the gradient by a running RMS of recent gradients.

    Examples
    --------
    >>> import numpy as np
    >>> p = np.ones(1); g = np.full(1, 4.0); RMSProp(p, g, rho=0.0).step(0.1); p
    array([0.9])
    """

    def __init__(self, params, grads, *, rho=0.9, epsilon=1e-8):
        super().__init__(params, grads)
        self.rho, self.epsilon = rho, epsilon
        self.square_avg = np.zeros_like(params)

    def _compute_update(self, lr):
        s, u = self.square_avg, self.update
        # s <- rho s + (1 - rho) g^2
        np.multiply(self.grads, self.grads, out=u)
        np.multiply(u, 1.0 - self.rho, out=u)
        np.multiply(s, self.rho, out=s)
        np.add(s, u, out=s)
        # update = -lr g / (sqrt(s) + eps)
        np.sqrt(s, out=u)
        np.add(u, self.epsilon, out=u)
        np.divide(self.grads, u, out=u)
        np.multiply(u, -lr, out=u)

    def _fused_step(self, kernels, lr):
        kernels.rmsprop_step(self.params, self.grads, self.square_avg, self.update, lr,
                             self.rho, self.epsilon)
        return True


class Adam(Optimizer):
    """Adam (Kingma & Ba, 2014), as in scikit-learn, in 10 vector passes per step.

    The textbook rule, with ``t`` the step number::

        m <- b1 m + (1 - b1) g          v <- b2 v + (1 - b2) g**2
        update = -lr_t m / (sqrt(v) + eps),   lr_t = lr sqrt(1 - b2**t) / (1 - b1**t)

    is computed on rescaled moments ``M = m / (1 - b1)`` and ``V = v / (1 - b2)``
    (so ``M <- b1 M + g`` and ``V <- b2 V + g**2`` need no scaling pass); then
    ``sqrt(v) + eps = sqrt(1 - b2) (sqrt(V) + eps / sqrt(1 - b2))`` and the
    constant factors fold into one scalar.  ``m`` and ``v`` are exposed as properties.

    Examples
    --------
    >>> import numpy as np
    >>> p = np.ones(1); g = np.full(1, 3.0); Adam(p, g).step(0.1); p.round(6)
    array([0.9])
    """

    def __init__(self, params, grads, *, beta_1=0.9, beta_2=0.999, epsilon=1e-8):
        super().__init__(params, grads)
        self.beta_1, self.beta_2, self.epsilon = beta_1, beta_2, epsilon
        self.M = np.zeros_like(params)
        self.V = np.zeros_like(params)

    @property
    def m(self):
        """First-moment estimate ``m = (1 - b1) M``."""
        return (1.0 - self.beta_1) * self.M

    @property
    def v(self):
        """Second-moment estimate ``v = (1 - b2) V``."""
        return (1.0 - self.beta_2) * self.V

    def _compute_update(self, lr):
        b1, b2, g, M, V, u = self.beta_1, self.beta_2, self.grads, self.M, self.V, self.update
        np.multiply(M, b1, out=M)  # M <- b1 M + g
        np.add(M, g, out=M)
        np.multiply(V, b2, out=V)  # V <- b2 V + g^2
        np.multiply(g, g, out=u)
        np.add(V, u, out=V)
        # update = -lr_t m / (sqrt(v) + eps) = -c M / (sqrt(V) + eps'), with
        # c = lr_t (1 - b1) / sqrt(1 - b2) and eps' = eps / sqrt(1 - b2)
        if lr == 0:
            u.fill(0.0)
            return
        eps, factor = self._scalars(lr)
        np.sqrt(V, out=u)
        np.add(u, eps, out=u)
        np.multiply(u, factor, out=u)  # u = (sqrt(V) + eps') / (-c)
        np.divide(M, u, out=u)

    def _scalars(self, lr):
        """``eps' = eps / sqrt(1 - b2)`` and ``-1 / c = -sqrt(1 - b2) / (lr_t (1 - b1))``."""
        b1, b2 = self.beta_1, self.beta_2
        root = math.sqrt(1.0 - b2)
        lr_t = lr * math.sqrt(1.0 - b2**self.t) / (1.0 - b1**self.t)
        return self.epsilon / root, -root / (lr_t * (1.0 - b1))

    def _fused_step(self, kernels, lr):
        # factor 0 stands for the zero step of lr = 0
        eps, factor = self._scalars(lr) if lr != 0 else (0.0, 0.0)
        kernels.adam_step(self.params, self.grads, self.M, self.V, self.update, self.beta_1,
                          self.beta_2, eps, factor)
        return True


OPTIMIZERS = {"sgd": SGD, "rmsprop": RMSProp, "adam": Adam}


def get_optimizer(solver, params, grads, **options):
    """Return an optimizer for ``solver`` (a name in ``OPTIMIZERS`` or an ``Optimizer``).

    Options irrelevant to the chosen solver are ignored, so callers may pass
    every estimator hyperparameter.

    Examples
    --------
    >>> import numpy as np
    >>> p = np.zeros(3)
    >>> type(get_optimizer("adam", p, p.copy(), momentum=0.9, beta_1=0.8)).__name__
    'Adam'
    """
    if isinstance(solver, Optimizer):
        return solver
    try:
        cls = OPTIMIZERS[solver]
    except KeyError:
        raise ValueError(f"solver must be one of {sorted(OPTIMIZERS)}, got {solver!r}") from None
    names = {
        SGD: ("momentum", "nesterov"),
        RMSProp: ("rho", "epsilon"),
        Adam: ("beta_1", "beta_2", "epsilon"),
    }[cls]
    return cls(params, grads, **{k: options[k] for k in names if k in options})
