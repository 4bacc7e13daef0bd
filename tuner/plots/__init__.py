"""Figures of a finished study, read from its storage (no retraining), and of lr range tests.

Every study figure takes an Optuna study whose trials carry the evaluator's
user attributes and returns a :class:`matplotlib.figure.Figure` built without
pyplot (Agg canvas), or None when the study holds too little to draw it.
matplotlib is imported inside functions, so ``import tuner.plots`` stays fast.

- :mod:`tuner.plots.study`: optimization history, importances, effort, pruning,
  :data:`FIGURES` and :func:`study_figures`;
- :mod:`tuner.plots.curves`: learning curves, final score against each parameter;
- :mod:`tuner.plots.lr`: learning-rate range tests (:func:`plot_lr_curves`);
- :mod:`tuner.plots.trials`: what the figures read from the trials (:class:`TrialView`);
- :mod:`tuner.plots.style`: the markers, labels and axes every figure shares.

Examples
--------
>>> import optuna
>>> study_figures(optuna.create_study(direction="maximize"))
{}
"""

from tuner.plots.curves import learning_curves, score_vs_params
from tuner.plots.lr import plot_lr_curves
from tuner.plots.study import (
    FIGURES,
    epochs_and_updates,
    optimization_history,
    param_importances,
    pruning,
    study_figures,
)
from tuner.plots.trials import TrialView, study_resource, trial_views

__all__ = ["FIGURES", "TrialView", "epochs_and_updates", "learning_curves",
           "optimization_history", "param_importances", "plot_lr_curves", "pruning",
           "score_vs_params", "study_figures", "study_resource", "trial_views"]
