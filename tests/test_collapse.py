"""Experts whose share of the data vanishes: dropped, reseeded, or an error."""

import warnings

import numpy as np
import pytest

from skmoe import MixtureOfExpertsClassifier, MixtureOfExpertsRegressor
from skmoe.datasets import make_moe_classification, make_moe_regression
from skmoe.exceptions import ExpertCollapseError, ExpertCollapseWarning

# Two regimes fitted with five experts and a threshold of 15% of the data: some
# experts are bound to fall below it.
N_EXPERTS = 5
THRESHOLD = 0.15


@pytest.fixture(scope="module")
def two_regimes():
    return make_moe_regression(n_samples=600, n_experts=2, random_state=0)


def _fit(X, y, **params):
    params = {
        "n_experts": N_EXPERTS,
        "collapse_threshold": THRESHOLD,
        "n_init": 1,
        "random_state": 0,
        **params,
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ExpertCollapseWarning)
        return MixtureOfExpertsRegressor(**params).fit(X, y)


def _assert_consistent(moe, X, y):
    """Every fitted part agrees on the number of experts, and the fit on its data."""
    assert len(moe.experts_) == moe.n_experts_
    assert moe.gate_.coef_.shape[0] == moe.n_experts_
    assert moe.noise_variance_.shape == (moe.n_experts_,)
    assert moe.predict_experts(X).shape == (len(X), moe.n_experts_)
    assert np.all(np.isfinite(moe.predict(X)))
    np.testing.assert_allclose(moe.posterior_proba(X, y).sum(axis=1), 1.0)
    np.testing.assert_allclose(
        moe.score_samples(X, y).mean(), moe.log_likelihood_, rtol=1e-12
    )
    assert np.isfinite(moe.bic(X, y))


def test_drop_removes_the_collapsed_experts(two_regimes):
    X, y = two_regimes
    with pytest.warns(ExpertCollapseWarning, match="collapse='drop' left"):
        moe = MixtureOfExpertsRegressor(
            n_experts=N_EXPERTS,
            collapse_threshold=THRESHOLD,
            n_init=1,
            random_state=0,
        ).fit(X, y)
    assert 1 <= moe.n_experts_ < N_EXPERTS
    dropped = [event for event in moe.collapsed_ if event["action"] == "dropped"]
    assert len(dropped) == N_EXPERTS - moe.n_experts_
    assert all(event["share"] < THRESHOLD for event in moe.collapsed_)
    _assert_consistent(moe, X, y)


def test_reseed_gives_a_collapsed_expert_a_second_chance(two_regimes):
    X, y = two_regimes
    moe = _fit(X, y, collapse="reseed")
    actions = [event["action"] for event in moe.collapsed_]
    assert "reseeded" in actions
    # An expert is reseeded once; collapsing again drops it.
    assert actions.count("dropped") == N_EXPERTS - moe.n_experts_
    _assert_consistent(moe, X, y)


def test_raise_fails_and_leaves_a_fitted_model_as_it_was(two_regimes):
    X, y = two_regimes
    moe = _fit(X, y, n_experts=2, collapse="raise")
    assert moe.collapsed_ == []
    before = moe.predict(X)
    moe.set_params(n_experts=N_EXPERTS)
    with pytest.raises(ExpertCollapseError, match="collapse_threshold"):
        moe.fit(X, y)
    assert moe.n_experts_ == 2
    np.testing.assert_array_equal(moe.predict(X), before)


def test_threshold_zero_never_collapses(two_regimes):
    X, y = two_regimes
    moe = _fit(X, y, collapse_threshold=0.0, collapse="raise")
    assert moe.collapsed_ == [] and moe.n_experts_ == N_EXPERTS


def test_warm_start_continues_after_a_drop(two_regimes):
    X, y = two_regimes
    moe = _fit(X, y, warm_start=True, max_iter=5)
    n_left = moe.n_experts_
    assert n_left < N_EXPERTS
    moe.set_params(max_iter=50).fit(X, y)
    assert moe.n_experts_ <= n_left
    _assert_consistent(moe, X, y)


def test_default_keeps_every_expert_on_ordinary_data():
    X, y = make_moe_regression(n_samples=500, n_experts=3, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ExpertCollapseWarning)
        moe = MixtureOfExpertsRegressor(n_experts=3, random_state=0).fit(X, y)
    assert moe.collapsed_ == [] and moe.n_experts_ == 3


def test_classifier_drops_too():
    X, y = make_moe_classification(n_samples=600, n_classes=3, random_state=0)
    with pytest.warns(ExpertCollapseWarning):
        moe = MixtureOfExpertsClassifier(
            n_experts=N_EXPERTS, collapse_threshold=0.2, n_init=1, random_state=0
        ).fit(X, y)
    assert moe.n_experts_ < N_EXPERTS
    assert moe.predict_experts(X).shape == (len(X), moe.n_experts_, 3)
    np.testing.assert_allclose(moe.predict_proba(X).sum(axis=1), 1.0)
    np.testing.assert_allclose(
        moe.score_samples(X, y).mean(), moe.log_likelihood_, rtol=1e-12
    )
