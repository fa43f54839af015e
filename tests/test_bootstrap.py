"""coefficient_table(method="bootstrap") and the pieces it is made of."""

import pickle
import warnings

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.tree import DecisionTreeRegressor

from skmoe import MixtureOfExpertsClassifier, MixtureOfExpertsRegressor
from skmoe.families import Gaussian
from skmoe.inference import coefficient_table
from skmoe.inference._bootstrap import (
    draw_targets,
    match_experts,
    percentile_interval,
    permuted,
)
from skmoe.inference._parameters import parameter_blocks

pytest.importorskip("pandas")


def _data(n=600, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.uniform(-2, 2, n)
    second = rng.random(n) < 1 / (1 + np.exp(-(0.3 + 2 * x)))
    y = np.where(
        second, -1 - x + rng.normal(0, 0.5, n), 1 + 2 * x + rng.normal(0, 0.5, n)
    )
    return x[:, None], y


@pytest.fixture(scope="module")
def fitted():
    X, y = _data()
    return MixtureOfExpertsRegressor(tol=1e-10, random_state=0).fit(X, y), X, y


def _values(model):
    return np.concatenate([b.estimates for b in parameter_blocks(model, ["x"], ["x"])])


def test_permutation_is_undone_by_matching(fitted):
    model, X, y = fitted
    swapped = permuted(model, np.array([1, 0]))
    np.testing.assert_allclose(
        swapped.predict_gate_proba(X), model.predict_gate_proba(X)[:, ::-1]
    )
    order = match_experts(model.posterior_proba(X, y), swapped.posterior_proba(X, y))
    assert list(order) == [1, 0]
    np.testing.assert_allclose(_values(permuted(swapped, order)), _values(model))
    # The family's per-expert parameters and the names move with their experts.
    np.testing.assert_allclose(
        swapped.family_.fitted_attributes()["noise_variance_"],
        model.family_.fitted_attributes()["noise_variance_"][::-1],
    )
    assert swapped.expert_names_ == model.expert_names_[::-1]


def test_percentile_interval_takes_the_unbiased_order_statistics():
    values = np.random.default_rng(0).permutation(np.arange(1.0, 200.0))[:, None]
    low, high = percentile_interval(values, 0.95)
    # With B = 199, the (B + 1) * 2.5% = 5th smallest and largest.
    np.testing.assert_allclose([low.item(), high.item()], [5.0, 195.0], rtol=1e-12)


def test_bootstrap_agrees_with_the_observed_information(fitted):
    model, X, y = fitted
    observed = coefficient_table(model, X, y)
    boot = coefficient_table(
        model, X, y, method="bootstrap", n_resamples=60, random_state=0
    )
    assert list(boot["parameter"]) == list(observed["parameter"])
    np.testing.assert_array_equal(boot["estimate"], observed["estimate"])
    slopes = observed["parameter"] == "x0"
    ratio = boot["std_error"][slopes] / observed["std_error"][slopes]
    assert ((ratio > 0.7) & (ratio < 1.4)).all(), ratio
    assert (boot["ci_low"] < boot["estimate"]).all()
    assert (boot["estimate"] < boot["ci_high"]).all()
    assert boot.attrs["n_kept"] == 60 and boot.attrs["n_resamples"] == 60
    assert boot.attrs["collapsed_share"] == [0.0, 0.0]


def test_same_result_for_any_n_jobs(fitted):
    model, X, y = fitted
    tables = [
        coefficient_table(
            model,
            X,
            y,
            method="bootstrap",
            n_resamples=6,
            n_jobs=n_jobs,
            random_state=3,
        )
        for n_jobs in (1, 2)
    ]
    np.testing.assert_array_equal(tables[0]["std_error"], tables[1]["std_error"])
    np.testing.assert_array_equal(tables[0]["ci_low"], tables[1]["ci_low"])


def test_nothing_changes_the_model(fitted):
    model, X, y = fitted
    before = pickle.dumps(model)
    coefficient_table(model, X, y, method="bootstrap", n_resamples=4, random_state=0)
    coefficient_table(
        model, X, y, method="bootstrap", n_resamples=4, parametric=True, random_state=0
    )
    assert pickle.dumps(model) == before


def test_tree_experts_get_the_gate_and_family_rows():
    X, y = _data()
    model = MixtureOfExpertsRegressor(
        expert=DecisionTreeRegressor(max_depth=2), random_state=0
    ).fit(X, y)
    table = coefficient_table(
        model, X, y, method="bootstrap", n_resamples=8, random_state=0
    )
    assert set(table["parameter"]) == {"noise_variance", "intercept", "x0"}
    assert (
        table["component"].str.startswith("gate")
        == (table["parameter"] != "noise_variance")
    ).all()
    assert np.isfinite(table["std_error"]).all() and (table["std_error"] > 0).all()


def test_parametric_draws_follow_the_model(fitted):
    model, X, _ = fitted
    rng = np.random.default_rng(0)
    X_many = np.repeat(X[:1], 20000, axis=0)
    draws = draw_targets(model, X_many, rng)
    gate = model.predict_gate_proba(X[:1])[0]
    means = model.predict_experts(X[:1])[0]
    variances = model.noise_variance_
    mean = gate @ means
    variance = gate @ (variances + means**2) - mean**2
    assert draws.mean() == pytest.approx(mean, abs=4 * np.sqrt(variance / 20000))
    assert draws.var() == pytest.approx(variance, rel=0.05)


def test_classifier_parametric_bootstrap():
    X, y = _data(n=300)
    labels = (y > 0).astype(int)
    model = MixtureOfExpertsClassifier(
        expert=LogisticRegression(C=np.inf), random_state=0
    ).fit(X, labels)
    table = coefficient_table(
        model,
        X,
        labels,
        method="bootstrap",
        n_resamples=6,
        parametric=True,
        random_state=0,
    )
    assert np.isfinite(table["std_error"]).all()


def test_collapse_is_counted_and_too_few_kept_refused(fitted):
    X, y = _data(n=60, seed=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = MixtureOfExpertsRegressor(n_experts=6, random_state=0).fit(X, y)
    try:
        table = coefficient_table(
            model, X, y, method="bootstrap", n_resamples=10, random_state=0
        )
    except ValueError as error:
        assert "bootstrap refits kept every expert" in str(error)
    else:
        share = np.array(table.attrs["collapsed_share"])
        assert ((share >= 0) & (share <= 1)).all()
        assert table.attrs["n_kept"] <= 10


def test_bad_arguments(fitted):
    model, X, y = fitted
    with pytest.raises(ValueError, match="n_resamples"):
        coefficient_table(model, X, y, method="bootstrap", n_resamples=1)
    with pytest.raises(ValueError, match="random_state apply to method='bootstrap'"):
        coefficient_table(model, X, y, random_state=0)
    with pytest.raises(ValueError, match="n_resamples, parametric"):
        coefficient_table(model, X, y, n_resamples=10, parametric=True)

    class Own(Gaussian):
        pass

    own = MixtureOfExpertsRegressor(family=Own(), random_state=0).fit(X, y)
    with pytest.raises(ValueError, match="use parametric=False"):
        coefficient_table(own, X, y, method="bootstrap", parametric=True, n_resamples=2)
