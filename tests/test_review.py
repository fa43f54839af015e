"""What a new user and an adversarial review of skmoe tripped on (issue 24).

One test per finding: each failed on the code before its fix, except the few
marked as guards, which check that a fix kept what already worked. The bad inputs
that are refused up front are in the bad-input catalogue instead
(``test_bad_input_catalogue.py``).
"""

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sklearn
from sklearn.compose import make_column_transformer
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LinearRegression
from sklearn.neighbors import KNeighborsRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVR
from sklearn.tree import DecisionTreeRegressor

from skmoe import MixtureOfExpertsClassifier, MixtureOfExpertsRegressor, SoftmaxGate
from skmoe._docs import DOCUMENTATION_ROOT
from skmoe.exceptions import ExpertFitError
from skmoe.inspection import (
    ExpertUsageDisplay,
    GateDisplay,
    LogLikelihoodDisplay,
    summary,
)
from skmoe.model_selection import select_n_experts


@pytest.fixture(scope="module")
def two_regimes():
    """A V-shaped target on one feature: the gate must split at zero."""
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, (300, 1))
    y = np.where(X[:, 0] > 0, 3 * X[:, 0], 2 - 3 * X[:, 0])
    return X, y + 0.05 * rng.normal(size=300)


# ---- silent wrong answers


@pytest.mark.parametrize("factor", [1e-12, 1e-100, 1e25])
def test_the_units_of_a_feature_do_not_switch_the_gate_off(two_regimes, factor):
    X, y = two_regimes
    reference = MixtureOfExpertsRegressor(random_state=0).fit(X, y).score(X, y)
    scaled = MixtureOfExpertsRegressor(random_state=0).fit(X * factor, y)
    assert scaled.score(X * factor, y) == pytest.approx(reference, abs=1e-6)
    assert scaled.gate_.scale_[0] == pytest.approx(factor * X.std(), rel=1e-6)


def test_float32_features_near_1e25_keep_a_finite_gate(two_regimes):
    X, y = two_regimes
    reference = MixtureOfExpertsRegressor(random_state=0).fit(X, y).score(X, y)
    X32 = (X * 1e25).astype(np.float32)
    moe = MixtureOfExpertsRegressor(random_state=0).fit(X32, y)
    assert np.all(np.isfinite(moe.gate_.scale_))
    assert moe.score(X32, y) == pytest.approx(reference, abs=1e-4)


def test_a_column_constant_on_the_weighted_rows_keeps_scale_one():
    """Guard: a constant column still keeps scale 1."""
    from skmoe._gate import standardize

    X = np.array([[1.0, 5.0], [2.0, 5.0], [3.0, 7.0]])
    weights = np.array([1.0, 1.0, 0.0])
    _, _, scale = standardize(X, weights)
    assert scale[1] == 1.0
    assert scale[0] == pytest.approx(0.5)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_warm_start_applies_a_changed_expert(two_regimes):
    X, y = two_regimes
    moe = MixtureOfExpertsRegressor(random_state=0, warm_start=True).fit(X, y)
    responsibilities = moe.posterior_proba(X, y)
    moe.set_params(expert=DecisionTreeRegressor(max_depth=3)).fit(X, y)
    assert all(isinstance(e, DecisionTreeRegressor) for e in moe.experts_)
    assert all(e.max_depth == 3 for e in moe.experts_)
    # It went on from the fitted model: the same regimes, not a fresh start.
    agreement = moe.posterior_proba(X, y).argmax(1) == responsibilities.argmax(1)
    assert agreement.mean() > 0.95


def test_warm_start_applies_changed_gate_parameters(two_regimes):
    X, y = two_regimes
    moe = MixtureOfExpertsRegressor(random_state=0, warm_start=True).fit(X, y)
    steep = np.abs(moe.gate_.coef_).max()
    moe.set_params(gate__alpha=10.0).fit(X, y)
    assert moe.gate_.alpha == 10.0
    assert np.abs(moe.gate_.coef_).max() < steep / 2


def test_an_unchanged_warm_start_continues_the_experts(two_regimes):
    """Guard: with nothing changed, a warm start still continues the fit."""
    X, y = two_regimes
    moe = MixtureOfExpertsRegressor(random_state=0, warm_start=True, max_iter=2)
    with pytest.warns(ConvergenceWarning):
        moe.fit(X, y)
    before = moe.log_likelihood_
    with pytest.warns(ConvergenceWarning):
        moe.fit(X, y)
    assert moe.log_likelihood_curve_[0] >= before - 1e-9


@pytest.mark.parametrize(
    "params",
    [
        {"solver": "gradient", "batch_size": 64},
        {"family": "student_t"},
        {"family": "poisson"},
        {"family": "negative_binomial"},
    ],
    ids=lambda params: "-".join(map(str, params.values())),
)
def test_skops_asks_to_trust_only_public_types(two_regimes, params):
    sio = pytest.importorskip("skops.io")
    X, y = two_regimes
    y = np.round(np.abs(y) * 3) if params.get("family") else y
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        moe = MixtureOfExpertsRegressor(n_init=1, random_state=0, **params).fit(X, y)
    untrusted = sio.get_untrusted_types(data=sio.dumps(moe))
    assert untrusted
    private = [name for name in untrusted if "._" in name]
    assert not private, private


def test_the_html_repr_links_to_the_api_page():
    api = (Path(__file__).parents[1] / "docs" / "api.rst").read_text()
    for estimator in (MixtureOfExpertsRegressor(), MixtureOfExpertsClassifier()):
        name = type(estimator).__name__
        link = estimator._get_doc_link()
        assert link == f"{DOCUMENTATION_ROOT}generated/skmoe.{name}.html"
        assert f'href="{link}"' in estimator._repr_html_()
        # The page exists in the docs build: autosummary under skmoe, "generated".
        section = api[api.index(".. currentmodule:: skmoe\n") :]
        assert ":toctree: generated" in section.split("currentmodule")[1]
        assert f"   {name}\n" in section.split("currentmodule")[1]
    assert SoftmaxGate()._get_doc_link().endswith("generated/skmoe.SoftmaxGate.html")


# ---- things that should work


def test_svr_experts_fit_by_em(two_regimes):
    X, y = two_regimes
    moe = MixtureOfExpertsRegressor(SVR(C=10.0), n_init=1, max_iter=20, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        moe.fit(X, y)
    assert moe.score(X, y) > 0.9


def test_a_pipeline_expert_takes_weights_through_metadata_routing(two_regimes):
    X, y = two_regimes
    plain = MixtureOfExpertsRegressor(n_init=1, random_state=0).fit(X, y)
    with sklearn.config_context(enable_metadata_routing=True):
        expert = make_pipeline(
            StandardScaler().set_fit_request(sample_weight=True),
            LinearRegression().set_fit_request(sample_weight=True),
        )
        routed = MixtureOfExpertsRegressor(expert, n_init=1, random_state=0)
        routed.fit(X, y)
    # Linear regression does not care how its inputs are scaled: with the weights
    # reaching it, the pipeline is the plain linear expert.
    assert routed.log_likelihood_ == pytest.approx(plain.log_likelihood_, abs=1e-6)
    np.testing.assert_allclose(routed.predict(X), plain.predict(X), atol=1e-6)


def test_a_pipeline_expert_without_routing_is_refused_with_the_way_out(two_regimes):
    X, y = two_regimes
    expert = make_pipeline(StandardScaler(), LinearRegression())
    with pytest.raises(ValueError, match=r"set_fit_request\(sample_weight=True\)"):
        MixtureOfExpertsRegressor(expert).fit(X, y)


def test_gate_features_named_behind_a_column_transformer(two_regimes):
    X, y = two_regimes
    frame = pd.DataFrame({"x": X[:, 0], "noise": np.zeros(len(X))})
    columns = make_column_transformer((StandardScaler(), ["x", "noise"]))
    moe = MixtureOfExpertsRegressor(gate_features=["standardscaler__x"], n_init=1)
    pipe = make_pipeline(columns, moe)
    with pytest.raises(ValueError, match=r"set_output\(transform='pandas'\)"):
        pipe.fit(frame, y)
    pipe.set_output(transform="pandas").fit(frame, y)
    assert pipe[-1].gate_features_.tolist() == [0]
    assert pipe.score(frame, y) > 0.9


@pytest.fixture(scope="module")
def fitted_pipeline(two_regimes):
    X, y = two_regimes
    frame = pd.DataFrame({"x": X[:, 0]})
    pipe = make_pipeline(
        make_column_transformer((StandardScaler(), ["x"])),
        MixtureOfExpertsRegressor(n_init=1, random_state=0),
    )
    return pipe.fit(frame, y), frame, y


def test_summary_reads_a_pipeline_with_the_names_its_steps_give(fitted_pipeline):
    pipe, frame, y = fitted_pipeline
    result = summary(pipe, frame, y)
    direct = summary(pipe[-1], pipe[:-1].transform(frame), y)
    assert "standardscaler__x" in str(result)
    for named, plain in zip(result.experts, direct.experts, strict=True):
        assert list(named.coefficients) == ["intercept", "standardscaler__x"]
        assert list(named.coefficients.values()) == list(plain.coefficients.values())
    assert result.log_likelihood == direct.log_likelihood


def test_the_displays_read_a_pipeline(fitted_pipeline):
    pytest.importorskip("matplotlib")
    import matplotlib.pyplot as plt

    pipe, frame, y = fitted_pipeline
    gate = GateDisplay.from_estimator(pipe, frame, y)
    assert gate.feature_names == ["standardscaler__x"]
    np.testing.assert_allclose(gate.x_data[:, 0], pipe[:-1].transform(frame)[:, 0])
    usage = ExpertUsageDisplay.from_estimator(pipe, frame)
    np.testing.assert_allclose(
        usage.prior, pipe[-1].predict_gate_proba(pipe[:-1].transform(frame)).mean(0)
    )
    curve = LogLikelihoodDisplay.from_estimator(pipe)
    assert len(curve.log_likelihood_curve) == pipe[-1].n_iter_
    with pytest.raises(TypeError, match="a Pipeline whose last step is one; got "):
        summary(make_pipeline(StandardScaler(), LinearRegression()), frame, y)
    plt.close("all")


@pytest.fixture(scope="module")
def classes_by_region():
    """Three classes: class 2 only where x0 > 0, class 0 only where x0 < 0."""
    rng = np.random.default_rng(0)
    X = np.column_stack([rng.uniform(-3, 3, 600), rng.normal(size=600)])
    y = np.where(X[:, 0] < 0, X[:, 1] > 0, 1 + (X[:, 1] < 0)).astype(int)
    moe = MixtureOfExpertsClassifier(n_experts=2, n_init=1, random_state=0)
    return moe.fit(X, y), X, y


def test_summary_leaves_out_the_classes_an_expert_never_sees(classes_by_region):
    moe, X, y = classes_by_region
    result = summary(moe, X, y)
    left = int(np.argmax(moe.predict_gate_proba([[-2.0, 0.0]])))
    assert result.experts[left].unseen_classes == [2]
    assert result.experts[1 - left].unseen_classes == [0]
    assert sorted(result.experts[left].coefficients) == [0, 1]
    assert f"(expert {left} sees no rows of class 2: left out)" in str(result)


def test_the_classifier_gate_plot_shows_each_point_class(classes_by_region):
    pytest.importorskip("matplotlib")
    import matplotlib.pyplot as plt

    moe, X, y = classes_by_region
    for features in ([0, 1], [0]):
        display = GateDisplay.from_estimator(moe, X, y, features=features)
        paths = display.scatter_.get_paths()
        assert len(paths) == len(y)
        # One marker shape per class: the same class, the same path.
        shapes = [paths[i].vertices.round(6).tobytes() for i in range(len(y))]
        by_class = [{shapes[i] for i in np.flatnonzero(y == c)} for c in range(3)]
        assert [len(s) for s in by_class] == [1, 1, 1]
        assert len(set.union(*by_class)) == 3
        children = display.ax_.get_children()
        legends = [a for a in children if type(a).__name__ == "Legend"]
        titles = {legend.get_title().get_text() for legend in legends}
        assert {"expert", "class"} <= titles
    plt.close("all")


# ---- model choice


@pytest.mark.filterwarnings("ignore::skmoe.exceptions.ExpertCollapseWarning")
def test_a_candidate_that_collapsed_counts_as_the_experts_it_kept(two_regimes):
    X, y = two_regimes
    # Two regimes of half the rows each: a third expert's share falls below 0.3
    # and it is dropped, leaving the 2-expert model.
    moe = MixtureOfExpertsRegressor(random_state=0, collapse_threshold=0.3)
    best, results = select_n_experts(moe, X, y, n_experts=[2, 3])
    assert results["n_experts_fitted"].tolist() == [2, 2]
    # The 3 candidate's BIC is lower by EM's rounding alone, which once made it win.
    assert 0 < results["bic"][0] - results["bic"][1] < 1e-5 * abs(results["bic"][0])
    assert best.n_experts == best.n_experts_ == 2
    assert results["rank"].tolist() == [1, 2]


def test_ties_go_to_the_model_that_kept_fewer_experts():
    from skmoe.model_selection import _table

    rows = [
        {"bic": -100.0, "n_experts_fitted": 3},
        {"bic": -100.0004, "n_experts_fitted": 3},
        {"bic": -100.0002, "n_experts_fitted": 2},
        {"bic": -90.0, "n_experts_fitted": 1},
    ]
    results = _table([4, 3, 2, 1], rows, "bic", scale=100.0)
    assert results["rank"].tolist() == [3, 2, 1, 4]


# ---- what the messages advise


def test_the_convergence_warning_advises_what_fits_the_case(two_regimes):
    X, y = two_regimes
    moe = MixtureOfExpertsRegressor(max_iter=2, n_init=1, random_state=0)
    with pytest.warns(ConvergenceWarning) as record:
        moe.fit((X - X.mean()) / X.std(), y)
    message = str(record[0].message)
    assert "still rising by" in message and "raise max_iter" in message
    assert "scal" not in message  # the data are standardised: no word of scaling
    with pytest.warns(ConvergenceWarning, match="scales differ 1e"):
        moe.fit(np.column_stack([X, 1e4 * X[::-1]]), y)


@pytest.mark.parametrize(
    ("curve", "expected"),
    [
        ([-2.0, -1.5, -1.2], "still rising by 0.3 per iteration: raise max_iter"),
        ([-2.0, -1.0, -1.0 + 5e-6], "it was close: the last change, 5e-06"),
        ([-2.0, -1.0, -1.1, -1.05], "not exact M-steps"),
    ],
)
def test_convergence_advice_reads_the_curve(curve, expected):
    from skmoe._progress import convergence_advice

    assert expected in convergence_advice(curve, 1e-6)


def test_an_expert_whose_predict_fails_after_its_fit_is_named():
    # CEM hands one expert a single row: KNeighbors(n_neighbors=2) fits it, and
    # then cannot predict (found by test_parameter_space).
    rng = np.random.default_rng(0)
    X = rng.normal(size=(3, 1))
    expert = KNeighborsRegressor(n_neighbors=2)
    moe = MixtureOfExpertsRegressor(expert, solver="cem", max_iter=1, random_state=0)
    with pytest.raises(ExpertFitError, match=r"KNeighborsRegressor.*failed to predict"):
        moe.fit(X, X[:, 0])
