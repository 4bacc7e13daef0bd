"""A small numpy backprop core for multi-layer perceptrons (numpy + standard library only).

Modules: ``activations`` (in-place forward/derivative), ``losses`` (fused output
deltas), ``layers`` (Dense, Dropout), ``network`` (flat parameter buffer,
forward/backward), ``optimizers`` (SGD, RMSProp, Adam), ``schedules``
(learning-rate schedules), ``training`` (epochs, divergence, plateau rule);
``accelerate`` runs the element-wise passes of training through the numba
kernels of ``compiled`` when numba is installed (the ``fast`` extra) and
``TUNER_ACCELERATE`` is not "0".

Examples
--------
>>> import numpy as np
>>> from tuner.nn import MLPNetwork, Trainer, get_optimizer
>>> net = MLPNetwork([2, 4, 2], out_activation="softmax")
>>> net.initialize(np.random.default_rng(0))
>>> net.predict(np.zeros((1, 2))).sum().round(6)
np.float64(1.0)
"""

from .activations import ACTIVATIONS, DERIVATIVES
from .layers import Dense, Dropout
from .losses import LOSSES, OUTPUT_LOSS, loss_and_delta
from .network import MLPNetwork, forward_pass
from .optimizers import OPTIMIZERS, SGD, Adam, Optimizer, RMSProp, get_optimizer
from .schedules import SCHEDULES, LearningRateSchedule
from .training import DivergenceError, EpochResult, Plateau, Trainer, resolve_batch_size

__all__ = [
    "ACTIVATIONS", "DERIVATIVES", "LOSSES", "OPTIMIZERS", "OUTPUT_LOSS", "SCHEDULES",
    "Adam", "Dense", "DivergenceError", "Dropout", "EpochResult", "LearningRateSchedule",
    "MLPNetwork", "Optimizer", "Plateau", "RMSProp", "SGD", "Trainer", "forward_pass",
    "get_optimizer", "loss_and_delta", "resolve_batch_size",
]
