"""Study figures: a real tuner study (fixture ``tracked_search``), real searches over other
resources, and Optuna studies holding the user attributes the evaluator writes."""

import io
import warnings

import numpy as np
import optuna
import pytest
from matplotlib.colors import LogNorm, to_rgba
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.trial import TrialState, create_trial

from tuner import plots

optuna.logging.set_verbosity(optuna.logging.WARNING)
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
STATES = {"complete": TrialState.COMPLETE, "pruned": TrialState.PRUNED, "fail": TrialState.FAIL}
STEP_KEYS = {"epochs": "epoch", "updates": "n_updates", "samples": "n_samples_seen"}


@pytest.fixture(scope="module")
def study(tracked_search):
    """The tiny grid study: lr 0.02 and 0.01 complete, 1e-5 pruned at epoch 2, -1 failed."""
    return tracked_search.study


def _distribution(name, values):
    """An Optuna distribution that holds every value of one parameter."""
    if all(isinstance(v, float) for v in values):
        return FloatDistribution(min(values), max(values), log=name == "learning_rate_init")
    if all(isinstance(v, int) for v in values):
        return IntDistribution(min(values), max(values))
    return CategoricalDistribution(list(dict.fromkeys(values)))


def _trial_attrs(epochs, per_epoch, resource):
    """Evaluator-style history (score rises, loss falls) and the steps reported to Optuna."""
    history = [{"epoch": e, "mean_test_score": 0.5 + 0.01 * e, "train_loss": 1.0 / e,
                "n_updates": e * per_epoch, "n_samples_seen": e * 100}
               for e in range(1, epochs + 1)]
    steps = {row[STEP_KEYS[resource]]: row["mean_test_score"] for row in history}
    return history, steps


def _study(specs, *, resource="epochs"):
    """A study of finished trials: ``(params, state, epochs, updates per epoch)`` each."""
    study = optuna.create_study(direction="maximize")
    names = {n for params, *_ in specs for n in params}
    dists = {n: _distribution(n, [p[n] for p, *_ in specs if n in p]) for n in names}
    for params, state, epochs, per_epoch in specs:
        history, steps = _trial_attrs(epochs, per_epoch, resource)
        attrs = {"params": {f"mlp__{k}": v for k, v in params.items()}, "history": history,
                 "n_epochs": epochs, "n_updates": epochs * per_epoch,
                 "n_samples_seen": epochs * 100}
        value = history[-1]["mean_test_score"] if state == "complete" and history else None
        study.add_trial(create_trial(
            params=params, distributions={n: dists[n] for n in params}, value=value,
            state=STATES[state], intermediate_values=steps, user_attrs=attrs))
    return study


def _lines(ax):
    """The data lines of an axes (one per trial)."""
    return [line for line in ax.lines if len(line.get_xdata())]


def _legend_texts(figure):
    """Texts of every legend of the figure (figure-level and per axes)."""
    legends = list(figure.legends) + [ax.get_legend() for ax in figure.axes if ax.get_legend()]
    return [t.get_text() for legend in legends for t in legend.get_texts()]


def _by_label(ax):
    """Scatter collections of an axes by their label."""
    return {c.get_label(): c for c in ax.collections if not c.get_label().startswith("_")}


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
    assert len(_lines(score_ax)) == 3  # the failed trial has no epochs
    assert [len(line.get_xdata()) for line in score_ax.lines] == [6, 6, 2]
    assert loss_ax.get_yscale() == "log"
    colorbar = figure.axes[2]._colorbar  # matplotlib links a colorbar's axes to it
    assert colorbar.ax.get_ylabel() == "learning_rate_init"
    assert isinstance(colorbar.norm, LogNorm)
    assert (colorbar.norm.vmin, colorbar.norm.vmax) == (1e-5, 0.02)
    assert [t.get_text() for t in colorbar.ax.get_yticklabels()] == ["1e-05", "0.01", "0.02"]
    assert len({tuple(line.get_color()) for line in score_ax.lines}) == 3
    assert [line.get_linestyle() for line in score_ax.lines] == ["-", "-", "--"]
    # the end marker: filled for complete trials, hollow (white face) for the pruned one
    assert [line.get_markevery() for line in score_ax.lines] == [[5], [5], [1]]
    assert to_rgba(score_ax.lines[2].get_markerfacecolor()) == to_rgba("white")


def test_learning_curves_draw_a_marker_for_one_epoch_trials():
    specs = [({"learning_rate_init": lr}, "pruned", 1, 10) for lr in (1e-4, 1e-3, 1e-2)]
    figure = plots.learning_curves(_study(specs + [({"learning_rate_init": 0.1}, "complete",
                                                    5, 10)]))
    lines = _lines(figure.axes[0])
    assert len(lines) == 4
    assert all(line.get_marker() == "o" for line in lines)  # one-point lines are visible
    assert [len(line.get_xdata()) for line in lines] == [1, 1, 1, 5]


def test_learning_curves_fixed_learning_rate_colour_by_batch_size():
    specs = [({"learning_rate_init": 0.01, "batch_size": b}, "complete", 4, 1) for b in
             (16, 64, 256)]
    figure = plots.learning_curves(_study(specs))
    colorbar = figure.axes[2]._colorbar
    assert colorbar.ax.get_ylabel() == "batch_size"
    assert [t.get_text() for t in colorbar.ax.get_yticklabels()] == ["16", "64", "256"]
    assert len({tuple(line.get_color()) for line in _lines(figure.axes[0])}) == 3
    title = figure.get_suptitle()
    assert "coloured by batch_size" in title and "learning_rate_init fixed at 0.01" in title


def test_learning_curves_nothing_varies_one_colour_and_no_colour_bar():
    specs = [({"learning_rate_init": 0.01}, "complete", 3, 1)] * 2
    figure = plots.learning_curves(_study(specs))
    assert len(figure.axes) == 2 and not figure.legends  # two panels, no colour key
    assert len({tuple(to_rgba(line.get_color())) for line in _lines(figure.axes[0])}) == 1
    assert "one colour: no parameter varies" in figure.get_suptitle()


def test_learning_curves_categorical_colour_gets_a_legend():
    specs = [({"learning_rate_init": 0.01, "solver": s}, "complete", 3, 1)
             for s in ("sgd", "adam")]
    figure = plots.learning_curves(_study(specs))
    assert len(figure.axes) == 2  # no colour bar
    assert _legend_texts(figure) == ["sgd", "adam"]
    colors = [to_rgba(line.get_color()) for line in _lines(figure.axes[0])]
    assert colors[0] != colors[1]


def test_study_resource_from_the_reported_steps():
    specs = [({"batch_size": b}, "complete", 3, u) for b, u in ((1, 100), (50, 2))]
    assert plots.study_resource(_study(specs)) == "epochs"
    assert plots.study_resource(_study(specs, resource="updates")) == "updates"
    assert plots.study_resource(_study(specs, resource="samples")) == "samples"
    declared = _study(specs)
    declared.set_user_attr("resource", "updates")
    assert plots.study_resource(declared) == "updates"


def test_learning_curves_x_axis_is_updates_when_the_pruner_counted_updates():
    from sklearn.datasets import load_digits

    import tuner.search as search
    from tuner.estimators import MLPClassifier

    X, y = load_digits(return_X_y=True)
    grid = search.GridSearch(
        MLPClassifier(hidden_layer_sizes=(8,), max_iter=100, random_state=0),
        {"batch_size": [20, 60]}, cv=2, random_state=0, resource="updates",
        budget={"updates": 12})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        grid.fit(X[:240] / 16.0, y[:240])
    figure = plots.learning_curves(grid.study_)
    assert figure.axes[0].get_xlabel() == "weight updates (per fold)"
    xs = [list(line.get_xdata()) for line in _lines(figure.axes[0])]
    assert xs == [[r["n_updates"] for r in t.user_attrs["history"]] for t in grid.study_.trials]
    assert xs[1] == [2, 4, 6, 8, 10, 12]  # 120 rows per fold, batches of 60: 2 per epoch
    (ax, _) = plots.pruning(grid.study_).axes[:2]
    assert ax.get_ylabel() == "weight updates (per fold)"


def test_learning_curves_say_when_the_resource_is_not_stored_per_epoch():
    source = _study([({"learning_rate_init": lr}, "complete", 3, 5) for lr in (0.01, 0.1)])
    study = optuna.create_study(direction="maximize")
    study.set_user_attr("resource", "samples")
    for trial in source.trials:  # the same trials, without samples in their records
        for row in trial.user_attrs["history"]:
            del row["n_samples_seen"]
        study.add_trial(trial)
    figure = plots.learning_curves(study)
    assert figure.axes[0].get_xlabel() == \
        "epoch (training samples seen (per fold) not stored per epoch)"
    assert list(_lines(figure.axes[0])[0].get_xdata()) == [1, 2, 3]


def test_learning_curves_fall_back_to_optuna_intermediate_values():
    def objective(trial):
        lr = trial.suggest_float("learning_rate_init", 1e-3, 1e-1, log=True)
        for step in (10, 20, 30):
            trial.report(lr * step, step=step)
        return lr * 3

    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.RandomSampler(0))
    study.optimize(objective, n_trials=3)
    figure = plots.learning_curves(study)
    lines = _lines(figure.axes[0])
    assert len(lines) == 3
    assert list(lines[0].get_xdata()) == [10, 20, 30]
    assert figure.axes[0].get_xlabel() == "step reported to the pruner"
    assert list(lines[0].get_ydata()) == pytest.approx(
        [study.trials[0].intermediate_values[s] for s in (10, 20, 30)])


def test_optimization_history_best_line_is_running_best_of_complete(study):
    figure = plots.optimization_history(study)
    (ax,) = figure.axes
    best = ax.lines[0].get_ydata()
    complete = [study.trials[0].value, study.trials[1].value]
    assert list(best) == pytest.approx([complete[0], max(complete), max(complete)])
    assert all(float(t).is_integer() for t in ax.get_xticks())  # trial numbers
    assert _legend_texts(figure) == ["complete", "pruned (score when stopped)",
                                     "best complete so far"]


def test_score_vs_params_pruned_trials_are_hollow_and_epochs_trained_is_a_panel(study):
    figure = plots.score_vs_params(study)
    lr_ax, epochs_ax = [ax for ax in figure.axes if ax.get_visible()]
    assert lr_ax.get_xlabel() == "learning_rate_init" and lr_ax.get_xscale() == "log"
    points = _by_label(lr_ax)
    assert sorted(points["complete"].get_offsets()[:, 0]) == pytest.approx([0.01, 0.02])
    pruned = points["pruned (score when stopped)"]
    assert list(pruned.get_offsets()[:, 0]) == pytest.approx([1e-5])
    assert len(pruned.get_facecolors()) == 0  # hollow: no face, a grey edge
    assert tuple(pruned.get_edgecolors()[0][:3]) == pytest.approx(to_rgba("#7f7f7f")[:3])
    assert epochs_ax.get_xlabel() == "epochs trained"
    assert sorted(np.vstack([c.get_offsets() for c in epochs_ax.collections])[:, 0]) == \
        [2, 6, 6]
    assert [t.get_text() for t in epochs_ax.get_xticklabels()] == ["2", "6"]
    assert "pruned (score when stopped)" in _legend_texts(figure)
    assert "1 failed trial(s) without a score not shown" in figure.get_suptitle()


def test_score_vs_params_categorical_labels_without_quotes_numbers_first():
    specs = [({"batch_size": b, "dropout": d}, "complete", 3, 1)
             for b, d in (("full", 0.0), (32, 0.2), (1, 0.4))]
    figure = plots.score_vs_params(_study(specs))
    axes = {ax.get_xlabel(): ax for ax in figure.axes if ax.get_visible()}
    assert set(axes) == {"batch_size", "dropout", "epochs trained"}
    labels = [t.get_text() for t in axes["batch_size"].get_xticklabels()]
    assert labels == ["1", "32", "full"]
    xs = axes["batch_size"].collections[0].get_offsets()[:, 0]
    assert list(xs) == [2, 1, 0]  # 'full' is the third column


def test_score_vs_params_replaces_max_iter_by_epochs_trained():
    specs = [({"max_iter": 30, "learning_rate_init": lr}, state, epochs, 1)
             for lr, state, epochs in ((0.01, "complete", 30), (0.1, "pruned", 3))]
    specs.append(({"max_iter": 10, "learning_rate_init": 0.05}, "complete", 10, 1))
    figure = plots.score_vs_params(_study(specs))
    labels = [ax.get_xlabel() for ax in figure.axes if ax.get_visible()]
    assert labels == ["learning_rate_init", "epochs trained"]


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


def test_epochs_and_updates_points_grouped_by_batch_size():
    specs = [({"batch_size": b}, state, epochs, per_epoch)
             for b, per_epoch in (("full", 1), (1, 228), (32, 8))
             for state, epochs in (("complete", 2), ("pruned", 1))]
    figure = plots.epochs_and_updates(_study(specs))
    epochs_ax, updates_ax = figure.axes
    ticks = [t.get_text() for t in epochs_ax.get_xticklabels()]
    assert ticks == ["1\n228/epoch", "32\n8/epoch", "full\n1/epoch"]
    for ax in (epochs_ax, updates_ax):
        points = {label: c.get_offsets() for label, c in _by_label(ax).items()}
        assert sum(len(p) for p in points.values()) == len(specs)  # one point per trial
        assert set(points) == {"complete", "pruned"}
    complete = _by_label(updates_ax)["complete"].get_offsets()
    column = np.round(complete[:, 0]).astype(int)
    assert dict(zip(column, complete[:, 1], strict=True)) == {0: 456, 1: 16, 2: 2}
    assert all(float(t).is_integer() for t in epochs_ax.get_yticks())
    assert _legend_texts(figure) == ["complete", "pruned"]


def test_epochs_and_updates_integer_ticks_in_a_one_epoch_study():
    specs = [({"batch_size": b}, "complete", 1, 3) for b in (16, 32)]
    epochs_ax, updates_ax = plots.epochs_and_updates(_study(specs)).axes
    for ax in (epochs_ax, updates_ax):
        assert all(float(t).is_integer() and t >= 0 for t in ax.get_yticks())


def test_pruning_figure_shows_epoch_where_each_trial_ended(study):
    figure = plots.pruning(study)
    scatter_ax, hist_ax = figure.axes
    points = np.vstack([c.get_offsets() for c in scatter_ax.collections])
    assert sorted(map(tuple, points)) == [(0, 6), (1, 6), (2, 2)]
    assert hist_ax.get_xlabel() == "epochs trained when the trial ended"
    assert _legend_texts(figure) == ["complete", "pruned"]
    heights = {p.get_x() + p.get_width() / 2: p.get_height() for p in hist_ax.patches
               if p.get_height()}
    assert heights == {2.0: 1, 6.0: 2}  # one pruned at 2 epochs, two complete at 6
    assert "1 of 3 trials stopped early" in figure.get_suptitle()


def _stop_study(stops):
    """Two complete trials at the largest stop, the others pruned."""
    top = max(stops)
    return _study([({"learning_rate_init": 0.01 * (k + 1)}, "complete" if s == top else "pruned",
                     s, 1) for k, s in enumerate(stops)])


def test_pruning_histogram_bars_stay_wide_with_hundreds_of_epochs():
    hist_ax = plots.pruning(_stop_study([300, 300, 120, 40])).axes[1]
    assert {round(p.get_width(), 6) for p in hist_ax.patches} == {10.0}  # not 300 slivers
    assert len(hist_ax.patches) == 2 * 30  # two states stacked


def test_pruning_log_axis_when_stops_span_decades_like_hyperband_rungs():
    figure = plots.pruning(_stop_study([300, 300, 1, 3, 9]))
    scatter_ax, hist_ax = figure.axes
    assert hist_ax.get_xscale() == "log" and scatter_ax.get_yscale() == "log"
    edges = sorted({p.get_x() for p in hist_ax.patches})
    ratios = {round(b / a, 6) for a, b in zip(edges, edges[1:], strict=False)}
    assert len(edges) == 30 and len(ratios) == 1  # 30 log-spaced bins
    counts = sorted(p.get_height() for p in hist_ax.patches if p.get_height())
    assert counts == [1, 1, 1, 2]  # rungs 1, 3 and 9 in bins of their own


def test_param_importances_needs_two_complete_trials():
    study = optuna.create_study(direction="maximize")
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=1)
    assert plots.param_importances(study) is None
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=3)
    (ax,) = plots.param_importances(study).axes
    assert [label.get_text() for label in ax.get_yticklabels()] == ["x"]
    assert "only x varied: 1 by definition" in ax.get_title()


def test_param_importances_leave_out_parameters_that_did_not_vary():
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.RandomSampler(0))
    study.optimize(lambda t: t.suggest_float("x", 0, 1) + t.suggest_float("y", 0, 1)
                   + 0 * len(t.suggest_categorical("c", ["only"])), n_trials=12)
    (ax,) = plots.param_importances(study).axes
    assert sorted(label.get_text() for label in ax.get_yticklabels()) == ["x", "y"]
    assert ax.get_title() == "Hyperparameter importance (12 complete trials)"


def test_param_importances_none_when_nothing_varied_among_complete_trials():
    specs = [({"learning_rate_init": 0.01}, "complete", 2, 1)] * 3 + \
        [({"learning_rate_init": 0.1}, "pruned", 1, 1)]
    assert plots.param_importances(_study(specs)) is None


def test_study_figures_empty_study_has_no_figures():
    assert plots.study_figures(optuna.create_study()) == {}
