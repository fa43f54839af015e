"""Mixtures as experts: hierarchical mixtures of experts by nesting."""

import pickle
import warnings
from itertools import permutations

import numpy as np
import pytest
from scipy.special import logsumexp
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.tree import DecisionTreeRegressor

from skmoe import MixtureOfExpertsClassifier, MixtureOfExpertsRegressor
from skmoe.datasets import make_hierarchical_moe_regression, make_moe_classification


def _inner(**params):
    return MixtureOfExpertsRegressor(n_experts=2, n_init=1, random_state=0, **params)


@pytest.fixture(scope="module")
def hierarchy():
    X, y, truth = make_hierarchical_moe_regression(
        n_samples=2000, depth=2, random_state=0, return_params=True
    )
    # One outer start on these data ends at a local optimum (-1389 against the
    # truth's -887): restarts find the tree.
    model = MixtureOfExpertsRegressor(
        expert=_inner(), n_experts=2, n_init=3, tol=1e-8, random_state=0
    )
    return model.fit(X, y), X, y, truth


def test_the_likelihood_is_the_hierarchical_one(hierarchy):
    model, X, y, _ = hierarchy
    inner = np.column_stack([e.score_samples(X, y) for e in model.experts_])
    expected = logsumexp(np.log(model.predict_gate_proba(X)) + inner, axis=1)
    np.testing.assert_allclose(model.score_samples(X, y), expected, rtol=0, atol=1e-10)
    assert model.log_likelihood_ == pytest.approx(expected.mean(), abs=1e-10)


def test_the_log_likelihood_never_decreases(hierarchy):
    model, *_ = hierarchy
    assert model.converged_
    assert np.diff(model.log_likelihood_curve_).min() > -1e-10


def test_recovers_both_levels_of_the_generating_tree(hierarchy):
    model, X, y, truth = hierarchy
    # At least the generating model's log-likelihood (the fit has the same
    # parameters, at their maximum on these rows).
    assert model.score_samples(X, y).sum() >= truth.true_log_likelihood
    gate = model.predict_gate_proba(X)
    leaves = np.column_stack(
        [gate[:, [k]] * e.predict_gate_proba(X) for k, e in enumerate(model.experts_)]
    )
    true_leaves = truth.leaf_proba(X)
    error = min(
        np.abs(leaves[:, list(order)] - true_leaves).mean()
        for order in permutations(range(4))
    )
    assert error < 0.02
    root = true_leaves[:, :2].sum(axis=1)
    assert min(np.abs(gate[:, k] - root).mean() for k in range(2)) < 0.01


def test_prediction_is_the_mixture_of_the_inner_predictions(hierarchy):
    model, X, _, _ = hierarchy
    inner = np.column_stack([e.predict(X) for e in model.experts_])
    expected = (model.predict_gate_proba(X) * inner).sum(axis=1)
    np.testing.assert_allclose(model.predict(X), expected, rtol=1e-12, atol=1e-12)


def test_bic_counts_the_inner_parameters(hierarchy):
    model, X, y, _ = hierarchy
    # Outer gate 2; each inner mixture: gate 2, two lines 4, two variances 2.
    assert model._n_parameters() == 2 + 2 * (2 + 4 + 2)
    assert model.bic(X, y) == pytest.approx(
        -2 * model.score_samples(X, y).sum() + 18 * np.log(len(y))
    )


def test_depth_three_by_nesting_twice():
    X, y = make_hierarchical_moe_regression(n_samples=800, depth=3, random_state=1)
    middle = MixtureOfExpertsRegressor(
        expert=_inner(), n_experts=2, n_init=1, random_state=0
    )
    model = MixtureOfExpertsRegressor(
        expert=middle, n_experts=2, n_init=1, max_iter=30, random_state=0
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # 30 iterations
        model.fit(X, y)
    assert np.diff(model.log_likelihood_curve_).min() > -1e-10
    inner = np.column_stack([e.score_samples(X, y) for e in model.experts_])
    expected = logsumexp(np.log(model.predict_gate_proba(X)) + inner, axis=1)
    np.testing.assert_allclose(model.score_samples(X, y), expected, atol=1e-10)


def test_the_fitted_inner_models_keep_their_parameters(hierarchy):
    model, *_ = hierarchy
    for expert in model.experts_:
        assert expert.warm_start is False
        assert expert.max_iter == 200
    assert pickle.loads(pickle.dumps(model)).score_samples is not None


def test_nested_classifier():
    X, y = make_moe_classification(n_samples=400, random_state=0)
    inner = MixtureOfExpertsClassifier(
        expert=LogisticRegression(), n_experts=2, n_init=1, random_state=0
    )
    model = MixtureOfExpertsClassifier(
        expert=inner, n_experts=2, n_init=1, max_iter=20, random_state=0
    ).fit(X, y)
    inner_log = np.column_stack([e.score_samples(X, y) for e in model.experts_])
    expected = logsumexp(np.log(model.predict_gate_proba(X)) + inner_log, axis=1)
    np.testing.assert_allclose(model.score_samples(X, y), expected, atol=1e-10)
    np.testing.assert_allclose(model.predict_proba(X).sum(axis=1), 1.0)


def test_a_family_for_nested_experts_is_refused():
    X, y = make_hierarchical_moe_regression(n_samples=100, random_state=0)
    model = MixtureOfExpertsRegressor(expert=_inner(), family="poisson")
    with pytest.raises(ValueError, match="set the family on the inner mixtures"):
        model.fit(X, np.abs(np.round(y)))


def test_an_inner_classifier_in_a_regressor_is_refused():
    X, y = make_hierarchical_moe_regression(n_samples=100, random_state=0)
    inner = MixtureOfExpertsClassifier(n_experts=2)
    with pytest.raises(ValueError, match="must solve the outer model's task"):
        MixtureOfExpertsRegressor(expert=inner).fit(X, y)


def test_a_tree_is_a_gaussian_expert_not_a_density():
    X, y = make_hierarchical_moe_regression(n_samples=200, random_state=0)
    model = MixtureOfExpertsRegressor(
        expert=DecisionTreeRegressor(max_depth=2), n_init=1, random_state=0
    ).fit(X, y)
    assert type(model.family_).__name__ == "Gaussian"
    assert isinstance(model.experts_[0], DecisionTreeRegressor)
