"""Study figures read from a real tuner study (fixture ``tracked_search``) and plain Optuna ones."""

import io

import numpy as np
import optuna
import pytest
from matplotlib.colors import LogNorm

from tuner import plots

optuna.logging.set_verbosity(optuna.logging.WARNING)
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def study(tracked_search):
    """The tiny grid study: lr 0.02 and 0.01 complete, 1e-5 pruned at epoch 2, -1 failed."""
    return tracked_search.study


def _curves(study, state=None):
    """Learning-curve data of the study, from its trials' stored history."""
    return [v for v in plots.trial_views(study) if v.history and state in (None, v.state)]


def test_study_figures_draws_all_figures_and_renders_png(study):
    figures = plots.study_figures(study)
    assert set(figures) == set(plots.FIGURES)
    for figure in figures.values():
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png")
        assert buffer.getvalue()[:8] == PNG_MAGIC


def test_trial_views_read_states_scores_and_epochs(study):
    views = {v.number: v for v in plots.trial_views(study)}
    assert [views[n].state for n in range(4)] == ["complete", "complete", "pruned", "fail"]
    assert [views[n].n_epochs for n in range(4)] == [6, 6, 2, 0]
    assert views[0].score == pytest.approx(study.trials[0].value)
    assert views[2].score == pytest.approx(study.trials[2].intermediate_values[2])  # last report
    assert views[3].score is None


def test_learning_curves_one_line_per_trial_on_a_log_lr_colour_scale(study):
    figure = plots.learning_curves(study)
    score_ax, loss_ax = figure.axes[:2]
    assert len(score_ax.lines) == len(_curves(study)) == 3  # the failed trial has no epochs
    assert [len(line.get_xdata()) for line in score_ax.lines] == [6, 6, 2]
    assert loss_ax.get_yscale() == "log"
    colorbar = figure.axes[2]._colorbar  # matplotlib links a colorbar's axes to it
    assert colorbar.ax.get_ylabel() == "learning_rate_init"
    assert isinstance(colorbar.norm, LogNorm)
    assert (colorbar.norm.vmin, colorbar.norm.vmax) == (1e-5, 0.02)
    colors = [tuple(line.get_color()) for line in score_ax.lines]
    assert len(set(colors)) == 3  # three learning rates, three colours
    assert [line.get_linestyle() for line in score_ax.lines] == ["-", "-", "--"]


def test_optimization_history_best_line_is_running_best_of_complete(study):
    (ax,) = plots.optimization_history(study).axes
    best = ax.lines[0].get_ydata()
    complete = [study.trials[0].value, study.trials[1].value]
    assert list(best) == pytest.approx([complete[0], max(complete), max(complete)])


def test_score_vs_params_uses_log_axis_for_learning_rate(study):
    (ax,) = [ax for ax in plots.score_vs_params(study).axes if ax.get_visible()]
    assert ax.get_xlabel() == "learning_rate_init" and ax.get_xscale() == "log"
    xs = sorted(ax.collections[0].get_offsets()[:, 0])
    assert xs == pytest.approx([1e-5, 0.01, 0.02])  # the failed trial has no score


def test_pruning_figure_shows_epoch_where_each_trial_ended(study):
    scatter_ax, hist_ax = plots.pruning(study).axes
    points = np.vstack([c.get_offsets() for c in scatter_ax.collections])
    assert sorted(map(tuple, points)) == [(0, 6), (1, 6), (2, 2)]
    assert hist_ax.get_xlabel() == "last epoch trained"


def test_epochs_and_updates_bars_match_stored_counts(study):
    epochs_ax, updates_ax = plots.epochs_and_updates(study).axes[:2]
    heights = [patch.get_height() for patch in epochs_ax.patches]
    assert heights == [6, 6, 2]
    expected = [study.trials[n].user_attrs["n_updates"] for n in range(3)]
    assert [patch.get_height() for patch in updates_ax.patches] == expected


def test_param_importances_needs_two_complete_trials():
    study = optuna.create_study(direction="maximize")
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=1)
    assert plots.param_importances(study) is None
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=3)
    (ax,) = plots.param_importances(study).axes
    assert [label.get_text() for label in ax.get_yticklabels()] == ["x"]


def test_learning_curves_fall_back_to_optuna_intermediate_values():
    def objective(trial):
        lr = trial.suggest_float("learning_rate_init", 1e-3, 1e-1, log=True)
        for epoch in range(1, 4):
            trial.report(lr * epoch, step=epoch)
        return lr * 3

    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.RandomSampler(0))
    study.optimize(objective, n_trials=3)
    figure = plots.learning_curves(study)
    assert len(figure.axes[0].lines) == 3
    assert list(figure.axes[0].lines[0].get_ydata()) == pytest.approx(
        [study.trials[0].intermediate_values[e] for e in (1, 2, 3)])


def test_study_figures_empty_study_has_no_figures():
    assert plots.study_figures(optuna.create_study()) == {}


def test_score_vs_params_follows_the_space_log_flag():
    study = optuna.create_study(direction="maximize")
    for lr, dropout in [(1e-4, 0.001), (1e-2, 0.3), (1e-1, 0.5)]:
        study.enqueue_trial({"learning_rate_init": lr, "dropout": dropout})
        trial = study.ask()
        trial.suggest_float("learning_rate_init", 1e-4, 1e-1, log=True)
        trial.suggest_float("dropout", 0.0, 0.5)  # linear, though it spans 2.7 decades
        study.tell(trial, 0.9)
    axes = {ax.get_xlabel(): ax for ax in plots.score_vs_params(study).axes if ax.get_visible()}
    assert axes["learning_rate_init"].get_xscale() == "log"
    assert axes["dropout"].get_xscale() == "linear"
