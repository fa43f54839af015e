"""Tests of skmoe.inspection: the summary against direct computations, the displays'
artists against the estimator's own predictions, and the errors they raise."""

import json
import sys
import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.ensemble import RandomForestRegressor
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.linear_model import LinearRegression

from skmoe import MixtureOfExpertsClassifier, MixtureOfExpertsRegressor
from skmoe.datasets import make_moe_classification, make_moe_regression, make_npreg
from skmoe.inspection import (
    ExpertUsageDisplay,
    GateDisplay,
    LogLikelihoodDisplay,
    MixtureSummary,
    summary,
)

mpl = pytest.importorskip("matplotlib")
mpl.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def _quadratic(G):
    """NPreg's expert inputs ``[x, x**2]`` rebuilt from a grid of ``x``."""
    x = np.asarray(G)[:, 0]
    return np.column_stack([x, x**2])


@pytest.fixture(scope="module")
def moe_data():
    X, y = make_moe_regression(n_samples=300, n_features=2, n_experts=3, random_state=0)
    model = MixtureOfExpertsRegressor(n_experts=3, n_init=1, random_state=0)
    return model.fit(X, y), X, y


@pytest.fixture(scope="module")
def npreg_data():
    X, y = make_npreg(random_state=0)
    Z = _quadratic(X)
    model = MixtureOfExpertsRegressor(
        n_experts=2, gate_features=[0], expert_features=[0, 1], random_state=0
    )
    return model.fit(Z, y), Z, y


@pytest.fixture(scope="module")
def forest_data():
    X, y = make_npreg(n_per_class=60, random_state=0)
    forest = RandomForestRegressor(n_estimators=3, max_depth=2, random_state=0)
    model = MixtureOfExpertsRegressor(
        forest, n_experts=2, n_init=1, max_iter=2, random_state=0
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(X, y)
    return model, X, y


@pytest.fixture(scope="module")
def classifier_data():
    X, y = make_moe_classification(n_samples=200, n_classes=3, random_state=0)
    model = MixtureOfExpertsClassifier(n_experts=2, n_init=1, random_state=0)
    return model.fit(X, y), X, y


# ---- summary


def test_summary_matches_direct_computations(moe_data):
    model, X, y = moe_data
    s = summary(model, X, y)
    gate_proba = model.predict_gate_proba(X)
    posterior = model.posterior_proba(X, y)

    assert s.estimator == "MixtureOfExpertsRegressor"
    assert s.n_samples == X.shape[0]
    assert len(s.experts) == 3
    priors = [e.prior for e in s.experts]
    assert_allclose(priors, gate_proba.mean(axis=0))
    assert sum(priors) == pytest.approx(1.0)
    sizes = [e.size for e in s.experts]
    assert_array_equal(sizes, np.bincount(posterior.argmax(axis=1), minlength=3))
    assert sum(sizes) == X.shape[0]
    assert_allclose([e.mean_posterior for e in s.experts], posterior.mean(axis=0))
    assert_allclose([e.noise_scale for e in s.experts], np.sqrt(model.noise_variance_))
    for expert, fitted in zip(s.experts, model.experts_, strict=True):
        assert list(expert.coefficients) == ["intercept", "x0", "x1"]
        assert expert.coefficients["intercept"] == pytest.approx(fitted.intercept_)
        assert_allclose(
            [expert.coefficients["x0"], expert.coefficients["x1"]], fitted.coef_
        )
    for k, expert in enumerate(s.experts):
        assert expert.gate_coefficients["intercept"] == pytest.approx(
            model.gate_.intercept_[k]
        )
        assert_allclose(
            [expert.gate_coefficients["x0"], expert.gate_coefficients["x1"]],
            model.gate_.coef_[k],
        )

    assert s.log_likelihood == pytest.approx(model.score_samples(X, y).sum())
    assert s.aic == pytest.approx(model.aic(X, y))
    assert s.bic == pytest.approx(model.bic(X, y))
    assert s.n_parameters == model._n_parameters()
    assert s.criteria_reason is None
    assert s.converged == model.converged_
    assert s.n_iter == model.n_iter_


def test_summary_names_from_dataframe():
    pd = pytest.importorskip("pandas")
    X, y = make_npreg(n_per_class=60, random_state=0)
    frame = pd.DataFrame({"x": X[:, 0], "x_squared": X[:, 0] ** 2})
    model = MixtureOfExpertsRegressor(
        n_experts=2, gate_features=["x"], n_init=1, random_state=0
    ).fit(frame, y)
    s = summary(model, frame, y)
    for expert, fitted in zip(s.experts, model.experts_, strict=True):
        assert list(expert.coefficients) == ["intercept", "x", "x_squared"]
        assert_allclose(
            [expert.coefficients["x"], expert.coefficients["x_squared"]], fitted.coef_
        )
        assert list(expert.gate_coefficients) == ["intercept", "x"]
    assert "x_squared" in str(s)


def test_summary_expert_features_name_only_their_columns(npreg_data):
    # Names follow X's column indices, so an expert on columns [1] is named x1.
    _, Z, y = npreg_data
    narrow = MixtureOfExpertsRegressor(
        n_experts=2, gate_features=[0], expert_features=[1], n_init=1, random_state=0
    ).fit(Z, y)
    s = summary(narrow, Z, y)
    assert list(s.experts[0].coefficients) == ["intercept", "x1"]
    assert list(s.experts[0].gate_coefficients) == ["intercept", "x0"]


def test_summary_non_parametric_experts_have_no_criteria(forest_data):
    model, X, y = forest_data
    with pytest.raises(ValueError, match="coef_"):
        model.bic(X, y)
    s = summary(model, X, y)
    assert s.aic is None and s.bic is None and s.n_parameters is None
    assert "coef_" in s.criteria_reason
    assert all(e.coefficients is None for e in s.experts)
    assert s.log_likelihood == pytest.approx(model.score_samples(X, y).sum())
    text = str(s)
    assert "AIC, BIC: not available" in text
    assert "Expert coefficients: none" in text
    assert "did not converge in 2 iterations" in text


def test_summary_does_not_hide_other_errors(moe_data, monkeypatch):
    model, X, y = moe_data
    with pytest.raises(ValueError, match="y must be 1-D"):
        summary(model, X, y[:-1])

    def broken_count(expert):
        raise RuntimeError("broken")

    monkeypatch.setattr("skmoe._fitted._expert_n_parameters", broken_count)
    with pytest.raises(RuntimeError, match="broken"):
        summary(model, X, y)


def test_summary_rejects_other_estimators(moe_data):
    _, X, y = moe_data
    with pytest.raises(TypeError, match="LinearRegression"):
        summary(LinearRegression().fit(X, y), X, y)
    with pytest.raises(NotFittedError):
        summary(MixtureOfExpertsRegressor(), X, y)


def test_summary_multinomial_coefficients_per_class(classifier_data):
    model, X, y = classifier_data
    s = summary(model, X, y)
    assert s.estimator == "MixtureOfExpertsClassifier"
    for expert, fitted in zip(s.experts, model.experts_, strict=True):
        assert expert.noise_scale is None
        seen = [c for c in fitted.classes_.tolist() if c not in expert.unseen_classes]
        assert list(expert.coefficients) == seen
        for c, label in enumerate(fitted.classes_):
            if label in expert.unseen_classes:
                continue
            per_class = expert.coefficients[label.item()]
            assert per_class["intercept"] == pytest.approx(fitted.intercept_[c])
            assert_allclose([per_class["x0"], per_class["x1"]], fitted.coef_[c])
    assert "class 2: x1" in str(s)
    assert s.bic == pytest.approx(model.bic(X, y))


def test_summary_str_shows_experts_and_totals(moe_data):
    model, X, y = moe_data
    s = summary(model, X, y)
    lines = str(s).splitlines()
    assert lines[0].startswith("MixtureOfExpertsRegressor: 3 experts, 300 samples")
    header = lines[2]
    assert header.split() == ["prior", "size", "mean", "posterior", "noise", "scale"]
    for k, expert in enumerate(s.experts):
        row = next(line for line in lines if line.startswith(f"expert {k} "))
        assert row.split()[2:4] == [f"{expert.prior:.3f}", str(expert.size)]
        # Right-aligned under the header.
        assert len(row) == len(header)
    assert lines[-1] == (
        f"log-likelihood {s.log_likelihood:.2f} (df={s.n_parameters})   "
        f"AIC {s.aic:.2f}   BIC {s.bic:.2f}"
    )
    assert "Gate coefficients (logits):" in lines
    assert str(s) in s._repr_html_()


def test_summary_to_dict_round_trip(moe_data, forest_data, classifier_data):
    for model, X, y in (moe_data, forest_data, classifier_data):
        s = summary(model, X, y)
        data = s.to_dict()
        assert isinstance(data["experts"][0], dict)
        json.dumps(data)  # plain Python values only
        assert MixtureSummary.from_dict(data) == s


def test_summary_to_frame(moe_data, classifier_data):
    pytest.importorskip("pandas")
    model, X, y = moe_data
    s = summary(model, X, y)
    frame = s.to_frame()
    assert frame.shape[0] == 3
    assert list(frame.columns[:4]) == ["prior", "size", "mean_posterior", "noise_scale"]
    assert_allclose(frame["prior"], [e.prior for e in s.experts])
    assert_allclose(frame["coef.x1"], [e.coef_[1] for e in model.experts_])
    assert_allclose(frame["gate.x0"], model.gate_.coef_[:, 0])
    assert frame.attrs["bic"] == s.bic

    model, X, y = classifier_data
    s = summary(model, X, y)
    frame = s.to_frame()
    assert "noise_scale" not in frame.columns
    # A class an expert sees no rows of has no coefficients there (NaN).
    expected = [
        np.nan if 1 in summarised.unseen_classes else fitted.coef_[1, 0]
        for summarised, fitted in zip(s.experts, model.experts_, strict=True)
    ]
    assert_allclose(frame["coef[1].x0"], expected)


def test_summary_to_frame_without_pandas(moe_data, monkeypatch):
    model, X, y = moe_data
    s = summary(model, X, y)
    monkeypatch.setitem(sys.modules, "pandas", None)
    with pytest.raises(ImportError, match="to_frame requires pandas"):
        s.to_frame()


# ---- GateDisplay


def test_gate_display_one_feature_with_expert_curves(npreg_data):
    model, Z, y = npreg_data
    disp = GateDisplay.from_estimator(
        model, Z, y, grid_resolution=50, grid_transform=_quadratic
    )
    assert disp.ax_.figure is disp.figure_
    assert disp.ax_experts_.figure is disp.figure_
    assert len(disp.lines_) == 2 and len(disp.ax_.lines) == 2
    assert len(disp.expert_lines_) == 2 and len(disp.ax_experts_.lines) == 2
    assert disp.surface_ is None

    # The curves are the model's own outputs on the grid [x, x**2].
    grid = disp.lines_[0].get_xdata()
    assert grid.min() < Z[:, 0].min() and grid.max() > Z[:, 0].max()
    rows = _quadratic(grid[:, None])
    gate_proba = model.predict_gate_proba(rows)
    predictions = model.predict_experts(rows)
    for k in range(2):
        assert_allclose(disp.lines_[k].get_ydata(), gate_proba[:, k])
        assert_allclose(disp.expert_lines_[k].get_ydata(), predictions[:, k])

    # Points and curves share each expert's colour.
    assigned = model.posterior_proba(Z, y).argmax(axis=1)
    assert len(disp.scatter_.get_offsets()) == Z.shape[0]
    point_colors = disp.scatter_.get_facecolors()[:, :3]
    for k, line in enumerate(disp.expert_lines_):
        line_color = mpl.colors.to_rgb(line.get_color())
        assert_allclose(
            point_colors[assigned == k], np.tile(line_color, (np.sum(assigned == k), 1))
        )
    assert disp.ax_experts_.get_title() == ""


def test_gate_display_notes_columns_held_at_median(npreg_data):
    model, Z, y = npreg_data
    disp = GateDisplay.from_estimator(model, Z, y, grid_resolution=20)
    assert disp.held_features == ["x1"]
    assert "x1" in disp.ax_experts_.get_title()


def test_gate_display_one_feature_without_y(classifier_data):
    model, X, _ = classifier_data
    disp = GateDisplay.from_estimator(model, X, features=1, grid_resolution=30)
    assert disp.ax_experts_ is None and disp.expert_lines_ is None
    assert len(disp.lines_) == 2 and len(disp.ax_.lines) == 2
    assert disp.ax_.get_xlabel() == "x1"
    assert len(disp.scatter_.get_offsets()) == X.shape[0]
    assert disp.ax_.get_legend() is not None


def test_gate_display_two_features(moe_data):
    model, X, y = moe_data
    disp = GateDisplay.from_estimator(model, X, y, grid_resolution=25)
    assert disp.lines_ is None and disp.ax_experts_ is None
    regions = np.asarray(disp.surface_.get_array()).reshape(25, 25)
    xx0, xx1 = disp.grid
    expected = model.predict_gate(np.column_stack([xx0.ravel(), xx1.ravel()]))
    assert_array_equal(regions.ravel(), expected)
    assert len(disp.scatter_.get_offsets()) == X.shape[0]
    assert (disp.ax_.get_xlabel(), disp.ax_.get_ylabel()) == ("x0", "x1")


def test_gate_display_features_by_name():
    pd = pytest.importorskip("pandas")
    X, y = make_moe_regression(n_samples=150, n_features=3, random_state=0)
    frame = pd.DataFrame(X, columns=["a", "b", "c"])
    model = MixtureOfExpertsRegressor(
        n_experts=2, gate_features=["a", "c"], n_init=1, random_state=0
    ).fit(frame, y)
    disp = GateDisplay.from_estimator(model, frame, features=["c"], grid_resolution=20)
    assert disp.ax_.get_xlabel() == "c"
    assert disp.held_features == ["a"]
    disp = GateDisplay.from_estimator(model, frame, y, grid_resolution=20)
    assert disp.feature_names == ["a", "c"]
    assert "b" not in disp.held_features  # the gate does not see b


@pytest.mark.parametrize(
    "features, message",
    [
        ([0, 1, 0], "GateDisplay shows one or two features; got 3"),
        ([], "GateDisplay shows one or two features; got 0"),
        ([1], "Feature 1 is not a gate feature"),
        (["x0"], "Feature 'x0' is not a column of X"),
        ([0, 0], "lists a column twice"),
    ],
)
def test_gate_display_feature_errors(npreg_data, features, message):
    model, Z, y = npreg_data
    with pytest.raises(ValueError, match=message):
        GateDisplay.from_estimator(model, Z, y, features=features)


def test_gate_display_needs_a_choice_for_a_wide_gate():
    X, y = make_moe_regression(n_samples=100, n_features=3, random_state=0)
    model = MixtureOfExpertsRegressor(n_init=1, max_iter=5, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(X, y)
    with pytest.raises(ValueError, match="choose one or two"):
        GateDisplay.from_estimator(model, X)
    constant = MixtureOfExpertsRegressor(
        gate_features=[], n_init=1, max_iter=5, random_state=0
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        constant.fit(X, y)
    with pytest.raises(ValueError, match="The gate sees no features"):
        GateDisplay.from_estimator(constant, X)


def test_gate_display_grid_transform_must_keep_rows(npreg_data):
    model, Z, _ = npreg_data
    with pytest.raises(ValueError, match="one row per grid point"):
        GateDisplay.from_estimator(model, Z, grid_transform=lambda G: G[:3])


def test_gate_display_given_axes(npreg_data):
    model, Z, y = npreg_data
    fig, (left, right) = plt.subplots(1, 2)
    disp = GateDisplay.from_estimator(
        model, Z, y, grid_resolution=20, grid_transform=_quadratic, ax=left
    )
    # The given Axes is the bounding box of the two panels.
    assert disp.figure_ is fig
    assert left not in fig.axes and right in fig.axes
    assert len(fig.axes) == 3

    fig, pair = plt.subplots(2, 1)
    disp = GateDisplay.from_estimator(model, Z, y, grid_resolution=20, ax=pair)
    assert disp.ax_experts_ is pair[0] and disp.ax_ is pair[1]

    fig, ax = plt.subplots()
    disp = GateDisplay.from_estimator(model, Z, grid_resolution=20, ax=ax)
    assert disp.ax_ is ax


# ---- ExpertUsageDisplay and LogLikelihoodDisplay


def test_expert_usage_display(moe_data):
    model, X, _ = moe_data
    disp = ExpertUsageDisplay.from_estimator(model, X)
    assert disp.ax_.figure is disp.figure_
    assert len(disp.bars_prior_) == 3 and len(disp.bars_hard_) == 3
    assert_allclose(
        [bar.get_height() for bar in disp.bars_prior_],
        model.predict_gate_proba(X).mean(axis=0),
    )
    hard = np.bincount(model.predict_gate(X), minlength=3) / X.shape[0]
    assert_allclose([bar.get_height() for bar in disp.bars_hard_], hard)
    labels = [t.get_text() for t in disp.ax_.get_xticklabels()]
    assert labels == ["expert 0", "expert 1", "expert 2"]


def test_log_likelihood_display(npreg_data, forest_data):
    model, _, _ = npreg_data
    fig, ax = plt.subplots()
    disp = LogLikelihoodDisplay.from_estimator(model, ax=ax)
    assert disp.ax_ is ax and disp.figure_ is fig
    assert_allclose(disp.line_.get_ydata(), model.log_likelihood_curve_)
    assert_array_equal(disp.line_.get_xdata(), np.arange(1, model.n_iter_ + 1))
    assert disp.ax_.get_title() == f"EM converged after {model.n_iter_} iterations"

    model, _, _ = forest_data
    disp = LogLikelihoodDisplay.from_estimator(model)
    assert disp.ax_.get_title() == "EM did not converge in 2 iterations"


@pytest.mark.parametrize(
    "make_display",
    [
        lambda model, X: GateDisplay.from_estimator(model, X),
        lambda model, X: ExpertUsageDisplay.from_estimator(model, X),
        lambda model, X: LogLikelihoodDisplay.from_estimator(model),
    ],
)
def test_displays_without_matplotlib(npreg_data, monkeypatch, make_display):
    model, Z, _ = npreg_data
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(ImportError, match="requires matplotlib"):
        make_display(model, Z)


def test_summary_and_curve_name_the_solver_and_its_steps():
    X, y = make_moe_regression(n_samples=400, n_experts=2, random_state=0)
    moe = MixtureOfExpertsRegressor(
        n_experts=2, solver="gradient", max_iter=3, random_state=0
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        moe.fit(X, y)
    text = str(summary(moe, X, y))
    assert f"Mini-batch training did not converge in {moe.n_iter_} epochs" in text
    display = LogLikelihoodDisplay.from_estimator(moe)
    assert display.ax_.get_title() == (
        f"Mini-batch training did not converge in {moe.n_iter_} epochs"
    )
    assert display.ax_.get_xlabel() == "Mini-batch training epoch"
