"""The linear experts' fast M-step against the experts' own fit."""

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.linear_model import LinearRegression, Ridge

from skmoe import MixtureOfExpertsRegressor
from skmoe._linear import fit_linear_experts, has_linear_fast_path
from skmoe.datasets import make_moe_regression


class SlowLinearRegression(LinearRegression):
    """LinearRegression that the fast path does not recognise."""


@pytest.mark.parametrize(
    "expert",
    [
        LinearRegression(),
        LinearRegression(fit_intercept=False),
        Ridge(alpha=3.0),
        Ridge(alpha=0.5, fit_intercept=False),
    ],
    ids=repr,
)
def test_same_coefficients_as_the_experts_own_fit(expert, monkeypatch):
    monkeypatch.setattr("skmoe._chunks._CHUNK_FLOATS", 640)  # several blocks
    rng = np.random.RandomState(0)
    X = rng.normal(loc=5.0, scale=[1.0, 10.0, 0.1], size=(500, 3))
    y = X @ [1.0, -2.0, 30.0] + 4.0 + rng.normal(size=500)
    weights = rng.dirichlet(np.ones(3), size=500)
    weights[:50, 0] = 0.0
    experts = [clone(expert) for _ in range(3)]
    assert all(has_linear_fast_path(expert) for expert in experts)
    left, predictions = fit_linear_experts(experts, X, y, list(weights.T))
    assert left == []
    for k, fast in enumerate(experts):
        reference = clone(expert).fit(X, y, sample_weight=weights[:, k])
        np.testing.assert_allclose(fast.coef_, reference.coef_, rtol=1e-9)
        np.testing.assert_allclose(fast.intercept_, reference.intercept_, rtol=1e-9)
        np.testing.assert_allclose(fast.predict(X), reference.predict(X), rtol=1e-10)
        # What EM's E-step reads instead of calling predict.
        np.testing.assert_allclose(predictions[k], fast.predict(X), rtol=1e-13)


def test_collinear_columns_are_left_to_the_expert():
    rng = np.random.RandomState(0)
    x = rng.normal(size=(200, 1))
    X = np.hstack([x, 2 * x])
    experts = [LinearRegression(), LinearRegression()]
    left, predictions = fit_linear_experts(
        experts, X, x[:, 0], [np.ones(200), np.ones(200)]
    )
    assert left == [0, 1] and predictions == {}
    assert not hasattr(experts[0], "coef_")


def test_only_plain_linear_experts_take_the_fast_path():
    assert not has_linear_fast_path(SlowLinearRegression())
    assert not has_linear_fast_path(LinearRegression(positive=True))
    assert not has_linear_fast_path(Ridge(alpha=np.ones(2)))
    assert has_linear_fast_path(LinearRegression())
    assert has_linear_fast_path(Ridge())


@pytest.mark.parametrize("threshold", [0.0, 0.05])
def test_fit_with_the_fast_path_equals_the_fit_without(threshold):
    X, y = make_moe_regression(n_samples=2000, n_experts=3, random_state=0)
    weights = np.random.RandomState(0).uniform(0.5, 2.0, size=2000)
    params = dict(n_experts=3, responsibility_threshold=threshold, random_state=0)
    fast = MixtureOfExpertsRegressor(**params).fit(X, y, sample_weight=weights)
    slow = MixtureOfExpertsRegressor(expert=SlowLinearRegression(), **params)
    slow.fit(X, y, sample_weight=weights)
    assert fast.n_iter_ == slow.n_iter_
    np.testing.assert_allclose(fast.log_likelihood_, slow.log_likelihood_, rtol=1e-9)
    for a, b in zip(fast.experts_, slow.experts_, strict=True):
        np.testing.assert_allclose(a.coef_, b.coef_, rtol=1e-6)
    np.testing.assert_allclose(fast.predict(X), slow.predict(X), rtol=1e-8)


def test_em_reads_the_fast_paths_predictions(monkeypatch):
    """The E-steps after a fast M-step do not call the experts' predict."""
    X, y = make_moe_regression(n_samples=1000, n_experts=3, random_state=0)
    calls = []
    predict = LinearRegression.predict
    monkeypatch.setattr(
        LinearRegression, "predict", lambda self, X: calls.append(1) or predict(self, X)
    )
    model = MixtureOfExpertsRegressor(n_experts=3, n_init=1, random_state=0).fit(X, y)
    assert model.n_iter_ > 5
    assert len(calls) < model.n_iter_
