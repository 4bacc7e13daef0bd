"""Which step of a composite estimator learns, and a target wrapper assembled from its parts.

A trial trains the estimator that learns (a Pipeline's last step, inside a
``TransformedTargetRegressor``'s regressor when there is one) one epoch at a
time, so the budget, the pruner and the evaluator all need to find it.
"""

from sklearn.compose import TransformedTargetRegressor
from sklearn.pipeline import Pipeline


def final_step(estimator):
    """The estimator that learns: a Pipeline's last step, inside a target-transforming
    wrapper's regressor when there is one."""
    if isinstance(estimator, TransformedTargetRegressor):
        estimator = estimator.regressor
    return estimator.steps[-1][1] if isinstance(estimator, Pipeline) else estimator


def fitted_target_regressor(wrapper, regressor, transformer, ndim):
    """``wrapper`` (a TransformedTargetRegressor) fitted from parts trained elsewhere.

    scikit-learn has no public way to assemble one: its ``fit`` clones and fits
    the regressor in one call, while a search trains it one epoch at a time. So
    this sets what ``fit`` sets: ``regressor_``, ``transformer_`` and the private
    ``_training_dim`` (the target's ndim, read by ``predict``).
    """
    wrapper.regressor_, wrapper.transformer_, wrapper._training_dim = \
        regressor, transformer, ndim
    return wrapper
